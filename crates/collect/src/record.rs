//! One exported flow as the parsers read it, and its mapping to vigil's
//! [`FlowRecord`].
//!
//! The mapping (the same for every version):
//! - `client` = the record's source, `server` = its destination, `cport` /
//!   `sport` their ports. Most exported records are unidirectional: their
//!   counts go to `toserver` and `toclient` stays zero; an IPFIX biflow's
//!   reverse counters (RFC 5103) go to `toclient`.
//! - `toserver.pkts` = exported packets × sampling rate. `toserver.bytes` and
//!   `toserver.ip_bytes` both = exported octets × rate: NetFlow/IPFIX count IP
//!   bytes (vigil's `ip_bytes`); frame bytes are not exported, and taking them
//!   equal to IP bytes under-counts vigil's frame bytes by the link header (14
//!   bytes per Ethernet frame). sFlow samples carry the frame length, so there
//!   `bytes` is the frame length and `ip_bytes` the IP length, as in vigil's
//!   own flows.
//! - `payload_bytes` is an estimate: IP bytes minus a minimal IP+L4 header
//!   per packet (40 for TCP, 28 for UDP/ICMP, 20 otherwise; IPv6 adds 20),
//!   never below zero. Flow export does not carry payload sizes; the estimate
//!   lets payload-based heuristics (a login exchange that carried data) work.
//! - `start` / `end` from the record's own times made absolute (see each
//!   version); the datagram's export time when it has none.
//! - `state`: TCP with FIN or RST seen → `Closed`; TCP with SYN and ACK seen
//!   (the client side completes a handshake with its ACK) or a TCP record
//!   without SYN (a long flow's later record) → `Established`; a SYN alone →
//!   `New`. Other protocols → `Established` when a biflow has reverse
//!   packets, else `New` (one direction only is known). TCP flags for the
//!   state are those of both directions. `reason` is
//!   always `Timeout`: an exporter exports on its idle/active timeouts.
//! - ICMP: `icmp_type` / `icmp_code` from the record; `cport` = type and
//!   `sport` = code (vigil's packet path uses the echo identifier for echo,
//!   which exports do not carry).
//! - `flow_id`: a hash of the exporter, the 5-tuple, VLAN and start time.
//! - `app_proto`: `None` (flow export carries no payload to look at).

use std::hash::Hasher;
use std::net::SocketAddr;

use vigil_core::hash::FastHasher;
use vigil_core::{proto, tcp_flags, Addr, DirCounters, EndReason, FlowRecord, FlowState, Nanos};

/// The fields of one exported flow the collector maps.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rec {
    pub src: Addr,
    pub dst: Addr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub tcp_flags: u8,
    pub vlan: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub has_icmp: bool,
    pub pkts: u64,
    pub ip_bytes: u64,
    /// Frame bytes when known (sFlow), else `ip_bytes` is used.
    pub frame_bytes: Option<u64>,
    pub start: Option<Nanos>,
    pub end: Option<Nanos>,
    /// Reverse direction of an IPFIX biflow (RFC 5103), else zero.
    pub rev_pkts: u64,
    pub rev_ip_bytes: u64,
    pub rev_tcp_flags: u8,
    /// A sampling rate carried by the record itself.
    pub sampling: Option<u32>,
}

fn header_estimate(r: &Rec) -> u64 {
    let l4 = match r.proto {
        proto::TCP => 20,
        proto::UDP | proto::ICMP | proto::ICMPV6 => 8,
        _ => 0,
    };
    let ip = if r.src.v6 { 40 } else { 20 };
    ip + l4
}

impl Rec {
    /// The flow record, counts scaled by `rate` (>= 1).
    pub(crate) fn into_flow(
        mut self,
        exporter: SocketAddr,
        rate: u32,
        fallback: Nanos,
    ) -> FlowRecord {
        let rate = rate.max(1) as u64;
        let pkts = self.pkts.saturating_mul(rate);
        let ip_bytes = self.ip_bytes.saturating_mul(rate);
        let bytes = self
            .frame_bytes
            .map_or(ip_bytes, |b| b.saturating_mul(rate));
        let payload = ip_bytes.saturating_sub(pkts.saturating_mul(header_estimate(&self)));
        let (start, end) = match (self.start, self.end) {
            (Some(s), Some(e)) => (s.min(e), s.max(e)),
            (Some(s), None) => (s, s),
            (None, Some(e)) => (e, e),
            (None, None) => (fallback, fallback),
        };
        let f = self.tcp_flags | self.rev_tcp_flags;
        let rev_pkts = self.rev_pkts.saturating_mul(rate);
        let rev_ip_bytes = self.rev_ip_bytes.saturating_mul(rate);
        let state = if self.proto != proto::TCP {
            if rev_pkts > 0 {
                FlowState::Established
            } else {
                FlowState::New
            }
        } else if f & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            FlowState::Closed
        } else if f & tcp_flags::SYN == 0 || f & tcp_flags::ACK != 0 {
            FlowState::Established
        } else {
            FlowState::New
        };
        let is_icmp = matches!(self.proto, proto::ICMP | proto::ICMPV6);
        if is_icmp && !self.has_icmp {
            // Cisco's convention, kept by most exporters: type * 256 + code in
            // the destination port.
            self.icmp_type = (self.dport >> 8) as u8;
            self.icmp_code = self.dport as u8;
        }
        let (cport, sport) = if is_icmp {
            (self.icmp_type as u16, self.icmp_code as u16)
        } else {
            (self.sport, self.dport)
        };
        let mut h = FastHasher::default();
        match exporter.ip() {
            std::net::IpAddr::V4(a) => h.write(&a.octets()),
            std::net::IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.write(&self.src.bytes);
        h.write(&self.dst.bytes);
        h.write_u64(
            (cport as u64) << 40
                | (sport as u64) << 24
                | (self.proto as u64) << 16
                | self.vlan as u64,
        );
        h.write_u64(start);
        FlowRecord {
            flow_id: h.finish() & 0x7fff_ffff_ffff_ffff,
            client: self.src,
            server: self.dst,
            cport,
            sport,
            proto: self.proto,
            vlan: self.vlan,
            icmp_type: if is_icmp { self.icmp_type } else { 0 },
            icmp_code: if is_icmp { self.icmp_code } else { 0 },
            start,
            end,
            toserver: DirCounters {
                pkts,
                bytes,
                ip_bytes,
                payload_bytes: payload,
                tcp_flags: if self.proto == proto::TCP {
                    self.tcp_flags
                } else {
                    0
                },
            },
            toclient: DirCounters {
                pkts: rev_pkts,
                bytes: rev_ip_bytes,
                ip_bytes: rev_ip_bytes,
                payload_bytes: rev_ip_bytes
                    .saturating_sub(rev_pkts.saturating_mul(header_estimate(&self))),
                tcp_flags: if self.proto == proto::TCP {
                    self.rev_tcp_flags
                } else {
                    0
                },
            },
            state,
            reason: EndReason::Timeout,
            app_proto: None,
        }
    }
}
