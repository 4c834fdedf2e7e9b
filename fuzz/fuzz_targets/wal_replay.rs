//! Fuzz target: reading arbitrary bytes as a WAL segment never panics, stops at a frame
//! boundary, and what it read is exactly what the good prefix re-reads, each record a fixed
//! point of encode → decode.
//!
//! The first input byte is a mode: when odd, the CRC of every frame whose length fits is
//! recomputed before reading, so the fuzzer reaches the record decoders instead of spending
//! its time on checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tally_tsdb::wal::{Record, SegmentReader, HEADER_LEN};

fn fix_crcs(bytes: &mut [u8]) {
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER_LEN) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let Some(payload) = bytes.get(at + HEADER_LEN..at + HEADER_LEN + len) else {
            return;
        };
        let crc = crc32fast::hash(payload);
        bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at += HEADER_LEN + len.max(1);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let mut data = rest.to_vec();
    if mode & 1 == 1 {
        fix_crcs(&mut data);
    }

    let mut reader = SegmentReader::new(&data[..], 1, data.len() as u64);
    let mut records = Vec::new();
    while let Ok(Some(record)) = reader.next_record() {
        records.push(record);
    }
    let good = usize::try_from(reader.offset()).expect("offset fits");
    assert!(good <= data.len());

    let mut again = SegmentReader::new(&data[..good], 1, good as u64);
    for record in &records {
        assert_eq!(again.next_record().expect("good prefix re-reads").as_ref(), Some(record));
    }
    assert!(again.next_record().expect("clean end").is_none());

    let mut buf = Vec::new();
    for record in &records {
        buf.clear();
        record.encode(&mut buf);
        assert_eq!(&Record::decode(&buf).expect("re-encoded record decodes"), record);
    }
});
