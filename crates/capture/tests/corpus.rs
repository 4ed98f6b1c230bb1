//! The shared test corpus: every good capture reads completely with the
//! packet count capinfos gives, every broken file header is rejected with a
//! one-line error naming the file and the defect.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::drain;
use vigil_capture::{open, open_reader};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn corpus() -> PathBuf {
    let p = PathBuf::from(CORPUS);
    assert!(
        p.join("README.md").is_file(),
        "corpus not found at {CORPUS}"
    );
    p
}

/// (relative path, packets) from the README's file table.
fn expected_counts() -> Vec<(String, u64)> {
    let readme = fs::read_to_string(corpus().join("README.md")).unwrap();
    let mut out = Vec::new();
    for line in readme.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() < 5 || !cols[1].starts_with('`') {
            continue;
        }
        let name = cols[1].trim_matches('`');
        if let Ok(n) = cols[3].parse::<u64>() {
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                out.push((name.to_string(), n));
            }
        }
    }
    out
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            captures(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng")
        ) {
            out.push(p);
        }
    }
}

#[test]
fn good_captures_read_completely_with_readme_counts() {
    let root = corpus();
    let counts = expected_counts();
    assert!(counts.len() >= 25, "README table not parsed: {counts:?}");
    let mut files = Vec::new();
    captures(&root, &mut files);
    let bad_dir = root.join("malformed/file-format");
    let mut checked = 0;
    for path in files.iter().filter(|p| !p.starts_with(&bad_dir)) {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let mut src = open(path).unwrap_or_else(|e| panic!("{e}"));
        let (pkts, err) = drain(&mut *src);
        assert!(err.is_none(), "{err:?}");
        assert!(src.take_warnings().is_empty(), "{rel}");
        let (done, total) = src.progress();
        assert_eq!(Some(done), total, "{rel}");
        let want = counts
            .iter()
            .find(|(n, _)| *n == rel)
            .unwrap_or_else(|| panic!("{rel} not in README"))
            .1;
        assert_eq!(pkts.len() as u64, want, "{rel}");
        // The same file gzip-compressed reads the same.
        let gz = common::gzip(&fs::read(path).unwrap());
        let mut src = open_reader(&rel, Box::new(std::io::Cursor::new(gz)), None).unwrap();
        let (again, err) = drain(&mut *src);
        assert!(err.is_none());
        assert_eq!(again, pkts, "{rel}.gz");
        checked += 1;
    }
    assert!(checked >= 29, "only {checked} captures found");
    assert_eq!(
        counts
            .iter()
            .filter(|(n, _)| !n.starts_with("malformed/file-format"))
            .count(),
        checked
    );
}

#[test]
fn synscan_pcapng_details() {
    let mut src = open(&corpus().join("scan/chrissanders_synscan.pcapng")).unwrap();
    let (pkts, err) = drain(&mut *src);
    assert!(err.is_none());
    assert_eq!(pkts.len(), 2011);
    assert!(pkts.iter().all(|p| p.linktype == 1));
    // README: first SYN of the scan at 2010-07-04T20:24:16.274870Z.
    assert!(pkts.iter().any(|p| p.ts == 1_278_275_056_274_870_000));
    assert!(pkts.windows(2).all(|w| w[0].ts <= w[1].ts));
}

#[test]
fn heapoverflow_frame_keeps_caplen() {
    let mut src =
        open(&corpus().join("malformed/packet/tcpdump_heapoverflow-tcp_print.pcap")).unwrap();
    let (pkts, _) = drain(&mut *src);
    assert_eq!(
        (pkts[0].data.len(), pkts[0].orig_len, pkts[0].linktype),
        (64, 262_144, 1)
    );
}

#[test]
fn malformed_file_formats_are_rejected_with_a_clear_line() {
    let dir = corpus().join("malformed/file-format");
    let cases: &[(&str, &[&str])] = &[
        (
            "libpcap_pcap-invalid-version-1.pcap",
            &["unsupported pcap version 1.4"],
        ),
        (
            "libpcap_linktype-reserved-field-not-zero.pcap",
            &["linktype reserved field not zero (0x00300000)"],
        ),
        (
            "libpcap_pcapng-invalid-vers-1.pcapng",
            &["unsupported pcapng section header version 0.1"],
        ),
        (
            "libpcap_shb-option-too-long.pcapng",
            &["total length in header 52 and trailer 808464432 don't match"],
        ),
        (
            "libpcap-pr1704_pcap-truncated-hdr-23.pcap",
            &["truncated pcap file header (24 bytes needed, 23 present)"],
        ),
        (
            "libpcap-pr1704_pcapng-block-len-too-small.pcapng",
            &["has a length of 4 < 12"],
        ),
        (
            "libpcap-pr1704_pcapng-packet-before-idb.pcapng",
            &["packet block for interface 0 before any Interface Description Block"],
        ),
    ];
    let mut files = Vec::new();
    captures(&dir, &mut files);
    assert_eq!(files.len(), cases.len());
    for (name, words) in cases {
        let path = dir.join(name);
        let msg = match open(&path) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{name} opened"),
        };
        assert!(msg.starts_with(&path.display().to_string()), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        for w in *words {
            assert!(msg.contains(w), "{name}: {msg}");
        }
    }
}

#[test]
fn open_reports_missing_file() {
    let e = open(Path::new("/nonexistent/x.pcap"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("/nonexistent/x.pcap: cannot open:"), "{e}");
}
