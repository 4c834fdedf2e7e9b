//! [`Matcher`]: one `name op "value"` term of a series selector.

use std::fmt;

use regex::Regex;
use tally_model::Labels;

/// The comparison a [`Matcher`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: the label's value equals the string.
    Equal,
    /// `!=`: the label's value differs from the string.
    NotEqual,
    /// `=~`: the label's value matches the regex, anchored at both ends.
    Regex,
    /// `!~`: the label's value does not match the regex.
    NotRegex,
}

impl MatchOp {
    /// The operator as PromQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A regular expression in a matcher did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name:?}: {reason}")]
pub struct MatcherError {
    /// The label the matcher was for.
    pub name: String,
    /// The pattern as written.
    pub pattern: String,
    /// The regex engine's explanation.
    pub reason: String,
}

/// One label matcher with Prometheus' semantics: a label that is absent has the empty
/// string as its value (so `foo=""` selects series without `foo`), and regexes match the
/// whole value (`^(?s:pattern)$`).
///
/// Cloning a regex matcher shares the compiled program (reference counted).
#[derive(Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The string or the pattern as written.
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// A matcher; compiles the pattern for the regex operators.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Self, MatcherError> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?s:{value})$")).map_err(|e| MatcherError {
                    name: name.to_owned(),
                    pattern: value.to_owned(),
                    reason: e.to_string(),
                })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            op: MatchOp::Equal,
            value: value.to_owned(),
            regex: None,
        }
    }

    /// `name!="value"`.
    pub fn not_equal(name: &str, value: &str) -> Self {
        Self {
            op: MatchOp::NotEqual,
            ..Self::equal(name, value)
        }
    }

    /// `__name__="metric"`.
    pub fn metric_name(metric: &str) -> Self {
        Self::equal("__name__", metric)
    }

    /// Whether a label value (`""` for an absent label) satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // Regex matchers are only built with their program.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether a series with these labels satisfies this matcher.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether this matcher also selects series that lack the label (it matches `""`).
    /// Index implementations use it: such a matcher cannot be answered from the label's
    /// postings alone.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=~` matchers whose pattern is a plain alternation of literals (`a|b|c`), the
    /// literals; an index can then look each value up instead of scanning every value.
    pub fn literal_alternatives(&self) -> Option<Vec<&str>> {
        if self.op != MatchOp::Regex {
            return None;
        }
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/' | ' '))
        };
        let parts: Vec<&str> = self.value.split('|').collect();
        parts.iter().all(|p| plain(p)).then_some(parts)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// Whether a series with `labels` satisfies every matcher.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels::from_pairs([("__name__", "http_requests_total"), ("method", "GET")]).unwrap()
    }

    #[test]
    fn absent_label_is_empty_string() {
        let l = labels();
        assert!(Matcher::equal("code", "").matches_labels(&l));
        assert!(!Matcher::not_equal("code", "").matches_labels(&l));
        assert!(Matcher::not_equal("method", "").matches_labels(&l));
        assert!(Matcher::new(MatchOp::Regex, "code", ".*")
            .unwrap()
            .matches_labels(&l));
        assert!(!Matcher::new(MatchOp::Regex, "code", ".+")
            .unwrap()
            .matches_labels(&l));
    }

    #[test]
    fn regexes_are_anchored_and_dot_matches_newline() {
        let m = Matcher::new(MatchOp::Regex, "method", "G.T").unwrap();
        assert!(m.matches("GET"));
        assert!(!m.matches("GETS"));
        assert!(!m.matches("xGET"));
        let m = Matcher::new(MatchOp::Regex, "v", "a.b").unwrap();
        assert!(m.matches("a\nb"));
        let m = Matcher::new(MatchOp::NotRegex, "method", "GET|PUT").unwrap();
        assert!(!m.matches("PUT"));
        assert!(m.matches("POST"));
    }

    #[test]
    fn bad_regex_names_label_and_pattern() {
        let e = Matcher::new(MatchOp::Regex, "job", "a(").unwrap_err();
        assert_eq!(e.name, "job");
        assert_eq!(e.pattern, "a(");
        assert!(e.to_string().contains("job"), "{e}");
    }

    #[test]
    fn literal_alternatives_only_for_plain_alternations() {
        let m = Matcher::new(MatchOp::Regex, "code", "200|404").unwrap();
        assert_eq!(m.literal_alternatives(), Some(vec!["200", "404"]));
        let m = Matcher::new(MatchOp::Regex, "code", "2..|404").unwrap();
        assert_eq!(m.literal_alternatives(), None);
        let m = Matcher::new(MatchOp::Regex, "code", "").unwrap();
        assert_eq!(m.literal_alternatives(), None);
        let m = Matcher::new(MatchOp::NotRegex, "code", "200").unwrap();
        assert_eq!(m.literal_alternatives(), None);
    }
}
