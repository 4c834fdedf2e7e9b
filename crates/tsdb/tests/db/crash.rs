//! Damage to the log: the database opens with everything before the damage.

use super::*;

#[test]
fn torn_log_tail_keeps_everything_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FakeClock::at(0);
    let o = options(dir.path(), &clock);
    let a = labels(&[("__name__", "up")]);
    {
        let db = open(&o);
        for i in 0..20 {
            write(&db, &[(&a, i * 1000, i as f64)]);
        }
    }
    let seg = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    let (db, report) = Db::open(o.clone()).unwrap();
    let damage = report.replay.damage.expect("the torn tail is reported");
    assert!(damage.dropped_bytes > 0);
    let got = all(&db, 0, i64::MAX);
    assert_eq!(
        got[0].samples.len(),
        19,
        "every whole record before the tear"
    );
    // Appending after the repair works and survives another restart.
    write(&db, &[(&a, 19_000, 19.0)]);
    drop(db);
    let db = open(&o);
    assert_eq!(all(&db, 0, i64::MAX)[0].samples.len(), 20);
}
