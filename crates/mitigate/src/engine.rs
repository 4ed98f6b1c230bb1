//! [`Mitigations`]: the planner, the backends, dry-run and the state file
//! put together. The cli's sink hands it alerts, flows and ticks and writes
//! the [`Event`]s it returns to EVE (and so to the evidence log).
//!
//! Every decision becomes one event: `announce`, `update`, `rearm`,
//! `withdraw` (reason `ttl`, `operator`, `restart` or `retry`), `refused`
//! (reason `allowlist`, `cap`) and `failed` (a backend's error); at the
//! end, `stats` with every counter. In dry-run the
//! events are written with `"dry_run": true` and no backend or notifier is
//! called. A withdrawal that fails is kept and retried every
//! [`RETRY_SECS`] so a rule is never forgotten while still installed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};
use vigil_core::{format_eve_ts, Alert, FlowRecord, Nanos, NANOS_PER_SEC};

use crate::action::{Action, Backend};
use crate::bgp::Bgp;
use crate::config::MitigateConfig;
use crate::nft::Nft;
use crate::notify::{Exec, Webhook};
use crate::plan::{Counters, Op, Planner};
use crate::state::{self, State};
use crate::sys::Sys;
use crate::{Error, Mitigator};

/// Seconds (capture time) between retries of a failed withdrawal.
pub const RETRY_SECS: u64 = 10;

/// One EVE `mitigation` event: its capture time and JSON line.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub ts: Nanos,
    pub json: String,
}

pub struct Mitigations {
    cfg: MitigateConfig,
    sys: Arc<dyn Sys>,
    planner: Planner,
    backends: Vec<Box<dyn Mitigator>>,
    state_path: Option<PathBuf>,
    /// The state file's modification time after our last write: another
    /// writer (`vigil mitigations withdraw`) changes it.
    saved_mtime: Option<SystemTime>,
    /// Withdrawals that failed, retried.
    stuck: Vec<Action>,
    next_retry: Nanos,
    now: Nanos,
    pub failed: u64,
}

impl Mitigations {
    /// The engine with every backend `cfg` enables, running programs
    /// through `sys`.
    ///
    /// # Errors
    /// A bad prefix or an empty exec command.
    pub fn from_config(cfg: &MitigateConfig, sys: Arc<dyn Sys>) -> Result<Self, Error> {
        let mut backends: Vec<Box<dyn Mitigator>> = Vec::new();
        if cfg.nftables.enabled {
            backends.push(Box::new(Nft::new(&cfg.nftables, sys.clone())));
        }
        if cfg.bgp.enabled {
            backends.push(Box::new(Bgp::new(&cfg.bgp, sys.clone())));
        }
        if cfg.webhook.enabled {
            backends.push(Box::new(Webhook::new(&cfg.webhook)));
        }
        if cfg.xdp.enabled {
            #[cfg(feature = "xdp")]
            backends.push(Box::new(crate::xdp::Xdp::new(&cfg.xdp)));
            #[cfg(not(feature = "xdp"))]
            return Err(Error::Config(
                "[mitigate.xdp] is enabled but this vigil was built without the `xdp` feature"
                    .into(),
            ));
        }
        if cfg.exec.enabled {
            backends.push(Box::new(Exec::new(&cfg.exec, sys.clone())?));
        }
        Self::with_backends(cfg, sys, backends)
    }

    /// The engine with the given backends.
    ///
    /// # Errors
    /// A bad prefix in the config.
    pub fn with_backends(
        cfg: &MitigateConfig,
        sys: Arc<dyn Sys>,
        backends: Vec<Box<dyn Mitigator>>,
    ) -> Result<Self, Error> {
        Ok(Mitigations {
            cfg: cfg.clone(),
            sys,
            planner: Planner::new(cfg)?,
            backends,
            state_path: (!cfg.state_file.is_empty()).then(|| PathBuf::from(&cfg.state_file)),
            saved_mtime: None,
            stuck: Vec::new(),
            next_retry: 0,
            now: 0,
            failed: 0,
        })
    }

