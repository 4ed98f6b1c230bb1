//! vigil's embedded store: one SQLite file (WAL) holding runs, flows, shed
//! aggregates, alerts, incidents, a per-second traffic timeline, the pcap
//! excerpts kept as evidence and the names seen around each incident.
//!
//! Choices:
//! - **Versioned migrations** in [`MIGRATIONS`], applied in order and
//!   recorded in `PRAGMA user_version`; a file written by a newer vigil is
//!   refused rather than misread.
//! - **Batched writes on their own thread** ([`Writer`]): the analyzer hands
//!   rows over a bounded channel ([`CHANNEL_DEPTH`] batches of at most
//!   [`BATCH_ROWS`] rows); the writer thread commits one transaction per
//!   batch with cached statements. When SQLite cannot keep up, the channel
//!   fills and the analyzer waits: rows are never dropped.
//! - **Crash safety**: WAL with `synchronous=NORMAL`. A run killed mid-way
//!   loses at most the batches not yet committed; the file still opens, its
//!   run row says `running` (never `finished`), and everything committed
//!   before the kill is queryable.
//! - Addresses are stored as text (what a person types in `vigil query
//!   --ip`), times as integer nanoseconds since the epoch (capture time).
#![forbid(unsafe_code)]

mod query;
mod writer;

pub use query::{AlertRow, ExcerptRow, Filter, FlowRow, IncidentRow, NameRow, RunRow};
pub use writer::{Msg, Writer, BATCH_ROWS, CHANNEL_DEPTH};

use std::path::Path;

use rusqlite::Connection;

/// Store errors: SQLite's, or a file this vigil cannot use.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    #[error("store schema version {found} is newer than this vigil understands ({known})")]
    TooNew { found: i64, known: i64 },
    #[error("store writer thread stopped: {0}")]
    WriterGone(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Schema migrations, in order; migration `i` brings `user_version` from `i`
/// to `i + 1`. Never edit a released one: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        command TEXT NOT NULL,
        inputs TEXT NOT NULL,
        home_net TEXT NOT NULL,
        version TEXT NOT NULL,
        first_ns INTEGER,
        last_ns INTEGER,
        packets INTEGER,
        bytes INTEGER,
        flows INTEGER,
        alerts INTEGER
    );
    CREATE TABLE flows (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        flow_id INTEGER NOT NULL,
        proto INTEGER NOT NULL,
        src_ip TEXT NOT NULL,
        src_port INTEGER NOT NULL,
        dest_ip TEXT NOT NULL,
        dest_port INTEGER NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        pkts_toserver INTEGER NOT NULL,
        pkts_toclient INTEGER NOT NULL,
        bytes_toserver INTEGER NOT NULL,
        bytes_toclient INTEGER NOT NULL,
        app_proto TEXT,
        state TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX flows_src ON flows(src_ip, start_ns);
    CREATE INDEX flows_dest ON flows(dest_ip, start_ns);
    CREATE TABLE aggregates (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        dest_ip TEXT,
        proto INTEGER NOT NULL,
        flows INTEGER NOT NULL,
        pkts INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        first_ns INTEGER NOT NULL,
        last_ns INTEGER NOT NULL,
        dest_ports INTEGER NOT NULL
    );
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        ts_ns INTEGER NOT NULL,
        category TEXT NOT NULL,
        signature_id INTEGER NOT NULL,
        signature TEXT NOT NULL,
        severity INTEGER NOT NULL,
        src_ip TEXT,
        src_port INTEGER,
        dest_ip TEXT,
        dest_port INTEGER,
        proto INTEGER,
        update_n INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        flow_ids TEXT NOT NULL
    );
    CREATE INDEX alerts_time ON alerts(run_id, ts_ns);
    CREATE TABLE incidents (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        id INTEGER NOT NULL,
        rank INTEGER,
        first_ns INTEGER NOT NULL,
        last_ns INTEGER NOT NULL,
        categories TEXT NOT NULL,
        hosts TEXT NOT NULL,
        attackers TEXT NOT NULL,
        alerts INTEGER NOT NULL,
        severity INTEGER NOT NULL,
        under_flood_cover INTEGER NOT NULL,
        cover_id INTEGER,
        score REAL NOT NULL,
        summary TEXT NOT NULL,
        merged TEXT NOT NULL,
        PRIMARY KEY (run_id, id)
    );
    CREATE TABLE incident_alerts (
        run_id INTEGER NOT NULL,
        incident_id INTEGER NOT NULL,
        alert_id INTEGER NOT NULL,
        PRIMARY KEY (run_id, incident_id, alert_id)
    );
    CREATE TABLE timeline (
        run_id INTEGER NOT NULL,
        bucket_ns INTEGER NOT NULL,
        width_ns INTEGER NOT NULL,
        pkts INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (run_id, bucket_ns)
    );
    CREATE TABLE excerpts (
        run_id INTEGER NOT NULL,
        incident_id INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        packets INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        truncated INTEGER NOT NULL,
        PRIMARY KEY (run_id, incident_id)
    );
    CREATE TABLE names (
        run_id INTEGER NOT NULL,
        incident_id INTEGER NOT NULL,
        host TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (run_id, incident_id, host, kind, name)
    );",
    // 2: the sources a flood alert names (few real attackers)
    "ALTER TABLE alerts ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';",
];

