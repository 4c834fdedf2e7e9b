//! Runtime of [`#[tally::measured]`](macro@crate::measured): the function-call metrics of the
//! [autometrics v1 specification], and the guard that records one call.
//!
//! # Metrics
//!
//! All three live in [`default_registry`] (or the registry given to
//! [`FunctionMetrics::register`]):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `function_calls_total` | counter | `function`, `module`, `result` (`ok` or `error`) |
//! | `function_calls_duration_seconds` | histogram, [`FUNCTION_DURATION_BUCKETS`] | `function`, `module` |
//! | `function_calls_concurrent` | gauge | `function`, `module` |
//!
//! These are the Prometheus names and labels autometrics libraries export, so the
//! autometrics Grafana dashboards and generated alert rules query them unchanged. The
//! specification's optional labels (`caller_function`, `caller_module`, `objective_*`) are
//! not set; to Prometheus an absent label and an empty one are the same, so queries that
//! filter on them still match. `service_name` is not set either: in tally the grouping
//! key of a push (`job`, ...) says which service a series comes from.
//!
//! # Cost of a call
//!
//! [`LazyFunctionMetrics::start`] resolves the four handles once (one
//! [`Family::get`](crate::Family::get) per metric) and keeps them; after that a measured
//! call costs one `OnceLock` load, a gauge increment, two `Instant::now` readings, a
//! histogram observation, a counter increment and a gauge decrement: no hashing, no
//! locking, no allocation. The gauge is the only cache line every thread writes.
//!
//! [autometrics v1 specification]: https://github.com/autometrics-dev/autometrics-shared/blob/main/specs/autometrics_v1.0.0.md

use std::sync::OnceLock;
use std::time::Instant;

use crate::{default_registry, Counter, Family, Gauge, Histogram, Registry, RegistryError};

/// Name of the counter of calls, by `function`, `module` and `result`.
pub const FUNCTION_CALLS_TOTAL: &str = "function_calls_total";
/// Name of the histogram of call durations in seconds, by `function` and `module`.
pub const FUNCTION_CALLS_DURATION: &str = "function_calls_duration_seconds";
/// Name of the gauge of calls in flight, by `function` and `module`.
pub const FUNCTION_CALLS_CONCURRENT: &str = "function_calls_concurrent";

/// Bucket upper bounds of `function_calls_duration_seconds`, in seconds: 5 ms to 10 s.
///
/// These are the buckets the autometrics specification (v1) recommends and its libraries
/// use by default (the OpenTelemetry SDK's former defaults): Prometheus' defaults plus
/// 75 ms, 750 ms and 7.5 s. Keeping the same layout lets latency objectives written for
/// autometrics (`objective_latency_threshold` must be a bucket bound) and dashboards that
/// pick buckets by `le` work unchanged.
pub const FUNCTION_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

const CALLS_HELP: &str = "Calls of functions measured by tally (autometrics function.calls).";
const DURATION_HELP: &str =
    "Duration of calls of functions measured by tally (autometrics function.calls.duration).";
const CONCURRENT_HELP: &str =
    "Calls in flight of functions measured by tally (autometrics function.calls.concurrent).";

/// The three families, registered in one registry.
struct Families {
    calls: Family<Counter, 3>,
    duration: Family<Histogram, 2>,
    concurrent: Family<Gauge, 2>,
}

impl Families {
    fn register(registry: &Registry) -> Result<Self, RegistryError> {
        Ok(Self {
            calls: registry.counter_family(
                FUNCTION_CALLS_TOTAL,
                CALLS_HELP,
                ["function", "module", "result"],
            )?,
            duration: registry.histogram_family(
                FUNCTION_CALLS_DURATION,
                DURATION_HELP,
                ["function", "module"],
                &FUNCTION_DURATION_BUCKETS,
            )?,
            concurrent: registry.gauge_family(
                FUNCTION_CALLS_CONCURRENT,
                CONCURRENT_HELP,
                ["function", "module"],
            )?,
        })
    }

