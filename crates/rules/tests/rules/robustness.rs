//! Whatever the bytes, parsing a rule file and checking or expanding a template end
//! in a result, never a panic: corpus files mutated at random, and templates built
//! from the language's own pieces in random order.

use proptest::prelude::*;
use tally_model::Labels;
use tally_rules::file;
use tally_rules::template::{self, TemplateData};

use crate::corpus::corpus_files;

/// Pieces of the template language, so random texts reach deep into the parser.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    "$labels",
    "$value",
    ".Labels",
    ".Value",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "'c'",
    "1",
    "-2.5",
    "1e9",
    "nil",
    "true",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "humanize",
    "humanizeDuration",
    "printf",
    "\"%.2f\"",
    "first",
    "query",
    "\"up\"",
    "label",
    "sortByLabel",
    "args",
    "len",
    "index",
    "eq",
    "gt",
    "and",
    "/*",
    "*/",
    ".",
    ",",
    "reReplaceAll",
    "\"(\"",
    "title",
    "toTime",
    "x",
];

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|p| p.concat())
}

fn mutated_corpus_file() -> impl Strategy<Value = Vec<u8>> {
    let files: Vec<Vec<u8>> = corpus_files("corpus")
        .iter()
        .map(|p| std::fs::read(p).expect("reading a corpus file"))
        .collect();
    (
        prop::sample::select(files),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8),
    )
        .prop_map(|(mut bytes, edits)| {
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        })
}

proptest! {
    // Bounded by TALLY_FUZZ_CASES like the other fuzzing properties (default 256).
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("TALLY_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn mutated_rule_files_never_panic(bytes in mutated_corpus_file()) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(errors) = file::parse("fuzz.yml", &text) {
            prop_assert!(!errors.is_empty());
            // Lines as YAML counts them: `\r\n`, `\r` and `\n` each end one (a lone
            // `\r` is a line break to YAML and to editors, not to `str::lines`).
            let lines = text.replace("\r\n", "\n").replace('\r', "\n").lines().count() + 1;
            for e in errors {
                prop_assert!(e.line <= lines, "line {} of {}: {}", e.line, lines, e.message);
            }
        }
    }

    #[test]
    fn random_templates_never_panic(text in template_text()) {
        let labels = Labels::from_pairs([("job", "api")]).expect("valid labels");
        let query = |_: &str| Ok(Vec::new());
        let data = TemplateData {
            labels: &labels,
            value: 1.5,
            external_labels: &labels,
            external_url: "http://x",
            time_ms: 0,
            query: Some(&query),
        };
        let checked = template::check("t", &text);
        let expanded = template::expand("t", &text, &data);
        // What does not parse cannot expand.
        if checked.is_err() {
            prop_assert!(expanded.is_err());
        }
    }
}
