//! The breach report: what happened, when, to which hosts, how much data
//! left and to whom, which names were looked up, the traffic timeline with
//! the alerts on it, the ranked incidents, the evidence and how to check it,
//! and what to do next. Built from the store ([`build`]) into one
//! [`Report`] value, then rendered as JSON (the value itself), Markdown
//! ([`markdown`]) or a self-contained HTML page ([`html`]: inline CSS and an
//! inline SVG chart, no script, no external fetch).
#![forbid(unsafe_code)]

mod html;
mod markdown;

pub use html::html;
pub use markdown::markdown;

use serde::Serialize;
use vigil_store::{AlertRow, ExcerptRow, Filter, IncidentRow, NameRow, RunRow, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Store(#[from] vigil_store::Error),
    #[error("{0}")]
    NotFound(String),
}

/// Most alerts listed per incident (all are in the store).
pub const MAX_ALERTS_LISTED: usize = 50;
/// Most names listed per incident.
pub const MAX_NAMES_LISTED: usize = 25;
/// Most timeline points drawn; finer buckets are summed.
pub const MAX_POINTS: usize = 600;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub title: String,
    pub generated_at: String,
    pub store: String,
    pub run: RunRow,
    pub summary: Summary,
    pub timeline: Timeline,
    pub incidents: Vec<IncidentReport>,
    pub evidence: Evidence,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Sentences a person reads first.
    pub headline: Vec<String>,
    pub first_alert: Option<String>,
    pub last_alert: Option<String>,
    pub capture_first: Option<String>,
    pub capture_last: Option<String>,
    /// Inside hosts involved in any incident.
    pub hosts: Vec<String>,
    /// Outside addresses involved.
    pub attackers: Vec<String>,
    /// Bytes inside hosts sent to outside addresses of exfiltration and
    /// beaconing incidents, and to whom.
    pub bytes_out: u64,
    pub bytes_out_to: Vec<String>,
    /// Names the involved hosts looked up (DNS, TLS SNI, HTTP Host).
    pub names: Vec<String>,
    pub alerts: usize,
    pub incidents: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// Bucket width, seconds.
    pub width_s: f64,
    /// (start as ns since the epoch, packets, bytes) per bucket.
    pub points: Vec<(i64, i64, i64)>,
    /// (time ns, category, signature) of each alert (updates too).
    pub alerts: Vec<(i64, String, String)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IncidentReport {
    pub incident: IncidentRow,
    pub first: String,
    pub last: String,
    pub alerts: Vec<AlertRow>,
    pub alerts_total: usize,
    /// Bytes its inside hosts sent to its outside addresses.
    pub bytes_out: u64,
    pub names: Vec<NameRow>,
    pub excerpt: Option<ExcerptRow>,
    pub actions: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub excerpts: Vec<ExcerptRow>,
    /// How a reader checks what this report rests on.
    pub how_to_verify: Vec<String>,
}

/// RFC 3339 UTC with microseconds, as EVE writes times.
pub fn ts(ns: i64) -> String {
    let mut s = String::new();
    vigil_core::push_eve_ts(&mut s, ns.max(0) as u64);
    s
}

/// What to do about an incident, by category, most urgent first.
pub fn actions(i: &IncidentRow) -> Vec<String> {
    let hosts = i.hosts.join(", ");
    let att = i.attackers.join(", ");
    let mut v = Vec::new();
    for c in &i.categories {
        let a: &[String] = &match c.as_str() {
            "exfiltration" => vec![
                format!("Isolate {hosts} from the network now; keep it powered for forensics."),
                format!("Block {att} at the egress firewall and look for other hosts talking to it."),
                "Work out what data left (see the excerpt and the host's logs); start the disclosure clock.".into(),
                format!("Rotate credentials and keys stored on or used from {hosts}."),
            ],
            "beaconing" => vec![
                format!("Isolate {hosts}: periodic calls out look like malware checking in."),
                format!("Block {att} and the names listed below; search every host's DNS for them."),
            ],
            "dns-tunnel" => vec![
                format!("Block the domain(s) listed below at the resolver; isolate {hosts}."),
            ],
            "lateral-movement" => vec![
                format!("Isolate {hosts}; reset the credentials used for the admin sessions."),
                "Review the targets' logs for logins, new services and scheduled tasks.".into(),
            ],
            "bruteforce" => vec![
                format!("Block {att}; check {hosts} for a login that succeeded during the attack."),
                "Enforce MFA or rate limits on the service attacked.".into(),
            ],
            "scan" => vec![format!(
                "Watch or block {att}; check which services on {hosts} answered (see the excerpt)."
            )],
            "dos" => vec![
                format!("Keep the flood off {hosts}: nftables/XDP drop at the edge, or RTBH / FlowSpec upstream."),
                "Look at the incidents marked 'under flood cover' first: the flood may be a diversion.".into(),
            ],
            _ => vec![],
        };
        for x in a {
            if !v.contains(x) {
                v.push(x.clone());
            }
        }
    }
    v
}

fn push_unique(v: &mut Vec<String>, items: &[String]) {
    for i in items {
        if !v.contains(i) {
            v.push(i.clone());
        }
    }
}

/// Builds the report of a run (default: the latest), or of one incident.
///
/// # Errors
/// The store cannot be read, holds no run, or the incident is unknown.
pub fn build(
    store: &Store,
    store_name: &str,
    run: Option<i64>,
    incident: Option<u64>,
) -> Result<Report, Error> {
    let runs = store.runs()?;
    let run_id = match (run, incident) {
        (Some(r), _) => r,
        (None, Some(i)) => store
            .run_of_incident(i)?
            .ok_or_else(|| Error::NotFound(format!("no incident {i} in the store")))?,
        (None, None) => runs
            .last()
            .map(|r| r.id)
            .ok_or_else(|| Error::NotFound("the store holds no run".into()))?,
    };
    let run = runs
        .into_iter()
        .find(|r| r.id == run_id)
        .ok_or_else(|| Error::NotFound(format!("no run {run_id} in the store")))?;
    let mut incidents = store.incidents(&Filter {
        run: Some(run_id),
        incident,
        ..Filter::default()
    })?;
    if let Some(i) = incident {
        if incidents.is_empty() {
            return Err(Error::NotFound(format!("no incident {i} in run {run_id}")));
        }
    }
    incidents.sort_by(|a, b| {
        (a.rank.is_none(), a.rank, -a.score)
            .partial_cmp(&(b.rank.is_none(), b.rank, -b.score))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let excerpts = store.excerpts(run_id)?;
    let names = store.names(run_id)?;
    let all_alerts = store.alerts(&Filter {
        run: Some(run_id),
        ..Filter::default()
    })?;

    let mut out = Vec::new();
    let mut s = Summary {
        headline: Vec::new(),
        first_alert: None,
        last_alert: None,
        capture_first: run.first_ns.map(ts),
        capture_last: run.last_ns.map(ts),
        hosts: Vec::new(),
        attackers: Vec::new(),
        bytes_out: 0,
        bytes_out_to: Vec::new(),
        names: Vec::new(),
        alerts: 0,
        incidents: incidents.len(),
    };
    let mut shown_alerts = Vec::new();
    for i in incidents {
        let alerts = store.alerts(&Filter {
            run: Some(run_id),
            incident: Some(i.id),
            ..Filter::default()
        })?;
        let bytes_out = if i.attackers.is_empty() || i.hosts.is_empty() {
            0
        } else {
            store.bytes_out(
                run_id,
                &i.hosts,
                &i.attackers,
                i.first_ns - 600_000_000_000,
                i.last_ns + 600_000_000_000,
            )?
        };
        let leak = i
            .categories
            .iter()
            .any(|c| c == "exfiltration" || c == "beaconing" || c == "dns-tunnel");
        if leak {
            s.bytes_out += bytes_out;
            push_unique(&mut s.bytes_out_to, &i.attackers);
        }
        push_unique(&mut s.hosts, &i.hosts);
        push_unique(&mut s.attackers, &i.attackers);
        let inames: Vec<NameRow> = names
            .iter()
            .filter(|n| n.incident_id == i.id)
            .take(MAX_NAMES_LISTED)
            .cloned()
            .collect();
        for n in &inames {
            push_unique(&mut s.names, std::slice::from_ref(&n.name));
        }
        shown_alerts.extend(alerts.iter().map(|a| a.id));
        out.push(IncidentReport {
            first: ts(i.first_ns),
            last: ts(i.last_ns),
            alerts_total: alerts.len(),
            alerts: alerts.into_iter().take(MAX_ALERTS_LISTED).collect(),
            bytes_out,
            names: inames,
            excerpt: excerpts.iter().find(|e| e.incident_id == i.id).cloned(),
            actions: actions(&i),
            incident: i,
        });
    }
    let alerts: Vec<&AlertRow> = if incident.is_some() {
        all_alerts
            .iter()
            .filter(|a| shown_alerts.contains(&a.id))
            .collect()
    } else {
        all_alerts.iter().collect()
    };
    s.alerts = alerts.len();
    s.first_alert = alerts.iter().map(|a| a.ts_ns).min().map(ts);
    s.last_alert = alerts.iter().map(|a| a.ts_ns).max().map(ts);
    s.headline = headline(&out, &s);

    let timeline = timeline(store.timeline(run_id)?, &alerts);
    let evidence = Evidence {
        how_to_verify: how_to_verify(&excerpts, store_name),
        excerpts: excerpts
            .into_iter()
            .filter(|e| out.iter().any(|i| i.incident.id == e.incident_id))
            .collect(),
    };
    Ok(Report {
        title: match incident {
            Some(i) => format!("vigil incident report: incident {i}"),
            None => "vigil breach report".into(),
        },
        generated_at: ts(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)),
        store: store_name.into(),
        run,
        summary: s,
        timeline,
        incidents: out,
        evidence,
    })
}

fn human_bytes(b: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Bytes for people (decimal units).
pub fn bytes_text(b: u64) -> String {
    human_bytes(b)
}

fn headline(incidents: &[IncidentReport], s: &Summary) -> Vec<String> {
    let mut h = Vec::new();
    if incidents.is_empty() {
        h.push("No incident: vigil raised no alert in this run.".into());
        return h;
    }
    h.push(format!(
        "{} incident(s) from {} alert(s), between {} and {}.",
        incidents.len(),
        s.alerts,
        s.first_alert.as_deref().unwrap_or("?"),
        s.last_alert.as_deref().unwrap_or("?")
    ));
    for i in incidents.iter().take(3) {
        h.push(format!(
            "#{}: {}{}.",
            i.incident
                .rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            i.incident.summary,
            if i.incident.under_flood_cover && !i.incident.summary.contains("cover") {
                " (under cover of a flood)"
            } else {
                ""
            }
        ));
    }
    if s.bytes_out > 0 {
        h.push(format!(
            "{} left the network to {}.",
            human_bytes(s.bytes_out),
            s.bytes_out_to.join(", ")
        ));
    }
    h
}

fn timeline(buckets: Vec<(i64, i64, i64, i64)>, alerts: &[&AlertRow]) -> Timeline {
    let width0 = buckets.first().map_or(1_000_000_000, |b| b.1.max(1));
    let (start, end) = match (buckets.first(), buckets.last()) {
        (Some(f), Some(l)) => (f.0, l.0 + width0),
        _ => (0, 0),
    };
    // merge into at most MAX_POINTS buckets of equal width, gaps as zeros
    let span = (end - start).max(1);
    let mut width = width0;
    while span / width > MAX_POINTS as i64 {
        width *= 2;
    }
    let n = ((span + width - 1) / width).max(0) as usize;
    let mut points: Vec<(i64, i64, i64)> =
        (0..n).map(|k| (start + k as i64 * width, 0, 0)).collect();
    for (b, _, p, by) in buckets {
        let k = ((b - start) / width) as usize;
        if let Some(pt) = points.get_mut(k) {
            pt.1 += p;
            pt.2 += by;
        }
    }
    Timeline {
        width_s: width as f64 / 1e9,
        points,
        alerts: alerts
            .iter()
            .map(|a| (a.ts_ns, a.category.clone(), a.signature.clone()))
            .collect(),
    }
}

fn how_to_verify(excerpts: &[ExcerptRow], store: &str) -> Vec<String> {
    let mut v = vec![
        "Check the evidence log's hash chain: `vigil verify EVIDENCE.jsonl` (the log given to `vigil analyze --evidence`); it names the first broken record if any was altered, removed or reordered.".to_string(),
        format!("Check the store itself: `sqlite3 {store} 'PRAGMA integrity_check'` (prints ok)."),
    ];
    if !excerpts.is_empty() {
        v.push("Check each excerpt against its hash: `sha256sum FILE` must print the hash listed, which is also recorded in the evidence log (kind \"excerpt\"). Open it with `tshark -r FILE` or Wireshark.".into());
    }
    v
}

/// Minimal HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(bytes_text(999), "999 B");
        assert_eq!(bytes_text(15_000_000), "15.0 MB");
    }
}