    /// The families in the default registry, registered on first use; `None` when their
    /// names are taken there by metrics of another shape.
    fn in_default_registry() -> Option<&'static Self> {
        static DEFAULT: OnceLock<Option<Families>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Self::register(default_registry()).ok())
            .as_ref()
    }

    fn resolve(&self, function: &str, module: &str) -> FunctionMetrics {
        FunctionMetrics {
            ok: self.calls.get(&[function, module, "ok"]),
            error: self.calls.get(&[function, module, "error"]),
            duration: self.duration.get(&[function, module]),
            concurrent: self.concurrent.get(&[function, module]),
        }
    }
}

/// The resolved metric handles of one function: what a measured call updates.
///
/// Resolving creates the function's series (the counters at zero), so a function shows up
/// in the exposition as soon as it is resolved, before its first call completes. Cloning
/// is shallow (four reference-count increments); clones update the same series.
#[derive(Debug, Clone)]
pub struct FunctionMetrics {
    ok: Counter,
    error: Counter,
    duration: Histogram,
    concurrent: Gauge,
}

impl FunctionMetrics {
    /// The handles for `function` in `module` in the [`default_registry`].
    ///
    /// Never fails: if the default registry already holds one of the three names as a
    /// metric of another type, labels or buckets (a programming error that
    /// [`register`](Self::register) reports), the calls are still measured, into metrics
    /// that are not exported.
    pub fn new(function: &str, module: &str) -> Self {
        match Families::in_default_registry() {
            Some(families) => families.resolve(function, module),
            None => Self::unregistered(),
        }
    }

    /// The handles for `function` in `module` in `registry`, registering the three
    /// families there on first use.
    ///
    /// Fails with [`RegistryError::Conflict`] when one of the names is registered in
    /// `registry` with another type, other labels or other buckets.
    pub fn register(
        registry: &Registry,
        function: &str,
        module: &str,
    ) -> Result<Self, RegistryError> {
        Ok(Families::register(registry)?.resolve(function, module))
    }

    fn unregistered() -> Self {
        Self {
            ok: Counter::new(),
            error: Counter::new(),
            // The bounds are constant and valid.
            duration: Histogram::with_buckets(&FUNCTION_DURATION_BUCKETS).unwrap_or_default(),
            concurrent: Gauge::new(),
        }
    }

    /// Starts measuring one call: increments the in-flight gauge and starts the clock.
    /// The returned guard records the call when it is dropped or
    /// [finished](CallGuard::finish).
    #[inline]
    pub fn start(&self) -> CallGuard<'_> {
        self.concurrent.inc();
        CallGuard {
            metrics: self,
            start: Instant::now(),
            ok: None,
        }
    }

    /// Calls that completed with `result="ok"`.
    pub fn ok_calls(&self) -> u64 {
        self.ok.get_u64()
    }

    /// Calls with `result="error"`: errors, panics and cancelled futures.
    pub fn error_calls(&self) -> u64 {
        self.error.get_u64()
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> f64 {
        self.concurrent.get()
    }

    /// The duration histogram.
    pub fn duration(&self) -> &Histogram {
        &self.duration
    }
}

/// One call in flight, recorded when the guard is dropped.
///
/// On drop the guard observes the seconds since [`FunctionMetrics::start`], counts the call
/// and decrements the in-flight gauge. The call counts as `ok` only if
/// [`finish`](Self::finish) said so; a guard dropped without `finish` — the body panicked
/// and the guard was dropped while unwinding, or the future holding it was dropped before
/// it completed (cancelled) — counts as `error`. See
/// `docs/decisions/0002-cancelled-futures.md`.
///
/// Deciding by `finish` rather than by [`std::thread::panicking`] keeps a call that
/// completes normally inside a `Drop` run during some other panic's unwinding an `ok`.
#[derive(Debug)]
#[must_use = "the call is recorded when the guard is dropped: keep it for the whole call, then `finish` it"]
pub struct CallGuard<'a> {
    metrics: &'a FunctionMetrics,
    start: Instant,
    ok: Option<bool>,
}

impl CallGuard<'_> {
    /// Records the call as completed, with `result="ok"` if `ok`, `result="error"`
    /// otherwise.
    #[inline]
    pub fn finish(mut self, ok: bool) {
        self.ok = Some(ok);
    }
}

