//! Debian's `prometheus-alertmanager`.

use crate::peer::{flag_path, Peer, Ready};
use crate::program::find_program;

/// The Alertmanager on `127.0.0.1:<port>` with one receiver, `blackhole`, that sends
/// nothing, its data in the temporary directory and clustering off; ready when
/// `/-/ready` answers 200. Its v2 API (`/api/v2/alerts`, ...) is what the tests read.
pub fn alertmanager() -> Peer {
    let program = find_program("prometheus-alertmanager");
    Peer::start(&program, Ready::Http("/-/ready"), |command, dir, port| {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
        )
        .expect("writing alertmanager.yml");
        command
            .arg(flag_path("--config.file=", &config))
            .arg(flag_path("--storage.path=", &dir.join("data")))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=");
    })
}
