//! `inspect` over the real captures of /work/shared/corpus (skipped when the
//! corpus is not there): the counts the corpus README documents.

use std::path::{Path, PathBuf};
use vigil_core::Meta;
use vigil_wire::{Decoded, Decoder, DecoderConfig};

fn corpus(rel: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    let p = dir.join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} not found", p.display());
        None
    }
}

/// Every Meta `inspect` produces for the capture, in order.
pub fn metas(path: &Path) -> Vec<Meta> {
    let mut src = vigil_capture::open(path).expect("open");
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        if let Decoded::Ip { info, payload } = dec.decode(p.linktype, p.ts, p.orig_len, p.data) {
            out.extend(vigil_app::inspect(&info, payload));
        }
    }
    out
}

fn dns(m: &[Meta]) -> Vec<&vigil_core::DnsMeta> {
    m.iter()
        .filter_map(|m| match m {
            Meta::Dns(d) => Some(d),
            _ => None,
        })
        .collect()
}

#[test]
fn iodine_null_queries() {
    let Some(p) = corpus("exfil/ndpi_dns-tunnel-iodine.pcap") else {
        return;
    };
    let m = metas(&p);
    let d = dns(&m);
    let q = d.iter().filter(|d| !d.response).count();
    let r = d.iter().filter(|d| d.response).count();
    let null = d.iter().filter(|d| d.qtype == 10).count();
    let pirate = d.iter().filter(|d| d.qname.ends_with("pirate.sea")).count();
    eprintln!(
        "iodine: {} dns, {q} queries, {r} answers, {null} NULL, {pirate} pirate.sea",
        d.len()
    );
    assert!(q >= 222 && r >= 212, "{q} {r}");
    assert!(null >= 222 + 212);
    assert!(pirate >= 400);
}

#[test]
fn dnscat2() {
    let Some(p) = corpus("exfil/ndpi_dns_exfiltration_dnscat2.pcap") else {
        return;
    };
    let m = metas(&p);
    let d = dns(&m);
    let dnscat = d.iter().filter(|d| d.qname.starts_with("dnscat.")).count();
    eprintln!(
        "dnscat2: {} dns, {dnscat} dnscat.*; e.g. {:?}",
        d.len(),
        d.first()
    );
    assert_eq!(d.len(), 300);
    assert_eq!(dnscat, 300);
}

#[test]
fn espn_dns() {
    let Some(p) = corpus("background/chrissanders_http_espn.pcapng") else {
        return;
    };
    let m = metas(&p);
    let d = dns(&m);
    eprintln!(
        "espn: {} dns: {:?}",
        d.len(),
        d.iter().map(|d| &d.qname).collect::<Vec<_>>()
    );
    assert!(d.len() >= 28);
    assert!(d
        .iter()
        .any(|d| d.qname == "espn.go.com" || d.qname.ends_with("espn.com")));
}
