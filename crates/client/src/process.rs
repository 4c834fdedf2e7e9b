//! [`ProcessCollector`] (Linux `/proc`) and the [`BuildInfo`] gauge.

use tally_model::{CounterValue, Labels, Metric, MetricFamily, MetricType, MetricValue};

use crate::registry::Collector;

/// `/proc` reports CPU times in USER_HZ ticks, which Linux fixes at 100 for user space.
const USER_HZ: f64 = 100.0;

/// Exports the standard `process_*` metrics read from `/proc/self` on every gather:
/// `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds` and
/// `process_start_time_seconds`. On systems without `/proc`, or when a file cannot be
/// read, the affected metrics are simply absent.
#[derive(Debug, Clone, Default)]
pub struct ProcessCollector {
    _private: (),
}

impl ProcessCollector {
    /// A collector for the current process.
    pub fn new() -> Self {
        Self::default()
    }
}

/// What `/proc/self/stat` tells: CPU seconds and start time in ticks after boot.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    start_ticks: f64,
    virtual_bytes: f64,
}

/// Parses `/proc/self/stat`. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<Stat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so field N is index N - 3.
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) / USER_HZ,
        start_ticks: field(22)?,
        virtual_bytes: field(23)?,
    })
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resident set size in bytes from `/proc/self/status` (`VmRSS`, in kB): exact, with no
/// need to know the page size.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024.0)
}

fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
    MetricFamily::new(name, MetricType::Gauge)
        .with_help(help)
        .with_metric(Metric::new(Labels::new(), MetricValue::Gauge(value)))
}

impl Collector for ProcessCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        if let Some(stat) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            out.push(
                MetricFamily::new("process_cpu_seconds_total", MetricType::Counter)
                    .with_help("Total user and system CPU time spent in seconds.")
                    .with_metric(Metric::new(
                        Labels::new(),
                        MetricValue::Counter(CounterValue {
                            value: stat.cpu_seconds,
                            ..CounterValue::default()
                        }),
                    )),
            );
            if let Some(rss) = resident_bytes() {
                out.push(gauge(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    rss,
                ));
            }
            out.push(gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                stat.virtual_bytes,
            ));
            if let Some(boot) = boot_time() {
                out.push(gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                    boot + stat.start_ticks / USER_HZ,
                ));
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            out.push(gauge(
                "process_open_fds",
                "Number of open file descriptors.",
                dir.count() as f64,
            ));
        }
        if let Some(max) = max_fds() {
            out.push(gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                max,
            ));
        }
    }
}

/// The process start time in seconds since the epoch, from `/proc` (Linux), or the time
/// this function was first called elsewhere. The [`Pusher`](crate::Pusher) sends it so
/// the gateway can tell a restart from a retry.
pub fn process_start_time() -> f64 {
    static START: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        let from_proc = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(parse_stat)
            .zip(boot_time())
            .map(|(stat, boot)| boot + stat.start_ticks / USER_HZ);
        from_proc.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        })
    })
}

/// The `build_info` gauge (value 1) with version labels, as autometrics dashboards expect:
/// `build_info{version, commit, branch, service_name}`.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    labels: Vec<(String, String)>,
}

impl BuildInfo {
    /// Build information with `version` (typically `env!("CARGO_PKG_VERSION")`).
    pub fn new(version: &str) -> Self {
        Self {
            labels: vec![("version".into(), version.into())],
        }
    }

    /// Adds the source commit.
    pub fn commit(self, commit: &str) -> Self {
        self.label("commit", commit)
    }

    /// Adds the source branch.
    pub fn branch(self, branch: &str) -> Self {
        self.label("branch", branch)
    }

    /// Adds the service name.
    pub fn service_name(self, name: &str) -> Self {
        self.label("service_name", name)
    }

    fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }
}

impl Collector for BuildInfo {
    fn collect(&self, out: &mut Vec<MetricFamily>) {
        let labels =
            Labels::from_pairs(self.labels.iter().map(|(n, v)| (n, v))).unwrap_or_default();
        out.push(
            MetricFamily::new("build_info", MetricType::Gauge)
                .with_help("Build information.")
                .with_metric(Metric::new(labels, MetricValue::Gauge(1.0))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let line = "1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 \
                    5000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.cpu_seconds, 3.0);
        assert_eq!(stat.start_ticks, 5000.0);
        assert_eq!(stat.virtual_bytes, 104_857_600.0);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn collects_process_metrics_on_linux() {
        let mut out = Vec::new();
        ProcessCollector::new().collect(&mut out);
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        for want in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let start = process_start_time();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start > now - 86_400.0 * 365.0 && start <= now + 1.0,
            "{start}"
        );
    }

    #[test]
    fn build_info_is_one_with_labels() {
        let mut out = Vec::new();
        BuildInfo::new("1.2.3").commit("abc").collect(&mut out);
        assert_eq!(out[0].metrics[0].labels.get("version"), Some("1.2.3"));
        assert_eq!(out[0].metrics[0].value, MetricValue::Gauge(1.0));
    }
}
