//! Port scans and host sweeps (TCP, UDP, ICMP echo, ARP), keyed by the
//! scanner.
//!
//! A scan is one source making many distinct attempts that mostly fail.
//! Every probe-like packet (a TCP segment without ACK/RST such as a bare
//! SYN, FIN, NULL or Xmas probe; the first packet of a UDP flow; an ICMP
//! echo request) first goes through a decaying count-min pre-filter keyed
//! by source: only a source with many recent probes gets an exact entry (a
//! bounded table), so a flood of millions of spoofed one-packet sources
//! costs the sketch and nothing else. An entry counts distinct targets
//! (dst, port), distinct hosts and ports (linear-counting bitmaps), and
//! successes (handshakes the source completed, UDP flows answered, echo
//! replies). It raises one scan alert when the failed distinct targets
//! cross a floor and the failure ratio is high: vertical (many ports, few
//! hosts), horizontal (many hosts), or an ICMP sweep.
//!
//! ARP requests (`Meta::Arp`) are counted per sender: many distinct
//! unanswered targets is an ARP sweep (nmap host discovery on a LAN).
//!
//! See `docs/detection/scan.md`.

use serde::{Deserialize, Serialize};
use vigil_core::{
    proto, tcp_flags as tf, Addr, Alert, Category, FlowRecord, Meta, Nanos, NetSet, NANOS_PER_SEC,
};

use crate::sketch::{hash_addr, hash_addr_tag, mix64, Bitmap, CountMin, FastBuild, FastMap};
use crate::{Ctx, Detector, Out};

#[cfg(test)]
mod tests;

/// Settings of the scan detector (`[detect.scan]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Probes a source must have made recently (count-min estimate, halved
    /// every second) before it gets exact state (default 6). A spoofed
    /// source sends one or two; a scanner hundreds.
    pub prefilter: u8,
    /// Most sources with exact state (default 8192); past it the stalest
    /// non-alerted entries are evicted, counted in `sources_evicted`.
    pub max_sources: usize,
    /// Distinct failed targets ((host, port) attempts not answered by a
    /// completed handshake or an answer) that make a scan (default 24).
    /// ESPN-style browsing makes ~25 connections to 13 servers, all
    /// successful; scanners make hundreds to thousands, nearly all failing.
    pub min_failed_targets: f64,
    /// Least fraction of distinct targets that failed (default 0.7):
    /// lateral movement, monitoring and browsing mostly succeed.
    pub min_fail_ratio: f64,
    /// Distinct ports (vertical) or hosts (horizontal) among the targets
    /// needed to name the shape (default 16); below both, no alert (many
    /// attempts at one service of a few hosts is brute force or a dead
    /// server, not a scan).
    pub min_spread: f64,
    /// Distinct hosts pinged (ICMP echo) that make an echo sweep (default
    /// 32), with at most `min_fail_ratio` of them answering... or any answer
    /// ratio when the sweep reaches 4 times this.
    pub icmp_min_hosts: f64,
    /// Distinct unanswered ARP targets from one sender that make an ARP
    /// sweep (default 32): a host resolves its gateway and a few peers.
    pub arp_min_targets: f64,
    /// Seconds a source's counts live without new probes before they are
    /// dropped (default 300): scans slower than that are a blind spot.
    pub idle_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            prefilter: 6,
            max_sources: 8192,
            min_failed_targets: 24.0,
            min_fail_ratio: 0.7,
            min_spread: 16.0,
            icmp_min_hosts: 32.0,
            arp_min_targets: 32.0,
            idle_secs: 300,
        }
    }
}

/// One probe-like attempt.
#[derive(Clone, Copy)]
struct Probe {
    src: Addr,
    dst: Addr,
    proto: u8,
    dport: u16,
    ts: Nanos,
    flow_id: u64,
    /// An ICMP echo request (else TCP/UDP).
    echo: bool,
}

