//! `--store FILE.db`: the SQLite store as a [`Sink`]. Rows are handed to the
//! store's writer thread in batches (see `vigil_store`), so the analyzer
//! only pays for copying them.

use std::path::{Path, PathBuf};

use vigil_core::{FlowRecord, Nanos, ShedAggregate};
use vigil_correlate::Incident;
use vigil_detect::Emitted;
use vigil_store::{IncidentRow, Msg, RunInfo, RunTotals, Store, Writer};

use crate::eve::EveWriter;
use crate::sink::Sink;

pub struct StoreSink {
    writer: Option<Writer>,
    path: PathBuf,
    /// The first write error; later rows are not attempted.
    error: Option<String>,
}

/// The store's row for an incident.
pub fn incident_row(i: &Incident, rank: Option<usize>) -> IncidentRow {
    let addrs = |v: &[vigil_core::Addr]| v.iter().map(|a| a.to_string()).collect();
    IncidentRow {
        run_id: 0,
        id: i.id,
        rank: rank.map(|r| r as u32),
        first_ns: i.first as i64,
        last_ns: i.last as i64,
        categories: i.categories.iter().map(|c| c.slug().to_string()).collect(),
        hosts: addrs(&i.hosts),
        attackers: addrs(&i.attackers),
        alerts: i.alerts,
        severity: i.severity,
        under_flood_cover: i.under_flood_cover,
        cover_id: i.cover_id,
        score: i.score,
        summary: i.summary.clone(),
        merged: i.merged.clone(),
    }
}

impl StoreSink {
    /// Opens (or creates) the store and starts a run in it.
    ///
    /// # Errors
    /// The store cannot be opened or written, as one line naming it.
    pub fn open(path: &Path, info: &RunInfo) -> anyhow::Result<(StoreSink, i64)> {
        let w = Store::begin_run(path, info)
            .map_err(|e| anyhow::anyhow!("store {}: {e}", path.display()))?;
        let id = w.run_id();
        Ok((
            StoreSink {
                writer: Some(w),
                path: path.to_path_buf(),
                error: None,
            },
            id,
        ))
    }

    fn push(&mut self, m: Msg) {
        if self.error.is_some() {
            return;
        }
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.push(m) {
                self.error = Some(e.to_string());
                self.writer = None;
            }
        }
    }
}

impl Sink for StoreSink {
    fn flow(&mut self, r: &FlowRecord) {
        self.push(Msg::Flow(Box::new(r.clone())));
    }
    fn aggregate(&mut self, a: &ShedAggregate) {
        self.push(Msg::Aggregate(a.clone()));
    }
    fn alert(&mut self, a: &Emitted, _eve: &mut EveWriter) {
        self.push(Msg::Alert(Box::new(a.alert.clone()), a.update));
    }
    fn incident(&mut self, i: &Incident, rank: Option<usize>, _eve: &mut EveWriter) {
        self.push(Msg::Incident(
            Box::new(incident_row(i, rank)),
            rank.is_none(),
        ));
    }
    fn tick(&mut self, _now: Nanos, _eve: &mut EveWriter) {
        if let (None, Some(w)) = (&self.error, self.writer.as_mut()) {
            if let Err(e) = w.tick() {
                self.error = Some(e.to_string());
                self.writer = None;
            }
        }
    }
    fn finish(&mut self, now: Nanos, _eve: &mut EveWriter) -> anyhow::Result<()> {
        if let Some(e) = &self.error {
            anyhow::bail!("store {}: {e}", self.path.display());
        }
        if let Some(w) = self.writer.take() {
            w.finish(RunTotals {
                first_ns: None,
                last_ns: now as i64,
                status: "finished".into(),
                ..Default::default()
            })
            .map_err(|e| anyhow::anyhow!("store {}: {e}", self.path.display()))?;
        }
        Ok(())
    }
}
