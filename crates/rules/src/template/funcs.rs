//! The functions a Prometheus template can call, registered with `gotmpl`: Go's
//! built-ins (`printf`, `len`, `index`, ...: `gotmpl` has them; `lt`, `le`, `gt`,
//! `ge` are replaced, see `compare.rs`, and `printf` wrapped, see `printf.rs`) plus
//! Prometheus' own.
//!
//! Query results are Go's `[]*sample` shape: a list of maps with `Labels` (a map of
//! strings) and `Value` (a float), so `{{ range query "up" }}{{ .Labels.job }}` and
//! `{{ query "up" | first | value }}` work as in Prometheus.
//!
//! `query` runs through a channel: `gotmpl` functions must be `Send + Sync +
//! 'static`, while the caller's query function borrows its engine. When a template
//! calls `query`, `expand` executes it on a scoped thread and answers the requests
//! on its own (see `template.rs`).

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};

use gotmpl::{FuncMap, TemplateError as GoError, Value};
use regex::Regex;

use super::compare::{compare, Compare};
use super::goformat::format_v;
use super::humanize::{self, to_float};
use super::printf;
use super::text;
use super::tree::PRINT_FUNC;

/// A query sent from the template thread, with where to send the answer.
pub(crate) struct QueryRequest {
    /// The PromQL text.
    pub(crate) query: String,
    /// Where the result goes.
    pub(crate) reply: mpsc::Sender<Result<Vec<tally_promql::VectorSample>, String>>,
}

/// What the functions need from the expansion.
pub(crate) struct FuncContext {
    /// `externalURL`, and `pathPrefix` from it.
    pub(crate) external_url: String,
    /// `now`, in milliseconds.
    pub(crate) time_ms: i64,
    /// Where `query` sends its requests; `None`: `query` is an error.
    pub(crate) queries: Option<mpsc::Sender<QueryRequest>>,
}

/// Go's `text/template` built-ins.
const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Prometheus' template functions.
const PROMETHEUS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "parseDuration",
    "pathPrefix",
    "externalURL",
    "now",
    "stripPort",
    "stripDomain",
];

/// Whether a template may call `name`.
pub(crate) fn is_defined(name: &str) -> bool {
    GO_BUILTINS.contains(&name) || PROMETHEUS.contains(&name) || name == PRINT_FUNC
}

type Func = Box<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// Prometheus' functions (and the printing one) for one expansion.
pub(crate) fn functions(ctx: FuncContext) -> FuncMap {
    let mut map: BTreeMap<&'static str, Func> = BTreeMap::new();
    map.insert(PRINT_FUNC, Box::new(|a| Ok(go_print(one(a)?).into())));
    map.insert("printf", Box::new(printf::printf));
    map.insert("lt", Box::new(|a| compare(a, Compare::Lt)));
    map.insert("le", Box::new(|a| compare(a, Compare::Le)));
    map.insert("gt", Box::new(|a| compare(a, Compare::Gt)));
    map.insert("ge", Box::new(|a| compare(a, Compare::Ge)));
    numbers(&mut map, ctx.time_ms);
    strings(&mut map);
    samples(&mut map);
    let url = ctx.external_url;
    let prefix = text::url_path(&url);
    map.insert("externalURL", Box::new(move |a| nullary(a, &url)));
    map.insert("pathPrefix", Box::new(move |a| nullary(a, &prefix)));
    let queries = ctx.queries.map(Mutex::new);
    map.insert(
        "query",
        Box::new(move |a| {
            let q = string(one(a)?)?;
            let Some(queries) = &queries else {
                return Err("query is not available in this context".to_owned());
            };
            run_query(queries, q)
        }),
    );
    map.into_iter()
        .map(|(name, f)| {
            let wrapped: gotmpl::ValueFunc = Arc::new(move |args: &[Value]| {
                f(args).map_err(|m| GoError::Exec(format!("error calling {name}: {m}")))
            });
            (name.to_owned(), wrapped)
        })
        .collect()
}

fn numbers(map: &mut BTreeMap<&'static str, Func>, time_ms: i64) {
    fn float_fn(f: fn(f64) -> String) -> Func {
        Box::new(move |a| Ok(f(to_float(one(a)?)?).into()))
    }
    map.insert("humanize", float_fn(humanize::humanize));
    map.insert("humanize1024", float_fn(humanize::humanize1024));
    map.insert("humanizeDuration", float_fn(humanize::humanize_duration));
    map.insert(
        "humanizePercentage",
        float_fn(humanize::humanize_percentage),
    );
    map.insert(
        "humanizeTimestamp",
        Box::new(|a| Ok(humanize::humanize_timestamp(to_float(one(a)?)?)?.into())),
    );
    map.insert(
        "toTime",
        Box::new(|a| Ok(humanize::to_time(to_float(one(a)?)?)?.into())),
    );
    map.insert(
        "toDuration",
        Box::new(|a| Ok(humanize::to_duration(to_float(one(a)?)?)?.into())),
    );
    map.insert(
        "parseDuration",
        Box::new(|a| {
            Ok(Value::Float(humanize::parse_duration_seconds(string(
                one(a)?,
            )?)?))
        }),
    );
    map.insert(
        "now",
        Box::new(move |a| {
            arity(a, 0)?;
            Ok(Value::Float(time_ms as f64 / 1000.0))
        }),
    );
}

