//! Reading the store back: the rows `vigil query` prints and `vigil report`
//! reads, with one [`Filter`] shape for all of them.

use rusqlite::types::Value;
use serde::Serialize;

use crate::{Result, Store};

/// What to select. Every field is optional; given fields must all match.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this run; `None`: every run.
    pub run: Option<i64>,
    /// An address on either side.
    pub ip: Option<String>,
    /// Capture time range, ns since the epoch, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Alert / incident category slug ("scan", "dos", ...).
    pub category: Option<String>,
    /// Alerts joined to this incident; flows between its hosts and attackers.
    pub incident: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub command: String,
    pub inputs: Vec<String>,
    pub home_net: Vec<String>,
    pub version: String,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub packets: Option<i64>,
    pub bytes: Option<i64>,
    pub flows: Option<i64>,
    pub alerts: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FlowRow {
    pub run_id: i64,
    pub flow_id: u64,
    pub proto: u8,
    pub src_ip: String,
    pub src_port: u16,
    pub dest_ip: String,
    pub dest_port: u16,
    pub start_ns: i64,
    pub end_ns: i64,
    pub pkts_toserver: i64,
    pub pkts_toclient: i64,
    pub bytes_toserver: i64,
    pub bytes_toclient: i64,
    pub app_proto: Option<String>,
    pub state: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub run_id: i64,
    pub ts_ns: i64,
    pub category: String,
    pub signature_id: u32,
    pub signature: String,
    pub severity: u8,
    pub src_ip: Option<String>,
    pub src_port: Option<u16>,
    pub dest_ip: Option<String>,
    pub dest_port: Option<u16>,
    pub proto: Option<u8>,
    pub update: u32,
    pub metrics: serde_json::Value,
    pub flow_ids: Vec<u64>,
    /// A flood's few real sources, busiest first.
    pub sources: Vec<String>,
}

