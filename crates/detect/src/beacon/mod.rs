//! Beaconing: periodic command-and-control check-ins from an inside host to
//! one outside controller.
//!
//! An *event* is the start of a check-in, seen two ways:
//! - a new connection (flow) from the inside host to the controller, or
//! - inside one long flow (QUIC, a kept-alive HTTPS or TCP session), a
//!   payload-carrying packet from the inside host after at least
//!   [`Config::idle_gap_secs`] of silence from it on that pair.
//!
//! Events closer than [`Config::min_event_gap_ms`] merge (a browser's
//! parallel connections are one event). Each (inside client, outside
//! server, server port, protocol) pair keeps a bounded ring of event times;
//! once it holds [`Config::min_intervals`] intervals, the pair is periodic
//! when the median interval lies in the period range, at least
//! [`Config::min_good_fraction`] of the intervals lie within
//! [`Config::tolerance`] of it, and the robust jitter (median absolute
//! deviation / median) is at most [`Config::max_jitter`].
//!
//! Only packets from an inside host acting as the client to an outside host
//! are looked at: a flood's spoofed sources and the home servers' answers to
//! them never reach the table. Known periodic infrastructure (NTP, DNS,
//! DHCP, SNMP, NetBIOS, SSDP, mDNS) is excluded by port.
//!
//! See docs/detection/beaconing.md.

use serde::{Deserialize, Serialize};
use vigil_core::{
    Addr, Alert, Category, FlowCtx, FlowRecord, Nanos, NetSet, PacketInfo, NANOS_PER_SEC,
};

use crate::sketch::{FastBuild, FastMap};
use crate::{Ctx, Detector, Out};

/// Settings of the beacon detector (`[detect.beacon]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Intervals needed before judging a pair. Default 8 (9 check-ins): with
    /// fewer, chance regularity of ordinary revisits is too likely, and a
    /// handful of check-ins (3 in a short capture) says little.
    pub min_intervals: usize,
    /// Shortest median period, seconds. Default 2: faster "periods" are
    /// streaming, polling UIs and retransmissions.
    pub min_period_secs: f64,
    /// Longest median period, seconds. Default 21,600 (6 h).
    pub max_period_secs: f64,
    /// Largest robust jitter (median absolute deviation of the intervals /
    /// median interval). Default 0.2: a check-in with ±30 % uniform jitter
    /// has about 0.15; human-driven revisits are far above.
    pub max_jitter: f64,
    /// An interval is "on period" within this fraction of the median.
    /// Default 0.3 (malware jitter settings are usually ≤ 30 %).
    pub tolerance: f64,
    /// Share of intervals that must be on period. Default 0.8 (7 of 8): a few
    /// missed or extra exchanges do not hide a beacon.
    pub min_good_fraction: f64,
    /// Silence (seconds, packets from the inside host on the pair) after
    /// which a payload packet in an open flow starts a new event. Default 3:
    /// below the shortest in-flow periods of interest, above the gaps
    /// inside one exchange.
    pub idle_gap_secs: f64,
    /// Events closer than this (milliseconds) are one event. Default 1,000.
    pub min_event_gap_ms: u64,
    /// Server ports never judged: DNS 53, DHCP 67/68, NTP 123, NetBIOS
    /// 137/138, SNMP 161/162, SSDP 1900, mDNS 5353: periodic by design.
    pub exclude_ports: Vec<u16>,
    /// Outside addresses never judged (known update or monitoring servers).
    /// Default empty.
    pub exclude_dst: Vec<String>,
    /// Most pairs followed; past it a new pair replaces the least
    /// promising of a small sample and `pairs_evicted` counts it. Default
    /// 16,384 (≈ 500 B each).
    pub max_pairs: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            min_intervals: 8,
            min_period_secs: 2.0,
            max_period_secs: 21_600.0,
            max_jitter: 0.2,
            tolerance: 0.3,
            min_good_fraction: 0.8,
            idle_gap_secs: 3.0,
            min_event_gap_ms: 1000,
            exclude_ports: vec![53, 67, 68, 123, 137, 138, 161, 162, 1900, 5353],
            exclude_dst: Vec::new(),
            max_pairs: 16_384,
        }
    }
}

