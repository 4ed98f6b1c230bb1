//! Alerts into incidents: vigil's correlation stage.
//!
//! The detection engine emits alerts per (category, key); an analyst wants
//! *incidents*: what happened to which hosts, by whom, in what order, and which
//! of it matters most. [`Correlator`] is fed every alert the engine let through
//! (in capture-time order) and keeps a bounded set of [`Incident`]s, each with
//! a deterministic id, a kill-chain ordered list of categories, the inside
//! hosts and outside addresses involved, a score and a one-sentence summary.
//!
//! # Rules
//!
//! **Addresses.** Each alert address is either an inside *host* or an outside
//! *attacker* address. With a non-empty `home` [`NetSet`], inside means "in
//! `home`". With an empty `home` the role decides: the destination of dos,
//! scan, brute force and lateral movement and the source of lateral movement,
//! beaconing, dns-tunnel and exfiltration are hosts; the rest are attackers.
//! The destination of a dns-tunnel alert is the resolver the queries went
//! through, not a party to the attack: it is ignored.
//!
//! **Joining.** A non-dos alert joins an incident when it shares a host or an
//! attacker address with it and its time is within `window_secs` of the
//! incident's last alert (and not more than `window_secs` before its first).
//! If an alert links several open incidents they are merged into the oldest
//! (earliest first alert, then lowest id), which keeps its id and lists the
//! absorbed ids in [`Incident::merged`]. Otherwise the alert starts a new
//! incident. An incident whose window has passed is closed: a later alert on
//! the same addresses starts a new incident. An alert with no address starts an
//! incident of its own.
//!
//! **Floods.** A dos alert never joins a quiet incident: floods are incidents
//! of their own, keyed by the victim (the alert's destination), joined by the
//! same window rule.
//!
//! **Flood cover.** A quiet (non-dos) incident is *under flood cover* when its
//! time span `[first, last]` overlaps a dos incident's span widened by
//! `flood_cover_secs` on both sides, on the same home network. By default the
//! home networks are one organisation's, so the time overlap is enough (a
//! theft from the office LAN while the DMZ is flooded is covered). With
//! `cover_same_prefix`, one of the quiet incident's hosts and the flood victim
//! must lie in the same `home` prefix (any, when `home` has at most one). The
//! flag is checked whenever the quiet incident or a flood changes, and once set
//! it stays set. Covered incidents always rank above every flood (see the
//! score).
//!
//! **Kill-chain order** of [`Incident::categories`]: scan → bruteforce →
//! lateral-movement → beaconing → dns-tunnel → exfiltration; dos (only ever
//! alone) last.
//!
//! # Score
//!
//! ```text
//! score = 10 × (4 − severity)               severity 1..3 (1 highest): 30, 20, 10
//!       + 15 × stages                       distinct categories in the incident
//!       + 25   if exfiltration is present
//!       + 40   if under flood cover
//!       + min(log2(alerts), 10)             volume, 0..10
//!       + min(hosts − 1, 5)                 spread over inside hosts, 0..5
//! ```
//!
//! A flood scores at most 30 + 15 + 10 + 0 = 55 (one stage, one victim); a
//! covered quiet incident at least 10 + 15 + 40 = 65, so the theft under the
//! flood always ranks above the flood. A multi-stage intrusion (scan, brute
//! force, lateral movement, exfiltration: 30 + 60 + 25 = 115 before bonuses)
//! ranks above any single-stage incident. [`Correlator::ranked`] sorts by score
//! descending, then first alert time, then id.
//!
//! # Bounds
//!
//! At most [`MAX_INCIDENTS`] incidents are kept: past it the lowest-scoring
//! (then stalest) incident is forgotten. Per incident at most [`MAX_HOSTS`]
//! hosts, [`MAX_ATTACKERS`] attacker addresses, [`MAX_ALERT_REFS`] alert
//! references and [`MAX_MERGED`] merged ids are listed; a flagged quiet
//! incident is checked against at most [`MAX_COVER_CHECKS`] most recent floods.
//! Each cap hit is counted in [`Counters`]. Addresses over a list cap are not
//! used for joining.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use vigil_core::{Addr, Alert, Category, Nanos, NetSet, NANOS_PER_SEC};

