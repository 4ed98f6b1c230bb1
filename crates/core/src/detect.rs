//! The vocabulary detectors speak: what they are told about each packet
//! ([`FlowCtx`], [`Meta`]) and what they say ([`Alert`]).

use crate::{Addr, Nanos};

/// The seven alert categories of the scoring contract (`alert.category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Dos,
    Scan,
    Bruteforce,
    Exfiltration,
    Beaconing,
    DnsTunnel,
    LateralMovement,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Dos,
        Category::Scan,
        Category::Bruteforce,
        Category::Exfiltration,
        Category::Beaconing,
        Category::DnsTunnel,
        Category::LateralMovement,
    ];
    /// The slug EVE and the scorer use.
    pub fn slug(self) -> &'static str {
        match self {
            Category::Dos => "dos",
            Category::Scan => "scan",
            Category::Bruteforce => "bruteforce",
            Category::Exfiltration => "exfiltration",
            Category::Beaconing => "beaconing",
            Category::DnsTunnel => "dns-tunnel",
            Category::LateralMovement => "lateral-movement",
        }
    }
}

/// What the flow table knows about the flow a packet belongs to, handed to
/// detectors with every packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCtx {
    /// The flow's id (as in its EVE `flow` record), stable from its first
    /// packet on.
    pub flow_id: u64,
    /// This packet started the flow.
    pub new_flow: bool,
    /// The packet goes client → server.
    pub to_server: bool,
    /// The flow's TCP handshake has completed (or, not TCP: packets seen both
    /// ways).
    pub established: bool,
    /// Packets of the flow so far, this one included, both directions.
    pub flow_pkts: u64,
}

/// Application-layer facts seen in one packet's payload (decoded by
/// `vigil-app` on the reader thread), or an ARP frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meta {
    Arp {
        ts: Nanos,
        /// 1 request, 2 reply.
        op: u16,
        sender: Addr,
        target: Addr,
    },
    Dns(DnsMeta),
    /// TLS ClientHello.
    Tls {
        sni: Option<String>,
    },
    HttpRequest {
        method: String,
        host: Option<String>,
        uri: String,
        user_agent: Option<String>,
    },
    HttpResponse {
        status: u16,
    },
    /// An SSH identification string (`SSH-2.0-...`), from either side.
    SshBanner {
        banner: String,
    },
    /// A login attempt visible in clear text (FTP USER/PASS, HTTP POST to a
    /// login form, Kerberos AS-REQ, MySQL/PostgreSQL login packet, ...).
    LoginAttempt {
        service: &'static str,
        user: Option<String>,
    },
    /// A visible authentication failure (FTP 530, HTTP 401 on a login, SMTP
    /// 535, Kerberos preauth failed, MySQL 1045, PostgreSQL 28P01, ...).
    LoginFailure {
        service: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMeta {
    pub id: u16,
    pub response: bool,
    /// The first question's name, lower case, without the trailing dot.
    pub qname: String,
    pub qtype: u16,
    pub rcode: u8,
    pub answers: u16,
    /// Bytes of the DNS message.
    pub len: u32,
}

/// One alert, as a detector raises it. The engine stamps updates, rate-limits
/// repeats per (category, key) and writes EVE.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Capture time of the packet (or tick) that crossed the threshold.
    pub ts: Nanos,
    pub category: Category,
    pub signature: String,
    /// Stable per signature, like Suricata's `signature_id`.
    pub signature_id: u32,
    /// 1 (high) to 3 (low), Suricata's convention.
    pub severity: u8,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    pub proto: Option<u8>,
    pub src_port: Option<u16>,
    pub dest_port: Option<u16>,
    /// Evidence: rates, distinct counts, bytes, periodicity... by name.
    pub metrics: Vec<(&'static str, f64)>,
    /// Some of the flows involved (bounded by the detector).
    pub flow_ids: Vec<u64>,
    /// A flood's sources when it comes from a few real hosts, busiest
    /// first (empty when spoofed or widely distributed): what a drop set
    /// needs. Kept apart from `src`, which the scorer keys on.
    pub sources: Vec<Addr>,
}

impl Alert {
    /// An alert with no addresses, ports, metrics or flows yet.
    pub fn new(
        ts: Nanos,
        category: Category,
        signature_id: u32,
        signature: &str,
        severity: u8,
    ) -> Self {
        Alert {
            ts,
            category,
            signature: signature.to_string(),
            signature_id,
            severity,
            src: None,
            dst: None,
            proto: None,
            src_port: None,
            dest_port: None,
            metrics: Vec::new(),
            flow_ids: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// The key the scorer matches for this category (eval/README.md):
    /// alerts with the same key are one alert group.
    pub fn key(&self) -> (Category, Option<Addr>, Option<Addr>) {
        match self.category {
            Category::Dos => (self.category, None, self.dst),
            Category::Scan | Category::DnsTunnel | Category::LateralMovement => {
                (self.category, self.src, None)
            }
            _ => (self.category, self.src, self.dst),
        }
    }
}