/// Schema version this vigil writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// An open store (reads, and the small writes done outside a run).
pub struct Store {
    pub(crate) conn: Connection,
}

/// What a run was, for its `runs` row.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// "analyze" or "run".
    pub command: String,
    pub inputs: Vec<String>,
    pub home_net: Vec<String>,
}

/// Totals written to a run's row when it ends.
#[derive(Clone, Debug, Default)]
pub struct RunTotals {
    pub first_ns: Option<i64>,
    pub last_ns: i64,
    pub packets: u64,
    pub bytes: u64,
    /// "finished", or "failed: ..." for a capture that broke mid-way.
    pub status: String,
}

pub(crate) fn now_text() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut s = String::new();
    vigil_core::push_eve_ts(&mut s, d.as_nanos() as u64);
    s
}

pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v > schema_version() {
        return Err(Error::TooNew {
            found: v,
            known: schema_version(),
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(m)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) and migrates a store.
    ///
    /// # Errors
    /// Not a SQLite file, unwritable, or a schema newer than this vigil.
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// Opens an existing store for reading only (`vigil query`, `vigil
    /// report`): a missing file is an error, not a new empty store.
    ///
    /// # Errors
    /// Missing or not a vigil store.
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Error::Other(format!("{}: no such store", path.display())));
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v == 0 {
            return Err(Error::Other(format!(
                "{}: not a vigil store (no schema)",
                path.display()
            )));
        }
        migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// SQLite's own consistency check: "ok" or the problems found.
    ///
    /// # Errors
    /// The check could not run.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Starts a run: inserts its row and returns the writer that fills it.
    ///
    /// # Errors
    /// The run row could not be written.
    pub fn begin_run(path: &Path, info: &RunInfo) -> Result<Writer> {
        let store = Store::open(path)?;
        store.conn.execute(
            "INSERT INTO runs (started_at, command, inputs, home_net, version) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                now_text(),
                info.command,
                serde_json::to_string(&info.inputs).unwrap_or_default(),
                serde_json::to_string(&info.home_net).unwrap_or_default(),
                env!("CARGO_PKG_VERSION"),
            ],
        )?;
        let run_id = store.conn.last_insert_rowid();
        Writer::spawn(store.conn, run_id)
    }

    /// Sets a finished run's capture totals and status (known to the caller
    /// only once the input is read).
    ///
    /// # Errors
    /// SQLite's.
    pub fn update_run(&self, run: i64, t: &RunTotals) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET status = ?2, first_ns = COALESCE(?3, first_ns), last_ns = ?4, packets = ?5, bytes = ?6
             WHERE id = ?1",
            rusqlite::params![run, t.status, t.first_ns, t.last_ns, t.packets as i64, t.bytes as i64],
        )?;
        Ok(())
    }

    /// Records a pcap excerpt kept for an incident (replacing an older one).
    ///
    /// # Errors
    /// SQLite's.
    pub fn add_excerpt(&self, e: &ExcerptRow) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO excerpts (run_id, incident_id, path, sha256, packets, bytes, truncated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![e.run_id, e.incident_id as i64, e.path, e.sha256, e.packets as i64, e.bytes as i64, e.truncated],
        )?;
        Ok(())
    }

    /// Records names (DNS questions, TLS SNI, HTTP hosts) seen from a host
    /// of an incident.
    ///
    /// # Errors
    /// SQLite's.
    pub fn add_names(&mut self, rows: &[NameRow]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO names (run_id, incident_id, host, kind, name, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id, incident_id, host, kind, name) DO UPDATE SET count = count + excluded.count",
            )?;
            for n in rows {
                st.execute(rusqlite::params![
                    n.run_id,
                    n.incident_id as i64,
                    n.host,
                    n.kind,
                    n.name,
                    n.count as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
