//! The planner: from dos alerts (and the flows that name their sources) to
//! mitigation actions, per home network, and back to withdrawals when the
//! attack stops. Pure and driven by capture time only: the same capture
//! gives the same plan, and nothing here runs a command.
//!
//! Rules (the "why" is in `docs/ARCHITECTURE.md`, Mitigation):
//! - an alert asks for actions on its victim (`dst`); the victim must be in
//!   a home network whose policy names the backend;
//! - allowlisted victims and sources are never acted on (refused, counted);
//! - a flood from at most `few_sources` distinct sources comes from real
//!   attackers: once their addresses are known (the alert's `sources`, as
//!   the dos detector names a few-source flood's hosts, its `src`, or the
//!   flows to the victim that end during the attack) they go into a drop
//!   set; every flood also gets a per-victim limit of its kind of packets,
//!   which needs no source and so holds against spoofing from the first
//!   alert on;
//! - BGP gets a blackhole route and/or a FlowSpec rule for the victim;
//! - caps per backend and in total: past them an action is refused, logged
//!   and counted, never queued;
//! - every action expires `ttl_secs` after the last alert asking for it;
//!   each alert update re-arms it.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use vigil_core::{Addr, Alert, Category, FlowRecord, Nanos, NetSet, NANOS_PER_SEC};

use crate::action::{Action, Backend, Flood, Kind};
use crate::config::MitigateConfig;

/// Victims remembered as under attack at once (for source attribution);
/// past it the one with the oldest alert is forgotten (counted).
pub const MAX_VICTIMS: usize = 1024;
/// Sources counted per victim; a few-source flood needs far fewer, and a
/// spoofed flood never uses them.
pub const MAX_SOURCES_PER_VICTIM: usize = 64;
/// Packets a source must have sent to an attacked victim (in flows that
/// ended during the attack) to be named an attacker: one lost connection is
/// not a flood.
pub const MIN_SOURCE_PKTS: u64 = 100;

/// The dos detector's signature ids (vigil-detect `dos::Kind::sid`).
const SID_SYN: u32 = 1_000_001;
const SID_UDP: u32 = 1_000_002;
const SID_ICMP: u32 = 1_000_003;
const SID_AMP: u32 = 1_000_004;
const SID_HTTP: u32 = 1_000_005;
const SID_SLOW: u32 = 1_000_006;

/// UDP source ports of amplifier services (the dos detector's defaults).
pub const AMP_PORTS: [u16; 11] = [19, 53, 111, 123, 137, 161, 389, 1900, 3702, 5353, 11211];

/// One decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Announce(Action),
    /// The action's sources changed (more attackers named).
    Update {
        old: Action,
        new: Action,
    },
    /// An alert update extended it.
    Rearm(Action),
    Withdraw {
        action: Action,
        reason: &'static str,
    },
    Refused {
        action: Action,
        reason: &'static str,
    },
}

/// How often each thing happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub alerts: u64,
    pub announced: u64,
    pub updated: u64,
    pub rearmed: u64,
    pub withdrawn: u64,
    pub refused_allowlist: u64,
    pub refused_cap: u64,
    pub sources_capped: u64,
    pub victims_capped: u64,
}

struct Attack {
    flood: Flood,
    few: bool,
    first: Nanos,
    last: Nanos,
    signature: String,
    signature_id: u32,
    proto: Option<u8>,
    dest_port: Option<u16>,
    /// Source → packets to the victim.
    sources: Vec<(IpAddr, u64)>,
}

pub struct Planner {
    cfg: MitigateConfig,
    allow: NetSet,
    nets: Vec<(NetSet, Vec<Backend>)>,
    active: BTreeMap<String, Action>,
    keys: HashMap<(Backend, Kind, IpAddr), String>,
    attacks: HashMap<IpAddr, Attack>,
    /// Withdrawn by an operator: not planned again before this time.
    held: HashMap<(Backend, Kind, IpAddr), Nanos>,
    ttl: Nanos,
    pub counters: Counters,
}

