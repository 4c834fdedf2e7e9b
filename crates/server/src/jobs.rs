//! [`Supervisor`]: background maintenance jobs (TSDB checkpoints and retention, the
//! history sampler) run on their intervals, retried with backoff when they fail, and
//! measured.
//!
//! Each job is a blocking function run on tokio's blocking pool, one run at a time. A
//! failed run is retried after a backoff that doubles from one second up to the job's
//! interval; a successful run waits one interval. Every run counts in
//! `tally_job_runs_total{job,result}` and `tally_job_duration_seconds{job}`, and a success
//! sets `tally_job_last_success_timestamp_seconds{job}`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tally::{Counter, Family, Gauge, Histogram, Registry, RegistryError};
use tokio::task::JoinHandle;

/// What a job's run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobRun {
    /// It did its work (counted and timed).
    Done,
    /// There was nothing to do yet (a job polled more often than it works); not counted.
    Skipped,
}

/// A job's body: returns a short description of a failure.
pub type JobFn = Arc<dyn Fn() -> Result<JobRun, String> + Send + Sync>;

/// The job metrics, shared by every job.
#[derive(Debug, Clone)]
pub struct JobMetrics {
    runs: Family<Counter, 2>,
    duration: Family<Histogram, 1>,
    last_success: Family<Gauge, 1>,
}

impl JobMetrics {
    /// Registers the job metrics in `r`.
    pub fn new(r: &Registry) -> Result<Self, RegistryError> {
        Ok(Self {
            runs: r.counter_family(
                "tally_job_runs",
                "Background job runs, by job and result (ok, error).",
                ["job", "result"],
            )?,
            duration: r.histogram_family(
                "tally_job_duration_seconds",
                "Background job run durations.",
                ["job"],
                &[0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0],
            )?,
            last_success: r.gauge_family(
                "tally_job_last_success_timestamp_seconds",
                "When each background job last succeeded.",
                ["job"],
            )?,
        })
    }
}

/// The running jobs; dropping it (or [`Supervisor::stop`]) stops them between runs.
#[derive(Debug, Default)]
pub struct Supervisor {
    tasks: Vec<JoinHandle<()>>,
}

impl Supervisor {
    /// No jobs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `job` named `name`, first run after one `interval`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        interval: Duration,
        metrics: JobMetrics,
        job: JobFn,
    ) {
        self.tasks.push(tokio::spawn(async move {
            let mut wait = interval;
            loop {
                tokio::time::sleep(wait).await;
                wait = match run_once(name, &metrics, job.clone()).await {
                    Ok(()) => interval,
                    Err(e) => {
                        let backoff = next_backoff(wait, interval);
                        tracing::warn!(job = name, error = %e, retry_in = ?backoff, "job failed");
                        backoff
                    }
                };
            }
        }));
    }

    /// Stops every job (a run in progress finishes on the blocking pool).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The wait after a failure: one second after a success, doubling after each further
/// failure, never more than the interval.
fn next_backoff(previous: Duration, interval: Duration) -> Duration {
    let one = Duration::from_secs(1).min(interval);
    if previous >= interval {
        one
    } else {
        (previous * 2).min(interval)
    }
}

/// Runs a job once on the blocking pool and records it (unless it skipped).
pub async fn run_once(name: &'static str, metrics: &JobMetrics, job: JobFn) -> Result<(), String> {
    let start = Instant::now();
    let result = match tokio::task::spawn_blocking(move || job()).await {
        Ok(Ok(JobRun::Skipped)) => return Ok(()),
        Ok(Ok(JobRun::Done)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(format!("job panicked or was cancelled: {e}")),
    };
    metrics
        .duration
        .with(&[name])
        .observe(start.elapsed().as_secs_f64());
    let label = if result.is_ok() { "ok" } else { "error" };
    metrics.runs.with(&[name, label]).inc();
    if result.is_ok() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics.last_success.with(&[name]).set(now);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_up_to_the_interval() {
        let i = Duration::from_secs(60);
        let mut w = i;
        let mut seen = Vec::new();
        for _ in 0..8 {
            w = next_backoff(w, i);
            seen.push(w.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn failing_job_is_retried_and_counted() {
        let registry = Registry::new();
        let metrics = JobMetrics::new(&registry).unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let job: JobFn = Arc::new(move || {
            // Fails twice, then succeeds.
            if c.fetch_add(1, Ordering::SeqCst) < 2 {
                Err("disk full".into())
            } else {
                Ok(JobRun::Done)
            }
        });
        let mut sup = Supervisor::new();
        sup.spawn("test", Duration::from_secs(60), metrics, job);
        // 60 s to the first run, then retries after 1 s and 2 s: three runs by 64 s.
        for _ in 0..64 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tokio::task::yield_now().await;
        }
        sup.stop();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let mut text = Vec::new();
        tally_model::expfmt::encode(
            &registry.gather(),
            tally_model::expfmt::Format::Text,
            &mut text,
        );
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(r#"tally_job_runs_total{job="test",result="error"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tally_job_runs_total{job="test",result="ok"} 1"#),
            "{text}"
        );
    }
}
