//! Floods and slow attacks against a home host: SYN, UDP and ICMP floods,
//! reflection/amplification (DNS, NTP, SSDP, memcached, CLDAP, chargen, SNMP),
//! HTTP floods and slowloris.
//!
//! State is keyed by the victim (a home destination), never by source: a
//! flood of millions of spoofed sources is one table entry with a distinct
//! source sketch, and one alert. See `docs/detection/dos.md`.
//!
//! Per destination, one-second windows (capture time, aligned to the engine's
//! ticks) count packets, bytes, bare SYNs, completed handshakes, one-way UDP,
//! ICMP, large unsolicited datagrams from amplifier service ports and new
//! flows; a sliding ten-second window of one-second buckets counts HTTP
//! requests and their distinct sources.
//! Each kind fires when its rate crosses max(absolute floor, multiplier ×
//! EWMA baseline) together with its shape condition (SYNs unanswered, UDP
//! one-way, amplifier answers unsolicited, requests concentrated on few
//! sources). Checks run every 256 packets of a hot destination and on every
//! tick, so an alert carries the capture time of the packet that crossed.
//!
//! Slowloris is found from a bounded table of connections to home servers
//! whose client sent data and whose server never answered: many of them to
//! one server port, old, trickling a few bytes, is a slow attack.

use serde::{Deserialize, Serialize};
use vigil_core::{
    proto, tcp_flags as tf, Addr, Alert, Category, FlowRecord, Meta, Nanos, NetSet, NANOS_PER_SEC,
};

use crate::sketch::{hash_addr, mix64, Bitmap, FastBuild, FastMap, Hll};
use crate::{Ctx, Detector, Out};

#[cfg(test)]
mod tests;

/// Settings of the dos detector (`[detect.dos]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Most home destinations tracked at once (default 16384). Past it new
    /// destinations are not tracked (counted in `dests_dropped`) until idle
    /// or cold ones are evicted on the next tick. A victim is by definition
    /// hot, so it wins a slot back within a second.
    pub max_dests: usize,
    /// Bare SYNs per second to one destination that make a SYN flood (default
    /// 500): a busy web server completing handshakes sees far fewer bare SYNs
    /// than that which stay unanswered; floods run at 10^4..10^6.
    pub syn_pps: f64,
    /// Fraction of those SYNs that must stay without a completed handshake
    /// (default 0.7): a flash crowd completes nearly all of them.
    pub syn_unanswered: f64,
    /// Bare SYNs per distinct destination port in the second (default 10),
    /// or else (next) many sources: a flood aims at services, a vertical
    /// port scan sends about one SYN per port from one source.
    pub syn_per_port: f64,
    /// Distinct sources that make SYNs spread over many ports a flood anyway
    /// (default 50): a random-port flood from a botnet or spoofed sources.
    pub syn_min_sources: f64,
    /// One-way UDP datagrams per second to one destination (packets of UDP
    /// flows with no answer yet) that make a UDP flood (default 1000).
    pub udp_pps: f64,
    /// Distinct sources (per second window) a one-way UDP stream must come
    /// from to be a flood at `udp_pps`; from fewer sources it must reach
    /// `udp_pps_few_sources` (default 20): keeps one-way telemetry (NetFlow,
    /// syslog, RTP) from a few exporters out.
    pub udp_min_sources: f64,
    /// One-way UDP rate that is a flood whatever the source count (default
    /// 20000 per second).
    pub udp_pps_few_sources: f64,
    /// ICMP packets per second to one destination that make an ICMP flood
    /// (default 500): monitoring pings are a few per second.
    pub icmp_pps: f64,
    /// UDP source ports of services abused as amplifiers (default DNS 53, NTP
    /// 123, SSDP 1900, memcached 11211, CLDAP 389, chargen 19, SNMP 161,
    /// portmap 111, NetBIOS 137, WS-Discovery 3702, mDNS 5353).
    pub amp_ports: Vec<u16>,
    /// IP bytes from which an answer from an amplifier port counts as
    /// amplified (default 468: above ordinary DNS/NTP answers, at NTP
    /// monlist size); fragmented datagrams always count.
    pub amp_min_len: u32,
    /// Large amplifier answers per second to one destination that make a
    /// reflection attack (default 100), when unsolicited (next).
    pub amp_pps: f64,
    /// Most queries the destination may itself have sent to amplifier ports
    /// per answer (default 0.2): a resolver gets one answer per query; a
    /// reflection victim asked nothing.
    pub amp_max_query_ratio: f64,
    /// HTTP request rate, per 10 seconds, that can make an HTTP flood
    /// (default 150, i.e. 15 per second): every second of `http_sustain_secs`
    /// in a row must reach a tenth of it (a flood is sustained; a page load
    /// is a burst). Requests are `Meta::HttpRequest` when the application
    /// decoder reports them for this destination, else client data segments
    /// of 32..1200 bytes on established connections.
    pub http_requests_10s: f64,
    /// Requests per distinct source per 10 seconds (default 10, i.e. one a
    /// second), judged over the hot seconds (up to the last ten): flash
    /// crowds bring many clients loading a page each; floods bring bots that
    /// keep asking.
    pub http_per_source: f64,
    /// Seconds in a row the request rate must hold before an HTTP flood is
    /// called (default 5).
    pub http_sustain_secs: u32,
    /// A rate must also exceed this multiple of the destination's learned
    /// baseline (EWMA of its normal per-second rate) (default 8), so a host
    /// whose normal load is near a floor is judged against its own normal.
    pub baseline_mult: f64,
    /// EWMA weight of each new second in the baseline (default 0.02: about a
    /// minute of memory). Not updated while the destination is under attack.
    pub baseline_alpha: f64,
    /// Slowloris: concurrent connections to one server port that are old,
    /// got no byte from the server and trickle data (default 50).
    pub slow_min_conns: u32,
    /// Slowloris: minimum age of such a connection in seconds (default 20).
    pub slow_min_age: u64,
    /// Slowloris: most client bytes per second of age for a trickle
    /// (default 64); an upload sends far more.
    pub slow_max_bps: f64,
    /// Slowloris: most connections tracked (default 65536).
    pub max_slow_conns: usize,
    /// Seconds between repeated alerts for the same victim (default 60, as
    /// the engine's update interval).
    pub realert_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            max_dests: 16_384,
            syn_pps: 500.0,
            syn_unanswered: 0.7,
            syn_per_port: 10.0,
            syn_min_sources: 50.0,
            udp_pps: 1_000.0,
            udp_min_sources: 20.0,
            udp_pps_few_sources: 20_000.0,
            icmp_pps: 500.0,
            amp_ports: vec![53, 123, 1900, 11211, 389, 19, 161, 111, 137, 3702, 5353],
            amp_min_len: 468,
            amp_pps: 100.0,
            amp_max_query_ratio: 0.2,
            http_requests_10s: 150.0,
            http_per_source: 10.0,
            http_sustain_secs: 5,
            baseline_mult: 8.0,
            baseline_alpha: 0.02,
            slow_min_conns: 50,
            slow_min_age: 20,
            slow_max_bps: 64.0,
            max_slow_conns: 65_536,
            realert_secs: 60,
        }
    }
}

