//! `tally rules check` against the real `promtool check rules` (Debian's, 2.42) on
//! every file of the rule-file corpus in `crates/rules/tests/corpus`: the same
//! verdict (exit status zero or not) for each, and for the invalid ones a tally
//! message on the line the file marks with `# error-here`.
//!
//! `crates/rules/tests/corpus-newer` holds files that Prometheus 3 accepts and
//! promtool 2.42 refuses (group `query_offset` and `labels`); tally accepts them, and
//! they are left out of the parity check.

use std::path::{Path, PathBuf};
use std::process::Command;

use tally_testkit::find_program;

use crate::support::run::tally;

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules/tests")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn marked_line(path: &Path) -> Option<usize> {
    std::fs::read_to_string(path)
        .expect("reading a corpus file")
        .lines()
        .position(|l| l.contains("# error-here"))
        .map(|i| i + 1)
}

/// `promtool check rules FILE`: whether it accepted the file, and what it said.
fn promtool_accepts(path: &str) -> (bool, String) {
    let output = Command::new(find_program("promtool"))
        .args(["check", "rules", path])
        .output()
        .expect("running promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[test]
fn same_verdict_as_promtool_on_every_corpus_file() {
    let files = corpus("corpus");
    assert!(files.len() >= 25, "only {} corpus files", files.len());
    let (mut valid, mut invalid) = (0, 0);
    for path in &files {
        let file = path.to_str().expect("UTF-8 path");
        let (promtool_ok, promtool_said) = promtool_accepts(file);
        let ours = tally(&["rules", "check", file], None);
        let tally_ok = ours.code == Some(0);
        assert_eq!(
            tally_ok, promtool_ok,
            "verdicts differ on {file}\npromtool:\n{promtool_said}\n{ours}"
        );
        assert!(
            matches!(ours.code, Some(0 | 1)),
            "exit status is 0 or 1\n{ours}"
        );
        if tally_ok {
            valid += 1;
            assert!(ours.stdout.contains(": SUCCESS: "), "{ours}");
            continue;
        }
        invalid += 1;
        let line = marked_line(path)
            .unwrap_or_else(|| panic!("{file} fails but marks no `# error-here` line"));
        assert!(
            ours.stdout.contains(&format!("{file}:{line}: ")),
            "tally names no problem on line {line}\n{ours}"
        );
        assert!(ours.stdout.contains(": FAILED: "), "{ours}");
    }
    // The corpus has both kinds, so the comparison means something either way.
    assert!(
        valid >= 10 && invalid >= 20,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn newer_prometheus_files_are_accepted() {
    for path in corpus("corpus-newer") {
        let file = path.to_str().expect("UTF-8 path");
        tally(&["rules", "check", file], None).assert_code(0);
    }
}

#[test]
fn several_files_one_failing_exit_1_with_every_file_reported() {
    let files = corpus("corpus");
    let good = files
        .iter()
        .find(|p| p.ends_with("valid-alerting.yml"))
        .and_then(|p| p.to_str())
        .expect("valid-alerting.yml");
    let bad = files
        .iter()
        .find(|p| p.ends_with("missing-expr.yml"))
        .and_then(|p| p.to_str())
        .expect("missing-expr.yml");
    let run = tally(&["rules", "check", good, bad], None);
    run.assert_code(1);
    assert!(
        run.stdout
            .contains(&format!("{good}: SUCCESS: 3 rules found")),
        "{run}"
    );
    assert!(run.stdout.contains(&format!("{bad}:4: ")), "{run}");
    tally(&["rules", "check", good, good], None).assert_code(0);
}

#[test]
fn duplicates_warn_and_exit_0_like_promtool() {
    let files = corpus("corpus");
    let dup = files
        .iter()
        .find(|p| p.ends_with("valid-duplicates.yml"))
        .and_then(|p| p.to_str())
        .expect("valid-duplicates.yml");
    let run = tally(&["rules", "check", dup], None);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains(&format!("{dup}:7: warning: duplicate rule")),
        "{run}"
    );
    let (promtool_ok, said) = promtool_accepts(dup);
    assert!(promtool_ok, "{said}");
    assert!(said.contains("duplicate rule"), "{said}");
}

#[test]
fn stdin_missing_files_and_usage() {
    let run = tally(
        &["rules", "check", "-"],
        Some(b"groups:\n  - name: a\n    rules:\n      - record: a:b\n        expr: up\n"),
    );
    run.assert_code(0);
    assert_eq!(run.stdout, "-: SUCCESS: 1 rules found\n", "{run}");
    let run = tally(
        &["rules", "check", "-"],
        Some(b"groups:\n  - name: a\n    oops: 1\n"),
    );
    run.assert_code(1);
    assert!(run.stdout.starts_with("-:3: "), "{run}");

    let run = tally(&["rules", "check", "/nonexistent/rules.yml"], None);
    run.assert_code(1);
    assert!(
        run.stdout.contains("/nonexistent/rules.yml:0: cannot read"),
        "{run}"
    );

    tally(&["rules", "check"], None).assert_code(2);
}
