//! The evaluation plan: `promql-parser`'s syntax tree turned into what the evaluator
//! wants. Matchers are compiled once, string literals unescaped (the parser leaves
//! escapes as written), times and durations converted to milliseconds, operators and
//! aggregations mapped to enums, and every call given its position in the query text.

mod text;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use promql_parser::label::MatchOp as ParserMatchOp;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{
    AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};
use tally_storage::{MatchOp, Matcher};

use crate::error::QueryError;
use text::{argument_offsets, scan, Scan};

pub(crate) use text::{go_quote, unescape};

/// A fixed evaluation time from the `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// `@ <seconds>`, in milliseconds.
    Time(i64),
    /// `@ start()`: the query's start.
    Start,
    /// `@ end()`: the query's end.
    End,
}

/// A series selector: the matcher alternatives (`or` in braces gives several), with
/// the metric name as an `__name__` matcher in each.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub alternatives: Vec<Vec<Matcher>>,
    pub offset_ms: i64,
    pub at: Option<At>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    fn from_token(id: TokenId) -> Option<Self> {
        Some(match id {
            token::T_ADD => BinOp::Add,
            token::T_SUB => BinOp::Sub,
            token::T_MUL => BinOp::Mul,
            token::T_DIV => BinOp::Div,
            token::T_MOD => BinOp::Mod,
            token::T_POW => BinOp::Pow,
            token::T_ATAN2 => BinOp::Atan2,
            token::T_EQLC => BinOp::Eq,
            token::T_NEQ => BinOp::Ne,
            token::T_GTR => BinOp::Gt,
            token::T_LSS => BinOp::Lt,
            token::T_GTE => BinOp::Ge,
            token::T_LTE => BinOp::Le,
            token::T_LAND => BinOp::And,
            token::T_LOR => BinOp::Or,
            token::T_LUNLESS => BinOp::Unless,
            _ => return None,
        })
    }

    /// `==`, `!=`, `>`, `<`, `>=`, `<=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    /// `and`, `or`, `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// Which series of the two sides of a binary operation belong together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on`/`ignoring` and `group_left`/`group_right` of a binary operation.
#[derive(Debug, Clone)]
pub(crate) struct Matching {
    pub card: Cardinality,
    /// `on(...)` when true, `ignoring(...)` (or nothing) when false.
    pub on: bool,
    pub labels: Vec<String>,
    /// Labels `group_x(...)` copies from the "one" side.
    pub include: Vec<String>,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
}

impl AggOp {
    fn from_token(id: TokenId) -> Option<Self> {
        Some(match id {
            token::T_SUM => AggOp::Sum,
            token::T_AVG => AggOp::Avg,
            token::T_COUNT => AggOp::Count,
            token::T_MIN => AggOp::Min,
            token::T_MAX => AggOp::Max,
            token::T_GROUP => AggOp::Group,
            token::T_STDDEV => AggOp::Stddev,
            token::T_STDVAR => AggOp::Stdvar,
            token::T_TOPK => AggOp::Topk,
            token::T_BOTTOMK => AggOp::Bottomk,
            token::T_COUNT_VALUES => AggOp::CountValues,
            token::T_QUANTILE => AggOp::Quantile,
            _ => return None,
        })
    }
}

/// `by (...)` / `without (...)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

/// A string literal: its bytes after unescaping (Go strings may hold invalid UTF-8).
#[derive(Debug, Clone)]
pub(crate) struct StringLit {
    pub bytes: Vec<u8>,
}

impl StringLit {
    /// The value as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Whether the bytes are valid UTF-8 (and so a valid label name when not empty).
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.bytes).is_ok()
    }
}

/// One node of the plan.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Number(f64),
    String(StringLit),
    Selector(Selector),
    Matrix {
        sel: Selector,
        range_ms: i64,
    },
    Subquery {
        expr: Box<Node>,
        range_ms: i64,
        step_ms: Option<i64>,
        offset_ms: i64,
        at: Option<At>,
    },
    Neg(Box<Node>),
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        matching: Matching,
        return_bool: bool,
    },
    Aggregate {
        op: AggOp,
        expr: Box<Node>,
        param: Option<Box<Node>>,
        grouping: Grouping,
        param_pos: usize,
    },
    Call {
        func: &'static str,
        args: Vec<Node>,
        ret: ValueType,
        pos: usize,
        arg_pos: Vec<usize>,
    },
}

