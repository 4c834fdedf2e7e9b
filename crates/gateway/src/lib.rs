//! `tally-gateway`: the push gateway's semantics, pure and time-injected.
//!
//! Many instances push their *cumulative* metrics under a grouping key (the labels in the
//! push URL). The [`Gateway`] keeps each group's last push, as Pushgateway does, and on
//! top an *aggregated view* without the aggregation labels (default `instance`) that
//! stays exact across retries, restarts, deletes and expiry:
//!
//! 1. counter-like series (counters, histogram buckets/sum/count, summary sum/count)
//!    aggregate as the sum over live groups plus the *retired* amounts;
//! 2. a restart (changed start time, or, when the start time is not known, any counter
//!    lower than stored) retires every counter of the group, so totals never decrease; so
//!    do deletes, expiry, and series that leave a group. With the same known start time a
//!    lower counter is one series reset in a live process, and only it retires;
//! 3. pushes are idempotent: the same cumulative state twice changes nothing, and a push
//!    older than the last applied (start time, sequence) is acknowledged and ignored;
//! 4. groups expire after their TTL;
//! 5. gauges aggregate by a per-name [`GaugeMode`];
//! 6. histograms with different bucket layouts merge without losing counts (`view.rs`);
//! 7. summaries keep only `_sum` and `_count` in the aggregated view;
//! 8. a family has one type across all groups, checked per pushed family.
//!
//! A group deleted or expired while its process lives on (known by its start time) is
//! remembered as a *tombstone*; if that process pushes again, its retired amounts are
//! taken back and it carries on, instead of being counted twice.
//!
//! # Layout
//!
//! - `gateway.rs`: [`Gateway`], [`Push`], push/delete/expire.
//! - `stored.rs`: [`StoredFamily`], the compact form a group keeps its last push in.
//! - `contribution.rs`: counter-like contributions and the retired amounts.
//! - `view.rs`: [`Gateway::aggregated`] and [`Gateway::group_view`], and [`ViewSource`] to
//!   build them without holding the gateway.
//! - `config.rs`: [`GatewayConfig`], [`GaugeMode`], [`Limits`].
//! - `grouping.rs`: grouping keys from URL paths (with `@base64`).
//! - `error.rs`: [`PushError`].
//! - `state.rs`: [`GatewayState`], the state as plain data for snapshots.
//!
//! # Example
//!
//! ```
//! use tally_gateway::{Gateway, GatewayConfig, Push, PushMethod, parse_grouping_path};
//! use tally_model::expfmt::{parse, Format};
//!
//! let mut gw = Gateway::new(GatewayConfig::default());
//! for (instance, total) in [("a", "3"), ("b", "4"), ("a", "3")] {
//!     let body = format!("# TYPE jobs_total counter\njobs_total {total}\n");
//!     let push = Push {
//!         method: PushMethod::Put,
//!         key: parse_grouping_path(&format!("job/batch/instance/{instance}"))?,
//!         families: parse(body.as_bytes(), Format::Text)?,
//!         ttl_ms: None,
//!         start_time: None,
//!         sequence: None,
//!     };
//!     gw.push(push, 1_000)?;
//! }
//! // a's retry changed nothing: 3 + 4.
//! let view = gw.aggregated();
//! assert_eq!(view[0].metrics[0].labels.get("instance"), None);
//! assert!(matches!(&view[0].metrics[0].value,
//!     tally_model::MetricValue::Counter(c) if c.value == 7.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod config;
mod contribution;
mod error;
mod gateway;
mod grouping;
mod state;
mod stored;
mod view;

pub use config::{default_gauge_modes, GatewayConfig, GaugeMode, Limits, NamePattern};
pub use contribution::{Contribution, Retired, RetiredLayout, RetiredSeries, SeriesKey};
pub use error::PushError;
pub use gateway::{Gateway, Group, Push, PushMethod, PushOutcome};
pub use grouping::{parse_grouping_path, GroupingError};
pub use state::GatewayState;
pub use stored::{StoredFamilies, StoredFamily, StoredSeries, StoredValue};
pub use view::{merge_layouts, ViewSource};