impl Planner {
    /// # Errors
    /// A prefix in `allowlist` or `networks` that does not parse.
    pub fn new(cfg: &MitigateConfig) -> Result<Self, crate::Error> {
        let allow = NetSet::parse(&cfg.allowlist.join(",")).map_err(crate::Error::Config)?;
        let mut nets = Vec::new();
        for n in &cfg.networks {
            let set = NetSet::parse(&n.prefixes.join(",")).map_err(crate::Error::Config)?;
            nets.push((set, n.backends.clone()));
        }
        Ok(Planner {
            cfg: cfg.clone(),
            allow,
            nets,
            active: BTreeMap::new(),
            keys: HashMap::new(),
            attacks: HashMap::new(),
            held: HashMap::new(),
            ttl: cfg.ttl_secs.saturating_mul(NANOS_PER_SEC),
            counters: Counters::default(),
        })
    }

    /// Active actions, by id.
    pub fn active(&self) -> impl Iterator<Item = &Action> {
        self.active.values()
    }

    /// Forgets an action its backend failed to carry out (the next alert
    /// may plan it again).
    pub fn forget(&mut self, id: &str) {
        if let Some(a) = self.active.remove(id) {
            self.keys.remove(&(a.backend, a.kind, a.victim));
        }
    }

    /// Takes back an action from a state file (active again, with its
    /// expiry), e.g. to list or withdraw it.
    pub fn adopt(&mut self, a: Action) {
        self.keys
            .insert((a.backend, a.kind, a.victim), a.id.clone());
        self.active.insert(a.id.clone(), a);
    }

    /// Adopts an action (e.g. marks it applied after its backend succeeded).
    pub fn set_applied(&mut self, id: &str, applied: bool) {
        if let Some(a) = self.active.get_mut(id) {
            a.applied = applied;
        }
    }

    fn backend_on(&self, b: Backend) -> bool {
        match b {
            Backend::Nftables => self.cfg.nftables.enabled,
            Backend::Bgp => self.cfg.bgp.enabled,
            Backend::Xdp => self.cfg.xdp.enabled,
            Backend::Webhook | Backend::Exec => false,
        }
    }

    fn backends_for(&self, victim: Addr) -> Vec<Backend> {
        let mut out: Vec<Backend> = if self.nets.is_empty() {
            vec![Backend::Nftables, Backend::Bgp, Backend::Xdp]
        } else {
            let mut v = Vec::new();
            for (set, bs) in &self.nets {
                if set.contains(victim) {
                    v.extend(bs.iter().copied());
                }
            }
            v
        };
        out.sort();
        out.dedup();
        out.retain(|b| self.backend_on(*b));
        out
    }

    fn cap(&self, b: Backend) -> usize {
        match b {
            Backend::Nftables => self.cfg.nftables.max_active,
            Backend::Bgp => self.cfg.bgp.max_active,
            Backend::Xdp => self.cfg.xdp.max_active,
            _ => usize::MAX,
        }
    }

    /// A dos alert (new or update). Other categories are ignored.
    pub fn alert(&mut self, a: &Alert) -> Vec<Op> {
        let mut ops = Vec::new();
        let (Category::Dos, Some(dst)) = (a.category, a.dst) else {
            return ops;
        };
        self.counters.alerts += 1;
        let victim = dst.to_ip();
        let metric = |name: &str| a.metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let flood = match a.signature_id {
            SID_SYN => Flood::Syn,
            SID_UDP => Flood::Udp,
            SID_ICMP => Flood::Icmp,
            SID_AMP => Flood::Amplification,
            SID_HTTP => Flood::Http,
            SID_SLOW => Flood::Slowloris,
            _ => Flood::Other,
        };
        // connection floods come from real (handshaking) sources
        let nsrc = match flood {
            Flood::Http => metric("http_sources_10s"),
            Flood::Slowloris => None,
            _ => metric("distinct_sources"),
        };
        let few = match flood {
            Flood::Slowloris => true,
            Flood::Amplification => false,
            _ => nsrc.is_some_and(|n| n >= 1.0 && n <= self.cfg.few_sources as f64),
        };
        self.note_attack(victim, flood, few, a);
        // the detector's own count of its few sources, else the alert's src
        for src in a.sources.iter().chain(a.src.as_ref()) {
            self.note_source(victim, src.to_ip(), MIN_SOURCE_PKTS);
        }
        let backends = self.backends_for(dst);
        let mut wanted = Vec::new();
        for b in backends {
            match b {
                Backend::Nftables | Backend::Xdp => {
                    wanted.push((b, Kind::RateLimit));
                    if few {
                        wanted.push((b, Kind::DropSources));
                    }
                }
                Backend::Bgp => {
                    if self.cfg.bgp.blackhole {
                        wanted.push((b, Kind::Blackhole));
                    }
                    if self.cfg.bgp.flowspec {
                        wanted.push((b, Kind::Flowspec));
                    }
                }
                _ => {}
            }
        }
        for (backend, kind) in wanted {
            self.want(backend, kind, victim, a.ts, &mut ops);
        }
        ops
    }

