//! The unit-test file format of `promtool test rules` (Prometheus 2.42), read strictly:
//! unknown fields are errors, as they are for promtool.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// A whole test file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestFile {
    /// Rule files (globs), relative to the test file's directory.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Step of the evaluation loop and default input interval; 1m when unset.
    #[serde(default)]
    pub evaluation_interval: Option<Dur>,
    /// Group names in the order they are evaluated at each step.
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    /// The test groups.
    #[serde(default)]
    pub tests: Vec<TestGroup>,
}

/// One test group: input series and the expectations over them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestGroup {
    /// Spacing of `input_series` values; the file's `evaluation_interval` when unset.
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    pub promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub external_url: String,
    /// Shown in failure messages.
    #[serde(default)]
    pub name: String,
}

/// A series and its values in the load notation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputSeries {
    pub series: String,
    #[serde(default)]
    pub values: String,
}

/// The firing alerts expected of one alert name at one time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertTest {
    #[serde(default)]
    pub eval_time: Dur,
    #[serde(default)]
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpAlert {
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// A PromQL expression and its expected result at one time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExprTest {
    pub expr: String,
    #[serde(default)]
    pub eval_time: Dur,
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

/// One expected sample: labels in series notation and a value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpSample {
    #[serde(default)]
    pub labels: String,
    #[serde(default)]
    pub value: f64,
}

/// A Prometheus duration (`5m`, `1h30m`, `0`) in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Dur(pub i64);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            Raw::Text(s) => s,
        };
        tally_promql::promqltest::parse_duration(&text)
            .map(Dur)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("not a valid duration string: {text:?}"))
            })
    }
}
