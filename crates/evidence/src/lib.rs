//! # vigil-evidence: a tamper-evident, append-only evidence log
//!
//! ## Why
//!
//! Every alert, incident and response action vigil records is evidence. An
//! analyst, an auditor or a court later needs to know that what they read is
//! what the sensor wrote: nothing changed, nothing removed, nothing inserted,
//! nothing reordered. This crate appends records to a hash-chained
//! JSON-lines file and verifies such a file, naming the **first** broken
//! record by line number, sequence number and what is wrong.
//!
//! ## Promises
//!
//! * **Append-only.** [`EvidenceLog`] only ever appends. On [`EvidenceLog::open`]
//!   an existing file is verified in full first; a broken chain is refused
//!   (never silently extended), so the chain always continues from the last
//!   good record.
//! * **Crash-tolerant.** Each record is written with a single `write` of the
//!   whole line, newline included. A crash mid-write (e.g. `kill -9`) can leave
//!   at most one torn last line without its newline. `open` detects it and
//!   refuses with an error naming it, unless
//!   [`OpenOptions::repair_torn_tail`] is set: then the torn bytes (which were
//!   never a committed record) are cut and reported in [`OpenReport`].
//! * **Durability.** After [`EvidenceLog::append`] returns, the record is in
//!   the operating system (it survives a crash of the process). It is on disk
//!   (survives power loss) after [`EvidenceLog::flush`], which calls
//!   `fsync`; set [`OpenOptions::sync_each_append`] to fsync every append.
//! * **Tamper-evident.** [`verify`] detects any change, removal, insertion,
//!   reordering or truncation of records: any single-byte change anywhere in
//!   the file makes verification fail (property-tested).
//! * **Not tamper-proof.** Without a signature or an externally anchored last
//!   hash, someone with write access can rewrite the *whole* chain from a
//!   point on, or cut records off the end. Record [`Verified::last_hash`]
//!   somewhere else (a ticket, a SIEM, a second host) or sign it (feature
//!   `signing`) to pin the chain.
//! * **Signed heads (feature `signing`).** `signing::sign_head` signs
//!   `(records, last_hash)` with Ed25519; `signing::verify_signed` checks a
//!   file against such a head, which also catches removal of the last records
//!   and a rewrite of the whole chain.
//! * One writer per file: open a file with one [`EvidenceLog`] at a time.
//!
//! ## Record format
//!
//! One record per line, UTF-8, `\n`-terminated, fields in exactly this order,
//! no whitespace:
//!
//! ```text
//! {"seq":0,"ts":"2026-11-23T13:26:30.000000000Z","kind":"alert","data":{"a":1,"b":"x"},"prev":"000…000","hash":"<64 hex>"}
//! ```
//!
//! * `seq`: 0, 1, 2, … consecutive, equal to line number − 1.
//! * `ts`: the capture time given to [`EvidenceLog::append`], RFC 3339 UTC,
//!   always 9 fractional digits and a `Z`.
//! * `kind`: a non-empty string such as `"alert"`, `"incident"`, `"action"`.
//! * `data`: the JSON value, serialised canonically: compact, object keys
//!   sorted (by bytes, recursively), strings and numbers as `serde_json`
//!   writes them (floats in shortest round-trip form). Verification hashes
//!   the stored bytes, so readers never need to reproduce this encoding.
//! * `prev`: the `hash` of the previous record (lowercase hex); 64 `0`s for
//!   the first record.
//! * `hash`: lowercase hex SHA-256 of the hashed bytes below.
//!
//! ## The exact bytes hashed
//!
//! A record line is `BODY + ',"hash":"' + HASH + '"}' + '\n'` where `BODY` is
//! `{"seq":…,"ts":…,"kind":…,"data":…,"prev":"…"` (the line up to, not
//! including, `,"hash":`). The hash is
//!
//! ```text
//! HASH = lowercase_hex(SHA-256(BODY + "}"))
//! ```
//!
//! i.e. SHA-256 of the record line as it is stored, with the `hash` field and
//! the newline removed. The verifier hashes the stored bytes themselves, so
//! it does not depend on any JSON re-serialisation. Since `BODY` contains
//! `prev`, each record commits to the whole chain before it.
//!
//! An auditor can re-implement the check in a few lines of Python:
//!
//! ```python
//! import hashlib, json, sys
//! prev, n = "0" * 64, 0
//! for n, raw in enumerate(open(sys.argv[1], "rb"), 1):
//!     assert raw.endswith(b"\n"), f"line {n}: torn record (no newline)"
//!     rec = json.loads(raw)
//!     suffix = b',"hash":"' + rec["hash"].encode() + b'"}\n'
//!     assert raw.endswith(suffix), f"line {n}: malformed"
//!     body = raw[: -len(suffix)] + b"}"
//!     assert rec["seq"] == n - 1, f"line {n}: seq {n - 1} expected, found {rec['seq']}"
//!     assert hashlib.sha256(body).hexdigest() == rec["hash"], f"line {n}: hash mismatch"
//!     assert rec["prev"] == prev, f"line {n}: prev mismatch"
//!     prev = rec["hash"]
//! print(n, "records ok, last hash", prev)
//! ```
//!
//! ## Example
//!
//! ```
//! use vigil_evidence::{verify, EvidenceLog, OpenOptions};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("evidence.jsonl");
//! let (mut log, _report) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
//! let h = log
//!     .append(1_700_000_000_000_000_000, "alert", &serde_json::json!({"sid": 1}))
//!     .unwrap();
//! log.flush().unwrap();
//! let v = verify(&path).unwrap();
//! assert_eq!(v.records, 1);
//! assert_eq!(v.last_hash.as_deref(), Some(h.as_str()));
//! ```
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `prev` of the first record: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_KEY: &[u8] = b",\"hash\":\"";
/// `,"hash":"` + 64 hex + `"}`
const SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;

