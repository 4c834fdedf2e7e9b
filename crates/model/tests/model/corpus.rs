//! The malformed-input corpus: every file in `tests/corpus/malformed` must be rejected
//! with the line, column and reason listed for it in `expected.tsv`.

use std::path::{Path, PathBuf};

use tally_model::expfmt::{self, Format};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/malformed")
}

fn format_of(file: &str) -> Format {
    if file.ends_with(".om") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// One row of `expected.tsv`: file, line, column, a substring of the message.
struct Expected {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

fn expectations() -> Vec<Expected> {
    let table = std::fs::read_to_string(corpus_dir().join("expected.tsv")).unwrap();
    table
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "bad row in expected.tsv: {l:?}");
            Expected {
                file: cols[0].to_owned(),
                line: cols[1].parse().unwrap(),
                column: cols[2].parse().unwrap(),
                message: cols[3].to_owned(),
            }
        })
        .collect()
}

#[test]
fn every_malformed_input_is_rejected_at_its_line() {
    let expected = expectations();
    let mut failures = Vec::new();
    for e in &expected {
        let bytes = std::fs::read(corpus_dir().join(&e.file)).unwrap();
        match expfmt::parse(&bytes, format_of(&e.file)) {
            Ok(families) => failures.push(format!(
                "{}: accepted ({} families)",
                e.file,
                families.len()
            )),
            Err(err) => {
                let got = (err.line, err.column);
                let message = err.kind.to_string();
                if got != (e.line, e.column) || !message.contains(&e.message) {
                    failures.push(format!(
                        "{}\n    want {}:{}: ...{}...\n    got  {}:{}: {}",
                        e.file, e.line, e.column, e.message, got.0, got.1, message
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "corpus mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_corpus_file_has_an_expectation() {
    let listed: Vec<String> = expectations().into_iter().map(|e| e.file).collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "expected.tsv" && !listed.contains(&name) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "corpus files without a row in expected.tsv: {missing:?}"
    );
}
