//! Text as promtool writes it: Go's duration notations and float formats, the
//! expected/got lists of alerts and samples.

use std::collections::BTreeMap;

use tally_model::Labels;

/// Prometheus' `model.Duration` text: `0s`, `5m`, `1h30m`, `1d`, `90d` (years and weeks
/// only when exact).
pub(crate) fn model_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut ms = ms;
    let mut out = String::new();
    const DAY: i64 = 86_400_000;
    for (unit, mult, exact) in [
        ("y", 365 * DAY, true),
        ("w", 7 * DAY, true),
        ("d", DAY, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ] {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
            ms -= v * mult;
        }
    }
    out
}

/// Go's `time.Duration` text for non-negative durations: `0s`, `1m0s`, `1h30m0s`,
/// `1.5s`, `500ms`.
pub(crate) fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let secs = if rem % 1000 == 0 {
        format!("{}s", rem / 1000)
    } else {
        let frac = format!("{:03}", rem % 1000);
        format!("{}.{}s", rem / 1000, frac.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `1.2E+02`, `NaN`, `+Inf`.
pub(crate) fn go_float_upper_e(v: f64) -> String {
    crate::eval::api::format_go_e(v).replace('e', "E")
}

/// An alert as compared: labels and annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LabelsAndAnnotations {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
}

fn annotations_text(a: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = a.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// promtool's list of alerts: `[]`, or `[\n0:\n  Labels:...\n  Annotations:...\n]`.
pub(crate) fn alerts_list(list: &[LabelsAndAnnotations]) -> String {
    if list.is_empty() {
        return "[]".to_owned();
    }
    let mut s = String::from("[");
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let item = format!(
            "\nLabels:{}\nAnnotations:{}",
            a.labels,
            annotations_text(&a.annotations)
        );
        s.push_str(&format!("\n{i}:{}", indent_lines(&item, "  ")));
    }
    s.push_str("\n]");
    s
}

/// Indents every line but the first by `indent`.
pub(crate) fn indent_lines(text: &str, indent: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

/// promtool's list of samples: `nil`, or `LABELS VALUE, LABELS VALUE`.
pub(crate) fn samples_list(list: &[(Labels, f64)]) -> String {
    if list.is_empty() {
        return "nil".to_owned();
    }
    list.iter()
        .map(|(l, v)| format!("{l} {}", go_float_upper_e(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(model_duration(0), "0s");
        assert_eq!(model_duration(90_000), "1m30s");
        assert_eq!(model_duration(3_600_000), "1h");
        assert_eq!(model_duration(90 * 86_400_000), "90d");
        assert_eq!(model_duration(14 * 86_400_000), "2w");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(300_000), "5m0s");
        assert_eq!(go_duration(3_690_000), "1h1m30s");
        assert_eq!(go_duration(1_500), "1.5s");
        assert_eq!(go_float_upper_e(120.0), "1.2E+02");
    }

    #[test]
    fn alert_list_layout() {
        let a = LabelsAndAnnotations {
            labels: Labels::from_pairs([("alertname", "A")]).unwrap_or_default(),
            annotations: BTreeMap::from([("s".to_owned(), "x".to_owned())]),
        };
        assert_eq!(
            alerts_list(&[a.clone(), a]),
            "[\n0:\n  Labels:{alertname=\"A\"}\n  Annotations:{s=\"x\"},\n1:\n  Labels:{alertname=\"A\"}\n  Annotations:{s=\"x\"}\n]"
        );
    }
}
