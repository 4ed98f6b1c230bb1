//! DNS tunnels: data carried in DNS query names (and answers) by an inside
//! host.
//!
//! Fed by the DNS metadata of `vigil-app` (one [`DnsMeta`] per DNS message),
//! never by raw packets. Queries are grouped per (inside client, registered
//! domain); the registered domain is the last two labels, or three under a
//! known two-label public suffix (`co.uk`, `com.au`, ...). Names whose would-be
//! domain is itself random (digits in the top-level label, a long label, as
//! in dnscat2's direct mode `dnscat.<hex>.<hex>`) share one per-client group.
//!
//! For each group, over two epochs of [`Config::epoch_secs`] (the current and
//! the previous one), it counts queries, distinct names (a 512-bit linear
//! counting bitmap), characters carried in the subdomain part, queries with
//! a long label, query types other than the everyday ones (A, AAAA, PTR,
//! HTTPS, SVCB, SRV, SOA, NS, DS, DNSKEY), the character histogram of the
//! subdomain part (for its entropy) and NXDOMAIN answers.
//!
//! A group alerts when it passes both floors ([`Config::min_distinct`]
//! distinct names, [`Config::min_name_chars`] characters) and shows
//! encoding: long labels in at least [`Config::min_long_share`] of queries
//! or unusual types in at least [`Config::min_unusual_share`], and scores at
//! least [`Config::min_score`] of the six signals (long labels, unusual
//! types, long average subdomain, high entropy, nearly every name new,
//! NXDOMAIN-heavy). An inside host seen answering DNS for other inside hosts
//! (a resolver) is not judged for the queries it forwards: its clients are.
//!
//! See docs/detection/dns-tunnel.md.

use serde::{Deserialize, Serialize};
use vigil_core::{Addr, Alert, Category, DnsMeta, Meta, Nanos, NetSet, NANOS_PER_SEC};

use crate::sketch::{hash_addr, mix64, FastBuild, FastMap};
use crate::{Ctx, Detector, Out};

/// Settings of the dnstunnel detector (`[detect.dnstunnel]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector. Default true.
    pub enabled: bool,
    /// Length of one epoch, seconds; a group is judged on the current and
    /// the previous epoch. Default 120: 2-4 minutes of history, enough for a
    /// slow tunnel to show, short enough to forget a burst of page loads.
    pub epoch_secs: u64,
    /// Distinct names (within a group, two epochs) needed. Default 30: a
    /// tunnel moves data in new names; a client rarely asks for 30
    /// different names under one domain in minutes.
    pub min_distinct: u32,
    /// Characters of subdomain (the part left of the registered domain)
    /// needed within two epochs. Default 1,500: ~1 KB of data at base32.
    pub min_name_chars: u64,
    /// A label this long (characters) counts as a long label. Default 28:
    /// encoders fill labels to 50-63; CDN and cloud host labels (hashes,
    /// load balancer names) mostly stay below.
    pub long_label: usize,
    /// Share of queries with a long label that counts as encoding. Default
    /// 0.2 (iodine's data queries are long, its polls short).
    pub min_long_share: f64,
    /// Share of unusual query types (TXT, NULL, CNAME, MX, ANY, ...) that
    /// counts as encoding. Default 0.5.
    pub min_unusual_share: f64,
    /// Average subdomain length (characters) that counts as a signal.
    /// Default 24.
    pub min_avg_sub: f64,
    /// Character entropy (bits) of the subdomain characters that counts as
    /// a signal. Default 3.6 (hex ≈ 4.0, base32 ≈ 5; host names ≈ 3.2-3.8).
    pub min_entropy: f64,
    /// Share of names never seen before (distinct / queries) that counts as
    /// a signal, with at least 2 × `min_distinct` distinct names. Default 0.9.
    pub min_new_share: f64,
    /// NXDOMAIN share of answers that counts as a signal. Default 0.5.
    pub min_nxdomain_share: f64,
    /// Signals needed (of six: long labels, unusual types, long average,
    /// entropy, new names, NXDOMAIN). Default 3.
    pub min_score: u32,
    /// Domains never judged (suffix match): reverse DNS, local names, and
    /// services that look up hashes in DNS by design (anti-virus and
    /// anti-spam reputation lookups). Default `arpa`, `local`, `sophosxl.net`,
    /// `spamhaus.org`, `spamcop.net`, `barracudacentral.org`, `surbl.org`,
    /// `avqs.mcafee.com`, `e5.sk`.
    pub ignore_domains: Vec<String>,
    /// Two-label public suffixes under which a registered domain has three
    /// labels. Default: common country second levels (co.uk, com.au, ...)
    /// and the reserved test domains (example.com/net/org) that test data
    /// uses as if they were suffixes.
    pub public_suffixes: Vec<String>,
    /// Most (client, domain) groups followed; past it a new group replaces
    /// the least promising of a small sample (`groups_evicted`). Default
    /// 8,192 (≈ 600 B each).
    pub max_groups: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: true,
            epoch_secs: 120,
            min_distinct: 30,
            min_name_chars: 1500,
            long_label: 28,
            min_long_share: 0.2,
            min_unusual_share: 0.5,
            min_avg_sub: 24.0,
            min_entropy: 3.6,
            min_new_share: 0.9,
            min_nxdomain_share: 0.5,
            min_score: 3,
            ignore_domains: [
                "arpa",
                "local",
                "sophosxl.net",
                "spamhaus.org",
                "spamcop.net",
                "barracudacentral.org",
                "surbl.org",
                "avqs.mcafee.com",
                "e5.sk",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            public_suffixes: [
                "co.uk",
                "org.uk",
                "ac.uk",
                "gov.uk",
                "co.jp",
                "ne.jp",
                "or.jp",
                "com.au",
                "net.au",
                "org.au",
                "co.nz",
                "com.br",
                "com.cn",
                "net.cn",
                "com.tw",
                "co.kr",
                "co.in",
                "co.za",
                "com.mx",
                "com.tr",
                "com.sg",
                "com.hk",
                "co.il",
                "com.ar",
                "example.com",
                "example.net",
                "example.org",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            max_groups: 8192,
        }
    }
}

