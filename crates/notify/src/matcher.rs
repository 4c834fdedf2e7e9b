//! [`Matcher`]: one label condition (`name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`),
//! parsed from Alertmanager's string syntax, and [`Matchers`], a conjunction of them.

use std::fmt;

use regex::Regex;
use tally_model::Labels;

/// How a [`Matcher`] compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`: the value equals.
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the regular expression matches the whole value.
    Regex,
    /// `!~`: the regular expression does not match the whole value.
    NotRegex,
}

impl MatchType {
    /// The operator as written: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// Why a matcher could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// The text has no `=`, `!=`, `=~` or `!~` operator after a label name.
    #[error("bad matcher {text:?}: expected name followed by =, !=, =~ or !~")]
    Syntax {
        /// The text that was parsed.
        text: String,
    },
    /// The label name is empty or not a valid name.
    #[error("bad matcher {text:?}: invalid label name {name:?}")]
    Name {
        /// The text that was parsed.
        text: String,
        /// The name found.
        name: String,
    },
    /// A quoted value is not closed or has a bad escape.
    #[error("bad matcher {text:?}: unterminated or badly escaped quoted value")]
    Quote {
        /// The text that was parsed.
        text: String,
    },
    /// The regular expression does not compile.
    #[error("bad matcher {text:?}: invalid regular expression: {reason}")]
    Regex {
        /// The text that was parsed.
        text: String,
        /// What the regex compiler said.
        reason: String,
    },
}

/// One label condition. An absent label matches as the empty value, as in Alertmanager.
/// Regular expressions are anchored at both ends. Cloning clones the compiled regex (an
/// `Arc` increment).
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub kind: MatchType,
    /// The value or regular expression as written.
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~` and `!~`.
    pub fn new(
        name: impl Into<String>,
        kind: MatchType,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let (name, value) = (name.into(), value.into());
        let regex = match kind {
            MatchType::Regex | MatchType::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError::Regex {
                    text: format!("{name}{}{value:?}", kind.as_str()),
                    reason: e.to_string(),
                })?,
            ),
            _ => None,
        };
        Ok(Self {
            name,
            kind,
            value,
            regex,
        })
    }

    /// Parses one matcher: `name="value"`, `name=~"re"`, with the value quoted (Go string
    /// escapes) or bare.
    pub fn parse(text: &str) -> Result<Self, MatcherError> {
        let trimmed = text.trim();
        let syntax = || MatcherError::Syntax {
            text: text.to_owned(),
        };
        let op_at = trimmed.find(['=', '!']).ok_or_else(syntax)?;
        let name = trimmed[..op_at].trim();
        let rest = &trimmed[op_at..];
        let (kind, rest) = if let Some(r) = rest.strip_prefix("=~") {
            (MatchType::Regex, r)
        } else if let Some(r) = rest.strip_prefix("!~") {
            (MatchType::NotRegex, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (MatchType::NotEqual, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (MatchType::Equal, r)
        } else {
            return Err(syntax());
        };
        let name = unquote(name).ok_or_else(|| MatcherError::Quote {
            text: text.to_owned(),
        })?;
        if !valid_name(&name) {
            return Err(MatcherError::Name {
                text: text.to_owned(),
                name,
            });
        }
        let value = unquote(rest.trim()).ok_or_else(|| MatcherError::Quote {
            text: text.to_owned(),
        })?;
        Self::new(name, kind, value)
    }

    /// Whether `value` (empty when the label is absent) satisfies this matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.kind, &self.regex) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regex, Some(re)) => re.is_match(value),
            (MatchType::NotRegex, Some(re)) => !re.is_match(value),
            // `new` always compiles a regex for the regex kinds.
            (MatchType::Regex | MatchType::NotRegex, None) => false,
        }
    }

    /// Whether the label set satisfies this matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.kind.as_str(), self.value)
    }
}

/// A conjunction of matchers: all must match. The empty set matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Parses a list of matcher strings as Alertmanager's `matchers:` field holds them;
    /// each string may itself hold several, comma-separated, optionally within braces.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Self, MatcherError> {
        let mut out = Vec::new();
        for item in items {
            out.extend(parse_set(item.as_ref())?);
        }
        Ok(Self(out))
    }

    /// Whether every matcher matches the label set.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }
}

impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// Parses `{a="1", b=~"x"}` or `a="1", b=~"x"`, splitting on commas outside quotes.
fn parse_set(text: &str) -> Result<Vec<Matcher>, MatcherError> {
    let mut body = text.trim();
    if let Some(inner) = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')) {
        body = inner;
    }
    let mut parts = Vec::new();
    let (mut start, mut in_quote, mut escaped) = (0, false, false);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            ',' if !in_quote => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(Matcher::parse)
        .collect()
}

/// Removes Go-style double quotes and escapes; a bare string is returned as is.
fn unquote(text: &str) -> Option<String> {
    let Some(inner) = text.strip_prefix('"') else {
        return (!text.contains('"')).then(|| text.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                c @ ('\\' | '"' | '\'') => out.push(c),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// A label name: non-empty, without quotes, braces, commas, operators or spaces.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '{' | '}' | ',' | '=' | '!' | '~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn parses_every_operator_quoted_and_bare() -> Result<(), MatcherError> {
        let m = Matcher::parse(r#"severity="page""#)?;
        assert_eq!(
            (m.name.as_str(), m.kind, m.value.as_str()),
            ("severity", MatchType::Equal, "page")
        );
        assert_eq!(Matcher::parse("a!=b")?.kind, MatchType::NotEqual);
        assert_eq!(Matcher::parse(r#"a =~ "x|y""#)?.kind, MatchType::Regex);
        assert_eq!(Matcher::parse(r#"a!~"x""#)?.kind, MatchType::NotRegex);
        assert_eq!(Matcher::parse(r#"a="q\"x""#)?.value, "q\"x");
        Ok(())
    }

    #[test]
    fn regex_is_anchored_and_absent_label_is_empty() -> Result<(), MatcherError> {
        let m = Matcher::parse(r#"job=~"api|db""#)?;
        assert!(m.matches(&labels(&[("job", "api")])));
        assert!(!m.matches(&labels(&[("job", "api2")])));
        assert!(Matcher::parse(r#"team="""#)?.matches(&labels(&[])));
        assert!(Matcher::parse(r#"team!="x""#)?.matches(&labels(&[])));
        Ok(())
    }

    #[test]
    fn lists_with_braces_and_commas_inside_quotes() -> Result<(), MatcherError> {
        let ms = Matchers::parse_list(&[r#"{a="1,2", b=~"x"}"#, "c!=d"])?;
        assert_eq!(ms.0.len(), 3);
        assert_eq!(ms.0[0].value, "1,2");
        assert_eq!(ms.to_string(), r#"{a="1,2",b=~"x",c!="d"}"#);
        Ok(())
    }

    #[test]
    fn bad_matchers_say_what_is_wrong() {
        assert!(matches!(
            Matcher::parse("novalue"),
            Err(MatcherError::Syntax { .. })
        ));
        assert!(matches!(
            Matcher::parse(r#"a="open"#),
            Err(MatcherError::Quote { .. })
        ));
        assert!(matches!(
            Matcher::parse(r#"a=~"(""#),
            Err(MatcherError::Regex { .. })
        ));
        assert!(matches!(
            Matcher::parse(r#"="x""#),
            Err(MatcherError::Name { .. })
        ));
    }
}
