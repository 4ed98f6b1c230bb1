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

/// Counts of Meta kinds, keyed "dns", "tls", "http-req", "http-resp",
/// "ssh", "attempt:<svc>", "failure:<svc>".
fn summary(m: &[Meta]) -> std::collections::BTreeMap<String, usize> {
    let mut c = std::collections::BTreeMap::new();
    for m in m {
        let k = match m {
            Meta::Arp { .. } => "arp".to_string(),
            Meta::Dns(_) => "dns".into(),
            Meta::Tls { .. } => "tls".into(),
            Meta::HttpRequest { .. } => "http-req".into(),
            Meta::HttpResponse { .. } => "http-resp".into(),
            Meta::SshBanner { .. } => "ssh".into(),
            Meta::LoginAttempt { service, .. } => format!("attempt:{service}"),
            Meta::LoginFailure { service } => format!("failure:{service}"),
        };
        *c.entry(k).or_insert(0) += 1;
    }
    c
}

#[test]
fn ftp_bruteforce() {
    let Some(p) = corpus("bruteforce/zeek_ftp_bruteforce.pcap") else {
        return;
    };
    let m = metas(&p);
    let s = summary(&m);
    eprintln!("ftp: {s:?}");
    assert_eq!(s.get("attempt:ftp"), Some(&30));
    assert_eq!(s.get("failure:ftp"), Some(&30));
    assert!(m.contains(&Meta::LoginAttempt {
        service: "ftp",
        user: Some("bro".into())
    }));
}

#[test]
fn sshguess_banners() {
    let Some(p) = corpus("bruteforce/zeek_sshguess.pcap") else {
        return;
    };
    let m = metas(&p);
    let s = summary(&m);
    eprintln!("sshguess: {s:?}");
    assert_eq!(s.get("ssh"), Some(&22));
    assert!(m.iter().any(
        |m| matches!(m, Meta::SshBanner { banner } if banner.starts_with("SSH-2.0-OpenSSH_6.7p1"))
    ));
}

#[test]
fn tls_beacon_sni() {
    let Some(p) = corpus("c2/slips_test-cc-capture-1.pcap") else {
        return;
    };
    let m = metas(&p);
    let s = summary(&m);
    let sni = m
        .iter()
        .filter(|m| matches!(m, Meta::Tls { sni: Some(s) } if s == "testing.com"))
        .count();
    eprintln!("slips: {s:?}, {sni} testing.com");
    assert!(sni >= 299, "{sni}");
}

#[test]
fn espn_http() {
    let Some(p) = corpus("background/chrissanders_http_espn.pcapng") else {
        return;
    };
    let m = metas(&p);
    let s = summary(&m);
    eprintln!("espn: {s:?}");
    let first = m.iter().find(|m| matches!(m, Meta::HttpRequest { .. }));
    eprintln!("first request: {first:?}");
    assert!(s.get("http-req").copied().unwrap_or(0) >= 25);
    assert!(s.get("http-resp").copied().unwrap_or(0) >= 25);
}

/// `VIGIL_APP_PCAP=file cargo test -p vigil-app --test corpus print -- --ignored --nocapture`
/// prints what a capture yields (counts and the first few of each kind).
#[test]
#[ignore]
fn print() {
    let Some(path) = std::env::var_os("VIGIL_APP_PCAP") else {
        return;
    };
    for f in std::env::split_paths(&path) {
        let m = metas(&f);
        eprintln!("{}: {:?}", f.display(), summary(&m));
        let mut seen = std::collections::HashMap::<std::mem::Discriminant<Meta>, usize>::new();
        for x in &m {
            let n = seen.entry(std::mem::discriminant(x)).or_insert(0);
            *n += 1;
            if *n <= 2 {
                eprintln!("  {x:?}");
            }
        }
    }
}
