//! What Go's template parser accepts and `gotmpl`'s refuses, made acceptable before
//! parsing: a pipeline ending in `|` (`{{ .A | }}`), which Go's parser reads as if the
//! bar were not there (and so `promtool check rules` accepts). The bar is replaced by
//! a space, so every position in messages stays where it was.

use std::borrow::Cow;

use super::balance::action_len;

/// `text` with each action's trailing `|` blanked out.
pub(crate) fn blank_trailing_pipes(text: &str) -> Cow<'_, str> {
    let mut bars = Vec::new();
    let mut offset = 0;
    while let Some(start) = text[offset..].find("{{") {
        let body_start = offset + start + 2;
        let Some(len) = action_len(&text[body_start..]) else {
            break;
        };
        let body = &text[body_start..body_start + len];
        let trimmed = body.strip_suffix(" -").unwrap_or(body).trim_end();
        if let Some(before) = trimmed.strip_suffix('|') {
            // Something must come before the bar, and not another bar.
            let before = before.trim_end();
            if !before.trim_start().is_empty() && !before.ends_with('|') {
                bars.push(body_start + trimmed.len() - 1);
            }
        }
        offset = body_start + len + 2;
    }
    if bars.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for at in bars {
        out.replace_range(at..at + 1, " ");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bars_are_blanked() {
        assert_eq!(blank_trailing_pipes("{{ .A | }}"), "{{ .A   }}");
        assert_eq!(
            blank_trailing_pipes("{{ .A |}}x{{ .B | -}}"),
            "{{ .A  }}x{{ .B   -}}"
        );
    }

    #[test]
    fn everything_else_is_untouched() {
        for text in [
            "",
            "a | b",
            "{{ .A | printf \"%s\" }}",
            "{{ \"|\" }}",
            "{{ `a |` }}",
            "{{/* x | */}}",
            "{{ |}}",
            "{{ .A",
        ] {
            assert!(
                matches!(blank_trailing_pipes(text), Cow::Borrowed(_)),
                "{text}"
            );
        }
    }
}
