//! The run writer: rows in on the analyzer's thread, batched transactions on
//! a thread of its own.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};
use vigil_core::{Alert, FlowRecord, ShedAggregate, NANOS_PER_SEC};

use crate::{now_text, Error, IncidentRow, Result, RunTotals};

/// Rows per batch (one transaction each): large enough that commits cost
/// little, small enough that a kill loses little.
pub const BATCH_ROWS: usize = 8192;
/// Batches queued to the writer thread before the analyzer waits.
pub const CHANNEL_DEPTH: usize = 16;
/// A partly filled batch holding an alert or incident is sent at the next
/// tick, and any other partly filled batch after this long (wall clock), so
/// a live sensor's store is never far behind.
const MAX_HOLD: Duration = Duration::from_secs(1);
/// Most timeline buckets kept; past it buckets double in width (a run of
/// about 12 days at one-second buckets).
const MAX_BUCKETS: usize = 1 << 20;

/// One row for the store.
pub enum Msg {
    Flow(Box<FlowRecord>),
    Aggregate(ShedAggregate),
    /// An alert and its update number (0 for the first).
    Alert(Box<Alert>, u32),
    /// An incident, new or changed. `from_last_alert`: it changed because of
    /// the alert sent just before (links the two).
    Incident(Box<IncidentRow>, bool),
}

enum Batch {
    Rows(Vec<Msg>),
    Finish(RunTotals),
}

/// Writes one run's rows (see the crate docs).
pub struct Writer {
    run_id: i64,
    pending: Vec<Msg>,
    urgent: bool,
    last_send: Instant,
    tx: Option<SyncSender<Batch>>,
    thread: Option<JoinHandle<Result<u64>>>,
}

impl Writer {
    pub(crate) fn spawn(conn: Connection, run_id: i64) -> Result<Writer> {
        let (tx, rx) = sync_channel::<Batch>(CHANNEL_DEPTH);
        let thread = std::thread::Builder::new()
            .name("vigil-store".into())
            .spawn(move || writer_thread(conn, run_id, rx))
            .map_err(|e| Error::Other(e.to_string()))?;
        Ok(Writer {
            run_id,
            pending: Vec::with_capacity(BATCH_ROWS),
            urgent: false,
            last_send: Instant::now(),
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// The run's id in the `runs` table.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Queues a row; sends a full batch.
    ///
    /// # Errors
    /// The writer thread failed (its error).
    pub fn push(&mut self, m: Msg) -> Result<()> {
        self.urgent |= matches!(m, Msg::Alert(..) | Msg::Incident(..));
        self.pending.push(m);
        if self.pending.len() >= BATCH_ROWS {
            self.send()?;
        }
        Ok(())
    }

    /// Sends a partly filled batch if it holds an alert or incident, or has
    /// waited long enough.
    ///
    /// # Errors
    /// The writer thread failed.
    pub fn tick(&mut self) -> Result<()> {
        if !self.pending.is_empty() && (self.urgent || self.last_send.elapsed() >= MAX_HOLD) {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        let rows = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ROWS));
        self.urgent = false;
        self.last_send = Instant::now();
        let ok = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Batch::Rows(rows)).is_ok());
        if ok {
            Ok(())
        } else {
            Err(self.join_error())
        }
    }

    fn join_error(&mut self) -> Error {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => Error::WriterGone("panicked".into()),
            _ => Error::WriterGone("gone".into()),
        }
    }

    /// Writes what is left, the timeline and the run's totals; returns the
    /// rows written.
    ///
    /// # Errors
    /// The first write that failed.
    pub fn finish(mut self, totals: RunTotals) -> Result<u64> {
        if !self.pending.is_empty() {
            self.send()?;
        }
        let Some(tx) = self.tx.take() else {
            return Err(self.join_error());
        };
        let _ = tx.send(Batch::Finish(totals));
        drop(tx);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::WriterGone("panicked".into())),
            None => Err(Error::WriterGone("gone".into())),
        }
    }
}

/// Traffic per time bucket, from flows and aggregates spread evenly over
/// their span.
struct Timeline {
    width: u64,
    buckets: HashMap<u64, (u64, u64)>,
    /// Buckets changed since they were last written.
    dirty: std::collections::HashSet<u64>,
    /// The width changed: every row of the run is rewritten.
    rewrite: bool,
}

/// Wall time between timeline writes during a run (and at every batch with
/// an alert), so a run that is killed still leaves its traffic chart up to
/// its last alert.
const TIMELINE_EVERY: Duration = Duration::from_secs(2);