/// How to open an evidence log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Cut a torn last line (a crash mid-write) instead of refusing to open.
    pub repair_torn_tail: bool,
    /// `fsync` after every append (slower; default: only on [`EvidenceLog::flush`]).
    pub sync_each_append: bool,
}

/// What [`EvidenceLog::open`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The file did not exist and was created.
    pub created: bool,
    /// Good records already in the file; the next append gets this `seq`.
    pub records: u64,
    /// Hash of the last good record, if any.
    pub last_hash: Option<String>,
    /// Line number of the torn tail that was cut (only with `repair_torn_tail`).
    pub torn_line: Option<u64>,
    /// Bytes cut from the end of the file (0 unless a torn tail was repaired).
    pub truncated_bytes: u64,
}

/// Result of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Number of records in the file.
    pub records: u64,
    /// Hash of the last record; `None` for an empty file.
    pub last_hash: Option<String>,
}

/// Why a file failed verification; always names the first broken record.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The last line has no newline.
    #[error("line {line}: torn record (no newline, {bytes} bytes): the writer stopped mid-write")]
    Torn { line: u64, bytes: u64 },
    /// The line is not a record in the writer's format.
    #[error("line {line}: not a valid record: {reason}")]
    Malformed { line: u64, reason: String },
    /// `seq` is not the line's expected sequence number.
    #[error("line {line}: seq {expected} expected, found {found}: {}", seq_hint(*expected, *found))]
    Seq {
        line: u64,
        expected: u64,
        found: u64,
    },
    /// The stored hash does not match the record's bytes.
    #[error("line {line} (seq {seq}): hash mismatch: the record was changed")]
    Hash { line: u64, seq: u64 },
    /// `prev` does not match the previous record's hash.
    #[error("line {line} (seq {seq}): prev does not match the previous record's hash: the chain was rewritten or records were replaced")]
    Prev { line: u64, seq: u64 },
}

