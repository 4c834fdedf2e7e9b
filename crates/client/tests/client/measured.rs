//! `#[tally::measured]` end to end: functions, methods and futures are measured into
//! `tally::default_registry()`, read back from its text exposition.
//!
//! Every test in this binary shares the default registry, so each test measures functions
//! of its own names. Module-level functions have `module="client::measured"` (this module).

use std::error::Error;
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tally::measured;

// --- Helpers -------------------------------------------------------------------------------

/// The value of the series `series` (`name{labels}`, labels sorted) in the default
/// registry's exposition, or `None` if it is not there.
fn sample(series: &str) -> Option<f64> {
    let text = tally::default_registry().encode_text();
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// The exposition lines that mention `function`, for failure messages.
fn lines_of(function: &str) -> String {
    let needle = format!("function=\"{function}\"");
    let text = tally::default_registry().encode_text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&needle)).collect();
    if lines.is_empty() {
        format!("(no series with {needle})")
    } else {
        lines.join("\n")
    }
}

/// What the metrics say about one function: (ok calls, error calls, observed durations,
/// calls in flight).
fn stats_in(module: &str, function: &str) -> (f64, f64, f64, f64) {
    let labels = format!("function=\"{function}\",module=\"{module}\"");
    let get = |series: String| sample(&series).unwrap_or(f64::NAN);
    (
        get(format!("function_calls_total{{{labels},result=\"ok\"}}")),
        get(format!("function_calls_total{{{labels},result=\"error\"}}")),
        get(format!("function_calls_duration_seconds_count{{{labels}}}")),
        get(format!("function_calls_concurrent{{{labels}}}")),
    )
}

/// Asserts the stats of `function` (in module `measured` unless given), printing its
/// exposition lines when they differ.
macro_rules! assert_calls {
    ($function:expr, ok = $ok:expr, error = $error:expr, in_flight = $in_flight:expr) => {
        assert_calls!(
            "client::measured",
            $function,
            ok = $ok,
            error = $error,
            in_flight = $in_flight
        )
    };
    ($module:expr, $function:expr, ok = $ok:expr, error = $error:expr, in_flight = $in_flight:expr) => {{
        let (ok, error, count, in_flight) = stats_in($module, $function);
        let want = (
            $ok as f64,
            $error as f64,
            ($ok + $error) as f64,
            $in_flight as f64,
        );
        assert_eq!(
            (ok, error, count, in_flight),
            want,
            "\n(ok, error, durations, in flight) of {}::{}; its series:\n{}\n",
            $module,
            $function,
            lines_of($function)
        );
    }};
}

/// Wakes nothing: the futures here are polled in a loop.
struct NoopWaker;

impl Wake for NoopWaker {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(NoopWaker));
    future.poll(&mut Context::from_waker(&waker))
}

/// Runs a future to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = Box::pin(future);
    loop {
        if let Poll::Ready(output) = poll_once(future.as_mut()) {
            return output;
        }
    }
}

/// Pending on its first poll, ready on the second.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|_| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            Poll::Pending
        }
    })
    .await
}

// --- Sync functions ------------------------------------------------------------------------

#[measured]
fn parse_number(s: &str) -> Result<u32, ParseIntError> {
    s.parse()
}

#[test]
fn ok_and_err_results_are_counted_apart() {
    assert_eq!(parse_number("7"), Ok(7));
    assert_eq!(parse_number("8"), Ok(8));
    assert!(parse_number("x").is_err());
    assert_calls!("parse_number", ok = 2, error = 1, in_flight = 0);
}

#[measured]
fn add_both(a: &str, b: &str) -> std::io::Result<u32> {
    let a: u32 = a.parse().map_err(std::io::Error::other)?;
    if a == 0 {
        return Err(std::io::Error::other("zero"));
    }
    let b: u32 = b.parse().map_err(std::io::Error::other)?;
    Ok(a + b)
}

#[test]
fn early_returns_and_question_marks_are_seen() {
    assert_eq!(add_both("1", "2").expect("both numbers"), 3);
    assert!(add_both("x", "2").is_err()); // first `?`
    assert!(add_both("0", "2").is_err()); // `return Err`
    assert!(add_both("1", "y").is_err()); // second `?`
    assert_calls!("add_both", ok = 1, error = 3, in_flight = 0);
}

#[measured]
fn maybe_first(xs: &[u8]) -> Option<u8> {
    xs.first().copied()
}

#[measured]
fn nothing() {}

