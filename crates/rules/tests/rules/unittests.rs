//! The unit-test corpus in `tests/unittests/`: files named `fail-*.test.yml` must fail,
//! the other `*.test.yml` files must pass (the same verdicts as `promtool test rules`,
//! checked against the real promtool by the CLI's end-to-end test).

use std::path::{Path, PathBuf};

use tally_rules::unittest::{run_file, TestFailure};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/unittests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reading tests/unittests")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    files.sort();
    files
}

fn expected_to_fail(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("fail-"))
}

#[test]
fn corpus_verdicts() {
    let files = corpus();
    assert!(files.len() >= 5, "corpus too small: {files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        let report = run_file(f);
        if report.passed() == expected_to_fail(f) {
            wrong.push(report.render());
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected verdicts:\n{}",
        wrong.join("\n")
    );
}

fn failures_of(name: &str) -> Vec<TestFailure> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/unittests")
        .join(name);
    run_file(&p).failures
}

#[test]
fn failures_are_worded_like_promtool() {
    let f = failures_of("fail-limit.test.yml");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        f[0].to_string(),
        "    rule: Down, time: 0s, err: exceeded limit of 1 with 2 alerts"
    );
    let f = failures_of("fail-expr-value.test.yml");
    assert_eq!(
        f[0].to_string(),
        "    expr: \"job:up:sum\", time: 3m,\n        \
         exp: {__name__=\"job:up:sum\", job=\"a\"} 1E+00\n        \
         got: {__name__=\"job:up:sum\", job=\"a\"} 0E+00"
    );
    let f = failures_of("fail-alert-labels.test.yml");
    let text = f[0].to_string();
    assert!(text.starts_with("    name: wrong instance,\n    alertname: InstanceDown, time: 5m, \n        exp:[\n            0:\n              Labels:{alertname=\"InstanceDown\", instance=\"b\""), "{text}");
    assert!(matches!(
        failures_of("fail-unknown-field.test.yml")[0],
        TestFailure::File(_)
    ));
}