/// Most incidents kept in memory.
pub const MAX_INCIDENTS: usize = 4096;
/// Most inside hosts listed per incident.
pub const MAX_HOSTS: usize = 64;
/// Most outside (attacker) addresses listed per incident.
pub const MAX_ATTACKERS: usize = 32;
/// Most alert references kept per incident (the first alert of each category
/// is always kept).
pub const MAX_ALERT_REFS: usize = 32;
/// Most absorbed incident ids listed per incident.
pub const MAX_MERGED: usize = 32;
/// Most floods a quiet incident is checked against for cover (the most recent).
pub const MAX_COVER_CHECKS: usize = 64;
/// Address index entries before stale ones are swept (live ones never exceed
/// it: only listed addresses are indexed).
const MAX_INDEX: usize = MAX_INCIDENTS * (MAX_HOSTS + MAX_ATTACKERS);
/// Addresses listed in a summary before "and N more".
const SUMMARY_ADDRS: usize = 4;

/// Correlation settings (`[correlate]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelateConfig {
    /// How far apart (seconds) an alert may be from an incident's last alert
    /// and still join it. Default 900.
    pub window_secs: u64,
    /// How far (seconds) before a flood's first alert or after its last a
    /// quiet incident still counts as under its cover. Default 300.
    pub flood_cover_secs: u64,
    /// Cover needs a quiet incident's host and the flood's victim in the
    /// same `--home-net` prefix. Default false: the home networks are one
    /// organisation, and a theft from the office LAN while the DMZ's web
    /// server is flooded is exactly the cover vigil exists to see through.
    pub cover_same_prefix: bool,
}

impl Default for CorrelateConfig {
    fn default() -> Self {
        CorrelateConfig {
            window_secs: 900,
            flood_cover_secs: 300,
            cover_same_prefix: false,
        }
    }
}

/// One alert as listed in an incident: time, category, source, destination.
pub type AlertRef = (Nanos, Category, Option<Addr>, Option<Addr>);

/// Related alerts, as one story.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Stable and deterministic: derived from the first alert's time,
    /// category and key (same input, same ids).
    pub id: u64,
    /// Capture time of the first and last alert.
    pub first: Nanos,
    pub last: Nanos,
    /// Distinct categories, in kill-chain order.
    pub categories: Vec<Category>,
    /// Inside hosts involved, in order of appearance (at most [`MAX_HOSTS`]).
    pub hosts: Vec<Addr>,
    /// Outside addresses involved, in order of appearance (at most
    /// [`MAX_ATTACKERS`]).
    pub attackers: Vec<Addr>,
    /// Alerts joined, updates included.
    pub alerts: u32,
    /// Highest severity of its alerts (1 highest).
    pub severity: u8,
    /// A quiet attack overlapping a flood on the same home network.
    pub under_flood_cover: bool,
    /// The flood incident giving the cover, if any.
    pub cover_id: Option<u64>,
    /// Ranking: higher first (formula in the crate docs).
    pub score: f64,
    /// One readable sentence.
    pub summary: String,
    /// Some of its alerts (at most [`MAX_ALERT_REFS`]; first of each category
    /// always kept).
    pub alert_refs: Vec<AlertRef>,
    /// Ids of incidents merged into this one (they no longer exist).
    pub merged: Vec<u64>,
}