#[measured]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[test]
fn other_return_types_are_always_ok() {
    assert_eq!(maybe_first(&[]), None);
    assert_eq!(maybe_first(&[3]), Some(3));
    nothing();
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_calls!("maybe_first", ok = 2, error = 0, in_flight = 0);
    assert_calls!("nothing", ok = 1, error = 0, in_flight = 0);
    assert_calls!("evens", ok = 1, error = 0, in_flight = 0);
}

#[measured]
fn explode(really: bool) -> u8 {
    if really {
        panic!("measured panic (expected by the test)");
    }
    1
}

#[measured]
fn always_panics() -> ! {
    panic!("measured panic in a `-> !` function (expected by the test)")
}

#[test]
fn panics_are_errors() {
    assert_eq!(explode(false), 1);
    assert!(std::panic::catch_unwind(|| explode(true)).is_err());
    assert!(std::panic::catch_unwind(|| always_panics()).is_err());
    assert_calls!("explode", ok = 1, error = 1, in_flight = 0);
    assert_calls!("always_panics", ok = 0, error = 1, in_flight = 0);
}

#[measured]
fn in_flight_inside() -> f64 {
    let (_, _, _, in_flight) = stats_in("client::measured", "in_flight_inside");
    in_flight
}

#[test]
fn a_call_is_in_flight_while_its_body_runs() {
    assert_eq!(in_flight_inside(), 1.0);
    assert_calls!("in_flight_inside", ok = 1, error = 0, in_flight = 0);
}

#[measured]
fn boxed_adder(n: u8) -> Box<dyn Fn(u8) -> u8> {
    Box::new(move |x| x + n)
}

#[measured]
fn parse_boxed(s: &str) -> Result<u8, Box<dyn Error + Send + Sync>> {
    if s.is_empty() {
        return Err("empty".into());
    }
    Ok(s.parse()?)
}

#[measured]
async fn boxed_adder_later(n: u8) -> Box<dyn Fn(u8) -> u8> {
    yield_now().await;
    if n == 0 {
        return Box::new(|x| x);
    }
    Box::new(move |x| x + n)
}

#[measured]
async fn parse_boxed_later(s: &str) -> Result<u8, Box<dyn Error + Send + Sync>> {
    yield_now().await;
    if s.is_empty() {
        return Err(Box::new(std::fmt::Error));
    }
    Ok(s.parse()?)
}

#[test]
fn return_values_are_coerced_as_in_the_original() {
    assert_eq!(boxed_adder(2)(3), 5);
    assert_eq!(parse_boxed("4").expect("a number"), 4);
    assert!(parse_boxed("").is_err());
    assert!(parse_boxed("z").is_err());
    assert_calls!("boxed_adder", ok = 1, error = 0, in_flight = 0);
    assert_calls!("parse_boxed", ok = 1, error = 2, in_flight = 0);

    assert_eq!(block_on(boxed_adder_later(0))(3), 3);
    assert_eq!(block_on(boxed_adder_later(2))(3), 5);
    assert_eq!(block_on(parse_boxed_later("4")).expect("a number"), 4);
    assert!(block_on(parse_boxed_later("")).is_err());
    assert!(block_on(parse_boxed_later("z")).is_err());
    assert_calls!("boxed_adder_later", ok = 2, error = 0, in_flight = 0);
    assert_calls!("parse_boxed_later", ok = 1, error = 2, in_flight = 0);
}

#[measured]
fn largest<T>(xs: &[T]) -> Option<T>
where
    T: PartialOrd + Copy,
{
    let mut best = *xs.first()?;
    for &x in xs {
        if x > best {
            best = x;
        }
    }
    Some(best)
}

#[measured]
fn sum_pair((a, b): (u8, u8), mut extra: Vec<u8>) -> u8 {
    extra.push(a + b);
    extra.iter().sum()
}

#[measured]
fn r#match(x: u8) -> bool {
    x == 1
}

