//! Exfiltration: an unusual volume of data leaving an inside host for one
//! outside receiver, raised while the transfer runs.
//!
//! Per packet, only packets that carry payload and cross the home-net
//! boundary matter: inside → outside bytes are the upload, outside → inside
//! bytes of the same pair tell an upload from a download or a symmetric
//! exchange. Everything else returns after two compares.
//!
//! State is bounded: a count-min pre-filter ([`crate::sketch::CountMin`])
//! counts large outbound packets per (inside, outside) pair; only pairs that
//! pass it get an exact entry (a ring of 10 s buckets over the window), and
//! the exact table has a cap ([`Config::max_pairs`]) with a counter.
//!
//! An alert needs, for one pair, all of:
//! - a floor of bytes out: [`Config::burst_min_bytes`] within
//!   [`Config::burst_secs`], or [`Config::min_bytes`] within
//!   [`Config::window_secs`];
//! - an upload shape: bytes out ≥ [`Config::min_ratio`] × bytes in;
//! - unusual for the host: bytes out ≥ [`Config::baseline_factor`] × the
//!   host's usual outbound volume over the same span (a slow moving average
//!   of its outbound rate; zero until the host has history).
//!
//! See docs/detection/exfiltration.md.

use serde::{Deserialize, Serialize};
use vigil_core::{
    Addr, Alert, Category, FlowCtx, FlowRecord, Nanos, NetSet, PacketInfo, NANOS_PER_SEC,
};

use crate::sketch::{hash_addr, mix64, CountMin, FastBuild, FastMap};
use crate::{Ctx, Detector, Out};

/// Settings of the exfil detector (`[detect.exfil]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Short window, seconds. Default 60: a fast theft (a few MB in seconds,
    /// the usual case under cover of a flood) crosses it while it runs.
    pub burst_secs: u64,
    /// Payload bytes out within `burst_secs` that alert. Default 10,000,000
    /// (10 MB): ordinary browsing sends kilobytes per site per minute; a
    /// form post, a photo or a document upload of a few MB sits below it.
    pub burst_min_bytes: u64,
    /// The same floor while the network is under a flood: a denial-of-service
    /// alert on any host was raised within `flood_hold_secs`. Default
    /// 8,000,000 (8 MB): a flood is the classic cover for theft (vigil's
    /// origin story), so the floor drops; but not below the few-MB uploads
    /// ordinary clients make every minute (the reference traffic mix has
    /// uploads up to 5 MB; a 4 MB floor alerted on three of them).
    pub flood_burst_min_bytes: u64,
    /// Seconds after the last denial-of-service alert during which the flood
    /// floor applies. Default 300 (the engine repeats an ongoing flood's
    /// alert every minute).
    pub flood_hold_secs: u64,
    /// Long window, seconds (a multiple of 10, at most 2,560). Default 600:
    /// catches slower, steadier theft that stays under the burst floor.
    pub window_secs: u64,
    /// Payload bytes out within `window_secs` that alert. Default 50,000,000
    /// (50 MB in 10 min).
    pub min_bytes: u64,
    /// Bytes out must be at least this many times bytes in (payload, same
    /// pair, same window): an upload, not a download or a call. Default 4
    /// (TCP uploads see almost no payload back; video calls are near 1).
    pub min_ratio: f64,
    /// Bytes out must be at least this many times the host's usual outbound
    /// volume over the same span. Default 10.
    pub baseline_factor: f64,
    /// Minutes of history behind a host's usual outbound volume (at most
    /// 240): the usual volume per minute is the median of the host's
    /// per-minute outbound bytes over these minutes, leaving out the minutes
    /// being judged. Default 60: a host that uploads most minutes of the last
    /// hour (a sync client, a backup to the cloud) is judged against that;
    /// a host new to uploading has a usual of 0.
    pub baseline_minutes: u64,
    /// Outbound packets of at least this payload feed the pre-filter.
    /// Default 512: bulk transfers send full-sized segments.
    pub prefilter_min_payload: u32,
    /// Pre-filter count (packets ≥ `prefilter_min_payload`, halved every
    /// 10 s) at which a pair gets exact state. Default 48 (≈ 50 KB in a few
    /// seconds).
    pub promote_packets: u8,
    /// Most pairs with exact state; past it new pairs are counted in the
    /// `pairs_dropped` counter and ignored until old ones expire. Default
    /// 4,096 (≈ 1 KB each).
    pub max_pairs: usize,
    /// Inside hosts whose outbound traffic is never judged (e.g. a proxy or
    /// an off-site backup server). Default empty.
    pub ignore_src: Vec<String>,
    /// Outside receivers never judged (e.g. your cloud backup). Default empty.
    pub ignore_dst: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            burst_secs: 60,
            burst_min_bytes: 10_000_000,
            flood_burst_min_bytes: 8_000_000,
            flood_hold_secs: 300,
            window_secs: 600,
            min_bytes: 50_000_000,
            min_ratio: 4.0,
            baseline_factor: 10.0,
            baseline_minutes: 60,
            prefilter_min_payload: 512,
            promote_packets: 48,
            max_pairs: 4096,
            ignore_src: Vec::new(),
            ignore_dst: Vec::new(),
        }
    }
}