/// An incident as stored (and as the cli builds it from the correlator's).
#[derive(Clone, Debug, Default, Serialize)]
pub struct IncidentRow {
    pub run_id: i64,
    pub id: u64,
    pub rank: Option<u32>,
    pub first_ns: i64,
    pub last_ns: i64,
    pub categories: Vec<String>,
    pub hosts: Vec<String>,
    pub attackers: Vec<String>,
    pub alerts: u32,
    pub severity: u8,
    pub under_flood_cover: bool,
    pub cover_id: Option<u64>,
    pub score: f64,
    pub summary: String,
    pub merged: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExcerptRow {
    pub run_id: i64,
    pub incident_id: u64,
    pub path: String,
    pub sha256: String,
    pub packets: u64,
    pub bytes: u64,
    pub truncated: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct NameRow {
    pub run_id: i64,
    pub incident_id: u64,
    pub host: String,
    /// "dns", "tls_sni" or "http_host".
    pub kind: String,
    pub name: String,
    pub count: u64,
}

fn json_vec<T: serde::de::DeserializeOwned>(s: String) -> Vec<T> {
    serde_json::from_str(&s).unwrap_or_default()
}

/// A WHERE clause built from a filter, with its parameters.
struct Where {
    sql: String,
    params: Vec<Value>,
}

impl Where {
    fn new() -> Self {
        Where {
            sql: " WHERE 1=1".into(),
            params: Vec::new(),
        }
    }
    fn and(&mut self, clause: &str, vals: impl IntoIterator<Item = Value>) {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
        self.params.extend(vals);
    }
    fn limit(&mut self, order: &str, limit: Option<u64>) {
        self.sql.push_str(" ORDER BY ");
        self.sql.push_str(order);
        if let Some(n) = limit {
            self.sql.push_str(&format!(" LIMIT {n}"));
        }
    }
}

impl Store {
    /// Every run, oldest first.
    ///
    /// # Errors
    /// SQLite's.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, started_at, finished_at, status, command, inputs, home_net, version, first_ns, last_ns,
             packets, bytes, flows, alerts FROM runs ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(RunRow {
                id: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                status: r.get(3)?,
                command: r.get(4)?,
                inputs: json_vec(r.get(5)?),
                home_net: json_vec(r.get(6)?),
                version: r.get(7)?,
                first_ns: r.get(8)?,
                last_ns: r.get(9)?,
                packets: r.get(10)?,
                bytes: r.get(11)?,
                flows: r.get(12)?,
                alerts: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The run an incident id belongs to (the latest run holding it).
    ///
    /// # Errors
    /// SQLite's.
    pub fn run_of_incident(&self, id: u64) -> Result<Option<i64>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row(
                "SELECT MAX(run_id) FROM incidents WHERE id = ?1",
                [id as i64],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Alerts matching `f`, in time order.
    ///
    /// # Errors
    /// SQLite's.
    pub fn alerts(&self, f: &Filter) -> Result<Vec<AlertRow>> {
        let mut w = Where::new();
        if let Some(r) = f.run {
            w.and("a.run_id = ?", [Value::Integer(r)]);
        }
        if let Some(ip) = &f.ip {
            w.and(
                "(a.src_ip = ? OR a.dest_ip = ?)",
                [Value::Text(ip.clone()), Value::Text(ip.clone())],
            );
        }
        if let Some(t) = f.since {
            w.and("a.ts_ns >= ?", [Value::Integer(t)]);
        }
        if let Some(t) = f.until {
            w.and("a.ts_ns <= ?", [Value::Integer(t)]);
        }
        if let Some(c) = &f.category {
            w.and("a.category = ?", [Value::Text(c.clone())]);
        }
        if let Some(i) = f.incident {
            w.and(
                "a.id IN (SELECT alert_id FROM incident_alerts x WHERE x.incident_id = ? AND x.run_id = a.run_id)",
                [Value::Integer(i as i64)],
            );
        }
        w.limit("a.ts_ns, a.id", f.limit);
        let sql = format!(
            "SELECT a.id, a.run_id, a.ts_ns, a.category, a.signature_id, a.signature, a.severity, a.src_ip, a.src_port,
             a.dest_ip, a.dest_port, a.proto, a.update_n, a.metrics, a.flow_ids, a.sources FROM alerts a{}",
            w.sql
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(w.params.iter()), |r| {
            Ok(AlertRow {
                id: r.get(0)?,
                run_id: r.get(1)?,
                ts_ns: r.get(2)?,
                category: r.get(3)?,
                signature_id: r.get(4)?,
                signature: r.get(5)?,
                severity: r.get(6)?,
                src_ip: r.get(7)?,
                src_port: r.get(8)?,
                dest_ip: r.get(9)?,
                dest_port: r.get(10)?,
                proto: r.get(11)?,
                update: r.get(12)?,
                metrics: serde_json::from_str(&r.get::<_, String>(13)?)
                    .unwrap_or(serde_json::Value::Null),
                flow_ids: json_vec(r.get(14)?),
                sources: json_vec(r.get(15)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Incidents matching `f`, ranked (best first) within each run.
    ///
    /// # Errors
    /// SQLite's.
    pub fn incidents(&self, f: &Filter) -> Result<Vec<IncidentRow>> {
        let mut w = Where::new();
        if let Some(r) = f.run {
            w.and("run_id = ?", [Value::Integer(r)]);
        }
        if let Some(ip) = &f.ip {
            // hosts and attackers are JSON arrays of strings
            let quoted = Value::Text(format!("%\"{ip}\"%"));
            w.and(
                "(hosts LIKE ? OR attackers LIKE ?)",
                [quoted.clone(), quoted],
            );
        }
        if let Some(t) = f.since {
            w.and("last_ns >= ?", [Value::Integer(t)]);
        }
        if let Some(t) = f.until {
            w.and("first_ns <= ?", [Value::Integer(t)]);
        }
        if let Some(c) = &f.category {
            w.and("categories LIKE ?", [Value::Text(format!("%\"{c}\"%"))]);
        }
        if let Some(i) = f.incident {
            w.and("id = ?", [Value::Integer(i as i64)]);
        }
        w.limit("run_id, rank IS NULL, rank, score DESC, first_ns", f.limit);
        let sql = format!(
            "SELECT run_id, id, rank, first_ns, last_ns, categories, hosts, attackers, alerts, severity,
             under_flood_cover, cover_id, score, summary, merged FROM incidents{}",
            w.sql
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(w.params.iter()), |r| {
            Ok(IncidentRow {
                run_id: r.get(0)?,
                id: r.get::<_, i64>(1)? as u64,
                rank: r.get(2)?,
                first_ns: r.get(3)?,
                last_ns: r.get(4)?,
                categories: json_vec(r.get(5)?),
                hosts: json_vec(r.get(6)?),
                attackers: json_vec(r.get(7)?),
                alerts: r.get(8)?,
                severity: r.get(9)?,
                under_flood_cover: r.get(10)?,
                cover_id: r.get::<_, Option<i64>>(11)?.map(|c| c as u64),
                score: r.get(12)?,
                summary: r.get(13)?,
                merged: json_vec(r.get(14)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Flows matching `f`, in start order. With `incident`, the flows
    /// between that incident's hosts and attackers (or, with no attackers,
    /// of its hosts) during it.
    ///
    /// # Errors
    /// SQLite's.
    pub fn flows(&self, f: &Filter) -> Result<Vec<FlowRow>> {
        let mut w = Where::new();
        if let Some(r) = f.run {
            w.and("run_id = ?", [Value::Integer(r)]);
        }
        if let Some(ip) = &f.ip {
            w.and(
                "(src_ip = ? OR dest_ip = ?)",
                [Value::Text(ip.clone()), Value::Text(ip.clone())],
            );
        }
        if let Some(t) = f.since {
            w.and("end_ns >= ?", [Value::Integer(t)]);
        }
        if let Some(t) = f.until {
            w.and("start_ns <= ?", [Value::Integer(t)]);
        }
        if let Some(id) = f.incident {
            let inc = self.incidents(&Filter {
                run: f.run,
                incident: Some(id),
                limit: Some(1),
                ..Filter::default()
            })?;
            let Some(inc) = inc.into_iter().next() else {
                return Ok(Vec::new());
            };
            w.and("run_id = ?", [Value::Integer(inc.run_id)]);
            let list = |v: &[String]| {
                let mut s = String::from("(");
                for (i, _) in v.iter().enumerate() {
                    s.push_str(if i == 0 { "?" } else { ",?" });
                }
                s.push(')');
                s
            };
            let hosts: Vec<Value> = inc.hosts.iter().cloned().map(Value::Text).collect();
            let att: Vec<Value> = inc.attackers.iter().cloned().map(Value::Text).collect();
            if inc.hosts.is_empty() && inc.attackers.is_empty() {
                return Ok(Vec::new());
            } else if inc.attackers.is_empty() || inc.hosts.is_empty() {
                let (v, vals) = if inc.attackers.is_empty() {
                    (&inc.hosts, hosts)
                } else {
                    (&inc.attackers, att)
                };
                let l = list(v);
                w.and(
                    &format!("(src_ip IN {l} OR dest_ip IN {l})"),
                    vals.iter().cloned().chain(vals.iter().cloned()),
                );
            } else {
                let (lh, la) = (list(&inc.hosts), list(&inc.attackers));
                w.and(
                    &format!("((src_ip IN {lh} AND dest_ip IN {la}) OR (src_ip IN {la} AND dest_ip IN {lh}))"),
                    hosts
                        .iter()
                        .cloned()
                        .chain(att.iter().cloned())
                        .chain(att.iter().cloned())
                        .chain(hosts.iter().cloned()),
                );
            }
            // a little before and after the alerts: the flows that led to them
            w.and(
                "end_ns >= ? AND start_ns <= ?",
                [
                    Value::Integer(inc.first_ns.saturating_sub(600 * 1_000_000_000)),
                    Value::Integer(inc.last_ns.saturating_add(600 * 1_000_000_000)),
                ],
            );
        }
        w.limit("start_ns, id", f.limit);
        let sql = format!(
            "SELECT run_id, flow_id, proto, src_ip, src_port, dest_ip, dest_port, start_ns, end_ns, pkts_toserver,
             pkts_toclient, bytes_toserver, bytes_toclient, app_proto, state, reason FROM flows{}",
            w.sql
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(w.params.iter()), |r| {
            Ok(FlowRow {
                run_id: r.get(0)?,
                flow_id: r.get::<_, i64>(1)? as u64,
                proto: r.get(2)?,
                src_ip: r.get(3)?,
                src_port: r.get(4)?,
                dest_ip: r.get(5)?,
                dest_port: r.get(6)?,
                start_ns: r.get(7)?,
                end_ns: r.get(8)?,
                pkts_toserver: r.get(9)?,
                pkts_toclient: r.get(10)?,
                bytes_toserver: r.get(11)?,
                bytes_toclient: r.get(12)?,
                app_proto: r.get(13)?,
                state: r.get(14)?,
                reason: r.get(15)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A run's traffic per time bucket: (bucket start ns, width ns, packets,
    /// bytes), in time order.
    ///
    /// # Errors
    /// SQLite's.
    pub fn timeline(&self, run: i64) -> Result<Vec<(i64, i64, i64, i64)>> {
        let mut st = self.conn.prepare(
            "SELECT bucket_ns, width_ns, pkts, bytes FROM timeline WHERE run_id = ?1 ORDER BY bucket_ns",
        )?;
        let rows = st.query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Excerpts kept for a run (all its incidents).
    ///
    /// # Errors
    /// SQLite's.
    pub fn excerpts(&self, run: i64) -> Result<Vec<ExcerptRow>> {
        let mut st = self.conn.prepare(
            "SELECT run_id, incident_id, path, sha256, packets, bytes, truncated FROM excerpts WHERE run_id = ?1
             ORDER BY incident_id",
        )?;
        let rows = st.query_map([run], |r| {
            Ok(ExcerptRow {
                run_id: r.get(0)?,
                incident_id: r.get::<_, i64>(1)? as u64,
                path: r.get(2)?,
                sha256: r.get(3)?,
                packets: r.get::<_, i64>(4)? as u64,
                bytes: r.get::<_, i64>(5)? as u64,
                truncated: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Names seen around a run's incidents, most frequent first.
    ///
    /// # Errors
    /// SQLite's.
    pub fn names(&self, run: i64) -> Result<Vec<NameRow>> {
        let mut st = self.conn.prepare(
            "SELECT run_id, incident_id, host, kind, name, count FROM names WHERE run_id = ?1
             ORDER BY incident_id, count DESC, name",
        )?;
        let rows = st.query_map([run], |r| {
            Ok(NameRow {
                run_id: r.get(0)?,
                incident_id: r.get::<_, i64>(1)? as u64,
                host: r.get(2)?,
                kind: r.get(3)?,
                name: r.get(4)?,
                count: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Bytes that left from `hosts` to `peers` during [since, until]: what
    /// the hosts sent in flows between the two sides (client → server bytes
    /// when a host was the client, server → client when it was the server).
    ///
    /// # Errors
    /// SQLite's.
    pub fn bytes_out(
        &self,
        run: i64,
        hosts: &[String],
        peers: &[String],
        since: i64,
        until: i64,
    ) -> Result<u64> {
        let mut total = 0i64;
        let mut st = self.conn.prepare_cached(
            "SELECT COALESCE(SUM(CASE WHEN src_ip = ?2 THEN bytes_toserver ELSE bytes_toclient END), 0) FROM flows
             WHERE run_id = ?1 AND ((src_ip = ?2 AND dest_ip = ?3) OR (src_ip = ?3 AND dest_ip = ?2))
             AND end_ns >= ?4 AND start_ns <= ?5",
        )?;
        for h in hosts {
            for p in peers {
                total += st.query_row(rusqlite::params![run, h, p, since, until], |r| {
                    r.get::<_, i64>(0)
                })?;
            }
        }
        Ok(total.max(0) as u64)
    }
}
