//! `tally functions`: the table of functions measured with `#[tally::measured]` (or any
//! autometrics library), read from a server's `/metrics`.
//!
//! The computation is pure and tested here: [`totals`] folds the parsed families into
//! cumulative [`FunctionTotals`] per `(function, module)` (summing over any other label,
//! such as `job`), and [`rows`] turns one reading, or two consecutive readings in
//! `--watch` mode, into [`Row`]s. Fetching and printing are thin layers around them.
//!
//! The p95 is estimated from the histogram's buckets exactly as Prometheus'
//! `histogram_quantile` does ([`histogram_quantile`]): find the bucket holding the rank,
//! interpolate linearly inside it; when the rank falls in the `+Inf` bucket the answer
//! is the highest finite bound, which the table shows as `>BOUND`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde::Serialize;
use tally_model::expfmt::{self, Format};
use tally_model::{MetricFamily, MetricValue};

/// The counter of calls, by `function`, `module` and `result` (`ok` / `error`).
pub const CALLS: &str = "function_calls_total";
/// The histogram of call durations in seconds, by `function` and `module`.
pub const DURATION: &str = "function_calls_duration_seconds";

/// The largest `/metrics` answer read.
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;
/// How long one fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// The quantile shown.
const QUANTILE: f64 = 0.95;

/// Arguments of `tally functions`.
#[derive(Debug, clap::Args)]
pub struct FunctionsArgs {
    /// The server's base URL; `/metrics` is appended (unless the URL already ends so).
    #[arg(long, default_value = "http://127.0.0.1:9091")]
    url: String,

    /// Print JSON instead of a table (one object per line with --watch).
    #[arg(long)]
    json: bool,

    /// Refresh every SECONDS (default 2) until Ctrl-C; calls/s, error ratio, mean and p95
    /// are then computed over the last interval, from two consecutive reads.
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "2")]
    watch: Option<f64>,

    /// With --watch: stop after this many refreshes.
    #[arg(long, value_name = "N", requires = "watch")]
    iterations: Option<u64>,
}

/// Cumulative histogram buckets, sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    /// `(upper bound, cumulative count)`, bounds increasing, the last `+Inf`.
    pub bounds: Vec<(f64, f64)>,
    /// Sum of observations in seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: f64,
}

impl Buckets {
    /// Adds `other` bucket by bucket. Layouts may differ: the result has every bound of
    /// either, and a series contributes to a bound it lacks the cumulative count of its
    /// next lower bound (observations it cannot place are not counted below their own
    /// bucket's bound, so no quantile is made smaller than the data allows).
    fn add(&mut self, other: &Buckets) {
        let mut bounds: Vec<f64> = self
            .bounds
            .iter()
            .chain(&other.bounds)
            .map(|(b, _)| *b)
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let merged = bounds
            .into_iter()
            .map(|b| {
                (
                    b,
                    cumulative_at(&self.bounds, b) + cumulative_at(&other.bounds, b),
                )
            })
            .collect();
        self.bounds = merged;
        self.sum += other.sum;
        self.count += other.count;
    }

    /// `self - earlier`, bucket by bucket: the observations of an interval. A counter
    /// reset (any value lower than before) makes the whole of `self` the interval's.
    fn since(&self, earlier: &Buckets) -> Buckets {
        let reset = self.count < earlier.count
            || self
                .bounds
                .iter()
                .any(|(b, c)| *c < cumulative_at(&earlier.bounds, *b));
        if reset {
            return self.clone();
        }
        Buckets {
            bounds: self
                .bounds
                .iter()
                .map(|(b, c)| (*b, c - cumulative_at(&earlier.bounds, *b)))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }
}

/// The cumulative count at `bound`: that of the largest bound `<= bound`, or 0.
fn cumulative_at(bounds: &[(f64, f64)], bound: f64) -> f64 {
    bounds
        .iter()
        .take_while(|(b, _)| *b <= bound)
        .last()
        .map_or(0.0, |(_, c)| *c)
}

/// A quantile estimated from buckets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate, in the histogram's unit.
    pub value: f64,
    /// The rank fell in the `+Inf` bucket: the quantile is above `value`, the highest
    /// finite bound (Prometheus answers `value` too).
    pub above_highest_bound: bool,
}

