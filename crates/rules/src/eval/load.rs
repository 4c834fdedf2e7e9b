//! Reading the rule files a server is configured with (globs), all or nothing: a reload
//! with a broken file changes nothing and says what is wrong.

use std::path::PathBuf;

use crate::file::{self, FileError, RuleFile};

/// Why the rule files could not be loaded. The caller keeps the rules it had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A `rule_files` pattern is not a valid glob.
    #[error("{pattern}: invalid pattern: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a valid rule file.
    #[error("{}", errors.iter().map(|e| format!("{path}:{}: {}", e.line, e.message)).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        path: String,
        /// Every problem found, with its line.
        errors: Vec<FileError>,
    },
}

/// Expands `patterns` (globs; one matching nothing is not an error, as in Prometheus),
/// reads and parses every file, in pattern order, each file once. Any error fails the
/// whole load, with every error found.
pub fn load_rule_files(patterns: &[String]) -> Result<Vec<RuleFile>, Vec<LoadError>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut errors = Vec::new();
    for pattern in patterns {
        match glob::glob(pattern) {
            Ok(found) => {
                for p in found.filter_map(Result::ok) {
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
            }
            Err(e) => errors.push(LoadError::Pattern {
                pattern: pattern.clone(),
                message: e.to_string(),
            }),
        }
    }
    let mut files = Vec::new();
    for p in paths {
        let path = p.display().to_string();
        match std::fs::read_to_string(&p) {
            Err(source) => errors.push(LoadError::Read { path, source }),
            Ok(text) => match file::parse(&path, &text) {
                Ok(f) => files.push(f),
                Err(errs) => errors.push(LoadError::Invalid { path, errors: errs }),
            },
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}