/// One second's counters for a destination.
#[derive(Clone, Copy, Debug, Default)]
struct Win {
    pkts: u64,
    bytes: u64,
    syn: u64,
    handshakes: u64,
    udp_oneway: u64,
    udp_bytes: u64,
    icmp: u64,
    amp: u64,
    amp_bytes: u64,
    amp_queries: u64,
    new_flows: u64,
}

/// Baselines (EWMA of per-second rates).
#[derive(Clone, Copy, Debug, Default)]
struct Base {
    pkts: f64,
    syn: f64,
    udp: f64,
    icmp: f64,
    amp: f64,
    /// HTTP requests per second.
    http: f64,
}

/// Seconds in the sliding HTTP window.
const HTTP_WIN: usize = 10;

/// HTTP requests to one destination over the last ten seconds, one bucket per
/// second (a ring; `cur` is the current second), with each second's distinct
/// sources. Allocated at the destination's first request, dropped after ten
/// seconds without one.
struct HttpWin {
    req: [u32; HTTP_WIN],
    srcs: [Hll; HTTP_WIN],
    cur: usize,
    /// Completed seconds in a row, up to the current one, whose requests
    /// reached the rate a flood needs.
    streak: u32,
    /// Requests counted since allocation.
    total: u64,
}

impl HttpWin {
    fn new() -> Box<Self> {
        Box::new(HttpWin {
            req: [0; HTTP_WIN],
            srcs: std::array::from_fn(|_| Hll::new(7)),
            cur: 0,
            streak: 0,
            total: 0,
        })
    }

