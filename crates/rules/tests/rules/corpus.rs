//! The rule-file corpus (`tests/corpus`, `tests/corpus-newer`) through
//! [`tally_rules::check`]: files named `valid-*` (and every file of `corpus-newer`)
//! pass; every other file fails with an error on the line marked `# error-here`.
//! The same files are given to the real `promtool` by the CLI's end-to-end tests.

use std::path::{Path, PathBuf};

use tally_rules::check::{check_path, Severity};
use tally_rules::file::{self, RuleKind};

/// The corpus files of `dir` (relative to this crate), sorted.
pub fn corpus_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// The 1-based line marked `# error-here` in `path`, if any.
pub fn marked_line(path: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(path).expect("reading a corpus file");
    text.lines()
        .position(|l| l.contains("# error-here"))
        .map(|i| i + 1)
}

fn is_valid(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with("valid-")
}

#[test]
fn corpus_is_large_enough_and_marked() {
    let files = corpus_files("corpus");
    assert!(files.len() >= 25, "only {} corpus files", files.len());
    for path in &files {
        assert_eq!(
            marked_line(path).is_some(),
            !is_valid(path),
            "{}: invalid files (and only they) mark their error line",
            path.display()
        );
    }
}

#[test]
fn valid_files_pass_and_invalid_ones_fail_on_the_marked_line() {
    for path in corpus_files("corpus") {
        let report = check_path(&path);
        let shown = path.display();
        if is_valid(&path) {
            assert!(!report.has_errors(), "{shown}: {:?}", report.problems);
            continue;
        }
        assert!(report.has_errors(), "{shown} passed");
        let line = marked_line(&path).expect("marked");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.severity == Severity::Error && p.line == line),
            "{shown}: no error on line {line}: {:?}",
            report.problems
        );
    }
}

#[test]
fn newer_prometheus_files_pass() {
    let files = corpus_files("corpus-newer");
    assert!(!files.is_empty());
    for path in files {
        let report = check_path(&path);
        assert!(
            !report.has_errors(),
            "{}: {:?}",
            path.display(),
            report.problems
        );
    }
}

#[test]
fn the_model_holds_what_the_file_says() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let alerting = file::load(&dir.join("valid-alerting.yml")).unwrap();
    assert_eq!(alerting.rule_count(), 3);
    let group = &alerting.groups[0];
    assert_eq!(
        (group.name.as_str(), group.line, group.interval_ms),
        ("availability", 3, None)
    );
    let down = &group.rules[0];
    assert_eq!(down.line, 5);
    assert_eq!(
        down.kind,
        RuleKind::Alerting {
            alert: "InstanceDown".to_owned(),
            for_ms: 300_000,
            keep_firing_for_ms: 600_000,
        }
    );
    assert_eq!(down.expr, "up == 0");
    assert_eq!(down.labels["severity"], "page");
    assert_eq!(
        down.annotations["summary"],
        "Instance {{ $labels.instance }} down"
    );

    let recording = file::load(&dir.join("valid-recording.yml")).unwrap();
    let group = &recording.groups[0];
    assert_eq!(group.interval_ms, Some(30_000));
    assert_eq!(group.rules[1].name(), "job:http_errors:ratio5m");
    assert!(
        group.rules[1].expr.contains("/\n"),
        "{:?}",
        group.rules[1].expr
    );
    assert_eq!(group.rules[1].labels["tier"], "1");

    let anchors = file::load(&dir.join("valid-anchors.yml")).unwrap();
    let rules = &anchors.groups[0].rules;
    assert_eq!(rules.len(), 4);
    assert_eq!((rules[2].name(), rules[2].expr.as_str()), ("C", "up == 0"));
    assert_eq!(rules[2].labels, rules[0].labels);
    assert_eq!(rules[3].labels["severity"], "ticket");
    assert_eq!(rules[3].labels["team"], "db");
    assert!(matches!(
        rules[3].kind,
        RuleKind::Alerting {
            for_ms: 300_000,
            ..
        }
    ));

    let limits = file::load(&dir.join("valid-interval-limit.yml")).unwrap();
    assert_eq!(limits.groups[0].interval_ms, Some(90_000));
    assert_eq!(limits.groups[0].limit, 10);

    let newer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-newer");
    let offset = file::load(&newer.join("query-offset.yml")).unwrap();
    assert_eq!(offset.groups[0].query_offset_ms, Some(60_000));
    let labelled = file::load(&newer.join("group-labels.yml")).unwrap();
    assert_eq!(labelled.groups[0].labels["team"], "db");

    assert!(matches!(
        file::load(&dir.join("missing-expr.yml")),
        Err(file::LoadError::Invalid { errors, .. }) if errors[0].line == 4
    ));
    assert!(matches!(
        file::load(&dir.join("no-such-file.yml")),
        Err(file::LoadError::Read { .. })
    ));
}

#[test]
fn every_problem_is_collected() {
    let text = "groups:
  - name: a
    rules:
      - record: 1bad
        expr: sum(x
        for: 5m
      - alert: B
        expr: up
        labels:
          bad-label: x
        annotations:
          s: '{{ humanise $value }}'
  - name: a
    rules: []
";
    let errors = file::parse("many.yml", text).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![4, 4, 5, 10, 12, 13], "{errors:#?}");
}

#[test]
fn hostile_input_never_panics() {
    for text in [
        "\u{0}",
        "groups: [",
        "groups:\n  - name: [a, {b: c}]\n",
        "groups:\n  - rules:\n      - {record: a, expr: '{{'}\n",
        "&a [*a]",
        "groups: *x",
        "? [a]\n: b\n",
        "groups:\n  - name: a\n    rules:\n      - alert: x\n        expr: up\n        annotations:\n          a: \"{{ template \\\"a\\\" }}\"\n",
        "groups:\n  - name: a\n    limit: 99999999999999999999999\n",
    ] {
        let _ = file::parse("x.yml", text);
    }
}
