//! Fuzzes `vigil_app::inspect`: the first byte picks TCP, UDP or another
//! protocol, the next two a source and destination port from the list the
//! dispatcher cares about (or, for the last index, the raw next two bytes);
//! the rest is the L4 payload. Every string a returned Meta carries must be
//! printable ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_core::{proto, Meta, PacketInfo};

const PORTS: [u16; 15] = [
    21, 22, 25, 53, 80, 88, 110, 143, 443, 587, 3306, 5353, 5432, 8080, 50000,
];

fn port(sel: u8, raw: &mut &[u8]) -> u16 {
    let i = usize::from(sel) % (PORTS.len() + 1);
    if i < PORTS.len() {
        return PORTS[i];
    }
    match raw {
        [a, b, rest @ ..] => {
            let p = u16::from_be_bytes([*a, *b]);
            *raw = rest;
            p
        }
        _ => 0,
    }
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fuzz_target!(|input: &[u8]| {
    let [p, s, d, rest @ ..] = input else {
        return;
    };
    let mut rest: &[u8] = rest;
    let proto = match p % 4 {
        0 | 1 => proto::TCP,
        2 => proto::UDP,
        _ => *p,
    };
    let sport = port(*s, &mut rest);
    let dport = port(*d, &mut rest);
    let info = PacketInfo {
        proto,
        sport,
        dport,
        payload_len: rest.len() as u32,
        ..PacketInfo::default()
    };
    match vigil_app::inspect(&info, rest) {
        Some(Meta::Dns(m)) => {
            assert!(printable(&m.qname));
            assert!(m.len as usize >= 12);
        }
        Some(Meta::Tls { sni }) => assert!(sni.as_deref().is_none_or(printable)),
        Some(Meta::HttpRequest {
            method,
            host,
            uri,
            user_agent,
        }) => {
            assert!(printable(&method) && printable(&uri));
            assert!(host.as_deref().is_none_or(printable));
            assert!(user_agent.as_deref().is_none_or(printable));
        }
        Some(Meta::HttpResponse { status }) => assert!((100..600).contains(&status)),
        Some(Meta::SshBanner { banner }) => assert!(printable(&banner) && banner.len() <= 255 * 4),
        Some(Meta::LoginAttempt { user, .. }) => assert!(user.as_deref().is_none_or(printable)),
        Some(Meta::LoginFailure { .. }) | Some(Meta::Arp { .. }) | None => {}
    }
});