    fn note_attack(&mut self, victim: IpAddr, flood: Flood, few: bool, a: &Alert) {
        if !self.attacks.contains_key(&victim) && self.attacks.len() >= MAX_VICTIMS {
            self.counters.victims_capped += 1;
            if let Some(oldest) = self
                .attacks
                .iter()
                .min_by_key(|(ip, at)| (at.last, **ip))
                .map(|(ip, _)| *ip)
            {
                self.attacks.remove(&oldest);
            }
        }
        let at = self.attacks.entry(victim).or_insert_with(|| Attack {
            flood,
            few,
            first: a.ts,
            last: a.ts,
            signature: String::new(),
            signature_id: 0,
            proto: None,
            dest_port: None,
            sources: Vec::new(),
        });
        at.flood = flood;
        at.few = few;
        at.last = at.last.max(a.ts);
        at.signature = a.signature.clone();
        at.signature_id = a.signature_id;
        at.proto = a.proto;
        at.dest_port = a.dest_port;
    }

    fn note_source(&mut self, victim: IpAddr, src: IpAddr, pkts: u64) {
        let Some(at) = self.attacks.get_mut(&victim) else {
            return;
        };
        if let Some(s) = at.sources.iter_mut().find(|(ip, _)| *ip == src) {
            s.1 = s.1.saturating_add(pkts);
        } else if at.sources.len() < MAX_SOURCES_PER_VICTIM {
            at.sources.push((src, pkts));
        } else {
            self.counters.sources_capped += 1;
        }
    }

    /// The known attackers of `victim`, allowlist removed, sorted, at most
    /// `few_sources`; and whether the allowlist removed any.
    fn attackers(&mut self, victim: IpAddr) -> (Vec<IpAddr>, bool) {
        let Some(at) = self.attacks.get(&victim) else {
            return (Vec::new(), false);
        };
        let mut v: Vec<(IpAddr, u64)> = at
            .sources
            .iter()
            .filter(|(ip, n)| *n >= MIN_SOURCE_PKTS && *ip != victim)
            .copied()
            .collect();
        let before = v.len();
        v.retain(|(ip, _)| !self.allow.contains(Addr::from(*ip)));
        let allowed_out = v.len() < before;
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let cap = self.cfg.few_sources.max(1) as usize;
        if v.len() > cap {
            self.counters.sources_capped += (v.len() - cap) as u64;
            v.truncate(cap);
        }
        let mut ips: Vec<IpAddr> = v.into_iter().map(|(ip, _)| ip).collect();
        ips.sort();
        (ips, allowed_out)
    }