    /// Counts a request; true every 32nd (a judgement is due).
    fn add(&mut self, src: &Addr) -> bool {
        self.req[self.cur] = self.req[self.cur].saturating_add(1);
        self.srcs[self.cur].add_hash(hash_addr(src));
        self.total += 1;
        self.total.is_multiple_of(32)
    }

    /// Requests in the current second.
    fn now(&self) -> u32 {
        self.req[self.cur]
    }

    /// Requests and distinct sources over the last `secs` seconds, the
    /// current one included.
    fn window(&self, secs: usize) -> (f64, f64) {
        let mut n = 0u64;
        let mut h = Hll::new(7);
        for k in 0..secs.min(HTTP_WIN) {
            let i = (self.cur + HTTP_WIN - k) % HTTP_WIN;
            n += self.req[i] as u64;
            h.merge(&self.srcs[i]);
        }
        (n as f64, h.count())
    }

    /// Closes the current second: extends or breaks the streak and starts
    /// a new bucket. Returns the closed second's requests.
    fn roll(&mut self, need: f64) -> u32 {
        let x = self.req[self.cur];
        if x as f64 >= need {
            self.streak += 1;
        } else {
            self.streak = 0;
        }
        self.cur = (self.cur + 1) % HTTP_WIN;
        self.req[self.cur] = 0;
        self.srcs[self.cur].clear();
        x
    }

    fn idle(&self) -> bool {
        self.req.iter().all(|&r| r == 0)
    }
}

struct Dest {
    cur: Win,
    base: Base,
    /// Distinct sources of the current second (allocated when hot).
    srcs: Option<Box<Hll>>,
    /// Its busiest sources (allocated with `srcs`).
    top: Option<Box<TopSources>>,
    /// Distinct destination ports of the current second's bare SYNs.
    syn_ports: Bitmap<8>,
    /// HTTP requests of the last ten seconds and their sources.
    http: Option<Box<HttpWin>>,
    http_meta: bool,
    last_pkt: Nanos,
    last_alert: Option<Nanos>,
    /// Seconds in a row judged under attack (baseline frozen).
    attacked: bool,
    flow_ids: Vec<u64>,
}

impl Dest {
    /// Packets or requests in the current second: worth judging.
    fn active(&self) -> bool {
        self.cur.pkts > 0 || self.http.as_ref().is_some_and(|h| h.now() > 0)
    }

    fn new(now: Nanos) -> Self {
        Dest {
            cur: Win::default(),
            base: Base::default(),
            srcs: None,
            top: None,
            syn_ports: Bitmap::default(),
            http: None,
            http_meta: false,
            last_pkt: now,
            last_alert: None,
            attacked: false,
            flow_ids: Vec::new(),
        }
    }
}

/// A connection to a home server whose client sent data and whose server
/// has not sent any.
struct SlowConn {
    dst: Addr,
    dport: u16,
    src: Addr,
    start: Nanos,
    last: Nanos,
    cbytes: u64,
    cpkts: u32,
}

/// The kinds of flood, for signatures and ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SynFlood,
    UdpFlood,
    IcmpFlood,
    Amplification,
    HttpFlood,
    Slowloris,
}

impl Kind {
    fn sid(self) -> u32 {
        match self {
            Kind::SynFlood => 1_000_001,
            Kind::UdpFlood => 1_000_002,
            Kind::IcmpFlood => 1_000_003,
            Kind::Amplification => 1_000_004,
            Kind::HttpFlood => 1_000_005,
            Kind::Slowloris => 1_000_006,
        }
    }
}

/// A set of ports, one bit each (8 KiB, so a lookup stays in L1 where a
/// `[bool; 65536]` did not).
struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    fn of(ports: &[u16]) -> Self {
        let mut b = Box::new([0u64; 1024]);
        for &p in ports {
            b[p as usize / 64] |= 1 << (p % 64);
        }
        PortSet(b)
    }
    #[inline]
    fn has(&self, p: u16) -> bool {
        self.0[p as usize / 64] >> (p % 64) & 1 != 0
    }
}

pub struct Dos {
    cfg: Config,
    dests: FastMap<Addr, Dest>,
    /// Destinations not tracked because the table was full.
    pub dests_dropped: u64,
    slow: FastMap<u64, SlowConn>,
    /// Connections not tracked for slowloris because that table was full.
    pub slow_dropped: u64,
    amp_port: PortSet,
    ticks: u64,
    realert: Nanos,
}