impl Node {
    /// The PromQL type this node evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Node::Number(_) => ValueType::Scalar,
            Node::String(_) => ValueType::String,
            Node::Selector(_) | Node::Aggregate { .. } => ValueType::Vector,
            Node::Matrix { .. } | Node::Subquery { .. } => ValueType::Matrix,
            Node::Neg(e) => e.value_type(),
            Node::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Node::Call { ret, .. } => *ret,
        }
    }

    /// Whether this node or any below it calls one of `names`.
    pub fn calls_any(&self, names: &[&str]) -> bool {
        let mut found = false;
        self.walk(&mut |n| {
            if let Node::Call { func, .. } = n {
                found |= names.contains(func);
            }
        });
        found
    }

    fn walk(&self, f: &mut impl FnMut(&Node)) {
        f(self);
        match self {
            Node::Subquery { expr, .. } | Node::Neg(expr) => expr.walk(f),
            Node::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            Node::Aggregate { expr, param, .. } => {
                if let Some(p) = param {
                    p.walk(f);
                }
                expr.walk(f);
            }
            Node::Call { args, .. } => args.iter().for_each(|a| a.walk(f)),
            Node::Number(_) | Node::String(_) | Node::Selector(_) | Node::Matrix { .. } => {}
        }
    }

    /// A copy where every selector and subquery without `@` gets `@ at_ms`; the insides
    /// of subqueries are left alone. (The conformance runner's `@` variants.)
    pub fn pinned_at(&self, at_ms: i64) -> Node {
        let pin = |at: &Option<At>| Some(at.unwrap_or(At::Time(at_ms)));
        match self {
            Node::Selector(s) => Node::Selector(Selector {
                at: pin(&s.at),
                ..s.clone()
            }),
            Node::Matrix { sel, range_ms } => Node::Matrix {
                sel: Selector {
                    at: pin(&sel.at),
                    ..sel.clone()
                },
                range_ms: *range_ms,
            },
            Node::Subquery {
                expr,
                range_ms,
                step_ms,
                offset_ms,
                at,
            } => Node::Subquery {
                expr: expr.clone(),
                range_ms: *range_ms,
                step_ms: *step_ms,
                offset_ms: *offset_ms,
                at: pin(at),
            },
            Node::Neg(e) => Node::Neg(Box::new(e.pinned_at(at_ms))),
            Node::Binary {
                op,
                lhs,
                rhs,
                matching,
                return_bool,
            } => Node::Binary {
                op: *op,
                lhs: Box::new(lhs.pinned_at(at_ms)),
                rhs: Box::new(rhs.pinned_at(at_ms)),
                matching: matching.clone(),
                return_bool: *return_bool,
            },
            Node::Aggregate {
                op,
                expr,
                param,
                grouping,
                param_pos,
            } => Node::Aggregate {
                op: *op,
                expr: Box::new(expr.pinned_at(at_ms)),
                param: param.as_ref().map(|p| Box::new(p.pinned_at(at_ms))),
                grouping: grouping.clone(),
                param_pos: *param_pos,
            },
            Node::Call {
                func,
                args,
                ret,
                pos,
                arg_pos,
            } => Node::Call {
                func,
                args: args.iter().map(|a| a.pinned_at(at_ms)).collect(),
                ret: *ret,
                pos: *pos,
                arg_pos: arg_pos.clone(),
            },
            Node::Number(_) | Node::String(_) => self.clone(),
        }
    }
}

/// Functions the parser knows that current Prometheus no longer has.
const REMOVED_FUNCTIONS: &[&str] = &["holt_winters"];

/// Turns a parsed expression into a plan; `text` is the query it was parsed from.
pub(crate) fn plan(text: &str, expr: &Expr) -> Result<Node, QueryError> {
    let scan = scan(text);
    let mut calls: HashMap<String, Vec<usize>> = HashMap::new();
    for c in &scan.calls {
        calls.entry(c.name.clone()).or_default().push(c.offset);
    }
    let mut p = Planner {
        text,
        scan,
        next_string: 0,
        calls,
        seen_calls: HashMap::new(),
    };
    p.node(expr)
}

struct Planner<'a> {
    text: &'a str,
    scan: Scan,
    next_string: usize,
    calls: HashMap<String, Vec<usize>>,
    seen_calls: HashMap<String, usize>,
}

/// The largest duration, offset or `@` time a query may name, in milliseconds (2^53,
/// about 285,000 years; Prometheus' own durations end at 292 years). Bounding them keeps
/// every time computed from them far from `i64`'s limits.
pub(crate) const MAX_TIME_MS: i64 = 1 << 53;

