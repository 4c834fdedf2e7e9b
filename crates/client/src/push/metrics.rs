//! The pusher's own metrics, registered in the registry it pushes, so the gateway sees
//! how the pushing goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::{Counter, Family, Gauge, Registry, RegistryError};

use super::breaker::BreakerState;
use super::retry::FailureReason;

/// The families, shared by every gateway of a pusher (and by pushers on the same
/// registry: registering the same family twice returns the same one).
#[derive(Debug, Clone)]
pub(crate) struct PusherMetrics {
    pushes: Family<Counter, 2>,
    failures: Family<Counter, 2>,
    last_success: Family<Gauge, 1>,
    breaker: Family<Gauge, 1>,
    spooled: Family<Counter, 1>,
    /// Counter increments the pusher made itself: [`Registry::activity`] counts them,
    /// and the early-push trigger subtracts them so a push never causes the next one.
    own_updates: Arc<AtomicU64>,
}

impl PusherMetrics {
    /// Registers the families in `registry`.
    pub(crate) fn register(registry: &Registry) -> Result<Self, RegistryError> {
        Ok(Self {
            pushes: registry.counter_family(
                "tally_pusher_pushes_total",
                "Push attempts by gateway and result (success or failure).",
                ["gateway", "result"],
            )?,
            failures: registry.counter_family(
                "tally_pusher_failures_total",
                "Failed push attempts by gateway and reason.",
                ["gateway", "reason"],
            )?,
            last_success: registry.gauge_family(
                "tally_pusher_last_success_timestamp_seconds",
                "When a push to the gateway last succeeded, in seconds since the epoch.",
                ["gateway"],
            )?,
            breaker: registry.gauge_family(
                "tally_pusher_breaker_state",
                "The gateway's circuit breaker: 0 closed, 1 open, 2 half-open.",
                ["gateway"],
            )?,
            spooled: registry.counter_family(
                "tally_pusher_spooled_total",
                "Final states written to the spool directory because the gateway did not take them.",
                ["gateway"],
            )?,
            own_updates: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The handles for one gateway; creates its series at 0 so they are visible at once.
    pub(crate) fn gateway(&self, gateway: &str) -> GatewayMetrics {
        let metrics = GatewayMetrics {
            gateway: gateway.to_owned(),
            success: self.pushes.get(&[gateway, "success"]),
            failure: self.pushes.get(&[gateway, "failure"]),
            last_success: self.last_success.get(&[gateway]),
            breaker: self.breaker.get(&[gateway]),
            shared: self.clone(),
        };
        metrics.breaker.set(0.0);
        metrics
    }

    /// A final state for `gateway` was written to the spool.
    pub(crate) fn spooled(&self, gateway: &str) {
        self.count(&self.spooled.get(&[gateway]));
    }

    /// How many counter increments the pusher has made.
    pub(crate) fn own_updates(&self) -> u64 {
        self.own_updates.load(Ordering::Relaxed)
    }

    fn count(&self, counter: &Counter) {
        // Counted first: the scheduler must never see the increment without it.
        self.own_updates.fetch_add(1, Ordering::Relaxed);
        counter.inc();
    }
}

/// One gateway's series. Used by that gateway's thread only.
#[derive(Debug, Clone)]
pub(crate) struct GatewayMetrics {
    gateway: String,
    success: Counter,
    failure: Counter,
    last_success: Gauge,
    breaker: Gauge,
    shared: PusherMetrics,
}

impl GatewayMetrics {
    /// A push succeeded at `unix_seconds`.
    pub(crate) fn success(&self, unix_seconds: f64) {
        self.shared.count(&self.success);
        self.last_success.set(unix_seconds);
    }

    /// A push failed.
    pub(crate) fn failure(&self, reason: FailureReason) {
        self.shared.count(&self.failure);
        let by_reason = self
            .shared
            .failures
            .get(&[self.gateway.as_str(), reason.as_str()]);
        self.shared.count(&by_reason);
    }

    /// The breaker moved.
    pub(crate) fn breaker(&self, state: BreakerState) {
        self.breaker.set(f64::from(state as u8));
    }
}
