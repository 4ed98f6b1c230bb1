//! Fuzzes `vigil_collect::Collector::datagram`. The input is a sequence of
//! datagrams, each prefixed by a 2-byte big-endian length (the last one
//! takes what is left), fed to one fresh collector with a 4-entry template
//! cache, so templates learned from one datagram are used (and evicted) by
//! the next. Checks: no panic, the per-version counts add up to the
//! datagrams, every record counted is returned, the cache stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_collect::{CollectConfig, Collector};

fuzz_target!(|input: &[u8]| {
    let mut c = Collector::new(&CollectConfig {
        max_templates: 4,
        default_sampling: 1,
    });
    let exporter = "192.0.2.1:2055".parse().unwrap();
    let mut out = Vec::new();
    let mut rest = input;
    let mut ts = 1_700_000_000_000_000_000u64;
    while !rest.is_empty() {
        let (d, r) = match rest {
            [a, b, r @ ..] => {
                let n = (u16::from_be_bytes([*a, *b]) as usize).min(r.len());
                r.split_at(n)
            }
            _ => (rest, &[][..]),
        };
        c.datagram(exporter, d, ts, &mut out);
        ts += 1_000_000;
        rest = r;
    }
    let s = c.stats();
    assert_eq!(s.datagrams, s.by_kind());
    assert_eq!(s.records, out.len() as u64);
    assert!(s.templates_cached <= 4);
    for r in &out {
        assert!(r.start <= r.end);
    }
});