/// Width of one bucket of the sliding windows.
const BUCKET: Nanos = 10 * NANOS_PER_SEC;
/// Most buckets in the long window.
const MAX_BUCKETS: usize = 256;
/// Flow ids kept per pair for the alert.
const MAX_FLOWS: usize = 8;

pub const SIG_BURST: u32 = 4_000_001;
pub const SIG_VOLUME: u32 = 4_000_002;

struct Pair {
    src: Addr,
    dst: Addr,
    /// Absolute index of the newest bucket (ts / BUCKET).
    head: u64,
    out: Box<[u64]>,
    inb: Box<[u64]>,
    first: Nanos,
    last: Nanos,
    total_out: u64,
    total_in: u64,
    proto: u8,
    src_port: u16,
    dst_port: u16,
    flows: Vec<u64>,
    last_alert: Nanos,
    dirty: bool,
}

impl Pair {
    fn new(src: Addr, dst: Addr, nb: usize, ts: Nanos) -> Self {
        Pair {
            src,
            dst,
            head: ts / BUCKET,
            out: vec![0; nb].into_boxed_slice(),
            inb: vec![0; nb].into_boxed_slice(),
            first: ts,
            last: ts,
            total_out: 0,
            total_in: 0,
            proto: 0,
            src_port: 0,
            dst_port: 0,
            flows: Vec::new(),
            last_alert: 0,
            dirty: false,
        }
    }
    /// Moves the ring so bucket `b` is the newest, clearing skipped buckets.
    fn roll(&mut self, b: u64) {
        if b <= self.head {
            return;
        }
        let nb = self.out.len() as u64;
        let steps = (b - self.head).min(nb);
        for i in 1..=steps {
            let ix = ((self.head + i) % nb) as usize;
            self.out[ix] = 0;
            self.inb[ix] = 0;
        }
        self.head = b;
    }
    /// (out, in) over the newest `n` buckets.
    fn sums(&self, n: usize) -> (u64, u64) {
        let nb = self.out.len() as u64;
        let n = (n as u64).min(nb);
        let (mut o, mut i) = (0, 0);
        for k in 0..n {
            let ix = ((self.head + nb - k) % nb) as usize;
            o += self.out[ix];
            i += self.inb[ix];
        }
        (o, i)
    }
    fn add_flow(&mut self, id: u64) {
        if self.flows.last() != Some(&id) && !self.flows.contains(&id) {
            if self.flows.len() >= MAX_FLOWS {
                self.flows.remove(0);
            }
            self.flows.push(id);
        }
    }
}

/// A host's outbound bytes per minute (pairs with exact state only: the
/// rest is small by construction), a ring over `baseline_minutes`.
struct Host {
    /// Absolute minute of the newest slot.
    head: u64,
    mins: Box<[u64]>,
    last: Nanos,
}

impl Host {
    fn new(n: usize, ts: Nanos) -> Self {
        Host {
            head: ts / (60 * NANOS_PER_SEC),
            mins: vec![0; n].into_boxed_slice(),
            last: ts,
        }
    }
    fn add(&mut self, ts: Nanos, bytes: u64) {
        let m = ts / (60 * NANOS_PER_SEC);
        let n = self.mins.len() as u64;
        if m > self.head {
            for i in 1..=(m - self.head).min(n) {
                self.mins[((self.head + i) % n) as usize] = 0;
            }
            self.head = m;
        }
        let ix = (self.head % n) as usize;
        self.mins[ix] += bytes;
        self.last = ts;
    }
    /// Median bytes per minute, leaving out the newest `skip` minutes (the
    /// ones being judged), as of minute `now_min`.
    fn usual_per_min(&self, now_min: u64, skip: u64) -> f64 {
        let n = self.mins.len() as u64;
        let mut v: Vec<u64> = Vec::with_capacity(n as usize);
        // minutes now_min-skip-k for k in 0..n-skip (older than the ring are 0)
        for k in skip..n {
            let Some(m) = now_min.checked_sub(k) else {
                break;
            };
            let val = if m > self.head || self.head - m >= n {
                0
            } else {
                self.mins[(m % n) as usize]
            };
            v.push(val);
        }
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        v[v.len() / 2] as f64
    }
}

