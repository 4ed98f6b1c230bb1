//! The `vigil` binary: flags are parsed into plain values first, then turned
//! into the pipeline's stages (ripgrep's lowargs → hiargs split).
//!
//! Exit codes: 0 success; 1 usage or configuration error, an evidence log
//! that cannot be written, or `vigil verify` finding a broken chain; 2 a
//! capture that cannot be read (corrupt header, or broken mid-way: what was
//! read before the defect is still analysed and written).
#![forbid(unsafe_code)]

mod analyze;
mod config;
mod eve;
mod excerpt;
mod metrics;
mod mitigate_sink;
mod query;
mod report;
mod run;
mod run_eve;
mod sink;
mod store_sink;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigil_core::NetSet;
use vigil_flow::{parse_size, FlowConfig};

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Network detection and response sensor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse capture files (pcap, pcapng, optionally gzipped): flows, stats
    /// and alerts as EVE JSON.
    Analyze(AnalyzeArgs),
    /// Write a generated scenario: NAME.pcap and NAME.pcap.truth.json
    /// (the eval truth format). `vigil sim --list` names them.
    Sim(SimArgs),
    /// Check an evidence log (`analyze --evidence`): every record's hash and
    /// its link to the one before. Names the first broken record.
    Verify(verify::VerifyArgs),
    /// Make an Ed25519 key pair for signing evidence heads (`analyze
    /// --evidence-key`): writes the secret key, prints the public key.
    Keygen {
        /// Where the secret key goes (never overwritten).
        #[arg(short, long)]
        out: PathBuf,
    },
    /// List alerts, incidents, flows or runs from a store (`analyze
    /// --store`), filtered by address, time, category, incident or run.
    Query(query::QueryArgs),
    /// The breach report of a run or an incident, from a store: summary,
    /// traffic timeline with alerts, ranked incidents, evidence, actions.
    Report(report::ReportArgs),
    /// The live sensor: capture (AF_PACKET) and flow-export collectors
    /// (NetFlow/IPFIX/sFlow) into flows, alerts and incidents until SIGTERM.
    /// SIGHUP reloads detector settings and reopens EVE.
    Run(run::RunArgs),
    /// Active mitigations (`[mitigate]`): list them, or withdraw one now.
    Mitigations(mitigate_sink::MitigationsArgs),
    /// Configuration helpers.
    Config {
        /// Print every setting with its default, as TOML.
        #[arg(long)]
        print_default: bool,
    },
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files; several are merged by capture time.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Protected networks, e.g. 10.0.0.0/8,2001:db8::/32.
    #[arg(long, value_name = "CIDR[,CIDR...]")]
    home_net: Option<String>,
    /// Where EVE JSON lines go ("-" for stdout).
    #[arg(long, value_name = "FILE|-")]
    eve: Option<PathBuf>,
    /// Memory bound of the flow table, e.g. 256MiB, 1G.
    #[arg(long, value_name = "SIZE")]
    flow_memory: Option<String>,
    /// TOML configuration file (see `vigil config --print-default`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Never show a progress bar (it is shown only on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Append every alert and incident to this tamper-evident, hash-chained
    /// log (created if missing; an existing log is verified and continued).
    #[arg(long, value_name = "FILE")]
    evidence: Option<PathBuf>,
    /// Keep flows, alerts, incidents and the run in this SQLite store
    /// (created if missing; runs accumulate). Read it with `vigil query` and
    /// `vigil report`.
    #[arg(long, value_name = "FILE.db")]
    store: Option<PathBuf>,
    /// Where per-incident pcapng excerpts go (default: beside the store or
    /// evidence log, as FILE.excerpts/). Written when --store or --evidence
    /// is given and there are incidents.
    #[arg(long, value_name = "DIR")]
    excerpts: Option<PathBuf>,
    /// Disk budget of all excerpt files of a run.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    excerpt_budget: String,
    /// Write no pcap excerpts.
    #[arg(long)]
    no_excerpts: bool,
    /// Sign the evidence log's head with this Ed25519 secret key (`vigil
    /// keygen`) into EVIDENCE.head when the run ends.
    #[arg(long, value_name = "KEYFILE", requires = "evidence")]
    evidence_key: Option<PathBuf>,
    /// Threads: 2 runs reading/decoding and flows/detection in parallel
    /// (faster wall clock); 1 uses a single core (a little less CPU in all).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    threads: u8,
    /// Run no detector: flows and stats only (the core engine alone).
    #[arg(long)]
    no_detect: bool,
    /// Don't print the summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct SimArgs {
    /// Scenario name, or "all".
    #[arg(required_unless_present = "list")]
    scenario: Option<String>,
    /// Output directory.
    #[arg(long, short, default_value = ".")]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Size factor (1.0 = default size).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// List the scenarios.
    #[arg(long)]
    list: bool,
}

fn sim(a: SimArgs) -> ExitCode {
    let all = vigil_sim::scenarios();
    if a.list {
        for s in all {
            println!(
                "{:<24} {}  (home nets {})",
                s.name,
                s.summary,
                s.home_nets.join(",")
            );
        }
        return ExitCode::SUCCESS;
    }
    let name = a.scenario.unwrap_or_default();
    let names: Vec<&str> = if name == "all" {
        all.iter().map(|s| s.name).collect()
    } else {
        vec![name.as_str()]
    };
    let opts = vigil_sim::SimOptions {
        seed: a.seed,
        scale: a.scale,
    };
    for n in names {
        match vigil_sim::generate(n, &a.out, &opts) {
            Ok(p) => println!("{}", p.display()),
            Err(e) => return fail(1, e),
        }
    }
    ExitCode::SUCCESS
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("vigil: {msg}");
    ExitCode::from(code)
}

