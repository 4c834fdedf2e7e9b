//! [`MetadataStore`]: the latest type, help and unit per metric name, as remote_write
//! senders report them, for `/api/v1/metadata`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use super::proto::{MetricMetadata, MetricType};

/// What a metric family is, as Prometheus' `/api/v1/metadata` shows it
/// (`{"type": "counter", "help": "...", "unit": ""}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// The family's type.
    #[serde(rename = "type", serialize_with = "type_name")]
    pub kind: MetricType,
    /// Its help text.
    pub help: String,
    /// Its unit, often empty.
    pub unit: String,
}

fn type_name<S: serde::Serializer>(kind: &MetricType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// What [`MetadataStore::update`] did with a request's entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetadataUpdate {
    /// Entries stored (new names, or changes and repeats of known ones).
    pub applied: usize,
    /// Entries dropped: no name, a field over the length limit, or a new name when the
    /// store is full.
    pub dropped: usize,
}

/// The latest metadata per metric name, in memory (senders resend all of it every
/// minute, so nothing is lost on a restart for long). Cloning is shallow: clones share
/// the map. Readers and writers take a lock for the duration of one call.
///
/// Bounded: at most `max_names` names, each field at most `max_length` bytes. When full,
/// known names are still updated and new ones dropped (counted in [`MetadataUpdate`]).
#[derive(Debug, Clone)]
pub struct MetadataStore {
    map: Arc<RwLock<HashMap<String, Metadata>>>,
    max_names: usize,
    max_length: usize,
}

impl MetadataStore {
    /// An empty store holding at most `max_names` names, with fields of at most
    /// `max_length` bytes.
    pub fn new(max_names: usize, max_length: usize) -> Self {
        Self {
            map: Arc::default(),
            max_names,
            max_length,
        }
    }

    /// Records the entries of one request; a later entry for the same name wins.
    pub fn update(&self, entries: &[MetricMetadata]) -> MetadataUpdate {
        let mut outcome = MetadataUpdate::default();
        if entries.is_empty() {
            return outcome;
        }
        let mut map = self.map.write();
        for entry in entries {
            let name = &entry.metric_family_name;
            let too_long = [name, &entry.help, &entry.unit]
                .iter()
                .any(|f| f.len() > self.max_length);
            if name.is_empty()
                || too_long
                || (map.len() >= self.max_names && !map.contains_key(name))
            {
                outcome.dropped += 1;
                continue;
            }
            let metadata = Metadata {
                kind: MetricType::try_from(entry.r#type).unwrap_or(MetricType::Unknown),
                help: entry.help.clone(),
                unit: entry.unit.clone(),
            };
            match map.get_mut(name) {
                Some(known) => *known = metadata,
                None => {
                    map.insert(name.clone(), metadata);
                }
            }
            outcome.applied += 1;
        }
        outcome
    }

    /// The metadata of metric `name`.
    pub fn get(&self, name: &str) -> Option<Metadata> {
        self.map.read().get(name).cloned()
    }

    /// Every name and its metadata, sorted by name (copies them: for an API answer).
    pub fn snapshot(&self) -> BTreeMap<String, Metadata> {
        self.map
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Number of names known.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    /// Whether no name is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: MetricType, help: &str) -> MetricMetadata {
        MetricMetadata {
            r#type: kind as i32,
            metric_family_name: name.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn latest_entry_wins() {
        let store = MetadataStore::new(10, 100);
        let outcome = store.update(&[
            entry("a_total", MetricType::Counter, "old"),
            entry("a_total", MetricType::Counter, "new"),
            entry("b", MetricType::Gauge, "B."),
        ]);
        assert_eq!(outcome.applied, 3);
        assert_eq!(store.get("a_total").unwrap().help, "new");
        assert_eq!(store.len(), 2);
        let json = serde_json::to_string(&store.snapshot()).unwrap();
        assert_eq!(
            json,
            r#"{"a_total":{"type":"counter","help":"new","unit":""},"b":{"type":"gauge","help":"B.","unit":""}}"#
        );
    }

    #[test]
    fn bounded_in_names_and_lengths() {
        let store = MetadataStore::new(1, 4);
        let outcome = store.update(&[
            entry("a", MetricType::Gauge, "x"),
            entry("b", MetricType::Gauge, "x"),
            entry("a", MetricType::Counter, "y"),
            entry("a", MetricType::Gauge, "12345"),
            entry("", MetricType::Gauge, "x"),
            MetricMetadata {
                r#type: 99,
                ..entry("a", MetricType::Gauge, "z")
            },
        ]);
        assert_eq!(
            outcome,
            MetadataUpdate {
                applied: 3,
                dropped: 3
            }
        );
        assert_eq!(store.get("a").unwrap().kind, MetricType::Unknown);
        assert!(store.get("b").is_none());
    }
}
