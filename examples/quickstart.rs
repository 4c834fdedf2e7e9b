//! The quickstart: `#[tally::measured]` on a function that succeeds and on one that fails,
//! and a `Pusher` shipping the metrics to a gateway.
//!
//! ```text
//! # any gateway: tally's own server, or Prometheus' Pushgateway:
//! prometheus-pushgateway --web.listen-address=127.0.0.1:9091 &
//! TALLY_PUSH_URL=http://127.0.0.1:9091 TALLY_JOB=quickstart cargo run --example quickstart
//! curl -s 127.0.0.1:9091/metrics | grep function_calls_total
//! ```
//!
//! The pusher is configured by the `TALLY_*` environment (`tally::Pusher::from_env`
//! lists the variables); when `TALLY_PUSH_URL` is not set it pushes to
//! `http://127.0.0.1:9091`, and when `TALLY_JOB` is not set the job is `quickstart`.
//!
//! Each round looks a price up (`lookup_price` always succeeds) and charges a card
//! (`charge_card` always fails: the card is declined). `#[tally::measured]` records every
//! call in `function_calls_total{function, module, result}`,
//! `function_calls_duration_seconds` and `function_calls_concurrent`. The pusher pushes in
//! the background while the rounds run; at the end `shutdown` makes the final push, and
//! the program prints what became of it and exits: status 0 when every gateway took it,
//! 1 otherwise (the state is then lost, or spooled when `TALLY_SPOOL_DIR` is set).

// An example's output is the point of it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::fmt;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use tally::{FinalOutcome, PusherBuilder, ShutdownReport};

const DEFAULT_URL: &str = "http://127.0.0.1:9091";
const DEFAULT_JOB: &str = "quickstart";
const ROUNDS: u32 = 5;
/// How long the final push may take before the state is spooled or given up.
const FINAL_PUSH_DEADLINE: Duration = Duration::from_secs(5);

/// Looks up the price of an item. Always succeeds: counted as `result="ok"`.
#[tally::measured]
fn lookup_price(item: u32) -> u32 {
    thread::sleep(Duration::from_millis(10));
    100 + 7 * item
}

/// The payment provider's refusal.
#[derive(Debug)]
struct CardDeclined {
    amount: u32,
}

impl fmt::Display for CardDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "card declined for {} cents", self.amount)
    }
}

impl Error for CardDeclined {}

/// Charges a card. Always fails: an `Err` is counted as `result="error"`.
#[tally::measured]
fn charge_card(amount: u32) -> Result<(), CardDeclined> {
    thread::sleep(Duration::from_millis(25));
    Err(CardDeclined { amount })
}

/// Runs the rounds while `builder`'s pusher pushes, then makes the final push.
fn run(builder: PusherBuilder) -> Result<ShutdownReport, Box<dyn Error>> {
    let pusher = builder.start()?;
    println!("pushing to {}", pusher.gateways().join(", "));
    for round in 1..=ROUNDS {
        let price = lookup_price(round);
        match charge_card(price) {
            Ok(()) => println!("round {round}: charged {price}"),
            Err(e) => println!("round {round}: {e}"),
        }
    }
    Ok(pusher.shutdown(FINAL_PUSH_DEADLINE))
}

/// The pusher configured by the `TALLY_*` environment, with this example's defaults for
/// the gateway and the job.
fn builder_from_env() -> Result<PusherBuilder, Box<dyn Error>> {
    let mut builder = PusherBuilder::from_env()?;
    if std::env::var_os("TALLY_PUSH_URL").is_none() {
        builder = builder.url(DEFAULT_URL);
    }
    if std::env::var_os("TALLY_JOB").is_none() {
        builder = builder.job(DEFAULT_JOB);
    }
    Ok(builder)
}

fn main() -> ExitCode {
    let report = match builder_from_env().and_then(run) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (gateway, outcome) in &report.gateways {
        match outcome {
            FinalOutcome::Pushed => println!("final push to {gateway}: done"),
            FinalOutcome::Spooled(path) => {
                println!(
                    "final push to {gateway}: failed, spooled to {}",
                    path.display()
                )
            }
            FinalOutcome::Lost { reason } => {
                println!("final push to {gateway}: failed, lost: {reason}")
            }
        }
    }
    if report.all_pushed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc::{channel, Sender};

    use super::*;

    /// Reads one request (head and `Content-Length` body), answers `200`, and sends
    /// `(request line, body)` to `seen`.
    fn answer(mut stream: TcpStream, seen: &Sender<(String, String)>) {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head_end, length) = loop {
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed mid-request");
            data.extend_from_slice(&chunk[..n]);
            let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            break (end + 4, length);
        };
        while data.len() < head_end + length {
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed mid-body");
            data.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&data).into_owned();
        let request_line = text.lines().next().unwrap_or_default().to_owned();
        let body = text[head_end..head_end + length].to_owned();
        // Recorded before answering, so the push is in the channel by the time the
        // pusher has its answer.
        let _ = seen.send((request_line, body));
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
    }

    #[test]
    fn pushes_the_measured_calls_and_exits_after_the_final_push() {
        let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", gateway.local_addr().unwrap());
        let (seen, pushes) = channel();
        thread::spawn(move || {
            for stream in gateway.incoming() {
                answer(stream.unwrap(), &seen);
            }
        });

        let builder = tally::Pusher::builder()
            .url(url)
            .job("quickstart-test")
            .instance("test");
        let report = run(builder).unwrap();
        assert!(report.all_pushed(), "{report:?}");

        // The final push is the last one the gateway answered.
        let (request_line, body) = pushes.try_iter().last().unwrap();
        assert!(
            request_line.starts_with("PUT /metrics/job/quickstart-test/instance/test "),
            "{request_line}"
        );
        let rounds = ROUNDS.to_string();
        tally::testing::assert_exposition_with(
            &body,
            &format!(
                "# TYPE function_calls_total counter\n\
                 function_calls_total{{function=\"charge_card\",module=\"quickstart\",result=\"error\"}} {rounds}\n\
                 function_calls_total{{function=\"charge_card\",module=\"quickstart\",result=\"ok\"}} 0\n\
                 function_calls_total{{function=\"lookup_price\",module=\"quickstart\",result=\"ok\"}} {rounds}\n\
                 function_calls_total{{function=\"lookup_price\",module=\"quickstart\",result=\"error\"}} 0\n"
            ),
            tally::testing::ExpectMode::Subset,
        );
    }
}
