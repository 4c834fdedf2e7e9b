//! `tally tsdb stats` and `tally tsdb dump` on a data directory written by the database
//! itself (some samples checkpointed into SQLite, some only in the log), opened read-only
//! while the writer still holds it.

use tally_model::{Labels, Sample};
use tally_storage::Storage;
use tally_tsdb::{Db, Options};

use crate::support::run::tally;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

#[test]
fn stats_and_dump_read_store_and_log_beside_the_writer() {
    let data = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (db, _) = Db::open(Options::new(data.path().join("tsdb"))).unwrap();
    let ok = labels(&[("__name__", "req_total"), ("code", "200")]);
    let bad = labels(&[("__name__", "req_total"), ("code", "500")]);
    let up = labels(&[("__name__", "up")]);
    let t0 = now - 60_000;
    for i in 0..4 {
        let mut app = db.appender();
        app.append(&ok, Sample::new(t0 + i * 15_000, i as f64))
            .unwrap();
        app.append(&bad, Sample::new(t0 + i * 15_000, 1.0)).unwrap();
        if i == 3 {
            app.append(&up, Sample::stale(t0 + i * 15_000)).unwrap();
        }
        app.commit().unwrap();
        if i == 1 {
            db.checkpoint().unwrap();
        }
    }
    let dir = data.path().to_str().unwrap();

    let run = tally(&["tsdb", "stats", "--data-dir", dir], None);
    run.assert_code(0);
    let line = |prefix: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line\n{run}"))
            .to_owned()
    };
    assert!(line("series").ends_with(" 3"), "{run}");
    assert!(line("samples").contains("9 ("), "{run}");
    assert!(line("  ").contains("2  req_total"), "{run}");

    let run = tally(
        &[
            "tsdb",
            "dump",
            "--data-dir",
            dir,
            "--match",
            r#"req_total{code=~"2.."}"#,
        ],
        None,
    );
    run.assert_code(0);
    let got: Vec<&str> = run.stdout.lines().collect();
    let expected: Vec<String> = (0..4)
        .map(|i| {
            format!(
                r#"{{__name__="req_total", code="200"}} {i} {}"#,
                t0 + i * 15_000
            )
        })
        .collect();
    assert_eq!(got, expected, "{run}");

    let run = tally(&["tsdb", "dump", "--data-dir", dir, "--match", "up"], None);
    run.assert_code(0);
    assert!(run.stdout.contains(" stale "), "{run}");

    // A selector that is not one, and a directory without a database: exit 2, named.
    let run = tally(
        &["tsdb", "dump", "--data-dir", dir, "--match", "rate(x[5m])"],
        None,
    );
    run.assert_code(2);
    assert!(run.stderr.contains("not a series selector"), "{run}");
    let empty = tempfile::tempdir().unwrap();
    let run = tally(
        &[
            "tsdb",
            "stats",
            "--data-dir",
            empty.path().to_str().unwrap(),
        ],
        None,
    );
    run.assert_code(2);
    assert!(run.stderr.contains("no time-series database"), "{run}");
    drop(db);
}
