//! vigil's detectors, and the engine that feeds them and rate-limits what
//! they say.
//!
//! A detector is one module (config, state, tests) plus one line in
//! [`Engine::new`]. Detectors see every decoded IP packet with its flow
//! context ([`Ctx`]), application metadata and ARP ([`Meta`]), every finished
//! flow, and a tick per second of capture time. They never read the wall
//! clock: the same capture gives the same alerts.
//!
//! Promises every detector keeps:
//! - **Bounded state.** Per-key tables have a named cap and a counter when it
//!   is hit; distinct counts and heavy hitters use sketches, so a spoofed flood
//!   of millions of sources costs a fixed amount of memory.
//! - **Cheap per packet.** The per-packet path is a few hash updates at most;
//!   heavier work runs on flow end or on the tick.
//! - **One alert per (category, key)**, then updates no more often than
//!   [`AlertConfig::update_interval`] (the engine enforces it).
#![forbid(unsafe_code)]

pub mod beacon;
pub mod bruteforce;
pub mod dnstunnel;
pub mod dos;
pub mod exfil;
pub mod lateral;
pub mod scan;
pub mod sketch;
#[cfg(test)]
mod testutil;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use vigil_core::{
    Addr, Alert, Category, FlowCtx, FlowRecord, Meta, Nanos, NetSet, PacketInfo, NANOS_PER_SEC,
};

/// One packet as detectors see it.
pub struct Ctx<'a> {
    pub p: &'a PacketInfo,
    pub flow: &'a FlowCtx,
    /// Source / destination inside the home networks.
    pub src_home: bool,
    pub dst_home: bool,
}

/// Where detectors put alerts.
pub type Out = Vec<Alert>;

/// A detector. Every hook has a no-op default: implement what you need.
pub trait Detector: Send {
    fn name(&self) -> &'static str;
    /// Every decoded IP packet (or reassembled datagram), in capture order.
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
    /// Application metadata of a packet (`c` is that packet), or an ARP frame
    /// (`c` is `None`).
    fn on_meta(&mut self, _c: Option<&Ctx>, _m: &Meta, _home: &NetSet, _out: &mut Out) {}
    /// A finished flow (its whole totals).
    fn on_flow_end(&mut self, _r: &FlowRecord, _home: &NetSet, _out: &mut Out) {}
    /// A flow record from a flow exporter (NetFlow/IPFIX/sFlow), not from
    /// vigil's own flow table: no packet of it was seen. Counts are already
    /// scaled by the sampling rate; most records are one direction only
    /// (`toclient` is zero unless the exporter sends biflows). Detectors
    /// that work from packets implement this to feed the same state from
    /// the record; the default treats it as a finished flow.
    fn on_flow_export(&mut self, r: &FlowRecord, home: &NetSet, out: &mut Out) {
        self.on_flow_end(r, home, out)
    }
    /// Once per second of capture time (`now` is the current capture time).
    fn on_tick(&mut self, _now: Nanos, _out: &mut Out) {}
    /// The input ended.
    fn finish(&mut self, _now: Nanos, _out: &mut Out) {}
    /// An alert the engine let through (any detector's, this one's too), so
    /// a detector can use another's conclusion (exfil lowers its floor while
    /// a home host is under a flood). Called from [`Engine::drain`].
    fn on_alert(&mut self, _a: &Alert) {}
    /// New settings while running (`vigil run` on SIGHUP): take the new
    /// thresholds, keep every tracked state. The default keeps the old
    /// settings (a detector that cannot change them in place).
    fn reconfigure(&mut self, _cfg: &DetectConfig) {}
}

/// Alert output settings (`[detect.alerts]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Seconds (capture time) between updates of an alert already raised for
    /// the same category and key.
    pub update_interval: u64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            update_interval: 60,
        }
    }
}

/// Every detector's settings (`[detect.*]` in the config file).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    pub alerts: AlertConfig,
    pub dos: dos::Config,
    pub scan: scan::Config,
    pub bruteforce: bruteforce::Config,
    pub exfil: exfil::Config,
    pub beacon: beacon::Config,
    pub dnstunnel: dnstunnel::Config,
    pub lateral: lateral::Config,
    /// Home networks whose settings differ (`[[detect.overrides]]`).
    pub overrides: Vec<Override>,
}

