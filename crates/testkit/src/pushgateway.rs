//! Debian's `prometheus-pushgateway`.

use crate::peer::{flag_path, Peer, Ready};
use crate::program::find_program;

/// The Pushgateway on `127.0.0.1:<port>`, persisting to a file in its temporary
/// directory; ready when `/-/ready` answers 200.
pub fn pushgateway() -> Peer {
    let program = find_program("prometheus-pushgateway");
    Peer::start(&program, Ready::Http("/-/ready"), |command, dir, port| {
        command
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(flag_path(
                "--persistence.file=",
                &dir.join("pushgateway.data"),
            ));
    })
}