pub const SIG_TUNNEL: u32 = 6_000_001;

/// Character classes of the histogram: a-z, 0-9, '-', '_', other.
const BINS: usize = 40;

#[inline]
fn bin(b: u8) -> usize {
    match b {
        b'a'..=b'z' => (b - b'a') as usize,
        b'0'..=b'9' => 26 + (b - b'0') as usize,
        b'-' => 36,
        b'_' => 37,
        b'A'..=b'Z' => (b - b'A') as usize,
        _ => 38 + (b as usize & 1),
    }
}

/// One epoch of a group.
#[derive(Clone)]
struct Epoch {
    queries: u32,
    names: [u64; 8],
    sub_chars: u64,
    long: u32,
    unusual: u32,
    answers: u32,
    nx: u32,
    hist: [u32; BINS],
}

impl Default for Epoch {
    fn default() -> Self {
        Epoch {
            queries: 0,
            names: [0; 8],
            sub_chars: 0,
            long: 0,
            unusual: 0,
            answers: 0,
            nx: 0,
            hist: [0; BINS],
        }
    }
}

impl Epoch {
    fn clear(&mut self) {
        *self = Epoch::default();
    }
}

struct Group {
    client: Addr,
    domain: String,
    cur: Epoch,
    prev: Epoch,
    /// Absolute epoch number of `cur`.
    epoch: u64,
    last: Nanos,
    last_alert: Nanos,
    dirty: bool,
    resolver_ip: Addr,
    flows: Vec<u64>,
    total_queries: u64,
}

impl Group {
    fn roll(&mut self, e: u64) {
        if e == self.epoch {
            return;
        }
        if e == self.epoch + 1 {
            self.prev = std::mem::take(&mut self.cur);
        } else {
            self.prev.clear();
            self.cur.clear();
        }
        self.epoch = e;
    }
}

/// What a group's two epochs say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Features {
    pub queries: u32,
    pub distinct: f64,
    pub name_chars: u64,
    pub long_share: f64,
    pub unusual_share: f64,
    pub avg_sub: f64,
    pub entropy: f64,
    pub new_share: f64,
    pub nx_share: f64,
}

