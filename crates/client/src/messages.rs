//! [`MessageMetrics`]: ready-made metrics for queue consumers and producers.
//!
//! # What is recorded
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `messages_consumed_total` | counter | none |
//! | `messages_produced_total` | counter | none |
//! | `message_errors_total` | counter | `error_type` |
//!
//! A consumed message counts in `messages_consumed_total` whether or not its processing
//! failed; a failure *also* counts in `message_errors_total`. So the error ratio is
//! `rate(message_errors_total[5m]) / rate(messages_consumed_total[5m])`.
//!
//! # Why no `queue` or `topic` label
//!
//! The names and labels are fixed so that every worker of every language reports the same
//! series and the gateway aggregates them into one total. Which worker reported what is
//! already in the push's grouping key (`job`, `instance`), and a process that consumes
//! from several queues usually runs one worker kind per queue, each with its own `job`.
//! A `queue` label would also need a value on the `produced`/`errors` series of every
//! call site, a new way to grow cardinality (queue names built from tenant ids) for
//! little gain. An application that does want one defines its own families with
//! [`Registry::counter_family`].
//!
//! `error_type` must come from a small fixed set (`"timeout"`, `"decode"`,
//! `"downstream"`), never from an error message: each distinct value is a new series
//! kept for the life of the process.
//!
//! # Example
//!
//! ```
//! use tally::messages::MessageMetrics;
//!
//! let registry = tally::Registry::new();
//! let metrics = MessageMetrics::new(&registry)?;
//!
//! // Count a message around its processing; the classifier names the error type.
//! let result: Result<u32, std::num::ParseIntError> =
//!     metrics.process(|| "42".parse::<u32>(), |_| "decode");
//! assert_eq!(result, Ok(42));
//!
//! // Or count by hand, e.g. in async code.
//! metrics.produced();
//! metrics.consumed();
//! metrics.error("timeout");
//!
//! let text = registry.encode_text();
//! assert!(text.contains("messages_consumed_total 2"));
//! assert!(text.contains(r#"message_errors_total{error_type="timeout"} 1"#));
//! # Ok::<(), tally::RegistryError>(())
//! ```

use crate::{Counter, Family, Registry, RegistryError};

/// Name of the consumed-messages counter.
pub const CONSUMED_TOTAL: &str = "messages_consumed_total";
/// Name of the produced-messages counter.
pub const PRODUCED_TOTAL: &str = "messages_produced_total";
/// Name of the message-errors counter.
pub const ERRORS_TOTAL: &str = "message_errors_total";

/// Counters for messages consumed, produced and failed (see the [module
/// documentation](self)).
///
/// Cloning is shallow (three `Arc` increments): clones update the same counters, so one
/// value can be handed to every worker thread or task. Creating a second `MessageMetrics`
/// on the same registry returns the same counters too.
#[derive(Debug, Clone)]
pub struct MessageMetrics {
    consumed: Counter,
    produced: Counter,
    errors: Family<Counter, 1>,
}

impl MessageMetrics {
    /// Registers (or finds) the three counters in `registry`; pass
    /// [`default_registry()`](crate::default_registry) for the process-wide one.
    ///
    /// Fails when one of the names is already registered with another type or labels.
    pub fn new(registry: &Registry) -> Result<Self, RegistryError> {
        Ok(Self {
            consumed: registry.counter(CONSUMED_TOTAL, "Messages taken for processing.")?,
            produced: registry.counter(PRODUCED_TOTAL, "Messages sent.")?,
            errors: registry.counter_family(
                ERRORS_TOTAL,
                "Messages whose processing failed, by error type.",
                ["error_type"],
            )?,
        })
    }

    /// Counts one consumed message.
    pub fn consumed(&self) {
        self.consumed.inc();
    }

    /// Counts `n` consumed messages (a batch).
    pub fn consumed_by(&self, n: u64) {
        self.consumed.inc_by(n);
    }

    /// Counts one produced message.
    pub fn produced(&self) {
        self.produced.inc();
    }

