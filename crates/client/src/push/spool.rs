//! The spool: final states that could not be pushed at shutdown, kept on disk until a
//! later pusher with the same job delivers them. File format: `docs/format/push-spool.md`.
//!
//! A file is written to a temporary name, fsynced, renamed into place and the directory
//! fsynced, so a reader sees a whole file or none. Readers skip files of another version
//! and rename damaged ones to `*.corrupt`.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// The first line of every spool file is `tally-push-spool <VERSION>`.
const MAGIC: &str = "tally-push-spool";
/// The format version this code writes and reads.
const VERSION: &str = "1";
/// Spool files end in this; temporary files start with `.` and end in `.tmp`.
const EXTENSION: &str = "spool";

/// One spooled push: everything needed to send it again, byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpoolEntry {
    /// The gateway's base URL, as configured.
    pub(crate) gateway: String,
    /// The full URL the push goes to (base URL plus grouping-key path).
    pub(crate) url: String,
    /// The job of the grouping key, unescaped.
    pub(crate) job: String,
    /// The pushing process' start time (also in the headers).
    pub(crate) process_start: f64,
    /// The push sequence number (also in the headers).
    pub(crate) sequence: u64,
    /// Every header of the push.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

/// A spool operation failed.
#[derive(Debug, thiserror::Error)]
#[error("spool file {}: {source}", path.display())]
pub(crate) struct SpoolError {
    /// The file or directory.
    pub(crate) path: PathBuf,
    /// What went wrong.
    #[source]
    pub(crate) source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError {
        path: path.to_owned(),
        source,
    }
}

/// FNV-1a, 64 bits: detects a damaged body; not a defence against tampering.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl SpoolEntry {
    /// The file's bytes.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        let mut line = |key: &str, value: &str| {
            out.extend_from_slice(key.as_bytes());
            out.push(b' ');
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        };
        line(MAGIC, VERSION);
        line("gateway", &escape(&self.gateway));
        line("url", &escape(&self.url));
        line("job", &escape(&self.job));
        line("process-start", &self.process_start.to_string());
        line("sequence", &self.sequence.to_string());
        for (name, value) in &self.headers {
            line("header", &escape(&format!("{name}: {value}")));
        }
        line(
            "body",
            &format!("{} {:016x}", self.body.len(), fnv1a64(&self.body)),
        );
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses a file's bytes; `Err` names the problem.
    fn decode(bytes: &[u8]) -> Result<Self, Decode> {
        let mut rest = bytes;
        let mut next_line = || -> Result<(&str, &str), Decode> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or(Decode::Corrupt("truncated header"))?;
            let line =
                std::str::from_utf8(&rest[..end]).map_err(|_| Decode::Corrupt("not UTF-8"))?;
            rest = &rest[end + 1..];
            line.split_once(' ')
                .ok_or(Decode::Corrupt("a header line without a value"))
        };
        match next_line() {
            Ok((MAGIC, VERSION)) => {}
            Ok((MAGIC, _)) => return Err(Decode::OtherVersion),
            _ => return Err(Decode::Corrupt("not a spool file")),
        }
        let text = |v: &str| unescape(v).ok_or(Decode::Corrupt("bad escape"));
        let mut entry = SpoolEntry {
            gateway: String::new(),
            url: String::new(),
            job: String::new(),
            process_start: f64::NAN,
            sequence: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let (len, checksum) = loop {
            let (key, value) = next_line()?;
            match key {
                "gateway" => entry.gateway = text(value)?,
                "url" => entry.url = text(value)?,
                "job" => entry.job = text(value)?,
                "process-start" => {
                    entry.process_start = value
                        .parse()
                        .map_err(|_| Decode::Corrupt("bad process-start"))?;
                }
                "sequence" => {
                    entry.sequence = value.parse().map_err(|_| Decode::Corrupt("bad sequence"))?;
                }
                "header" => {
                    let header = text(value)?;
                    let (name, value) = header
                        .split_once(": ")
                        .ok_or(Decode::Corrupt("bad header"))?;
                    entry.headers.push((name.to_owned(), value.to_owned()));
                }
                "body" => {
                    let (len, sum) = value.split_once(' ').ok_or(Decode::Corrupt("bad body"))?;
                    let len: usize = len.parse().map_err(|_| Decode::Corrupt("bad length"))?;
                    let sum = u64::from_str_radix(sum, 16)
                        .map_err(|_| Decode::Corrupt("bad checksum"))?;
                    break (len, sum);
                }
                // Unknown keys are skipped: a later minor revision may add some.
                _ => {}
            }
        };
        if rest.len() != len {
            return Err(Decode::Corrupt("body length differs from the header"));
        }
        if fnv1a64(rest) != checksum {
            return Err(Decode::Corrupt("body checksum mismatch"));
        }
        if entry.url.is_empty() || entry.gateway.is_empty() || entry.process_start.is_nan() {
            return Err(Decode::Corrupt("gateway, url or process-start missing"));
        }
        entry.body = rest.to_vec();
        Ok(entry)
    }

    /// The file name: sortable, and unique per process, push and gateway.
    fn file_name(&self) -> String {
        format!(
            "push-{:020}-{:020}-{:016x}.{EXTENSION}",
            (self.process_start.max(0.0) * 1000.0) as u64,
            self.sequence,
            fnv1a64(format!("{}\n{}", self.gateway, self.url).as_bytes()),
        )
    }
}

