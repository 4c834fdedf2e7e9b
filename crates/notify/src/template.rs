//! [`Templates`]: Go templates (the `gotmpl` crate) over a notification's data, as
//! Alertmanager renders Slack titles, email subjects and bodies.
//!
//! The data has Alertmanager's fields: `.Receiver .Status .Alerts .GroupLabels
//! .CommonLabels .CommonAnnotations .ExternalURL .GroupKey`, each alert with `.Status
//! .Labels .Annotations .StartsAt .EndsAt .GeneratorURL .Fingerprint`. Go's
//! `.Alerts.Firing` and `.Alerts.Resolved` are methods of Alertmanager's alert list; the
//! template engine has no methods, so those two spellings are rewritten to the fields
//! `.AlertsFiring` and `.AlertsResolved`, which templates may also use directly.
//! `.GroupLabelValues` lists the group labels' values in name order. Functions beyond
//! Go's built-ins: `toUpper`, `toLower`, `title`, `join SEP LIST`.
//!
//! tally's own default templates (`tally.default.*`) are defined first; files named in
//! `templates:` can define more and override them.

use std::collections::BTreeMap;
use std::path::Path;

use gotmpl::{Template, Value};

use crate::config::{invalid, ConfigError};
use crate::payload::{go_time, map, status_str, NotificationData};

/// tally's default templates.
const DEFAULTS: &str = r#"{{ define "tally.default.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ len .AlertsFiring }}{{ end }}] {{ join " " .GroupLabelValues }}{{ end }}
{{ define "tally.default.subject" }}{{ template "tally.default.title" . }}{{ end }}
{{ define "tally.default.username" }}tally{{ end }}
{{ define "tally.default.color" }}{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}{{ end }}
{{ define "tally.default.alert_line" }}{{ if .Annotations.summary }}{{ .Annotations.summary }}{{ else }}{{ .Labels.alertname }}{{ end }}{{ range $k, $v := .Labels }} {{ $k }}={{ $v }}{{ end }}{{ end }}
{{ define "tally.default.text" }}{{ if .AlertsFiring }}Firing:
{{ range .AlertsFiring }}- {{ template "tally.default.alert_line" . }} (since {{ .StartsAt }})
{{ end }}{{ end }}{{ if .AlertsResolved }}Resolved:
{{ range .AlertsResolved }}- {{ template "tally.default.alert_line" . }} (ended {{ .EndsAt }})
{{ end }}{{ end }}{{ if .ExternalURL }}
{{ .ExternalURL }}
{{ end }}{{ end }}
{{ define "tally.default.html" }}<!DOCTYPE html><html><body><h2>{{ html (printf "%s" .Status) }}: {{ html (join " " .GroupLabelValues) }}</h2>{{ if .AlertsFiring }}<h3>Firing</h3><ul>{{ range .AlertsFiring }}<li>{{ html (printf "%s" (or .Annotations.summary .Labels.alertname)) }}<br>{{ range $k, $v := .Labels }}{{ html $k }}={{ html $v }} {{ end }}<br>since {{ .StartsAt }}</li>{{ end }}</ul>{{ end }}{{ if .AlertsResolved }}<h3>Resolved</h3><ul>{{ range .AlertsResolved }}<li>{{ html (printf "%s" (or .Annotations.summary .Labels.alertname)) }}<br>{{ range $k, $v := .Labels }}{{ html $k }}={{ html $v }} {{ end }}<br>ended {{ .EndsAt }}</li>{{ end }}</ul>{{ end }}</body></html>{{ end }}
"#;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {what}: {message}")]
pub struct TemplateError {
    /// Which template (field name or file).
    pub what: String,
    /// What the engine said.
    pub message: String,
}

/// The template definitions available to every rendering: tally's defaults plus the
/// user's files. Cloning copies the sources (templates are parsed per rendering, which
/// happens once per notification).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    files: Vec<(String, String)>,
}