/// Settings for some home networks that differ from the base ones. Each
/// detector section given replaces the base section, whole, for traffic whose
/// inside address (the source if it is inside, else the destination) lies in
/// `nets`; sections not given are the base ones. The first matching override
/// wins. Example:
///
/// ```toml
/// [[detect.overrides]]
/// nets = ["10.9.0.0/16"]          # the backup network
/// [detect.overrides.exfil]
/// enabled = false
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Override {
    pub nets: Vec<String>,
    pub dos: Option<dos::Config>,
    pub scan: Option<scan::Config>,
    pub bruteforce: Option<bruteforce::Config>,
    pub exfil: Option<exfil::Config>,
    pub beacon: Option<beacon::Config>,
    pub dnstunnel: Option<dnstunnel::Config>,
    pub lateral: Option<lateral::Config>,
}

impl Override {
    /// The base settings with this override's sections put in.
    fn apply(&self, base: &DetectConfig) -> DetectConfig {
        let mut c = base.clone();
        c.overrides.clear();
        if let Some(x) = &self.dos {
            c.dos = x.clone();
        }
        if let Some(x) = &self.scan {
            c.scan = x.clone();
        }
        if let Some(x) = &self.bruteforce {
            c.bruteforce = x.clone();
        }
        if let Some(x) = &self.exfil {
            c.exfil = x.clone();
        }
        if let Some(x) = &self.beacon {
            c.beacon = x.clone();
        }
        if let Some(x) = &self.dnstunnel {
            c.dnstunnel = x.clone();
        }
        if let Some(x) = &self.lateral {
            c.lateral = x.clone();
        }
        c
    }
}

/// The detectors a config enables: the one place a new detector is registered.
fn build(cfg: &DetectConfig) -> Vec<Box<dyn Detector>> {
    let mut d: Vec<Box<dyn Detector>> = Vec::new();
    if cfg.dos.enabled {
        d.push(Box::new(dos::Dos::new(&cfg.dos)));
    }
    if cfg.scan.enabled {
        d.push(Box::new(scan::Scan::new(&cfg.scan)));
    }
    if cfg.bruteforce.enabled {
        d.push(Box::new(bruteforce::Bruteforce::new(&cfg.bruteforce)));
    }
    if cfg.exfil.enabled {
        d.push(Box::new(exfil::Exfil::new(&cfg.exfil)));
    }
    if cfg.beacon.enabled {
        d.push(Box::new(beacon::Beacon::new(&cfg.beacon)));
    }
    if cfg.dnstunnel.enabled {
        d.push(Box::new(dnstunnel::DnsTunnel::new(&cfg.dnstunnel)));
    }
    if cfg.lateral.enabled {
        d.push(Box::new(lateral::Lateral::new(&cfg.lateral)));
    }
    d
}

/// An alert the engine let through, with its place in the sequence for its
/// key: 0 for the first, then 1, 2, ... for updates.
pub struct Emitted {
    pub alert: Alert,
    pub update: u32,
}

/// Most (category, key) groups remembered for rate limiting; past it the
/// oldest are forgotten (an old group may then alert again, never silently).
const MAX_ALERT_KEYS: usize = 65_536;

type AlertKey = (Category, Option<Addr>, Option<Addr>);

/// Feeds the detectors, rate-limits their alerts.
pub struct Engine {
    /// Detector sets: one per override (in order), then the base set last.
    sets: Vec<(NetSet, Vec<Box<dyn Detector>>)>,
    home: NetSet,
    pending: Out,
    seen: HashMap<AlertKey, (Nanos, u32)>,
    update_interval: Nanos,
    now: Nanos,
    next_tick: Nanos,
    /// Alerts suppressed by rate limiting (counted for the stats event).
    pub suppressed: u64,
    pub raised: u64,
}

impl Engine {
    /// # Errors
    /// An override whose `nets` is not a list of CIDR prefixes.
    pub fn new(cfg: &DetectConfig, home: NetSet) -> Result<Self, String> {
        let mut sets = Vec::new();
        for o in &cfg.overrides {
            let nets = NetSet::parse(&o.nets.join(","))
                .map_err(|e| format!("detect.overrides nets: {e}"))?;
            sets.push((nets, build(&o.apply(cfg))));
        }
        sets.push((NetSet::default(), build(cfg)));
        Ok(Engine {
            sets,
            home,
            pending: Vec::new(),
            seen: HashMap::new(),
            update_interval: cfg.alerts.update_interval.saturating_mul(NANOS_PER_SEC),
            now: 0,
            next_tick: 0,
            suppressed: 0,
            raised: 0,
        })
    }

    /// No detector runs anywhere (`--no-detect`): a caller need not hand the
    /// engine packets or metadata, only move its clock ([`Engine::tick`]).
    #[inline]
    pub fn idle(&self) -> bool {
        self.sets.len() == 1 && self.sets[0].1.is_empty()
    }

