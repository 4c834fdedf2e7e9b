//! Webhooks through an HTTP proxy (`http_config.proxy_url`, `no_proxy`): Debian's
//! `tinyproxy` between tally and a recording HTTP server, its log showing what went
//! through it.

use tally_notify::Config;
use tally_testkit::{free_port, http_proxy};

use crate::support::assert_amtool_accepts;
use crate::support::sink::Sink;

/// A webhook to `url` with the `http_config` lines `http` (flow style, without braces).
fn config(url: &str, http: &str) -> String {
    format!(
        "route: {{ receiver: team, group_by: [alertname], group_wait: 0s }}\n\
         receivers: [{{ name: team, webhook_configs: [{{ url: \"{url}\", http_config: {{ {http} }} }}] }}]\n"
    )
}

fn deliver_one(yaml: &str) -> Result<(), tally_notify::deliver::DeliverError> {
    let config = Config::parse(yaml).unwrap_or_else(|e| panic!("{yaml}\n=> {e}"));
    crate::support::deliver_one(config)
}

/// How many requests to `url`'s host and port went through the proxy (the client
/// tunnels with `CONNECT` even to `http` URLs).
fn forwarded(proxy: &tally_testkit::Peer, url: &str) -> usize {
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    proxy
        .log()
        .matches(&format!("CONNECT {authority} HTTP/1.1"))
        .count()
}

#[test]
fn webhooks_go_through_the_proxy_unless_no_proxy_names_the_host() {
    let sink = Sink::start();
    let proxy = http_proxy();
    let url = sink.url("/hook");
    let via = format!("proxy_url: \"http://127.0.0.1:{}\"", proxy.port());

    deliver_one(&config(&url, &via)).expect("delivered through the proxy");
    assert_eq!(sink.take().len(), 1);
    assert_eq!(forwarded(&proxy, &url), 1, "{}", proxy.log());

    // Without proxy settings, straight to the server.
    deliver_one(&config(&url, "")).expect("delivered directly");
    assert_eq!(sink.take().len(), 1);
    assert_eq!(forwarded(&proxy, &url), 1);

    // The host is on the no_proxy list: straight to the server.
    let bypass = format!("{via}, no_proxy: \"example.org, 127.0.0.1\"");
    deliver_one(&config(&url, &bypass)).expect("delivered directly");
    assert_eq!(sink.take().len(), 1);
    assert_eq!(forwarded(&proxy, &url), 1, "{}", proxy.log());

    // A proxy that is not there: the delivery fails, nothing arrives.
    let gone = format!("proxy_url: \"http://127.0.0.1:{}\"", free_port());
    deliver_one(&config(&url, &gone)).expect_err("no proxy listening");
    assert!(sink.take().is_empty());

    // Alertmanager's own checker accepts proxy_url (Debian's 0.25 predates no_proxy).
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, config(&url, &via)).expect("writing the configuration");
    assert_amtool_accepts(&path);
}