/// Slots of the recent-flow cache (16 B each: 1 MB).
const RECENT: usize = 1 << 16;
/// Bits of the seen-once set (128 KB).
const SEEN_BITS: usize = 1 << 20;
/// Event times kept per pair.
const RING: usize = 48;
pub const SIG_BEACON: u32 = 5_000_001;

type Key = (Addr, Addr, u16, u8);

struct Pair {
    /// Event start times, oldest first once full (ring).
    times: [Nanos; RING],
    n: usize,
    total_events: u64,
    last_pkt: Nanos,
    last_event: Nanos,
    sport: u16,
    flows: Vec<u64>,
}

impl Pair {
    fn new() -> Self {
        Pair {
            times: [0; RING],
            n: 0,
            total_events: 0,
            last_pkt: 0,
            last_event: 0,
            sport: 0,
            flows: Vec::new(),
        }
    }
    fn push(&mut self, ts: Nanos) {
        if self.n < RING {
            self.times[self.n] = ts;
            self.n += 1;
        } else {
            self.times.copy_within(1.., 0);
            self.times[RING - 1] = ts;
        }
        self.total_events += 1;
        self.last_event = ts;
    }
}

/// The verdict on a series of event times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Periodicity {
    pub period_s: f64,
    pub jitter: f64,
    pub good_fraction: f64,
    pub intervals: usize,
}

/// Median of a sorted slice.
fn median(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Measures the regularity of increasing event times (nanoseconds).
pub fn periodicity(times: &[Nanos], tolerance: f64) -> Option<Periodicity> {
    if times.len() < 3 {
        return None;
    }
    let mut iv: Vec<f64> = times
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]) as f64 / NANOS_PER_SEC as f64)
        .collect();
    iv.sort_unstable_by(|a, b| a.total_cmp(b));
    let m = median(&iv);
    if m <= 0.0 {
        return None;
    }
    let mut dev: Vec<f64> = iv.iter().map(|x| (x - m).abs()).collect();
    dev.sort_unstable_by(|a, b| a.total_cmp(b));
    let mad = median(&dev);
    let good = iv
        .iter()
        .filter(|x| (*x - m).abs() <= tolerance * m)
        .count();
    Some(Periodicity {
        period_s: m,
        jitter: mad / m,
        good_fraction: good as f64 / iv.len() as f64,
        intervals: iv.len(),
    })
}

pub struct Beacon {
    cfg: Config,
    pairs: FastMap<Key, Pair>,
    /// Direct-mapped (flow id, last packet time) cache: packets in the middle
    /// of an exchange stop here, without touching the pair table.
    recent: Box<[(u64, Nanos, u32)]>,
    /// Direct-mapped last packet time per pair (by key hash), kept by the
    /// fast path too, so the idle test sees every flow of the pair.
    pair_last: Box<[Nanos]>,
    /// Pairs seen once (a 2^20-bit set, cleared when half full): a pair gets
    /// a table entry at its second event, so single visits (most pairs)
    /// never cost one.
    seen_once: Box<[u64]>,
    seen_bits: usize,
    /// Keys in insertion order, for eviction (may hold removed keys).
    order: std::collections::VecDeque<Key>,
    exclude_dst: Vec<Addr>,
    idle_gap: Nanos,
    min_gap: Nanos,
    next_sweep: Nanos,
    /// Pairs replaced because the table was full.
    pub pairs_evicted: u64,
}

impl Beacon {
    pub fn new(cfg: &Config) -> Self {
        Beacon {
            cfg: cfg.clone(),
            pairs: FastMap::with_capacity_and_hasher(1024, FastBuild),
            order: std::collections::VecDeque::new(),
            recent: vec![(0, 0, 0); RECENT].into_boxed_slice(),
            pair_last: vec![0; RECENT].into_boxed_slice(),
            seen_once: vec![0; SEEN_BITS / 64].into_boxed_slice(),
            seen_bits: 0,
            exclude_dst: cfg
                .exclude_dst
                .iter()
                .filter_map(|s| s.parse::<std::net::IpAddr>().ok().map(Addr::from))
                .collect(),
            idle_gap: (cfg.idle_gap_secs.max(0.0) * NANOS_PER_SEC as f64) as Nanos,
            min_gap: cfg.min_event_gap_ms * 1_000_000,
            next_sweep: 0,
            pairs_evicted: 0,
        }
    }