/// How often the bounds were hit, and what happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Alerts fed.
    pub alerts: u64,
    pub incidents_created: u64,
    pub incidents_merged: u64,
    /// Incidents forgotten at [`MAX_INCIDENTS`].
    pub incidents_evicted: u64,
    /// Hosts not listed at [`MAX_HOSTS`].
    pub hosts_capped: u64,
    /// Attacker addresses not listed at [`MAX_ATTACKERS`].
    pub attackers_capped: u64,
    /// Alert references not kept at [`MAX_ALERT_REFS`].
    pub refs_capped: u64,
    /// Merged ids not listed at [`MAX_MERGED`].
    pub merged_capped: u64,
    /// Cover checks cut at [`MAX_COVER_CHECKS`].
    pub cover_checks_capped: u64,
}

/// Where an address stands in an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Host,
    /// Outside, the source of the alert (scanner, brute forcer, flooder).
    Source,
    /// Outside, the destination (receiver of data, C2).
    Dest,
}

/// An incident and what is needed to keep it up to date.
#[derive(Clone, Debug)]
struct Inc {
    pub_: Incident,
    /// Outside sources and destinations (subsets of `attackers`).
    sources: Vec<Addr>,
    dests: Vec<Addr>,
    /// Dos: the victim (key) and the flood's name from the first signature.
    victim: Option<Addr>,
    flood: Option<String>,
    /// Cover: flood name and victim, for the summary.
    cover: Option<(String, Option<Addr>)>,
    /// The key this incident is filed under in `Correlator::rank`.
    rk: RankKey,
}

impl Inc {
    /// Floods get their name at creation, before any category is listed.
    fn is_dos(&self) -> bool {
        self.flood.is_some()
    }
    fn fresh_rank_key(&self) -> RankKey {
        // score is never negative, so its bits order like the value
        (self.pub_.score.to_bits(), self.pub_.last, self.pub_.id)
    }
}

/// (score bits, last, id): the lowest is evicted first.
type RankKey = (u64, Nanos, u64);

/// Alerts in, incidents out. See the crate docs for the rules.
pub struct Correlator {
    window: Nanos,
    cover: Nanos,
    cover_same_prefix: bool,
    home: NetSet,
    incs: BTreeMap<u64, Inc>,
    /// Address → the latest incident listing it (may be stale: checked).
    index: HashMap<Addr, u64>,
    /// Dos victim → its latest flood incident.
    dos_index: HashMap<Option<Addr>, u64>,
    /// Floods by (last, id).
    floods: BTreeSet<(Nanos, u64)>,
    /// All incidents by rank key, for eviction.
    rank: BTreeSet<RankKey>,
    counters: Counters,
}

/// Kill-chain position; dos last.
fn chain_pos(c: Category) -> u8 {
    match c {
        Category::Scan => 0,
        Category::Bruteforce => 1,
        Category::LateralMovement => 2,
        Category::Beaconing => 3,
        Category::DnsTunnel => 4,
        Category::Exfiltration => 5,
        Category::Dos => 6,
    }
}

/// How a category reads in a summary.
fn stage_name(c: Category) -> &'static str {
    match c {
        Category::Scan => "scan",
        Category::Bruteforce => "brute force",
        Category::LateralMovement => "lateral movement",
        Category::Beaconing => "beaconing",
        Category::DnsTunnel => "DNS tunnelling",
        Category::Exfiltration => "exfiltration",
        Category::Dos => "denial of service",
    }
}

/// splitmix64 finaliser: a fixed, portable mixer for ids.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix_addr(h: u64, a: Option<Addr>) -> u64 {
    match a {
        None => mix(h ^ 0xA5),
        Some(a) => {
            let mut h = mix(h ^ u64::from(a.v6));
            for chunk in a.bytes.chunks(8) {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                h = mix(h ^ u64::from_le_bytes(b));
            }
            h
        }
    }
}

/// `addr` lies in `net/len`.
fn in_prefix(net: Addr, len: u8, a: Addr) -> bool {
    if net.v6 != a.v6 {
        return false;
    }
    if a.v6 {
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len.min(128)))
        };
        u128::from_be_bytes(net.bytes) & mask == u128::from_be_bytes(a.bytes) & mask
    } else {
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len.min(32)))
        };
        net.v4_u32() & mask == a.v4_u32() & mask
    }
}

