//! A queue worker measured by `tally::messages::MessageMetrics`.
//!
//! ```text
//! cargo run --example worker
//! ```
//!
//! A producer thread puts messages on an in-memory queue (a std channel standing in for
//! Kafka, SQS or RabbitMQ) and counts `messages_produced_total`; worker threads take them
//! off, process them inside `MessageMetrics::process`, which counts
//! `messages_consumed_total` and, for failures, `message_errors_total{error_type}` with
//! the type the error names. Some payloads do not decode and some "downstream calls"
//! time out, so both error types appear. The exposition is printed at the end.

// An example's output is the point of it.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::fmt;
use std::num::ParseIntError;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;

use tally::messages::MessageMetrics;
use tally::Registry;

const MESSAGES: u64 = 50;
const WORKERS: usize = 4;

/// One message on the queue.
struct Message {
    id: u64,
    payload: String,
}

/// Why processing a message failed. [`kind`](Self::kind) is the `error_type` label: a
/// fixed word per variant, never the error's text.
#[derive(Debug)]
enum ProcessError {
    Decode(ParseIntError),
    Timeout { id: u64 },
}

impl ProcessError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Decode(_) => "decode",
            Self::Timeout { .. } => "timeout",
        }
    }
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "payload is not a number: {e}"),
            Self::Timeout { id } => write!(f, "downstream call for message {id} timed out"),
        }
    }
}

/// The payload of message `id`: a number, except every 7th, which is garbage.
fn payload(id: u64) -> String {
    if id % 7 == 3 {
        format!("garbage-{id}")
    } else {
        (id * 3).to_string()
    }
}

/// Processes one message: decodes it, then "calls downstream", which times out for
/// every 11th message.
fn handle(message: &Message) -> Result<u64, ProcessError> {
    let value: u64 = message.payload.parse().map_err(ProcessError::Decode)?;
    if message.id % 11 == 5 {
        return Err(ProcessError::Timeout { id: message.id });
    }
    Ok(value * 2)
}

/// Produces `messages` messages, consumes them with `workers` threads, and returns the
/// sum of the successful results.
fn run(registry: &Registry, messages: u64, workers: usize) -> Result<u64, tally::RegistryError> {
    let metrics = MessageMetrics::new(registry)?;
    let (sender, receiver) = sync_channel::<Message>(16);
    let receiver: Arc<Mutex<Receiver<Message>>> = Arc::new(Mutex::new(receiver));

    let producer = {
        let metrics = metrics.clone();
        thread::spawn(move || {
            for id in 0..messages {
                let message = Message {
                    id,
                    payload: payload(id),
                };
                if sender.send(message).is_err() {
                    break; // every worker is gone
                }
                metrics.produced();
            }
            // Dropping the sender closes the queue: workers stop when it is empty.
        })
    };

    let consumers: Vec<_> = (0..workers)
        .map(|_| {
            let (metrics, receiver) = (metrics.clone(), receiver.clone());
            thread::spawn(move || {
                let mut sum = 0;
                loop {
                    // A poisoned lock means another worker panicked: stop this one too.
                    let next = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => break,
                    };
                    let Ok(message) = next else { break };
                    match metrics.process(|| handle(&message), ProcessError::kind) {
                        Ok(value) => sum += value,
                        // A real worker would also retry or dead-letter the message. The
                        // error's text goes to the log; only its kind goes to the metrics.
                        Err(e) => eprintln!("message {}: {e}", message.id),
                    }
                }
                sum
            })
        })
        .collect();

    let _ = producer.join();
    Ok(consumers.into_iter().map(|c| c.join().unwrap_or(0)).sum())
}

fn main() -> Result<(), Box<dyn Error>> {
    let registry = tally::default_registry();
    let sum = run(registry, MESSAGES, WORKERS)?;
    println!("processed {MESSAGES} messages with {WORKERS} workers (sum of results {sum})\n");
    print!("{}", registry.encode_text());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_message_and_each_error_type() {
        let registry = Registry::new();
        run(&registry, 100, 3).unwrap();
        let decode = (0..100).filter(|id| id % 7 == 3).count();
        let timeout = (0..100).filter(|id| id % 7 != 3 && id % 11 == 5).count();
        let expected = format!(
            "# TYPE messages_produced_total counter\n\
             messages_produced_total 100\n\
             # TYPE messages_consumed_total counter\n\
             messages_consumed_total 100\n\
             # TYPE message_errors_total counter\n\
             message_errors_total{{error_type=\"decode\"}} {decode}\n\
             message_errors_total{{error_type=\"timeout\"}} {timeout}\n"
        );
        tally::testing::assert_exposition_with(
            &registry,
            &expected,
            tally::testing::ExpectMode::Subset,
        );
    }
}
