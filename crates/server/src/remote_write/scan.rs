//! Counting what a `WriteRequest` holds on the wire, before decoding it.
//!
//! Decoding allocates per element: a two-byte empty `Label` on the wire becomes 48 bytes
//! of `String`s, an empty `MetricMetadata` 80. So a small body of empty elements could
//! make a decoder allocate tens of times its size. [`scan`] walks the protobuf wire format
//! without allocating and counts the elements, so the receiver checks its limits first
//! and decodes only requests whose decoded size is bounded by them.
//!
//! The walk reads only the structure (keys, lengths); field contents are left to `prost`,
//! which rejects what the walk lets through (bad UTF-8, a known field with the wrong wire
//! type). Groups (wire types 3 and 4, deprecated, never used by remote_write) are refused.

/// How many elements of each kind a request holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// `TimeSeries` entries.
    pub series: usize,
    /// Labels of the series with the most, and its position.
    pub max_labels: (usize, usize),
    /// Float samples over all series.
    pub samples: usize,
    /// Exemplars over all series.
    pub exemplars: usize,
    /// Native histogram samples over all series, and the position of the first series
    /// that has one.
    pub histograms: (usize, Option<usize>),
    /// `MetricMetadata` entries.
    pub metadata: usize,
}

/// Why the bytes are not a protobuf message. Offsets count from the start of the
/// (decompressed) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// A varint ran past the end of its message or past ten bytes.
    #[error("malformed varint at byte {0}")]
    Varint(usize),
    /// A field's length runs past the end of the message holding it.
    #[error("field at byte {0} runs past the end of its message")]
    Truncated(usize),
    /// Field number 0, or a wire type protobuf does not have (or groups).
    #[error("invalid field key at byte {0}")]
    Key(usize),
}

/// A field's payload as far as the walk cares.
enum Payload<'a> {
    /// Varint, fixed32 or fixed64: nothing inside to count.
    Scalar,
    /// Length-delimited: a string, bytes, a packed array or an embedded message.
    Bytes(&'a [u8]),
}

/// A cursor over one message's bytes; `base` is where they start in the request.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    fn varint(&mut self) -> Result<u64, ScanError> {
        let start = self.base + self.pos;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(ScanError::Varint(start));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift.min(63);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ScanError::Varint(start))
    }

    fn skip(&mut self, n: u64, at: usize) -> Result<&'a [u8], ScanError> {
        let n = usize::try_from(n).map_err(|_| ScanError::Truncated(at))?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(ScanError::Truncated(at))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// The next field: its number, its payload, and the payload's offset in the request.
    fn field(&mut self) -> Result<Option<(u64, Payload<'a>, usize)>, ScanError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let at = self.base + self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(ScanError::Key(at));
        }
        let payload = match key & 7 {
            0 => {
                self.varint()?;
                Payload::Scalar
            }
            1 => {
                self.skip(8, at)?;
                Payload::Scalar
            }
            5 => {
                self.skip(4, at)?;
                Payload::Scalar
            }
            2 => {
                let len = self.varint()?;
                let offset = self.base + self.pos;
                return Ok(Some((number, Payload::Bytes(self.skip(len, at)?), offset)));
            }
            _ => return Err(ScanError::Key(at)),
        };
        Ok(Some((number, payload, at)))
    }
}

/// Counts the elements of the `WriteRequest` in `buf`. Every nested message the receiver
/// decodes is walked, so a structurally broken one is reported here.
pub fn scan(buf: &[u8]) -> Result<Shape, ScanError> {
    let mut shape = Shape::default();
    let mut request = Reader::new(buf, 0);
    while let Some((number, payload, offset)) = request.field()? {
        match (number, payload) {
            (1, Payload::Bytes(series)) => {
                scan_series(series, offset, &mut shape)?;
                shape.series += 1;
            }
            (3, Payload::Bytes(metadata)) => {
                walk(metadata, offset)?;
                shape.metadata += 1;
            }
            _ => {}
        }
    }
    Ok(shape)
}