fn features(a: &Epoch, b: &Epoch) -> Features {
    let q = a.queries + b.queries;
    let mut set = 0u32;
    for i in 0..8 {
        set += (a.names[i] | b.names[i]).count_ones();
    }
    let m = 512.0f64;
    let zeros = (512 - set).max(1) as f64;
    let distinct = m * (m / zeros).ln();
    let chars = a.sub_chars + b.sub_chars;
    let mut total = 0f64;
    let mut counts = [0f64; BINS];
    for (i, c) in counts.iter_mut().enumerate() {
        *c = (a.hist[i] + b.hist[i]) as f64;
        total += *c;
    }
    let entropy = if total > 0.0 {
        counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| {
                let p = c / total;
                -p * p.log2()
            })
            .sum()
    } else {
        0.0
    };
    let qf = q.max(1) as f64;
    let ans = (a.answers + b.answers).max(1) as f64;
    Features {
        queries: q,
        distinct,
        name_chars: chars,
        long_share: (a.long + b.long) as f64 / qf,
        unusual_share: (a.unusual + b.unusual) as f64 / qf,
        avg_sub: chars as f64 / qf,
        entropy,
        new_share: (distinct / qf).min(1.0),
        nx_share: (a.nx + b.nx) as f64 / ans,
    }
}

/// Query types seen every day: A, NS, SOA, PTR, AAAA, SRV, DS, DNSKEY,
/// SVCB, HTTPS.
#[inline]
fn usual_type(t: u16) -> bool {
    matches!(t, 1 | 2 | 6 | 12 | 28 | 33 | 43 | 48 | 64 | 65)
}

/// The registered domain of `name` and the subdomain part left of it; the
/// domain is "" when it looks random (no real top-level label).
pub fn split_domain<'a>(name: &'a str, suffixes: &[String]) -> (&'a str, &'a str) {
    let labels: Vec<(usize, &str)> = {
        let mut v = Vec::new();
        let mut start = 0;
        for (i, b) in name.bytes().enumerate() {
            if b == b'.' {
                v.push((start, &name[start..i]));
                start = i + 1;
            }
        }
        v.push((start, &name[start..]));
        v
    };
    let n = labels.len();
    if n < 2 {
        return ("", name);
    }
    let tld = labels[n - 1].1;
    let tld_ok = (2..=24).contains(&tld.len())
        && (tld.bytes().all(|b| b.is_ascii_lowercase()) || tld.starts_with("xn--"));
    if !tld_ok || labels[n - 2].1.len() > 40 || labels[n - 2].1.is_empty() {
        return ("", name);
    }
    let mut take = 2;
    if n >= 3 {
        let last2 = &name[labels[n - 2].0..];
        if suffixes.iter().any(|s| s == last2) {
            take = 3;
        }
    }
    if take > n {
        take = n;
    }
    let at = labels[n - take].0;
    let sub = if at == 0 { "" } else { &name[..at - 1] };
    (&name[at..], sub)
}

pub struct DnsTunnel {
    cfg: Config,
    groups: FastMap<(Addr, u64), Group>,
    /// Inside hosts asked DNS questions by other inside hosts: last time,
    /// and a 64-bit bitmap of the askers (a resolver has several).
    resolvers: FastMap<Addr, (Nanos, u64)>,
    epoch_ns: Nanos,
    next_sweep: Nanos,
    /// Print every group's features on each evaluation (env
    /// `VIGIL_DNST_DEBUG`), for tuning.
    debug: bool,
    /// Groups replaced because the table was full.
    pub groups_evicted: u64,
}

impl DnsTunnel {
    pub fn new(cfg: &Config) -> Self {
        DnsTunnel {
            cfg: cfg.clone(),
            groups: FastMap::with_capacity_and_hasher(256, FastBuild),
            resolvers: FastMap::with_capacity_and_hasher(16, FastBuild),
            epoch_ns: cfg.epoch_secs.max(10) * NANOS_PER_SEC,
            next_sweep: 0,
            debug: std::env::var_os("VIGIL_DNST_DEBUG").is_some(),
            groups_evicted: 0,
        }
    }

    fn ignored(&self, name: &str) -> bool {
        self.cfg.ignore_domains.iter().any(|d| {
            name == d
                || (name.len() > d.len()
                    && name.ends_with(d.as_str())
                    && name.as_bytes()[name.len() - d.len() - 1] == b'.')
        })
    }

