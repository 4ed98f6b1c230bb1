use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::json;
use vigil_evidence::{verify, verify_bytes, EvidenceError, EvidenceLog, OpenOptions, VerifyError};

const T0: u64 = 1_763_900_000_000_000_000;

fn write_log(path: &Path, n: u64) -> Vec<String> {
    let (mut log, report) = EvidenceLog::open(path, &OpenOptions::default()).unwrap();
    assert!(report.created);
    let kinds = ["alert", "incident", "action"];
    let hashes = (0..n)
        .map(|i| {
            let data =
                json!({"i": i, "src": "10.0.0.1", "msg": format!("event {i}"), "tags": ["a", "b"]});
            log.append(T0 + i * 1_000, kinds[(i % 3) as usize], &data)
                .unwrap()
        })
        .collect();
    log.flush().unwrap();
    hashes
}

fn setup(n: u64) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.jsonl");
    let hashes = write_log(&path, n);
    (dir, path, hashes)
}

fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

#[test]
fn thousand_records_verify() {
    let (_d, path, hashes) = setup(1000);
    let v = verify(&path).unwrap();
    assert_eq!(v.records, 1000);
    assert_eq!(v.last_hash.as_ref(), hashes.last());
    let l = lines(&path);
    assert_eq!(l.len(), 1000);
    let first: serde_json::Value = serde_json::from_slice(&l[0]).unwrap();
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["seq"], 0);
    assert_eq!(first["kind"], "alert");
    let second: serde_json::Value = serde_json::from_slice(&l[1]).unwrap();
    assert_eq!(second["prev"], first["hash"]);
}

