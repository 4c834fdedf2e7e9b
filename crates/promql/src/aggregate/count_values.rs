//! `count_values(label, v)`: how many samples have each value, the value written into
//! a label.

use std::collections::HashMap;

use tally_model::Labels;

use crate::error::QueryError;
use crate::eval::step::{Assembler, Out, StepInput};
use crate::eval::{Evaluator, Mat};
use crate::plan::{go_quote, Grouping, Node};
use crate::value::format_float;

use super::group_labels;

impl Evaluator<'_> {
    /// Evaluates `count_values`.
    pub(crate) fn eval_count_values(
        &mut self,
        expr: &Node,
        param: Option<&Node>,
        grouping: &Grouping,
    ) -> Result<Mat, QueryError> {
        let label = match param {
            Some(Node::String(s)) => s.clone(),
            _ => {
                return Err(QueryError::InvalidArgument(
                    "count_values needs a label name".to_owned(),
                ))
            }
        };
        if label.bytes.is_empty() || !label.is_utf8() {
            return Err(QueryError::InvalidArgument(format!(
                "invalid label name {}",
                go_quote(&label.bytes)
            )));
        }
        let label = label.text();
        let mut grouping = grouping.clone();
        if !grouping.without {
            grouping.labels.push(label.clone());
        }
        let input = self.eval_mat(expr)?;
        let mut stepper = StepInput::new(&input);
        let mut buf = Vec::new();
        let mut out = Assembler::new();
        for t in self.steps() {
            self.check_time()?;
            stepper.gather(t, &mut buf);
            let mut counts: Vec<(Labels, f64)> = Vec::new();
            let mut index: HashMap<Labels, usize> = HashMap::new();
            for &(i, v) in &buf {
                let with_value = input[i]
                    .labels
                    .with(&label, &format_float(v))
                    .map_err(|e| QueryError::InvalidArgument(e.to_string()))?;
                let key = group_labels(&with_value, &grouping);
                match index.get(&key) {
                    Some(&g) => counts[g].1 += 1.0,
                    None => {
                        index.insert(key.clone(), counts.len());
                        counts.push((key, 1.0));
                    }
                }
            }
            for (labels, v) in counts {
                out.push(
                    t,
                    Out {
                        labels,
                        v,
                        drop_name: false,
                    },
                )?;
            }
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use crate::eval::test_support::{instant, store};
    use crate::value::Value;

    #[test]
    fn counts_each_value() {
        let db = store(&[
            (&[("__name__", "m"), ("i", "a")], &[(0, 1.0)]),
            (&[("__name__", "m"), ("i", "b")], &[(0, 1.0)]),
            (&[("__name__", "m"), ("i", "c")], &[(0, 0.5)]),
        ]);
        let Value::Vector(mut v) = instant(&db, r#"count_values("v", m)"#, 0).unwrap() else {
            panic!()
        };
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        assert_eq!(v[0].labels.get("v"), Some("0.5"));
        assert_eq!((v[0].value, v[1].value), (1.0, 2.0));
        let e = instant(&db, r#"count_values("a\xc5z", m)"#, 0).unwrap_err();
        assert_eq!(e.to_string(), r#"invalid label name "a\xc5z""#);
    }
}
