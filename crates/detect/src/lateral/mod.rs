//! An inside host reaching many inside hosts on admin ports
//! (`lateral-movement`).
//!
//! Per inside source: the distinct inside destinations where an admin or
//! remote-execution service (SMB, RPC, RDP, WinRM, SSH, Telnet, VNC)
//! *answered* — the TCP handshake completed and the server sent data — within
//! a sliding window. Refused or unanswered probes never count (that is a
//! scan, another detector's business), and neither do destinations that many
//! inside hosts use (file servers, domain controllers, jump hosts).
//!
//! The per-packet path looks only at server-to-client data packets early in
//! an established inside-to-inside flow on an admin port; everything else
//! returns after a few compares. See `docs/detection/lateral-movement.md`.

use serde::{Deserialize, Serialize};
use vigil_core::{
    proto, tcp_flags, Addr, Alert, Category, FlowRecord, Meta, Nanos, NetSet, NANOS_PER_SEC,
};

use crate::sketch::FastMap;
use crate::{Ctx, Detector, Out};

/// Settings of the lateral detector (`[detect.lateral]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Sliding window (seconds) over which distinct destinations are
    /// counted. Default 600: tools (PsExec, wmiexec, crackmapexec, ansible
    /// run by an intruder) touch many hosts within minutes.
    pub window_secs: u64,
    /// Distinct inside destinations with an answered admin session within
    /// the window that raise an alert. Default 5: a person administers one or
    /// two machines at a time, a workstation uses a few shared servers
    /// (which do not count, see `shared_dest_sources`).
    pub min_hosts: u32,
    /// A lower count that suffices when the sessions use at least two
    /// different admin protocols (say SMB and RDP, WinRM and SSH): one
    /// person's routine uses one tool. Default 4.
    pub min_hosts_multi_proto: u32,
    /// A destination that at least this many other inside sources reached
    /// on admin ports within the window is a shared server (file server,
    /// domain controller, jump host) and is not counted. Default 3; 0
    /// counts every destination.
    pub shared_dest_sources: u32,
    /// Known admin, management, backup or monitoring hosts (CIDR prefixes,
    /// comma separated) that legitimately fan out on admin ports; never
    /// alerted on. Default empty.
    pub allow_sources: String,
    /// Most inside sources tracked; past it new sources are dropped (and
    /// counted). Default 16384.
    pub max_sources: usize,
    /// Most destinations whose fan-in is tracked. Default 16384.
    pub max_dests: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            window_secs: 600,
            min_hosts: 5,
            min_hosts_multi_proto: 4,
            shared_dest_sources: 3,
            allow_sources: String::new(),
            max_sources: 16_384,
            max_dests: 16_384,
        }
    }
}

/// Signature id (7xxxxxx: category 7 of the scoring contract).
pub const SID_LATERAL: u32 = 7_000_001;

/// Destinations kept per source (the count saturates here).
const MAX_HOSTS: usize = 64;
/// Sources kept per destination for its fan-in.
const MAX_DEST_SOURCES: usize = 8;
/// Server data is looked at only this early in a flow: the service's first
/// answer is what tells it accepted the session.
const EARLY_PKTS: u64 = 16;
const MAX_FLOW_IDS: usize = 16;
const UPDATE_SECS: u64 = 60;
const SWEEP_SECS: u64 = 30;

/// The admin protocol on a TCP server port, as a bit.
#[inline]
fn admin_proto(port: u16) -> u8 {
    match port {
        445 | 139 => 1,    // SMB (PsExec, file shares, admin$)
        135 => 2,          // DCE/RPC endpoint mapper (WMI, DCOM, scheduled tasks)
        3389 => 4,         // RDP
        5985 | 5986 => 8,  // WinRM / PowerShell remoting
        22 => 16,          // SSH
        23 => 32,          // Telnet
        5900 | 5901 => 64, // VNC
        _ => 0,
    }
}

struct Hit {
    dst: Addr,
    last: Nanos,
    protos: u8,
}

#[derive(Default)]
struct SrcState {
    hosts: Vec<Hit>,
    /// Distinct destinations tried (handshake or not) since the source was
    /// first seen answering, for the alert's metrics.
    tried: Vec<Addr>,
    last: Nanos,
    alerted: Option<Nanos>,
    alerted_hosts: usize,
    flow_ids: Vec<u64>,
}

#[derive(Default)]
struct DestState {
    sources: Vec<(Addr, Nanos)>,
    last: Nanos,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub sources_dropped: u64,
    pub dests_dropped: u64,
}

pub struct Lateral {
    cfg: Config,
    window: Nanos,
    allow: NetSet,
    sources: FastMap<Addr, SrcState>,
    dests: FastMap<Addr, DestState>,
    next_sweep: Nanos,
    pub stats: Stats,
}

