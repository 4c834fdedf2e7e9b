//! `printf` with Go's infinities. `gotmpl` 0.6 writes an infinite float as `inf`
//! under `%f`, `%e`, `%g` and `%v`; Go writes `+Inf` / `-Inf` (never zero-padded).
//! Such arguments are turned into their text and their verb into `%s` (keeping the
//! width and `-` flag), then `gotmpl`'s own `printf` does the rest.

use gotmpl::Value;

/// `printf format args...`, as Go's `fmt.Sprintf`.
pub(crate) fn printf(args: &[Value]) -> Result<Value, String> {
    let Some((Value::String(format), rest)) = args.split_first() else {
        return Err("printf: the first argument must be a format string".to_owned());
    };
    let (format, rest) = with_go_infinities(format, rest);
    let names: Vec<String> = (0..rest.len()).map(|i| format!(".a{i}")).collect();
    let source = format!("{{{{ printf .f {} }}}}", names.join(" "));
    let mut data: Vec<(String, Value)> = vec![("f".to_owned(), Value::from(format))];
    data.extend(
        rest.into_iter()
            .enumerate()
            .map(|(i, v)| (format!("a{i}"), v)),
    );
    let data: std::collections::BTreeMap<String, Value> = data.into_iter().collect();
    gotmpl::execute(&source, &Value::from(data))
        .map(Value::from)
        .map_err(|e| e.to_string())
}

/// Rewrites the verbs that take an infinite float. Formats with `*` widths or
/// explicit argument indexes are left alone.
fn with_go_infinities(format: &str, args: &[Value]) -> (String, Vec<Value>) {
    let mut args = args.to_vec();
    if !args
        .iter()
        .any(|a| matches!(a, Value::Float(f) if f.is_infinite()))
    {
        return (format.to_owned(), args);
    }
    let mut out = String::with_capacity(format.len());
    let mut next_arg = 0;
    let mut rest = format;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let spec = &rest[pos + 1..];
        let flags_len = spec
            .find(|c: char| !matches!(c, '+' | '-' | '#' | ' ' | '0'))
            .unwrap_or(spec.len());
        let after_flags = &spec[flags_len..];
        let width_len = after_flags
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_flags.len());
        let mut len = flags_len + width_len;
        if spec[len..].starts_with('.') {
            len += 1 + spec[len + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(spec.len() - len - 1);
        }
        let Some(verb) = spec[len..].chars().next() else {
            out.push('%');
            out.push_str(spec);
            return (out, args);
        };
        if verb == '*' || verb == '[' {
            return (format.to_owned(), args);
        }
        let whole = &spec[..len + verb.len_utf8()];
        rest = &spec[len + verb.len_utf8()..];
        if verb == '%' {
            out.push_str("%%");
            continue;
        }
        let flags = &spec[..flags_len];
        match args.get(next_arg) {
            Some(Value::Float(f)) if f.is_infinite() && "eEfFgGv".contains(verb) => {
                let text = if *f < 0.0 {
                    "-Inf"
                } else if flags.contains(' ') && !flags.contains('+') {
                    " Inf"
                } else {
                    "+Inf"
                };
                args[next_arg] = Value::from(text);
                let left = if flags.contains('-') { "-" } else { "" };
                let width = &after_flags[..width_len];
                out.push_str(&format!("%{left}{width}s"));
            }
            _ => {
                out.push('%');
                out.push_str(whole);
            }
        }
        next_arg += 1;
    }
    out.push_str(rest);
    (out, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sprintf(format: &str, args: &[Value]) -> String {
        let mut all = vec![Value::from(format)];
        all.extend_from_slice(args);
        match printf(&all).unwrap() {
            Value::String(s) => s.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn infinities_print_as_go_prints_them() {
        let inf = Value::Float(f64::INFINITY);
        let neg = Value::Float(f64::NEG_INFINITY);
        assert_eq!(
            sprintf(
                "%.2f|%e|%g|%v",
                &[inf.clone(), inf.clone(), inf.clone(), neg.clone()]
            ),
            "+Inf|+Inf|+Inf|-Inf"
        );
        assert_eq!(
            sprintf(
                "[%6.1f][%-6f][%06f]",
                &[inf.clone(), inf.clone(), neg.clone()]
            ),
            "[  +Inf][+Inf  ][  -Inf]"
        );
        assert_eq!(sprintf("% f|%+f", &[inf.clone(), inf.clone()]), " Inf|+Inf");
        assert_eq!(
            sprintf("%d%% of %s: %.1f", &[Value::Int(5), Value::from("x"), inf]),
            "5% of x: +Inf"
        );
    }

    #[test]
    fn everything_else_is_gotmpl_printf() {
        assert_eq!(
            sprintf(
                "%.3f|%s|%d",
                &[Value::Float(1.5), Value::from("a"), Value::Int(2)]
            ),
            "1.500|a|2"
        );
        assert_eq!(sprintf("%v", &[Value::Float(f64::NAN)]), "NaN");
        assert_eq!(sprintf("no verbs", &[]), "no verbs");
        // `*` widths are left to gotmpl as they are.
        assert_eq!(sprintf("%*d", &[Value::Int(3), Value::Int(7)]), "  7");
        assert!(printf(&[Value::Int(1)]).is_err());
        assert!(printf(&[]).is_err());
    }
}