#[derive(Default)]
struct Src {
    first: Nanos,
    last: Nanos,
    probes: u64,
    targets: Bitmap<32>,
    hosts: Bitmap<16>,
    ports: Bitmap<16>,
    /// Targets that answered successfully (handshake completed, UDP answer).
    ok: u64,
    echo_hosts: Bitmap<16>,
    echo_replies: u64,
    alerted: bool,
    proto_mask: u8,
    last_dst: Addr,
    last_port: u16,
    flow_ids: Vec<u64>,
}

#[derive(Default)]
struct ArpSrc {
    first: Nanos,
    last: Nanos,
    targets: Bitmap<16>,
    answered: Bitmap<16>,
    alerted: bool,
}

pub struct Scan {
    cfg: Config,
    cms: CountMin,
    srcs: FastMap<Addr, Src>,
    arp: FastMap<Addr, ArpSrc>,
    /// Exact entries evicted to make room (a flood of heavy sources).
    pub sources_evicted: u64,
    idle: Nanos,
    /// The pre-filter threshold in force: `cfg.prefilter`, doubled each
    /// second in which too many sources were promoted (an extreme flood
    /// saturating the sketch), halved back when calm.
    threshold: u8,
    promoted: u32,
    calm: u32,
    /// Bits of the hashes of sources with exact state (stale bits only cost
    /// a lookup): most flood packets skip the exact table on one L1 test.
    gate: Box<Bitmap<1024>>,
    /// Probes this second per (destination, port), direct-mapped (merged on
    /// collision): a target getting more than `HOT_TARGET` probes a second
    /// from unknown sources is a flood's target, and probes to it from
    /// unknown sources skip the sketch (they add one target at most).
    target_hits: Box<[u32; TARGET_SLOTS]>,
}

const TARGET_SLOTS: usize = 4096;
/// Probes per second at one (host, port) from sources without exact state
/// past which that target counts as flooded.
const HOT_TARGET: u32 = 1000;

/// Promotions per second above which the pre-filter threshold doubles.
const PROMOTIONS_HIGH: u32 = 256;

const MAX_ARP: usize = 4096;

impl Scan {
    pub fn new(cfg: &Config) -> Self {
        Scan {
            cfg: cfg.clone(),
            cms: CountMin::new(18, 3),
            srcs: FastMap::with_capacity_and_hasher(256, FastBuild),
            arp: FastMap::with_capacity_and_hasher(64, FastBuild),
            sources_evicted: 0,
            idle: cfg.idle_secs.saturating_mul(NANOS_PER_SEC),
            threshold: cfg.prefilter.max(1),
            promoted: 0,
            calm: 0,
            gate: Box::default(),
            target_hits: Box::new([0; TARGET_SLOTS]),
        }
    }

    /// Sources with exact state (tests, stats).
    pub fn tracked(&self) -> usize {
        self.srcs.len()
    }

    fn make_room(&mut self) {
        // evict the stalest non-alerted quarter of the table at once, so
        // the O(n) pass is amortised over many inserts
        let mut ages: Vec<Nanos> = self
            .srcs
            .values()
            .filter(|s| !s.alerted)
            .map(|s| s.last)
            .collect();
        if ages.is_empty() {
            ages = self.srcs.values().map(|s| s.last).collect();
        }
        let k = ages.len() / 4;
        ages.select_nth_unstable(k);
        let cut = ages[k];
        let before = self.srcs.len();
        self.srcs
            .retain(|_, s| s.last > cut || (s.alerted && s.last != cut));
        if self.srcs.len() == before {
            // all alerted and fresh: drop the oldest anyway
            self.srcs.retain(|_, s| s.last > cut);
        }
        self.sources_evicted += (before - self.srcs.len()) as u64;
        self.rebuild_gate();
    }

    fn rebuild_gate(&mut self) {
        self.gate.clear();
        for k in self.srcs.keys() {
            self.gate.insert(hash_addr(k));
        }
    }

