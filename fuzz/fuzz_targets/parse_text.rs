//! Fuzz target: the Text parser never panics, and what it accepts survives encode → parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_model::expfmt::{encode, parse, Format};

fuzz_target!(|data: &[u8]| {
    if let Ok(families) = parse(data, Format::Text) {
        let mut out = Vec::new();
        encode(&families, Format::Text, &mut out);
        match parse(&out, Format::Text) {
            Ok(again) => assert_eq!(format!("{families:?}"), format!("{again:?}")),
            Err(e) => panic!("encoder output rejected: {e}"),
        }
    }
});