    /// Asked by at least two inside hosts: a resolver forwarding their
    /// questions, judged through its clients.
    fn is_resolver(&self, a: &Addr) -> bool {
        self.resolvers.get(a).is_some_and(|r| r.1.count_ones() >= 2)
    }

    fn make_room(&mut self) {
        let victim = self
            .groups
            .iter()
            .take(16)
            .min_by_key(|(_, g)| (g.total_queries, g.last))
            .map(|(k, _)| *k);
        if let Some(k) = victim {
            self.groups.remove(&k);
            self.groups_evicted += 1;
        }
    }

    fn query(&mut self, c: &Ctx, d: &DnsMeta) {
        let p = c.p;
        if d.qname.is_empty() || self.ignored(&d.qname) {
            return;
        }
        let (domain, sub) = split_domain(&d.qname, &self.cfg.public_suffixes);
        let key = (p.src, mix64(fnv(domain.as_bytes())));
        let e = p.ts / self.epoch_ns;
        if !self.groups.contains_key(&key) {
            if self.groups.len() >= self.cfg.max_groups {
                self.make_room();
            }
            self.groups.insert(
                key,
                Group {
                    client: p.src,
                    domain: domain.to_string(),
                    cur: Epoch::default(),
                    prev: Epoch::default(),
                    epoch: e,
                    last: p.ts,
                    last_alert: 0,
                    dirty: false,
                    resolver_ip: p.dst,
                    flows: Vec::new(),
                    total_queries: 0,
                },
            );
        }
        let long_label = self.cfg.long_label;
        let Some(g) = self.groups.get_mut(&key) else {
            return;
        };
        g.roll(e);
        g.last = p.ts;
        g.dirty = true;
        g.total_queries += 1;
        g.resolver_ip = p.dst;
        if g.flows.len() < 8 && !g.flows.contains(&c.flow.flow_id) {
            g.flows.push(c.flow.flow_id);
        }
        let ep = &mut g.cur;
        ep.queries += 1;
        let h = mix64(fnv(d.qname.as_bytes()) ^ d.qtype as u64);
        let i = (h % 512) as usize;
        ep.names[i / 64] |= 1 << (i % 64);
        let mut chars = 0u64;
        let mut long = false;
        for label in sub.split('.') {
            if label.len() >= long_label {
                long = true;
            }
            chars += label.len() as u64;
            for &b in label.as_bytes() {
                ep.hist[bin(b)] += 1;
            }
        }
        ep.sub_chars += chars;
        if long {
            ep.long += 1;
        }
        if !usual_type(d.qtype) {
            ep.unusual += 1;
        }
    }

    fn response(&mut self, c: &Ctx, d: &DnsMeta) {
        let p = c.p;
        if d.qname.is_empty() {
            return;
        }
        let (domain, _) = split_domain(&d.qname, &self.cfg.public_suffixes);
        let key = (p.dst, mix64(fnv(domain.as_bytes())));
        let e = p.ts / self.epoch_ns;
        if let Some(g) = self.groups.get_mut(&key) {
            g.roll(e);
            g.cur.answers += 1;
            if d.rcode == 3 {
                g.cur.nx += 1;
            }
        }
    }

    fn score(&self, f: &Features) -> (bool, u32) {
        let c = &self.cfg;
        if f.distinct < c.min_distinct as f64 || f.name_chars < c.min_name_chars {
            return (false, 0);
        }
        let long = f.long_share >= c.min_long_share;
        let unusual = f.unusual_share >= c.min_unusual_share;
        let mut s = long as u32 + unusual as u32;
        s += (f.avg_sub >= c.min_avg_sub) as u32;
        s += (f.entropy >= c.min_entropy) as u32;
        s += (f.new_share >= c.min_new_share && f.distinct >= 2.0 * c.min_distinct as f64) as u32;
        s += (f.nx_share >= c.min_nxdomain_share && f.queries >= c.min_distinct) as u32;
        ((long || unusual) && s >= c.min_score, s)
    }