    /// Counts `n` produced messages (a batch).
    pub fn produced_by(&self, n: u64) {
        self.produced.inc_by(n);
    }

    /// Counts one failed message with the given error type (from a small fixed set; see
    /// the module documentation). Does not count it as consumed.
    pub fn error(&self, error_type: &str) {
        self.errors.with(&[error_type]).inc();
    }

    /// Counts one consumed message with the outcome of its processing: consumed always,
    /// and on `Err` an error of the type `classify` names. For async code, which cannot
    /// use [`process`](Self::process): `metrics.observe(&handle(msg).await, classify)`.
    ///
    /// `classify` returns a `&'static str` so that error types come from a fixed set of
    /// words in the program (`|e| match e { .. => "timeout", .. }`, or a `kind` method
    /// returning `&'static str`), not from error messages: that is what keeps
    /// `message_errors_total` from growing a series per distinct message.
    pub fn observe<T, E>(&self, outcome: &Result<T, E>, classify: impl FnOnce(&E) -> &'static str) {
        self.consumed.inc();
        if let Err(e) = outcome {
            self.error(classify(e));
        }
    }

    /// Runs `f` to process one message and counts it as [`observe`](Self::observe) does;
    /// returns what `f` returned. A panic in `f` propagates and is counted as neither.
    pub fn process<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&E) -> &'static str,
    ) -> Result<T, E> {
        let outcome = f();
        self.observe(&outcome, classify);
        outcome
    }

    /// The consumed-messages counter, to read or to update directly.
    pub fn consumed_counter(&self) -> &Counter {
        &self.consumed
    }

    /// The produced-messages counter.
    pub fn produced_counter(&self) -> &Counter {
        &self.produced
    }

    /// The errors family, by `error_type`.
    pub fn errors(&self) -> &Family<Counter, 1> {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Failure {
        Timeout,
        Decode(String),
    }

    impl Failure {
        fn kind(&self) -> &'static str {
            match self {
                Self::Timeout => "timeout",
                Self::Decode(_) => "decode",
            }
        }
    }

    #[test]
    fn process_counts_consumed_and_classified_errors() {
        let registry = Registry::new();
        let m = MessageMetrics::new(&registry).unwrap();
        assert_eq!(m.process(|| Ok::<_, Failure>(1), Failure::kind), Ok(1));
        assert_eq!(
            m.process(|| Err::<(), _>(Failure::Timeout), Failure::kind),
            Err(Failure::Timeout)
        );
        let bad = Failure::Decode("byte 3".into());
        assert!(m.process(|| Err::<(), _>(bad), |e| e.kind()).is_err());
        m.observe(&Err::<(), _>(Failure::Timeout), Failure::kind);
        m.produced_by(3);
        m.consumed_by(2);
        assert_eq!(m.consumed_counter().get(), 6.0);
        assert_eq!(m.produced_counter().get(), 3.0);
        assert_eq!(m.errors().with(&["timeout"]).get(), 2.0);
        assert_eq!(m.errors().with(&["decode"]).get(), 1.0);
        let text = registry.encode_text();
        assert!(text.contains("messages_consumed_total 6\n"), "{text}");
        assert!(text.contains("messages_produced_total 3\n"), "{text}");
        assert!(
            text.contains("message_errors_total{error_type=\"decode\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn instances_on_one_registry_share_counters() {
        let registry = Registry::new();
        let a = MessageMetrics::new(&registry).unwrap();
        let b = MessageMetrics::new(&registry).unwrap();
        a.consumed();
        b.error("x");
        assert_eq!(b.consumed_counter().get(), 1.0);
        assert_eq!(a.errors().with(&["x"]).get(), 1.0);
    }

    #[test]
    fn conflicting_registration_is_an_error() {
        let registry = Registry::new();
        registry.gauge("messages_produced_total", "").unwrap();
        assert!(matches!(
            MessageMetrics::new(&registry),
            Err(RegistryError::Conflict { .. })
        ));
    }
}