impl Lateral {
    pub fn new(cfg: &Config) -> Self {
        let allow = NetSet::parse(&cfg.allow_sources).unwrap_or_else(|e| {
            eprintln!("vigil: [detect.lateral] allow_sources ignored: {e}");
            NetSet::default()
        });
        Lateral {
            cfg: cfg.clone(),
            window: cfg.window_secs.max(1) * NANOS_PER_SEC,
            allow,
            sources: FastMap::default(),
            dests: FastMap::default(),
            next_sweep: 0,
            stats: Stats::default(),
        }
    }

    /// Other inside sources that reached `dst` on admin ports lately.
    fn fan_in(&self, dst: Addr, not: Addr, now: Nanos) -> u32 {
        self.dests.get(&dst).map_or(0, |d| {
            d.sources
                .iter()
                .filter(|(s, t)| *s != not && now.saturating_sub(*t) <= self.window)
                .count() as u32
        })
    }

    fn note_dest(&mut self, dst: Addr, src: Addr, t: Nanos) {
        if !self.dests.contains_key(&dst) && self.dests.len() >= self.cfg.max_dests {
            self.sweep(t);
            if self.dests.len() >= self.cfg.max_dests {
                self.stats.dests_dropped += 1;
                return;
            }
        }
        let d = self.dests.entry(dst).or_default();
        d.last = t;
        if let Some(e) = d.sources.iter_mut().find(|(s, _)| *s == src) {
            e.1 = t;
        } else if d.sources.len() < MAX_DEST_SOURCES {
            d.sources.push((src, t));
        } else if let Some(e) = d.sources.iter_mut().min_by_key(|(_, t)| *t) {
            *e = (src, t);
        }
    }

    /// An admin service on `dst` answered `src`.
    fn answered(&mut self, src: Addr, dst: Addr, protos: u8, t: Nanos, fid: u64, out: &mut Out) {
        if !self.sources.contains_key(&src) && self.sources.len() >= self.cfg.max_sources {
            self.sweep(t);
            if self.sources.len() >= self.cfg.max_sources {
                self.stats.sources_dropped += 1;
                return;
            }
        }
        let st = self.sources.entry(src).or_default();
        st.last = t;
        let new_host = match st.hosts.iter_mut().find(|h| h.dst == dst) {
            Some(h) => {
                let grew = h.protos | protos != h.protos;
                h.last = t;
                h.protos |= protos;
                if !grew {
                    return;
                }
                false
            }
            None => {
                if st.hosts.len() >= MAX_HOSTS {
                    // forget the stalest
                    if let Some(i) = (0..st.hosts.len()).min_by_key(|&i| st.hosts[i].last) {
                        st.hosts.swap_remove(i);
                    }
                }
                st.hosts.push(Hit {
                    dst,
                    last: t,
                    protos,
                });
                if !st.tried.contains(&dst) && st.tried.len() < MAX_HOSTS {
                    st.tried.push(dst);
                }
                true
            }
        };
        if st.flow_ids.len() < MAX_FLOW_IDS {
            st.flow_ids.push(fid);
        }
        if new_host {
            self.note_dest(dst, src, t);
        }
        self.evaluate(src, dst, t, out);
    }

    fn evaluate(&mut self, src: Addr, newest: Addr, t: Nanos, out: &mut Out) {
        let window = self.window;
        let Some(st) = self.sources.get_mut(&src) else {
            return;
        };
        st.hosts.retain(|h| t.saturating_sub(h.last) <= window);
        let cand: Vec<(Addr, u8)> = st.hosts.iter().map(|h| (h.dst, h.protos)).collect();
        let shared_min = self.cfg.shared_dest_sources;
        let mut hosts = 0u32;
        let mut shared = 0u32;
        let mut protos = 0u8;
        for (d, p) in &cand {
            if shared_min > 0 && self.fan_in(*d, src, t) >= shared_min {
                shared += 1;
                continue;
            }
            hosts += 1;
            protos |= p;
        }
        let nproto = protos.count_ones();
        let hit = (self.cfg.min_hosts > 0 && hosts >= self.cfg.min_hosts)
            || (self.cfg.min_hosts_multi_proto > 0
                && hosts >= self.cfg.min_hosts_multi_proto
                && nproto >= 2);
        if !hit {
            return;
        }
        let Some(st) = self.sources.get_mut(&src) else {
            return;
        };
        if let Some(a) = st.alerted {
            // updates: only with more hosts, at most once a minute
            if t < a.saturating_add(UPDATE_SECS * NANOS_PER_SEC)
                || hosts as usize <= st.alerted_hosts
            {
                return;
            }
        }
        st.alerted = Some(t);
        st.alerted_hosts = hosts as usize;
        let names: Vec<&str> = [
            (1u8, "SMB"),
            (2, "RPC"),
            (4, "RDP"),
            (8, "WinRM"),
            (16, "SSH"),
            (32, "Telnet"),
            (64, "VNC"),
        ]
        .iter()
        .filter(|(b, _)| protos & b != 0)
        .map(|(_, n)| *n)
        .collect();
        let sig = format!(
            "VIGIL LATERAL-MOVEMENT inside host opened admin sessions ({}) on {hosts} inside hosts",
            names.join("/")
        );
        let mut a = Alert::new(t, Category::LateralMovement, SID_LATERAL, &sig, 1);
        a.src = Some(src);
        a.dst = Some(newest);
        a.proto = Some(proto::TCP);
        a.metrics = vec![
            ("hosts_answered", hosts as f64),
            ("admin_protocols", nproto as f64),
            ("shared_hosts_skipped", shared as f64),
            ("hosts_tried", st.tried.len() as f64),
            ("window_secs", window as f64 / 1e9),
        ];
        a.flow_ids = st.flow_ids.clone();
        out.push(a);
    }

