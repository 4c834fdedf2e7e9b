//! The string functions of Prometheus' templates, with Go's semantics: `title`
//! (`strings.Title`), `toUpper`/`toLower` (rune by rune), `stripPort` and
//! `stripDomain` (`net.SplitHostPort`), `graphLink`/`tableLink`
//! (`url.QueryEscape`), and the path of the external URL (`pathPrefix`).

use std::net::IpAddr;

/// Go's `strings.Title`: the first letter of every word upper-cased, where a word
/// starts after a separator (space or ASCII punctuation).
pub(crate) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_separator = true;
    for c in s.chars() {
        if prev_separator {
            out.push(upper_rune(c));
        } else {
            out.push(c);
        }
        prev_separator = is_separator(c);
    }
    out
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

/// Go maps case rune by rune: a rune whose case form is several runes stays as it is.
fn upper_rune(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn lower_rune(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `strings.ToUpper`.
pub(crate) fn to_upper(s: &str) -> String {
    s.chars().map(upper_rune).collect()
}

/// Go's `strings.ToLower`.
pub(crate) fn to_lower(s: &str) -> String {
    s.chars().map(lower_rune).collect()
}

/// Go's `net.SplitHostPort`: `host:port` or `[host]:port`; `None` when the text is
/// not of that form.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if port.contains(':') || host.contains(['[', ']']) || port.contains(['[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || s.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// `stripPort`: the host of `host:port`; the text unchanged if it has no port.
pub(crate) fn strip_port(s: &str) -> String {
    split_host_port(s).map_or(s, |(host, _)| host).to_owned()
}

/// `stripDomain`: the first label of a host name, keeping the port; IP addresses
/// and what cannot be split are returned unchanged.
pub(crate) fn strip_domain(s: &str) -> String {
    let (host, port) = split_host_port(s).unwrap_or((s, ""));
    if host.parse::<IpAddr>().is_ok() {
        return s.to_owned();
    }
    let first = host.split('.').next().unwrap_or(host);
    if port.is_empty() {
        first.to_owned()
    } else if first.contains(':') {
        format!("[{first}]:{port}")
    } else {
        format!("{first}:{port}")
    }
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `graphLink`: the Prometheus UI's graph tab for `expr`.
pub(crate) fn graph_link(expr: &str) -> String {
    format!("/graph?g0.expr={}&g0.tab=0", query_escape(expr))
}

/// `tableLink`: the Prometheus UI's table tab for `expr`.
pub(crate) fn table_link(expr: &str) -> String {
    format!("/graph?g0.expr={}&g0.tab=1", query_escape(expr))
}

/// The path of a URL (`http://host:9090/prefix?x` gives `/prefix`), empty if none.
pub(crate) fn url_path(url: &str) -> String {
    let after_scheme = match url.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => &rest[i..],
            None => "",
        },
        None => url,
    };
    let end = after_scheme.find(['?', '#']).unwrap_or(after_scheme.len());
    after_scheme[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_functions() {
        assert_eq!(title("aa bb CC"), "Aa Bb CC");
        assert_eq!(title("foo-bar_baz.qux"), "Foo-Bar_baz.Qux");
        assert_eq!(title(""), "");
        assert_eq!(title("élan vital"), "Élan Vital");
        assert_eq!(to_upper("aa bb CC"), "AA BB CC");
        assert_eq!(to_lower("aA bB CC"), "aa bb cc");
        assert_eq!(to_upper("straße"), "STRAßE");
    }

    #[test]
    fn strip_port_like_prometheus() {
        for (input, out) in [
            ("foo.example.com", "foo.example.com"),
            ("foo.example.com:12345", "foo.example.com"),
            ("192.0.2.1", "192.0.2.1"),
            ("192.0.2.1:12345", "192.0.2.1"),
            ("2001:0DB8::1", "2001:0DB8::1"),
            ("[2001:0DB8::1]:12345", "2001:0DB8::1"),
            ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
            ("", ""),
        ] {
            assert_eq!(strip_port(input), out, "{input}");
        }
    }

    #[test]
    fn strip_domain_like_prometheus() {
        for (input, out) in [
            ("foo.example.com", "foo"),
            ("foo.example.com:12345", "foo:12345"),
            ("192.0.2.1", "192.0.2.1"),
            ("192.0.2.1:12345", "192.0.2.1:12345"),
            ("2001:0DB8::1", "2001:0DB8::1"),
            ("[2001:0DB8::1]:12345", "[2001:0DB8::1]:12345"),
            ("[2001:0DB8::1]::12345", "[2001:0DB8::1]::12345"),
            ("localhost", "localhost"),
        ] {
            assert_eq!(strip_domain(input), out, "{input}");
        }
    }

    #[test]
    fn links() {
        assert_eq!(graph_link("up"), "/graph?g0.expr=up&g0.tab=0");
        assert_eq!(
            table_link("rate(x{a=\"b c\"}[5m])"),
            "/graph?g0.expr=rate%28x%7Ba%3D%22b+c%22%7D%5B5m%5D%29&g0.tab=1"
        );
    }

    #[test]
    fn url_paths() {
        assert_eq!(url_path("http://testhost:9090/path/prefix"), "/path/prefix");
        assert_eq!(url_path("http://testhost:9090"), "");
        assert_eq!(url_path("https://h/p?q=1#f"), "/p");
        assert_eq!(url_path(""), "");
    }
}