    fn judge(cfg: &Config, src: Addr, s: &mut Src, ts: Nanos, out: &mut Out) {
        if s.alerted {
            return;
        }
        let d = s.targets.count();
        let failed = (d - s.ok as f64).max(0.0);
        let ratio = if d > 0.0 { failed / d } else { 0.0 };
        let hosts = s.hosts.count();
        let ports = s.ports.count();
        let echo = s.echo_hosts.count();
        let echo_fail = if echo > 0.0 {
            1.0 - (s.echo_replies as f64 / echo).min(1.0)
        } else {
            0.0
        };
        let tcpudp = failed >= cfg.min_failed_targets
            && ratio >= cfg.min_fail_ratio
            && (ports >= cfg.min_spread || hosts >= cfg.min_spread);
        let sweep = echo >= cfg.icmp_min_hosts
            && (echo_fail >= cfg.min_fail_ratio || echo >= 4.0 * cfg.icmp_min_hosts);
        if !(tcpudp || sweep) {
            return;
        }
        s.alerted = true;
        let shape = if !tcpudp {
            "ICMP echo sweep"
        } else if ports >= cfg.min_spread && hosts < cfg.min_spread {
            "vertical port scan"
        } else if hosts >= cfg.min_spread && ports < cfg.min_spread {
            "horizontal scan (host sweep)"
        } else {
            "block scan (many hosts and ports)"
        };
        let l4 = match s.proto_mask {
            1 => "TCP ",
            2 => "UDP ",
            _ => "",
        };
        let mut a = Alert::new(
            ts,
            Category::Scan,
            match shape.as_bytes()[0] {
                b'I' => 1_001_003,
                b'v' => 1_001_001,
                b'h' => 1_001_002,
                _ => 1_001_004,
            },
            &format!("VIGIL SCAN {l4}{shape} from {src}"),
            2,
        );
        a.src = Some(src);
        if hosts < 2.0 || !tcpudp {
            a.dst = Some(s.last_dst);
        }
        if ports < 2.0 && tcpudp {
            a.dest_port = Some(s.last_port);
        }
        let secs = (ts.saturating_sub(s.first)) as f64 / NANOS_PER_SEC as f64;
        a.metrics = vec![
            ("probes", s.probes as f64),
            ("distinct_targets", d.round()),
            ("failed_targets", failed.round()),
            ("fail_ratio", ratio),
            ("distinct_hosts", hosts.round()),
            ("distinct_ports", ports.round()),
            ("echo_hosts", echo.round()),
            ("echo_replies", s.echo_replies as f64),
            ("duration_s", secs),
            ("probes_per_s", s.probes as f64 / secs.max(1.0)),
        ];
        a.flow_ids = s.flow_ids.clone();
        out.push(a);
    }

    /// One probe-like attempt from `pr.src` (a packet, or an exported
    /// flow record): the pre-filter, then the source's exact counts.
    fn probe(&mut self, pr: Probe, out: &mut Out) {
        let h = hash_addr(&pr.src);
        let known = if self.gate.contains(h) {
            self.srcs.get_mut(&pr.src)
        } else {
            None
        };
        let s = match known {
            Some(s) => s,
            None => {
                let slot = hash_addr_tag(&pr.dst, ((pr.proto as u64) << 16) | pr.dport as u64)
                    as usize
                    % TARGET_SLOTS;
                let hits = &mut self.target_hits[slot];
                *hits = hits.saturating_add(1);
                if *hits > HOT_TARGET {
                    return;
                }
                if self.cms.add(h) < self.threshold {
                    return;
                }
                self.promoted += 1;
                if self.srcs.len() >= self.cfg.max_sources {
                    self.make_room();
                }
                self.gate.insert(h);
                self.srcs.entry(pr.src).or_insert_with(|| Src {
                    first: pr.ts,
                    ..Default::default()
                })
            }
        };
        s.probes += 1;
        s.last = pr.ts;
        s.last_dst = pr.dst;
        if pr.echo {
            if s.echo_hosts.insert(hash_addr(&pr.dst)) && !s.alerted {
                Self::judge(&self.cfg, pr.src, s, pr.ts, out);
            }
            return;
        }
        s.proto_mask |= if pr.proto == proto::TCP { 1 } else { 2 };
        s.last_port = pr.dport;
        let th = hash_addr_tag(&pr.dst, ((pr.proto as u64) << 16) | pr.dport as u64);
        if s.targets.insert(th) {
            s.hosts.insert(hash_addr(&pr.dst));
            s.ports
                .insert(mix64(((pr.proto as u64) << 16) | pr.dport as u64));
            if s.flow_ids.len() < 8 {
                s.flow_ids.push(pr.flow_id);
            }
            if !s.alerted {
                Self::judge(&self.cfg, pr.src, s, pr.ts, out);
            }
        }
    }

