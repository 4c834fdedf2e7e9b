//! An HTTP proxy: Debian's `tinyproxy` (package `tinyproxy-bin`), in the foreground.

use crate::peer::{Peer, Ready};
use crate::program::find_program;

/// `tinyproxy` on `127.0.0.1:<port>` accepting clients from 127.0.0.1, logging each
/// request it forwards (`Request (file descriptor N): POST http://...`) to the peer's
/// log ([`Peer::log`]); ready when the port accepts connections.
pub fn http_proxy() -> Peer {
    let tinyproxy = find_program("tinyproxy");
    Peer::start(&tinyproxy, Ready::Tcp, |command, dir, port| {
        let config = dir.join("tinyproxy.conf");
        let text = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Info\nMaxClients 20\nAllow 127.0.0.1\n"
        );
        std::fs::write(&config, text).expect("writing tinyproxy.conf");
        command.arg("-d").arg("-c").arg(&config);
    })
}
