//! [`Gateway`]: groups and the rules of DESIGN.md §4, applied push by push.
//!
//! The gateway is pure: no I/O, no clock. Every operation takes the current time in
//! milliseconds, so the server, the tests and a log replay all drive it the same way.
//! Every operation either applies whole or returns an error having changed nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tally_model::{Labels, MetricFamily, MetricType};

use crate::config::GatewayConfig;
use crate::contribution::{decreased, is_counter_like, Retired};
use crate::error::PushError;
use crate::stored::{self, StoredFamilies, StoredFamily, StoredSeries};

/// `PUT` replaces the whole group; `POST` replaces only the families in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMethod {
    /// Replace the group.
    Put,
    /// Replace the pushed families only.
    Post,
}

/// One push, as the HTTP layer decoded it.
#[derive(Debug, Clone)]
pub struct Push {
    /// `PUT` or `POST`.
    pub method: PushMethod,
    /// The grouping key (from the URL).
    pub key: Labels,
    /// The parsed body.
    pub families: Vec<MetricFamily>,
    /// A TTL for this group overriding the default, in milliseconds.
    pub ttl_ms: Option<i64>,
    /// The pushing process' start time (tally's client sends it; otherwise taken from a
    /// pushed `process_start_time_seconds` gauge).
    pub start_time: Option<f64>,
    /// tally's client's push sequence number.
    pub sequence: Option<u64>,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The push was applied; `restarted` when it showed the process had restarted.
    Applied {
        /// Whether the group's counters were retired as a restart.
        restarted: bool,
    },
    /// An older push (by start time and sequence) than the last applied: acknowledged
    /// and ignored, so a late retry can never look like a restart.
    Stale,
}

/// One grouping key's state: the last pushed families and when they came.
///
/// Cloning copies the key and shares the families (a reference count increment).
#[derive(Debug, Clone)]
pub struct Group {
    /// The grouping key.
    pub key: Labels,
    /// The last pushed families, sorted by name, each series without the grouping key's
    /// labels (see [`StoredFamily`]; [`Group::to_families`] sets the key over them).
    pub families: StoredFamilies,
    /// When the last successful push arrived.
    pub last_push_ms: i64,
    /// When the last failed push arrived, if any.
    pub last_failure_ms: Option<i64>,
    /// Time to live without a push.
    pub ttl_ms: i64,
    /// Start time of the process that pushed last, when known.
    pub start_time: Option<f64>,
    /// Sequence number of the last applied push, when the client sends them.
    pub sequence: Option<u64>,
}

impl Group {
    /// Number of series (a histogram or summary counts once).
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.series.len()).sum()
    }

    /// The family called `name`.
    pub fn family(&self, name: &str) -> Option<&StoredFamily> {
        stored::find(&self.families, name)
    }

    /// The families as the model has them, with the grouping key's labels set over each
    /// series' labels (as Pushgateway serves a group).
    pub fn to_families(&self) -> Vec<MetricFamily> {
        self.families
            .iter()
            .map(|f| f.to_family(&self.key))
            .collect()
    }

    /// When the group expires.
    pub fn expires_at_ms(&self) -> i64 {
        self.last_push_ms.saturating_add(self.ttl_ms)
    }
}

/// Family-name bookkeeping for type-conflict checks: the type and how many groups hold it.
#[derive(Debug, Clone, Copy)]
struct TypeUse {
    metric_type: MetricType,
    groups: usize,
}

/// The push gateway's state. See the crate documentation for the rules.
#[derive(Debug, Clone, Default)]
pub struct Gateway {
    pub(crate) config: GatewayConfig,
    pub(crate) groups: HashMap<Labels, Group>,
    pub(crate) retired: Retired,
    types: HashMap<String, TypeUse>,
    /// Deleted and expired groups whose process start time is known, oldest first.
    pub(crate) tombstones: HashMap<Labels, Group>,
    pub(crate) tombstone_order: VecDeque<Labels>,
}

const PROCESS_START: &str = "process_start_time_seconds";

/// Sample names a family of this type produces besides its own name.
fn derived_names(name: &str, t: MetricType) -> Vec<String> {
    match t {
        MetricType::Histogram | MetricType::GaugeHistogram => vec![
            format!("{name}_bucket"),
            format!("{name}_sum"),
            format!("{name}_count"),
        ],
        MetricType::Summary => vec![format!("{name}_sum"), format!("{name}_count")],
        _ => Vec::new(),
    }
}

fn type_name(t: MetricType) -> &'static str {
    t.as_text_name().unwrap_or(t.as_openmetrics_name())
}