/// The `q` quantile of cumulative `buckets` (sorted by bound, the last `+Inf`), computed
/// as Prometheus' `histogram_quantile`: the bucket holding rank `q * total` is found and
/// the value interpolated linearly between its lower and upper bound (the lower bound of
/// the first bucket is 0, unless its upper bound is not positive, which is returned
/// as-is). `None` when there are no observations, fewer than two buckets, or no `+Inf`.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<Estimate> {
    let (last_bound, _) = *buckets.last()?;
    if buckets.len() < 2 || last_bound != f64::INFINITY || !(0.0..=1.0).contains(&q) {
        return None;
    }
    // Prometheus forces the cumulative counts to be monotonic before searching.
    let mut counts: Vec<f64> = Vec::with_capacity(buckets.len());
    for (_, c) in buckets {
        counts.push(counts.last().map_or(*c, |prev: &f64| prev.max(*c)));
    }
    let observations = counts[counts.len() - 1];
    if observations <= 0.0 || observations.is_nan() {
        return None;
    }
    let mut rank = q * observations;
    let finite = buckets.len() - 1;
    let b = counts[..finite].partition_point(|c| *c < rank);
    if b == finite {
        return Some(Estimate {
            value: buckets[finite - 1].0,
            above_highest_bound: true,
        });
    }
    let end = buckets[b].0;
    if b == 0 && end <= 0.0 {
        return Some(Estimate {
            value: end,
            above_highest_bound: false,
        });
    }
    let mut start = 0.0;
    let mut count = counts[b];
    if b > 0 {
        start = buckets[b - 1].0;
        count -= counts[b - 1];
        rank -= counts[b - 1];
    }
    Some(Estimate {
        value: start + (end - start) * (rank / count),
        above_highest_bound: false,
    })
}

/// Cumulative totals of one function, summed over all series that name it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionTotals {
    /// Calls that returned normally (`result` other than `error`).
    pub ok: f64,
    /// Calls that failed (`result="error"`).
    pub errors: f64,
    /// Whether `function_calls_total` had a series for this function.
    pub has_calls_counter: bool,
    /// The duration histogram, when exposed.
    pub duration: Option<Buckets>,
}

impl FunctionTotals {
    /// Calls: from the counter when there is one, else the histogram's count.
    fn calls(&self) -> f64 {
        if self.has_calls_counter {
            self.ok + self.errors
        } else {
            self.duration.as_ref().map_or(0.0, |d| d.count)
        }
    }
}

/// Totals per `(function, module)`.
pub type Totals = BTreeMap<(String, String), FunctionTotals>;