/// "a", "a and b", "a, b and c", "a, b, c, d and 3 more".
fn addr_list(addrs: &[Addr]) -> String {
    let shown: Vec<String> = addrs
        .iter()
        .take(SUMMARY_ADDRS)
        .map(|a| a.to_string())
        .collect();
    let more = addrs.len().saturating_sub(SUMMARY_ADDRS);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// "Scan", "Scan and brute force", "Scan, brute force and exfiltration".
fn stage_list(cats: &[Category]) -> String {
    let names: Vec<&str> = cats.iter().map(|c| stage_name(*c)).collect();
    let s = match names.len() {
        0 => String::new(),
        1 => names[0].to_string(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    };
    capitalize(&s)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "VIGIL DOS SYN flood against 10.0.1.10" → "SYN flood".
fn flood_name(sig: &str) -> String {
    let s = sig.strip_prefix("VIGIL DOS ").unwrap_or("");
    let s = s.split(" against ").next().unwrap_or("").trim();
    if s.is_empty() {
        "flood".to_string()
    } else {
        s.to_string()
    }
}

/// Push `a` to `list` unless present; false when the cap stopped it.
fn push_capped(list: &mut Vec<Addr>, a: Addr, cap: usize) -> bool {
    if list.contains(&a) {
        return true;
    }
    if list.len() >= cap {
        return false;
    }
    list.push(a);
    true
}

impl Correlator {
    pub fn new(cfg: &CorrelateConfig, home: NetSet) -> Self {
        Correlator {
            window: cfg.window_secs.saturating_mul(NANOS_PER_SEC),
            cover: cfg.flood_cover_secs.saturating_mul(NANOS_PER_SEC),
            cover_same_prefix: cfg.cover_same_prefix,
            home,
            incs: BTreeMap::new(),
            index: HashMap::new(),
            dos_index: HashMap::new(),
            floods: BTreeSet::new(),
            rank: BTreeSet::new(),
            counters: Counters::default(),
        }
    }

    /// Feeds one alert the engine let through (`update` as in the engine's
    /// `Emitted`: 0 for the first alert of its group). Alerts should come in
    /// capture-time order. Returns the incidents created or changed by it,
    /// as they now stand: the alert's incident first, then any incident it
    /// newly put under flood cover (by first time, then id).
    pub fn alert(&mut self, a: &Alert, update: u32) -> Vec<Incident> {
        self.counters.alerts += 1;
        if a.category == Category::Dos {
            return self.dos_alert(a, update);
        }
        let roles = self.roles(a);
        // open incidents sharing an address
        let mut cands: Vec<(Nanos, u64)> = Vec::new();
        for (addr, _) in &roles {
            if let Some(id) = self.index.get(addr) {
                if let Some(inc) = self.incs.get(id) {
                    if !inc.is_dos() && self.open(inc, a.ts) && !cands.iter().any(|c| c.1 == *id) {
                        cands.push((inc.pub_.first, *id));
                    }
                }
            }
        }
        cands.sort_unstable();
        let id = match cands.first() {
            None => self.create(a),
            Some(&(_, keep)) => {
                for &(_, other) in &cands[1..] {
                    self.merge(keep, other);
                }
                keep
            }
        };
        self.add(id, a, update, &roles);
        self.check_cover(id);
        self.refresh(id);
        vec![self.incs[&id].pub_.clone()]
    }

    /// All incidents, score descending (then first time, then id).
    pub fn ranked(&self) -> Vec<Incident> {
        let mut v: Vec<Incident> = self.incs.values().map(|i| i.pub_.clone()).collect();
        v.sort_by(|x, y| {
            y.score
                .total_cmp(&x.score)
                .then(x.first.cmp(&y.first))
                .then(x.id.cmp(&y.id))
        });
        v
    }

    /// Incidents in memory.
    pub fn len(&self) -> usize {
        self.incs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.incs.is_empty()
    }

    /// Counters, bounds hit included.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    fn open(&self, inc: &Inc, ts: Nanos) -> bool {
        ts <= inc.pub_.last.saturating_add(self.window)
            && ts.saturating_add(self.window) >= inc.pub_.first
    }

    fn inside(&self, a: Addr, by_role: bool) -> bool {
        if self.home.is_empty() {
            by_role
        } else {
            self.home.contains(a)
        }
    }

    /// The alert's addresses with their roles (dns-tunnel resolvers dropped).
    fn roles(&self, a: &Alert) -> Vec<(Addr, Role)> {
        use Category::*;
        let (src_in, dst_in) = match a.category {
            Dos | Scan | Bruteforce => (false, true),
            LateralMovement => (true, true),
            Beaconing | DnsTunnel | Exfiltration => (true, false),
        };
        let mut v = Vec::with_capacity(2);
        if let Some(s) = a.src {
            let r = if self.inside(s, src_in) {
                Role::Host
            } else {
                Role::Source
            };
            v.push((s, r));
        }
        if let Some(d) = a.dst {
            if a.category != DnsTunnel && Some(d) != a.src {
                let r = if self.inside(d, dst_in) {
                    Role::Host
                } else {
                    Role::Dest
                };
                v.push((d, r));
            }
        }
        v
    }

    /// Makes room, then starts an empty incident for `a`; returns its id.
    fn create(&mut self, a: &Alert) -> u64 {
        while self.incs.len() >= MAX_INCIDENTS {
            let Some(k) = self.rank.pop_first() else {
                break;
            };
            self.evict(k.2);
        }
        let (cat, s, d) = a.key();
        let mut id = mix_addr(mix_addr(mix(a.ts ^ u64::from(chain_pos(cat))), s), d);
        while id == 0 || self.incs.contains_key(&id) {
            id = mix(id.wrapping_add(1));
        }
        let inc = Inc {
            pub_: Incident {
                id,
                first: a.ts,
                last: a.ts,
                categories: Vec::new(),
                hosts: Vec::new(),
                attackers: Vec::new(),
                alerts: 0,
                severity: a.severity.clamp(1, 3),
                under_flood_cover: false,
                cover_id: None,
                score: 0.0,
                summary: String::new(),
                alert_refs: Vec::new(),
                merged: Vec::new(),
            },
            sources: Vec::new(),
            dests: Vec::new(),
            victim: None,
            flood: None,
            cover: None,
            rk: (0, a.ts, id),
        };
        self.rank.insert(inc.rk);
        self.incs.insert(id, inc);
        self.counters.incidents_created += 1;
        id
    }

    fn evict(&mut self, id: u64) {
        let Some(inc) = self.incs.remove(&id) else {
            return;
        };
        self.counters.incidents_evicted += 1;
        self.rank.remove(&inc.rk);
        for a in inc.pub_.hosts.iter().chain(&inc.pub_.attackers) {
            if self.index.get(a) == Some(&id) {
                self.index.remove(a);
            }
        }
        if inc.is_dos() {
            self.floods.remove(&(inc.pub_.last, id));
            if self.dos_index.get(&inc.victim) == Some(&id) {
                self.dos_index.remove(&inc.victim);
            }
        }
    }

    /// Lists `a` in incident `id` under `role`, indexing it when listed.
    fn list_addr(&mut self, id: u64, a: Addr, role: Role) {
        let Some(inc) = self.incs.get_mut(&id) else {
            return;
        };
        let listed = match role {
            Role::Host => {
                let ok = push_capped(&mut inc.pub_.hosts, a, MAX_HOSTS);
                if !ok {
                    self.counters.hosts_capped += 1;
                }
                ok
            }
            Role::Source | Role::Dest => {
                let ok = push_capped(&mut inc.pub_.attackers, a, MAX_ATTACKERS);
                if ok {
                    let side = if role == Role::Source {
                        &mut inc.sources
                    } else {
                        &mut inc.dests
                    };
                    push_capped(side, a, MAX_ATTACKERS);
                } else {
                    self.counters.attackers_capped += 1;
                }
                ok
            }
        };
        if listed && !inc.is_dos() {
            self.index.insert(a, id);
            if self.index.len() > MAX_INDEX {
                // drop entries of forgotten or merged incidents
                let incs = &self.incs;
                self.index.retain(|_, id| incs.contains_key(id));
            }
        }
    }

    /// Moves incident `other` into `keep`.
    fn merge(&mut self, keep: u64, other: u64) {
        let Some(o) = self.incs.remove(&other) else {
            return;
        };
        self.rank.remove(&o.rk);
        self.counters.incidents_merged += 1;
        for h in &o.pub_.hosts {
            self.list_addr(keep, *h, Role::Host);
        }
        for s in &o.sources {
            self.list_addr(keep, *s, Role::Source);
        }
        for d in &o.dests {
            self.list_addr(keep, *d, Role::Dest);
        }
        let Some(k) = self.incs.get_mut(&keep) else {
            return;
        };
        let p = &mut k.pub_;
        p.first = p.first.min(o.pub_.first);
        p.last = p.last.max(o.pub_.last);
        for c in &o.pub_.categories {
            if !p.categories.contains(c) {
                p.categories.push(*c);
            }
        }
        p.categories.sort_by_key(|c| chain_pos(*c));
        p.alerts = p.alerts.saturating_add(o.pub_.alerts);
        p.severity = p.severity.min(o.pub_.severity);
        for r in &o.pub_.alert_refs {
            if !push_ref(&mut p.alert_refs, *r) {
                self.counters.refs_capped += 1;
            }
        }
        p.alert_refs.sort_by_key(|r| r.0);
        for m in std::iter::once(&other).chain(&o.pub_.merged) {
            if p.merged.len() < MAX_MERGED {
                p.merged.push(*m);
            } else {
                self.counters.merged_capped += 1;
            }
        }
        if !p.under_flood_cover && o.pub_.under_flood_cover {
            p.under_flood_cover = true;
            p.cover_id = o.pub_.cover_id;
            k.cover = o.cover;
        }
    }

    /// Adds alert `a` (addresses in `roles`) to incident `id`.
    fn add(&mut self, id: u64, a: &Alert, update: u32, roles: &[(Addr, Role)]) {
        for &(addr, role) in roles {
            self.list_addr(id, addr, role);
        }
        let Some(inc) = self.incs.get_mut(&id) else {
            return;
        };
        let p = &mut inc.pub_;
        p.first = p.first.min(a.ts);
        p.last = p.last.max(a.ts);
        if !p.categories.contains(&a.category) {
            p.categories.push(a.category);
            p.categories.sort_by_key(|c| chain_pos(*c));
        }
        p.alerts = p.alerts.saturating_add(1);
        p.severity = p.severity.min(a.severity.clamp(1, 3));
        let r = (a.ts, a.category, a.src, a.dst);
        // updates are kept only while there is room: group openers first
        let kept = if update == 0 {
            push_ref(&mut p.alert_refs, r)
        } else if p.alert_refs.len() < MAX_ALERT_REFS {
            p.alert_refs.push(r);
            true
        } else {
            false
        };
        if !kept {
            self.counters.refs_capped += 1;
        }
    }

    fn dos_alert(&mut self, a: &Alert, update: u32) -> Vec<Incident> {
        let victim = a.dst;
        let existing = self
            .dos_index
            .get(&victim)
            .copied()
            .filter(|id| self.incs.get(id).is_some_and(|inc| self.open(inc, a.ts)));
        let id = match existing {
            Some(id) => id,
            None => {
                let id = self.create(a);
                let inc = self.incs.get_mut(&id).expect("just created");
                inc.victim = victim;
                inc.flood = Some(flood_name(&a.signature));
                self.floods.insert((inc.pub_.last, id));
                self.dos_index.insert(victim, id);
                id
            }
        };
        let old_last = self.incs[&id].pub_.last;
        let mut roles = Vec::new();
        if let Some(v) = victim {
            if self.inside(v, true) {
                roles.push((v, Role::Host));
            }
        }
        if let Some(s) = a.src {
            if Some(s) != victim {
                let r = if self.inside(s, false) {
                    Role::Host
                } else {
                    Role::Source
                };
                roles.push((s, r));
            }
        }
        self.add(id, a, update, &roles);
        let new_last = self.incs[&id].pub_.last;
        if new_last != old_last {
            self.floods.remove(&(old_last, id));
            self.floods.insert((new_last, id));
        }
        self.refresh(id);
        let mut out = vec![self.incs[&id].pub_.clone()];
        // quiet incidents this flood (now) covers
        let (d_first, d_last) = (self.incs[&id].pub_.first, new_last);
        let lo = d_first.saturating_sub(self.cover);
        let hi = d_last.saturating_add(self.cover);
        let newly: Vec<u64> = self
            .incs
            .values()
            .filter(|q| {
                !q.is_dos()
                    && !q.pub_.under_flood_cover
                    && q.pub_.first <= hi
                    && q.pub_.last >= lo
                    && self.same_net(q, victim)
            })
            .map(|q| q.pub_.id)
            .collect();
        let mut changed = Vec::new();
        for q in newly {
            self.set_cover(q, id);
            self.refresh(q);
            changed.push(self.incs[&q].pub_.clone());
        }
        changed.sort_by(|x, y| x.first.cmp(&y.first).then(x.id.cmp(&y.id)));
        out.extend(changed);
        out
    }

    /// A host of quiet incident `q` and `victim` share a home prefix (any,
    /// when home has at most one prefix or `cover_same_prefix` is off).
    fn same_net(&self, q: &Inc, victim: Option<Addr>) -> bool {
        if !self.cover_same_prefix {
            return true;
        }
        let mut nets = self.home.iter();
        let first = nets.next();
        if first.is_none() || nets.next().is_none() {
            return true;
        }
        let Some(v) = victim else {
            return false;
        };
        self.home.iter().any(|(net, len)| {
            in_prefix(net, len, v) && q.pub_.hosts.iter().any(|h| in_prefix(net, len, *h))
        })
    }

    /// Flags quiet incident `id` when a recent flood covers it.
    fn check_cover(&mut self, id: u64) {
        let Some(q) = self.incs.get(&id) else {
            return;
        };
        if q.pub_.under_flood_cover || q.is_dos() {
            return;
        }
        let mut found = None;
        for (n, &(d_last, d_id)) in self.floods.iter().rev().enumerate() {
            if n >= MAX_COVER_CHECKS {
                self.counters.cover_checks_capped += 1;
                break;
            }
            if d_last.saturating_add(self.cover) < q.pub_.first {
                break; // older floods end even earlier
            }
            let Some(d) = self.incs.get(&d_id) else {
                continue;
            };
            if d.pub_.first.saturating_sub(self.cover) <= q.pub_.last && self.same_net(q, d.victim)
            {
                found = Some(d_id);
                break;
            }
        }
        if let Some(d_id) = found {
            self.set_cover(id, d_id);
        }
    }

    fn set_cover(&mut self, q: u64, flood: u64) {
        let info = self
            .incs
            .get(&flood)
            .map(|d| (d.flood.clone().unwrap_or_default(), d.victim));
        if let (Some(inc), Some(info)) = (self.incs.get_mut(&q), info) {
            inc.pub_.under_flood_cover = true;
            inc.pub_.cover_id = Some(flood);
            inc.cover = Some(info);
        }
    }

    /// Recomputes score and summary of `id` and its rank entry.
    fn refresh(&mut self, id: u64) {
        let Some(inc) = self.incs.get_mut(&id) else {
            return;
        };
        self.rank.remove(&inc.rk);
        inc.pub_.score = score(&inc.pub_);
        inc.pub_.summary = summary(inc);
        inc.rk = inc.fresh_rank_key();
        self.rank.insert(inc.rk);
    }
}

/// Keeps the first reference of each category; others while there is room.
fn push_ref(refs: &mut Vec<AlertRef>, r: AlertRef) -> bool {
    if refs.len() < MAX_ALERT_REFS {
        refs.push(r);
        return true;
    }
    if refs.iter().any(|x| x.1 == r.1) {
        return false;
    }
    // a new category: replace the latest reference of a category listed twice
    let mut counts = [0u32; 7];
    for x in refs.iter() {
        counts[chain_pos(x.1) as usize] += 1;
    }
    if let Some(i) = refs
        .iter()
        .rposition(|x| counts[chain_pos(x.1) as usize] > 1)
    {
        refs.remove(i);
        let at = refs.partition_point(|x| x.0 <= r.0);
        refs.insert(at, r);
        return true;
    }
    false
}

/// The score formula of the crate docs.
pub fn score(i: &Incident) -> f64 {
    let sev = 10.0 * f64::from(4 - i.severity.clamp(1, 3));
    let stages = 15.0 * i.categories.len() as f64;
    let exfil = if i.categories.contains(&Category::Exfiltration) {
        25.0
    } else {
        0.0
    };
    let cover = if i.under_flood_cover { 40.0 } else { 0.0 };
    let volume = f64::from(i.alerts.max(1)).log2().min(10.0);
    let spread = (i.hosts.len().saturating_sub(1) as f64).min(5.0);
    sev + stages + exfil + cover + volume + spread
}

fn summary(inc: &Inc) -> String {
    let p = &inc.pub_;
    let mut s = if inc.is_dos() {
        let flood = inc.flood.as_deref().unwrap_or("flood");
        let mut s = capitalize(flood);
        if let Some(v) = inc.victim {
            s.push_str(&format!(" against {v}"));
        }
        if !inc.sources.is_empty() {
            s.push_str(&format!(" from {}", addr_list(&inc.sources)));
        }
        s
    } else if p.categories == [Category::Exfiltration] && inc.sources.is_empty() {
        let mut s = format!("Exfiltration of data from {}", addr_list(&p.hosts));
        if !inc.dests.is_empty() {
            s.push_str(&format!(" to {}", addr_list(&inc.dests)));
        }
        s
    } else {
        let mut s = stage_list(&p.categories);
        if !inc.sources.is_empty() {
            s.push_str(&format!(" from {}", addr_list(&inc.sources)));
            if !p.hosts.is_empty() {
                s.push_str(&format!(" into {}", addr_list(&p.hosts)));
            }
            if !inc.dests.is_empty() {
                s.push_str(&format!(", data sent to {}", addr_list(&inc.dests)));
            }
        } else {
            if !p.hosts.is_empty() {
                s.push_str(&format!(" by {}", addr_list(&p.hosts)));
            }
            if !inc.dests.is_empty() {
                s.push_str(&format!(" to {}", addr_list(&inc.dests)));
            }
        }
        s
    };
    if let Some((flood, victim)) = &inc.cover {
        let article = match flood.chars().next() {
            Some(c) if "aeiouAEIOU".contains(c) => "an",
            _ => "a",
        };
        s.push_str(&format!(" under cover of {article} {flood}"));
        if let Some(v) = victim {
            s.push_str(&format!(" on {v}"));
        }
    }
    s
}

#[cfg(test)]
mod tests;