    /// An engine with no detectors (`--no-detect`).
    pub fn disabled(home: NetSet) -> Self {
        let mut e = Engine::new(&DetectConfig::default(), home).expect("defaults are valid");
        e.sets = vec![(NetSet::default(), Vec::new())];
        e
    }

    pub fn home(&self) -> &NetSet {
        &self.home
    }

    /// The detector set for traffic whose inside address is `inside`.
    #[inline]
    fn set_for(&mut self, inside: Option<Addr>) -> &mut Vec<Box<dyn Detector>> {
        let last = self.sets.len() - 1;
        let i = match inside {
            Some(a) if last > 0 => self.sets[..last]
                .iter()
                .position(|(n, _)| n.contains(a))
                .unwrap_or(last),
            _ => last,
        };
        &mut self.sets[i].1
    }

    fn advance(&mut self, ts: Nanos) {
        if ts <= self.now {
            return;
        }
        self.now = ts;
        if self.next_tick == 0 {
            self.next_tick = ts - ts % NANOS_PER_SEC + NANOS_PER_SEC;
        }
        while self.now >= self.next_tick {
            let t = self.next_tick;
            for (_, set) in self.sets.iter_mut() {
                for d in set.iter_mut() {
                    d.on_tick(t, &mut self.pending);
                }
            }
            self.next_tick += NANOS_PER_SEC;
            // a long silence in the capture: jump instead of ticking through it
            if self.now.saturating_sub(self.next_tick) > 3600 * NANOS_PER_SEC {
                self.next_tick = self.now - self.now % NANOS_PER_SEC + NANOS_PER_SEC;
            }
        }
    }

    /// One decoded packet with its flow context.
    pub fn packet(&mut self, p: &PacketInfo, flow: &FlowCtx) {
        self.advance(p.ts);
        let (src_home, dst_home) = (self.home.contains(p.src), self.home.contains(p.dst));
        let c = Ctx {
            p,
            flow,
            src_home,
            dst_home,
        };
        let inside = if src_home { Some(p.src) } else { Some(p.dst) };
        let mut pending = std::mem::take(&mut self.pending);
        for d in self.set_for(inside).iter_mut() {
            d.on_packet(&c, &mut pending);
        }
        self.pending = pending;
    }

    /// Application metadata of packet `p` (or an ARP frame when `p` is None).
    pub fn meta(&mut self, p: Option<(&PacketInfo, &FlowCtx)>, m: &Meta) {
        let home = std::mem::take(&mut self.home);
        let mut pending = std::mem::take(&mut self.pending);
        match p {
            Some((p, flow)) => {
                self.advance(p.ts);
                let (src_home, dst_home) = (home.contains(p.src), home.contains(p.dst));
                let c = Ctx {
                    p,
                    flow,
                    src_home,
                    dst_home,
                };
                let inside = if src_home { Some(p.src) } else { Some(p.dst) };
                for d in self.set_for(inside).iter_mut() {
                    d.on_meta(Some(&c), m, &home, &mut pending);
                }
            }
            None => {
                let mut sender = None;
                if let Meta::Arp { ts, sender: s, .. } = m {
                    self.advance(*ts);
                    sender = Some(*s);
                }
                for d in self.set_for(sender).iter_mut() {
                    d.on_meta(None, m, &home, &mut pending);
                }
            }
        }
        self.home = home;
        self.pending.append(&mut pending);
    }

    pub fn flow_end(&mut self, r: &FlowRecord) {
        self.each_for_flow(r, |d, home, out| d.on_flow_end(r, home, out));
    }

    /// Calls `f` on every detector that judges `r`'s inside host (the
    /// client if it is inside, else the server).
    fn each_for_flow(
        &mut self,
        r: &FlowRecord,
        mut f: impl FnMut(&mut Box<dyn Detector>, &NetSet, &mut Out),
    ) {
        let home = std::mem::take(&mut self.home);
        let mut pending = std::mem::take(&mut self.pending);
        let inside = if home.contains(r.client) {
            r.client
        } else {
            r.server
        };
        for d in self.set_for(Some(inside)).iter_mut() {
            f(d, &home, &mut pending);
        }
        self.home = home;
        self.pending = pending;
    }

