//! Fuzz target: the OpenMetrics parser never panics, and what it accepts survives encode → parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_model::expfmt::{encode, parse, Format};

fuzz_target!(|data: &[u8]| {
    if let Ok(families) = parse(data, Format::OpenMetrics) {
        let mut out = Vec::new();
        encode(&families, Format::OpenMetrics, &mut out);
        match parse(&out, Format::OpenMetrics) {
            Ok(again) => assert_eq!(format!("{families:?}"), format!("{again:?}")),
            Err(e) => panic!("encoder output rejected: {e}"),
        }
    }
});