fn seq_hint(expected: u64, found: u64) -> &'static str {
    if found > expected {
        "a record was removed (or records were reordered)"
    } else {
        "a record was inserted, repeated or reordered"
    }
}

impl VerifyError {
    /// The 1-based line number of the first broken record, if the file could be read.
    pub fn line(&self) -> Option<u64> {
        match self {
            VerifyError::Io { .. } => None,
            VerifyError::Torn { line, .. }
            | VerifyError::Malformed { line, .. }
            | VerifyError::Seq { line, .. }
            | VerifyError::Hash { line, .. }
            | VerifyError::Prev { line, .. } => Some(*line),
        }
    }
}

/// Errors from [`EvidenceLog`].
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// An I/O operation on the log failed.
    #[error("evidence log {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The existing file ends in a torn record and `repair_torn_tail` is off.
    #[error("evidence log {path}: line {line}: torn record ({bytes} bytes, no newline) from an interrupted write; reopen with repair_torn_tail to cut it")]
    TornTail {
        path: PathBuf,
        line: u64,
        bytes: u64,
    },
    /// The existing file fails verification; it is never extended.
    #[error("evidence log {path}: refusing to append to a broken chain: {source}")]
    Broken {
        path: PathBuf,
        #[source]
        source: VerifyError,
    },
    /// `kind` must be a non-empty string.
    #[error("evidence record kind must not be empty")]
    EmptyKind,
    /// An earlier write failed part-way; the log must be reopened (with repair).
    #[error("evidence log {path}: an earlier write failed; reopen the log (with repair_torn_tail) to continue")]
    Poisoned { path: PathBuf },
}

/// An open, append-only, hash-chained evidence log. See the crate docs.
#[derive(Debug)]
pub struct EvidenceLog {
    path: PathBuf,
    file: File,
    next_seq: u64,
    prev: String,
    sync_each_append: bool,
    poisoned: bool,
    line: Vec<u8>,
}