    fn want(&mut self, backend: Backend, kind: Kind, victim: IpAddr, ts: Nanos, ops: &mut Vec<Op>) {
        let (sources, allowed_out) = if kind == Kind::DropSources {
            self.attackers(victim)
        } else {
            (Vec::new(), false)
        };
        let expires = ts.saturating_add(self.ttl);
        if let Some(id) = self.keys.get(&(backend, kind, victim)) {
            let a = self.active.get_mut(id).expect("keys and active agree");
            a.expires = a.expires.max(expires);
            if kind == Kind::DropSources && sources != a.sources && !sources.is_empty() {
                let old = a.clone();
                let mut merged = a.sources.clone();
                merged.extend(sources);
                merged.sort();
                merged.dedup();
                merged.truncate(self.cfg.few_sources.max(1) as usize);
                if merged != a.sources {
                    a.sources = merged;
                    self.counters.updated += 1;
                    ops.push(Op::Update {
                        old,
                        new: a.clone(),
                    });
                    return;
                }
            }
            a.rearms += 1;
            self.counters.rearmed += 1;
            ops.push(Op::Rearm(a.clone()));
            return;
        }
        if let Some(until) = self.held.get(&(backend, kind, victim)) {
            if ts < *until {
                return;
            }
            self.held.remove(&(backend, kind, victim));
        }
        if kind == Kind::DropSources && sources.is_empty() && !allowed_out {
            // attackers not known yet: the rate limit holds meanwhile
            return;
        }
        let Some(at) = self.attacks.get(&victim) else {
            return;
        };
        let flood = at.flood;
        let action = Action {
            id: format!(
                "{}-{}-{}-{}",
                backend.slug(),
                kind.slug(),
                victim,
                ts / NANOS_PER_SEC
            ),
            backend,
            kind,
            flood,
            victim,
            proto: at.proto,
            dest_port: match flood {
                Flood::Http | Flood::Slowloris => at.dest_port,
                _ => None,
            },
            src_ports: if flood == Flood::Amplification {
                AMP_PORTS.to_vec()
            } else {
                Vec::new()
            },
            sources,
            rate_pps: (kind == Kind::RateLimit).then_some(if backend == Backend::Xdp {
                self.cfg.xdp.victim_pps
            } else {
                self.cfg.nftables.victim_pps
            }),
            signature: at.signature.clone(),
            signature_id: at.signature_id,
            created: ts,
            expires,
            rearms: 0,
            applied: false,
        };
        if self.allow.contains(Addr::from(victim))
            || (kind == Kind::DropSources && action.sources.is_empty())
        {
            self.counters.refused_allowlist += 1;
            ops.push(Op::Refused {
                action,
                reason: "allowlist",
            });
            return;
        }
        let per_backend = self
            .active
            .values()
            .filter(|x| x.backend == backend)
            .count();
        if self.active.len() >= self.cfg.max_active || per_backend >= self.cap(backend) {
            self.counters.refused_cap += 1;
            ops.push(Op::Refused {
                action,
                reason: "cap",
            });
            return;
        }
        self.counters.announced += 1;
        self.keys.insert((backend, kind, victim), action.id.clone());
        self.active.insert(action.id.clone(), action.clone());
        ops.push(Op::Announce(action));
    }

    /// A finished flow: names the sources of a few-source flood. A flow
    /// counts for a victim under attack if it ended after the attack began.
    pub fn flow(&mut self, r: &FlowRecord) -> Vec<Op> {
        let victim = r.server.to_ip();
        let ok = match self.attacks.get(&victim) {
            Some(at) => at.few && r.end >= at.first && r.end <= at.last.saturating_add(self.ttl),
            None => false,
        };
        if !ok || r.client == r.server {
            return Vec::new();
        }
        let before = self.attackers(victim).0;
        self.note_source(victim, r.client.to_ip(), r.toserver.pkts);
        let after = self.attackers(victim).0;
        let mut ops = Vec::new();
        if after != before {
            // expiry follows the attack's last alert, not the flow's end
            let ts = self.attacks.get(&victim).map_or(r.end, |a| a.last);
            for b in self.backends_for(r.server) {
                if matches!(b, Backend::Nftables | Backend::Xdp) {
                    self.want(b, Kind::DropSources, victim, ts, &mut ops);
                }
            }
            ops.retain(|o| !matches!(o, Op::Rearm(_)));
        }
        ops
    }

    /// Withdraws what expired by `now` (capture time).
    pub fn tick(&mut self, now: Nanos) -> Vec<Op> {
        let expired: Vec<String> = self
            .active
            .values()
            .filter(|a| a.expires <= now)
            .map(|a| a.id.clone())
            .collect();
        let mut ops = Vec::new();
        for id in expired {
            if let Some(op) = self.withdraw(&id, "ttl") {
                ops.push(op);
            }
        }
        let ttl = self.ttl;
        self.attacks
            .retain(|_, at| at.last.saturating_add(ttl) > now);
        self.held.retain(|_, until| *until > now);
        ops
    }

    /// Withdraws one action by id (operator request, restart, TTL). After
    /// an operator's withdrawal the same action is not planned again for
    /// `ttl_secs` (from `now`), even if the attack goes on.
    pub fn withdraw(&mut self, id: &str, reason: &'static str) -> Option<Op> {
        let a = self.active.remove(id)?;
        self.keys.remove(&(a.backend, a.kind, a.victim));
        if reason == "operator" {
            let until = a.expires.max(a.created.saturating_add(self.ttl));
            self.held.insert((a.backend, a.kind, a.victim), until);
        }
        self.counters.withdrawn += 1;
        Some(Op::Withdraw { action: a, reason })
    }
}