#[test]
fn record_format_and_hashed_bytes() {
    let (_d, path, hashes) = setup(1);
    let line = String::from_utf8(lines(&path).remove(0)).unwrap();
    let body = format!(
        r#"{{"seq":0,"ts":"2025-11-23T12:13:20.000000000Z","kind":"alert","data":{{"i":0,"msg":"event 0","src":"10.0.0.1","tags":["a","b"]}},"prev":"{}""#,
        "0".repeat(64)
    );
    use sha2::Digest;
    let h: String = sha2::Sha256::digest(format!("{body}}}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(h, hashes[0]);
    assert_eq!(line, format!("{body},\"hash\":\"{h}\"}}\n"));
}

#[test]
fn flipped_byte_in_data_names_that_line() {
    let (_d, path, _) = setup(100);
    let mut l = lines(&path);
    let pos = l[49].windows(7).position(|w| w == b"event 4").unwrap();
    l[49][pos + 6] = b'5';
    write_lines(&path, &l);
    let e = verify(&path).unwrap_err();
    assert!(matches!(e, VerifyError::Hash { line: 50, seq: 49 }), "{e}");
    assert_eq!(
        e.to_string(),
        "line 50 (seq 49): hash mismatch: the record was changed"
    );
}

#[test]
fn deleted_line_names_the_gap() {
    let (_d, path, _) = setup(100);
    let mut l = lines(&path);
    l.remove(8);
    write_lines(&path, &l);
    let e = verify(&path).unwrap_err();
    assert!(
        matches!(
            e,
            VerifyError::Seq {
                line: 9,
                expected: 8,
                found: 9
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("line 9: seq 8 expected, found 9: a record was removed"),
        "{e}"
    );
}

#[test]
fn deleted_last_line_is_detectable_only_by_anchor() {
    // Documented limitation: truncation at a record boundary verifies, with
    // fewer records and a different last hash (compare against an anchor).
    let (_d, path, hashes) = setup(10);
    let mut l = lines(&path);
    l.pop();
    write_lines(&path, &l);
    let v = verify(&path).unwrap();
    assert_eq!(v.records, 9);
    assert_ne!(v.last_hash.as_ref(), hashes.last());
}

#[test]
fn swapped_lines_named() {
    let (_d, path, _) = setup(100);
    let mut l = lines(&path);
    l.swap(20, 30);
    write_lines(&path, &l);
    let e = verify(&path).unwrap_err();
    assert_eq!(e.line(), Some(21), "{e}");
    assert!(
        matches!(
            e,
            VerifyError::Seq {
                expected: 20,
                found: 30,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn rewritten_seq_and_hash_caught_by_prev() {
    // Replace record 5 by a different, self-consistent record: prev of the
    // replacement still matches, but record 6's prev no longer does.
    let (_d, path, _) = setup(10);
    let dir2 = tempfile::tempdir().unwrap();
    let other = dir2.path().join("other.jsonl");
    let l = lines(&path);
    // Same first 5 records, then a forged, self-consistent 6th.
    std::fs::write(&other, l[..5].concat()).unwrap();
    let (mut log2, r) = EvidenceLog::open(&other, &OpenOptions::default()).unwrap();
    assert_eq!(r.records, 5);
    log2.append(T0, "alert", &json!({"forged": true})).unwrap();
    drop(log2);
    let forged = lines(&other).pop().unwrap();
    let mut l2 = l;
    l2[5] = forged;
    write_lines(&path, &l2);
    let e = verify(&path).unwrap_err();
    assert!(matches!(e, VerifyError::Prev { line: 7, seq: 6 }), "{e}");
    let (log, _) = EvidenceLog::open(&other, &OpenOptions::default()).unwrap();
    assert_eq!(log.next_seq(), 6);
}

#[test]
fn truncated_mid_line_is_torn_tail() {
    let (_d, path, _) = setup(30);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
    let e = verify(&path).unwrap_err();
    assert!(matches!(e, VerifyError::Torn { line: 30, .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("line 30: torn record (no newline"),
        "{e}"
    );

    // Without repair: open refuses and names it.
    match EvidenceLog::open(&path, &OpenOptions::default()) {
        Err(EvidenceError::TornTail { line: 30, .. }) => {}
        other => panic!("expected TornTail, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&path).unwrap().len(),
        bytes.len() - 40,
        "file untouched"
    );
}

#[test]
fn reopen_after_torn_tail_with_repair_continues_chain() {
    let (_d, path, hashes) = setup(30);
    let bytes = std::fs::read(&path).unwrap();
    let last_line_len = lines(&path).last().unwrap().len();
    std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
    let opts = OpenOptions {
        repair_torn_tail: true,
        ..Default::default()
    };
    let (mut log, report) = EvidenceLog::open(&path, &opts).unwrap();
    assert_eq!(report.records, 29);
    assert_eq!(report.torn_line, Some(30));
    assert_eq!(report.truncated_bytes, (last_line_len - 40) as u64);
    assert_eq!(report.last_hash.as_ref(), Some(&hashes[28]));
    assert_eq!(log.next_seq(), 29);
    for i in 0..5 {
        log.append(T0 + i, "action", &json!({"after_repair": i}))
            .unwrap();
    }
    log.flush().unwrap();
    let v = verify(&path).unwrap();
    assert_eq!(v.records, 34);
    let l = lines(&path);
    let rec: serde_json::Value = serde_json::from_slice(&l[29]).unwrap();
    assert_eq!(rec["seq"], 29);
    assert_eq!(rec["prev"], hashes[28].as_str());
}

#[test]
fn reopen_good_file_continues_chain() {
    let (_d, path, hashes) = setup(10);
    let (mut log, report) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
    assert!(!report.created);
    assert_eq!(report.records, 10);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.last_hash.as_ref(), Some(&hashes[9]));
    assert_eq!(log.last_hash(), hashes[9]);
    let h = log.append(T0 + 99, "incident", &json!({"id": 7})).unwrap();
    drop(log);
    let v = verify(&path).unwrap();
    assert_eq!(v.records, 11);
    assert_eq!(v.last_hash, Some(h));
    let rec: serde_json::Value = serde_json::from_slice(lines(&path).last().unwrap()).unwrap();
    assert_eq!(rec["seq"], 10);
    assert_eq!(rec["prev"], hashes[9].as_str());
    assert_eq!(rec["kind"], "incident");
}

#[test]
fn open_refuses_broken_chain() {
    let (_d, path, _) = setup(10);
    let mut l = lines(&path);
    l.remove(3);
    write_lines(&path, &l);
    match EvidenceLog::open(
        &path,
        &OpenOptions {
            repair_torn_tail: true,
            ..Default::default()
        },
    ) {
        Err(EvidenceError::Broken { source, .. }) => assert_eq!(source.line(), Some(4)),
        other => panic!("expected Broken, got {other:?}"),
    }
}

#[test]
fn empty_file_and_empty_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.jsonl");
    let (mut log, r) = EvidenceLog::open(
        &path,
        &OpenOptions {
            sync_each_append: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(r.created && r.records == 0 && r.last_hash.is_none());
    assert_eq!(
        verify(&path).unwrap(),
        vigil_evidence::Verified {
            records: 0,
            last_hash: None
        }
    );
    assert!(matches!(
        log.append(T0, "", &json!(null)),
        Err(EvidenceError::EmptyKind)
    ));
    log.append(
        T0,
        "weird \"kind\"|\n",
        &json!({"z": 1.5, "a": [null, true, "é\u{1}"]}),
    )
    .unwrap();
    assert_eq!(verify(&path).unwrap().records, 1);
    assert!(matches!(
        verify(&dir.path().join("missing")),
        Err(VerifyError::Io { .. })
    ));
}

fn small_log() -> &'static [u8] {
    use std::sync::OnceLock;
    static LOG: OnceLock<Vec<u8>> = OnceLock::new();
    LOG.get_or_init(|| {
        let (_d, path, _) = setup(12);
        std::fs::read(path).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any single-byte change anywhere is detected: verify errs, never panics, never passes.
    #[test]
    fn any_single_byte_change_is_detected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let good = small_log();
        prop_assert!(verify_bytes(good).is_ok());
        let mut bad = good.to_vec();
        let i = pos.index(bad.len());
        prop_assume!(bad[i] != byte);
        bad[i] = byte;
        let r = verify_bytes(&bad);
        prop_assert!(r.is_err(), "change at {} to {:#04x} passed", i, byte);
        // The error names a line at or before the changed line (+1 for a merged line or a prev check).
        let changed_line = good[..i].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let line = r.unwrap_err().line().unwrap();
        prop_assert!(line <= changed_line + 1, "named line {} for change on line {}", line, changed_line);
    }
}

/// The Python auditor in the crate docs agrees with `verify` (skipped without python3).
#[test]
fn python_auditor_from_docs_agrees() {
    let src = include_str!("../src/lib.rs");
    let start = src.find("//! ```python\n").unwrap() + "//! ```python\n".len();
    let end = start + src[start..].find("//! ```").unwrap();
    let script: String = src[start..end]
        .lines()
        .map(|l| {
            l.strip_prefix("//! ")
                .or_else(|| l.strip_prefix("//!"))
                .unwrap()
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let (d, path, hashes) = setup(50);
    {
        let (mut log, _) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
        log.append(
            T0,
            "action",
            &json!({"é": "\u{1}\u{2028}\"", "f": 1.0e16, "n": -3}),
        )
        .unwrap();
    }
    let last = verify(&path).unwrap().last_hash.unwrap();
    assert_ne!(&last, hashes.last().unwrap());
    let py = d.path().join("audit.py");
    std::fs::write(&py, script).unwrap();
    let run = |p: &Path| {
        std::process::Command::new("python3")
            .arg(&py)
            .arg(p)
            .output()
    };
    let Ok(out) = run(&path) else {
        eprintln!("python3 not available; skipped");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("51 records ok, last hash {last}\n")
    );
    // And it rejects a changed record.
    let mut l = lines(&path);
    let pos = l[10].windows(7).position(|w| w == b"event 1").unwrap();
    l[10][pos + 6] = b'2';
    write_lines(&path, &l);
    let out = run(&path).unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 11: hash mismatch"));
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".*".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(".*", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any kind, timestamp and JSON data round-trips: the log verifies and reopens.
    #[test]
    fn arbitrary_records_verify(
        recs in prop::collection::vec((any::<u64>(), "[^\u{0}]{1,12}", arb_json()), 1..8)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let (mut log, _) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
        let mut last = String::new();
        for (ts, kind, data) in &recs {
            last = log.append(*ts, kind, data).unwrap();
        }
        drop(log);
        let v = verify(&path).unwrap();
        prop_assert_eq!(v.records, recs.len() as u64);
        prop_assert_eq!(v.last_hash, Some(last));
        let (_, report) = EvidenceLog::open(&path, &OpenOptions::default()).unwrap();
        prop_assert_eq!(report.records, recs.len() as u64);
        // Stored data equals the appended data (compared after one text
        // round trip: serde_json's default float parser is not always exact).
        let stored: Vec<serde_json::Value> = lines(&path)
            .iter()
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["data"].clone())
            .collect();
        for ((_, _, data), s) in recs.iter().zip(&stored) {
            let reparsed: serde_json::Value = serde_json::from_str(&data.to_string()).unwrap();
            prop_assert_eq!(&reparsed, s);
        }
    }
}

/// Child half of `kill_9_mid_stream`: appends forever when told to.
#[test]
fn kill_child_writer() {
    let Ok(path) = std::env::var("VIGIL_EVIDENCE_CHILD") else {
        return;
    };
    let opts = OpenOptions {
        repair_torn_tail: true,
        ..Default::default()
    };
    let (mut log, _) = EvidenceLog::open(Path::new(&path), &opts).unwrap();
    let pad = "x".repeat(3000);
    for i in 0u64.. {
        log.append(T0 + i, "alert", &json!({"i": i, "pad": pad}))
            .unwrap();
    }
}

/// A writer killed with SIGKILL mid-stream leaves a log that reopens (with
/// repair) and verifies; the chain continues across the kill.
#[test]
fn kill_9_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.jsonl");
    let mut before = 0;
    for _round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "kill_child_writer", "--test-threads=1"])
            .env("VIGIL_EVIDENCE_CHILD", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let want = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) + 200 * 3000;
        let start = std::time::Instant::now();
        while std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < want {
            assert!(start.elapsed().as_secs() < 60, "child writer too slow");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let opts = OpenOptions {
            repair_torn_tail: true,
            ..Default::default()
        };
        let (log, report) = EvidenceLog::open(&path, &opts).unwrap();
        // Each record is > 3000 bytes, so the chain grew by ~200 records.
        assert!(report.records > before + 150, "{before} -> {report:?}");
        before = report.records;
        drop(log);
        assert_eq!(verify(&path).unwrap().records, report.records);
    }
}
