//! [`Route`]: the compiled routing tree. An alert goes down the tree to the deepest
//! routes that match it; the first matching child wins unless it has `continue: true`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Duration;
use tally_model::Labels;

use crate::config::{invalid, ConfigError, RouteConfig};
use crate::matcher::{MatchType, Matcher, Matchers};
use crate::time_interval::{NamedInterval, TimeGate};

/// Which labels form an aggregation group's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// `['...']`: every label, so each alert is its own group.
    All,
    /// These label names (sorted).
    Names(Vec<String>),
}

impl GroupBy {
    /// The labels of `labels` that this grouping keeps.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Names(names) => {
                let pairs = names
                    .iter()
                    .filter_map(|n| labels.get(n).map(|v| (n.as_str(), v)));
                Labels::from_pairs(pairs).unwrap_or_default()
            }
        }
    }
}

/// A node of the routing tree, with its settings resolved (inherited from the parent
/// where unset).
#[derive(Debug, Clone)]
pub struct Route {
    /// Position in a depth-first walk of the tree: distinguishes sibling routes with
    /// equal matchers.
    pub id: usize,
    /// Alertmanager's route key: the matchers from the root down, e.g.
    /// `{}/{severity="page"}`.
    pub key: String,
    /// The receiver.
    pub receiver: String,
    /// The grouping.
    pub group_by: GroupBy,
    /// Conditions (empty at the root, which takes everything).
    pub matchers: Matchers,
    /// Whether matching continues with the next sibling after this route matched.
    pub continue_matching: bool,
    /// Wait before a new group's first notification.
    pub group_wait: Duration,
    /// Wait between notifications about a changed group.
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Duration,
    /// When the route sends nothing (its own time intervals; not inherited).
    pub time_gate: TimeGate,
    /// Children, tried in order.
    pub routes: Vec<Route>,
}

impl Route {
    /// Compiles the tree; `receivers` are the names defined, `intervals` the time
    /// intervals.
    pub(crate) fn compile(
        root: &RouteConfig,
        receivers: &HashSet<&str>,
        intervals: &HashMap<String, NamedInterval>,
    ) -> Result<Self, ConfigError> {
        let Some(receiver) = root.receiver.clone() else {
            return Err(invalid(
                "route.receiver",
                "the root route must have a receiver",
            ));
        };
        if !root.matchers.is_empty() || !root.match_eq.is_empty() || !root.match_re.is_empty() {
            return Err(invalid("route", "the root route must not have matchers"));
        }
        if !root.mute_time_intervals.is_empty() || !root.active_time_intervals.is_empty() {
            return Err(invalid(
                "route",
                "the root route must not have mute or active time intervals",
            ));
        }
        let defaults = Route {
            id: 0,
            key: String::new(),
            receiver,
            group_by: GroupBy::Names(Vec::new()),
            matchers: Matchers::default(),
            continue_matching: false,
            group_wait: Duration::seconds(30),
            group_interval: Duration::minutes(5),
            repeat_interval: Duration::hours(4),
            time_gate: TimeGate::default(),
            routes: Vec::new(),
        };
        let mut next_id = 0;
        let names = Names {
            receivers,
            intervals,
        };
        build(root, &defaults, "route", &names, &mut next_id, true)
    }

    /// The routes an alert with these labels goes to (at least one: the root takes what
    /// no child does).
    pub fn matching(&self, labels: &Labels) -> Vec<&Route> {
        let mut out = Vec::new();
        self.collect(labels, &mut out);
        if out.is_empty() {
            out.push(self);
        }
        out
    }

    fn collect<'a>(&'a self, labels: &Labels, out: &mut Vec<&'a Route>) -> bool {
        if !self.matchers.matches(labels) {
            return false;
        }
        let before = out.len();
        for child in &self.routes {
            if child.collect(labels, out) && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(self);
        }
        true
    }

    /// Every route of the tree, depth first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}

/// What routes may refer to by name.
struct Names<'a> {
    receivers: &'a HashSet<&'a str>,
    intervals: &'a HashMap<String, NamedInterval>,
}

impl Names<'_> {
    fn intervals(
        &self,
        names: &[String],
        field: &str,
    ) -> Result<Vec<(String, NamedInterval)>, ConfigError> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| match self.intervals.get(name) {
                Some(interval) => Ok((name.clone(), interval.clone())),
                None => Err(invalid(
                    format!("{field}[{i}]"),
                    format!("time interval {name:?} is not defined in time_intervals"),
                )),
            })
            .collect()
    }
}

