//! The malformed per-packet corpus (`/work/shared/corpus/malformed/packet/`,
//! see its README section "malformed"), read with a tiny pcap walker so this
//! test does not depend on the capture crate. Skipped when the corpus is absent.

use std::path::PathBuf;

use vigil_wire::{linktype, Anomaly, Decoded, Decoder, DecoderConfig};

const DIR: &str = "/work/shared/corpus/malformed/packet";

struct Rec {
    ts: u64,
    wire_len: u32,
    data: Vec<u8>,
}

/// Classic pcap: 24-byte header, 16-byte record headers; either byte order,
/// microsecond or nanosecond magic. Returns (raw link-type field, records).
fn read_pcap(name: &str) -> Option<(u32, Vec<Rec>)> {
    let path = PathBuf::from(DIR).join(name);
    let b = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skipping {}: {e}", path.display());
            return None;
        }
    };
    assert!(b.len() >= 24, "{name}: short header");
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let (le, nano) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        m => panic!("{name}: magic {m:#x}"),
    };
    let u32at = |i: usize| {
        let a: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let lt = u32at(20);
    let mut recs = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let (sec, frac, cap, orig) = (u32at(off), u32at(off + 4), u32at(off + 8), u32at(off + 12));
        let start = off + 16;
        let end = (start + cap as usize).min(b.len());
        let frac_ns = if nano {
            frac as u64
        } else {
            frac as u64 * 1000
        };
        recs.push(Rec {
            ts: sec as u64 * 1_000_000_000 + frac_ns,
            wire_len: orig,
            data: b[start..end].to_vec(),
        });
        off = end;
    }
    Some((lt, recs))
}

/// Decodes every record; returns the decoder and per-result counts.
fn run(name: &str, lt_override: Option<u32>) -> Option<(Decoder, Vec<&'static str>)> {
    let (lt, recs) = read_pcap(name)?;
    let lt = lt_override.unwrap_or(lt);
    let mut d = Decoder::new(DecoderConfig::default());
    let mut kinds = Vec::new();
    for r in &recs {
        let k = match d.decode(lt, r.ts, r.wire_len, &r.data) {
            Decoded::Ip { info, payload } => {
                if info.frames == 1 {
                    assert!(payload.len() <= r.data.len());
                }
                assert_eq!(info.payload_len as usize, payload.len());
                "ip"
            }
            Decoded::Arp(_) => "arp",
            Decoded::NonIp => "nonip",
            Decoded::FragmentHeld => "held",
            Decoded::Bad => "bad",
        };
        kinds.push(k);
        assert!(d.held_bytes() <= DecoderConfig::default().max_held_bytes);
    }
    d.expire(u64::MAX);
    let c = d.counters();
    assert_eq!(c.frames as usize, recs.len());
    assert_eq!(c.ip + c.arp + c.non_ip + c.frag_held + c.bad, c.frames);
    assert_eq!(c.frag_frames, c.reassembled_frames + c.frag_dropped_frames);
    assert_eq!(d.held_bytes(), 0);
    eprintln!(
        "{name}: {c:?}\n  anomalies {:?}",
        d.anomalies().collect::<Vec<_>>()
    );
    Some((d, kinds))
}

#[test]
fn ipv4_invalid_hdr_length() {
    let Some((d, k)) = run("tcpdump_ipv4_invalid_hdr_length.pcap", None) else {
        return;
    };
    assert_eq!(k, ["bad"]);
    assert_eq!(d.anomaly(Anomaly::Ipv4HlenTooSmall), 1);
}

#[test]
fn ip4_trunc() {
    let Some((d, k)) = run("zeek_ip4-trunc.pcap", None) else {
        return;
    };
    assert_eq!(k, ["bad"]);
    assert_eq!(d.anomaly(Anomaly::Ipv4TruncPkt), 1);
    assert_eq!(d.counters().truncated, 1);
}

#[test]
fn heapoverflow_tcp_print() {
    // The link-type field is 0x30000001: libpcap's LT_LINKTYPE (low 16 bits)
    // is 1, Ethernet; bits 28-31 are the FCS length, meaningless without the
    // F bit (0x04000000), and the reserved bits 16-25 are clear. Masking is
    // the file reader's job; the raw value is an unsupported link type here.
    let Some((d, k)) = run("tcpdump_heapoverflow-tcp_print.pcap", None) else {
        return;
    };
    assert_eq!(k, ["nonip"]);
    assert_eq!(d.anomaly(Anomaly::LinkUnsupported), 1);
    let (d, k) = run(
        "tcpdump_heapoverflow-tcp_print.pcap",
        Some(linktype::ETHERNET),
    )
    .unwrap();
    // caplen 64 of 262,144: a snaplen cut. IPv4 claims 12,336 bytes, TCP a
    // 60-byte header of which 30 bytes were captured: decoded, counted truncated.
    assert_eq!(k, ["ip"]);
    assert_eq!(d.anomaly(Anomaly::TcpOptTrunc), 1);
    assert_eq!(d.counters().truncated, 1);
}

#[test]
fn suricata_ipv4_truncated() {
    let Some((d, k)) = run("suricata-verify_ipv4-truncated.pcap", None) else {
        return;
    };
    assert_eq!(k, ["ip"]);
    assert_eq!(d.anomaly(Anomaly::Ipv4LenExceedsCaptured), 1);
    let (lt, recs) = read_pcap("suricata-verify_ipv4-truncated.pcap").unwrap();
    let mut d = Decoder::default();
    let r = &recs[0];
    match d.decode(lt, r.ts, r.wire_len, &r.data) {
        Decoded::Ip { info, payload } => {
            assert_eq!(info.ip_len, 1516);
            assert_eq!(payload.len(), 1516 - 28);
            assert_eq!(info.proto, 17);
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn ip_fragmented_garbage() {
    let Some((d, _)) = run("ndpi_ip_fragmented_garbage.pcap", None) else {
        return;
    };
    let c = d.counters();
    assert_eq!(c.frames, 1252);
    assert!(d.anomaly(Anomaly::FragOverlap) > 0);
    assert!(d.anomaly(Anomaly::FragConflict) > 0);
    // The four copies arrive one after the other, 0.3 s apart: each is
    // reassembled on its own (first arrival wins within a copy) and
    // compared with the previous one: every fragment of copies 2-4 overlaps.
    assert_eq!(c.reassembled, 4);
    assert_eq!(c.reassembled_frames, 1252);
    assert_eq!(d.anomaly(Anomaly::FragOverlap), 3 * 313);
    assert_eq!(d.anomaly(Anomaly::FragConflict), 3 * 313);
    // Two copies have a data offset below 5 (8 or 16 bytes): Bad. The other
    // two happen to have a plausible one (24, 28 bytes) and decode.
    assert_eq!(c.bad, 2);
    assert_eq!(d.anomaly(Anomaly::TcpHlenTooSmall), 2);
    assert_eq!(c.ip, 2);
}

#[test]
fn fuzz_2006_06_26() {
    let Some((d, k)) = run("ndpi_fuzz-2006-06-26-2594.pcap", None) else {
        return;
    };
    assert_eq!(k.len(), 691);
    let c = d.counters();
    assert_eq!(c.frames, 691);
    assert!(c.ip > 400, "{c:?}");
    assert!(d.anomaly(Anomaly::Ipv4LenExceedsCaptured) > 0);
    assert!(d.anomaly(Anomaly::UdpLenExceedsIpPayload) > 0);
    assert!(d.anomaly(Anomaly::Ipv4WrongIpVersion) > 0);
    assert!(d.anomaly(Anomaly::Ipv4HlenTooSmall) > 0);
}
