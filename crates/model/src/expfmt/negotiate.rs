//! Choosing the exposition format from an HTTP `Accept` header.
//!
//! # Rules
//!
//! The header is a comma-separated list of media ranges, each with `;`-separated
//! parameters (RFC 9110 §12.5.1). Type, subtype and parameter names compare
//! case-insensitively; parameter values may be quoted. A range is *acceptable* when its
//! `q` is above 0 (a missing `q` is 1; a `q` that is not a number in `[0, 1]` counts as 0)
//! and it names a format tally writes:
//!
//! | range | format |
//! |---|---|
//! | `application/openmetrics-text` with `version` `1.0.0`, `0.0.1` or none | OpenMetrics 1.0 |
//! | `text/plain` with `version` `0.0.4` or none | text 0.0.4 |
//! | `text/*`, `*/*` | text 0.0.4 |
//!
//! Of the acceptable ranges the one with the highest `q` wins; on a tie a concrete range
//! beats `text/*`, which beats `*/*`, and then the earlier range wins. When nothing is
//! acceptable, or the header is absent or unreadable, the answer is text 0.0.4.
//!
//! The winning range's `escaping` parameter (`allow-utf-8`, `underscores`, `dots`,
//! `values`) picks the [`EscapingScheme`]; when it has none, or an unknown one, the
//! answer uses `underscores`, the default of Prometheus' Go libraries
//! (`model.NameEscapingScheme`), so that a reader that did not ask for UTF-8 names never
//! receives one.
//!
//! # Compared with client_golang
//!
//! This follows `expfmt.NegotiateIncludingOpenMetrics` of `prometheus/common` (which
//! client_golang's `promhttp` uses), with three deliberate differences, all on headers no
//! Prometheus server sends:
//!
//! - Go walks the ranges sorted by `q` and takes the first it supports, but keeps ranges
//!   with `q=0`; here `q=0` means "not acceptable", as HTTP says.
//! - Go lets `*/*` and `text/*` match nothing and falls back to text only after trying
//!   every other range, so `*/*;q=0.9, application/openmetrics-text;q=0.1` gives
//!   OpenMetrics there and text here, where the wildcard is honoured at its own `q`.
//! - Go carries an `escaping` parameter over from a higher-ranked range it could not use
//!   to the range it picks; here only the picked range's parameter counts. Prometheus 3
//!   puts `escaping=` only on the ranges of the formats that can carry UTF-8 names
//!   (`openmetrics-text;version=1.0.0`, `text/plain;version=1.0.0`), so a scraper that
//!   ends up with text 0.0.4 gets escaped names.
//!
//! Protocol-buffer ranges are not matched (tally does not write protobuf) and neither is
//! `text/plain;version=1.0.0`; a header listing them falls through to its other ranges.
//!
//! Prometheus 2.x scrapes with
//! `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`
//! and so gets OpenMetrics with `underscores`.

use super::Format;
use crate::name::EscapingScheme;

/// The outcome of content negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The format to answer in.
    pub format: Format,
    /// How to escape names that are not legacy-valid.
    pub escaping: EscapingScheme,
}

impl Negotiated {
    /// The `Content-Type` header for the answer.
    pub fn content_type(&self) -> String {
        self.format.content_type(self.escaping)
    }
}

impl Default for Negotiated {
    /// Text 0.0.4 with `underscores`: the answer when the client expressed no usable
    /// preference.
    fn default() -> Self {
        Self {
            format: Format::Text,
            escaping: EscapingScheme::Underscores,
        }
    }
}

/// Picks the format and escaping for an `Accept` header (absent: text 0.0.4 with
/// `underscores`). See the module documentation for the rules. Never panics; linear in
/// the header's length.
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    let Some(accept) = accept else {
        return Negotiated::default();
    };
    // (q, specificity, result); the first range with the greatest (q, specificity) wins.
    let mut best: Option<(f32, u8, Negotiated)> = None;
    for range in accept.split(',') {
        let Some(candidate) = rank(range) else {
            continue;
        };
        if best.is_none_or(|(q, s, _)| (candidate.0, candidate.1) > (q, s)) {
            best = Some(candidate);
        }
    }
    best.map_or_else(Negotiated::default, |(_, _, negotiated)| negotiated)
}

/// The q-value, specificity and outcome of one media range, if it is acceptable.
fn rank(range: &str) -> Option<(f32, u8, Negotiated)> {
    let mut parts = range.split(';');
    let media = parts.next().unwrap_or("").trim();
    let (kind, subtype) = media.split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    let mut q = 1.0f32;
    let mut version = None;
    let mut escaping = None;
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let value = unquote(value.trim());
        if name.eq_ignore_ascii_case("q") {
            q = parse_q(value);
        } else if name.eq_ignore_ascii_case("version") {
            version = Some(value);
        } else if name.eq_ignore_ascii_case("escaping") {
            escaping = EscapingScheme::from_param(value);
        }
    }
    if q <= 0.0 {
        return None;
    }
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let (format, specificity) = if is(kind, "application") && is(subtype, "openmetrics-text") {
        if !matches!(version, None | Some("1.0.0" | "0.0.1")) {
            return None;
        }
        (Format::OpenMetrics, 2)
    } else if is(kind, "text") && is(subtype, "plain") {
        if !matches!(version, None | Some("0.0.4")) {
            return None;
        }
        (Format::Text, 2)
    } else if is(kind, "text") && subtype == "*" {
        (Format::Text, 1)
    } else if kind == "*" && subtype == "*" {
        (Format::Text, 0)
    } else {
        return None;
    };
    let negotiated = Negotiated {
        format,
        escaping: escaping.unwrap_or(EscapingScheme::Underscores),
    };
    Some((q, specificity, negotiated))
}