impl Templates {
    /// Reads the files matched by `globs` (relative to `base`), checking that they parse.
    pub(crate) fn load(globs: &[String], base: Option<&Path>) -> Result<Self, ConfigError> {
        let mut files = Vec::new();
        for (i, pattern) in globs.iter().enumerate() {
            let field = format!("templates[{i}]");
            let full = match base {
                Some(dir) if Path::new(pattern).is_relative() => dir.join(pattern),
                _ => Path::new(pattern).to_path_buf(),
            };
            let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
            let name_glob = full.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let entries = std::fs::read_dir(&dir)
                .map_err(|e| invalid(&field, format!("reading {}: {e}", dir.display())))?;
            let mut names: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| glob_match(name_glob, n))
                })
                .collect();
            names.sort();
            for path in names {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| invalid(&field, format!("reading {}: {e}", path.display())))?;
                files.push((path.display().to_string(), rewrite(&text)));
            }
        }
        let templates = Self { files };
        templates
            .base("check")
            .map_err(|e| invalid("templates", e.to_string()))?;
        Ok(templates)
    }

    /// A template with every definition parsed, named `name`.
    fn base(&self, name: &str) -> Result<Template, TemplateError> {
        let fail = |what: &str, e: gotmpl::TemplateError| TemplateError {
            what: what.to_owned(),
            message: e.to_string(),
        };
        let mut t = with_funcs(Template::new(name))
            .parse(DEFAULTS)
            .map_err(|e| fail("defaults", e))?;
        for (file, text) in &self.files {
            t = t.parse(text).map_err(|e| fail(file, e))?;
        }
        Ok(t)
    }

    /// Checks that `source` parses (configuration validation).
    pub fn check(&self, what: &str, source: &str) -> Result<(), TemplateError> {
        self.base(what)?
            .parse(&rewrite(source))
            .map(|_| ())
            .map_err(|e| TemplateError {
                what: what.to_owned(),
                message: e.to_string(),
            })
    }

    /// Renders `source` over `data`; `what` names the field in errors.
    pub fn render(
        &self,
        what: &str,
        source: &str,
        data: &NotificationData,
    ) -> Result<String, TemplateError> {
        let err = |e: gotmpl::TemplateError| TemplateError {
            what: what.to_owned(),
            message: e.to_string(),
        };
        let t = self.base(what)?.parse(&rewrite(source)).map_err(err)?;
        t.execute_to_string(&template_data(data)).map_err(err)
    }
}

/// Rewrites the method spellings the engine cannot call into fields.
fn rewrite(source: &str) -> String {
    source
        .replace(".Alerts.Firing", ".AlertsFiring")
        .replace(".Alerts.Resolved", ".AlertsResolved")
}

/// `*` and `?` globbing of one file name.
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

fn with_funcs(t: Template) -> Template {
    let string_fn = |f: fn(&str) -> String| {
        move |args: &[Value]| {
            let s = args.first().map(value_text).unwrap_or_default();
            Ok(Value::from(f(&s)))
        }
    };
    t.func("toUpper", string_fn(|s| s.to_uppercase()))
        .func("toLower", string_fn(|s| s.to_lowercase()))
        .func(
            "title",
            string_fn(|s| {
                s.split(' ')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default()
                    })
                    .collect::<Vec<String>>()
                    .join(" ")
            }),
        )
        .func("join", |args: &[Value]| {
            let sep = args.first().map(value_text).unwrap_or_default();
            let items = match args.get(1) {
                Some(Value::List(items)) => items.iter().map(value_text).collect::<Vec<_>>(),
                Some(other) => vec![value_text(other)],
                None => Vec::new(),
            };
            Ok(Value::from(items.join(&sep)))
        })
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn labels_value(m: BTreeMap<String, String>) -> Value {
    let out: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
    Value::from(out)
}

