//! [`RouteConfig`]: one node of the routing tree as written in YAML.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Duration;

/// A route: which alerts it takes (matchers), where they go (receiver), how they are
/// grouped and timed. Unset fields are inherited from the parent route; the root's
/// defaults are Alertmanager's (`group_wait` 30s, `group_interval` 5m, `repeat_interval`
/// 4h).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The receiver alerts of this route go to.
    pub receiver: Option<String>,
    /// Labels to group by; `['...']` groups by all labels.
    pub group_by: Option<Vec<String>>,
    /// Keep matching sibling routes after this one matched.
    #[serde(rename = "continue", default)]
    pub continue_matching: bool,
    /// Matchers in the string syntax (`severity="page"`, `job=~"api|db"`).
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Deprecated: label equality conditions.
    #[serde(rename = "match", default)]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated: label regex conditions.
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    /// Wait before the first notification of a new group.
    pub group_wait: Option<Duration>,
    /// Wait between notifications about a changed group.
    pub group_interval: Option<Duration>,
    /// Wait before repeating a notification about an unchanged group.
    pub repeat_interval: Option<Duration>,
    /// Names of time intervals during which this route sends nothing (not inherited).
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Names of time intervals outside which this route sends nothing (not inherited;
    /// empty: always active).
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    /// Child routes, tried in order.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}
