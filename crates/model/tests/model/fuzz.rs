//! Bounded fuzzing of the parser with proptest, run by the test command.
//!
//! Two properties: no input, however hostile, makes the parser panic; and whatever it
//! accepts is a fixed point of encode-then-parse (the encoder writes back what was read,
//! and the parser reads the encoder's output). The number of cases per property is
//! `TALLY_FUZZ_CASES` (default 3000), so the run is bounded in count and time. For longer,
//! coverage-guided runs use the cargo-fuzz targets in `fuzz/`.

use proptest::prelude::*;
use tally_model::expfmt::{self, Format};

fn cases() -> u32 {
    std::env::var("TALLY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

const SEED_TEXT: &str = "# HELP http_requests_total Requests \\\\ served.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"GET\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"POST\",code=\"400\"} 3\n\
# TYPE lat_seconds histogram\n\
lat_seconds_bucket{le=\"0.05\"} 24054\n\
lat_seconds_bucket{le=\"0.1\"} 33444\n\
lat_seconds_bucket{le=\"+Inf\"} 144320\n\
lat_seconds_sum 53423\n\
lat_seconds_count 144320\n\
# TYPE rpc summary\n\
rpc{quantile=\"0.5\"} 4773\n\
rpc_sum 1.7560473e+07\n\
rpc_count 2693\n\
{\"utf8.name\",\"a.b\"=\"x\\ny\"} NaN\n\
temp -Inf\n";

const SEED_OPENMETRICS: &str = "# TYPE acme_http_router_request_seconds histogram\n\
# UNIT acme_http_router_request_seconds seconds\n\
# HELP acme_http_router_request_seconds Latency \\\"quoted\\\".\n\
acme_http_router_request_seconds_bucket{path=\"/api\",le=\"0.1\"} 5 # {trace_id=\"KOO5S4vxi0o\"} 0.067 1520879607.789\n\
acme_http_router_request_seconds_bucket{path=\"/api\",le=\"+Inf\"} 7\n\
acme_http_router_request_seconds_sum{path=\"/api\"} 1.5\n\
acme_http_router_request_seconds_count{path=\"/api\"} 7\n\
acme_http_router_request_seconds_created{path=\"/api\"} 1520430000.123\n\
# TYPE jobs counter\n\
jobs_total 3 1520879607.789 # {id=\"1\"} 1\n\
# TYPE build info\n\
build_info{version=\"1.2\"} 1\n\
# TYPE state stateset\n\
state{state=\"on\"} 1\n\
state{state=\"off\"} 0\n\
# EOF\n";

/// A byte that is likely to matter to the grammar, or any byte.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"{}\"\\=, \t\n#_:.+-eEInNaf0123456789\xff\xc3".to_vec()),
        any::<u8>(),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Replace(i, b) if !bytes.is_empty() => bytes[i % len] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            Mutation::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
            Mutation::Duplicate(i, n) if !bytes.is_empty() => {
                let start = i % len;
                let end = (start + n).min(bytes.len());
                let chunk = bytes[start..end].to_vec();
                bytes.splice(start..start, chunk);
            }
            _ => {}
        }
    }
    bytes
}

/// Parses, and when accepted checks encode → parse gives the same families.
fn check(bytes: &[u8], format: Format) -> Result<(), TestCaseError> {
    let Ok(families) = expfmt::parse(bytes, format) else {
        return Ok(());
    };
    let mut out = Vec::new();
    expfmt::encode(&families, format, &mut out);
    let again = expfmt::parse(&out, format).map_err(|e| {
        TestCaseError::fail(format!(
            "encoder output rejected: {e}\ninput:\n{}\noutput:\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&out)
        ))
    })?;
    // Debug formatting compares NaN as equal to NaN, which `PartialEq` does not.
    prop_assert_eq!(format!("{families:?}"), format!("{again:?}"));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(interesting_byte(), 0..400)) {
        check(&bytes, Format::Text)?;
        check(&bytes, Format::OpenMetrics)?;
    }

    #[test]
    fn mutated_text_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        check(&mutate(SEED_TEXT, &mutations), Format::Text)?;
    }

    #[test]
    fn mutated_openmetrics_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        check(&mutate(SEED_OPENMETRICS, &mutations), Format::OpenMetrics)?;
    }
}

#[test]
fn seeds_are_valid() {
    // The mutation tests only explore deep paths if their seeds parse.
    assert_eq!(
        expfmt::parse(SEED_TEXT.as_bytes(), Format::Text)
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        expfmt::parse(SEED_OPENMETRICS.as_bytes(), Format::OpenMetrics)
            .unwrap()
            .len(),
        4
    );
}