const HOT_PKTS: u64 = 64;
/// Sources tracked per hot destination and second: a flood from at most
/// this many hosts has every one of them named in its alert.
pub const TOP_SOURCES: usize = 8;
/// A flood from at most this many distinct sources (by the estimate) names
/// them (`Alert::sources`); beyond, it is spoofed or distributed.
const NAME_SOURCES_MAX: f64 = TOP_SOURCES as f64;

/// A window's sources with their packet counts while there are at most
/// [`TOP_SOURCES`] of them; past that the window's flood is spoofed or
/// distributed, nothing is named, and tracking stops until the next window
/// (one flag test per packet under a spoofed flood).
#[derive(Default)]
struct TopSources {
    n: usize,
    overflow: bool,
    slots: [(Addr, u64); TOP_SOURCES],
}

impl TopSources {
    fn add(&mut self, a: Addr, k: u64) {
        if self.overflow {
            return;
        }
        if let Some(s) = self.slots[..self.n].iter_mut().find(|s| s.0 == a) {
            s.1 += k;
        } else if self.n < TOP_SOURCES {
            self.slots[self.n] = (a, k);
            self.n += 1;
        } else {
            self.overflow = true;
            self.n = 0;
        }
    }

    /// Sources, busiest first.
    fn sorted(&self) -> Vec<Addr> {
        let mut v: Vec<(Addr, u64)> = self.slots[..self.n].to_vec();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|s| s.0).collect()
    }

    fn clear(&mut self) {
        self.n = 0;
        self.overflow = false;
    }
}
const CHECK_EVERY: u64 = 256;

impl Dos {
    pub fn new(cfg: &Config) -> Self {
        let amp_port = PortSet::of(&cfg.amp_ports);
        Dos {
            cfg: cfg.clone(),
            dests: FastMap::with_capacity_and_hasher(1024, FastBuild),
            dests_dropped: 0,
            slow: FastMap::with_capacity_and_hasher(1024, FastBuild),
            slow_dropped: 0,
            amp_port,
            ticks: 0,
            realert: cfg.realert_secs.saturating_mul(NANOS_PER_SEC),
        }
    }

    /// Tracked destinations (for tests and stats).
    pub fn tracked(&self) -> usize {
        self.dests.len()
    }

    fn dest(&mut self, a: Addr, now: Nanos) -> Option<&mut Dest> {
        if !self.dests.contains_key(&a) {
            if self.dests.len() >= self.cfg.max_dests {
                self.dests_dropped += 1;
                return None;
            }
            self.dests.insert(a, Dest::new(now));
        }
        self.dests.get_mut(&a)
    }