#[test]
fn generics_patterns_and_raw_names() {
    assert_eq!(largest(&[1, 5, 2]), Some(5));
    assert_eq!(largest(&[0.5, -1.0]), Some(0.5));
    assert_eq!(largest::<u8>(&[]), None);
    // One series for every instantiation.
    assert_calls!("largest", ok = 3, error = 0, in_flight = 0);
    assert_eq!(sum_pair((1, 2), vec![10]), 13);
    assert_calls!("sum_pair", ok = 1, error = 0, in_flight = 0);
    assert!(r#match(1));
    assert_calls!("match", ok = 1, error = 0, in_flight = 0);
}

// `unsafe fn` must keep working under the attribute: the one unsafe thing in this crate.
#[allow(unsafe_code)]
#[measured]
unsafe fn read_byte(p: *const u8) -> u8 {
    *p
}

#[measured]
extern "C" fn c_double(x: i32) -> i32 {
    x * 2
}

#[test]
#[allow(unsafe_code)]
fn unsafe_and_extern_functions() {
    let byte = 9u8;
    // SAFETY: the pointer comes from a live reference.
    assert_eq!(unsafe { read_byte(&byte) }, 9);
    assert_eq!(c_double(21), 42);
    assert_calls!("read_byte", ok = 1, error = 0, in_flight = 0);
    assert_calls!("c_double", ok = 1, error = 0, in_flight = 0);
}

mod inner {
    /// Documented, public, measured.
    #[tally::measured]
    #[must_use]
    pub fn nested_twice(x: u32) -> u32 {
        x * 2
    }
}

#[test]
fn module_is_the_module_path() {
    assert_eq!(inner::nested_twice(2), 4);
    assert_calls!(
        "client::measured::inner",
        "nested_twice",
        ok = 1,
        error = 0,
        in_flight = 0
    );
}

// --- Async functions -----------------------------------------------------------------------

#[measured]
async fn fetch(x: u32) -> Result<u32, String> {
    yield_now().await;
    if x == 0 {
        return Err("zero".into());
    }
    let parsed: u32 = x
        .to_string()
        .parse()
        .map_err(|e: ParseIntError| e.to_string())?;
    Ok(parsed)
}

#[test]
fn async_functions_are_measured_until_they_complete() {
    assert_eq!(block_on(fetch(3)), Ok(3));
    assert_eq!(block_on(fetch(0)), Err("zero".into()));

    let mut future = Box::pin(fetch(5));
    assert!(poll_once(future.as_mut()).is_pending());
    assert_calls!("fetch", ok = 1, error = 1, in_flight = 1);
    assert_eq!(poll_once(future.as_mut()), Poll::Ready(Ok(5)));
    assert_calls!("fetch", ok = 2, error = 1, in_flight = 0);
}

#[measured]
async fn slow_job() -> u32 {
    yield_now().await;
    1
}

#[test]
fn a_cancelled_future_is_an_error_and_leaves_no_call_in_flight() {
    // Never polled: the call never started, nothing is recorded.
    drop(slow_job());
    assert_eq!(
        sample(r#"function_calls_concurrent{function="slow_job",module="client::measured"}"#),
        None
    );

    // Polled once, then dropped: in flight, then one error.
    let mut future = Box::pin(slow_job());
    assert!(poll_once(future.as_mut()).is_pending());
    assert_calls!("slow_job", ok = 0, error = 0, in_flight = 1);
    drop(future);
    assert_calls!("slow_job", ok = 0, error = 1, in_flight = 0);

    assert_eq!(block_on(slow_job()), 1);
    assert_calls!("slow_job", ok = 1, error = 1, in_flight = 0);
}

#[test]
fn measured_futures_stay_send() {
    fn assert_send<T: Send>(value: T) -> T {
        value
    }
    // Not polled: nothing is recorded.
    drop(assert_send(fetch(1)));
    let account = Account {
        owner: String::new(),
        balance: 0,
    };
    drop(assert_send(account.audit_owned()));
}

#[measured]
async fn async_panics() -> u8 {
    yield_now().await;
    panic!("measured async panic (expected by the test)")
}

#[test]
fn a_panicking_future_is_an_error() {
    assert!(std::panic::catch_unwind(|| block_on(async_panics())).is_err());
    assert_calls!("async_panics", ok = 0, error = 1, in_flight = 0);
}

// --- Impl blocks ---------------------------------------------------------------------------

struct Account {
    owner: String,
    balance: u64,
}

#[measured]
impl Account {
    /// Opens an account.
    fn open(owner: &str) -> Self {
        Self {
            owner: owner.to_owned(),
            balance: 0,
        }
    }

    fn deposit(&mut self, amount: u64) -> Result<u64, String> {
        if amount == 0 {
            return Err("nothing to deposit".into());
        }
        self.balance += amount;
        Ok(self.balance)
    }

    fn owner(&self) -> &str {
        &self.owner
    }

    fn balance_mut(&mut self) -> &mut u64 {
        &mut self.balance
    }

    #[measured(skip)]
    fn balance(&self) -> u64 {
        self.balance
    }

    async fn audit(&self) -> bool {
        yield_now().await;
        self.balance < 1_000
    }

    async fn owner_later(&self) -> &str {
        yield_now().await;
        &self.owner
    }

    async fn audit_owned(self) -> bool {
        self.audit().await
    }

    fn close(self) -> u64 {
        self.balance
    }

    const LIMIT: u64 = 1_000;
}

#[test]
fn impl_blocks_measure_every_method_but_skipped_ones() {
    let mut account = Account::open("ada");
    assert_eq!(account.deposit(5), Ok(5));
    assert!(account.deposit(0).is_err());
    assert_eq!(account.owner(), "ada");
    *account.balance_mut() += 1;
    assert_eq!(account.balance(), 6);
    assert!(block_on(account.audit()));
    assert_eq!(block_on(account.owner_later()), "ada");
    assert!(Account::LIMIT > account.balance());
    assert_eq!(account.close(), 6);

    assert_calls!("open", ok = 1, error = 0, in_flight = 0);
    assert_calls!("deposit", ok = 1, error = 1, in_flight = 0);
    assert_calls!("owner", ok = 1, error = 0, in_flight = 0);
    assert_calls!("balance_mut", ok = 1, error = 0, in_flight = 0);
    assert_calls!("audit", ok = 1, error = 0, in_flight = 0);
    assert_calls!("owner_later", ok = 1, error = 0, in_flight = 0);
    assert_calls!("close", ok = 1, error = 0, in_flight = 0);
    assert_eq!(lines_of("balance"), "(no series with function=\"balance\")");
}

struct Stack<T> {
    items: Vec<T>,
}

#[measured]
impl<T: Clone> Stack<T>
where
    T: Send,
{
    fn push_item(&mut self, item: T) -> &mut Self {
        self.items.push(item);
        self
    }

    fn peek_item(&self) -> Option<&T> {
        self.items.last()
    }

    fn pop_item(&mut self) -> Result<T, &'static str> {
        self.items.pop().ok_or("empty")
    }
}

struct Countdown(u8);

#[measured]
impl Iterator for Countdown {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        self.0 = self.0.checked_sub(1)?;
        Some(self.0)
    }
}

