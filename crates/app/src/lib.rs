//! Light application-layer metadata for detectors and reports.
//!
//! Runs on the reader thread, where payloads are at hand, and must cost next
//! to nothing for the packets it does not care about: a port and first-byte
//! check decides before any parsing.
//!
//! One packet, one segment: there is no stream reassembly, so each parser
//! reads what a single datagram or TCP segment holds, which is where
//! handshake messages, requests, replies and banners normally travel.
//! Outside input never panics a parser; malformed input gives `None`.
#![forbid(unsafe_code)]

pub mod dns;
pub mod text;

use vigil_core::{proto, Meta, PacketInfo};

/// DNS and multicast DNS ports.
const DNS: u16 = 53;
const MDNS: u16 = 5353;

/// The metadata visible in one packet's L4 payload, if any.
#[inline]
pub fn inspect(p: &PacketInfo, payload: &[u8]) -> Option<Meta> {
    if payload.is_empty() {
        return None;
    }
    match p.proto {
        proto::TCP => tcp(p, payload),
        proto::UDP => udp(p, payload),
        _ => None,
    }
}

fn udp(p: &PacketInfo, payload: &[u8]) -> Option<Meta> {
    let either = |port| p.sport == port || p.dport == port;
    if either(DNS) || either(MDNS) {
        return dns::udp(payload).map(Meta::Dns);
    }
    None
}

fn tcp(p: &PacketInfo, payload: &[u8]) -> Option<Meta> {
    if p.sport == DNS || p.dport == DNS {
        return dns::tcp(payload).map(Meta::Dns);
    }
    None
}