    /// Judges `d`'s current windows; `elapsed` is the fraction of the
    /// second seen so far (rates are counts, not extrapolated: a partial
    /// window only under-states).
    fn judge(cfg: &Config, realert: Nanos, dst: Addr, d: &mut Dest, ts: Nanos, out: &mut Out) {
        let w = d.cur;
        let m = cfg.baseline_mult;
        let over = |x: f64, floor: f64, base: f64| x >= floor && x >= m * base;
        let srcs = d.srcs.as_ref().map(|h| h.count()).unwrap_or(0.0);
        let mut kind = None;
        let amp_q_ok = (w.amp_queries as f64) <= cfg.amp_max_query_ratio * w.amp as f64;
        let syn_unans = if w.syn > 0 {
            1.0 - (w.handshakes as f64 / w.syn as f64).min(1.0)
        } else {
            0.0
        };
        if over(w.amp as f64, cfg.amp_pps, d.base.amp) && amp_q_ok {
            kind = Some(Kind::Amplification);
        } else if over(w.syn as f64, cfg.syn_pps, d.base.syn)
            && syn_unans >= cfg.syn_unanswered
            && (w.syn as f64 / d.syn_ports.count().max(1.0) >= cfg.syn_per_port
                || srcs >= cfg.syn_min_sources)
        {
            kind = Some(Kind::SynFlood);
        } else if over(w.udp_oneway as f64, cfg.udp_pps, d.base.udp)
            && (srcs >= cfg.udp_min_sources || w.udp_oneway as f64 >= cfg.udp_pps_few_sources)
        {
            kind = Some(Kind::UdpFlood);
        } else if over(w.icmp as f64, cfg.icmp_pps, d.base.icmp) {
            kind = Some(Kind::IcmpFlood);
        } else if Self::http_hot(cfg, d) {
            kind = Some(Kind::HttpFlood);
        }
        let Some(kind) = kind else { return };
        d.attacked = true;
        if let Some(last) = d.last_alert {
            if ts < last.saturating_add(realert) {
                return;
            }
        }
        d.last_alert = Some(ts);
        let name = match kind {
            Kind::SynFlood => "SYN flood",
            Kind::UdpFlood => "UDP flood",
            Kind::IcmpFlood => "ICMP flood",
            Kind::Amplification => "UDP reflection/amplification (DNS/NTP/SSDP/memcached...)",
            Kind::HttpFlood => "HTTP flood",
            Kind::Slowloris => "slowloris",
        };
        let mut a = Alert::new(
            ts,
            Category::Dos,
            kind.sid(),
            &format!("VIGIL DOS {name} against {dst}"),
            1,
        );
        a.dst = Some(dst);
        a.proto = Some(match kind {
            Kind::SynFlood | Kind::HttpFlood => proto::TCP,
            Kind::IcmpFlood => {
                if dst.v6 {
                    proto::ICMPV6
                } else {
                    proto::ICMP
                }
            }
            _ => proto::UDP,
        });
        let http10 = d
            .http
            .as_ref()
            .map(|h| h.window(HTTP_WIN))
            .unwrap_or((0.0, 0.0));
        a.metrics = vec![
            ("pps", w.pkts as f64),
            ("bps", w.bytes as f64 * 8.0),
            ("syn_pps", w.syn as f64),
            ("syn_ratio", syn_unans),
            ("handshakes_ps", w.handshakes as f64),
            ("udp_oneway_pps", w.udp_oneway as f64),
            ("udp_bps", w.udp_bytes as f64 * 8.0),
            ("icmp_pps", w.icmp as f64),
            ("amp_pps", w.amp as f64),
            ("amp_bps", w.amp_bytes as f64 * 8.0),
            ("amp_queries_ps", w.amp_queries as f64),
            ("new_flows_ps", w.new_flows as f64),
            ("distinct_sources", srcs.round()),
            ("syn_ports", d.syn_ports.count().round()),
            ("http_requests_10s", http10.0),
            ("http_sources_10s", http10.1.round()),
            ("baseline_pps", d.base.pkts),
        ];
        a.flow_ids = d.flow_ids.clone();
        if (1.0..=NAME_SOURCES_MAX).contains(&srcs) && kind != Kind::Amplification {
            // a few real hosts (an amplification's sources are reflectors,
            // not the attacker)
            if let Some(t) = &d.top {
                a.sources = t.sorted();
            }
        }
        out.push(a);
    }

    /// The requests per second a flood needs: the floor, and the learned
    /// baseline's multiple.
    fn http_need(cfg: &Config, d: &Dest) -> f64 {
        (cfg.http_requests_10s / 10.0).max(cfg.baseline_mult * d.base.http)
    }

    /// The destination's requests look like a flood: the rate a flood needs
    /// held for `http_sustain_secs` seconds in a row (the current second
    /// counts once it has reached it), and over those seconds (up to the last
    /// ten) many requests per source.
    fn http_hot(cfg: &Config, d: &Dest) -> bool {
        let Some(h) = d.http.as_deref() else {
            return false;
        };
        let need = Self::http_need(cfg, d);
        let streak = h.streak + (h.now() as f64 >= need) as u32;
        if streak < cfg.http_sustain_secs.max(1) {
            return false;
        }
        let secs = (streak as usize).min(HTTP_WIN);
        let (n, hs) = h.window(secs);
        n / hs.max(1.0) >= cfg.http_per_source * secs as f64 / 10.0
    }

    fn slow_tick(&mut self, now: Nanos, out: &mut Out) {
        let min_age = self.cfg.slow_min_age * NANOS_PER_SEC;
        let mut groups: FastMap<(Addr, u16), (u32, u64, f64, Addr)> = FastMap::default();
        self.slow.retain(|_, c| {
            if now.saturating_sub(c.last) > 120 * NANOS_PER_SEC {
                return false;
            }
            let age = now.saturating_sub(c.start);
            if age >= min_age && c.cpkts >= 2 {
                let bps = c.cbytes as f64 / (age as f64 / NANOS_PER_SEC as f64);
                if bps <= self.cfg.slow_max_bps {
                    let g = groups.entry((c.dst, c.dport)).or_insert((0, 0, 0.0, c.src));
                    g.0 += 1;
                    g.1 = g.1.max(age / NANOS_PER_SEC);
                    g.2 += bps;
                }
            }
            true
        });
        let mut hits: Vec<_> = groups
            .into_iter()
            .filter(|(_, g)| g.0 >= self.cfg.slow_min_conns)
            .collect();
        hits.sort_by_key(|a| a.0);
        for ((dst, dport), (n, oldest, bps, _src)) in hits {
            let realert = self.realert;
            let Some(d) = self.dest(dst, now) else {
                continue;
            };
            d.attacked = true;
            if let Some(last) = d.last_alert {
                if now < last.saturating_add(realert) {
                    continue;
                }
            }
            d.last_alert = Some(now);
            let mut a = Alert::new(
                now,
                Category::Dos,
                Kind::Slowloris.sid(),
                &format!("VIGIL DOS slowloris (slow HTTP headers) against {dst}:{dport}"),
                1,
            );
            a.dst = Some(dst);
            a.proto = Some(proto::TCP);
            a.dest_port = Some(dport);
            a.metrics = vec![
                ("slow_connections", n as f64),
                ("oldest_secs", oldest as f64),
                ("avg_client_bps", bps / n as f64 * 8.0),
                ("server_bytes", 0.0),
            ];
            out.push(a);
        }
    }

