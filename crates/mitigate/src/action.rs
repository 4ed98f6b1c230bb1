//! What a mitigation is: plain, serialisable values shared by the planner,
//! the backends, the state file and the EVE events.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Where an action is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Nftables,
    Bgp,
    Webhook,
    Exec,
    /// XDP drop/limit maps (cargo feature `xdp`).
    Xdp,
}

impl Backend {
    pub fn slug(self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::Bgp => "bgp",
            Backend::Webhook => "webhook",
            Backend::Exec => "exec",
            Backend::Xdp => "xdp",
        }
    }
}

/// The shape of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Drop everything from a few known attacking sources (nftables set).
    DropSources,
    /// Limit the flood's kind of packets to the victim (nftables rule).
    RateLimit,
    /// Remotely triggered blackhole /32 or /128 (BGP, community 65535:666).
    Blackhole,
    /// FlowSpec rule matching the flood to the victim (BGP).
    Flowspec,
}

impl Kind {
    pub fn slug(self) -> &'static str {
        match self {
            Kind::DropSources => "drop_sources",
            Kind::RateLimit => "rate_limit",
            Kind::Blackhole => "blackhole",
            Kind::Flowspec => "flowspec",
        }
    }
}

/// The flood shape an action answers, from the dos alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flood {
    Syn,
    Udp,
    Icmp,
    Amplification,
    Http,
    Slowloris,
    Other,
}

/// One mitigation, planned or active.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Action {
    /// `backend-kind-victim-createdsecs`: unique among active actions,
    /// readable in `vigil mitigations list`.
    pub id: String,
    pub backend: Backend,
    pub kind: Kind,
    pub flood: Flood,
    pub victim: IpAddr,
    /// IP protocol number the action matches, if one.
    pub proto: Option<u8>,
    /// Destination port (slowloris, HTTP flood), if one.
    pub dest_port: Option<u16>,
    /// Source ports matched (reflection: the amplifier services).
    pub src_ports: Vec<u16>,
    /// Sources dropped ([`Kind::DropSources`]).
    pub sources: Vec<IpAddr>,
    /// Per-victim limit in packets per second ([`Kind::RateLimit`]).
    pub rate_pps: Option<u64>,
    /// The alert that asked for it.
    pub signature: String,
    pub signature_id: u32,
    /// Capture time (ns) it was planned, and when it expires unless re-armed.
    pub created: u64,
    pub expires: u64,
    /// Alert updates that extended it.
    pub rearms: u32,
    /// Carried out by the backend (false in dry-run).
    pub applied: bool,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.backend.slug(),
            self.kind.slug(),
            self.victim
        )
    }
}

/// Host prefix length of an address (32 or 128).
pub fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}