fn millis(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A range or step, refused past [`MAX_TIME_MS`].
fn span_ms(d: &Duration, what: &str) -> Result<i64, QueryError> {
    let ms = millis(d);
    if ms > MAX_TIME_MS {
        return Err(parse_err(format!(
            "{what} {}s is out of range",
            d.as_secs()
        )));
    }
    Ok(ms)
}

fn offset_ms(o: &Option<Offset>) -> Result<i64, QueryError> {
    Ok(match o {
        None => 0,
        Some(Offset::Pos(d)) => span_ms(d, "offset")?,
        Some(Offset::Neg(d)) => -span_ms(d, "offset")?,
    })
}

fn at(a: &Option<AtModifier>) -> Result<Option<At>, QueryError> {
    a.as_ref()
        .map(|a| match a {
            AtModifier::Start => Ok(At::Start),
            AtModifier::End => Ok(At::End),
            AtModifier::At(t) => {
                let ms = system_time_ms(*t);
                if ms.abs() > MAX_TIME_MS {
                    return Err(parse_err(format!(
                        "timestamp out of bounds for @ modifier: {}",
                        ms / 1000
                    )));
                }
                Ok(At::Time(ms))
            }
        })
        .transpose()
}

/// Milliseconds since the epoch, negative before it.
pub(crate) fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => millis(&d),
        Err(e) => -millis(&e.duration()),
    }
}

fn parse_err(message: String) -> QueryError {
    QueryError::Parse {
        message,
        position: None,
    }
}