fn scan_series(buf: &[u8], base: usize, shape: &mut Shape) -> Result<(), ScanError> {
    let mut series = Reader::new(buf, base);
    let mut labels = 0;
    while let Some((number, payload, offset)) = series.field()? {
        let Payload::Bytes(inner) = payload else {
            continue;
        };
        walk(inner, offset)?;
        match number {
            1 => labels += 1,
            2 => shape.samples += 1,
            3 => shape.exemplars += 1,
            4 => {
                shape.histograms.0 += 1;
                shape.histograms.1.get_or_insert(shape.series);
            }
            _ => {}
        }
    }
    if labels > shape.max_labels.0 {
        shape.max_labels = (labels, shape.series);
    }
    Ok(())
}

/// Checks that `buf` is a sequence of well-formed fields (one level: nested messages
/// inside it are not allocated by the receiver's structs, or are strings).
fn walk(buf: &[u8], base: usize) -> Result<(), ScanError> {
    let mut reader = Reader::new(buf, base);
    while reader.field()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::proto::{
        Exemplar, Histogram, Label, MetricMetadata, Sample, TimeSeries, WriteRequest,
    };
    use prost::Message as _;

    fn series(labels: usize, samples: usize) -> TimeSeries {
        TimeSeries {
            labels: (0..labels)
                .map(|i| Label {
                    name: format!("l{i}"),
                    value: "v".into(),
                })
                .collect(),
            samples: (0..samples)
                .map(|i| Sample {
                    value: i as f64,
                    timestamp: i as i64,
                })
                .collect(),
            ..TimeSeries::default()
        }
    }

    #[test]
    fn counts_every_kind_of_element() {
        let mut with_extras = series(2, 1);
        with_extras.exemplars = vec![Exemplar::default(); 2];
        with_extras.histograms = vec![Histogram::default(); 3];
        let request = WriteRequest {
            timeseries: vec![series(3, 2), series(5, 0), with_extras],
            metadata: vec![MetricMetadata::default(); 4],
        };
        let shape = scan(&request.encode_to_vec()).unwrap();
        assert_eq!(
            shape,
            Shape {
                series: 3,
                max_labels: (5, 1),
                samples: 3,
                exemplars: 2,
                histograms: (3, Some(2)),
                metadata: 4,
            }
        );
        assert_eq!(scan(&[]).unwrap(), Shape::default());
    }

    #[test]
    fn broken_structure_is_an_error_with_an_offset() {
        let good = WriteRequest {
            timeseries: vec![series(2, 2)],
            metadata: vec![],
        }
        .encode_to_vec();
        for cut in 1..good.len() {
            assert!(scan(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(scan(&[0x00]), Err(ScanError::Key(0)));
        assert_eq!(scan(&[0x0b]), Err(ScanError::Key(0))); // a group
        assert_eq!(scan(&[0x08, 0xff]), Err(ScanError::Varint(1)));
        assert_eq!(scan(&[0x08; 1]), Err(ScanError::Varint(1)));
        assert_eq!(scan(&[0x0a, 0x05, 0x00]), Err(ScanError::Truncated(0)));
        let eleven = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(scan(&eleven), Err(ScanError::Varint(1)));
        // A huge declared length does not overflow.
        let huge = [
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(scan(&huge), Err(ScanError::Truncated(0)));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        // Field 2 (reserved) as a varint, field 9 as fixed64 and fixed32, then a series.
        let mut buf = vec![0x10, 0x01, 0x49, 1, 2, 3, 4, 5, 6, 7, 8, 0x4d, 1, 2, 3, 4];
        buf.extend(
            WriteRequest {
                timeseries: vec![series(1, 1)],
                metadata: vec![],
            }
            .encode_to_vec(),
        );
        let shape = scan(&buf).unwrap();
        assert_eq!((shape.series, shape.samples), (1, 1));
    }
}