    fn track_slow(&mut self, c: &Ctx) {
        let p = c.p;
        if p.proto != proto::TCP || p.payload_len == 0 || !c.flow.established {
            return;
        }
        let id = c.flow.flow_id;
        if c.flow.to_server {
            if !c.dst_home {
                return;
            }
            if let Some(s) = self.slow.get_mut(&id) {
                s.cbytes += p.payload_len as u64;
                s.cpkts += 1;
                s.last = p.ts;
                if s.cbytes > 16 * 1024 {
                    self.slow.remove(&id);
                }
            } else if c.flow.flow_pkts <= 5 {
                if self.slow.len() >= self.cfg.max_slow_conns {
                    self.slow_dropped += 1;
                    return;
                }
                self.slow.insert(
                    id,
                    SlowConn {
                        dst: p.dst,
                        dport: p.dport,
                        src: p.src,
                        start: p.ts,
                        last: p.ts,
                        cbytes: p.payload_len as u64,
                        cpkts: 1,
                    },
                );
            }
        } else if c.src_home && !self.slow.is_empty() {
            // the server answered: not a slow attack connection
            self.slow.remove(&id);
        }
    }
}

impl Detector for Dos {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        let c = &cfg.dos;
        self.amp_port = PortSet::of(&c.amp_ports);
        self.realert = c.realert_secs.saturating_mul(NANOS_PER_SEC);
        self.cfg = c.clone();
    }
    fn name(&self) -> &'static str {
        "dos"
    }

    fn on_packet(&mut self, c: &Ctx, out: &mut Out) {
        let p = c.p;
        if p.proto == proto::TCP && p.payload_len > 0 {
            self.track_slow(c);
        }
        // a home host's own queries to amplifier ports: evidence against
        // reflection (it asked for those answers)
        if c.src_home && p.proto == proto::UDP && self.amp_port.has(p.dport) {
            if let Some(d) = self.dests.get_mut(&p.src) {
                d.cur.amp_queries += 1;
            }
        }
        if !c.dst_home {
            return;
        }
        let (cfg, realert) = (&self.cfg, self.realert);
        let d = match self.dests.get_mut(&p.dst) {
            Some(d) => d,
            None => {
                if self.dests.len() >= cfg.max_dests {
                    self.dests_dropped += 1;
                    return;
                }
                self.dests.entry(p.dst).or_insert_with(|| Dest::new(p.ts))
            }
        };
        d.last_pkt = p.ts;
        let w = &mut d.cur;
        w.pkts += p.frames.max(1) as u64;
        w.bytes += p.wire_len as u64;
        w.new_flows += c.flow.new_flow as u64;
        let mut http_due = false;
        match p.proto {
            proto::TCP => {
                let f = p.tcp_flags & (tf::SYN | tf::ACK | tf::RST);
                if f == tf::SYN {
                    w.syn += 1;
                    d.syn_ports.insert(mix64(p.dport as u64));
                } else if c.flow.to_server && c.flow.established && c.flow.flow_pkts == 3 {
                    w.handshakes += 1;
                }
                if c.flow.to_server
                    && c.flow.established
                    && !d.http_meta
                    && (32..=1200).contains(&p.payload_len)
                {
                    http_due = d.http.get_or_insert_with(HttpWin::new).add(&p.src);
                }
            }
            proto::UDP => {
                if !c.flow.established {
                    w.udp_oneway += 1;
                    w.udp_bytes += p.wire_len as u64;
                }
                if (p.ip_len >= cfg.amp_min_len || p.frames > 1) && self.amp_port.has(p.sport) {
                    w.amp += 1;
                    w.amp_bytes += p.wire_len as u64;
                }
            }
            proto::ICMP | proto::ICMPV6
                // echo requests and unsolicited errors alike; not the
                // answers to the host's own pings
                if !matches!(
                    (p.proto, p.icmp_type),
                    (proto::ICMP, 0) | (proto::ICMPV6, 129)
                ) => {
                    w.icmp += 1;
                }
            _ => {}
        }
        let pk = w.pkts;
        if pk >= HOT_PKTS {
            d.srcs
                .get_or_insert_with(|| Box::new(Hll::new(10)))
                .add_hash(hash_addr(&p.src));
            d.top.get_or_insert_with(Box::default).add(p.src, 1);
            if d.flow_ids.len() < 8 && c.flow.new_flow {
                d.flow_ids.push(c.flow.flow_id);
            }
            if pk % CHECK_EVERY == 0 {
                Self::judge(cfg, realert, p.dst, d, p.ts, out);
            }
        } else if http_due {
            Self::judge(cfg, realert, p.dst, d, p.ts, out);
        }
    }

    fn on_meta(&mut self, c: Option<&Ctx>, m: &Meta, _home: &NetSet, out: &mut Out) {
        let (Some(c), Meta::HttpRequest { .. }) = (c, m) else {
            return;
        };
        if !c.dst_home {
            return;
        }
        let ts = c.p.ts;
        let (cfg, realert) = (&self.cfg, self.realert);
        let Some(d) = self.dests.get_mut(&c.p.dst) else {
            return;
        };
        if !d.http_meta {
            // switch from the segment proxy to real requests
            d.http_meta = true;
            d.http = None;
        }
        if d.http.get_or_insert_with(HttpWin::new).add(&c.p.src) {
            Self::judge(cfg, realert, c.p.dst, d, ts, out);
        }
    }

    /// An exported record to a home destination adds its packets and bytes
    /// to the destination's current one-second window at the record's
    /// average rate: totals divided by its duration in whole seconds (at
    /// least 1). A flood of one-packet spoofed flows arrives as many
    /// one-packet records (each adds 1); a long flood flow, exported every
    /// active timeout, adds its average rate once per export. Shapes: a
    /// record whose flags are a bare SYN counts as SYNs, one holding SYN
    /// and ACK from the client's side as a completed handshake; UDP
    /// without reverse packets (all of it unless the exporter sends
    /// biflows) as one-way; UDP from an amplifier port with large average
    /// datagrams as amplification; ICMP other than echo replies.
    fn on_flow_export(&mut self, r: &FlowRecord, home: &NetSet, out: &mut Out) {
        self.on_flow_end(r, home, out);
        if !home.contains(r.server) || r.toserver.pkts == 0 {
            return;
        }
        let secs = (r.end.saturating_sub(r.start) / NANOS_PER_SEC).max(1);
        let share = |x: u64| x.div_ceil(secs);
        let pkts = share(r.toserver.pkts);
        let amp_port = self.amp_port.has(r.cport);
        let (cfg, realert) = (&self.cfg, self.realert);
        let d = match self.dests.get_mut(&r.server) {
            Some(d) => d,
            None => {
                if self.dests.len() >= cfg.max_dests {
                    self.dests_dropped += 1;
                    return;
                }
                self.dests
                    .entry(r.server)
                    .or_insert_with(|| Dest::new(r.start))
            }
        };
        d.last_pkt = d.last_pkt.max(r.end);
        let w = &mut d.cur;
        let before = w.pkts;
        w.pkts += pkts;
        w.bytes += share(r.toserver.bytes);
        w.new_flows += 1;
        match r.proto {
            proto::TCP => {
                let f = r.toserver.tcp_flags & (tf::SYN | tf::ACK | tf::RST);
                if f == tf::SYN {
                    w.syn += pkts;
                    d.syn_ports.insert(mix64(r.sport as u64));
                } else if f & (tf::SYN | tf::ACK) == tf::SYN | tf::ACK {
                    w.handshakes += 1;
                }
            }
            proto::UDP => {
                if r.toclient.pkts == 0 {
                    w.udp_oneway += pkts;
                    w.udp_bytes += share(r.toserver.bytes);
                }
                let avg = r.toserver.ip_bytes / r.toserver.pkts.max(1);
                if amp_port && avg >= cfg.amp_min_len as u64 {
                    w.amp += pkts;
                    w.amp_bytes += share(r.toserver.bytes);
                }
            }
            proto::ICMP | proto::ICMPV6
                if !matches!(
                    (r.proto, r.icmp_type),
                    (proto::ICMP, 0) | (proto::ICMPV6, 129)
                ) =>
            {
                w.icmp += pkts;
            }
            _ => {}
        }
        let pk = w.pkts;
        if pk >= HOT_PKTS {
            d.srcs
                .get_or_insert_with(|| Box::new(Hll::new(10)))
                .add_hash(hash_addr(&r.client));
            d.top
                .get_or_insert_with(Box::default)
                .add(r.client, r.toserver.pkts.max(1));
            if d.flow_ids.len() < 8 {
                d.flow_ids.push(r.flow_id);
            }
            if pk / CHECK_EVERY != before / CHECK_EVERY {
                Self::judge(cfg, realert, r.server, d, r.end, out);
            }
        }
    }

    fn on_flow_end(&mut self, r: &FlowRecord, _home: &NetSet, _out: &mut Out) {
        if r.proto == proto::TCP && !self.slow.is_empty() {
            self.slow.remove(&r.flow_id);
        }
    }

    fn on_tick(&mut self, now: Nanos, out: &mut Out) {
        self.ticks += 1;
        let cfg = &self.cfg;
        let realert = self.realert;
        let a = cfg.baseline_alpha;
        let full = self.dests.len() * 10 >= cfg.max_dests * 9;
        self.dests.retain(|dst, d| {
            if d.active() {
                d.attacked = false;
                Self::judge(cfg, realert, *dst, d, now, out);
                let w = d.cur;
                if !d.attacked {
                    // a second above the floor is suspect: learned ten times
                    // slower, so a ramping attack does not become normal
                    let e = |b: &mut f64, x: u64, floor: f64| {
                        let k = if x as f64 >= floor { a / 10.0 } else { a };
                        *b += k * (x as f64 - *b)
                    };
                    e(&mut d.base.pkts, w.pkts, f64::MAX);
                    e(
                        &mut d.base.syn,
                        w.syn.saturating_sub(w.handshakes),
                        cfg.syn_pps,
                    );
                    e(&mut d.base.udp, w.udp_oneway, cfg.udp_pps);
                    e(&mut d.base.icmp, w.icmp, cfg.icmp_pps);
                    e(&mut d.base.amp, w.amp, cfg.amp_pps);
                }
            } else {
                let e = |b: &mut f64| *b -= a * *b;
                e(&mut d.base.pkts);
                e(&mut d.base.syn);
                e(&mut d.base.udp);
                e(&mut d.base.icmp);
                e(&mut d.base.amp);
            }
            let need = Self::http_need(cfg, d);
            if let Some(h) = d.http.as_mut() {
                let x = h.roll(need) as f64;
                if !d.attacked {
                    // like the others: a second above the floor is learned
                    // ten times slower
                    let k = if x >= cfg.http_requests_10s / 10.0 {
                        a / 10.0
                    } else {
                        a
                    };
                    d.base.http += k * (x - d.base.http);
                }
                if h.idle() {
                    d.http = None;
                }
            } else {
                d.base.http -= a * d.base.http;
            }
            let hot = d.cur.pkts >= HOT_PKTS;
            d.cur = Win::default();
            d.syn_ports.clear();
            if let Some(h) = d.srcs.as_mut() {
                if hot {
                    h.clear();
                } else {
                    d.srcs = None;
                }
            }
            if let Some(t) = d.top.as_mut() {
                if hot {
                    t.clear();
                } else {
                    d.top = None;
                }
            }
            if !hot {
                d.flow_ids.clear();
            }
            // forget idle destinations; when nearly full, cold ones too
            let idle = now.saturating_sub(d.last_pkt);
            let alerted_recently = d
                .last_alert
                .is_some_and(|t| now.saturating_sub(t) < 600 * NANOS_PER_SEC);
            !(idle > 600 * NANOS_PER_SEC
                || (full && !hot && !alerted_recently && d.base.pkts < 1.0))
        });
        if self.ticks.is_multiple_of(5) && !self.slow.is_empty() {
            self.slow_tick(now, out);
        }
    }

    fn finish(&mut self, now: Nanos, out: &mut Out) {
        for (dst, d) in self.dests.iter_mut() {
            if d.active() {
                Self::judge(&self.cfg, self.realert, *dst, d, now, out);
            }
        }
    }
}