pub struct Exfil {
    cfg: Config,
    nb: usize,
    burst_buckets: usize,
    prefilter: CountMin,
    pairs: FastMap<u64, Pair>,
    hosts: FastMap<Addr, Host>,
    ignore_src: Vec<Addr>,
    ignore_dst: Vec<Addr>,
    baseline_n: usize,
    next_decay: Nanos,
    next_sweep: Nanos,
    /// The flood floor applies until then (capture time).
    flood_until: Nanos,
    /// New pairs refused because the exact table was full.
    pub pairs_dropped: u64,
}

fn parse_addrs(v: &[String]) -> Vec<Addr> {
    v.iter()
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok().map(Addr::from))
        .collect()
}

#[inline]
fn pair_hash(src: &Addr, dst: &Addr) -> u64 {
    mix64(hash_addr(src) ^ hash_addr(dst).rotate_left(17))
}

impl Exfil {
    pub fn new(cfg: &Config) -> Self {
        let nb = ((cfg.window_secs.max(10) / 10) as usize).clamp(1, MAX_BUCKETS);
        let burst_buckets = ((cfg.burst_secs.max(10) / 10) as usize).clamp(1, nb);
        Exfil {
            cfg: cfg.clone(),
            nb,
            burst_buckets,
            prefilter: CountMin::new(16, 2),
            pairs: FastMap::with_capacity_and_hasher(256, FastBuild),
            hosts: FastMap::with_capacity_and_hasher(256, FastBuild),
            ignore_src: parse_addrs(&cfg.ignore_src),
            ignore_dst: parse_addrs(&cfg.ignore_dst),
            baseline_n: cfg.baseline_minutes.clamp(1, 240) as usize,
            next_decay: 0,
            next_sweep: 0,
            flood_until: 0,
            pairs_dropped: 0,
        }
    }

    /// The host's usual outbound bytes over `secs` seconds.
    fn host_usual(&self, src: Addr, now: Nanos, secs: u64) -> f64 {
        let Some(h) = self.hosts.get(&src) else {
            return 0.0;
        };
        let mins = secs.div_ceil(60);
        h.usual_per_min(now / (60 * NANOS_PER_SEC), mins + 1) * secs as f64 / 60.0
    }

    fn evaluate(&mut self, now: Nanos, out: &mut Out) {
        let nb = self.nb;
        let bb = self.burst_buckets;
        let flood = now < self.flood_until;
        let burst_floor = if flood {
            self.cfg.flood_burst_min_bytes.min(self.cfg.burst_min_bytes)
        } else {
            self.cfg.burst_min_bytes
        };
        let b = now / BUCKET;
        let mut hits: Vec<(u64, u32, u64, u64, u64)> = Vec::new();
        for (k, p) in self.pairs.iter_mut() {
            if !p.dirty {
                continue;
            }
            p.dirty = false;
            p.roll(b);
            let (bo, bi) = p.sums(bb);
            let (wo, wi) = p.sums(nb);
            let ratio_ok = |o: u64, i: u64| o as f64 >= self.cfg.min_ratio * i as f64;
            if bo >= burst_floor && ratio_ok(bo, bi) {
                hits.push((*k, SIG_BURST, bo, bi, self.cfg.burst_secs));
            } else if wo >= self.cfg.min_bytes && ratio_ok(wo, wi) {
                hits.push((*k, SIG_VOLUME, wo, wi, self.cfg.window_secs));
            }
        }
        for (k, sig, o, i, secs) in hits {
            let Some(p) = self.pairs.get(&k) else {
                continue;
            };
            let src = p.src;
            if p.last_alert != 0 && now < p.last_alert + 60 * NANOS_PER_SEC {
                continue;
            }
            let usual = self.host_usual(src, now, secs);
            if (o as f64) < self.cfg.baseline_factor * usual {
                continue;
            }
            let Some(p) = self.pairs.get_mut(&k) else {
                continue;
            };
            p.last_alert = now;
            let dur = (now.saturating_sub(p.first) as f64 / NANOS_PER_SEC as f64).max(1.0);
            let span = (secs as f64).min(dur);
            let (sigtxt, sev) = if sig == SIG_BURST {
                (
                    "VIGIL EXFIL burst of data leaving an inside host to one outside receiver",
                    1,
                )
            } else {
                (
                    "VIGIL EXFIL large volume leaving an inside host to one outside receiver",
                    2,
                )
            };
            let mut a = Alert::new(now, Category::Exfiltration, sig, sigtxt, sev);
            a.src = Some(p.src);
            a.dst = Some(p.dst);
            a.proto = Some(p.proto);
            a.src_port = Some(p.src_port);
            a.dest_port = Some(p.dst_port);
            a.metrics = vec![
                ("bytes_out", o as f64),
                ("bytes_in", i as f64),
                ("out_in_ratio", o as f64 / (i.max(1)) as f64),
                ("window_s", secs as f64),
                ("rate_bps", o as f64 * 8.0 / span),
                ("host_usual_bytes", usual),
                ("under_flood", flood as u8 as f64),
                ("total_bytes_out", p.total_out as f64),
                ("total_bytes_in", p.total_in as f64),
            ];
            a.flow_ids = p.flows.clone();
            out.push(a);
        }
    }

