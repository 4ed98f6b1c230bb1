//! Evidence excerpts: after a file run, one more pass over the captures
//! keeps, per incident, a pcapng file with the first packets of each flow
//! between its hosts and attackers (and, for a flood, a sample of the flood),
//! and notes the names (DNS questions, TLS SNI, HTTP hosts) its hosts asked
//! for while it lasted.
//!
//! Choices:
//! - A second pass rather than a packet ring kept during analysis: the hot
//!   path stays free of copies, and the pass reads only when there are
//!   incidents. Live sources have no second pass (no excerpts there).
//! - Window: from [`BEFORE`] before an incident's first alert to [`AFTER`]
//!   after its last, so the packets that led to it are in.
//! - Bounds: [`PER_FLOW`] packets per flow, [`MAX_FLOWS`] flows and
//!   [`FLOOD_SAMPLE`] flood packets per incident, [`MAX_NAMES`] names, and
//!   a disk budget over all files (`--excerpt-budget`); a file cut by the
//!   budget says so (`truncated`), it is never silently short.
//! - A packet rebuilt from IP fragments is kept as its last fragment's
//!   frame (the one that completed it).

use std::collections::{HashMap, HashSet};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use vigil_core::{Addr, Category, Meta, Nanos, NANOS_PER_SEC};
use vigil_correlate::Incident;
use vigil_wire::{Decoded, Decoder, DecoderConfig};

/// Capture time kept before an incident's first alert.
pub const BEFORE: Nanos = 60 * NANOS_PER_SEC;
/// Capture time kept after its last alert.
pub const AFTER: Nanos = 10 * NANOS_PER_SEC;
/// First packets kept of each flow: the handshake and the first requests.
pub const PER_FLOW: u32 = 20;
/// Flows kept per incident (a scan touches thousands; the first show it).
pub const MAX_FLOWS: usize = 200;
/// Packets of a flood kept per flood incident.
pub const FLOOD_SAMPLE: u32 = 1000;
/// Distinct names kept per incident.
pub const MAX_NAMES: usize = 500;

