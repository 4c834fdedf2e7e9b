//! Gateway snapshots: the whole [`GatewayState`] as one JSON document (see
//! `docs/format/gateway-log.md`).
//!
//! Groups carry their families as a text-format exposition (exact: the encoder writes
//! every float so that it reads back bit for bit); every other float is stored as its IEEE
//! bits in a `u64`, because JSON has no NaN or infinities.

use serde::{Deserialize, Serialize};
use tally_gateway::{GatewayState, Group, RetiredSeries, StoredFamily};
use tally_model::expfmt::{self, Format};
use tally_model::Labels;

/// Snapshot format version; a reader refuses others.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    version: u32,
    groups: Vec<SnapshotGroup>,
    tombstones: Vec<SnapshotGroup>,
    retired: Vec<SnapshotRetired>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SnapshotGroup {
    key: Vec<(String, String)>,
    exposition: String,
    last_push_ms: i64,
    last_failure_ms: Option<i64>,
    ttl_ms: i64,
    start_time_bits: Option<u64>,
    sequence: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SnapshotRetired {
    name: String,
    labels: Vec<(String, String)>,
    counter_bits: u64,
    sum_bits: u64,
    count_bits: u64,
    layouts: Vec<(Vec<u64>, Vec<u64>)>,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not JSON of the expected shape.
    #[error("snapshot is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by another format version.
    #[error("snapshot version {0} is not supported (expected {VERSION})")]
    Version(u32),
    /// A group's exposition or a label set does not parse.
    #[error("snapshot group {key} is damaged: {reason}")]
    Group {
        /// The group.
        key: String,
        /// What failed.
        reason: String,
    },
}

fn pairs(labels: &Labels) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn floats(v: &[u64]) -> Vec<f64> {
    v.iter().map(|x| f64::from_bits(*x)).collect()
}

fn save_group(g: &Group) -> SnapshotGroup {
    let mut out = Vec::new();
    expfmt::encode(&g.to_families(), Format::Text, &mut out);
    SnapshotGroup {
        key: pairs(&g.key),
        exposition: String::from_utf8_lossy(&out).into_owned(),
        last_push_ms: g.last_push_ms,
        last_failure_ms: g.last_failure_ms,
        ttl_ms: g.ttl_ms,
        start_time_bits: g.start_time.map(f64::to_bits),
        sequence: g.sequence,
    }
}

fn load_group(s: SnapshotGroup) -> Result<Group, SnapshotError> {
    let damaged = |reason: String| SnapshotError::Group {
        key: format!("{:?}", s.key),
        reason,
    };
    let key = Labels::from_pairs(s.key.iter().map(|(n, v)| (n, v)))
        .map_err(|e| damaged(e.to_string()))?;
    let families =
        expfmt::parse(s.exposition.as_bytes(), Format::Text).map_err(|e| damaged(e.to_string()))?;
    Ok(Group {
        families: StoredFamily::store_all(families, &key).into(),
        key,
        last_push_ms: s.last_push_ms,
        last_failure_ms: s.last_failure_ms,
        ttl_ms: s.ttl_ms,
        start_time: s.start_time_bits.map(f64::from_bits),
        sequence: s.sequence,
    })
}

/// Serializes a state.
pub fn encode(state: &GatewayState) -> Vec<u8> {
    let file = SnapshotFile {
        version: VERSION,
        groups: state.groups.iter().map(save_group).collect(),
        tombstones: state.tombstones.iter().map(save_group).collect(),
        retired: state
            .retired
            .iter()
            .map(|((name, labels), r)| SnapshotRetired {
                name: name.clone(),
                labels: pairs(labels),
                counter_bits: r.counter.to_bits(),
                sum_bits: r.sum.to_bits(),
                count_bits: r.count.to_bits(),
                layouts: r
                    .layouts
                    .iter()
                    .map(|l| (bits(&l.bounds), bits(&l.cumulative)))
                    .collect(),
            })
            .collect(),
    };
    // Serializing plain data with string keys cannot fail.
    serde_json::to_vec(&file).unwrap_or_default()
}

/// Reads a state back.
pub fn decode(bytes: &[u8]) -> Result<GatewayState, SnapshotError> {
    let file: SnapshotFile = serde_json::from_slice(bytes)?;
    if file.version != VERSION {
        return Err(SnapshotError::Version(file.version));
    }
    let groups = file
        .groups
        .into_iter()
        .map(load_group)
        .collect::<Result<_, _>>()?;
    let tombstones = file
        .tombstones
        .into_iter()
        .map(load_group)
        .collect::<Result<_, _>>()?;
    let mut retired = Vec::with_capacity(file.retired.len());
    for r in file.retired {
        let labels = Labels::from_pairs(r.labels.iter().map(|(n, v)| (n, v))).map_err(|e| {
            SnapshotError::Group {
                key: r.name.clone(),
                reason: e.to_string(),
            }
        })?;
        retired.push((
            (r.name, labels),
            RetiredSeries {
                counter: f64::from_bits(r.counter_bits),
                sum: f64::from_bits(r.sum_bits),
                count: f64::from_bits(r.count_bits),
                layouts: r
                    .layouts
                    .iter()
                    .map(|(b, c)| tally_gateway::RetiredLayout {
                        bounds: floats(b),
                        cumulative: floats(c),
                    })
                    .collect(),
            },
        ));
    }
    Ok(GatewayState {
        groups,
        tombstones,
        retired,
    })
}