    /// Sets the time events are stamped with (a command run outside a
    /// capture: the wall clock), without expiring anything.
    pub fn set_now(&mut self, now: Nanos) {
        self.now = now;
    }

    pub fn counters(&self) -> Counters {
        self.planner.counters
    }

    /// A `mitigation` event with every counter (`action: "stats"`), written
    /// at the end of a run: how often caps, the allowlist and failures hit.
    pub fn stats_event(&self) -> Event {
        let c = self.planner.counters;
        let m = json!({
            "action": "stats",
            "dry_run": self.cfg.dry_run,
            "active": self.planner.active().count(),
            "alerts": c.alerts,
            "announced": c.announced,
            "updated": c.updated,
            "rearmed": c.rearmed,
            "withdrawn": c.withdrawn,
            "refused_allowlist": c.refused_allowlist,
            "refused_cap": c.refused_cap,
            "sources_capped": c.sources_capped,
            "victims_capped": c.victims_capped,
            "failed": self.failed,
            "stuck": self.stuck.len(),
        });
        Event {
            ts: self.now,
            json: line(self.now, &m),
        }
    }

    pub fn active(&self) -> Vec<Action> {
        self.planner.active().cloned().collect()
    }

    /// Withdraws what a previous run left in the state file (for real if
    /// it was applied, whatever this run's dry-run setting: removing
    /// vigil's own rules is always safe), then writes an empty state.
    ///
    /// # Errors
    /// The state file cannot be read or written.
    pub fn start(&mut self, now: Nanos, out: &mut Vec<Event>) -> Result<(), Error> {
        self.now = now;
        let Some(path) = self.state_path.clone() else {
            return Ok(());
        };
        let st = state::load(&path)?;
        for a in st.active {
            let id = a.id.clone();
            self.planner.adopt(a);
            if let Some(op) = self.planner.withdraw(&id, "restart") {
                self.run_op(op, out);
            }
        }
        self.save()
    }

    /// A new or updated alert.
    pub fn alert(&mut self, a: &Alert, out: &mut Vec<Event>) {
        self.now = self.now.max(a.ts);
        let ops = self.planner.alert(a);
        self.run_ops(ops, out);
    }

    /// A finished flow (names attackers of a few-source flood).
    pub fn flow(&mut self, r: &FlowRecord, out: &mut Vec<Event>) {
        let ops = self.planner.flow(r);
        self.run_ops(ops, out);
    }

    /// Capture time advanced: expire, retry stuck withdrawals, notice an
    /// operator's withdrawals in the state file.
    pub fn tick(&mut self, now: Nanos, out: &mut Vec<Event>) {
        self.now = self.now.max(now);
        self.reconcile(out);
        let ops = self.planner.tick(self.now);
        self.run_ops(ops, out);
        if !self.stuck.is_empty() && self.now >= self.next_retry {
            self.next_retry = self.now.saturating_add(RETRY_SECS * NANOS_PER_SEC);
            for a in std::mem::take(&mut self.stuck) {
                self.run_op(
                    Op::Withdraw {
                        action: a,
                        reason: "retry",
                    },
                    out,
                );
            }
            let _ = self.save();
        }
    }

    /// An operator's withdrawal of one action by id.
    ///
    /// # Errors
    /// No active action has that id, or the state file cannot be written.
    pub fn withdraw(&mut self, id: &str, out: &mut Vec<Event>) -> Result<(), Error> {
        let op = self
            .planner
            .withdraw(id, "operator")
            .ok_or_else(|| Error::NoSuchAction(id.to_string()))?;
        let before = self.failed;
        self.run_op(op, out);
        self.save()?;
        if self.failed > before {
            return Err(Error::NoSuchAction(format!(
                "{id}: withdrawal failed (kept, retried)"
            )));
        }
        Ok(())
    }