impl Drop for CallGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let m = self.metrics;
        m.duration.observe(self.start.elapsed().as_secs_f64());
        if self.ok == Some(true) {
            m.ok.inc();
        } else {
            m.error.inc();
        }
        m.concurrent.dec();
    }
}

/// [`FunctionMetrics`] resolved on first use, for a `static`: what `#[tally::measured]`
/// emits once per function.
///
/// ```
/// static PARSE: tally::LazyFunctionMetrics =
///     tally::LazyFunctionMetrics::new("parse", module_path!());
///
/// fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     let call = PARSE.start();
///     let result = s.parse();
///     call.finish(result.is_ok());
///     result
/// }
/// # parse("12").unwrap();
/// # assert!(tally::default_registry().encode_text().contains(r#"function_calls_total{function="parse",module="rust_out",result="ok"} 1"#));
/// ```
#[derive(Debug)]
pub struct LazyFunctionMetrics {
    function: &'static str,
    module: &'static str,
    metrics: OnceLock<FunctionMetrics>,
}

impl LazyFunctionMetrics {
    /// Handles for `function` in `module` in the [`default_registry`], resolved by the
    /// first [`get`](Self::get) or [`start`](Self::start).
    pub const fn new(function: &'static str, module: &'static str) -> Self {
        Self {
            function,
            module,
            metrics: OnceLock::new(),
        }
    }

    /// The handles; the first call resolves them (registering the families in the
    /// default registry if needed), later calls are one atomic load.
    #[inline]
    pub fn get(&self) -> &FunctionMetrics {
        self.metrics
            .get_or_init(|| FunctionMetrics::new(self.function, self.module))
    }

    /// Starts measuring one call; see [`FunctionMetrics::start`].
    #[inline]
    pub fn start(&self) -> CallGuard<'_> {
        self.get().start()
    }
}

/// Calls `body`. The generated code passes the function's return type as `T`, so the
/// closure's return type is known while its body is checked (`?`, `return` and
/// coercions such as `Box<T>` to `Box<dyn Trait>` work as in the original function).
#[doc(hidden)]
#[inline(always)]
pub fn call<T, F: FnOnce() -> T>(body: F) -> T {
    body()
}

/// Borrows a return value to classify it: [`Probe::tally_is_ok`] is an inherent method for
/// `Probe<Result<T, E>>` (ok if `Ok`), and [`ProbeFallback`] gives every other type one
/// that always says ok. Inherent methods win over trait methods, so no trait bound is
/// asked of the function's types.
#[doc(hidden)]
#[derive(Debug)]
pub struct Probe<'a, T>(pub &'a T);

impl<T, E> Probe<'_, Result<T, E>> {
    /// Whether the value is `Ok`.
    #[inline(always)]
    pub fn tally_is_ok(&self) -> bool {
        self.0.is_ok()
    }
}

/// The fallback of [`Probe`]: a value that is not a `Result` is ok.
#[doc(hidden)]
pub trait ProbeFallback {
    /// Always `true`.
    #[inline(always)]
    fn tally_is_ok(&self) -> bool {
        true
    }
}