    /// Makes room for one more pair: of the 16 oldest pairs (insertion
    /// order), evicts the one with the fewest events; the others go back
    /// to the end of the queue. O(1) per call.
    fn make_room(&mut self) {
        let mut best: Option<(Key, (u64, Nanos))> = None;
        let mut looked = Vec::with_capacity(16);
        while looked.len() < 16 {
            let Some(k) = self.order.pop_front() else {
                break;
            };
            let Some(p) = self.pairs.get(&k) else {
                continue;
            };
            let score = (p.total_events, p.last_pkt);
            if best.is_none_or(|b| score < b.1) {
                best = Some((k, score));
            }
            looked.push(k);
        }
        if let Some((victim, _)) = best {
            self.pairs.remove(&victim);
            self.pairs_evicted += 1;
            for k in looked {
                if k != victim {
                    self.order.push_back(k);
                }
            }
        }
    }

    fn judge(&self, key: &Key, p: &Pair, ts: Nanos) -> Option<Alert> {
        if p.n < self.cfg.min_intervals + 1 {
            return None;
        }
        let v = periodicity(&p.times[..p.n], self.cfg.tolerance)?;
        if v.period_s < self.cfg.min_period_secs
            || v.period_s > self.cfg.max_period_secs
            || v.jitter > self.cfg.max_jitter
            || v.good_fraction < self.cfg.min_good_fraction
        {
            return None;
        }
        let mut a = Alert::new(
            ts,
            Category::Beaconing,
            SIG_BEACON,
            "VIGIL BEACON periodic check-ins from an inside host to one outside host",
            2,
        );
        a.src = Some(key.0);
        a.dst = Some(key.1);
        a.proto = Some(key.3);
        a.src_port = Some(p.sport);
        a.dest_port = Some(key.2);
        a.metrics = vec![
            ("period_s", (v.period_s * 1000.0).round() / 1000.0),
            ("jitter", (v.jitter * 1000.0).round() / 1000.0),
            (
                "on_period_fraction",
                (v.good_fraction * 1000.0).round() / 1000.0,
            ),
            ("intervals", v.intervals as f64),
            ("events", p.total_events as f64),
        ];
        a.flow_ids = p.flows.clone();
        Some(a)
    }

    fn sweep(&mut self, now: Nanos) {
        let max = (self.cfg.max_period_secs * 1.5 * NANOS_PER_SEC as f64) as Nanos;
        let floor = 600 * NANOS_PER_SEC;
        self.pairs.retain(|_, p| {
            // a pair whose own rhythm is known expires after a few periods
            let keep = if p.n >= 3 {
                let span = p.times[p.n - 1] - p.times[0];
                (span / (p.n as u64 - 1) * 4).clamp(floor, max)
            } else {
                max
            };
            now.saturating_sub(p.last_pkt) <= keep
        });
    }
}