fn strings(map: &mut BTreeMap<&'static str, Func>) {
    fn string_fn(f: fn(&str) -> String) -> Func {
        Box::new(move |a| Ok(f(string(one(a)?)?).into()))
    }
    map.insert("title", string_fn(text::title));
    map.insert("toUpper", string_fn(text::to_upper));
    map.insert("toLower", string_fn(text::to_lower));
    map.insert("stripPort", string_fn(text::strip_port));
    map.insert("stripDomain", string_fn(text::strip_domain));
    map.insert("graphLink", string_fn(text::graph_link));
    map.insert("tableLink", string_fn(text::table_link));
    map.insert("safeHtml", string_fn(str::to_owned));
    map.insert(
        "match",
        Box::new(|a| {
            arity(a, 2)?;
            let re = regex(string(&a[0])?)?;
            Ok(Value::Bool(re.is_match(string(&a[1])?)))
        }),
    );
    map.insert(
        "reReplaceAll",
        Box::new(|a| {
            arity(a, 3)?;
            let re = regex(string(&a[0])?)?;
            let replaced = re.replace_all(string(&a[2])?, string(&a[1])?);
            Ok(replaced.into_owned().into())
        }),
    );
    map.insert(
        "args",
        Box::new(|a| {
            let entries: BTreeMap<Arc<str>, Value> = a
                .iter()
                .enumerate()
                .map(|(i, v)| (Arc::from(format!("arg{i}")), v.clone()))
                .collect();
            Ok(Value::Map(Arc::new(entries)))
        }),
    );
}

fn samples(map: &mut BTreeMap<&'static str, Func>) {
    map.insert(
        "first",
        Box::new(|a| match one(a)? {
            Value::List(items) => items
                .first()
                .cloned()
                .ok_or_else(|| "first() called on vector with no elements".to_owned()),
            other => Err(wrong_type("a query result", other)),
        }),
    );
    map.insert(
        "label",
        Box::new(|a| {
            arity(a, 2)?;
            let name = string(&a[0])?;
            Ok(label_of(&a[1], name)?.into())
        }),
    );
    map.insert(
        "value",
        Box::new(|a| match one(a)?.field("Value") {
            Some(v @ Value::Float(_)) => Ok(v.clone()),
            _ => Err(wrong_type("a sample", &a[0])),
        }),
    );
    map.insert(
        "strvalue",
        Box::new(|a| Ok(label_of(one(a)?, "__value__")?.into())),
    );
    map.insert(
        "sortByLabel",
        Box::new(|a| {
            arity(a, 2)?;
            let name = string(&a[0])?;
            let Value::List(items) = &a[1] else {
                return Err(wrong_type("a query result", &a[1]));
            };
            let mut keyed = items
                .iter()
                .map(|s| Ok((label_of(s, name)?, s.clone())))
                .collect::<Result<Vec<_>, String>>()?;
            keyed.sort_by(|x, y| x.0.cmp(&y.0));
            Ok(Value::List(keyed.into_iter().map(|(_, s)| s).collect()))
        }),
    );
}

/// Sends `q` to the expanding thread and waits for the result.
fn run_query(queries: &Mutex<mpsc::Sender<QueryRequest>>, q: &str) -> Result<Value, String> {
    let (reply, answer) = mpsc::channel();
    let request = QueryRequest {
        query: q.to_owned(),
        reply,
    };
    queries
        .lock()
        .map_err(|_| "query channel poisoned".to_owned())?
        .send(request)
        .map_err(|_| "query is not available in this context".to_owned())?;
    let vector = answer
        .recv()
        .map_err(|_| "query was not answered".to_owned())??;
    Ok(Value::List(vector.iter().map(sample).collect()))
}

/// One result sample as a template value: `{Labels: {...}, Value: f}`.
pub(crate) fn sample(s: &tally_promql::VectorSample) -> Value {
    let labels: BTreeMap<Arc<str>, Value> = s
        .labels
        .iter()
        .map(|(k, v)| (Arc::from(k), Value::from(v)))
        .collect();
    let entries: BTreeMap<Arc<str>, Value> = [
        (Arc::from("Labels"), Value::Map(Arc::new(labels))),
        (Arc::from("Value"), Value::Float(s.value)),
    ]
    .into_iter()
    .collect();
    Value::Map(Arc::new(entries))
}

fn label_of(sample: &Value, name: &str) -> Result<String, String> {
    match sample.field("Labels") {
        Some(Value::Map(labels)) => Ok(labels
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()),
        _ => Err(wrong_type("a sample", sample)),
    }
}

fn regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("error parsing regexp: {e}"))
}

fn nullary(a: &[Value], out: &str) -> Result<Value, String> {
    arity(a, 0)?;
    Ok(out.into())
}

fn arity(a: &[Value], n: usize) -> Result<(), String> {
    if a.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", a.len()))
    }
}

fn one(a: &[Value]) -> Result<&Value, String> {
    arity(a, 1)?;
    Ok(&a[0])
}

fn string(v: &Value) -> Result<&str, String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

fn wrong_type(expected: &str, got: &Value) -> String {
    format!(
        "wrong type for value; expected {expected}; got {}",
        got.type_name()
    )
}

/// A value as Go's `fmt.Sprint` writes it in a template's output; nil (a missing
/// label) prints as nothing, as a missing key of Go's `map[string]string` does.
pub(crate) fn go_print(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Float(f) => format_v(*f),
        Value::String(s) => s.to_string(),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(go_print).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Map(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
        other => other.to_string(),
    }
}
