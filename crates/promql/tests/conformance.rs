//! Runs every float script of Prometheus' PromQL tests (`../shared/promql-tests`)
//! through the conformance runner. Fails on any eval that fails without being listed in
//! `tests/expected-failures.txt`, on any listed eval that now passes (so the list only
//! shrinks), and on entries whose reason does not hold (an "experimental" entry for an
//! eval MANIFEST.tsv does not call experimental, a "parser" entry that parses).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tally_promql::promqltest::{ExpectedFailures, Runner};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/promql-tests")
}

/// MANIFEST.tsv rows by (file, n-th eval of the file): (experimental column, expr).
fn manifest(dir: &Path) -> HashMap<(String, usize), (String, String)> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            continue;
        }
        let n = seen.entry(f[0].to_owned()).or_insert(0);
        out.insert((f[0].to_owned(), *n), (f[3].to_owned(), f[4].to_owned()));
        *n += 1;
    }
    out
}

#[test]
fn prometheus_promql_scripts() {
    let dir = scripts_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("{} not found: conformance scripts skipped", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());

    let list_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected-failures.txt");
    let list_text = std::fs::read_to_string(&list_path).unwrap_or_default();
    let expected = match ExpectedFailures::parse(&list_text) {
        Ok(l) => l,
        Err(e) => panic!("{}: {e}", list_path.display()),
    };
    let manifest = manifest(&dir);
    let runner = Runner::new();
    let mut problems = Vec::new();
    let (mut total_pass, mut total_fail) = (0, 0);
    for path in &files {
        let report = match runner.run_file(path) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: cannot run: {e}", path.display()));
                continue;
            }
        };
        let file = report.name.clone();
        for (k, eval) in report.evals.iter().enumerate() {
            let listed = expected.get(&file, eval.line);
            let where_ = format!("{file}:{}", eval.line);
            match (&eval.failure, listed) {
                (Some(f), None) => problems.push(format!(
                    "{where_}: {}\n  unexpected failure: {}",
                    eval.header,
                    f.replace('\n', "\n  ")
                )),
                (None, Some(_)) => problems.push(format!(
                    "{where_}: {}\n  passes now: remove it from tests/expected-failures.txt",
                    eval.header
                )),
                (Some(f), Some(entry)) => {
                    if entry.expr != eval.expr {
                        problems.push(format!(
                            "{where_}: expected-failures entry is for {:?}, the eval is {:?}",
                            entry.expr, eval.expr
                        ));
                    }
                    let experimental = manifest
                        .get(&(file.clone(), k))
                        .map(|(e, _)| e.as_str())
                        .unwrap_or("");
                    if entry.reason.starts_with("experimental") && experimental.is_empty() {
                        problems.push(format!(
                            "{where_}: listed as experimental, but MANIFEST.tsv does not say so"
                        ));
                    }
                    if entry.reason.starts_with("parser") && !f.contains("cannot parse") {
                        problems.push(format!(
                            "{where_}: listed as unparseable, but it fails otherwise: {f}"
                        ));
                    }
                }
                (None, None) => {}
            }
        }
        for (line, _) in expected.for_file(&file) {
            if !report.evals.iter().any(|e| e.line == line) {
                problems.push(format!(
                    "{file}:{line}: expected-failures entry is not an eval"
                ));
            }
        }
        println!(
            "{file}: {} passed, {} failed",
            report.passed(),
            report.failed()
        );
        total_pass += report.passed();
        total_fail += report.failed();
    }
    println!("{total_pass} passed, {total_fail} failed");
    assert!(
        problems.is_empty(),
        "{} conformance problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
