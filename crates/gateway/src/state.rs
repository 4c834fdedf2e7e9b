//! [`GatewayState`]: everything a [`Gateway`] holds, as plain data, for snapshots.

use crate::contribution::{Retired, RetiredSeries, SeriesKey};
use crate::{Gateway, GatewayConfig, Group};

/// A gateway's state without its configuration: live groups, tombstones (oldest first)
/// and retired amounts. [`Gateway::state`] and [`Gateway::from_state`] round-trip it, so
/// a server can snapshot the gateway and restore it after a restart.
#[derive(Debug, Clone, Default)]
pub struct GatewayState {
    /// Live groups, in no particular order.
    pub groups: Vec<Group>,
    /// Deleted or expired groups kept so their process can resume, oldest first.
    pub tombstones: Vec<Group>,
    /// Retired amounts per aggregated series.
    pub retired: Vec<(SeriesKey, RetiredSeries)>,
}

impl Gateway {
    /// A copy of the state.
    pub fn state(&self) -> GatewayState {
        GatewayState {
            groups: self.groups.values().cloned().collect(),
            tombstones: self
                .tombstone_order
                .iter()
                .filter_map(|k| self.tombstones.get(k).cloned())
                .collect(),
            retired: self
                .retired
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// A gateway with `config` holding `state`.
    pub fn from_state(config: GatewayConfig, state: GatewayState) -> Self {
        let mut gw = Gateway::new(config);
        for group in state.groups {
            gw.add_types(&group, 1);
            gw.groups.insert(group.key.clone(), group);
        }
        for t in state.tombstones {
            gw.tombstone_order.push_back(t.key.clone());
            gw.tombstones.insert(t.key.clone(), t);
        }
        let mut retired = Retired::default();
        for (key, series) in state.retired {
            retired.insert(key, series);
        }
        gw.retired = retired;
        gw
    }
}