    /// Credits a success (an answer) to the client `client`, if tracked.
    #[inline]
    fn success(&mut self, client: &Addr, echo: bool) {
        if self.srcs.is_empty() {
            return;
        }
        if let Some(s) = self.srcs.get_mut(client) {
            if echo {
                s.echo_replies += 1;
            } else {
                s.ok += 1;
            }
        }
    }
}

impl Detector for Scan {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        let c = &cfg.scan;
        self.idle = c.idle_secs.saturating_mul(NANOS_PER_SEC);
        self.threshold = c.prefilter.max(1);
        self.cfg = c.clone();
    }
    fn name(&self) -> &'static str {
        "scan"
    }

    fn on_packet(&mut self, c: &Ctx, out: &mut Out) {
        let p = c.p;
        let f = c.flow;
        // what kind of packet: a probe, an answer, or neither (most)
        let (probe, echo) = match p.proto {
            proto::TCP => {
                let fl = p.tcp_flags;
                if fl & (tf::ACK | tf::RST) == 0 {
                    (
                        fl & (tf::SYN | tf::FIN | tf::PSH | tf::URG) != 0 || fl == 0,
                        false,
                    )
                } else {
                    if f.established && f.flow_pkts == 3 && f.to_server {
                        // the client completed a handshake
                        self.success(&p.src, false);
                    }
                    (false, false)
                }
            }
            proto::UDP => {
                if f.new_flow {
                    // from a service port to a higher port is an answer or a
                    // reflection, not a probe
                    (f.to_server && !(p.sport < 1024 && p.sport < p.dport), false)
                } else {
                    if f.established && f.flow_pkts == 2 && !f.to_server {
                        self.success(&p.dst, false);
                    }
                    (false, false)
                }
            }
            proto::ICMP | proto::ICMPV6 => {
                let (req, rep) = if p.proto == proto::ICMP {
                    (8, 0)
                } else {
                    (128, 129)
                };
                if p.icmp_type == req {
                    (true, true)
                } else {
                    if p.icmp_type == rep {
                        self.success(&p.dst, true);
                    }
                    (false, false)
                }
            }
            _ => (false, false),
        };
        if !probe {
            return;
        }
        self.probe(
            Probe {
                src: p.src,
                dst: p.dst,
                proto: p.proto,
                dport: p.dport,
                ts: p.ts,
                flow_id: f.flow_id,
                echo,
            },
            out,
        );
    }

    /// An exported flow record is one attempt from its source when it looks
    /// like the packet path's probe: TCP with a SYN (unless it is a server's
    /// SYN-ACK: from a service port below 1024 to a higher port) or a bare
    /// FIN/NULL/Xmas probe; UDP not from a service port to a higher port; an
    /// ICMP echo request. A TCP attempt whose flags also hold an ACK
    /// completed its handshake (a success, as the packet path's third
    /// packet); an answer record (UDP from a service port, echo reply)
    /// credits a success to its destination; a biflow's reverse packets
    /// answer its own attempt. Answers exported before their attempt are
    /// lost (the source has no state yet): order is the exporter's.
    fn on_flow_export(&mut self, r: &FlowRecord, _home: &NetSet, out: &mut Out) {
        let mut pr = Probe {
            src: r.client,
            dst: r.server,
            proto: r.proto,
            dport: r.sport,
            ts: r.start,
            flow_id: r.flow_id,
            echo: false,
        };
        let answered = r.toclient.pkts > 0;
        let from_service = r.cport < 1024 && r.cport < r.sport;
        match r.proto {
            proto::TCP => {
                let f = r.toserver.tcp_flags;
                let synack = f & (tf::SYN | tf::ACK) == tf::SYN | tf::ACK;
                let attempt = (f & tf::SYN != 0 && !(synack && from_service))
                    || (f & (tf::ACK | tf::RST) == 0
                        && (f & (tf::FIN | tf::PSH | tf::URG) != 0 || f == 0));
                if attempt {
                    self.probe(pr, out);
                    if synack {
                        self.success(&r.client, false);
                    }
                }
            }
            proto::UDP => {
                if from_service {
                    self.success(&r.server, false);
                } else {
                    self.probe(pr, out);
                    if answered {
                        self.success(&r.client, false);
                    }
                }
            }
            proto::ICMP | proto::ICMPV6 => {
                let (req, rep) = if r.proto == proto::ICMP {
                    (8, 0)
                } else {
                    (128, 129)
                };
                if r.icmp_type == req {
                    pr.echo = true;
                    self.probe(pr, out);
                    if answered {
                        self.success(&r.client, true);
                    }
                } else if r.icmp_type == rep {
                    self.success(&r.server, true);
                }
            }
            _ => {}
        }
    }

    fn on_meta(&mut self, c: Option<&Ctx>, m: &Meta, _home: &NetSet, out: &mut Out) {
        if c.is_some() {
            return;
        }
        let Meta::Arp {
            ts,
            op,
            sender,
            target,
        } = m
        else {
            return;
        };
        if sender == target || *sender == Addr::default() {
            return;
        }
        match op {
            1 => {
                if *sender == *target {
                    return; // gratuitous
                }
                if !self.arp.contains_key(sender) && self.arp.len() >= MAX_ARP {
                    let cut = *ts;
                    self.arp.retain(|_, a| {
                        a.alerted || cut.saturating_sub(a.last) < 60 * NANOS_PER_SEC
                    });
                    if self.arp.len() >= MAX_ARP {
                        return;
                    }
                }
                let a = self.arp.entry(*sender).or_insert_with(|| ArpSrc {
                    first: *ts,
                    ..Default::default()
                });
                a.last = *ts;
                a.targets.insert(hash_addr(target));
                if a.alerted {
                    return;
                }
                let n = a.targets.count();
                if n < self.cfg.arp_min_targets {
                    return;
                }
                let answered = a.answered.count();
                let unanswered = n - answered;
                if unanswered < self.cfg.arp_min_targets
                    || unanswered / n < self.cfg.min_fail_ratio * 0.5
                {
                    return;
                }
                a.alerted = true;
                let mut al = Alert::new(
                    *ts,
                    Category::Scan,
                    1_001_005,
                    &format!("VIGIL SCAN ARP sweep from {sender}"),
                    2,
                );
                al.src = Some(*sender);
                let secs = ts.saturating_sub(a.first) as f64 / NANOS_PER_SEC as f64;
                al.metrics = vec![
                    ("arp_targets", n.round()),
                    ("arp_answered", answered.round()),
                    ("duration_s", secs),
                ];
                out.push(al);
            }
            2 => {
                // a reply: its sender answered the requester (the target)
                if let Some(a) = self.arp.get_mut(target) {
                    a.answered.insert(hash_addr(sender));
                }
            }
            _ => {}
        }
    }

    fn on_tick(&mut self, now: Nanos, _out: &mut Out) {
        self.cms.decay();
        self.target_hits.fill(0);
        if self.promoted > PROMOTIONS_HIGH {
            self.threshold = self.threshold.saturating_mul(2).min(128);
            self.calm = 0;
        } else if self.promoted < PROMOTIONS_HIGH / 8 {
            // back down only after ten calm seconds in a row (no flapping
            // while the flood lasts)
            self.calm += 1;
            if self.calm >= 10 {
                self.calm = 0;
                self.threshold = (self.threshold / 2).max(self.cfg.prefilter.max(1));
            }
        } else {
            self.calm = 0;
        }
        self.promoted = 0;
        // once a minute: forget sources idle too long
        if now.is_multiple_of(60 * NANOS_PER_SEC) {
            let idle = self.idle;
            self.srcs.retain(|_, s| now.saturating_sub(s.last) <= idle);
            self.rebuild_gate();
            self.arp.retain(|_, a| now.saturating_sub(a.last) <= idle);
        }
    }
}