    fn sweep(&mut self, now: Nanos) {
        let keep = (self.nb as u64) * BUCKET;
        self.pairs.retain(|_, p| now.saturating_sub(p.last) <= keep);
        let keep_host = self.baseline_n as u64 * 60 * NANOS_PER_SEC;
        self.hosts
            .retain(|_, h| now.saturating_sub(h.last) <= keep_host);
    }
}

impl Detector for Exfil {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        // thresholds and ignore lists; the bucket layout (window_secs,
        // burst_secs) keeps its running shape
        let c = &cfg.exfil;
        self.ignore_src = parse_addrs(&c.ignore_src);
        self.ignore_dst = parse_addrs(&c.ignore_dst);
        let (w, b, m) = (
            self.cfg.window_secs,
            self.cfg.burst_secs,
            self.cfg.baseline_minutes,
        );
        self.cfg = c.clone();
        (
            self.cfg.window_secs,
            self.cfg.burst_secs,
            self.cfg.baseline_minutes,
        ) = (w, b, m);
    }
    fn name(&self) -> &'static str {
        "exfil"
    }

    #[inline]
    fn on_packet(&mut self, c: &Ctx, _out: &mut Out) {
        let p = c.p;
        if p.payload_len == 0 || c.src_home == c.dst_home {
            return;
        }
        if c.src_home {
            // inside → outside: the upload direction
            let h = pair_hash(&p.src, &p.dst);
            if let Some(e) = self.pairs.get_mut(&h) {
                if e.src == p.src && e.dst == p.dst {
                    e.roll(p.ts / BUCKET);
                    let ix = (e.head % e.out.len() as u64) as usize;
                    e.out[ix] += p.payload_len as u64;
                    e.total_out += p.payload_len as u64;
                    e.last = p.ts;
                    e.dirty = true;
                    e.proto = p.proto;
                    e.src_port = p.sport;
                    e.dst_port = p.dport;
                    e.add_flow(c.flow.flow_id);
                    if let Some(hh) = self.hosts.get_mut(&p.src) {
                        hh.add(p.ts, p.payload_len as u64);
                    }
                }
                return;
            }
            if p.payload_len < self.cfg.prefilter_min_payload {
                return;
            }
            if self.prefilter.add(h) < self.cfg.promote_packets {
                return;
            }
            if self.ignore_src.contains(&p.src) || self.ignore_dst.contains(&p.dst) {
                return;
            }
            if self.pairs.len() >= self.cfg.max_pairs {
                self.pairs_dropped += 1;
                return;
            }
            let mut e = Pair::new(p.src, p.dst, self.nb, p.ts);
            // what the pre-filter saw before promotion, as a lower bound
            let seen = self.cfg.promote_packets as u64 * p.payload_len as u64;
            e.out[(e.head % self.nb as u64) as usize] = seen;
            e.total_out = seen;
            e.proto = p.proto;
            e.src_port = p.sport;
            e.dst_port = p.dport;
            e.dirty = true;
            e.add_flow(c.flow.flow_id);
            self.pairs.insert(h, e);
            let n = self.baseline_n;
            self.hosts
                .entry(p.src)
                .or_insert_with(|| Host::new(n, p.ts))
                .add(p.ts, seen);
        } else {
            // outside → inside: only for pairs already followed
            if self.pairs.is_empty() {
                return;
            }
            let h = pair_hash(&p.dst, &p.src);
            if let Some(e) = self.pairs.get_mut(&h) {
                if e.src == p.dst && e.dst == p.src {
                    e.roll(p.ts / BUCKET);
                    let ix = (e.head % e.out.len() as u64) as usize;
                    e.inb[ix] += p.payload_len as u64;
                    e.total_in += p.payload_len as u64;
                    e.last = p.ts;
                }
            }
        }
    }

    /// An exported record stands for its packets: each direction's payload
    /// is replayed as up to `promote_packets` (and at most 64) equal slices
    /// spread evenly over the record's life, through the packet path. A
    /// record of many packets thus passes the pre-filter as its packets
    /// would (and the promoted pair starts with the record's payload); a
    /// long upload exported once lands in the buckets its life spans.
    fn on_flow_export(&mut self, r: &FlowRecord, home: &NetSet, out: &mut Out) {
        for (src, dst, sport, dport, d, to_server) in [
            (r.client, r.server, r.cport, r.sport, r.toserver, true),
            (r.server, r.client, r.sport, r.cport, r.toclient, false),
        ] {
            if d.payload_bytes == 0 || d.pkts == 0 {
                continue;
            }
            let (src_home, dst_home) = (home.contains(src), home.contains(dst));
            if src_home == dst_home {
                continue;
            }
            let k = d.pkts.min(self.cfg.promote_packets.max(1) as u64).min(64);
            let slice = (d.payload_bytes / k).min(u32::MAX as u64) as u32;
            let span = r.end.saturating_sub(r.start);
            let flow = FlowCtx {
                flow_id: r.flow_id,
                new_flow: false,
                to_server,
                established: true,
                flow_pkts: d.pkts,
            };
            for i in 1..=k {
                let p = PacketInfo {
                    ts: r.start + span / k * i,
                    src,
                    dst,
                    proto: r.proto,
                    sport,
                    dport,
                    frames: 1,
                    payload_len: slice,
                    ..PacketInfo::default()
                };
                let c = Ctx {
                    p: &p,
                    flow: &flow,
                    src_home,
                    dst_home,
                };
                self.on_packet(&c, out);
            }
        }
    }

    fn on_tick(&mut self, now: Nanos, out: &mut Out) {
        if now >= self.next_decay {
            if self.next_decay != 0 {
                self.prefilter.decay();
            }
            self.next_decay = now + BUCKET;
        }
        if !self.pairs.is_empty() {
            self.evaluate(now, out);
        }
        if now >= self.next_sweep {
            if self.next_sweep != 0 {
                self.sweep(now);
            }
            self.next_sweep = now + 60 * NANOS_PER_SEC;
        }
    }

    fn on_alert(&mut self, a: &Alert) {
        if a.category != Category::Dos {
            return;
        }
        let until =
            a.ts.saturating_add(self.cfg.flood_hold_secs * NANOS_PER_SEC);
        if until > self.flood_until {
            if a.ts >= self.flood_until {
                // a flood begins: judge again what left in the last window
                for p in self.pairs.values_mut() {
                    p.dirty = true;
                }
            }
            self.flood_until = until;
        }
    }

    fn finish(&mut self, now: Nanos, out: &mut Out) {
        if !self.pairs.is_empty() {
            self.evaluate(now, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::{FlowCtx, PacketInfo};

    const IN: Addr = Addr::v4([10, 0, 0, 5]);
    const OUTSIDE: Addr = Addr::v4([203, 0, 113, 50]);

    fn pkt(ts: Nanos, src: Addr, dst: Addr, payload: u32) -> PacketInfo {
        PacketInfo {
            ts,
            src,
            dst,
            proto: 6,
            sport: 40000,
            dport: 443,
            payload_len: payload,
            ..Default::default()
        }
    }

    /// Feeds `secs` seconds of traffic: `out_pps` packets of 1400 B out and
    /// `in_pps` packets of `in_size` in, per second; returns the alerts.
    fn run(
        d: &mut Exfil,
        t0: u64,
        secs: u64,
        out_pps: u64,
        in_pps: u64,
        in_size: u32,
        outward: bool,
    ) -> Vec<Alert> {
        let mut out = Vec::new();
        let flow = FlowCtx::default();
        for s in 0..secs {
            let base = (t0 + s) * NANOS_PER_SEC;
            for i in 0..out_pps {
                let ts = base + i * (NANOS_PER_SEC / out_pps.max(1));
                let p = pkt(ts, IN, OUTSIDE, 1400);
                let c = Ctx {
                    p: &p,
                    flow: &flow,
                    src_home: true,
                    dst_home: !outward,
                };
                d.on_packet(&c, &mut out);
            }
            for i in 0..in_pps {
                let ts = base + i * (NANOS_PER_SEC / in_pps.max(1)) + 1;
                let p = pkt(ts, OUTSIDE, IN, in_size);
                let c = Ctx {
                    p: &p,
                    flow: &flow,
                    src_home: !outward,
                    dst_home: true,
                };
                d.on_packet(&c, &mut out);
            }
            d.on_tick(base + NANOS_PER_SEC, &mut out);
        }
        out
    }

    #[test]
    fn upload_alerts_during_transfer() {
        let mut d = Exfil::new(&Config::default());
        // 1000 x 1400 B/s = 1.4 MB/s, for 10 s
        let a = run(&mut d, 1_000, 10, 1000, 10, 0, true);
        assert!(!a.is_empty(), "no alert");
        assert_eq!(a[0].src, Some(IN));
        assert_eq!(a[0].dst, Some(OUTSIDE));
        assert!(a[0].ts <= 1_009 * NANOS_PER_SEC, "late: {}", a[0].ts);
    }

    #[test]
    fn a_flood_lowers_the_floor() {
        // 9 MB in 9 s: under the 10 MB floor, quiet in peace...
        let mut d = Exfil::new(&Config::default());
        assert!(run(&mut d, 1_000, 9, 714, 1, 0, true).is_empty());
        // ...alerts (again judged) once a flood is reported
        let mut dos = Alert::new(1_010 * NANOS_PER_SEC, Category::Dos, 1, "flood", 1);
        dos.dst = Some(Addr::v4([10, 0, 1, 10]));
        d.on_alert(&dos);
        let a = run(&mut d, 1_010, 2, 0, 0, 0, true);
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].metrics
                .iter()
                .find(|m| m.0 == "under_flood")
                .unwrap()
                .1,
            1.0
        );
    }

    #[test]
    fn download_does_not_alert() {
        let mut d = Exfil::new(&Config::default());
        // symmetric or inbound-heavy: in payload 1400 B at the same rate
        let a = run(&mut d, 1_000, 20, 1000, 1000, 1400, true);
        assert!(a.is_empty());
    }

    #[test]
    fn inside_receiver_does_not_alert() {
        let mut d = Exfil::new(&Config::default());
        let a = run(&mut d, 1_000, 20, 1000, 0, 0, false);
        assert!(a.is_empty());
        assert!(d.pairs.is_empty());
    }

    #[test]
    fn small_uploads_stay_quiet() {
        let mut d = Exfil::new(&Config::default());
        // 20 KB/s for 5 minutes = 6 MB, but < 4 MB per minute and < 50 MB
        let a = run(&mut d, 1_000, 300, 14, 1, 0, true);
        assert!(a.is_empty());
    }

    #[test]
    fn host_with_steady_uploads_is_its_own_baseline() {
        let cfg = Config {
            baseline_minutes: 30,
            ..Config::default()
        };
        let mut d = Exfil::new(&cfg);
        // a long steady upload: alerts first...
        let a = run(&mut d, 1_000, 30, 1000, 1, 0, true);
        assert!(!a.is_empty());
        // ...then after many half-lives, the same rate is the host's usual
        let _ = run(&mut d, 1_030, 1_800, 1000, 1, 0, true);
        let b = run(&mut d, 2_830, 120, 1000, 1, 0, true);
        assert!(b.is_empty(), "{b:?}");
    }

    #[test]
    fn exact_table_is_capped() {
        let cfg = Config {
            max_pairs: 4,
            promote_packets: 1,
            ..Config::default()
        };
        let mut d = Exfil::new(&cfg);
        let flow = FlowCtx::default();
        let mut out = Vec::new();
        for i in 0..100u8 {
            let p = pkt(NANOS_PER_SEC, IN, Addr::v4([198, 18, 0, i]), 1400);
            let c = Ctx {
                p: &p,
                flow: &flow,
                src_home: true,
                dst_home: false,
            };
            d.on_packet(&c, &mut out);
        }
        assert_eq!(d.pairs.len(), 4);
        assert_eq!(d.pairs_dropped, 96);
    }

    #[test]
    fn config_rejects_unknown_keys() {
        assert!(toml::from_str::<Config>("burst_min_bytez = 1\n").is_err());
        let c: Config = toml::from_str("enabled = false\n").unwrap();
        assert!(!c.enabled);
    }
}