    fn sweep(&mut self, now: Nanos) {
        let keep = 2 * self.window;
        self.sources
            .retain(|_, s| now.saturating_sub(s.last) <= keep);
        self.dests.retain(|_, d| now.saturating_sub(d.last) <= keep);
    }
}

impl Detector for Lateral {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        let c = &cfg.lateral;
        if let Ok(allow) = NetSet::parse(&c.allow_sources) {
            self.allow = allow;
        }
        self.window = c.window_secs.max(1) * NANOS_PER_SEC;
        self.cfg = c.clone();
    }
    fn name(&self) -> &'static str {
        "lateral"
    }

    fn on_packet(&mut self, c: &Ctx, out: &mut Out) {
        let p = c.p;
        let f = c.flow;
        if !(c.src_home && c.dst_home) || p.proto != proto::TCP {
            return;
        }
        if f.to_server {
            // a try (SYN) from a source already answered somewhere: metrics
            if f.new_flow && admin_proto(p.dport) != 0 {
                if let Some(st) = self.sources.get_mut(&p.src) {
                    if !st.tried.contains(&p.dst) && st.tried.len() < MAX_HOSTS {
                        st.tried.push(p.dst);
                    }
                }
            }
            return;
        }
        if p.payload_len == 0 || !f.established || f.flow_pkts > EARLY_PKTS {
            return;
        }
        let bit = admin_proto(p.sport);
        if bit == 0 || p.src == p.dst {
            return;
        }
        let (src, dst) = (p.dst, p.src);
        if !self.allow.is_empty() && self.allow.contains(src) {
            return;
        }
        self.answered(src, dst, bit, p.ts, f.flow_id, out);
    }

    /// Exported records between inside hosts: a client's record holding a
    /// SYN to an admin port is a try; an admin server's answer carrying data
    /// (the server's own record, from the admin port, with an ACK and
    /// payload; or a biflow's reverse direction) is an answered session,
    /// as the packet path's early server data.
    fn on_flow_export(&mut self, r: &FlowRecord, home: &NetSet, out: &mut Out) {
        if r.proto != proto::TCP || !(home.contains(r.client) && home.contains(r.server)) {
            return;
        }
        if r.toserver.tcp_flags & tcp_flags::SYN != 0 && admin_proto(r.sport) != 0 {
            if let Some(st) = self.sources.get_mut(&r.client) {
                if !st.tried.contains(&r.server) && st.tried.len() < MAX_HOSTS {
                    st.tried.push(r.server);
                }
            }
        }
        let (port, src, dst, d) = if r.toclient.pkts > 0 {
            (r.sport, r.client, r.server, r.toclient)
        } else {
            (r.cport, r.server, r.client, r.toserver)
        };
        if d.payload_bytes == 0 || d.tcp_flags & tcp_flags::ACK == 0 || src == dst {
            return;
        }
        let bit = admin_proto(port);
        if bit == 0 || (!self.allow.is_empty() && self.allow.contains(src)) {
            return;
        }
        self.answered(src, dst, bit, r.start, r.flow_id, out);
    }

    fn on_meta(&mut self, _c: Option<&Ctx>, _m: &Meta, _home: &NetSet, _out: &mut Out) {}

    fn on_tick(&mut self, now: Nanos, _out: &mut Out) {
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP_SECS * NANOS_PER_SEC;
            self.sweep(now);
        }
    }
}

#[cfg(test)]
mod tests;