    fn evaluate(&mut self, now: Nanos, out: &mut Out) {
        let e = now / self.epoch_ns;
        let mut hits = Vec::new();
        for (k, g) in self.groups.iter_mut() {
            if !g.dirty {
                continue;
            }
            g.dirty = false;
            g.roll(e.max(g.epoch));
            if g.last_alert != 0 && now < g.last_alert + 60 * NANOS_PER_SEC {
                continue;
            }
            hits.push(*k);
        }
        for k in hits {
            let g = &self.groups[&k];
            if self.is_resolver(&g.client) {
                continue;
            }
            let f = features(&g.cur, &g.prev);
            let (hit, score) = self.score(&f);
            if !hit {
                continue;
            }
            let mut a = Alert::new(
                now,
                Category::DnsTunnel,
                SIG_TUNNEL,
                "VIGIL DNS-TUNNEL encoded data in DNS query names from an inside host",
                1,
            );
            a.src = Some(g.client);
            a.dst = Some(g.resolver_ip);
            a.proto = Some(17);
            a.dest_port = Some(53);
            a.metrics = vec![
                ("queries", f.queries as f64),
                ("distinct_names", f.distinct.round()),
                ("name_chars", f.name_chars as f64),
                ("avg_subdomain_len", (f.avg_sub * 10.0).round() / 10.0),
                ("long_label_share", (f.long_share * 1000.0).round() / 1000.0),
                (
                    "unusual_type_share",
                    (f.unusual_share * 1000.0).round() / 1000.0,
                ),
                ("entropy_bits", (f.entropy * 100.0).round() / 100.0),
                ("nxdomain_share", (f.nx_share * 1000.0).round() / 1000.0),
                ("score", score as f64),
                ("window_s", 2.0 * self.cfg.epoch_secs as f64),
            ];
            a.flow_ids = g.flows.clone();
            let domain = g.domain.clone();
            if !domain.is_empty() {
                a.signature = format!("{} (domain {domain})", a.signature);
            }
            out.push(a);
            if let Some(g) = self.groups.get_mut(&k) {
                g.last_alert = now;
            }
        }
        if self.debug {
            for g in self.groups.values() {
                let f = features(&g.cur, &g.prev);
                if f.queries >= 20 {
                    eprintln!(
                        "dnst {} {:?} {:?} {:?}",
                        g.client,
                        g.domain,
                        self.score(&f),
                        f
                    );
                }
            }
        }
    }

    fn sweep(&mut self, now: Nanos) {
        let keep = 2 * self.epoch_ns;
        self.groups
            .retain(|_, g| now.saturating_sub(g.last) <= keep);
        self.resolvers
            .retain(|_, t| now.saturating_sub(t.0) <= 3600 * NANOS_PER_SEC);
    }
}

#[inline]
fn fnv(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in b {
        h = (h ^ x as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl Detector for DnsTunnel {
    fn reconfigure(&mut self, cfg: &crate::DetectConfig) {
        // thresholds; the epoch length keeps its running value (the groups'
        // counts are per epoch)
        let epoch = self.cfg.epoch_secs;
        self.cfg = cfg.dnstunnel.clone();
        self.cfg.epoch_secs = epoch;
    }
    fn name(&self) -> &'static str {
        "dnstunnel"
    }

    fn on_meta(&mut self, c: Option<&Ctx>, m: &Meta, _home: &NetSet, _out: &mut Out) {
        let (Some(c), Meta::Dns(d)) = (c, m) else {
            return;
        };
        let p = c.p;
        if p.sport == 5353 || p.dport == 5353 {
            return;
        }
        if !d.response {
            if !c.src_home {
                return;
            }
            if c.dst_home && (self.resolvers.len() < 1024 || self.resolvers.contains_key(&p.dst)) {
                // an inside host asked another inside host: the latter may resolve
                let r = self.resolvers.entry(p.dst).or_insert((0, 0));
                r.0 = p.ts;
                r.1 |= 1 << (hash_addr(&p.src) % 64);
            }
            self.query(c, d);
        } else if c.dst_home && !self.groups.is_empty() {
            self.response(c, d);
        }
    }

    fn on_tick(&mut self, now: Nanos, out: &mut Out) {
        if self.groups.is_empty() {
            return;
        }
        self.evaluate(now, out);
        if now >= self.next_sweep {
            self.sweep(now);
            self.next_sweep = now + 60 * NANOS_PER_SEC;
        }
    }

    fn finish(&mut self, now: Nanos, out: &mut Out) {
        if !self.groups.is_empty() {
            self.evaluate(now, out);
        }
    }
}

#[cfg(test)]
mod tests;
