//! `[mitigate]`: the mitigation engine (`vigil-mitigate`) as a [`Sink`] of
//! `vigil analyze` and `vigil run`, and the `vigil mitigations list|withdraw`
//! command.
//!
//! Every decision (announce, update, rearm, withdraw, refused, failed) is
//! written as an EVE `mitigation` event and tapped into the evidence log.
//! Backends run their commands on the flow stage's thread: they are rare
//! (a few per attack) and take milliseconds, and doing them in order keeps
//! the events in the order things happened.

use std::path::PathBuf;
use std::sync::Arc;

use vigil_core::{FlowRecord, Nanos};
use vigil_detect::Emitted;
use vigil_mitigate::sys::OsSys;
use vigil_mitigate::{Event, MitigateConfig, Mitigations};

use crate::eve::EveWriter;
use crate::sink::Sink;

pub struct MitigateSink {
    m: Mitigations,
    /// Events from hooks without an EVE writer (flows), written at the
    /// next hook that has one.
    out: Vec<Event>,
    started: bool,
    /// The first start-up error (state file), reported at the end.
    error: Option<String>,
}

impl MitigateSink {
    /// The sink for a `[mitigate]` section, or `None` when it is disabled.
    ///
    /// # Errors
    /// A bad prefix, an empty exec command, or a state file that exists
    /// but cannot be read.
    pub fn from_config(cfg: &MitigateConfig) -> anyhow::Result<Option<Self>> {
        if !cfg.enabled {
            return Ok(None);
        }
        if !cfg.state_file.is_empty() {
            vigil_mitigate::state::load(std::path::Path::new(&cfg.state_file))?;
        }
        let m = Mitigations::from_config(cfg, Arc::new(OsSys))?;
        Ok(Some(MitigateSink {
            m,
            out: Vec::new(),
            started: false,
            error: None,
        }))
    }

    fn start(&mut self, now: Nanos) {
        if !self.started {
            self.started = true;
            if let Err(e) = self.m.start(now, &mut self.out) {
                self.error.get_or_insert(e.to_string());
            }
        }
    }

    fn flush(&mut self, eve: &mut EveWriter) {
        for e in self.out.drain(..) {
            eve.raw(&e.json);
            eve.tap_last(e.ts, "mitigation");
        }
    }
}

impl Sink for MitigateSink {
    fn flow(&mut self, r: &FlowRecord) {
        self.start(r.end);
        self.m.flow(r, &mut self.out);
    }
    fn alert(&mut self, a: &Emitted, eve: &mut EveWriter) {
        self.start(a.alert.ts);
        self.m.alert(&a.alert, &mut self.out);
        self.flush(eve);
    }
    fn tick(&mut self, now: Nanos, eve: &mut EveWriter) {
        if now == 0 {
            return;
        }
        self.start(now);
        self.m.tick(now, &mut self.out);
        self.flush(eve);
    }
    fn finish(&mut self, now: Nanos, eve: &mut EveWriter) -> anyhow::Result<()> {
        self.start(now);
        let r = self.m.finish(now, &mut self.out);
        let stats = self.m.stats_event();
        self.out.push(stats);
        self.flush(eve);
        if let Some(e) = self.error.take() {
            anyhow::bail!("mitigation: {e}");
        }
        r.map_err(|e| anyhow::anyhow!("mitigation: {e}"))
    }
}

/// `vigil mitigations`.
#[derive(clap::Args)]
pub struct MitigationsArgs {
    #[command(subcommand)]
    pub what: MitigationsCmd,
    /// The state file (default: `[mitigate] state_file` of --config).
    #[arg(long, global = true, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The configuration (backends' programs and arguments, state file).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum MitigationsCmd {
    /// Print the active mitigations (one JSON object per line with --json).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Withdraw one mitigation now (for real if it was applied) and remove
    /// it from the state file; a running sensor notices and does not
    /// re-announce it for a TTL.
    Withdraw { id: String },
}

/// Runs `vigil mitigations ...`.
///
/// # Errors
/// No state file given, unreadable config or state, unknown id, a backend
/// that fails to withdraw.
pub fn command(a: &MitigationsArgs) -> anyhow::Result<()> {
    let mut cfg = match &a.config {
        Some(p) => crate::config::Config::load(p)?.mitigate,
        None => MitigateConfig::default(),
    };
    if let Some(s) = &a.state {
        cfg.state_file = s.display().to_string();
    }
    anyhow::ensure!(
        !cfg.state_file.is_empty(),
        "no state file: give --state FILE or a --config with [mitigate] state_file"
    );
    anyhow::ensure!(
        std::path::Path::new(&cfg.state_file).exists(),
        "{}: no such state file",
        cfg.state_file
    );
    let mut m = Mitigations::from_config(&cfg, Arc::new(OsSys))?;
    m.load_state()?;
    match &a.what {
        MitigationsCmd::List { json } => {
            let active = m.active();
            if *json {
                for x in &active {
                    println!("{}", serde_json::to_string(x)?);
                }
            } else {
                println!(
                    "{:<58} {:<8} {:<7} {:<7} expires (UTC)",
                    "ID", "BACKEND", "APPLIED", "REARMS"
                );
                for x in &active {
                    println!(
                        "{:<58} {:<8} {:<7} {:<7} {}",
                        x.id,
                        x.backend.slug(),
                        x.applied,
                        x.rearms,
                        vigil_core::format_eve_ts(x.expires)
                    );
                    if !x.sources.is_empty() {
                        let s: Vec<String> = x.sources.iter().map(|s| s.to_string()).collect();
                        println!("    sources: {}", s.join(", "));
                    }
                }
                if active.is_empty() {
                    println!("(no active mitigations)");
                }
            }
        }
        MitigationsCmd::Withdraw { id } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            m.set_now(now);
            let mut out = Vec::new();
            let r = m.withdraw(id, &mut out);
            for e in &out {
                println!("{}", e.json);
            }
            r?;
        }
    }
    Ok(())
}

/// The extra sinks `vigil run` gets from its config file: the mitigation
/// engine when `[mitigate]` enables it.
///
/// # Errors
/// The config file or its `[mitigate]` section is bad.
pub fn run_sinks(config: &std::path::Path) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    let cfg = crate::config::Config::load(config)?;
    Ok(MitigateSink::from_config(&cfg.mitigate)
        .map_err(|e| anyhow::anyhow!("[mitigate]: {e:#}"))?
        .map(|s| vec![Box::new(s) as Box<dyn Sink>])
        .unwrap_or_default())
}