/// A q-value: a number in `[0, 1]`; anything else counts as 0 (not acceptable).
fn parse_q(value: &str) -> f32 {
    match value.parse::<f32>() {
        Ok(q) if (0.0..=1.0).contains(&q) => q,
        _ => 0.0,
    }
}

/// A parameter value without its surrounding double quotes, if it has them.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: &str) -> (Format, EscapingScheme) {
        let n = negotiate(Some(accept));
        (n.format, n.escaping)
    }

    const TEXT: (Format, EscapingScheme) = (Format::Text, EscapingScheme::Underscores);
    const OM: (Format, EscapingScheme) = (Format::OpenMetrics, EscapingScheme::Underscores);

    #[test]
    fn absent_or_unusable_headers_give_text() {
        assert_eq!(negotiate(None), Negotiated::default());
        for accept in [
            "",
            " ",
            ",,,",
            "garbage",
            "application/json",
            "*/*;q=0",
            "/",
            ";;;=",
            "é/é",
        ] {
            assert_eq!(pick(accept), TEXT, "{accept:?}");
        }
    }

    #[test]
    fn prometheus_2_scrape_header_gets_openmetrics() {
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(pick(accept), OM);
        assert_eq!(
            negotiate(Some(accept)).content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
        );
    }

    #[test]
    fn prometheus_3_scrape_header_gets_utf8_openmetrics() {
        let accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(
            pick(accept),
            (Format::OpenMetrics, EscapingScheme::AllowUtf8)
        );
        // Without OpenMetrics on offer, text 0.0.4 is picked, and its range asks for no
        // UTF-8 names.
        let accept = "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(pick(accept), TEXT);
    }

    #[test]
    fn versions() {
        assert_eq!(pick("application/openmetrics-text"), OM);
        assert_eq!(pick("application/openmetrics-text;version=0.0.1"), OM);
        assert_eq!(pick("application/openmetrics-text; version=\"1.0.0\""), OM);
        assert_eq!(pick("application/openmetrics-text;version=2.0.0"), TEXT);
        assert_eq!(
            pick("application/openmetrics-text;version=2.0.0,*/*;q=0.1"),
            TEXT
        );
        assert_eq!(pick("text/plain;version=0.0.4"), TEXT);
        assert_eq!(
            pick("text/plain;version=9.9.9;q=1,application/openmetrics-text;q=0.1"),
            OM
        );
    }

    #[test]
    fn highest_q_wins() {
        assert_eq!(
            pick("text/plain;q=0.5,application/openmetrics-text;q=0.9"),
            OM
        );
        assert_eq!(
            pick("application/openmetrics-text;q=0.5,text/plain;q=0.9"),
            TEXT
        );
        assert_eq!(pick("application/openmetrics-text;q=0.5,*/*;q=0.9"), TEXT);
        assert_eq!(
            pick("application/openmetrics-text;q=0,text/plain;q=0.1"),
            TEXT
        );
        assert_eq!(pick("application/openmetrics-text;q=0"), TEXT);
        assert_eq!(
            pick("application/openmetrics-text;q=banana,text/plain;q=0.1"),
            TEXT
        );
        assert_eq!(pick("application/openmetrics-text;q=2"), TEXT);
        // Ties: concrete beats wildcard, then header order.
        assert_eq!(pick("*/*,application/openmetrics-text"), OM);
        assert_eq!(pick("text/*,application/openmetrics-text"), OM);
        assert_eq!(pick("text/plain,application/openmetrics-text"), TEXT);
        assert_eq!(pick("application/openmetrics-text,text/plain"), OM);
    }

    #[test]
    fn case_and_whitespace_are_tolerated() {
        assert_eq!(
            pick("  Application/OpenMetrics-Text ; Version=1.0.0 ; Q=0.9 "),
            OM
        );
        assert_eq!(pick("TEXT/*"), TEXT);
    }

    #[test]
    fn escaping_parameter_of_the_chosen_range() {
        for (param, scheme) in [
            ("allow-utf-8", EscapingScheme::AllowUtf8),
            ("underscores", EscapingScheme::Underscores),
            ("dots", EscapingScheme::Dots),
            ("values", EscapingScheme::Values),
            ("bogus", EscapingScheme::Underscores),
        ] {
            let accept = format!("text/plain;version=0.0.4;escaping={param}");
            assert_eq!(pick(&accept), (Format::Text, scheme), "{param}");
            let accept =
                format!("application/openmetrics-text;escaping={param};q=0.5,text/plain;q=0.1");
            assert_eq!(pick(&accept), (Format::OpenMetrics, scheme), "{param}");
        }
        // A losing range's escaping does not leak into the winner.
        assert_eq!(
            pick("text/plain;q=0.5,application/openmetrics-text;escaping=dots;q=0.1"),
            TEXT
        );
        assert_eq!(
            negotiate(Some("text/plain;escaping=allow-utf-8")).content_type(),
            "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8"
        );
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        let odd = [
            "\u{0}",
            "a/b;=;=;",
            "*/*;q=",
            "*/*;q=-0",
            "*/*;q=NaN",
            "a/\u{fffd};q=0.5;;,",
            "\"/\"",
        ];
        for accept in odd {
            let _ = negotiate(Some(accept));
        }
        let long = "text/plain;q=0.1,".repeat(10_000);
        assert_eq!(pick(&long), TEXT);
    }
}