    /// A flow that came from a flow exporter (NetFlow/IPFIX/sFlow), not from
    /// vigil's own flow table. Its counts are already scaled by the sampling
    /// rate.
    ///
    /// Capture time advances to the record's end (records arrive after the
    /// flow, so this lags the traffic by the exporter's timeouts).
    pub fn flow_export(&mut self, r: &FlowRecord) {
        self.advance(r.end.max(r.start));
        self.each_for_flow(r, |d, home, out| d.on_flow_export(r, home, out));
    }

    /// Advances the engine's clock without a packet (a live sensor on a
    /// quiet link): detectors get their once-a-second ticks up to `now`.
    pub fn tick(&mut self, now: Nanos) {
        self.advance(now);
    }

    /// New detector settings for a running engine (SIGHUP): every detector
    /// takes its new thresholds in place, keeping its state; the alert
    /// update interval changes too. Enabling or disabling a detector, or
    /// changing the overrides' networks, needs a restart (refused here).
    ///
    /// # Errors
    /// A config whose detector set or overrides differ from the running one.
    pub fn reload(&mut self, cfg: &DetectConfig) -> Result<(), String> {
        if cfg.overrides.len() + 1 != self.sets.len() {
            return Err("the number of [[detect.overrides]] changed: restart to apply".into());
        }
        let wanted: Vec<&str> = build(cfg).iter().map(|d| d.name()).collect();
        let last = self.sets.len() - 1;
        let running: Vec<&str> = self.sets[last].1.iter().map(|d| d.name()).collect();
        if !self.sets[last].1.is_empty() && wanted != running {
            return Err("detectors enabled or disabled: restart to apply".into());
        }
        for (i, (_, set)) in self.sets.iter_mut().enumerate() {
            let c = if i < last {
                cfg.overrides[i].apply(cfg)
            } else {
                cfg.clone()
            };
            for d in set.iter_mut() {
                d.reconfigure(&c);
            }
        }
        self.update_interval = cfg.alerts.update_interval.saturating_mul(NANOS_PER_SEC);
        Ok(())
    }

    pub fn finish(&mut self) {
        let now = self.now;
        for (_, set) in self.sets.iter_mut() {
            for d in set.iter_mut() {
                d.finish(now, &mut self.pending);
            }
        }
    }

    /// The alerts raised since the last call, rate-limited per (category,
    /// key): the first always passes, then one update per interval.
    pub fn drain(&mut self, out: &mut Vec<Emitted>) {
        for a in self.pending.drain(..) {
            self.raised += 1;
            let key = a.key();
            match self.seen.get_mut(&key) {
                None => {
                    if self.seen.len() >= MAX_ALERT_KEYS {
                        // forget the stalest group
                        if let Some(k) = self.seen.iter().min_by_key(|(_, v)| v.0).map(|(k, _)| *k)
                        {
                            self.seen.remove(&k);
                        }
                    }
                    self.seen.insert(key, (a.ts, 0));
                    for (_, set) in self.sets.iter_mut() {
                        for d in set.iter_mut() {
                            d.on_alert(&a);
                        }
                    }
                    out.push(Emitted {
                        alert: a,
                        update: 0,
                    });
                }
                Some((last, n)) => {
                    if a.ts >= last.saturating_add(self.update_interval) {
                        *last = a.ts;
                        *n += 1;
                        for (_, set) in self.sets.iter_mut() {
                            for d in set.iter_mut() {
                                d.on_alert(&a);
                            }
                        }
                        out.push(Emitted {
                            alert: a,
                            update: *n,
                        });
                    } else {
                        self.suppressed += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_round_trips_and_rejects_unknown_keys() {
        let text = toml::to_string(&DetectConfig::default()).unwrap();
        let back: DetectConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, DetectConfig::default());
        assert!(toml::from_str::<DetectConfig>("[dos]\nenabeld = true\n").is_err());
    }

    #[test]
    fn engine_rate_limits_per_key() {
        let mut e = Engine::new(&DetectConfig::default(), NetSet::default()).unwrap();
        let mk = |ts: u64, dst: u8| {
            let mut a = Alert::new(ts * NANOS_PER_SEC, Category::Dos, 1, "x", 1);
            a.dst = Some(Addr::v4([10, 0, 0, dst]));
            a
        };
        e.pending.extend([mk(1, 1), mk(2, 1), mk(3, 2), mk(70, 1)]);
        let mut out = Vec::new();
        e.drain(&mut out);
        let got: Vec<_> = out
            .iter()
            .map(|x| (x.alert.ts / NANOS_PER_SEC, x.update))
            .collect();
        assert_eq!(got, vec![(1, 0), (3, 0), (70, 1)]);
        assert_eq!(e.suppressed, 1);
    }
}
