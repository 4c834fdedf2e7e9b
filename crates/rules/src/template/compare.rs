//! Go's ordering built-ins (`lt`, `le`, `gt`, `ge`), registered over `gotmpl`'s own:
//! `gotmpl` 0.6 fails on NaN (`gt $value 1.0` with a NaN value). Go defines `lt` as
//! `<`, `le` as `lt || eq`, `gt` as `!le` and `ge` as `!lt`, so with a NaN operand
//! `lt` and `le` are false and `gt` and `ge` are *true*; this module does the same.
//! Types are checked as Go checks them: numbers of one kind (signed and unsigned
//! integers mix), or strings.

use std::cmp::Ordering;

use gotmpl::Value;

/// The order of `a` and `b`; `Ok(None)` when either is NaN.
fn order(a: &Value, b: &Value) -> Result<Option<Ordering>, String> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Uint(x), Value::Uint(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Uint(y)) => Some(match u64::try_from(*x) {
            Ok(x) => x.cmp(y),
            Err(_) => Ordering::Less,
        }),
        (Value::Uint(x), Value::Int(y)) => Some(match u64::try_from(*y) {
            Ok(y) => x.cmp(&y),
            Err(_) => Ordering::Greater,
        }),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ if a.type_name() != b.type_name() => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            ))
        }
        _ => return Err("invalid type for comparison".to_owned()),
    })
}

/// One of Go's four ordering built-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    /// `lt`: `a < b`.
    Lt,
    /// `le`: `lt || eq`.
    Le,
    /// `gt`: `!le`.
    Gt,
    /// `ge`: `!lt`.
    Ge,
}

/// `which` applied to `args` (two operands).
pub(crate) fn compare(args: &[Value], which: Compare) -> Result<Value, String> {
    let [a, b] = args else {
        return Err(format!("wrong number of args: want 2 got {}", args.len()));
    };
    let order = order(a, b)?;
    let lt = order == Some(Ordering::Less);
    let le = lt || order == Some(Ordering::Equal);
    Ok(Value::Bool(match which {
        Compare::Lt => lt,
        Compare::Le => le,
        Compare::Gt => !le,
        Compare::Ge => !lt,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(a: Value, b: Value) -> Result<Value, String> {
        compare(&[a, b], Compare::Lt)
    }

    #[test]
    fn numbers_and_strings() {
        assert_eq!(lt(Value::Int(1), Value::Int(2)), Ok(Value::Bool(true)));
        assert_eq!(lt(Value::Int(-1), Value::Uint(0)), Ok(Value::Bool(true)));
        assert_eq!(lt(Value::Uint(5), Value::Int(-1)), Ok(Value::Bool(false)));
        assert_eq!(
            lt(Value::Float(0.5), Value::Float(1.0)),
            Ok(Value::Bool(true))
        );
        assert_eq!(lt("a".into(), "b".into()), Ok(Value::Bool(true)));
    }

    #[test]
    fn nan_is_neither_less_nor_equal_so_greater_as_in_go() {
        for (which, expected) in [
            (Compare::Lt, false),
            (Compare::Le, false),
            (Compare::Gt, true),
            (Compare::Ge, true),
        ] {
            let out = compare(&[Value::Float(f64::NAN), Value::Float(1.0)], which);
            assert_eq!(out, Ok(Value::Bool(expected)), "{which:?}");
        }
        let eq = compare(&[Value::Float(2.0), Value::Float(2.0)], Compare::Le);
        assert_eq!(eq, Ok(Value::Bool(true)));
        let ge = compare(&[Value::Float(1.0), Value::Float(2.0)], Compare::Ge);
        assert_eq!(ge, Ok(Value::Bool(false)));
    }

    #[test]
    fn mixed_kinds_and_arity_are_errors() {
        assert!(lt(Value::Int(1), Value::Float(1.5))
            .unwrap_err()
            .contains("incompatible types"));
        assert!(lt(Value::Bool(true), Value::Bool(false))
            .unwrap_err()
            .contains("invalid type"));
        assert!(compare(&[Value::Int(1)], Compare::Lt).is_err());
    }
}
