//! The grouping key (`job` plus labels) and its Pushgateway URL path,
//! `/metrics/job/<job>{/<label>/<value>}`, as `docs/format/push-protocol.md` specifies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The labels that name a push group: `job` first, then the others in the order given
/// (normally `instance`). Names are validated by the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupingKey {
    pub(crate) job: String,
    pub(crate) labels: Vec<(String, String)>,
}

impl GroupingKey {
    /// The URL path of the group: `/metrics/job/<job>` then `/<name>/<value>` per label.
    ///
    /// A value that is empty or contains `/` is sent as `<name>@base64/<value>` in the
    /// URL-safe base64 alphabet of RFC 4648 §5 without padding, and an empty value as the
    /// single `=` Pushgateway requires; any other value is percent-encoded, keeping only
    /// the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~`.
    pub(crate) fn path(&self) -> String {
        let mut path = String::from("/metrics");
        push_pair(&mut path, "job", &self.job);
        for (name, value) in &self.labels {
            push_pair(&mut path, name, value);
        }
        path
    }
}

fn push_pair(path: &mut String, name: &str, value: &str) {
    path.push('/');
    path.push_str(name);
    if value.is_empty() {
        path.push_str("@base64/=");
    } else if value.contains('/') {
        path.push_str("@base64/");
        path.push_str(&URL_SAFE_NO_PAD.encode(value.as_bytes()));
    } else {
        path.push('/');
        percent_encode(path, value);
    }
}

fn percent_encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(job: &str, labels: &[(&str, &str)]) -> GroupingKey {
        GroupingKey {
            job: job.into(),
            labels: labels
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect(),
        }
    }

    #[test]
    fn plain_values_are_path_segments() {
        assert_eq!(
            key("batch", &[("instance", "host-42")]).path(),
            "/metrics/job/batch/instance/host-42"
        );
    }

    #[test]
    fn slashes_and_empty_values_use_base64() {
        // Pushgateway README: "a single `=` is required to encode an empty label value".
        assert_eq!(
            key("a/b", &[("instance", ""), ("path", "/var/tmp")]).path(),
            "/metrics/job@base64/YS9i/instance@base64/=/path@base64/L3Zhci90bXA"
        );
        // The URL-safe alphabet: `-` and `_` instead of `+` and `/`.
        assert_eq!(
            key("j", &[("x", "/?>")]).path(),
            "/metrics/job/j/x@base64/Lz8-"
        );
    }

    #[test]
    fn other_characters_are_percent_encoded() {
        assert_eq!(
            key("my job", &[("instance", "h:9091"), ("u", "é%")]).path(),
            "/metrics/job/my%20job/instance/h%3A9091/u/%C3%A9%25"
        );
    }
}
