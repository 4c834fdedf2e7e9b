//! The common request decoded without an allocation per label.
//!
//! `prost` decodes every label of every sample into two owned `String`s: with Prometheus'
//! one `TimeSeries` per sample, about twenty allocations per sample, all freed again a
//! moment later. They cost ingest time and, spread over the threads that decode requests,
//! they fragment the heap (issue 5's resident-memory target). [`decode`] walks the wire
//! format once, borrowing names and values from the request, and allocates only the
//! label set and the samples of each series.
//!
//! It handles only the plainest shape: series of labels and samples, each field at most
//! once, no metadata, exemplars or histograms. Anything else — and anything the
//! validation would refuse — returns `None`, and the request goes through `prost` and the
//! full validation, which produce the same batch or the error a client sees. So this
//! path never has to reproduce an error message.

#[cfg(doc)]
use tally_model::Labels;
use tally_model::Sample;

use super::decode::{Batch, SeriesLabels};
use super::scan::Shape;
use super::RemoteWriteConfig;

/// Protobuf wire types used here.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

/// A cursor over one message's bytes. Every read returns `None` past the end.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// A varint of at most 64 bits (a tenth byte above 1 would overflow: `None`).
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos)?;
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    /// A field key: number and wire type.
    fn key(&mut self) -> Option<(u64, u8)> {
        let key = self.varint()?;
        Some((key >> 3, (key & 7) as u8))
    }

    /// A length-delimited payload.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn fixed64(&mut self) -> Option<u64> {
        let end = self.pos.checked_add(8)?;
        let bytes: [u8; 8] = self.buf.get(self.pos..end)?.try_into().ok()?;
        self.pos = end;
        Some(u64::from_le_bytes(bytes))
    }
}

/// The batch `prost` and the validation would produce for `raw`, when `raw` has the
/// plain shape and passes; otherwise `None` (decode it the general way). Label pairs are
/// borrowed from `raw`, sorted and validated as a [`Labels`] would be, but no label set
/// is built: the store builds one only for a series it does not hold yet.
pub(super) fn decode<'a>(
    raw: &'a [u8],
    shape: &Shape,
    config: &RemoteWriteConfig,
) -> Option<Batch<'a>> {
    if shape.metadata > 0 || shape.exemplars > 0 || shape.histograms.0 > 0 {
        return None;
    }
    let mut batch = Batch {
        series: Vec::with_capacity(shape.series),
        pairs: Vec::new(),
        samples: shape.samples,
        exemplars: 0,
        metadata: Vec::new(),
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut request = Cursor::new(raw);
    while !request.done() {
        if request.key()? != (1, LEN) {
            return None;
        }
        let mut series = Cursor::new(request.bytes()?);
        pairs.clear();
        let mut samples = Vec::new();
        while !series.done() {
            match series.key()? {
                (1, LEN) => pairs.push(label(series.bytes()?)?),
                (2, LEN) => samples.push(sample(series.bytes()?)?),
                _ => return None,
            }
        }
        let range = valid_label_set(&mut pairs, &mut batch.pairs, config)?;
        batch.series.push((SeriesLabels::Pairs(range), samples));
    }
    Some(batch)
}

/// Sorts `pairs` by name and, when they make a valid label set with a metric name and
/// every name and value is within the length limit, appends those with non-empty values
/// to `out` (what [`Labels`] keeps) and returns where they are. `None` for anything the
/// general validation would refuse.
fn valid_label_set<'a>(
    pairs: &mut [(&'a str, &'a str)],
    out: &mut Vec<(&'a str, &'a str)>,
    config: &RemoteWriteConfig,
) -> Option<std::ops::Range<usize>> {
    if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    let mut previous: Option<&str> = None;
    for (name, value) in pairs.iter() {
        let too_long = name.len().max(value.len()) > config.max_label_length;
        if name.is_empty() || previous == Some(*name) || too_long {
            return None;
        }
        previous = Some(name);
    }
    let start = out.len();
    out.extend(pairs.iter().filter(|(_, value)| !value.is_empty()));
    let named = out[start..].iter().any(|(name, _)| *name == "__name__");
    if !named {
        out.truncate(start);
        return None;
    }
    Some(start..out.len())
}

/// A `Label` with each field at most once (absent ones are empty, as in proto3).
fn label(buf: &[u8]) -> Option<(&str, &str)> {
    let mut c = Cursor::new(buf);
    let (mut name, mut value) = (None, None);
    while !c.done() {
        let (number, wire) = c.key()?;
        if wire != LEN {
            return None;
        }
        let s = std::str::from_utf8(c.bytes()?).ok()?;
        match number {
            1 if name.is_none() => name = Some(s),
            2 if value.is_none() => value = Some(s),
            _ => return None,
        }
    }
    Some((name.unwrap_or(""), value.unwrap_or("")))
}