impl EvidenceLog {
    /// Opens (creating if missing) `path` for appending.
    ///
    /// An existing file is verified in full first and the chain continues from
    /// its last record. A broken chain is an [`EvidenceError::Broken`]. A torn
    /// last line (no newline: a crash mid-write) is an
    /// [`EvidenceError::TornTail`] naming it, unless
    /// `opts.repair_torn_tail`: then the torn bytes are cut and reported in
    /// [`OpenReport::torn_line`] / [`OpenReport::truncated_bytes`].
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<(Self, OpenReport), EvidenceError> {
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |source| EvidenceError::Io { path, op, source }
        };
        let existed = path.exists();
        let scan = if existed {
            let f = File::open(path).map_err(io("open for verification"))?;
            scan(BufReader::new(f)).map_err(io("read"))?
        } else {
            scan(&[][..]).map_err(io("read"))?
        };
        let mut report = OpenReport {
            created: !existed,
            ..OpenReport::default()
        };
        let good = match scan.error {
            None => scan.good,
            Some(VerifyError::Torn { line, bytes: n }) => {
                if !opts.repair_torn_tail {
                    return Err(EvidenceError::TornTail {
                        path: path.to_path_buf(),
                        line,
                        bytes: n,
                    });
                }
                report.torn_line = Some(line);
                report.truncated_bytes = n;
                scan.good
            }
            Some(source) => {
                return Err(EvidenceError::Broken {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io("open"))?;
        if report.truncated_bytes > 0 {
            file.set_len(good.len).map_err(io("truncate torn tail"))?;
            file.sync_all().map_err(io("fsync"))?;
        }
        report.records = good.records;
        report.last_hash = good.last_hash.clone();
        let log = EvidenceLog {
            path: path.to_path_buf(),
            file,
            next_seq: good.records,
            prev: good.last_hash.unwrap_or_else(|| GENESIS_PREV.to_string()),
            sync_each_append: opts.sync_each_append,
            poisoned: false,
            line: Vec::with_capacity(512),
        };
        Ok((log, report))
    }

    /// Appends one record and returns its hash (lowercase hex).
    ///
    /// `ts_nanos` is the capture time in nanoseconds since the Unix epoch,
    /// written as RFC 3339 UTC. The whole line is written with one `write`
    /// (the record is in the OS when this returns); it is fsynced only with
    /// [`OpenOptions::sync_each_append`] or on [`EvidenceLog::flush`].
    pub fn append(
        &mut self,
        ts_nanos: u64,
        kind: &str,
        data: &serde_json::Value,
    ) -> Result<String, EvidenceError> {
        if self.poisoned {
            return Err(EvidenceError::Poisoned {
                path: self.path.clone(),
            });
        }
        if kind.is_empty() {
            return Err(EvidenceError::EmptyKind);
        }
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(b"{\"seq\":");
        line.extend_from_slice(self.next_seq.to_string().as_bytes());
        line.extend_from_slice(b",\"ts\":\"");
        line.extend_from_slice(rfc3339_nanos(ts_nanos).as_bytes());
        line.extend_from_slice(b"\",\"kind\":");
        write_json_str(line, kind);
        line.extend_from_slice(b",\"data\":");
        write_canonical(line, data);
        line.extend_from_slice(b",\"prev\":\"");
        line.extend_from_slice(self.prev.as_bytes());
        line.push(b'"');
        let mut h = Sha256::new();
        h.update(&line[..]);
        h.update(b"}");
        let hash = to_hex(&h.finalize());
        line.extend_from_slice(HASH_KEY);
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}\n");
        if let Err(source) = self.file.write_all(line) {
            self.poisoned = true;
            return Err(EvidenceError::Io {
                path: self.path.clone(),
                op: "append",
                source,
            });
        }
        // The record is written: advance the chain before a possible fsync
        // error, so the next append still continues it correctly.
        self.next_seq += 1;
        self.prev.clone_from(&hash);
        if self.sync_each_append {
            self.sync()?;
        }
        Ok(hash)
    }

    /// Makes every appended record durable (`fsync`).
    pub fn flush(&mut self) -> Result<(), EvidenceError> {
        self.file.flush().map_err(|source| EvidenceError::Io {
            path: self.path.clone(),
            op: "flush",
            source,
        })?;
        self.sync()
    }

    fn sync(&mut self) -> Result<(), EvidenceError> {
        self.file.sync_data().map_err(|source| EvidenceError::Io {
            path: self.path.clone(),
            op: "fsync",
            source,
        })
    }

    /// The `seq` the next appended record will get (= records in the file).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Hash of the last record, or 64 zeros for an empty log.
    pub fn last_hash(&self) -> &str {
        &self.prev
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads the whole file at `path` and checks every record: it is a complete,
/// well-formed line, `seq` is consecutive from 0, the hash recomputes over the
/// stored bytes, and `prev` equals the previous record's hash. The error names
/// the first broken record.
pub fn verify(path: &Path) -> Result<Verified, VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    finish(scan(BufReader::new(f)).map_err(io)?)
}

/// [`verify`] for a log already in memory.
pub fn verify_bytes(bytes: &[u8]) -> Result<Verified, VerifyError> {
    let scan = scan(bytes).map_err(|source| VerifyError::Io {
        path: PathBuf::from("<memory>"),
        source,
    })?;
    finish(scan)
}

fn finish(scan: Scan) -> Result<Verified, VerifyError> {
    match scan.error {
        Some(e) => Err(e),
        None => Ok(Verified {
            records: scan.good.records,
            last_hash: scan.good.last_hash,
        }),
    }
}

#[derive(Default)]
struct Good {
    records: u64,
    last_hash: Option<String>,
    /// Byte length of the good prefix.
    len: u64,
}

struct Scan {
    good: Good,
    error: Option<VerifyError>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    seq: u64,
    #[allow(dead_code)]
    ts: String,
    #[allow(dead_code)]
    kind: String,
    #[allow(dead_code)]
    data: serde_json::Value,
    prev: String,
    hash: String,
}

fn scan(r: impl BufRead) -> std::io::Result<Scan> {
    scan_with(r, |_, _| {})
}

/// [`scan`], calling `on_record(seq, hash)` for every good record.
fn scan_with(mut r: impl BufRead, mut on_record: impl FnMut(u64, &str)) -> std::io::Result<Scan> {
    let mut good = Good::default();
    let mut prev = GENESIS_PREV.to_string();
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(Scan { good, error: None });
        }
        line_no += 1;
        let checked = match buf.strip_suffix(b"\n") {
            None => Err(VerifyError::Torn {
                line: line_no,
                bytes: n as u64,
            }),
            Some(line) => check_line(line, line_no, &prev),
        };
        match checked {
            Ok(rec) => {
                on_record(rec.seq, &rec.hash);
                prev = rec.hash;
                good.records += 1;
                good.len += n as u64;
                good.last_hash = Some(prev.clone());
            }
            Err(error) => {
                return Ok(Scan {
                    good,
                    error: Some(error),
                })
            }
        }
    }
}

