//! The nesting of control actions, checked as Go's parser checks it.
//!
//! `gotmpl` 0.6 stops parsing quietly at a top-level `{{end}}` or `{{else}}` and
//! accepts an `{{if}}` left open at the end of the text; Go's `text/template` refuses
//! all three (`unexpected {{end}}`, `unexpected EOF`), and so does `promtool check
//! rules`. This scan finds the keyword that opens each action (skipping strings and
//! comments inside actions) and keeps a stack of open controls.

/// A nesting problem: 1-based line and Go's message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unbalanced {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Checks `text` (delimiters `{{` and `}}`); `None` when the nesting is right. Text
/// that does not lex (an unclosed action) is left to the parser.
pub(crate) fn check_balance(text: &str) -> Option<Unbalanced> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = text;
    let mut line = 1;
    while let Some(start) = rest.find("{{") {
        line += rest[..start].matches('\n').count();
        let body_start = start + 2;
        let len = action_len(&rest[body_start..])?;
        let body = &rest[body_start..body_start + len];
        let action_line = line;
        line += body.matches('\n').count();
        rest = &rest[body_start + len + 2..];
        let keyword = first_word(body);
        let problem = |message: String| {
            Some(Unbalanced {
                line: action_line,
                message,
            })
        };
        match keyword {
            "if" | "range" | "with" | "define" | "block" => stack.push(keyword),
            "end" if stack.pop().is_none() => {
                return problem("unexpected {{end}}".to_owned());
            }
            "else" if !matches!(stack.last(), Some(&("if" | "range" | "with"))) => {
                return problem("unexpected {{else}}".to_owned());
            }
            "break" | "continue" => {
                let in_range = stack
                    .iter()
                    .rev()
                    .take_while(|k| !matches!(**k, "define" | "block"))
                    .any(|k| *k == "range");
                if !in_range {
                    return problem(format!("{{{{{keyword}}}}} outside {{{{range}}}}"));
                }
            }
            _ => {}
        }
    }
    if stack.is_empty() {
        None
    } else {
        let end_line = line + rest.matches('\n').count();
        Some(Unbalanced {
            line: end_line,
            message: "unexpected EOF".to_owned(),
        })
    }
}

/// The length of an action's body (up to its `}}`), skipping quoted strings, raw
/// strings, character literals and comments; `None` if the action is not closed.
pub(crate) fn action_len(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let close = body[i + 2..].find("*/")?;
                i += 2 + close + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The keyword-like first word of an action: trim markers (`-`) and spaces removed.
fn first_word(body: &str) -> &str {
    let body = body.strip_prefix('-').unwrap_or(body).trim_start();
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    &body[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Option<(usize, String)> {
        check_balance(text).map(|u| (u.line, u.message))
    }

    #[test]
    fn balanced_texts() {
        for text in [
            "",
            "plain",
            "{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}",
            "{{ range . }}{{ if . }}{{ break }}{{ end }}{{ continue }}{{ end }}",
            "{{- with .X -}} x {{- end -}}",
            "{{ define \"t\" }}{{ end }}{{ block \"b\" . }}{{ end }}",
            "{{ \"}}\" }}{{ `{{ end }}` }}{{/* {{ end }} */}}",
            "{{ ends }}{{ iffy }}",
        ] {
            assert_eq!(message(text), None, "{text}");
        }
    }

    #[test]
    fn unbalanced_texts() {
        assert_eq!(
            message("a\n{{ end }}"),
            Some((2, "unexpected {{end}}".to_owned()))
        );
        assert_eq!(
            message("{{ else }}"),
            Some((1, "unexpected {{else}}".to_owned()))
        );
        assert_eq!(
            message("{{ if true }}\nx\n"),
            Some((3, "unexpected EOF".to_owned()))
        );
        assert_eq!(
            message("{{ break }}"),
            Some((1, "{{break}} outside {{range}}".to_owned()))
        );
        assert_eq!(
            message("{{ range . }}{{ define \"x\" }}{{ continue }}{{ end }}{{ end }}"),
            Some((1, "{{continue}} outside {{range}}".to_owned()))
        );
        assert_eq!(
            message("{{ if 1 }}{{ end }}{{ end }}").map(|m| m.0),
            Some(1)
        );
    }

    #[test]
    fn unclosed_actions_are_left_to_the_parser() {
        assert_eq!(message("{{ if"), None);
        assert_eq!(message("{{ \"x"), None);
        assert_eq!(message("{{/* x"), None);
    }
}