impl Gateway {
    /// An empty gateway.
    pub fn new(config: GatewayConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The live groups.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// One live group.
    pub fn group(&self, key: &Labels) -> Option<&Group> {
        self.groups.get(key)
    }

    /// Number of live groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Number of live series over all groups.
    pub fn series_count(&self) -> usize {
        self.groups.values().map(Group::series).sum()
    }

    /// Checks a push against the limits and the format rules; changes nothing.
    fn validate(&self, push: &Push, existing: Option<&Group>) -> Result<(), PushError> {
        let limits = &self.config.limits;
        if existing.is_none() && self.groups.len() >= limits.max_groups {
            return Err(PushError::Limit {
                limit: "groups",
                max: limits.max_groups,
            });
        }
        let mut series: usize = push.families.iter().map(|f| f.metrics.len()).sum();
        if let (PushMethod::Post, Some(g)) = (push.method, existing) {
            series += g
                .families
                .iter()
                .filter(|old| !push.families.iter().any(|f| *f.name == *old.name))
                .map(|f| f.series.len())
                .sum::<usize>();
        }
        if series > limits.max_series_per_group {
            return Err(PushError::Limit {
                limit: "series per group",
                max: limits.max_series_per_group,
            });
        }
        for (n, v) in push.key.iter() {
            if n.len() > limits.max_label_length || v.len() > limits.max_label_length {
                return Err(PushError::Limit {
                    limit: "label length",
                    max: limits.max_label_length,
                });
            }
        }
        for family in &push.families {
            // The metric name is the `__name__` label: the label length limit holds for it.
            if family.name.len() > limits.max_label_length {
                return Err(PushError::Limit {
                    limit: "label length",
                    max: limits.max_label_length,
                });
            }
            if family.metric_type == MetricType::StateSet
                || family.metric_type == MetricType::Info
                || family.metric_type == MetricType::GaugeHistogram
            {
                return Err(PushError::UnsupportedType {
                    family: family.name.clone(),
                    metric_type: family.metric_type.as_openmetrics_name(),
                });
            }
            for m in &family.metrics {
                if m.timestamp_ms.is_some() {
                    return Err(PushError::Timestamp {
                        family: family.name.clone(),
                    });
                }
                if let Some(reason) = crate::contribution::unaggregatable(&m.value) {
                    return Err(PushError::InvalidValue {
                        family: family.name.clone(),
                        reason,
                    });
                }
                // The limits hold for the labels with the grouping key set over them: the
                // key's labels (checked above) replace the series' labels of their names.
                let own = m.labels.iter().filter(|(n, _)| !push.key.contains(n));
                if own.clone().count() + push.key.len() > limits.max_labels {
                    return Err(PushError::Limit {
                        limit: "labels per series",
                        max: limits.max_labels,
                    });
                }
                for (n, v) in own {
                    if n.len() > limits.max_label_length || v.len() > limits.max_label_length {
                        return Err(PushError::Limit {
                            limit: "label length",
                            max: limits.max_label_length,
                        });
                    }
                }
            }
        }
        self.check_types(push, existing)
    }

    /// Rule 8: a family name has one type across all groups, and no family's derived
    /// sample names (`foo_count` of histogram `foo`) are another family's name.
    fn check_types(&self, push: &Push, existing: Option<&Group>) -> Result<(), PushError> {
        for family in &push.families {
            let name = &family.name;
            let new = family.metric_type;
            if let Some(use_) = self.types.get(name) {
                let replaced_here = existing
                    .and_then(|g| g.family(name))
                    .is_some_and(|f| f.metric_type == use_.metric_type);
                let others = use_.groups - usize::from(replaced_here);
                if use_.metric_type != new && others > 0 {
                    return Err(PushError::TypeConflict {
                        name: name.clone(),
                        existing: type_name(use_.metric_type),
                        new: type_name(new),
                    });
                }
            }
            for derived in derived_names(name, new) {
                if let Some(use_) = self.types.get(&derived) {
                    return Err(PushError::TypeConflict {
                        name: derived,
                        existing: type_name(use_.metric_type),
                        new: type_name(new),
                    });
                }
            }
            for suffix in ["_bucket", "_sum", "_count"] {
                let Some(base) = name.strip_suffix(suffix) else {
                    continue;
                };
                if let Some(use_) = self.types.get(base) {
                    if !derived_names(base, use_.metric_type).contains(name) {
                        continue;
                    }
                    return Err(PushError::TypeConflict {
                        name: name.clone(),
                        existing: type_name(use_.metric_type),
                        new: type_name(new),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn add_types(&mut self, group: &Group, delta: isize) {
        for family in group.families.iter() {
            let name: &str = &family.name;
            if delta > 0 {
                match self.types.get_mut(name) {
                    Some(u) => u.groups += 1,
                    None => {
                        self.types.insert(
                            name.to_owned(),
                            TypeUse {
                                metric_type: family.metric_type,
                                groups: 1,
                            },
                        );
                    }
                }
            } else if let Some(u) = self.types.get_mut(name) {
                u.groups = u.groups.saturating_sub(1);
                if u.groups == 0 {
                    self.types.remove(name);
                }
            }
        }
    }

    /// Applies a push (rules 1–3, 5–8). On error nothing changed.
    pub fn push(&mut self, mut push: Push, now_ms: i64) -> Result<PushOutcome, PushError> {
        if push.start_time.is_none() {
            push.start_time = pushed_start_time(&push.families);
        }
        if push.start_time.is_none() && push.method == PushMethod::Post {
            // A POST without a start time keeps the group's `process_start_time_seconds`,
            // so the group keeps its start time: a later push with another one is still a
            // restart (rule 2), and a lower counter here is one series reset (0003).
            push.start_time = self.groups.get(&push.key).and_then(|g| g.start_time);
        }
        let resumable = self
            .tombstones
            .get(&push.key)
            .is_some_and(|t| t.start_time.is_some() && t.start_time == push.start_time);
        let existing = self
            .groups
            .get(&push.key)
            .or_else(|| resumable.then(|| self.tombstones.get(&push.key)).flatten());
        self.validate(&push, existing)?;
        if let Some(g) = existing {
            if is_stale(g, &push) {
                return Ok(PushOutcome::Stale);
            }
        }
        let Push {
            method,
            key,
            families,
            ttl_ms,
            start_time,
            sequence,
        } = push;
        // Grouping-key labels are set over each series' own labels, as Pushgateway does;
        // the group keeps the series' labels without them and sets the key when read.
        let pushed = StoredFamily::store_all(families, &key);
        if resumable {
            // The same process pushes again after its group was deleted or expired:
            // take back what its retirement added and carry on from its state.
            if let Some(t) = self.remove_tombstone(&key) {
                self.retired.apply_families(
                    t.families.iter(),
                    &t.key,
                    &self.config.aggregation_labels,
                    -1.0,
                );
                self.add_types(&t, 1);
                self.groups.insert(key.clone(), t);
            }
        }
        let old = self.groups.remove(&key);
        if let Some(old) = &old {
            self.add_types(old, -1);
        }
        let agg = &self.config.aggregation_labels;
        let restarted = old
            .as_ref()
            .is_some_and(|g| restarted(g, start_time, &pushed));
        let mut families = pushed;
        if let Some(old) = &old {
            if restarted {
                // Rule 2: every counter of the group retires, pushed or not.
                self.retired
                    .apply_families(old.families.iter(), &old.key, agg, 1.0);
            } else {
                // Series that leave the group retire; the others carry on.
                for old_family in old.families.iter() {
                    let replacement = stored::find(&families, &old_family.name);
                    if method == PushMethod::Post && replacement.is_none() {
                        continue;
                    }
                    retire_departed(&mut self.retired, old_family, replacement, &key, agg);
                }
            }
            if method == PushMethod::Post {
                // The families not in the body stay (their counters unless retired).
                let kept = old.families.iter().filter(|f| {
                    stored::find(&families, &f.name).is_none()
                        && !(restarted && is_counter_like(f.metric_type))
                });
                families.extend(kept.cloned().collect::<Vec<_>>());
                stored::sort_unique(&mut families);
            }
        }
        let group = Group {
            key: key.clone(),
            families: Arc::from(families),
            last_push_ms: now_ms,
            last_failure_ms: old.as_ref().and_then(|g| g.last_failure_ms),
            ttl_ms: ttl_ms.unwrap_or(self.config.default_ttl_ms),
            start_time,
            sequence,
        };
        self.add_types(&group, 1);
        self.groups.insert(key, group);
        Ok(PushOutcome::Applied { restarted })
    }

    /// Records a failed push on an existing group (`push_failure_time_seconds`).
    pub fn record_failure(&mut self, key: &Labels, now_ms: i64) {
        if let Some(g) = self.groups.get_mut(key) {
            g.last_failure_ms = Some(now_ms);
        }
    }

    /// Deletes a group (rule 2: its counters retire). Returns whether it existed.
    pub fn delete(&mut self, key: &Labels) -> bool {
        match self.groups.remove(key) {
            Some(g) => {
                self.retire_group(g);
                true
            }
            None => false,
        }
    }

    /// Expires every group not pushed for its TTL (rule 4). Returns their keys.
    pub fn expire(&mut self, now_ms: i64) -> Vec<Labels> {
        let expired: Vec<Labels> = self
            .groups
            .values()
            .filter(|g| g.expires_at_ms() <= now_ms)
            .map(|g| g.key.clone())
            .collect();
        for key in &expired {
            if let Some(g) = self.groups.remove(key) {
                self.retire_group(g);
            }
        }
        expired
    }

    /// The earliest time a group expires, to schedule the next [`expire`](Self::expire).
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.groups.values().map(Group::expires_at_ms).min()
    }

    fn retire_group(&mut self, group: Group) {
        self.add_types(&group, -1);
        self.retired.apply_families(
            group.families.iter(),
            &group.key,
            &self.config.aggregation_labels,
            1.0,
        );
        if group.start_time.is_some() && self.config.limits.max_tombstones > 0 {
            while self.tombstones.len() >= self.config.limits.max_tombstones {
                let Some(oldest) = self.tombstone_order.pop_front() else {
                    break;
                };
                self.tombstones.remove(&oldest);
            }
            self.tombstone_order.push_back(group.key.clone());
            self.tombstones.insert(group.key.clone(), group);
        }
    }

    fn remove_tombstone(&mut self, key: &Labels) -> Option<Group> {
        let t = self.tombstones.remove(key)?;
        self.tombstone_order.retain(|k| k != key);
        Some(t)
    }
}

/// The start time a push carries in a `process_start_time_seconds` gauge, if any.
fn pushed_start_time(families: &[MetricFamily]) -> Option<f64> {
    let family = families.iter().find(|f| f.name == PROCESS_START)?;
    match &family.metrics.first()?.value {
        tally_model::MetricValue::Gauge(v) | tally_model::MetricValue::Unknown(v) => Some(*v),
        _ => None,
    }
}

/// Rule 3: a push older than the last applied one (same process, lower or equal
/// sequence; or an earlier process) is stale.
fn is_stale(group: &Group, push: &Push) -> bool {
    match (group.start_time, push.start_time) {
        (Some(g), Some(p)) if p < g => true,
        (Some(g), Some(p)) if p == g => {
            matches!((group.sequence, push.sequence), (Some(gs), Some(ps)) if ps <= gs)
        }
        _ => false,
    }
}

/// Finds the metric with `labels` in `metrics`, trying position `i` first (clients push
/// series in the same order every time) and falling back to a hash index built once.
struct MetricLookup<'a> {
    metrics: &'a [StoredSeries],
    index: Option<HashMap<&'a Labels, usize>>,
}

impl<'a> MetricLookup<'a> {
    fn new(metrics: &'a [StoredSeries]) -> Self {
        Self {
            metrics,
            index: None,
        }
    }

    fn find(&mut self, i: usize, labels: &Labels) -> Option<&'a StoredSeries> {
        if let Some(m) = self.metrics.get(i).filter(|m| &m.labels == labels) {
            return Some(m);
        }
        let metrics = self.metrics;
        let index = self.index.get_or_insert_with(|| {
            metrics
                .iter()
                .enumerate()
                .map(|(k, m)| (&m.labels, k))
                .collect()
        });
        index.get(labels).map(|&k| &metrics[k])
    }
}

/// Rule 2: the process behind the group restarted. When both pushes carry the same
/// start time the process did not restart, so a lower counter is that series being reset
/// (removed and created again in the client): `retire_departed` retires just that series.
fn restarted(group: &Group, start_time: Option<f64>, pushed: &[StoredFamily]) -> bool {
    if let (Some(g), Some(p)) = (group.start_time, start_time) {
        return g != p;
    }
    pushed.iter().any(|new| {
        let Some(old) = group.family(&new.name) else {
            return false;
        };
        let mut lookup = MetricLookup::new(&old.series);
        new.series.iter().enumerate().any(|(i, ns)| {
            lookup
                .find(i, &ns.labels)
                .is_some_and(|os| decreased(&os.value.to_model(), &ns.value.to_model()))
        })
    })
}

/// Retires the series of `old` that `new` no longer has (all of them if `new` is None),
/// and those whose value went down in `new` (reset without a process restart).
fn retire_departed(
    retired: &mut Retired,
    old: &StoredFamily,
    new: Option<&StoredFamily>,
    key: &Labels,
    agg: &[String],
) {
    if !is_counter_like(old.metric_type) {
        return;
    }
    let new = new.filter(|n| n.metric_type == old.metric_type);
    let mut lookup = new.map(|n| MetricLookup::new(&n.series));
    for (i, s) in old.series.iter().enumerate() {
        let value = s.value.to_model();
        let kept = lookup
            .as_mut()
            .and_then(|l| l.find(i, &s.labels))
            .is_some_and(|ns| !decreased(&value, &ns.value.to_model()));
        if kept {
            continue;
        }
        if let Some(c) = crate::contribution::contribution(&value) {
            let series = (
                old.name.to_string(),
                crate::contribution::aggregate_labels(&s.labels, key, agg),
            );
            retired.apply(series, &c, 1.0);
        }
    }
}
