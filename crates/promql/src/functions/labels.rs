//! `label_replace` and `label_join`: rewriting a label of every series.

use regex::Regex;

use crate::error::QueryError;
use crate::eval::{merge_same_labels, Evaluator, Mat};
use crate::plan::{Node, StringLit};

fn string_arg(node: &Node) -> StringLit {
    match node {
        Node::String(s) => s.clone(),
        _ => StringLit { bytes: Vec::new() },
    }
}

/// A label name is any non-empty UTF-8 string (Prometheus 3's UTF-8 names).
fn valid_label_name(s: &StringLit) -> bool {
    !s.bytes.is_empty() && s.is_utf8()
}

impl Evaluator<'_> {
    /// Sets `dst` on every series to what `f` says (empty removes it) and merges series
    /// that end up alike. Writing `__name__` keeps the name to the end.
    fn relabel(
        &mut self,
        input: &Node,
        dst: &str,
        f: impl Fn(&tally_model::Labels) -> Option<String>,
    ) -> Result<Mat, QueryError> {
        let mut m = self.eval_mat(input)?;
        for s in &mut m {
            if let Some(v) = f(&s.labels) {
                s.labels = s
                    .labels
                    .with(dst, &v)
                    .map_err(|e| QueryError::InvalidArgument(e.to_string()))?;
                if dst == "__name__" {
                    s.drop_name = false;
                }
            }
        }
        merge_same_labels(m)
    }

    /// `label_replace(v, dst, replacement, src, regex)`.
    pub(crate) fn eval_label_replace(&mut self, args: &[Node]) -> Result<Mat, QueryError> {
        let dst = string_arg(&args[1]);
        let repl = string_arg(&args[2]).text();
        let src = string_arg(&args[3]).text();
        let pattern = string_arg(&args[4]).text();
        let re = Regex::new(&format!("^(?s:{pattern})$")).map_err(|_| {
            QueryError::InvalidArgument(format!(
                "invalid regular expression in label_replace(): {pattern}"
            ))
        })?;
        if !valid_label_name(&dst) {
            return Err(QueryError::InvalidArgument(format!(
                "invalid destination label name in label_replace(): {}",
                dst.text()
            )));
        }
        let dst = dst.text();
        self.relabel(&args[0], &dst, |labels| {
            let value = labels.get(&src).unwrap_or("");
            let caps = re.captures(value)?;
            let mut out = String::new();
            caps.expand(&repl, &mut out);
            Some(out)
        })
    }

    /// `label_join(v, dst, separator, src...)`.
    pub(crate) fn eval_label_join(&mut self, args: &[Node]) -> Result<Mat, QueryError> {
        let dst = string_arg(&args[1]);
        let sep = string_arg(&args[2]).text();
        let mut srcs = Vec::new();
        for a in &args[3..] {
            let s = string_arg(a);
            if !valid_label_name(&s) {
                return Err(QueryError::InvalidArgument(format!(
                    "invalid source label name in label_join(): {}",
                    s.text()
                )));
            }
            srcs.push(s.text());
        }
        if !valid_label_name(&dst) {
            return Err(QueryError::InvalidArgument(format!(
                "invalid destination label name in label_join(): {}",
                dst.text()
            )));
        }
        let dst = dst.text();
        self.relabel(&args[0], &dst, |labels| {
            let values: Vec<&str> = srcs.iter().map(|s| labels.get(s).unwrap_or("")).collect();
            Some(values.join(&sep))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::eval::test_support::{instant, store};
    use crate::value::Value;

    #[test]
    fn replace_join_and_their_errors() {
        let db = store(&[
            (&[("__name__", "m"), ("src", "a-1")], &[(0, 1.0)]),
            (&[("__name__", "m"), ("src", "b-2")], &[(0, 2.0)]),
        ]);
        let Value::Vector(v) = instant(
            &db,
            r#"label_replace(m, "dst", "$2:$1", "src", "(.)-(.)")"#,
            0,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(v[0].labels.get("dst"), Some("1:a"));
        let Value::Vector(v) = instant(&db, r#"label_join(m, "j", "/", "src", "src")"#, 0).unwrap()
        else {
            panic!()
        };
        assert_eq!(v[1].labels.get("j"), Some("b-2/b-2"));
        let e = instant(&db, r#"label_replace(m, "d", "x", "src", "(")"#, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid regular expression in label_replace(): ("
        );
        // Overwriting the distinguishing label makes the two series one.
        let e = instant(&db, r#"label_replace(m, "src", "same", "src", ".*")"#, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "vector cannot contain metrics with the same labelset"
        );
    }
}
