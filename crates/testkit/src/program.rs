//! Finding the peer programs: [`find_program`], [`python_with_modules`].

use std::path::PathBuf;
use std::process::Command;

/// The full path of `name` on `PATH`.
///
/// # Panics
/// When it is not there, with a message saying to run `scripts/test`, which installs every
/// peer the tests use; nothing is skipped.
pub fn find_program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (not found on PATH). Run scripts/test: it installs \
                 the peers the tests run against (Debian's prometheus with promtool, \
                 prometheus-pushgateway, prometheus-alertmanager with amtool; python3 with \
                 the prometheus-client and aiosmtpd packages) before running the tests."
            )
        })
}

/// `python3`, checked to import every one of `modules`.
///
/// # Panics
/// When `python3` is missing or a module does not import, with Python's error and a
/// message saying to run `scripts/test`, which installs them from PyPI.
pub fn python_with_modules(modules: &[&str]) -> PathBuf {
    let python = find_program("python3");
    let check = Command::new(&python)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        check.status.success(),
        "a Python module of {modules:?} is missing ({}). Run scripts/test: it installs \
         prometheus-client and aiosmtpd from PyPI.\n{}",
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}
