//! Outside input never panics the collector: arbitrary bytes under every
//! version's header, every truncation of every real corpus datagram, and
//! real datagrams with bytes flipped. The stats always add up.

mod common;

use std::net::SocketAddr;

use proptest::prelude::*;
use vigil_collect::{CollectConfig, CollectStats, Collector};

fn exporter() -> SocketAddr {
    "192.0.2.1:2055".parse().unwrap()
}

fn check(s: &CollectStats, out_len: usize) {
    assert_eq!(s.datagrams, s.by_kind());
    assert_eq!(s.records, out_len as u64);
    assert!(s.templates_cached <= CollectConfig::default().max_templates as u64);
}

/// Every datagram of the flow-export corpus, templates included.
fn corpus_datagrams() -> Vec<Vec<u8>> {
    static ALL: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    ALL.get_or_init(read_corpus).clone()
}

fn read_corpus() -> Vec<Vec<u8>> {
    let dir = common::corpus().join("flowexport");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| common::datagrams(f).into_iter().map(|d| d.2))
        .collect()
}

fn feed(c: &mut Collector, d: &[u8], out: &mut Vec<vigil_core::FlowRecord>) {
    c.datagram(exporter(), d, 1_700_000_000_000_000_000, out);
}

/// A header for each version, so random bodies reach the set/sample parsers.
fn with_header(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut d = match kind % 4 {
        0 => vec![0, 5],
        1 => vec![0, 9],
        2 => vec![0, 10],
        _ => vec![0, 0, 0, 5, 0, 0, 0, 1],
    };
    d.extend_from_slice(body);
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes_never_panic(kind in 0u8..5, body in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut c = Collector::new(&CollectConfig { max_templates: 8, default_sampling: 1 });
        let mut out = Vec::new();
        let d = if kind == 4 { body.clone() } else { with_header(kind, &body) };
        feed(&mut c, &d, &mut out);
        // a second time: templates the first one taught are now used
        feed(&mut c, &d, &mut out);
        check(&c.stats(), out.len());
        prop_assert!(c.stats().templates_cached <= 8);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn garbled_real_datagrams_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut c = Collector::new(&CollectConfig::default());
        let mut out = Vec::new();
        for mut d in corpus_datagrams() {
            feed(&mut c, &d, &mut out);
            for (i, x) in &flips {
                let n = d.len();
                d[i % n] ^= x | 1;
            }
            feed(&mut c, &d, &mut out);
        }
        check(&c.stats(), out.len());
    }
}

#[test]
fn every_truncation_of_real_datagrams_is_counted() {
    let all = corpus_datagrams();
    let mut c = Collector::new(&CollectConfig::default());
    let mut out = Vec::new();
    // templates first, so truncated data sets reach the record parser
    for d in &all {
        feed(&mut c, d, &mut out);
    }
    for d in &all {
        for n in 0..d.len() {
            feed(&mut c, &d[..n], &mut out);
        }
    }
    let s = c.stats();
    check(&s, out.len());
    let m = &s.malformed;
    assert!(
        m.too_short > 0 && m.bad_length > 0 && m.bad_set > 0,
        "{m:?}"
    );
    assert!(m.sflow_bad_sample > 0, "{m:?}");
    assert!(s.too_short_header == 4 * all.len() as u64);
}

#[test]
fn template_cache_is_bounded_and_counts_evictions() {
    // IPFIX datagrams each defining one new template id
    let mut c = Collector::new(&CollectConfig {
        max_templates: 16,
        default_sampling: 1,
    });
    let mut out = Vec::new();
    for tid in 256u16..256 + 100 {
        let mut d = vec![0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        // template set: id 2, len 4 + 4 + 4
        d.extend_from_slice(&[0, 2, 0, 12]);
        d.extend_from_slice(&tid.to_be_bytes());
        d.extend_from_slice(&[0, 1, 0, 8, 0, 4]); // one field: sourceIPv4Address
        let len = d.len() as u16;
        d[2..4].copy_from_slice(&len.to_be_bytes());
        feed(&mut c, &d, &mut out);
    }
    let s = c.stats();
    assert_eq!(s.templates_learned, 100);
    assert_eq!(s.templates_cached, 16);
    assert_eq!(s.templates_evicted, 84);
    assert_eq!(s.malformed, Default::default());
}

/// Found by `cargo fuzz` (collect_datagram): an IPFIX flowStartSeconds of
/// 2^64-1 overflowed the conversion to nanoseconds.
#[test]
fn regression_ipfix_huge_flow_start_seconds() {
    let mut c = Collector::new(&CollectConfig::default());
    let mut out = Vec::new();
    let mut d = vec![0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    // template 256: sourceIPv4Address, destinationIPv4Address,
    // flowStartSeconds (8 bytes), flowEndSeconds (8 bytes)
    d.extend_from_slice(&[0, 2, 0, 24, 1, 0, 0, 4]);
    d.extend_from_slice(&[0, 8, 0, 4, 0, 12, 0, 4, 0, 150, 0, 8, 0, 151, 0, 8]);
    d.extend_from_slice(&[1, 0, 0, 28]);
    d.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    d.extend_from_slice(&[0xff; 16]);
    let len = d.len() as u16;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    feed(&mut c, &d, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].start, out[0].end), (u64::MAX, u64::MAX));
    check(&c.stats(), out.len());
}
