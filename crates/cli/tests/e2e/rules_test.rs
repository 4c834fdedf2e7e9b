//! `tally rules test` against the real `promtool test rules` (Debian's, 2.42) on the
//! unit-test corpus of `crates/rules/tests/unittests`: the same verdict on every file,
//! and the files named `fail-*` fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use tally_testkit::find_program;

use crate::support::run::tally;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/tests/unittests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn same_verdicts_as_promtool_test_rules() {
    let promtool = find_program("promtool");
    let files = corpus();
    assert!(files.len() >= 10, "corpus too small: {files:?}");
    let mut disagreements = Vec::new();
    for file in &files {
        let path = file.to_str().expect("UTF-8 path");
        let theirs = Command::new(&promtool)
            .args(["test", "rules", path])
            .output()
            .expect("running promtool");
        let ours = tally(&["rules", "test", path], None);
        let promtool_passed = theirs.status.code() == Some(0);
        assert!(
            matches!(theirs.status.code(), Some(0 | 1)),
            "promtool crashed on {path}: {:?}\n{}",
            theirs.status,
            String::from_utf8_lossy(&theirs.stderr)
        );
        let should_fail = file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("fail-"));
        assert_eq!(
            promtool_passed,
            !should_fail,
            "the corpus marks {path} wrongly for promtool:\n{}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        if ours.code != theirs.status.code() {
            disagreements.push(format!(
                "{path}: promtool exit {:?}, tally exit {:?}\n--- promtool ---\n{}{}\n--- tally ---\n{ours}",
                theirs.status.code(),
                ours.code,
                String::from_utf8_lossy(&theirs.stdout),
                String::from_utf8_lossy(&theirs.stderr),
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n\n"));
}

/// Files whose failure text comes from a parser (YAML, rule files), worded by tally's.
const PARSER_WORDED: [&str; 2] = ["fail-unknown-field.test.yml", "fail-bad-rule-file.test.yml"];

/// The failure lines of a report, blank lines dropped: promtool writes them to stderr
/// (and blank lines to stdout), tally everything to stdout.
fn failure_lines(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != "  FAILED:")
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn failures_are_worded_as_promtool_words_them() {
    let promtool = find_program("promtool");
    for file in corpus() {
        let name = file.file_name().expect("a file name").to_string_lossy();
        if !name.starts_with("fail-") || PARSER_WORDED.contains(&name.as_ref()) {
            continue;
        }
        let path = file.to_str().expect("UTF-8 path");
        let theirs = Command::new(&promtool)
            .args(["test", "rules", path])
            .output()
            .expect("running promtool");
        let ours = tally(&["rules", "test", path], None);
        let expected = failure_lines(&format!(
            "  FAILED:\n{}",
            String::from_utf8_lossy(&theirs.stderr)
                .lines()
                .skip_while(|l| *l != "  FAILED:")
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
        ));
        assert!(!expected.is_empty(), "{path}: promtool printed no failure");
        assert_eq!(failure_lines(&ours.stdout), expected, "{path}\n{ours}");
    }
}

#[test]
fn reports_each_file_and_exits_1_on_any_failure() {
    let files = corpus();
    let pass = files
        .iter()
        .find(|f| !f.to_string_lossy().contains("fail-"))
        .expect("a passing file");
    let fail = files
        .iter()
        .find(|f| f.to_string_lossy().contains("fail-limit"))
        .expect("fail-limit.test.yml");
    let (pass, fail) = (pass.to_str().expect("UTF-8"), fail.to_str().expect("UTF-8"));
    let run = tally(&["rules", "test", pass], None);
    run.assert_code(0);
    assert!(run.stdout.contains("  SUCCESS"), "{run}");
    let run = tally(&["rules", "test", pass, fail], None);
    run.assert_code(1);
    assert!(
        run.stdout.contains("  SUCCESS") && run.stdout.contains("  FAILED:"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("    rule: Down, time: 0s, err: exceeded limit of 1 with 2 alerts"),
        "{run}"
    );
    let run = tally(&["rules", "test", "/nonexistent/t.yml"], None);
    run.assert_code(1);
}