/// A `Sample` with each field at most once (absent ones are 0, as in proto3).
fn sample(buf: &[u8]) -> Option<Sample> {
    let mut c = Cursor::new(buf);
    let (mut value, mut timestamp) = (None, None);
    while !c.done() {
        match c.key()? {
            (1, FIXED64) if value.is_none() => value = Some(f64::from_bits(c.fixed64()?)),
            (2, VARINT) if timestamp.is_none() => timestamp = Some(c.varint()? as i64),
            _ => return None,
        }
    }
    Some(Sample::new(timestamp.unwrap_or(0), value.unwrap_or(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::{self, WriteRequest};
    use crate::remote_write::scan::scan;
    use prost::Message as _;

    /// A series as the tests write it: label pairs and `(timestamp, value)` samples.
    type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

    fn request(series: &[TestSeries<'_>]) -> Vec<u8> {
        WriteRequest {
            timeseries: series
                .iter()
                .map(|(labels, samples)| proto::test_series(labels, samples))
                .collect(),
            metadata: vec![],
        }
        .encode_to_vec()
    }

    fn fast(raw: &[u8]) -> Option<Batch<'_>> {
        decode(raw, &scan(raw).unwrap(), &RemoteWriteConfig::default())
    }

    #[test]
    fn plain_requests_decode_as_prost_does() {
        let raw = request(&[
            (
                &[("job", "a"), ("__name__", "up"), ("empty", "")],
                &[(-5, 1.5), (0, 0.0)],
            ),
            (&[("__name__", "x")], &[(1_700_000_000_000, f64::NAN)]),
            (&[("__name__", "none")], &[]),
        ]);
        let got = fast(&raw).unwrap();
        let want =
            super::super::decode::decode_general(&raw, &RemoteWriteConfig::default()).unwrap();
        assert_eq!(got.samples, 3);
        assert_eq!(got.series.len(), want.series.len());
        for ((gl, gs), (wl, ws)) in got.series.iter().zip(&want.series) {
            assert!(matches!(gl, SeriesLabels::Pairs(_)), "{gl:?}");
            assert_eq!(got.labels(gl), want.labels(wl));
            let bits = |s: &[Sample]| -> Vec<(i64, u64)> {
                s.iter()
                    .map(|x| (x.timestamp_ms, x.value.to_bits()))
                    .collect()
            };
            assert_eq!(bits(gs), bits(ws));
        }
    }

    fn same(got: &Batch<'_>, want: &Batch<'_>) -> bool {
        let bits = |s: &[Sample]| -> Vec<(i64, u64)> {
            s.iter()
                .map(|x| (x.timestamp_ms, x.value.to_bits()))
                .collect()
        };
        got.samples == want.samples
            && got.series.len() == want.series.len()
            && got
                .series
                .iter()
                .zip(&want.series)
                .all(|((gl, gs), (wl, ws))| {
                    got.labels(gl) == want.labels(wl) && bits(gs) == bits(ws)
                })
    }

    proptest::proptest! {
        /// Whenever the borrowed path answers, `prost` and the validation answer the
        /// same; and it answers for every plain valid request. Names and values come
        /// from a small alphabet so that empty, duplicate and missing names occur.
        #[test]
        fn borrowed_decoding_agrees_with_prost(
            series in proptest::collection::vec(
                (
                    proptest::collection::vec(
                        (
                            proptest::sample::select(vec!["__name__", "a", "b", ""]),
                            proptest::sample::select(vec!["up", "x", ""]),
                        ),
                        0..4,
                    ),
                    proptest::collection::vec((proptest::num::i64::ANY, proptest::num::f64::ANY), 0..3),
                ),
                0..4,
            ),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..3),
        ) {
            let shaped: Vec<TestSeries<'_>> =
                series.iter().map(|(l, s)| (l.as_slice(), s.as_slice())).collect();
            let mut raw = request(&shaped);
            let config = RemoteWriteConfig::default();
            let want = super::super::decode::decode_general(&raw, &config);
            if let Ok(shape) = scan(&raw) {
                match decode(&raw, &shape, &config) {
                    Some(got) => proptest::prop_assert!(want.as_ref().is_ok_and(|w| same(&got, w))),
                    None => proptest::prop_assert!(want.is_err()),
                }
            }
            // Trailing bytes: whatever the fast path accepts, prost accepts the same way.
            raw.extend(noise);
            if let Ok(shape) = scan(&raw) {
                if let Some(got) = decode(&raw, &shape, &config) {
                    let want = super::super::decode::decode_general(&raw, &config);
                    proptest::prop_assert!(want.as_ref().is_ok_and(|w| same(&got, w)));
                }
            }
        }
    }

    #[test]
    fn anything_unusual_goes_the_general_way() {
        // No metric name; a duplicate name; an empty name; a label too long.
        let long = "x".repeat(RemoteWriteConfig::default().max_label_length + 1);
        for labels in [
            &[("job", "a")][..],
            &[("__name__", "a"), ("__name__", "b")],
            &[("__name__", "a"), ("", "b")],
            &[("__name__", "a"), ("l", long.as_str())],
        ] {
            assert!(
                fast(&request(&[(labels, &[(1, 1.0)])])).is_none(),
                "{labels:?}"
            );
        }
        // A label with an unknown field, a sample with a repeated field, bad UTF-8.
        let unknown = [0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x00, 0x18, 0x01];
        assert!(fast(&unknown).is_none());
        let repeated = [0x0a, 0x06, 0x12, 0x04, 0x10, 0x01, 0x10, 0x02];
        assert!(fast(&repeated).is_none());
        let utf8 = [0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff];
        assert!(fast(&utf8).is_none());
    }
}