#[measured]
impl std::fmt::Display for Countdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "T-{}", self.0)
    }
}

#[test]
fn generic_and_trait_impls() {
    let mut stack = Stack { items: Vec::new() };
    stack.push_item(1).push_item(2);
    assert_eq!(stack.peek_item(), Some(&2));
    assert_eq!(stack.pop_item(), Ok(2));
    assert_eq!(stack.pop_item(), Ok(1));
    assert!(stack.pop_item().is_err());
    assert_calls!("push_item", ok = 2, error = 0, in_flight = 0);
    assert_calls!("peek_item", ok = 1, error = 0, in_flight = 0);
    assert_calls!("pop_item", ok = 2, error = 1, in_flight = 0);

    assert_eq!(Countdown(2).collect::<Vec<_>>(), [1, 0]);
    assert_calls!("next", ok = 3, error = 0, in_flight = 0);
    assert_eq!(Countdown(3).to_string(), "T-3");
    assert_calls!("fmt", ok = 1, error = 0, in_flight = 0);
}

// --- The exposition ------------------------------------------------------------------------

#[measured]
fn exposed() {}

#[test]
fn the_three_families_are_exposed_with_autometrics_names() {
    exposed();
    let text = tally::default_registry().encode_text();
    for expected in [
        "# TYPE function_calls_total counter",
        "# TYPE function_calls_duration_seconds histogram",
        "# TYPE function_calls_concurrent gauge",
        r#"function_calls_total{function="exposed",module="client::measured",result="ok"} 1"#,
        r#"function_calls_total{function="exposed",module="client::measured",result="error"} 0"#,
        r#"function_calls_duration_seconds_bucket{function="exposed",module="client::measured",le="0.005"} "#,
        r#"function_calls_duration_seconds_bucket{function="exposed",module="client::measured",le="0.075"} "#,
        r#"function_calls_duration_seconds_bucket{function="exposed",module="client::measured",le="7.5"} 1"#,
        r#"function_calls_duration_seconds_bucket{function="exposed",module="client::measured",le="+Inf"} 1"#,
        r#"function_calls_duration_seconds_count{function="exposed",module="client::measured"} 1"#,
        r#"function_calls_concurrent{function="exposed",module="client::measured"} 0"#,
    ] {
        assert!(
            text.contains(expected),
            "missing {expected:?}; series of `exposed`:\n{}",
            lines_of("exposed")
        );
    }
}
