//! [`GatewayConfig`]: aggregation labels, TTL, gauge modes and limits.

/// How the gauges of several groups combine into one aggregated gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaugeMode {
    /// Add them up (in-flight requests, queue depth). The default.
    Sum,
    /// The largest.
    Max,
    /// The smallest.
    Min,
    /// The one from the most recent push (timestamps, versions).
    Last,
}

impl GaugeMode {
    /// Parses `sum`, `max`, `min` or `last`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sum" => Some(Self::Sum),
            "max" => Some(Self::Max),
            "min" => Some(Self::Min),
            "last" => Some(Self::Last),
            _ => None,
        }
    }
}

/// A metric-name pattern where `*` matches any run of characters (`*_timestamp_seconds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    parts: Vec<String>,
}

impl NamePattern {
    /// A pattern; every `*` is a wildcard, everything else matches literally.
    pub fn new(pattern: &str) -> Self {
        Self {
            parts: pattern.split('*').map(str::to_owned).collect(),
        }
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return name.is_empty(),
        };
        let Some(mut tail) = name.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for part in middle {
            match tail.find(part.as_str()) {
                Some(i) => tail = &tail[i + part.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }
}

/// Limits that bound what a client can make the gateway hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Live groups at most.
    pub max_groups: usize,
    /// Series (metrics, counting a histogram or summary as one) per group.
    pub max_series_per_group: usize,
    /// Labels per series, grouping key included.
    pub max_labels: usize,
    /// Bytes of one label name or value.
    pub max_label_length: usize,
    /// Deleted or expired groups remembered so a process that pushes again resumes.
    pub max_tombstones: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_groups: 100_000,
            max_series_per_group: 10_000,
            max_labels: 64,
            max_label_length: 4096,
            max_tombstones: 100_000,
        }
    }
}

/// Everything the gateway's semantics depend on.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Labels removed to form the aggregated view (default `instance`).
    pub aggregation_labels: Vec<String>,
    /// Time without a push after which a group expires, in milliseconds.
    pub default_ttl_ms: i64,
    /// Gauge modes by name pattern, first match wins; unmatched gauges use `Sum`.
    pub gauge_modes: Vec<(NamePattern, GaugeMode)>,
    /// Limits.
    pub limits: Limits,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            aggregation_labels: vec!["instance".to_owned()],
            default_ttl_ms: 10 * 60 * 1000,
            gauge_modes: default_gauge_modes(),
            limits: Limits::default(),
        }
    }
}

/// Built-in modes for well-known gauges; operator rules are checked before these.
pub fn default_gauge_modes() -> Vec<(NamePattern, GaugeMode)> {
    vec![
        (
            NamePattern::new("process_start_time_seconds"),
            GaugeMode::Min,
        ),
        (NamePattern::new("*_timestamp_seconds"), GaugeMode::Last),
        (NamePattern::new("*_time_seconds"), GaugeMode::Last),
        (NamePattern::new("*_info"), GaugeMode::Last),
        (NamePattern::new("*_version"), GaugeMode::Last),
    ]
}

impl GatewayConfig {
    /// The gauge mode for a metric name.
    pub fn gauge_mode(&self, name: &str) -> GaugeMode {
        self.gauge_modes
            .iter()
            .find(|(p, _)| p.matches(name))
            .map_or(GaugeMode::Sum, |(_, m)| *m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = NamePattern::new("*_timestamp_seconds");
        assert!(p.matches("last_run_timestamp_seconds"));
        assert!(!p.matches("last_run_seconds"));
        assert!(NamePattern::new("exact").matches("exact"));
        assert!(!NamePattern::new("exact").matches("exactly"));
        assert!(NamePattern::new("a*b*c").matches("aXbYc"));
        assert!(!NamePattern::new("a*b*c").matches("aXc"));
        assert!(NamePattern::new("*").matches("anything"));
        assert!(!NamePattern::new("ab*ba").matches("aba"));
    }

    #[test]
    fn modes_first_match_wins() {
        let mut c = GatewayConfig::default();
        assert_eq!(c.gauge_mode("queue_depth"), GaugeMode::Sum);
        assert_eq!(c.gauge_mode("process_start_time_seconds"), GaugeMode::Min);
        assert_eq!(
            c.gauge_mode("job_last_success_timestamp_seconds"),
            GaugeMode::Last
        );
        c.gauge_modes
            .insert(0, (NamePattern::new("queue_*"), GaugeMode::Max));
        assert_eq!(c.gauge_mode("queue_depth"), GaugeMode::Max);
        assert_eq!(GaugeMode::parse("last"), Some(GaugeMode::Last));
        assert_eq!(GaugeMode::parse("avg"), None);
    }
}