impl Timeline {
    /// Spreads `pkts` and `bytes` evenly (in whole units, so totals are
    /// exact) over the buckets from `start` to `end`.
    fn add(&mut self, start: u64, end: u64, pkts: u64, bytes: u64) {
        let end = end.max(start);
        let first = start / self.width;
        let last = end / self.width;
        // a span longer than the bound is folded into its ends' buckets
        // rather than walked bucket by bucket
        let folded = last - first > MAX_BUCKETS as u64;
        let n = if folded { 2 } else { last - first + 1 };
        for i in 0..n {
            let b = if folded && i == 1 { last } else { first + i };
            let share = |v: u64| v / n + u64::from(i < v % n);
            let e = self.buckets.entry(b * self.width).or_default();
            e.0 += share(pkts);
            e.1 += share(bytes);
            if self.dirty.len() <= MAX_BUCKETS {
                self.dirty.insert(b * self.width);
            } else {
                self.rewrite = true;
            }
        }
        while self.buckets.len() > MAX_BUCKETS {
            self.width *= 2;
            self.rewrite = true;
            let old = std::mem::take(&mut self.buckets);
            for (k, (p, b)) in old {
                let e = self.buckets.entry(k / self.width * self.width).or_default();
                e.0 += p;
                e.1 += b;
            }
        }
    }
}

/// SQLite page cache of the writer, KiB: the indexes of a large run stay
/// in memory instead of being spilled and read back (measured: with the
/// 2 MiB default the writer spent most of its time re-reading index pages).
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages between automatic checkpoints while a run writes (SQLite's
/// default is 1000); the run's end checkpoints whatever is left.
const WRITER_AUTOCHECKPOINT: i64 = 16_384;

fn writer_thread(mut conn: Connection, run_id: i64, rx: Receiver<Batch>) -> Result<u64> {
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let mut timeline = Timeline {
        width: NANOS_PER_SEC,
        buckets: HashMap::new(),
        dirty: std::collections::HashSet::new(),
        rewrite: false,
    };
    let mut timeline_at = Instant::now();
    let mut last_alert: Option<i64> = None;
    let mut rows = 0u64;
    let mut alerts = 0u64;
    let mut flows = 0u64;
    for batch in rx {
        match batch {
            Batch::Rows(msgs) => {
                let tx = conn.transaction()?;
                for m in &msgs {
                    write_row(
                        &tx,
                        run_id,
                        m,
                        &mut last_alert,
                        &mut timeline,
                        &mut alerts,
                        &mut flows,
                    )?;
                }
                // kept current with every committed alert, and every few
                // seconds otherwise
                let alerting = msgs
                    .iter()
                    .any(|m| matches!(m, Msg::Alert(..) | Msg::Incident(..)));
                if alerting || timeline_at.elapsed() >= TIMELINE_EVERY {
                    write_timeline(&tx, run_id, &mut timeline)?;
                    timeline_at = Instant::now();
                }
                tx.commit()?;
                rows += msgs.len() as u64;
            }
            Batch::Finish(t) => {
                let tx = conn.transaction()?;
                write_timeline(&tx, run_id, &mut timeline)?;
                finish_run(&tx, run_id, &t, flows, alerts)?;
                tx.commit()?;
                let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
                break;
            }
        }
    }
    Ok(rows)
}

fn addr_text(a: Option<vigil_core::Addr>) -> Option<String> {
    a.map(|a| a.to_string())
}

fn write_row(
    tx: &Transaction,
    run_id: i64,
    m: &Msg,
    last_alert: &mut Option<i64>,
    timeline: &mut Timeline,
    alerts: &mut u64,
    flows: &mut u64,
) -> Result<()> {
    match m {
        Msg::Flow(r) => {
            *flows += 1;
            let mut st = tx.prepare_cached(
                "INSERT INTO flows (run_id, flow_id, proto, src_ip, src_port, dest_ip, dest_port, start_ns, end_ns,
                 pkts_toserver, pkts_toclient, bytes_toserver, bytes_toclient, app_proto, state, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            st.execute(params![
                run_id,
                r.flow_id as i64,
                r.proto,
                r.client.to_string(),
                r.cport,
                r.server.to_string(),
                r.sport,
                r.start as i64,
                r.end as i64,
                r.toserver.pkts as i64,
                r.toclient.pkts as i64,
                r.toserver.bytes as i64,
                r.toclient.bytes as i64,
                r.app_proto,
                r.state.name(),
                r.reason.name(),
            ])?;
            timeline.add(
                r.start,
                r.end,
                r.toserver.pkts + r.toclient.pkts,
                r.toserver.bytes + r.toclient.bytes,
            );
        }
        Msg::Aggregate(a) => {
            let mut st = tx.prepare_cached(
                "INSERT INTO aggregates (run_id, dest_ip, proto, flows, pkts, bytes, first_ns, last_ns, dest_ports)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            st.execute(params![
                run_id,
                addr_text(a.dest),
                a.proto,
                a.flows as i64,
                a.pkts as i64,
                a.bytes as i64,
                a.first as i64,
                a.last as i64,
                a.dest_ports,
            ])?;
            timeline.add(a.first, a.last, a.pkts, a.bytes);
        }
        Msg::Alert(a, update) => {
            *alerts += 1;
            let metrics: serde_json::Map<String, serde_json::Value> = a
                .metrics
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::json!(v)))
                .collect();
            let mut st = tx.prepare_cached(
                "INSERT INTO alerts (run_id, ts_ns, category, signature_id, signature, severity, src_ip, src_port,
                 dest_ip, dest_port, proto, update_n, metrics, flow_ids, sources)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            st.execute(params![
                run_id,
                a.ts as i64,
                a.category.slug(),
                a.signature_id,
                a.signature,
                a.severity,
                addr_text(a.src),
                a.src_port,
                addr_text(a.dst),
                a.dest_port,
                a.proto,
                update,
                serde_json::Value::Object(metrics).to_string(),
                serde_json::to_string(&a.flow_ids).unwrap_or_default(),
                serde_json::to_string(&a.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            ])?;
            *last_alert = Some(tx.last_insert_rowid());
        }
        Msg::Incident(i, from_last) => {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO incidents (run_id, id, rank, first_ns, last_ns, categories, hosts, attackers,
                 alerts, severity, under_flood_cover, cover_id, score, summary, merged)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?;
            st.execute(params![
                run_id,
                i.id as i64,
                i.rank,
                i.first_ns,
                i.last_ns,
                serde_json::to_string(&i.categories).unwrap_or_default(),
                serde_json::to_string(&i.hosts).unwrap_or_default(),
                serde_json::to_string(&i.attackers).unwrap_or_default(),
                i.alerts,
                i.severity,
                i.under_flood_cover,
                i.cover_id.map(|c| c as i64),
                i.score,
                i.summary,
                serde_json::to_string(&i.merged).unwrap_or_default(),
            ])?;
            if let (true, Some(alert)) = (*from_last, *last_alert) {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO incident_alerts (run_id, incident_id, alert_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![run_id, i.id as i64, alert])?;
            }
            // alerts of incidents merged into this one now belong to it
            for m in &i.merged {
                tx.prepare_cached(
                    "UPDATE OR IGNORE incident_alerts SET incident_id = ?2 WHERE run_id = ?1 AND incident_id = ?3",
                )?
                .execute(params![run_id, i.id as i64, *m as i64])?;
                tx.prepare_cached(
                    "DELETE FROM incident_alerts WHERE run_id = ?1 AND incident_id = ?2",
                )?
                .execute(params![run_id, *m as i64])?;
                tx.prepare_cached("DELETE FROM incidents WHERE run_id = ?1 AND id = ?2")?
                    .execute(params![run_id, *m as i64])?;
            }
        }
    }
    Ok(())
}