impl<T> ProbeFallback for Probe<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(registry: &Registry, function: &str) -> FunctionMetrics {
        FunctionMetrics::register(registry, function, "tests").unwrap()
    }

    #[test]
    fn records_ok_and_error_calls() {
        let r = Registry::new();
        let m = metrics(&r, "f");
        let call = m.start();
        assert_eq!(m.in_flight(), 1.0);
        call.finish(true);
        m.start().finish(false);
        assert_eq!((m.ok_calls(), m.error_calls(), m.in_flight()), (1, 1, 0.0));
        assert_eq!(m.duration().count(), 2);
        let text = r.encode_text();
        for line in [
            "# HELP function_calls_total Calls of functions measured by tally",
            "# TYPE function_calls_total counter",
            r#"function_calls_total{function="f",module="tests",result="ok"} 1"#,
            r#"function_calls_total{function="f",module="tests",result="error"} 1"#,
            "# TYPE function_calls_duration_seconds histogram",
            r#"function_calls_duration_seconds_bucket{function="f",module="tests",le="0.075"} 2"#,
            r#"function_calls_duration_seconds_count{function="f",module="tests"} 2"#,
            "# TYPE function_calls_concurrent gauge",
            r#"function_calls_concurrent{function="f",module="tests"} 0"#,
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_guard_dropped_without_finish_is_an_error() {
        let r = Registry::new();
        let m = metrics(&r, "g");
        drop(m.start());
        assert_eq!((m.ok_calls(), m.error_calls(), m.in_flight()), (0, 1, 0.0));
        let caught = std::panic::catch_unwind(|| {
            let _call = m.start();
            panic!("boom");
        });
        assert!(caught.is_err());
        assert_eq!((m.ok_calls(), m.error_calls(), m.in_flight()), (0, 2, 0.0));
        assert_eq!(m.duration().count(), 2);
    }

    #[test]
    fn a_call_finished_while_another_panic_unwinds_stays_ok() {
        struct FinishOnDrop<'a>(&'a FunctionMetrics);
        impl Drop for FinishOnDrop<'_> {
            fn drop(&mut self) {
                assert!(std::thread::panicking());
                self.0.start().finish(true);
            }
        }
        let r = Registry::new();
        let m = metrics(&r, "h");
        let caught = std::panic::catch_unwind(|| {
            let _d = FinishOnDrop(&m);
            panic!("unrelated");
        });
        assert!(caught.is_err());
        assert_eq!((m.ok_calls(), m.error_calls()), (1, 0));
    }

    #[test]
    fn functions_share_families_and_resolve_once() {
        let r = Registry::new();
        let a = metrics(&r, "a");
        let a2 = metrics(&r, "a");
        let b = FunctionMetrics::register(&r, "a", "other").unwrap();
        a.start().finish(true);
        assert_eq!(a2.ok_calls(), 1);
        assert_eq!(b.ok_calls(), 0);
        let names: Vec<String> = r.gather().into_iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                FUNCTION_CALLS_CONCURRENT,
                FUNCTION_CALLS_DURATION,
                FUNCTION_CALLS_TOTAL
            ]
            .map(String::from)
        );
    }

    #[test]
    fn conflicting_names_are_reported_by_register() {
        let r = Registry::new();
        r.gauge(FUNCTION_CALLS_TOTAL, "taken").unwrap();
        assert!(matches!(
            FunctionMetrics::register(&r, "f", "m"),
            Err(RegistryError::Conflict { .. })
        ));
        // The unregistered fallback still counts.
        let m = FunctionMetrics::unregistered();
        m.start().finish(true);
        assert_eq!(m.ok_calls(), 1);
        assert_eq!(m.duration().bounds(), FUNCTION_DURATION_BUCKETS);
    }

    #[test]
    fn lazy_metrics_resolve_in_the_default_registry() {
        static LAZY: LazyFunctionMetrics =
            LazyFunctionMetrics::new("lazy_unit_test", "tally::measured::tests");
        LAZY.start().finish(true);
        LAZY.start().finish(false);
        assert!(std::ptr::eq(LAZY.get(), LAZY.get()));
        let text = default_registry().encode_text();
        assert!(
            text.contains(
                r#"function_calls_total{function="lazy_unit_test",module="tally::measured::tests",result="error"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn probe_classifies_results_and_everything_else() {
        let ok: Result<u8, String> = Ok(1);
        let err: std::io::Result<()> = Err(std::io::Error::other("x"));
        assert!(Probe(&ok).tally_is_ok());
        assert!(!Probe(&err).tally_is_ok());
        assert!(Probe(&None::<u8>).tally_is_ok());
        assert!(Probe(&()).tally_is_ok());
        fn generic<T, E>(r: &Result<T, E>) -> bool {
            Probe(r).tally_is_ok()
        }
        assert!(!generic(&Err::<(), _>(0)));
    }

    #[test]
    fn call_calls() {
        assert_eq!(call::<u8, _>(|| 7), 7);
    }
}