/// Folds the function metrics of an exposition into totals per function.
pub fn totals(families: &[MetricFamily]) -> Totals {
    let mut out = Totals::new();
    for family in families {
        let is_calls = family.name == CALLS;
        if !is_calls && family.name != DURATION {
            continue;
        }
        for metric in &family.metrics {
            let function = metric.labels.get("function").unwrap_or("").to_owned();
            let module = metric.labels.get("module").unwrap_or("").to_owned();
            let entry = out.entry((function, module)).or_default();
            match (&metric.value, is_calls) {
                (MetricValue::Counter(c), true) => {
                    add_calls(entry, metric.labels.get("result"), c.value)
                }
                (MetricValue::Unknown(v), true) => {
                    add_calls(entry, metric.labels.get("result"), *v)
                }
                (MetricValue::Histogram(h), false) => {
                    let bounds: Vec<(f64, f64)> = h
                        .buckets
                        .iter()
                        .map(|b| (b.upper_bound, b.cumulative_count))
                        .collect();
                    let count = h
                        .count
                        .or_else(|| bounds.last().map(|(_, c)| *c))
                        .unwrap_or(0.0);
                    let series = Buckets {
                        bounds,
                        sum: h.sum.unwrap_or(0.0),
                        count,
                    };
                    match &mut entry.duration {
                        Some(d) => d.add(&series),
                        None => entry.duration = Some(series),
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn add_calls(entry: &mut FunctionTotals, result: Option<&str>, value: f64) {
    entry.has_calls_counter = true;
    if result == Some("error") {
        entry.errors += value;
    } else {
        entry.ok += value;
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The `function` label.
    pub function: String,
    /// The `module` label.
    pub module: String,
    /// Calls since the functions' processes started (summed over instances).
    pub calls: f64,
    /// Failed calls since start.
    pub errors: f64,
    /// Errors over calls (over the last interval in watch mode); `None` without calls.
    pub error_ratio: Option<f64>,
    /// Mean duration in seconds, `sum / count` (over the last interval in watch mode).
    pub mean_seconds: Option<f64>,
    /// The 95th percentile duration in seconds (over the last interval in watch mode).
    pub p95_seconds: Option<Estimate>,
    /// Calls per second over the last interval (watch mode only).
    pub calls_per_second: Option<f64>,
}

/// The increase of a counter from `before` to `now`; a reset counts `now` whole.
fn increase(before: f64, now: f64) -> f64 {
    if now < before {
        now
    } else {
        now - before
    }
}

/// Rows for one reading (`earlier` is `None`), or for the interval between an earlier
/// reading taken `interval` before `now`. Sorted by calls, most first, then by name.
pub fn rows(now: &Totals, earlier: Option<(&Totals, Duration)>) -> Vec<Row> {
    let empty = FunctionTotals::default();
    let mut rows: Vec<Row> = now
        .iter()
        .map(|((function, module), t)| {
            let (calls, errors, duration, calls_per_second) = match earlier {
                None => (t.calls(), t.errors, t.duration.clone(), None),
                Some((before, interval)) => {
                    let b = before
                        .get(&(function.clone(), module.clone()))
                        .unwrap_or(&empty);
                    let calls = increase(b.calls(), t.calls());
                    let errors = increase(b.errors, t.errors);
                    let duration = match (&t.duration, &b.duration) {
                        (Some(n), Some(e)) => Some(n.since(e)),
                        (n, _) => n.clone(),
                    };
                    let secs = interval.as_secs_f64();
                    let rate = (secs > 0.0).then(|| calls / secs);
                    (calls, errors, duration, rate)
                }
            };
            let counted = duration.as_ref().filter(|d| d.count > 0.0);
            Row {
                function: function.clone(),
                module: module.clone(),
                calls: t.calls(),
                errors: t.errors,
                error_ratio: (calls > 0.0).then(|| errors / calls),
                mean_seconds: counted.map(|d| d.sum / d.count),
                p95_seconds: counted.and_then(|d| histogram_quantile(QUANTILE, &d.bounds)),
                calls_per_second,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.calls
            .total_cmp(&a.calls)
            .then_with(|| a.function.cmp(&b.function))
            .then_with(|| a.module.cmp(&b.module))
    });
    rows
}

/// A number of calls: an integer when it is one.
fn count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A duration in seconds, in the unit that reads best.
pub fn seconds(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if v.abs() < 1e-3 {
        format!("{:.0}µs", v * 1e6)
    } else if v.abs() < 1.0 {
        format!("{:.1}ms", v * 1e3)
    } else {
        format!("{v:.2}s")
    }
}

/// Writes `rows` as an aligned table; `interval` says the rows cover one (watch mode).
pub fn render_table(rows: &[Row], interval: Option<Duration>, out: &mut String) {
    let mut header = vec!["FUNCTION", "MODULE", "CALLS"];
    if interval.is_some() {
        header.push("CALLS/S");
    }
    header.extend(["ERRORS", "ERR%", "MEAN", "P95"]);
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for r in rows {
        let mut line = vec![r.function.clone(), r.module.clone(), count(r.calls)];
        if interval.is_some() {
            line.push(
                r.calls_per_second
                    .map_or("-".to_owned(), |v| format!("{v:.1}")),
            );
        }
        line.push(count(r.errors));
        line.push(
            r.error_ratio
                .map_or("-".to_owned(), |v| format!("{:.2}", v * 100.0)),
        );
        line.push(r.mean_seconds.map_or("-".to_owned(), seconds));
        line.push(r.p95_seconds.map_or("-".to_owned(), |e| {
            let s = seconds(e.value);
            if e.above_highest_bound {
                format!(">{s}")
            } else {
                s
            }
        }));
        cells.push(line);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &cells {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let w = widths[i];
            // Names left-aligned, numbers right-aligned.
            if i < 2 {
                let _ = write!(text, "{cell:<w$}  ");
            } else {
                let _ = write!(text, "{cell:>w$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        let _ = writeln!(out, "(no {CALLS} or {DURATION} series)");
    }
    let _ = match interval {
        Some(i) => writeln!(
            out,
            "\nCALLS and ERRORS are totals; CALLS/S, ERR%, MEAN and P95 cover the last {:.1}s.",
            i.as_secs_f64()
        ),
        None => writeln!(out),
    };
    out.push_str(
        "P95: linear interpolation within the histogram bucket, as Prometheus' \
         histogram_quantile(0.95, ...); >X: above the highest finite bucket X.\n",
    );
}

/// The JSON document for `rows`.
pub fn render_json(url: &str, rows: &[Row], interval: Option<Duration>) -> serde_json::Value {
    serde_json::json!({
        "url": url,
        "interval_seconds": interval.map(|i| i.as_secs_f64()),
        "functions": rows,
    })
}

/// `URL/metrics`, unless `url` already ends with `/metrics`.
pub fn metrics_url(url: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with("/metrics") {
        base.to_owned()
    } else {
        format!("{base}/metrics")
    }
}

fn fetch(agent: &ureq::Agent, url: &str) -> anyhow::Result<Totals> {
    Ok(totals(&fetch_families(agent, url)?))
}

/// Reads and parses the exposition at `url` (text 0.0.4, or OpenMetrics when the
/// server answers with it).
pub fn fetch_families(agent: &ureq::Agent, url: &str) -> anyhow::Result<Vec<MetricFamily>> {
    let mut response = agent
        .get(url)
        .header("Accept", "text/plain;version=0.0.4")
        .call()
        .with_context(|| format!("fetching {url}"))?;
    let status = response.status();
    let format = match response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
    {
        Some(ct) if ct.trim_start().starts_with("application/openmetrics-text") => {
            Format::OpenMetrics
        }
        _ => Format::Text,
    };
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    expfmt::parse(&body, format)
        .map_err(|e| anyhow::anyhow!("{url} is not a valid exposition: {e}"))
}

/// Prints the table (or JSON) once, or refreshes it until Ctrl-C with `--watch`.
pub fn run(args: &FunctionsArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let url = metrics_url(&args.url);
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let Some(every) = args.watch else {
        let rows = rows(&fetch(&agent, &url)?, None);
        if args.json {
            writeln!(out, "{:#}", render_json(&url, &rows, None))?;
        } else {
            let mut text = String::new();
            render_table(&rows, None, &mut text);
            out.write_all(text.as_bytes())?;
        }
        return Ok(());
    };
    if !(every.is_finite() && every >= 0.1) {
        bail!("--watch {every}: the interval must be at least 0.1 seconds");
    }
    let every = Duration::from_secs_f64(every);
    let mut earlier: Option<(Totals, Instant)> = None;
    let mut refreshes = 0u64;
    loop {
        let read_at = Instant::now();
        let reading = fetch(&agent, &url);
        let mut text = String::new();
        match &reading {
            Ok(now) => {
                let interval = earlier.as_ref().map(|(_, at)| read_at - *at);
                let rows = rows(now, earlier.as_ref().map(|(t, at)| (t, read_at - *at)));
                if args.json {
                    let _ = writeln!(text, "{}", render_json(&url, &rows, interval));
                } else {
                    // Home the cursor and clear the screen, then draw.
                    text.push_str("\x1b[H\x1b[2J");
                    let _ = writeln!(
                        text,
                        "{url}  (every {:.1}s, Ctrl-C to stop)\n",
                        every.as_secs_f64()
                    );
                    render_table(&rows, interval, &mut text);
                }
            }
            Err(e) => {
                if args.json {
                    let error = serde_json::json!({ "url": url, "error": format!("{e:#}") });
                    let _ = writeln!(text, "{error}");
                } else {
                    let _ = write!(text, "\x1b[H\x1b[2J{url}\n\nerror: {e:#}\n(retrying)\n");
                }
            }
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
        earlier = reading.ok().map(|t| (t, read_at));
        refreshes += 1;
        if args.iterations.is_some_and(|n| refreshes >= n) {
            return Ok(());
        }
        std::thread::sleep(every.saturating_sub(read_at.elapsed()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn p95_interpolates_within_the_bucket_like_histogram_quantile() {
        // 100 observations; rank 95 falls in (0.05, 0.1], which holds 10 of them with 90
        // below it: 0.05 + (0.1 - 0.05) * (95 - 90) / 10 = 0.075.
        let buckets = [
            (0.005, 10.0),
            (0.01, 30.0),
            (0.025, 70.0),
            (0.05, 90.0),
            (0.1, 100.0),
            (INF, 100.0),
        ];
        let e = histogram_quantile(0.95, &buckets).unwrap();
        assert!(approx(e.value, 0.075), "{e:?}");
        assert!(!e.above_highest_bound);
        // Rank 50 in (0.01, 0.025], 40 observations there, 30 below: 0.01 + 0.015 * 20/40.
        assert!(approx(
            histogram_quantile(0.5, &buckets).unwrap().value,
            0.0175
        ));
        // The first bucket's lower bound is 0: rank 5 of 10 in (0, 0.005].
        assert!(approx(
            histogram_quantile(0.05, &buckets).unwrap().value,
            0.0025
        ));
    }

    #[test]
    fn everything_in_the_inf_bucket_gives_the_highest_finite_bound() {
        let buckets = [(0.005, 0.0), (10.0, 0.0), (INF, 7.0)];
        assert_eq!(
            histogram_quantile(0.95, &buckets),
            Some(Estimate {
                value: 10.0,
                above_highest_bound: true
            })
        );
    }

    #[test]
    fn quantile_edge_cases() {
        assert_eq!(histogram_quantile(0.95, &[(0.1, 0.0), (INF, 0.0)]), None);
        assert_eq!(histogram_quantile(0.95, &[(INF, 3.0)]), None);
        assert_eq!(histogram_quantile(0.95, &[(0.1, 1.0), (1.0, 3.0)]), None);
        assert_eq!(histogram_quantile(0.95, &[]), None);
        // Non-monotonic counts are forced monotonic first, as Prometheus does.
        let e = histogram_quantile(0.5, &[(1.0, 4.0), (2.0, 3.0), (INF, 4.0)]).unwrap();
        assert!(approx(e.value, 0.5), "{e:?}");
        // A non-positive first bound is returned as is.
        let e = histogram_quantile(0.5, &[(-1.0, 4.0), (INF, 4.0)]).unwrap();
        assert!(approx(e.value, -1.0), "{e:?}");
    }

    const EXPOSITION: &str = "\
# TYPE function_calls_total counter
function_calls_total{function=\"load\",module=\"app::db\",result=\"ok\",job=\"a\"} 90
function_calls_total{function=\"load\",module=\"app::db\",result=\"error\",job=\"a\"} 6
function_calls_total{function=\"load\",module=\"app::db\",result=\"ok\",job=\"b\"} 0
function_calls_total{function=\"load\",module=\"app::db\",result=\"error\",job=\"b\"} 4
function_calls_total{function=\"save\",module=\"app::db\",result=\"ok\"} 500
function_calls_total{function=\"save\",module=\"app::db\",result=\"error\"} 0
# TYPE function_calls_duration_seconds histogram
function_calls_duration_seconds_bucket{function=\"load\",module=\"app::db\",job=\"a\",le=\"0.01\"} 30
function_calls_duration_seconds_bucket{function=\"load\",module=\"app::db\",job=\"a\",le=\"0.1\"} 90
function_calls_duration_seconds_bucket{function=\"load\",module=\"app::db\",job=\"a\",le=\"+Inf\"} 96
function_calls_duration_seconds_sum{function=\"load\",module=\"app::db\",job=\"a\"} 4.8
function_calls_duration_seconds_count{function=\"load\",module=\"app::db\",job=\"a\"} 96
function_calls_duration_seconds_bucket{function=\"load\",module=\"app::db\",job=\"b\",le=\"0.05\"} 0
function_calls_duration_seconds_bucket{function=\"load\",module=\"app::db\",job=\"b\",le=\"+Inf\"} 4
function_calls_duration_seconds_sum{function=\"load\",module=\"app::db\",job=\"b\"} 5.2
function_calls_duration_seconds_count{function=\"load\",module=\"app::db\",job=\"b\"} 4
function_calls_duration_seconds_bucket{function=\"save\",module=\"app::db\",le=\"0.01\"} 500
function_calls_duration_seconds_bucket{function=\"save\",module=\"app::db\",le=\"+Inf\"} 500
function_calls_duration_seconds_sum{function=\"save\",module=\"app::db\"} 1
function_calls_duration_seconds_count{function=\"save\",module=\"app::db\"} 500
# TYPE other_total counter
other_total{function=\"x\",module=\"y\"} 1
";

    fn parse(text: &str) -> Totals {
        totals(&expfmt::parse(text.as_bytes(), Format::Text).unwrap())
    }

    #[test]
    fn rows_sum_over_other_labels_and_sort_by_calls() {
        let rows = rows(&parse(EXPOSITION), None);
        assert_eq!(rows.len(), 2, "{rows:#?}");
        let (save, load) = (&rows[0], &rows[1]);
        assert_eq!(
            (save.function.as_str(), save.calls, save.errors),
            ("save", 500.0, 0.0)
        );
        assert_eq!(save.error_ratio, Some(0.0));
        assert!(approx(save.mean_seconds.unwrap(), 0.002));
        assert_eq!(
            (load.function.as_str(), load.module.as_str()),
            ("load", "app::db")
        );
        assert_eq!((load.calls, load.errors), (100.0, 10.0));
        assert!(approx(load.error_ratio.unwrap(), 0.1));
        assert!(approx(load.mean_seconds.unwrap(), 0.1));
        // Merged layouts: le 0.01 → 30, 0.05 → 30 (b has 0 there), 0.1 → 90, +Inf → 100.
        // Rank 95 is in +Inf: the highest finite bound, flagged.
        assert_eq!(
            load.p95_seconds,
            Some(Estimate {
                value: 0.1,
                above_highest_bound: true
            })
        );
        assert_eq!(load.calls_per_second, None);
    }

    #[test]
    fn merged_layouts_keep_every_bound() {
        let mut a = Buckets {
            bounds: vec![(0.01, 3.0), (0.1, 5.0), (INF, 6.0)],
            sum: 1.0,
            count: 6.0,
        };
        a.add(&Buckets {
            bounds: vec![(0.05, 2.0), (INF, 2.0)],
            sum: 0.5,
            count: 2.0,
        });
        assert_eq!(a.bounds, [(0.01, 3.0), (0.05, 5.0), (0.1, 7.0), (INF, 8.0)]);
        assert_eq!((a.sum, a.count), (1.5, 8.0));
    }

    #[test]
    fn watch_rows_cover_the_interval() {
        let before = parse(EXPOSITION);
        let later = EXPOSITION
            .replace("result=\"ok\"} 500", "result=\"ok\"} 700")
            .replace("le=\"0.01\"} 500", "le=\"0.01\"} 600")
            .replace("le=\"+Inf\"} 500", "le=\"+Inf\"} 700")
            .replace("module=\"app::db\"} 1\n", "module=\"app::db\"} 21\n")
            .replace("module=\"app::db\"} 500", "module=\"app::db\"} 700");
        let rows = rows(&parse(&later), Some((&before, Duration::from_secs(2))));
        let save = &rows[0];
        assert_eq!((save.calls, save.calls_per_second), (700.0, Some(100.0)));
        // 200 calls in the interval taking 20 s: mean 0.1 s; 100 of them over 0.01 s.
        assert!(approx(save.mean_seconds.unwrap(), 0.1));
        assert_eq!(save.p95_seconds.map(|e| e.above_highest_bound), Some(true));
        // No calls of load in the interval: no ratio, no latency.
        let load = &rows[1];
        assert_eq!(load.calls_per_second, Some(0.0));
        assert_eq!(
            (load.error_ratio, load.mean_seconds, load.p95_seconds),
            (None, None, None)
        );
    }

    #[test]
    fn a_counter_reset_counts_the_new_value() {
        assert_eq!(increase(10.0, 3.0), 3.0);
        assert_eq!(increase(10.0, 13.0), 3.0);
        let earlier = Buckets {
            bounds: vec![(0.1, 5.0), (INF, 9.0)],
            sum: 3.0,
            count: 9.0,
        };
        let now = Buckets {
            bounds: vec![(0.1, 1.0), (INF, 2.0)],
            sum: 0.5,
            count: 2.0,
        };
        assert_eq!(now.since(&earlier), now);
    }

    #[test]
    fn table_and_json() {
        let rows = rows(&parse(EXPOSITION), None);
        let mut text = String::new();
        render_table(&rows, None, &mut text);
        let lines: Vec<&str> = text.lines().collect();
        // save's p95: rank 475 of 500, all in (0, 0.01]: 0.01 * 475 / 500 = 9.5 ms.
        assert_eq!(
            lines[0],
            "FUNCTION  MODULE   CALLS  ERRORS   ERR%     MEAN       P95"
        );
        assert_eq!(
            lines[1],
            "save      app::db    500       0   0.00    2.0ms     9.5ms"
        );
        assert_eq!(
            lines[2],
            "load      app::db    100      10  10.00  100.0ms  >100.0ms"
        );
        assert!(text.contains("histogram_quantile(0.95"), "{text}");
        let json = render_json("u", &rows, None);
        assert_eq!(json["functions"][1]["p95_seconds"]["value"], 0.1);
        assert_eq!(
            json["functions"][1]["p95_seconds"]["above_highest_bound"],
            true
        );
        assert_eq!(json["functions"][0]["calls"], 500.0);
        assert!(json["interval_seconds"].is_null());
    }

    #[test]
    fn units_and_urls() {
        assert_eq!(seconds(0.000_42), "420µs");
        assert_eq!(seconds(0.0123), "12.3ms");
        assert_eq!(seconds(2.5), "2.50s");
        assert_eq!(metrics_url("http://h:1/"), "http://h:1/metrics");
        assert_eq!(metrics_url("http://h:1/metrics"), "http://h:1/metrics");
    }
}