/// Writes the buckets changed since the last call (all of them after a
/// width change).
fn write_timeline(tx: &Transaction, run_id: i64, t: &mut Timeline) -> Result<()> {
    if t.rewrite {
        tx.execute("DELETE FROM timeline WHERE run_id = ?1", [run_id])?;
        t.dirty = t.buckets.keys().copied().collect();
        t.rewrite = false;
    }
    let mut st = tx.prepare_cached(
        "INSERT OR REPLACE INTO timeline (run_id, bucket_ns, width_ns, pkts, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for b in t.dirty.drain() {
        let (p, by) = t.buckets.get(&b).copied().unwrap_or_default();
        st.execute(params![
            run_id,
            b as i64,
            t.width as i64,
            p as i64,
            by as i64
        ])?;
    }
    Ok(())
}

fn finish_run(tx: &Transaction, run_id: i64, t: &RunTotals, flows: u64, alerts: u64) -> Result<()> {
    tx.execute(
        "UPDATE runs SET finished_at = ?2, status = ?3, first_ns = ?4, last_ns = ?5, packets = ?6, bytes = ?7,
         flows = ?8, alerts = ?9 WHERE id = ?1",
        params![
            run_id,
            now_text(),
            t.status,
            t.first_ns,
            t.last_ns,
            t.packets as i64,
            t.bytes as i64,
            flows as i64,
            alerts as i64
        ],
    )?;
    Ok(())
}