/// One incident's excerpt.
pub struct Excerpt {
    pub incident: u64,
    /// Capture time of its first alert (for the evidence record).
    pub ts: Nanos,
    pub path: PathBuf,
    pub sha256: String,
    pub packets: u64,
    pub bytes: u64,
    pub truncated: bool,
    /// (host, kind, name) → times seen.
    pub names: Vec<(String, &'static str, String, u64)>,
}

struct Work {
    incident: u64,
    first: Nanos,
    from: Nanos,
    to: Nanos,
    hosts: HashSet<Addr>,
    attackers: HashSet<Addr>,
    flood: bool,
    flows: HashMap<(Addr, Addr, u16, u16, u8), u32>,
    flood_kept: u32,
    truncated: bool,
    names: HashMap<(Addr, &'static str, String), u64>,
    writer: Option<vigil_capture::PcapNgWriter<BufWriter<std::fs::File>>>,
    path: PathBuf,
}

impl Work {
    /// Whether this packet belongs in the excerpt.
    fn wants(&mut self, src: Addr, dst: Addr, sport: u16, dport: u16, proto: u8) -> bool {
        let (sh, dh) = (self.hosts.contains(&src), self.hosts.contains(&dst));
        if !sh && !dh {
            return false;
        }
        let peer_ok = self.attackers.is_empty()
            || (sh && self.attackers.contains(&dst))
            || (dh && self.attackers.contains(&src));
        if peer_ok {
            // one key for both directions
            let key = if (src, sport) <= (dst, dport) {
                (src, dst, sport, dport, proto)
            } else {
                (dst, src, dport, sport, proto)
            };
            let full = self.flows.len() >= MAX_FLOWS;
            match self.flows.get_mut(&key) {
                Some(n) if *n < PER_FLOW => {
                    *n += 1;
                    return true;
                }
                Some(_) => {}
                None if !full => {
                    self.flows.insert(key, 1);
                    return true;
                }
                None => {}
            }
        }
        if self.flood && dh && self.flood_kept < FLOOD_SAMPLE {
            self.flood_kept += 1;
            return true;
        }
        false
    }
}

/// Writes one pcapng file per incident into `dir` (created if missing).
///
/// # Errors
/// A capture that cannot be opened, or a file that cannot be written.
pub fn write(
    captures: &[PathBuf],
    incidents: &[Incident],
    dir: &Path,
    budget: u64,
) -> anyhow::Result<Vec<Excerpt>> {
    if incidents.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut work: Vec<Work> = incidents
        .iter()
        .map(|i| {
            // no inside host known (no home net given): the outside
            // addresses are all there is to follow
            let (hosts, attackers) = if i.hosts.is_empty() {
                (&i.attackers[..], &[][..])
            } else {
                (&i.hosts[..], &i.attackers[..])
            };
            Work {
                incident: i.id,
                first: i.first,
                from: i.first.saturating_sub(BEFORE),
                to: i.last.saturating_add(AFTER),
                hosts: hosts.iter().copied().collect(),
                attackers: attackers.iter().copied().collect(),
                flood: i.categories.contains(&Category::Dos),
                flows: HashMap::new(),
                flood_kept: 0,
                truncated: false,
                names: HashMap::new(),
                writer: None,
                path: dir.join(format!("incident-{}.pcapng", i.id)),
            }
        })
        .collect();
    // which incidents each address takes part in
    let mut by_host: HashMap<Addr, Vec<usize>> = HashMap::new();
    for (n, w) in work.iter().enumerate() {
        for a in w.hosts.iter().chain(&w.attackers) {
            let v = by_host.entry(*a).or_default();
            if !v.contains(&n) {
                v.push(n);
            }
        }
    }
    let mut used = 0u64;
    let mut source = crate::analyze::open_all(captures).map_err(anyhow::Error::msg)?;
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut hit: Vec<usize> = Vec::new();
    while let Ok(Some(p)) = source.next_packet() {
        let (linktype, ts, orig_len) = (p.linktype, p.ts, p.orig_len);
        let (info, payload) = match dec.decode(linktype, ts, orig_len, p.data) {
            Decoded::Ip { info, payload } => (info, payload),
            _ => continue,
        };
        hit.clear();
        for a in [info.src, info.dst] {
            if let Some(v) = by_host.get(&a) {
                for &n in v {
                    if !hit.contains(&n) {
                        hit.push(n);
                    }
                }
            }
        }
        if hit.is_empty() {
            continue;
        }
        let meta = vigil_app::inspect(&info, payload);
        for &n in &hit {
            let w = &mut work[n];
            if ts < w.from || ts > w.to {
                continue;
            }
            if w.hosts.contains(&info.src) && w.names.len() < MAX_NAMES {
                let name = match &meta {
                    Some(Meta::Dns(d)) if !d.response && !d.qname.is_empty() => {
                        Some(("dns", d.qname.clone()))
                    }
                    Some(Meta::Tls { sni: Some(s) }) => Some(("tls_sni", s.clone())),
                    Some(Meta::HttpRequest { host: Some(h), .. }) => Some(("http_host", h.clone())),
                    _ => None,
                };
                if let Some((kind, name)) = name.filter(|(_, n)| !is_address(n)) {
                    *w.names.entry((info.src, kind, name)).or_default() += 1;
                }
            }
            if w.truncated || !w.wants(info.src, info.dst, info.sport, info.dport, info.proto) {
                continue;
            }
            if w.writer.is_none() {
                let f = std::fs::File::create(&w.path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", w.path.display()))?;
                let pw = vigil_capture::PcapNgWriter::new(BufWriter::new(f))?;
                used += pw.bytes;
                w.writer = Some(pw);
            }
            let pw = w.writer.as_mut().expect("opened above");
            let cost = pw.cost(linktype, p.data.len());
            if used + cost > budget {
                w.truncated = true;
                continue;
            }
            pw.packet(linktype, ts, orig_len, p.data)
                .map_err(|e| anyhow::anyhow!("{}: {e}", w.path.display()))?;
            used += cost;
        }
    }
    let mut out = Vec::new();
    for w in work {
        let Some(pw) = w.writer else { continue };
        let (packets, bytes) = (pw.packets, pw.bytes);
        pw.finish()
            .map_err(|e| anyhow::anyhow!("{}: {e}", w.path.display()))?;
        let mut names: Vec<_> = w
            .names
            .into_iter()
            .map(|((h, k, n), c)| (h.to_string(), k, n, c))
            .collect();
        names.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.2.cmp(&b.2)));
        out.push(Excerpt {
            incident: w.incident,
            ts: w.first,
            sha256: crate::verify::sha256(&w.path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", w.path.display()))?,
            path: w.path,
            packets,
            bytes,
            truncated: w.truncated,
            names,
        });
    }
    Ok(out)
}

/// `FILE.excerpts/` beside a store or evidence log.
pub fn default_dir(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".excerpts");
    PathBuf::from(s)
}

/// What happens after a file run: run totals into the store, excerpts
/// written, hashed into the evidence log and listed in the store.
pub struct AfterRun<'a> {
    pub captures: &'a [PathBuf],
    /// The store and this run's id in it.
    pub store: Option<(&'a Path, i64)>,
    pub evidence: Option<&'a Path>,
    /// Where excerpts go; `None`: none written.
    pub excerpts: Option<PathBuf>,
    pub budget: u64,
}

impl AfterRun<'_> {
    /// # Errors
    /// The store, an excerpt file or the evidence log could not be written.
    pub fn run(&self, o: &crate::analyze::Outcome) -> anyhow::Result<()> {
        let store = match self.store {
            Some((path, run)) => {
                let st = vigil_store::Store::open(path)
                    .map_err(|e| anyhow::anyhow!("store {}: {e}", path.display()))?;
                st.update_run(
                    run,
                    &vigil_store::RunTotals {
                        first_ns: o.first_ts.map(|t| t as i64),
                        last_ns: o.last_ts as i64,
                        packets: o.packets,
                        bytes: o.wire_bytes,
                        status: match &o.fatal {
                            None => "finished".into(),
                            Some(e) => format!("input broken: {e}"),
                        },
                    },
                )?;
                Some((st, run))
            }
            None => None,
        };
        let (Some(dir), true) = (
            &self.excerpts,
            self.store.is_some() || self.evidence.is_some(),
        ) else {
            return Ok(());
        };
        let excerpts = write(self.captures, &o.incidents, dir, self.budget)?;
        if let Some((mut st, run)) = store {
            for e in &excerpts {
                st.add_excerpt(&vigil_store::ExcerptRow {
                    run_id: run,
                    incident_id: e.incident,
                    path: e.path.display().to_string(),
                    sha256: e.sha256.clone(),
                    packets: e.packets,
                    bytes: e.bytes,
                    truncated: e.truncated,
                })?;
                let names: Vec<vigil_store::NameRow> = e
                    .names
                    .iter()
                    .map(|(h, k, n, c)| vigil_store::NameRow {
                        run_id: run,
                        incident_id: e.incident,
                        host: h.clone(),
                        kind: (*k).to_string(),
                        name: n.clone(),
                        count: *c,
                    })
                    .collect();
                st.add_names(&names)?;
            }
        }
        if let Some(path) = self.evidence {
            let (mut log, _) = vigil_evidence::EvidenceLog::open(
                path,
                &vigil_evidence::OpenOptions {
                    repair_torn_tail: true,
                    ..Default::default()
                },
            )?;
            for e in &excerpts {
                log.append(
                    e.ts,
                    "excerpt",
                    &serde_json::json!({
                        "incident": e.incident,
                        "file": e.path.display().to_string(),
                        "sha256": e.sha256,
                        "packets": e.packets,
                        "bytes": e.bytes,
                        "truncated": e.truncated,
                    }),
                )?;
            }
            log.flush()?;
        }
        Ok(())
    }
}

/// An address literal ("10.0.0.1", "10.0.0.1:5985", "[2001:db8::1]:443")
/// names nothing: kept out of the names seen.
fn is_address(name: &str) -> bool {
    name.parse::<std::net::IpAddr>().is_ok()
        || name.parse::<std::net::SocketAddr>().is_ok()
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
}