impl Planner<'_> {
    /// The next string literal of the text, unescaped; `raw` is the parser's value, used
    /// to stay in step with the text.
    fn string(&mut self, raw: &str) -> Vec<u8> {
        let tokens = &self.scan.strings;
        if let Some(k) = tokens[self.next_string.min(tokens.len())..]
            .iter()
            .position(|t| t.raw == raw)
        {
            let t = &tokens[self.next_string + k];
            self.next_string += k + 1;
            return text::unescape(&t.raw, t.quote);
        }
        text::unescape(raw, '"')
    }

    /// The offset of the next call to `name` in the text (0 when not found).
    fn call_offset(&mut self, name: &str) -> usize {
        let n = self.seen_calls.entry(name.to_owned()).or_insert(0);
        let off = self
            .calls
            .get(name)
            .and_then(|v| v.get(*n))
            .copied()
            .unwrap_or(0);
        *n += 1;
        off
    }

    fn selector(&mut self, vs: &VectorSelector) -> Result<Selector, QueryError> {
        let mut groups: Vec<&Vec<promql_parser::label::Matcher>> = Vec::new();
        if !vs.matchers.matchers.is_empty() || vs.matchers.or_matchers.is_empty() {
            groups.push(&vs.matchers.matchers);
        }
        groups.extend(vs.matchers.or_matchers.iter());
        let mut alternatives = Vec::new();
        for group in groups {
            let mut ms = Vec::new();
            if let Some(name) = &vs.name {
                ms.push(Matcher::metric_name(name));
            }
            for m in group {
                let op = match m.op {
                    ParserMatchOp::Equal => MatchOp::Equal,
                    ParserMatchOp::NotEqual => MatchOp::NotEqual,
                    ParserMatchOp::Re(_) => MatchOp::Regex,
                    ParserMatchOp::NotRe(_) => MatchOp::NotRegex,
                };
                let value = String::from_utf8_lossy(&self.string(&m.value)).into_owned();
                let matcher =
                    Matcher::new(op, &m.name, &value).map_err(|e| parse_err(e.to_string()))?;
                ms.push(matcher);
            }
            alternatives.push(ms);
        }
        Ok(Selector {
            alternatives,
            offset_ms: offset_ms(&vs.offset)?,
            at: at(&vs.at)?,
        })
    }

    fn node(&mut self, e: &Expr) -> Result<Node, QueryError> {
        Ok(match e {
            Expr::NumberLiteral(n) => Node::Number(n.val),
            Expr::StringLiteral(s) => Node::String(StringLit {
                bytes: self.string(&s.val),
            }),
            Expr::Paren(p) => self.node(&p.expr)?,
            Expr::Unary(u) => Node::Neg(Box::new(self.node(&u.expr)?)),
            Expr::VectorSelector(vs) => Node::Selector(self.selector(vs)?),
            Expr::MatrixSelector(ms) => Node::Matrix {
                sel: self.selector(&ms.vs)?,
                range_ms: span_ms(&ms.range, "range")?,
            },
            Expr::Subquery(sq) => Node::Subquery {
                expr: Box::new(self.node(&sq.expr)?),
                range_ms: span_ms(&sq.range, "subquery range")?,
                step_ms: sq
                    .step
                    .as_ref()
                    .map(|d| span_ms(d, "subquery step"))
                    .transpose()?,
                offset_ms: offset_ms(&sq.offset)?,
                at: at(&sq.at)?,
            },
            Expr::Binary(b) => {
                let op = BinOp::from_token(b.op.id())
                    .ok_or_else(|| parse_err(format!("unsupported binary operator {}", b.op)))?;
                let lhs = Box::new(self.node(&b.lhs)?);
                let rhs = Box::new(self.node(&b.rhs)?);
                let (matching, return_bool) = match &b.modifier {
                    None => (
                        Matching {
                            card: if op.is_set() {
                                Cardinality::ManyToMany
                            } else {
                                Cardinality::OneToOne
                            },
                            on: false,
                            labels: Vec::new(),
                            include: Vec::new(),
                        },
                        false,
                    ),
                    Some(m) => {
                        let (card, include) = match &m.card {
                            VectorMatchCardinality::OneToOne if op.is_set() => {
                                (Cardinality::ManyToMany, Vec::new())
                            }
                            VectorMatchCardinality::OneToOne => (Cardinality::OneToOne, Vec::new()),
                            VectorMatchCardinality::ManyToMany => {
                                (Cardinality::ManyToMany, Vec::new())
                            }
                            VectorMatchCardinality::ManyToOne(l) => {
                                (Cardinality::ManyToOne, l.labels.clone())
                            }
                            VectorMatchCardinality::OneToMany(l) => {
                                (Cardinality::OneToMany, l.labels.clone())
                            }
                        };
                        let (on, labels) = match &m.matching {
                            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
                            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
                            None => (false, Vec::new()),
                        };
                        (
                            Matching {
                                card,
                                on,
                                labels,
                                include,
                            },
                            m.return_bool,
                        )
                    }
                };
                Node::Binary {
                    op,
                    lhs,
                    rhs,
                    matching,
                    return_bool,
                }
            }
            Expr::Aggregate(a) => {
                let op = AggOp::from_token(a.op.id())
                    .ok_or_else(|| parse_err(format!("unsupported aggregation {}", a.op)))?;
                let offset = self.call_offset(&a.op.to_string().to_ascii_lowercase());
                let param_pos = argument_offsets(self.text, offset)
                    .first()
                    .copied()
                    .unwrap_or(offset);
                let param = match &a.param {
                    Some(p) => Some(Box::new(self.node(p)?)),
                    None => None,
                };
                let expr = Box::new(self.node(&a.expr)?);
                let grouping = match &a.modifier {
                    None => Grouping::default(),
                    Some(LabelModifier::Include(l)) => Grouping {
                        without: false,
                        labels: l.labels.clone(),
                    },
                    Some(LabelModifier::Exclude(l)) => Grouping {
                        without: true,
                        labels: l.labels.clone(),
                    },
                };
                Node::Aggregate {
                    op,
                    expr,
                    param,
                    grouping,
                    param_pos,
                }
            }
            Expr::Call(c) => {
                let func = c.func.name;
                if REMOVED_FUNCTIONS.contains(&func) {
                    return Err(parse_err(format!("unknown function with name {func:?}")));
                }
                let pos = self.call_offset(func);
                let arg_pos = argument_offsets(self.text, pos);
                let args = c
                    .args
                    .args
                    .iter()
                    .map(|a| self.node(a))
                    .collect::<Result<Vec<_>, _>>()?;
                Node::Call {
                    func,
                    args,
                    ret: c.func.return_type,
                    pos,
                    arg_pos,
                }
            }
            Expr::Extension(_) => {
                return Err(QueryError::Unsupported(
                    "extension expressions are not supported".to_owned(),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(q: &str) -> Node {
        let e = promql_parser::parser::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        plan(q, &e).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn strings_are_unescaped_by_their_quotes() {
        let n = plan_of(r#"foo{a="x\"y\\z", b=~'\\d+', c=`z`}"#);
        let Node::Selector(s) = n else { panic!() };
        let values: Vec<_> = s.alternatives[0].iter().map(|m| m.value.clone()).collect();
        assert_eq!(values, ["foo", "x\"y\\z", r"\d+", "z"]);
    }

    #[test]
    fn calls_know_their_argument_positions() {
        let n = plan_of("sum(sort(x)) + histogram_quantile(0.5, y)");
        let Node::Binary { lhs, rhs, .. } = n else {
            panic!()
        };
        let Node::Aggregate { expr, .. } = *lhs else {
            panic!()
        };
        assert!(matches!(*expr, Node::Call { pos: 4, .. }));
        let Node::Call { arg_pos, .. } = *rhs else {
            panic!()
        };
        assert_eq!(arg_pos, vec![34, 39]);
    }

    #[test]
    fn times_in_milliseconds() {
        let n = plan_of("foo offset -1m @ 100.5");
        let Node::Selector(s) = n else { panic!() };
        assert_eq!(s.offset_ms, -60_000);
        assert_eq!(s.at, Some(At::Time(100_500)));
    }
}
