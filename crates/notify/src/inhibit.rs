//! [`InhibitRule`]: a firing source alert mutes target alerts that share the values of
//! the rule's `equal` labels.

use tally_model::Labels;

use crate::config::{ConfigError, InhibitRuleConfig};
use crate::matcher::Matchers;
use crate::route::compile_matchers;

/// A compiled inhibition rule.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// What a muting alert looks like.
    pub source: Matchers,
    /// What a muted alert looks like.
    pub target: Matchers,
    /// Labels that must have equal values (absent counts as empty) in both.
    pub equal: Vec<String>,
}

impl InhibitRule {
    pub(crate) fn compile(cfg: &InhibitRuleConfig, i: usize) -> Result<Self, ConfigError> {
        let field = format!("inhibit_rules[{i}]");
        let source = compile_matchers(
            &cfg.source_matchers,
            &cfg.source_match,
            &cfg.source_match_re,
            &format!("{field}.source"),
        )?;
        let target = compile_matchers(
            &cfg.target_matchers,
            &cfg.target_match,
            &cfg.target_match_re,
            &format!("{field}.target"),
        )?;
        Ok(Self {
            source,
            target,
            equal: cfg.equal.clone(),
        })
    }

    /// Whether `target` is muted by one of the `firing` alerts (labels and fingerprint).
    /// An alert matching both sides never mutes itself, and a source that also matches
    /// the target side cannot mute a target (so two alerts cannot mute each other).
    pub fn mutes<'a>(
        &self,
        target: &Labels,
        target_fp: u64,
        firing: impl Iterator<Item = (&'a Labels, u64)>,
    ) -> Option<u64> {
        if !self.target.matches(target) {
            return None;
        }
        for (source, fp) in firing {
            if fp == target_fp || !self.source.matches(source) {
                continue;
            }
            if self.target.matches(source) && self.source.matches(target) {
                continue;
            }
            let equal = self
                .equal
                .iter()
                .all(|n| source.get(n).unwrap_or("") == target.get(n).unwrap_or(""));
            if equal {
                return Some(fp);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn critical_mutes_warning_on_the_same_cluster() -> Result<(), Box<dyn std::error::Error>> {
        let config = Config::parse(
            r#"
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_match: { severity: warning }
    equal: [cluster]
"#,
        )?;
        let rule = &config.inhibit_rules[0];
        let crit = labels(&[("severity", "critical"), ("cluster", "a")]);
        let warn_a = labels(&[("severity", "warning"), ("cluster", "a")]);
        let warn_b = labels(&[("severity", "warning"), ("cluster", "b")]);
        let firing = [(&crit, 1u64)];
        assert_eq!(
            rule.mutes(&warn_a, 2, firing.iter().map(|(l, f)| (*l, *f))),
            Some(1)
        );
        assert_eq!(
            rule.mutes(&warn_b, 3, firing.iter().map(|(l, f)| (*l, *f))),
            None
        );
        assert_eq!(
            rule.mutes(&crit, 1, firing.iter().map(|(l, f)| (*l, *f))),
            None
        );
        Ok(())
    }
}