#[derive(Debug)]
enum Decode {
    OtherVersion,
    Corrupt(&'static str),
}

/// Writes `entry` into `dir` (created if missing) atomically and durably. Returns the
/// file's path.
pub(crate) fn write(dir: &Path, entry: &SpoolEntry) -> Result<PathBuf, SpoolError> {
    fs::create_dir_all(dir).map_err(at(dir))?;
    let name = entry.file_name();
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&entry.encode())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &path)?;
        // The rename is durable once the directory is.
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(at(&path))?;
    Ok(path)
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub(crate) struct SpoolScan {
    /// The entries for the job and gateways asked for, oldest process first, then by
    /// sequence, with their paths.
    pub(crate) entries: Vec<(PathBuf, SpoolEntry)>,
    /// Files that could not be used (renamed to `*.corrupt` when damaged).
    pub(crate) problems: Vec<SpoolError>,
}

/// Reads every spool file in `dir` for `job` and one of `gateways`. A missing directory
/// is empty.
pub(crate) fn read(dir: &Path, job: &str, gateways: &[String]) -> SpoolScan {
    let mut scan = SpoolScan::default();
    let listing = match fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return scan,
        Err(e) => {
            scan.problems.push(at(dir)(e));
            return scan;
        }
    };
    for item in listing {
        let path = match item {
            Ok(item) => item.path(),
            Err(e) => {
                scan.problems.push(at(dir)(e));
                continue;
            }
        };
        let is_spool = path.extension().is_some_and(|e| e == EXTENSION)
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'));
        if !is_spool {
            continue;
        }
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                scan.problems.push(at(&path)(e));
                continue;
            }
        };
        match SpoolEntry::decode(&bytes) {
            Ok(entry) => {
                if entry.job == job && gateways.contains(&entry.gateway) {
                    scan.entries.push((path, entry));
                }
            }
            Err(Decode::OtherVersion) => {}
            Err(Decode::Corrupt(why)) => {
                let _ = fs::rename(&path, path.with_extension("corrupt"));
                scan.problems
                    .push(at(&path)(io::Error::new(io::ErrorKind::InvalidData, why)));
            }
        }
    }
    scan.entries.sort_by(|(_, a), (_, b)| {
        a.process_start
            .total_cmp(&b.process_start)
            .then(a.sequence.cmp(&b.sequence))
    });
    scan
}

/// Deletes a delivered file (a missing file is fine: another pusher delivered it).
pub(crate) fn remove(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(at(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: &str, start: f64, seq: u64) -> SpoolEntry {
        SpoolEntry {
            gateway: "http://gw:9091".into(),
            url: format!("http://gw:9091/metrics/job/{job}/instance/i"),
            job: job.into(),
            process_start: start,
            sequence: seq,
            headers: vec![
                ("Content-Type".into(), "text/plain; version=0.0.4".into()),
                ("Tally-Push-Sequence".into(), seq.to_string()),
            ],
            body: b"# TYPE x counter\nx 1\n".to_vec(),
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = entry("batch", 1_700_000_000.25, 7);
        e.job = "we\\ird\njob".into();
        let path = write(dir.path(), &e).unwrap();
        assert!(path.to_string_lossy().ends_with(".spool"));
        let scan = read(dir.path(), "we\\ird\njob", &["http://gw:9091".into()]);
        assert!(scan.problems.is_empty(), "{:?}", scan.problems);
        assert_eq!(scan.entries, vec![(path.clone(), e)]);
        // Only temp-free, complete files are there.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(read(dir.path(), "x", &[]).entries.is_empty());
    }

    #[test]
    fn filters_by_job_and_gateway_and_sorts_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for e in [
            entry("a", 20.0, 1),
            entry("a", 10.0, 5),
            entry("a", 10.0, 2),
            entry("b", 5.0, 1),
        ] {
            write(dir.path(), &e).unwrap();
        }
        let mut other_gw = entry("a", 1.0, 1);
        other_gw.gateway = "http://elsewhere".into();
        write(dir.path(), &other_gw).unwrap();
        let scan = read(dir.path(), "a", &["http://gw:9091".into()]);
        let order: Vec<(f64, u64)> = scan
            .entries
            .iter()
            .map(|(_, e)| (e.process_start, e.sequence))
            .collect();
        assert_eq!(order, [(10.0, 2), (10.0, 5), (20.0, 1)]);
    }

    #[test]
    fn damaged_files_are_set_aside_and_other_versions_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let good = write(dir.path(), &entry("a", 1.0, 1)).unwrap();
        let mut bytes = fs::read(&good).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let bad = dir.path().join("push-bad.spool");
        fs::write(&bad, &bytes).unwrap();
        let truncated = dir.path().join("push-short.spool");
        fs::write(&truncated, &fs::read(&good).unwrap()[..40]).unwrap();
        let future = dir.path().join("push-future.spool");
        fs::write(&future, b"tally-push-spool 2\nwhatever\n").unwrap();
        fs::write(dir.path().join(".push-x.spool.1.tmp"), b"partial").unwrap();

        let scan = read(dir.path(), "a", &["http://gw:9091".into()]);
        assert_eq!(scan.entries.len(), 1);
        assert_eq!(scan.problems.len(), 2, "{:?}", scan.problems);
        assert!(!bad.exists() && bad.with_extension("corrupt").exists());
        assert!(truncated.with_extension("corrupt").exists());
        assert!(
            future.exists(),
            "a newer version's file is not ours to judge"
        );
    }

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