/// Checks one complete line (without its newline): parse, seq, shape, hash, prev.
fn check_line(line: &[u8], line_no: u64, prev: &str) -> Result<Record, VerifyError> {
    let malformed = |reason: String| VerifyError::Malformed {
        line: line_no,
        reason,
    };
    let rec: Record =
        serde_json::from_slice(line).map_err(|e| malformed(format!("bad JSON: {e}")))?;
    let expected = line_no - 1;
    if rec.seq != expected {
        return Err(VerifyError::Seq {
            line: line_no,
            expected,
            found: rec.seq,
        });
    }
    // The line must end with `,"hash":"<64 hex>"}` exactly as written.
    let split = line
        .len()
        .checked_sub(SUFFIX_LEN)
        .filter(|&s| {
            line[s..].starts_with(HASH_KEY)
                && line.ends_with(b"\"}")
                && &line[s + HASH_KEY.len()..line.len() - 2] == rec.hash.as_bytes()
        })
        .ok_or_else(|| malformed("the line does not end with ,\"hash\":\"<64 hex>\"}".into()))?;
    let mut h = Sha256::new();
    h.update(&line[..split]);
    h.update(b"}");
    if to_hex(&h.finalize()) != rec.hash {
        return Err(VerifyError::Hash {
            line: line_no,
            seq: rec.seq,
        });
    }
    if rec.prev != prev {
        return Err(VerifyError::Prev {
            line: line_no,
            seq: rec.seq,
        });
    }
    Ok(rec)
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a &str to JSON cannot fail.
    serde_json::to_writer(&mut *out, s).expect("string serialises");
}

/// Compact JSON with object keys sorted by bytes, recursively (independent of
/// serde_json's `preserve_order` feature).
fn write_canonical(out: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, k);
                out.push(b':');
                write_canonical(out, v);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, v);
            }
            out.push(b']');
        }
        // Scalars: serde_json's own encoding (cannot fail).
        scalar => serde_json::to_writer(&mut *out, scalar).expect("scalar serialises"),
    }
}

/// Nanoseconds since the Unix epoch as RFC 3339 UTC with 9 fractional digits.
pub fn rfc3339_nanos(ts_nanos: u64) -> String {
    let secs = ts_nanos / 1_000_000_000;
    let nanos = ts_nanos % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(feature = "signing")]
pub mod signing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_nanos(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            rfc3339_nanos(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn canonical_sorts_keys_recursively() {
        let v = serde_json::json!({"b": [ {"z": 1, "a": null} ], "a": "x\n"});
        let mut out = Vec::new();
        write_canonical(&mut out, &v);
        assert_eq!(out, br#"{"a":"x\n","b":[{"a":null,"z":1}]}"#);
    }
}