/// The template data of a notification (see the module documentation).
pub fn template_data(data: &NotificationData) -> Value {
    let alert = |a: &crate::payload::AlertData| -> Value {
        let mut m = BTreeMap::new();
        m.insert("Status".to_owned(), Value::from(status_str(a.resolved)));
        m.insert("Labels".to_owned(), labels_value(map(&a.alert.labels)));
        m.insert(
            "Annotations".to_owned(),
            labels_value(map(&a.alert.annotations)),
        );
        m.insert(
            "StartsAt".to_owned(),
            Value::from(go_time(Some(a.alert.starts_at))),
        );
        let end = if a.resolved { a.alert.ends_at } else { None };
        m.insert("EndsAt".to_owned(), Value::from(go_time(end)));
        m.insert(
            "GeneratorURL".to_owned(),
            Value::from(a.alert.generator_url.clone()),
        );
        m.insert(
            "Fingerprint".to_owned(),
            Value::from(crate::alert::fingerprint_hex(a.fingerprint)),
        );
        Value::from(m)
    };
    let all: Vec<Value> = data.alerts.iter().map(alert).collect();
    let firing: Vec<Value> = data
        .alerts
        .iter()
        .filter(|a| !a.resolved)
        .map(alert)
        .collect();
    let resolved: Vec<Value> = data
        .alerts
        .iter()
        .filter(|a| a.resolved)
        .map(alert)
        .collect();
    let values: Vec<Value> = data
        .group_labels
        .iter()
        .map(|(_, v)| Value::from(v))
        .collect();
    let mut m = BTreeMap::new();
    m.insert("Receiver".to_owned(), Value::from(data.receiver.clone()));
    m.insert("Status".to_owned(), Value::from(data.status()));
    m.insert("Alerts".to_owned(), Value::from(all));
    m.insert("AlertsFiring".to_owned(), Value::from(firing));
    m.insert("AlertsResolved".to_owned(), Value::from(resolved));
    m.insert(
        "GroupLabels".to_owned(),
        labels_value(map(&data.group_labels)),
    );
    m.insert("GroupLabelValues".to_owned(), Value::from(values));
    m.insert(
        "CommonLabels".to_owned(),
        labels_value(data.common_labels()),
    );
    m.insert(
        "CommonAnnotations".to_owned(),
        labels_value(data.common_annotations()),
    );
    m.insert(
        "ExternalURL".to_owned(),
        Value::from(data.external_url.clone()),
    );
    m.insert("GroupKey".to_owned(), Value::from(data.group_key.clone()));
    Value::from(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Alert;
    use crate::payload::AlertData;
    use chrono::{TimeZone, Utc};
    use tally_model::Labels;

    fn data() -> Result<NotificationData, Box<dyn std::error::Error>> {
        let start = Utc.timestamp_opt(1_700_000_000, 0).single().ok_or("time")?;
        let mk = |name: &str, resolved: bool| -> Result<AlertData, Box<dyn std::error::Error>> {
            let mut alert = Alert::firing(
                Labels::from_pairs([("alertname", "Down"), ("job", name)])?,
                start,
            );
            alert.annotations = Labels::from_pairs([("summary", format!("{name} is down"))])?;
            if resolved {
                alert.ends_at = Some(start + chrono::Duration::minutes(5));
            }
            Ok(AlertData {
                resolved,
                fingerprint: alert.fingerprint(),
                alert,
            })
        };
        Ok(NotificationData {
            receiver: "team".into(),
            alerts: vec![mk("api", false)?, mk("db", false)?, mk("web", true)?],
            group_labels: Labels::from_pairs([("alertname", "Down")])?,
            group_key: "{}:{alertname=\"Down\"}".into(),
            external_url: String::new(),
            truncated_alerts: 0,
        })
    }

    #[test]
    fn default_title_counts_firing_alerts() -> Result<(), Box<dyn std::error::Error>> {
        let t = Templates::default();
        let out = t.render(
            "subject",
            r#"{{ template "tally.default.subject" . }}"#,
            &data()?,
        )?;
        assert_eq!(out, "[FIRING:2] Down");
        Ok(())
    }

    #[test]
    fn alertmanager_spellings_work() -> Result<(), Box<dyn std::error::Error>> {
        let t = Templates::default();
        let src = "{{ .Receiver }} {{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }} \
                   {{ .CommonLabels.alertname }} {{ range .Alerts.Resolved }}{{ .Labels.job }}{{ end }}";
        assert_eq!(t.render("text", src, &data()?)?, "team 2/1 Down web");
        let text = t.render("text", r#"{{ template "tally.default.text" . }}"#, &data()?)?;
        assert!(text.contains("- api is down"), "{text}");
        assert!(text.contains("Resolved:\n- web is down"), "{text}");
        Ok(())
    }

    #[test]
    fn bad_templates_are_errors_not_panics() -> Result<(), Box<dyn std::error::Error>> {
        let t = Templates::default();
        assert!(t.check("title", "{{ .Receiver ").is_err());
        assert!(t
            .render("title", "{{ template \"nope\" . }}", &data()?)
            .is_err());
        Ok(())
    }

    #[test]
    fn globs_match_file_names() {
        assert!(glob_match("*.tmpl", "a.tmpl"));
        assert!(!glob_match("*.tmpl", "a.tmp"));
        assert!(glob_match("a?c", "abc"));
    }
}