impl Detector for Beacon {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        let c = &cfg.beacon;
        self.exclude_dst = c
            .exclude_dst
            .iter()
            .filter_map(|s| s.parse::<std::net::IpAddr>().ok().map(Addr::from))
            .collect();
        self.idle_gap = (c.idle_gap_secs.max(0.0) * NANOS_PER_SEC as f64) as Nanos;
        self.min_gap = c.min_event_gap_ms * 1_000_000;
        self.cfg = c.clone();
    }
    fn name(&self) -> &'static str {
        "beacon"
    }

    #[inline]
    fn on_packet(&mut self, c: &Ctx, out: &mut Out) {
        // inside client → outside server only
        if !c.src_home || c.dst_home || !c.flow.to_server {
            return;
        }
        let p = c.p;
        let new_flow = c.flow.new_flow;
        if p.payload_len == 0 && !new_flow {
            return;
        }
        if self.cfg.exclude_ports.contains(&p.dport) {
            return;
        }
        // fast path: a packet of a flow active within the idle gap (so its
        // pair is not idle either)
        let fid = c.flow.flow_id;
        let si = (crate::sketch::mix64(fid) as usize) & (RECENT - 1);
        let slot = &mut self.recent[si];
        if !new_flow && slot.0 == fid && p.ts.saturating_sub(slot.1) < self.idle_gap {
            slot.1 = p.ts;
            self.pair_last[slot.2 as usize] = p.ts;
            return;
        }
        let key: Key = (p.src, p.dst, p.dport, p.proto);
        let kh = {
            use std::hash::BuildHasher;
            FastBuild.hash_one(key)
        };
        let pidx = (kh as usize) & (RECENT - 1);
        *slot = (fid, p.ts, pidx as u32);
        let plast = std::mem::replace(&mut self.pair_last[pidx], p.ts);
        let pair = match self.pairs.get_mut(&key) {
            Some(x) => x,
            None => {
                if !self.exclude_dst.is_empty() && self.exclude_dst.contains(&p.dst) {
                    return;
                }
                if plast != 0 && p.ts.saturating_sub(plast) < self.idle_gap && !new_flow {
                    return;
                }
                // the first event of a pair only marks it as seen
                let b = ((kh >> 24) as usize) & (SEEN_BITS - 1);
                let (w, m) = (b / 64, 1u64 << (b % 64));
                if self.seen_once[w] & m == 0 {
                    self.seen_once[w] |= m;
                    self.seen_bits += 1;
                    if self.seen_bits > SEEN_BITS / 2 {
                        self.seen_once.fill(0);
                        self.seen_bits = 0;
                    }
                    return;
                }
                if self.pairs.len() >= self.cfg.max_pairs {
                    self.make_room();
                }
                if self.order.len() > 2 * self.cfg.max_pairs + 64 {
                    let pairs = &self.pairs;
                    self.order.retain(|k| pairs.contains_key(k));
                }
                self.order.push_back(key);
                self.pairs.entry(key).or_insert_with(Pair::new)
            }
        };
        let last = pair.last_pkt.max(plast);
        let idle = last == 0 || p.ts.saturating_sub(last) >= self.idle_gap;
        pair.last_pkt = pair.last_pkt.max(p.ts);
        if !(new_flow || idle) {
            return;
        }
        if pair.last_event != 0 && p.ts.saturating_sub(pair.last_event) < self.min_gap {
            return;
        }
        pair.push(p.ts);
        pair.sport = p.sport;
        let id = c.flow.flow_id;
        if !pair.flows.contains(&id) {
            if pair.flows.len() >= 8 {
                pair.flows.remove(0);
            }
            pair.flows.push(id);
        }
        if pair.n > self.cfg.min_intervals {
            let pair = &self.pairs[&key];
            if let Some(a) = self.judge(&key, pair, p.ts) {
                out.push(a);
            }
        }
    }

    /// An exported record is a flow start at its start time, fed to the
    /// packet path as the flow's first packet. Beaconing is judged on the
    /// intervals between starts, so it needs records in roughly start
    /// order: what an exporter's idle timeouts give for short periodic
    /// connections (records of one pair that arrive out of order make the
    /// intervals irregular: a missed beacon, never a false one).
    fn on_flow_export(&mut self, r: &FlowRecord, home: &NetSet, out: &mut Out) {
        if r.toserver.pkts == 0 {
            return;
        }
        let p = PacketInfo {
            ts: r.start,
            src: r.client,
            dst: r.server,
            proto: r.proto,
            sport: r.cport,
            dport: r.sport,
            frames: 1,
            payload_len: r.toserver.payload_bytes.min(u32::MAX as u64) as u32,
            ..PacketInfo::default()
        };
        let flow = FlowCtx {
            flow_id: r.flow_id,
            new_flow: true,
            to_server: true,
            established: false,
            flow_pkts: 1,
        };
        let c = Ctx {
            p: &p,
            flow: &flow,
            src_home: home.contains(r.client),
            dst_home: home.contains(r.server),
        };
        self.on_packet(&c, out);
    }

    fn on_tick(&mut self, now: Nanos, _out: &mut Out) {
        if now >= self.next_sweep {
            if self.next_sweep != 0 {
                self.sweep(now);
            }
            self.next_sweep = now + 60 * NANOS_PER_SEC;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::{FlowCtx, PacketInfo};

    const IN: Addr = Addr::v4([10, 0, 0, 4]);
    const C2: Addr = Addr::v4([24, 199, 110, 233]);

    fn feed(
        d: &mut Beacon,
        ts: Nanos,
        dport: u16,
        payload: u32,
        new_flow: bool,
        flow_id: u64,
    ) -> Vec<Alert> {
        let p = PacketInfo {
            ts,
            src: IN,
            dst: C2,
            proto: 17,
            sport: 53241,
            dport,
            payload_len: payload,
            ..Default::default()
        };
        let flow = FlowCtx {
            flow_id,
            new_flow,
            to_server: true,
            established: true,
            flow_pkts: 1,
        };
        let mut out = Vec::new();
        d.on_packet(
            &Ctx {
                p: &p,
                flow: &flow,
                src_home: true,
                dst_home: false,
            },
            &mut out,
        );
        out
    }

    /// Deterministic pseudo-random in [-1, 1].
    fn jit(i: u64) -> f64 {
        let x = crate::sketch::mix64(i + 1);
        (x % 2001) as f64 / 1000.0 - 1.0
    }

    #[test]
    fn bursts_inside_one_flow_are_check_ins() {
        let mut d = Beacon::new(&Config::default());
        let t0 = 1_000 * NANOS_PER_SEC;
        let mut alerts = Vec::new();
        for k in 0..14u64 {
            let start = t0 + k * 15_100_000_000;
            // each check-in: three packets within 100 ms
            for j in 0..3 {
                alerts.extend(feed(
                    &mut d,
                    start + j * 50_000_000,
                    443,
                    60,
                    k == 0 && j == 0,
                    1,
                ));
            }
        }
        assert!(!alerts.is_empty());
        let a = &alerts[0];
        assert_eq!(a.src, Some(IN));
        assert_eq!(a.dst, Some(C2));
        let period = a.metrics.iter().find(|m| m.0 == "period_s").unwrap().1;
        assert!((period - 15.1).abs() < 0.1, "{period}");
    }

    #[test]
    fn new_connections_with_jitter_alert() {
        let mut d = Beacon::new(&Config::default());
        let mut alerts = Vec::new();
        let mut t = 5_000 * NANOS_PER_SEC;
        for k in 0..20u64 {
            alerts.extend(feed(&mut d, t, 443, 0, true, k));
            alerts.extend(feed(&mut d, t + 60_000_000, 443, 517, false, k));
            t += ((60.0 * (1.0 + 0.2 * jit(k))) * NANOS_PER_SEC as f64) as Nanos;
        }
        assert!(!alerts.is_empty());
    }

    #[test]
    fn irregular_revisits_stay_quiet() {
        let mut d = Beacon::new(&Config::default());
        let mut t = 5_000 * NANOS_PER_SEC;
        for k in 0..40u64 {
            assert!(feed(&mut d, t, 443, 0, true, k).is_empty());
            // anywhere between 5 s and 5 min
            t += ((152.5 + 147.5 * jit(k)) * NANOS_PER_SEC as f64) as Nanos;
        }
    }

    #[test]
    fn too_few_check_ins_stay_quiet() {
        let mut d = Beacon::new(&Config::default());
        for k in 0..5u64 {
            assert!(feed(&mut d, (100 + 15 * k) * NANOS_PER_SEC, 80, 0, true, k).is_empty());
        }
    }

    #[test]
    fn ntp_is_excluded() {
        let mut d = Beacon::new(&Config::default());
        for k in 0..30u64 {
            assert!(feed(&mut d, (100 + 64 * k) * NANOS_PER_SEC, 123, 48, true, k).is_empty());
        }
        assert!(d.pairs.is_empty());
    }

    #[test]
    fn table_is_capped() {
        let cfg = Config {
            max_pairs: 8,
            ..Config::default()
        };
        let mut d = Beacon::new(&cfg);
        let flow = FlowCtx {
            new_flow: true,
            to_server: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        for i in 0..2000u32 {
            let p = PacketInfo {
                ts: NANOS_PER_SEC + (i as u64 / 1000) * 10 * NANOS_PER_SEC,
                src: IN,
                dst: Addr::v4((i % 1000).to_be_bytes()),
                proto: 6,
                dport: 443,
                ..Default::default()
            };
            d.on_packet(
                &Ctx {
                    p: &p,
                    flow: &flow,
                    src_home: true,
                    dst_home: false,
                },
                &mut out,
            );
        }
        assert_eq!(d.pairs.len(), 8);
        assert_eq!(d.pairs_evicted, 992);
    }

    #[test]
    fn periodicity_math() {
        let t: Vec<Nanos> = (0..10).map(|i| i * 10 * NANOS_PER_SEC).collect();
        let v = periodicity(&t, 0.3).unwrap();
        assert_eq!(v.period_s, 10.0);
        assert_eq!(v.jitter, 0.0);
        assert_eq!(v.good_fraction, 1.0);
    }
}