    /// The input ended or the sensor stops: expire what is due and save
    /// the state (what is still active stays installed until a restart
    /// withdraws it, so a sensor restart does not open the gates).
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn finish(&mut self, now: Nanos, out: &mut Vec<Event>) -> Result<(), Error> {
        self.tick(now, out);
        self.save()
    }

    /// Loads a state file's actions without touching anything (for
    /// `vigil mitigations list|withdraw`).
    ///
    /// # Errors
    /// The state file cannot be read.
    pub fn load_state(&mut self) -> Result<(), Error> {
        if let Some(path) = &self.state_path {
            let st = state::load(path)?;
            for a in st.active {
                self.planner.adopt(a);
            }
        }
        Ok(())
    }

    fn save(&mut self) -> Result<(), Error> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let mut active: Vec<Action> = self.planner.active().cloned().collect();
        active.extend(self.stuck.iter().cloned());
        let st = State {
            version: 1,
            dry_run: self.cfg.dry_run,
            active,
        };
        state::save(path, &st)?;
        self.saved_mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok(())
    }

    /// Actions gone from the state file since our last write were withdrawn
    /// by an operator (`vigil mitigations withdraw`): forget them here and
    /// hold them off.
    fn reconcile(&mut self, out: &mut Vec<Event>) {
        let Some(path) = &self.state_path else {
            return;
        };
        if self.saved_mtime.is_none() {
            return;
        }
        let m = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if m == self.saved_mtime {
            return;
        }
        let Ok(st) = state::load(path) else {
            return;
        };
        let gone: Vec<String> = self
            .planner
            .active()
            .filter(|a| !st.active.iter().any(|b| b.id == a.id))
            .map(|a| a.id.clone())
            .collect();
        for id in gone {
            if let Some(Op::Withdraw { action, .. }) = self.planner.withdraw(&id, "operator") {
                // already withdrawn by the operator's command
                self.emit("withdraw", &action, Some("operator"), None, out);
            }
        }
        let _ = self.save();
    }

    fn run_ops(&mut self, ops: Vec<Op>, out: &mut Vec<Event>) {
        if ops.is_empty() {
            return;
        }
        let changed = ops.iter().any(|o| !matches!(o, Op::Refused { .. }));
        for op in ops {
            self.run_op(op, out);
        }
        if changed {
            if let Err(e) = self.save() {
                self.failed += 1;
                let ts = self.now;
                out.push(Event {
                    ts,
                    json: line(ts, &json!({ "action": "failed", "error": e.to_string() })),
                });
            }
        }
    }

    fn backend(&mut self, b: Backend) -> Option<&mut Box<dyn Mitigator>> {
        if !self.backends.iter().any(|m| m.backend() == b) {
            // an action of a backend this run does not enable (a previous
            // run's, from the state file): build it to withdraw
            let m: Box<dyn Mitigator> = match b {
                Backend::Nftables => Box::new(Nft::new(&self.cfg.nftables, self.sys.clone())),
                Backend::Bgp => Box::new(Bgp::new(&self.cfg.bgp, self.sys.clone())),
                _ => return None,
            };
            self.backends.push(m);
        }
        self.backends.iter_mut().find(|m| m.backend() == b)
    }

    fn run_op(&mut self, op: Op, out: &mut Vec<Event>) {
        let dry = self.cfg.dry_run;
        match op {
            Op::Announce(a) => {
                if dry {
                    return self.emit("announce", &a, None, None, out);
                }
                let r = match self.backend(a.backend) {
                    Some(m) => m.announce(&a),
                    None => Err(Error::Unsupported(a.kind.slug(), a.backend.slug())),
                };
                match r {
                    Ok(()) => {
                        self.planner.set_applied(&a.id, true);
                        let mut a = a;
                        a.applied = true;
                        self.emit("announce", &a, None, None, out);
                    }
                    Err(e) => {
                        self.planner.forget(&a.id);
                        self.failed += 1;
                        self.emit("failed", &a, Some("announce"), Some(e.to_string()), out);
                    }
                }
            }
            Op::Update { old, new } => {
                if dry || !old.applied {
                    return self.emit("update", &new, None, None, out);
                }
                let r = match self.backend(new.backend) {
                    Some(m) => m.update(&old, &new),
                    None => Err(Error::Unsupported(new.kind.slug(), new.backend.slug())),
                };
                match r {
                    Ok(()) => self.emit("update", &new, None, None, out),
                    Err(e) => {
                        self.failed += 1;
                        self.emit("failed", &new, Some("update"), Some(e.to_string()), out);
                    }
                }
            }
            Op::Rearm(a) => self.emit("rearm", &a, None, None, out),
            Op::Refused { action, reason } => {
                self.emit("refused", &action, Some(reason), None, out)
            }
            Op::Withdraw { action, reason } => {
                if !action.applied {
                    return self.emit("withdraw", &action, Some(reason), None, out);
                }
                let r = match self.backend(action.backend) {
                    Some(m) => m.withdraw(&action),
                    // an XDP program lives only as long as the process that
                    // attached it: a previous run's is gone already
                    None if action.backend == Backend::Xdp => Ok(()),
                    None => Err(Error::Unsupported(
                        action.kind.slug(),
                        action.backend.slug(),
                    )),
                };
                match r {
                    Ok(()) => {
                        let mut a = action;
                        a.applied = false;
                        self.emit("withdraw", &a, Some(reason), None, out);
                    }
                    Err(e) => {
                        self.failed += 1;
                        self.emit(
                            "failed",
                            &action,
                            Some("withdraw"),
                            Some(e.to_string()),
                            out,
                        );
                        self.stuck.push(action);
                        self.next_retry = self.now.saturating_add(RETRY_SECS * NANOS_PER_SEC);
                    }
                }
            }
        }
    }

    fn emit(
        &mut self,
        what: &str,
        a: &Action,
        reason: Option<&str>,
        error: Option<String>,
        out: &mut Vec<Event>,
    ) {
        let ts = self.now;
        let mut m = json!({
            "action": what,
            "id": a.id,
            "backend": a.backend.slug(),
            "kind": a.kind.slug(),
            "flood": a.flood,
            "victim": a.victim.to_string(),
            "created": format_eve_ts(a.created),
            "expires": format_eve_ts(a.expires),
            "rearms": a.rearms,
            "signature": a.signature,
            "signature_id": a.signature_id,
            "dry_run": self.cfg.dry_run,
            "applied": a.applied,
        });
        let o = m.as_object_mut().expect("an object");
        if !a.sources.is_empty() {
            o.insert(
                "sources".into(),
                json!(a.sources.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            );
        }
        if let Some(p) = a.proto {
            o.insert("proto".into(), json!(p));
        }
        if let Some(p) = a.dest_port {
            o.insert("dest_port".into(), json!(p));
        }
        if !a.src_ports.is_empty() {
            o.insert("src_ports".into(), json!(a.src_ports));
        }
        if let Some(r) = a.rate_pps {
            o.insert("rate_pps".into(), json!(r));
        }
        if let Some(r) = reason {
            o.insert("reason".into(), json!(r));
        }
        if let Some(e) = error {
            o.insert("error".into(), json!(e));
        }
        let text = line(ts, &m);
        if !self.cfg.dry_run {
            for n in self.backends.iter_mut().filter(|b| b.notifier()) {
                if let Err(e) = n.notify(&text) {
                    self.failed += 1;
                    let m = json!({
                        "action": "failed", "backend": n.backend().slug(),
                        "id": a.id, "reason": "notify", "error": e.to_string()
                    });
                    out.push(Event {
                        ts,
                        json: line(ts, &m),
                    });
                }
            }
        }
        out.push(Event { ts, json: text });
    }
}

/// An EVE line: `timestamp` and `event_type` first, as Suricata writes them.
fn line(ts: Nanos, m: &Value) -> String {
    format!(
        "{{\"timestamp\":\"{}\",\"event_type\":\"mitigation\",\"mitigation\":{}}}",
        format_eve_ts(ts),
        m
    )
}