fn analyze(a: AnalyzeArgs) -> ExitCode {
    let cfg = match &a.config {
        Some(p) => match config::Config::load(p) {
            Ok(c) => c,
            Err(e) => return fail(1, e),
        },
        None => config::Config::default(),
    };
    let home = a.home_net.clone().unwrap_or_else(|| cfg.home_net.join(","));
    let home_net = match NetSet::parse(&home) {
        Ok(n) => n,
        Err(e) => return fail(1, format!("--home-net: {e}")),
    };
    if home_net.is_empty() && !a.quiet {
        eprintln!(
            "vigil: warning: no --home-net (or home_net in --config): every address counts as outside, so detectors that judge inside hosts (exfiltration, beaconing, lateral movement, DNS tunnels, floods on home hosts) stay silent"
        );
    }
    let memory = match parse_size(a.flow_memory.as_deref().unwrap_or(&cfg.flow.memory)) {
        Ok(m) => m,
        Err(e) => return fail(1, format!("--flow-memory: {e}")),
    };
    let excerpt_budget = match parse_size(&a.excerpt_budget) {
        Ok(m) => m as u64,
        Err(e) => return fail(1, format!("--excerpt-budget: {e}")),
    };
    let source = match analyze::open_all(&a.captures) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    let mut opts = analyze::Options {
        captures: a.captures,
        home_net,
        eve: a.eve,
        flow: FlowConfig {
            memory,
            timeouts: cfg.flow.timeouts,
        },
        detect: (!a.no_detect).then(|| cfg.detect.clone()),
        correlate: cfg.correlate.clone(),
        evidence: a.evidence.clone(),
        progress: !a.no_progress,
        threads: a.threads as usize,
        sinks: Vec::new(),
    };
    let mut store_run = None;
    if let Some(path) = &a.store {
        let info = vigil_store::RunInfo {
            command: "analyze".into(),
            inputs: opts
                .captures
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            home_net: opts
                .home_net
                .iter()
                .map(|(a, l)| format!("{a}/{l}"))
                .collect(),
        };
        match store_sink::StoreSink::open(path, &info) {
            Ok((sink, run)) => {
                opts.sinks.push(Box::new(sink));
                store_run = Some(run);
            }
            Err(e) => return fail(1, e),
        }
    }
    match mitigate_sink::MitigateSink::from_config(&cfg.mitigate) {
        Ok(Some(s)) => opts.sinks.push(Box::new(s)),
        Ok(None) => {}
        Err(e) => return fail(1, format!("[mitigate]: {e:#}")),
    }
    let captures = opts.captures.clone();
    match analyze::run(opts, source) {
        Ok(mut o) => {
            let after = excerpt::AfterRun {
                captures: &captures,
                store: a.store.as_deref().zip(store_run),
                evidence: a.evidence.as_deref(),
                excerpts: if a.no_excerpts {
                    None
                } else {
                    a.excerpts.clone().or_else(|| {
                        a.store
                            .as_ref()
                            .or(a.evidence.as_ref())
                            .map(|p| excerpt::default_dir(p))
                    })
                },
                budget: excerpt_budget,
            };
            if let Err(e) = after.run(&o) {
                o.sink_error.get_or_insert(e.to_string());
            }
            if let (Some(log), Some(k)) = (&a.evidence, &a.evidence_key) {
                if let Err(e) = verify::load_key(k).and_then(|key| verify::sign(log, &key)) {
                    o.sink_error
                        .get_or_insert(format!("signing the evidence head: {e}"));
                }
            }
            if !a.quiet {
                eprint!("{}", analyze::summary(&o));
            }
            match (o.fatal, o.evidence_error, o.sink_error) {
                (Some(e), _, _) => fail(2, e),
                (None, Some(e), _) => fail(1, format!("evidence log: {e}")),
                (None, None, Some(e)) => fail(1, e),
                (None, None, None) => ExitCode::SUCCESS,
            }
        }
        Err(e) => fail(1, e),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Sim(a) => sim(a),
        Command::Mitigations(a) => match mitigate_sink::command(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, format!("mitigations: {e:#}")),
        },
        Command::Run(a) => match mitigate_sink::run_sinks(&a.config).and_then(|s| run::run(a, s)) {
            Ok(code) => ExitCode::from(code),
            Err(e) => fail(1, format!("{e:#}")),
        },
        Command::Report(a) => match report::run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, format!("report: {e}")),
        },
        Command::Query(a) => match query::run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, format!("query: {e}")),
        },
        Command::Verify(a) => match verify::run(&a) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, format!("{}: {e}", a.file.display())),
        },
        Command::Keygen { out } => match verify::keygen(&out) {
            Ok(public) => {
                println!("{public}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(1, format!("keygen: {e}")),
        },
        Command::Config { print_default } => {
            if print_default {
                print!("{}", config::Config::default_toml());
                ExitCode::SUCCESS
            } else {
                fail(1, "config: say what to do, e.g. --print-default")
            }
        }
    }
}
