//! vigil's shared vocabulary.
//!
//! Stages (decode, flows, detectors, sinks) never import each other; they meet
//! at the plain types in this crate. Everything here is cheap to copy and holds
//! no references into capture buffers, so it can cross threads in batches.
//!
//! Time is always capture time in nanoseconds since the Unix epoch ([`Nanos`]),
//! passed in by the caller and never read from the wall clock.
#![forbid(unsafe_code)]

pub mod addr;
pub mod detect;
pub mod hash;
pub mod time;

pub use addr::{Addr, NetSet};
pub use detect::{Alert, Category, DnsMeta, FlowCtx, Meta};
pub use time::{format_eve_ts, push_eve_ts, Nanos, NANOS_PER_SEC};

/// IP protocol numbers vigil names; any other number is carried as is.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;

    /// The name Suricata's EVE uses in `proto` (a number for the rest).
    pub fn name(p: u8) -> Option<&'static str> {
        Some(match p {
            ICMP => "ICMP",
            TCP => "TCP",
            UDP => "UDP",
            ICMPV6 => "IPv6-ICMP",
            SCTP => "SCTP",
            _ => return None,
        })
    }
}

/// TCP flag bits as they appear in byte 13 of the TCP header.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// One decoded IP packet (or reassembled datagram) as the flow table sees it.
///
/// Produced by `vigil-wire`, consumed by `vigil-flow` and detectors. For ICMP and
/// ICMPv6, `sport`/`dport` carry the echo identifier (both) for echo
/// request/reply so the two directions meet in one flow, else type and code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    /// Capture time of the (last) frame.
    pub ts: Nanos,
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// Outermost VLAN id, 0 when untagged. Part of the flow key.
    pub vlan: u16,
    /// TCP flags byte (0 for other protocols).
    pub tcp_flags: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Wire frames this packet stands for: 1, or the number of IP fragments
    /// that were reassembled into it.
    pub frames: u32,
    /// Frame bytes on the wire (original length, link header included), summed
    /// over the fragments of a reassembled datagram.
    pub wire_len: u32,
    /// IP bytes: IPv4 total length / IPv6 40 + payload length (NetFlow's
    /// convention), summed over fragments; capped by what was captured when the
    /// header field lies.
    pub ip_len: u32,
    /// L4 payload bytes present in the capture for this packet.
    pub payload_len: u32,
    pub tcp_seq: u32,
    pub tcp_ack: u32,
    pub tcp_win: u16,
    pub ttl: u8,
}

/// How a flow ended, as Suricata's `flow.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Idle longer than its state's timeout.
    Timeout,
    /// Still open when the input ended.
    Shutdown,
    /// Ended early by the table to make room (emergency expiry of a flow that
    /// was not protected); its record still carries its whole totals.
    Forced,
}

/// TCP connection state as far as the flow table tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Seen from one side only, or a handshake not completed.
    #[default]
    New,
    /// TCP handshake completed, or (other protocols) packets both ways.
    Established,
    /// FIN from both sides or a RST seen.
    Closed,
}

impl FlowState {
    /// As EVE writes it (`flow.state`).
    pub fn name(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
        }
    }
}

impl EndReason {
    /// As EVE writes it (`flow.reason`).
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Shutdown => "shutdown",
            EndReason::Forced => "forced",
        }
    }
}

/// Per-direction counters of a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirCounters {
    pub pkts: u64,
    /// Frame bytes (original wire length), as Suricata's `bytes_toserver`.
    pub bytes: u64,
    /// IP bytes (NetFlow's octets).
    pub ip_bytes: u64,
    /// Payload bytes.
    pub payload_bytes: u64,
    /// OR of TCP flags seen.
    pub tcp_flags: u8,
}

/// A finished flow: one record per flow, with its whole totals.
///
/// `client` is the side that sent the first packet (or the SYN / the side that
/// did not send a SYN-ACK when the capture starts mid-handshake).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub flow_id: u64,
    pub client: Addr,
    pub server: Addr,
    pub cport: u16,
    pub sport: u16,
    pub proto: u8,
    pub vlan: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub start: Nanos,
    pub end: Nanos,
    pub toserver: DirCounters,
    pub toclient: DirCounters,
    pub state: FlowState,
    pub reason: EndReason,
    /// Application protocol guessed from ports/payload ("http", "tls", "dns",
    /// "ssh", ...), if any.
    pub app_proto: Option<&'static str>,
}

/// Flows the table did not keep one by one, summed per destination.
///
/// Under a flood of one-packet flows (spoofed SYNs, random-source UDP) the
/// table keeps the flows that matter and sheds the unanswered ones into these
/// aggregates, so every packet and byte is still accounted for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShedAggregate {
    /// The destination the shed flows went to; `None` for the overflow bucket
    /// used when the aggregate table itself is full.
    pub dest: Option<Addr>,
    pub proto: u8,
    pub flows: u64,
    pub pkts: u64,
    /// Frame bytes, as `bytes_toserver`.
    pub bytes: u64,
    pub ip_bytes: u64,
    pub first: Nanos,
    pub last: Nanos,
    /// Distinct destination ports seen, saturating at 65535 (exact up to the
    /// bitmap's capacity).
    pub dest_ports: u32,
}

/// Where finished flows go. A sink is one module plus one line of registration.
pub trait FlowSink {
    fn flow(&mut self, rec: &FlowRecord);
    /// A shed aggregate, reported when the input ends.
    fn shed(&mut self, _agg: &ShedAggregate) {}
}

impl<F: FnMut(&FlowRecord)> FlowSink for F {
    fn flow(&mut self, rec: &FlowRecord) {
        self(rec)
    }
}
