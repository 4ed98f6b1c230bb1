//! A tiny classic-pcap reader and checksum verifier for the tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct Rec {
    pub ts: u64,
    pub caplen: u32,
    pub orig: u32,
    pub data: Vec<u8>,
}

pub fn read_pcap(path: &Path) -> Vec<Rec> {
    let b = std::fs::read(path).expect("read pcap");
    assert!(b.len() >= 24, "short file");
    assert_eq!(
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        0xa1b2_c3d4,
        "magic"
    );
    assert_eq!(u16::from_le_bytes(b[4..6].try_into().unwrap()), 2);
    assert_eq!(u16::from_le_bytes(b[6..8].try_into().unwrap()), 4);
    assert_eq!(
        u32::from_le_bytes(b[20..24].try_into().unwrap()),
        1,
        "linktype"
    );
    let mut out = Vec::new();
    let mut i = 24;
    while i < b.len() {
        assert!(i + 16 <= b.len(), "truncated record header");
        let sec = u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64;
        let usec = u32::from_le_bytes(b[i + 4..i + 8].try_into().unwrap()) as u64;
        assert!(usec < 1_000_000);
        let caplen = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap());
        let orig = u32::from_le_bytes(b[i + 12..i + 16].try_into().unwrap());
        i += 16;
        assert!(i + caplen as usize <= b.len(), "truncated record");
        out.push(Rec {
            ts: sec * 1_000_000_000 + usec * 1000,
            caplen,
            orig,
            data: b[i..i + caplen as usize].to_vec(),
        });
        i += caplen as usize;
    }
    out
}

fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut it = data.chunks_exact(2);
    for c in &mut it {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [x] = it.remainder() {
        acc += (*x as u64) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Parsed L3/L4 summary of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub src: std::net::IpAddr,
    pub dst: std::net::IpAddr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub fragment: bool,
}

/// Verifies IP and L4 checksums of an Ethernet frame and returns its summary.
pub fn check_frame(f: &[u8]) -> Pkt {
    assert!(f.len() >= 60, "frame shorter than 60 bytes");
    let et = u16::from_be_bytes([f[12], f[13]]);
    let (src, dst, proto, l4, l4_len, pseudo, fragment) = match et {
        0x0800 => {
            let ip = &f[14..];
            assert_eq!(ip[0], 0x45);
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            assert!(14 + total <= f.len(), "IP total length beyond frame");
            assert_eq!(fold(sum16(&ip[..20], 0)), 0xffff, "IPv4 header checksum");
            let frag = u16::from_be_bytes([ip[6], ip[7]]);
            let fragment = frag & 0x3fff != 0;
            let s: [u8; 4] = ip[12..16].try_into().unwrap();
            let d: [u8; 4] = ip[16..20].try_into().unwrap();
            let proto = ip[9];
            let l4_len = total - 20;
            let mut ps = sum16(&s, 0);
            ps = sum16(&d, ps);
            ps += proto as u64 + l4_len as u64;
            (s.into(), d.into(), proto, 34, l4_len, ps, fragment)
        }
        0x86dd => {
            let ip = &f[14..];
            assert_eq!(ip[0] >> 4, 6);
            let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            assert!(54 + plen <= f.len());
            let s: [u8; 16] = ip[8..24].try_into().unwrap();
            let d: [u8; 16] = ip[24..40].try_into().unwrap();
            let proto = ip[6];
            let mut ps = sum16(&s, 0);
            ps = sum16(&d, ps);
            ps += proto as u64 + plen as u64;
            (s.into(), d.into(), proto, 54, plen, ps, false)
        }
        other => panic!("unexpected ethertype {other:#x}"),
    };
    let seg = &f[l4..l4 + l4_len];
    let (mut sport, mut dport) = (0, 0);
    if !fragment {
        match proto {
            6 | 17 | 58 => assert_eq!(
                fold(sum16(seg, pseudo)),
                0xffff,
                "L4 checksum proto {proto}"
            ),
            1 => assert_eq!(fold(sum16(seg, 0)), 0xffff, "ICMP checksum"),
            p => panic!("unexpected proto {p}"),
        }
        if proto == 6 || proto == 17 {
            sport = u16::from_be_bytes([seg[0], seg[1]]);
            dport = u16::from_be_bytes([seg[2], seg[3]]);
        }
        if proto == 17 {
            assert_eq!(
                u16::from_be_bytes([seg[4], seg[5]]) as usize,
                l4_len,
                "UDP length"
            );
        }
    }
    Pkt {
        src,
        dst,
        proto,
        sport,
        dport,
        fragment,
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS.ffffffZ` to nanoseconds since the epoch.
pub fn parse_time(s: &str) -> u64 {
    assert!(s.ends_with('Z') && s.len() == 27, "time format: {s}");
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (hh, mm, ss, us) = (n(11, 13), n(14, 16), n(17, 19), n(20, 26));
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + hh * 3600 + mm * 60 + ss) as u64) * 1_000_000_000 + us as u64 * 1000
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-sim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