fn build(
    cfg: &RouteConfig,
    parent: &Route,
    field: &str,
    names: &Names<'_>,
    next_id: &mut usize,
    is_root: bool,
) -> Result<Route, ConfigError> {
    let receiver = cfg
        .receiver
        .clone()
        .unwrap_or_else(|| parent.receiver.clone());
    if !names.receivers.contains(receiver.as_str()) {
        return Err(invalid(
            format!("{field}.receiver"),
            format!("receiver {receiver:?} is not defined in receivers"),
        ));
    }
    let group_by = match &cfg.group_by {
        None => parent.group_by.clone(),
        Some(names) if names.iter().any(|n| n == "...") => {
            if names.len() > 1 {
                return Err(invalid(
                    format!("{field}.group_by"),
                    "'...' must be the only element when present",
                ));
            }
            GroupBy::All
        }
        Some(names) => {
            let mut names = names.clone();
            if let Some(bad) = names.iter().find(|n| n.is_empty()) {
                return Err(invalid(
                    format!("{field}.group_by"),
                    format!("invalid label name {bad:?}"),
                ));
            }
            names.sort();
            names.dedup();
            GroupBy::Names(names)
        }
    };
    let matchers = compile_matchers(&cfg.matchers, &cfg.match_eq, &cfg.match_re, field)?;
    let key = if is_root {
        "{}".to_owned()
    } else {
        format!("{}/{}", parent.key, matchers)
    };
    let id = *next_id;
    *next_id += 1;
    let mut route = Route {
        id,
        key,
        receiver,
        group_by,
        matchers,
        continue_matching: cfg.continue_matching,
        group_wait: cfg.group_wait.map_or(parent.group_wait, |d| d.to_chrono()),
        group_interval: cfg
            .group_interval
            .map_or(parent.group_interval, |d| d.to_chrono()),
        repeat_interval: cfg
            .repeat_interval
            .map_or(parent.repeat_interval, |d| d.to_chrono()),
        time_gate: TimeGate {
            mute: names.intervals(
                &cfg.mute_time_intervals,
                &format!("{field}.mute_time_intervals"),
            )?,
            active: names.intervals(
                &cfg.active_time_intervals,
                &format!("{field}.active_time_intervals"),
            )?,
        },
        routes: Vec::new(),
    };
    if route.group_interval <= Duration::zero() {
        return Err(invalid(
            format!("{field}.group_interval"),
            "must be positive",
        ));
    }
    if route.repeat_interval <= Duration::zero() {
        return Err(invalid(
            format!("{field}.repeat_interval"),
            "must be positive",
        ));
    }
    for (i, child) in cfg.routes.iter().enumerate() {
        let built = build(
            child,
            &route,
            &format!("{field}.routes[{i}]"),
            names,
            next_id,
            false,
        )?;
        route.routes.push(built);
    }
    Ok(route)
}

/// Compiles `matchers:` plus the deprecated `match:` / `match_re:` maps into one set.
pub(crate) fn compile_matchers(
    strings: &[String],
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
    field: &str,
) -> Result<Matchers, ConfigError> {
    let mut out = Matchers::parse_list(strings).map_err(|source| ConfigError::Matcher {
        field: format!("{field}.matchers"),
        source,
    })?;
    for (name, value) in eq {
        let m =
            Matcher::new(name, MatchType::Equal, value).map_err(|source| ConfigError::Matcher {
                field: format!("{field}.match"),
                source,
            })?;
        out.0.push(m);
    }
    for (name, value) in re {
        let m =
            Matcher::new(name, MatchType::Regex, value).map_err(|source| ConfigError::Matcher {
                field: format!("{field}.match_re"),
                source,
            })?;
        out.0.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use tally_model::Labels;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    const TREE: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      continue: true
      group_wait: 10s
    - match_re: { team: "db|storage" }
      receiver: db
      group_by: ['...']
    - matchers: ['severity=~"page|ticket"']
      receiver: tickets
receivers:
  - name: default
  - name: pager
  - name: db
  - name: tickets
"#;

    #[test]
    fn first_match_wins_unless_continue() -> Result<(), Box<dyn std::error::Error>> {
        let config = Config::parse(TREE)?;
        let root = config.route.as_ref().ok_or("no route")?;
        let names = |l: &Labels| {
            root.matching(l)
                .iter()
                .map(|r| r.receiver.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&labels(&[("severity", "page")])),
            ["pager", "tickets"]
        );
        assert_eq!(
            names(&labels(&[("severity", "page"), ("team", "db")])),
            ["pager", "db"]
        );
        assert_eq!(names(&labels(&[("severity", "ticket")])), ["tickets"]);
        assert_eq!(names(&labels(&[("severity", "info")])), ["default"]);
        Ok(())
    }

    #[test]
    fn children_inherit_and_keys_name_the_path() -> Result<(), Box<dyn std::error::Error>> {
        let config = Config::parse(TREE)?;
        let root = config.route.as_ref().ok_or("no route")?;
        let pager = &root.routes[0];
        assert_eq!(pager.group_wait, chrono::Duration::seconds(10));
        assert_eq!(pager.group_interval, chrono::Duration::minutes(5));
        assert_eq!(
            pager.group_by,
            super::GroupBy::Names(vec!["alertname".into()])
        );
        assert_eq!(pager.key, r#"{}/{severity="page"}"#);
        assert_eq!(root.routes[1].group_by, super::GroupBy::All);
        Ok(())
    }
}
