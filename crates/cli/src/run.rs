//! `vigil run`: the live sensor.
//!
//! ```text
//! af_packet ring ─► capture worker ─┐ (decode, batches of PacketInfo)
//! af_packet ring ─► capture worker ─┤
//! netflow  UDP  ─► collector thread ─┤ (FlowRecords)       ┌► EVE (rotating, SIGHUP reopen)
//! sflow    UDP  ─► collector thread ─┴► bounded channel ─► flow stage ─┼► evidence, sinks
//!                                                           (main thread) └► /metrics counters
//! ```
//!
//! Threads: one capture worker per ring (an interface's `workers` rings form
//! one `PACKET_FANOUT_HASH` group, so a flow and its fragments stay on one
//! worker and its IP reassembly stays whole), one thread per collector, one
//! metrics HTTP thread, and the flow stage on the main thread. We chose *N
//! capture threads feeding one flow stage* over *N independent flow tables
//! with their own detectors*: the detectors judge hosts across flows (a scan
//! is one source over many destinations, a flood one victim over many
//! sources), and a flow hash spreads exactly those over the workers, so
//! per-worker detectors would each see a fraction and miss or split them.
//! Decoding (the per-packet cost that scales) is what runs in parallel; the
//! flow stage is the same code `vigil analyze` runs (measured ~2–4 Mpps on
//! one core, see BENCHMARKS.md), so it is rarely the bottleneck.
//!
//! Time is packet time: kernel receive timestamps for captured packets,
//! receive time for exported flows' datagrams (their records carry their own
//! start/end). Signals (signal-hook flags, checked at least every 100 ms):
//! SIGTERM/SIGINT stop the sources, drain the channel, end every flow, write
//! the final events and stats and flush EVE, evidence and sinks (a second
//! one exits at once); SIGHUP reopens EVE and reloads the detector
//! thresholds from the config file into the running detectors, keeping
//! every flow and detector state.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use vigil_core::{FlowRecord, Nanos, NetSet, NANOS_PER_SEC};
use vigil_flow::{parse_size, FlowConfig};
use vigil_wire::{Decoder, DecoderConfig};

use crate::analyze::{decode_into, Batch, FlowStage, BATCH};
use crate::config::Config;
use crate::eve::{self, EveWriter};
use crate::metrics::{label, Metrics, MetricsSink};
use crate::run_eve::RotatingFile;
use crate::sink::Sink;

/// Messages in flight to the flow stage, over all sources. Bounds the
/// memory between capture and flow stage; when full, capture workers wait
/// and the kernel ring absorbs the burst (its drops are counted).
const CHANNEL_DEPTH: usize = 16;
/// How long a source blocks before checking whether to stop.
const POLL: Duration = Duration::from_millis(100);
/// Link type of AF_PACKET frames on Ethernet-like interfaces (and lo).
const LINKTYPE_ETHERNET: u32 = 1;
/// How far behind the wall clock the once-a-second idle tick runs (ring
/// block timeout + channel + one poll, with a wide margin).
const IDLE_TICK_LAG: Nanos = 2 * NANOS_PER_SEC;
/// Most capture workers per interface: each maps its own ring (64 MiB by
/// default), and past the core count more only cost memory.
const MAX_WORKERS: usize = 64;
/// How long a source keeps handing over what it already received (ring
/// blocks, datagrams in the socket buffer) after SIGTERM; within the 2 s
/// exit promise with room for ending every flow.
const DRAIN_BUDGET: Duration = Duration::from_millis(400);
/// Largest datagram a collector reads (the UDP maximum).
const MAX_DATAGRAM: usize = 65_535;

/// `[run]`: what the live sensor reads and where it writes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// EVE JSON file (appended to; rotated by size).
    pub eve: Option<PathBuf>,
    /// Rotate EVE past this size ("0" never), e.g. "100MiB".
    pub eve_max_size: String,
    /// Rotated EVE files kept (eve.json.1 ... eve.json.N).
    pub eve_keep: usize,
    /// Tamper-evident evidence log of every alert and incident.
    pub evidence: Option<PathBuf>,
    /// SQLite store (`vigil query`, `vigil report`): one run per start.
    pub store: Option<PathBuf>,
    /// Address of the Prometheus `/metrics` and `/healthz` endpoint, e.g.
    /// "127.0.0.1:9110"; none when unset.
    pub metrics: Option<String>,
    /// Log format on stderr: "text" or "json".
    pub log_format: String,
    /// Log filter (tracing-subscriber EnvFilter syntax), e.g. "info".
    pub log_level: String,
    /// Seconds between `stats` events in EVE (0: only at exit).
    pub stats_interval_secs: u64,
    /// Packet capture sources.
    pub af_packet: Vec<AfPacketSource>,
    /// NetFlow v5/v9 and IPFIX collectors.
    pub netflow: Vec<CollectorSource>,
    /// sFlow v5 collectors.
    pub sflow: Vec<CollectorSource>,
    /// Collector settings shared by every netflow/sflow source.
    pub collect: vigil_collect::CollectConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            eve: None,
            eve_max_size: "100MiB".into(),
            eve_keep: 5,
            evidence: None,
            store: None,
            metrics: None,
            log_format: "text".into(),
            log_level: "info".into(),
            stats_interval_secs: 60,
            af_packet: Vec::new(),
            netflow: Vec::new(),
            sflow: Vec::new(),
            collect: vigil_collect::CollectConfig::default(),
        }
    }
}

/// `[[run.af_packet]]`: one interface.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AfPacketSource {
    pub interface: String,
    /// Capture threads (rings in one fanout group).
    pub workers: usize,
    /// Ring block size, a multiple of the page size, e.g. "1MiB".
    pub block_size: String,
    /// Blocks per ring (ring memory = block_size × block_count per worker).
    pub block_count: u32,
    /// A partly filled block is handed over after this many ms.
    pub block_timeout_ms: u32,
    pub promiscuous: bool,
    /// Also capture what this host sends.
    pub outgoing: bool,
}

impl Default for AfPacketSource {
    fn default() -> Self {
        AfPacketSource {
            interface: String::new(),
            workers: 1,
            block_size: "1MiB".into(),
            block_count: 64,
            block_timeout_ms: 10,
            promiscuous: true,
            outgoing: true,
        }
    }
}

/// `[[run.netflow]]` / `[[run.sflow]]`: a UDP listening address.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorSource {
    /// e.g. "0.0.0.0:2055" (NetFlow) or "0.0.0.0:6343" (sFlow).
    pub bind: String,
    /// Socket receive buffer: exporters send in bursts (a flow cache
    /// flushing), and datagrams beyond it are dropped by the kernel
    /// (counted in `vigil_collector_socket_drops`).
    pub recv_buffer: String,
}

impl Default for CollectorSource {
    fn default() -> Self {
        CollectorSource {
            bind: String::new(),
            recv_buffer: "8MiB".into(),
        }
    }
}

/// `vigil run` flags; everything else is in the config file.
#[derive(clap::Args)]
pub struct RunArgs {
    /// TOML configuration file with a `[run]` section (see dist/vigil.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// EVE file (overrides `run.eve`).
    #[arg(long, value_name = "FILE")]
    pub eve: Option<PathBuf>,
    /// Metrics address (overrides `run.metrics`), e.g. 127.0.0.1:9110.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// Capture on this interface too (one worker, defaults), repeatable.
    #[arg(long, value_name = "IFACE")]
    pub interface: Vec<String>,
}

/// What sources send to the flow stage.
enum Msg {
    Packets(usize, Batch),
    Flows(Vec<FlowRecord>),
}

fn now_nanos() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or(0)
}

fn init_logging(cfg: &RunConfig) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cfg.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.log_format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// One capture worker: ring → decode → batches to the flow stage.
#[allow(clippy::too_many_arguments)]
fn capture_worker(
    mut ring: vigil_live::Ring,
    iface: String,
    id: usize,
    tx: SyncSender<Msg>,
    back: Receiver<Batch>,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    kstats: Arc<std::sync::Mutex<vigil_live::KernelStats>>,
) {
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut batch = Batch::with_capacity(BATCH);
    let lbl = label("interface", &iface);
    let (pk, by) = (
        metrics.packets.get_or_create(&lbl).clone(),
        metrics.bytes.get_or_create(&lbl).clone(),
    );
    let mut last_stats = Instant::now();
    let mut last_ts: Nanos = 0;
    let mut next_expire: Nanos = 0;
    // set when the stop flag is first seen: from then on the worker drains
    // what the ring already holds, for at most DRAIN_BUDGET
    let stopped_at: std::cell::Cell<Option<Instant>> = std::cell::Cell::new(None);
    let out_of_time = || stopped_at.get().is_some_and(|t| t.elapsed() > DRAIN_BUDGET);
    let send = |b: Batch| -> Option<Batch> {
        // a full channel waits (backpressure into the ring), but not past
        // the drain budget once we are asked to stop
        let mut m = Msg::Packets(id, b);
        loop {
            match tx.try_send(m) {
                Ok(()) => break,
                Err(TrySendError::Full(x)) => {
                    if out_of_time() {
                        return None;
                    }
                    m = x;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(TrySendError::Disconnected(_)) => return None,
            }
        }
        Some(
            back.try_recv()
                .unwrap_or_else(|_| Batch::with_capacity(BATCH)),
        )
    };
    loop {
        if stopped_at.get().is_none() && stop.load(Ordering::Relaxed) {
            stopped_at.set(Some(Instant::now()));
        }
        if out_of_time() {
            break;
        }
        let wait = if stopped_at.get().is_some() {
            Duration::ZERO
        } else {
            POLL
        };
        match ring.next_block(wait) {
            Ok(Some(mut block)) => {
                let (mut n, mut bytes) = (0u64, 0u64);
                while let Some(p) = block.next() {
                    n += 1;
                    bytes += p.orig_len as u64;
                    last_ts = last_ts.max(p.ts);
                    decode_into(
                        &mut dec,
                        LINKTYPE_ETHERNET,
                        p.ts,
                        p.orig_len,
                        p.data,
                        &mut batch,
                    );
                    if batch.pkts.len() >= BATCH {
                        match send(std::mem::take(&mut batch)) {
                            Some(b) => batch = b,
                            None => return,
                        }
                    }
                }
                drop(block);
                pk.inc_by(n);
                by.inc_by(bytes);
                if last_ts >= next_expire {
                    dec.expire(last_ts);
                    next_expire = last_ts.saturating_add(NANOS_PER_SEC);
                }
                // hand over what this block held: latency stays at the
                // block timeout at low rates
                if !batch.pkts.is_empty() || !batch.meta.is_empty() {
                    match send(std::mem::take(&mut batch)) {
                        Some(b) => batch = b,
                        None => return,
                    }
                }
            }
            // the ring is empty: when stopping, everything captured is out
            Ok(None) if stopped_at.get().is_some() => break,
            Ok(None) => {}
            Err(e) => {
                tracing::error!(interface = %iface, error = %e, "capture failed; worker stops");
                metrics.sources_failed.inc();
                break;
            }
        }
        if last_stats.elapsed() >= Duration::from_millis(500) {
            last_stats = Instant::now();
            update_kernel_stats(&mut ring, &kstats);
        }
    }
    // what the decoder still holds (fragments) is dropped with it; the
    // partial batch goes out
    if !batch.pkts.is_empty() || !batch.meta.is_empty() {
        let _ = tx.send(Msg::Packets(id, batch));
    }
    update_kernel_stats(&mut ring, &kstats);
}

/// Kernel counters of one ring, for the flow stage to publish.
fn update_kernel_stats(
    ring: &mut vigil_live::Ring,
    kstats: &std::sync::Mutex<vigil_live::KernelStats>,
) {
    if let Ok(now) = ring.stats() {
        *kstats.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

/// One collector: datagrams → flow records to the flow stage.
fn collector_thread(
    sock: UdpSocket,
    kind: &'static str,
    cfg: vigil_collect::CollectConfig,
    tx: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    stats_out: Arc<std::sync::Mutex<serde_json::Value>>,
) {
    let mut col = vigil_collect::Collector::new(&cfg);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let local = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let lbl = vec![
        ("source".to_string(), kind.to_string()),
        ("bind".to_string(), local),
    ];
    let dg = metrics.collector_datagrams.get_or_create(&lbl).clone();
    let rc = metrics.collector_records.get_or_create(&lbl).clone();
    let mut out = Vec::new();
    let mut last_stats = Instant::now();
    let publish = |col: &vigil_collect::Collector| {
        let v = serde_json::to_value(col.stats()).unwrap_or(serde_json::Value::Null);
        let mut malformed = 0i64;
        // counters, one level of nesting flattened ("malformed.bad_set")
        let mut flat: Vec<(String, u64)> = Vec::new();
        if let Some(o) = v.as_object() {
            for (k, n) in o {
                match n {
                    serde_json::Value::Object(inner) => {
                        for (k2, n2) in inner {
                            if let Some(n2) = n2.as_u64() {
                                flat.push((format!("{k}.{k2}"), n2));
                            }
                        }
                    }
                    _ => {
                        if let Some(n) = n.as_u64() {
                            flat.push((k.clone(), n));
                        }
                    }
                }
            }
        }
        for (k, n) in flat {
            if k.starts_with("malformed") {
                malformed += n as i64;
            }
            let mut l = lbl.clone();
            l.push(("name".to_string(), k));
            metrics.collector_stats.get_or_create(&l).set(n as i64);
        }
        let m = metrics.collector_malformed.get_or_create(&lbl);
        let before = m.get() as i64;
        if malformed > before {
            m.inc_by((malformed - before) as u64);
        }
        if let Some(d) = vigil_live::udp_drops(&sock) {
            metrics
                .collector_socket_drops
                .get_or_create(&lbl)
                .set(d as i64);
        }
        *stats_out.lock().unwrap_or_else(|e| e.into_inner()) = v;
    };
    let mut stopped_at: Option<Instant> = None;
    loop {
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            // hand over what is already in the socket buffer, then stop
            stopped_at = Some(Instant::now());
            if sock.set_nonblocking(true).is_err() {
                break;
            }
        }
        if stopped_at.is_some_and(|t| t.elapsed() > DRAIN_BUDGET) {
            break;
        }
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                dg.inc();
                col.datagram(from, &buf[..n], now_nanos(), &mut out);
                if !out.is_empty() {
                    rc.inc_by(out.len() as u64);
                    metrics.flows_exported.inc_by(out.len() as u64);
                    if tx.send(Msg::Flows(std::mem::take(&mut out))).is_err() {
                        break;
                    }
                }
            }
            Err(e) if stopped_at.is_some() && e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                tracing::error!(source = kind, error = %e, "collector socket failed; it stops");
                metrics.sources_failed.inc();
                break;
            }
        }
        if last_stats.elapsed() >= Duration::from_millis(500) {
            last_stats = Instant::now();
            publish(&col);
        }
    }
    publish(&col);
}

/// Builds the detector config and home net of a config file (also on
/// SIGHUP).
fn load(path: &Path) -> anyhow::Result<(Config, NetSet)> {
    let cfg = Config::load(path)?;
    let home = NetSet::parse(&cfg.home_net.join(","))
        .map_err(|e| anyhow::anyhow!("{}: home_net: {e}", path.display()))?;
    Ok((cfg, home))
}

/// Runs the sensor until SIGTERM/SIGINT. Returns the exit code.
///
/// # Errors
/// Configuration errors and sources that cannot be opened (before any
/// output is written).
pub fn run(args: RunArgs, mut sinks: Vec<Box<dyn Sink>>) -> anyhow::Result<u8> {
    let (cfg, home_net) = load(&args.config)?;
    let mut rc = cfg.run.clone();
    if let Some(e) = args.eve {
        rc.eve = Some(e);
    }
    if let Some(m) = args.metrics {
        rc.metrics = Some(m);
    }
    for i in args.interface {
        rc.af_packet.push(AfPacketSource {
            interface: i,
            ..Default::default()
        });
    }
    if !matches!(rc.log_format.as_str(), "text" | "json") {
        anyhow::bail!(
            "{}: run.log_format must be \"text\" or \"json\", not {:?}",
            args.config.display(),
            rc.log_format
        );
    }
    init_logging(&rc);
    if home_net.is_empty() {
        tracing::warn!("no home_net in the config: every address counts as outside, so detectors that judge inside hosts stay silent");
    }
    if rc.af_packet.is_empty() && rc.netflow.is_empty() && rc.sflow.is_empty() {
        anyhow::bail!(
            "{}: no source: add [[run.af_packet]], [[run.netflow]] or [[run.sflow]]",
            args.config.display()
        );
    }
    let memory = parse_size(&cfg.flow.memory).map_err(|e| anyhow::anyhow!("flow.memory: {e}"))?;
    let flow = FlowConfig {
        memory,
        timeouts: cfg.flow.timeouts,
    };

    // signals first, so a TERM during start-up is not lost
    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // a second TERM/INT while flushing exits at once
        signal_hook::flag::register_conditional_shutdown(sig, 1, term.clone())?;
        signal_hook::flag::register(sig, term.clone())?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())?;

    let metrics = Arc::new(Metrics::default());
    metrics.beat();
    metrics.flow_memory_bound.set(memory as i64);

    // outputs
    let eve_max = parse_size(&rc.eve_max_size).map_err(|e| anyhow::anyhow!("eve_max_size: {e}"))?;
    let (out, reopen, rotations): (Box<dyn std::io::Write + Send>, _, _) = match &rc.eve {
        Some(p) => {
            let f = RotatingFile::open(p, eve_max as u64, rc.eve_keep)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            let (r, n) = (f.reopen.clone(), f.rotations.clone());
            (Box::new(f), Some(r), Some(n))
        }
        None => (Box::new(std::io::sink()), None, None),
    };
    let mut eve = EveWriter::new(out);
    sinks.insert(0, Box::new(MetricsSink(metrics.clone())));
    if let Some(path) = &rc.store {
        let inputs = rc
            .af_packet
            .iter()
            .map(|a| format!("af_packet:{}", a.interface))
            .chain(rc.netflow.iter().map(|c| format!("netflow:{}", c.bind)))
            .chain(rc.sflow.iter().map(|c| format!("sflow:{}", c.bind)))
            .collect();
        let info = vigil_store::RunInfo {
            command: "run".into(),
            inputs,
            home_net: home_net.iter().map(|(a, l)| format!("{a}/{l}")).collect(),
        };
        let (sink, id) = crate::store_sink::StoreSink::open(path, &info)?;
        tracing::info!(store = %path.display(), run = id, "store");
        sinks.push(Box::new(sink));
    }
    let mut stage = FlowStage::build(&home_net, &flow, Some(&cfg.detect), &cfg.correlate, sinks)?;
    if let Some(path) = &rc.evidence {
        let (log, report) = vigil_evidence::EvidenceLog::open(
            path,
            &vigil_evidence::OpenOptions {
                repair_torn_tail: true,
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if report.truncated_bytes > 0 {
            tracing::warn!(path = %path.display(), bytes = report.truncated_bytes, "cut a torn last evidence record");
        }
        stage.evidence = Some(log);
        eve.tap = Some(Vec::new());
    }

    // sources
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel::<Msg>(CHANNEL_DEPTH);
    let mut backs: Vec<SyncSender<Batch>> = Vec::new();
    let mut threads = Vec::new();
    let mut kernel: Vec<(String, Arc<std::sync::Mutex<vigil_live::KernelStats>>)> = Vec::new();
    let mut ring_memory = 0usize;
    for (si, src) in rc.af_packet.iter().enumerate() {
        let block_size = parse_size(&src.block_size)
            .map_err(|e| anyhow::anyhow!("af_packet {}: block_size: {e}", src.interface))?;
        // one fanout group per interface, unique to this process
        let group = ((std::process::id() as u16) ^ (si as u16).wrapping_mul(0x9e37)) | 1;
        // a bound with a reason: more rings than cores only adds memory
        if src.workers > MAX_WORKERS {
            anyhow::bail!(
                "af_packet {}: workers = {} (at most {MAX_WORKERS})",
                src.interface,
                src.workers
            );
        }
        let workers = src.workers.max(1);
        for w in 0..workers {
            let ring = vigil_live::Ring::open(&vigil_live::RingConfig {
                interface: src.interface.clone(),
                block_size: u32::try_from(block_size)
                    .map_err(|_| anyhow::anyhow!("block_size too large"))?,
                block_count: src.block_count,
                block_timeout_ms: src.block_timeout_ms,
                fanout_group: (workers > 1).then_some(group),
                promiscuous: src.promiscuous,
                outgoing: src.outgoing,
            })
            .map_err(|e| anyhow::anyhow!("af_packet {}: {e}", src.interface))?;
            ring_memory += ring.memory();
            let ks = Arc::new(std::sync::Mutex::new(vigil_live::KernelStats::default()));
            kernel.push((src.interface.clone(), ks.clone()));
            let (back_tx, back_rx) = sync_channel::<Batch>(4);
            let id = backs.len();
            backs.push(back_tx);
            let (tx, stop, m, iface) = (
                tx.clone(),
                stop.clone(),
                metrics.clone(),
                src.interface.clone(),
            );
            threads.push(
                std::thread::Builder::new()
                    .name(format!("vigil-cap-{}-{w}", src.interface))
                    .spawn(move || capture_worker(ring, iface, id, tx, back_rx, stop, m, ks))?,
            );
        }
        tracing::info!(interface = %src.interface, workers, block_size, block_count = src.block_count, "af_packet source");
    }
    let mut collector_stats = Vec::new();
    for (kind, list) in [("netflow", &rc.netflow), ("sflow", &rc.sflow)] {
        for c in list {
            let sock = UdpSocket::bind(&c.bind)
                .map_err(|e| anyhow::anyhow!("{kind} bind {}: {e}", c.bind))?;
            sock.set_read_timeout(Some(POLL))?;
            let want = parse_size(&c.recv_buffer)
                .map_err(|e| anyhow::anyhow!("{kind} {}: recv_buffer: {e}", c.bind))?;
            match vigil_live::set_recv_buffer(&sock, want as usize) {
                Ok(got) => tracing::debug!(source = kind, want, got, "collector receive buffer"),
                Err(e) => {
                    tracing::warn!(source = kind, error = %e, "could not size the receive buffer")
                }
            }
            let local: SocketAddr = sock.local_addr()?;
            tracing::info!(source = kind, bind = %local, "collector source");
            let st = Arc::new(std::sync::Mutex::new(serde_json::Value::Null));
            collector_stats.push((kind, local.to_string(), st.clone()));
            let (tx, stop, m, ccfg) = (
                tx.clone(),
                stop.clone(),
                metrics.clone(),
                rc.collect.clone(),
            );
            threads.push(
                std::thread::Builder::new()
                    .name(format!("vigil-{kind}"))
                    .spawn(move || collector_thread(sock, kind, ccfg, tx, stop, m, st))?,
            );
        }
    }
    drop(tx);
    let http_stop = Arc::new(AtomicBool::new(false));
    let http = match &rc.metrics {
        Some(addr) => {
            let (h, local) = crate::metrics::serve(addr, metrics.clone(), http_stop.clone())?;
            tracing::info!(address = %local, "metrics on /metrics and /healthz");
            Some(h)
        }
        None => None,
    };
    metrics.ring_memory.set(ring_memory as i64);
    tracing::info!(config = %args.config.display(), ring_memory, "vigil run started");
    let started = Instant::now();

    // the flow stage
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    let mut exported = 0u64;
    let mut stopping: Option<Instant> = None;
    loop {
        if term.load(Ordering::Relaxed) && stopping.is_none() {
            tracing::info!("stopping: draining sources");
            stop.store(true, Ordering::Relaxed);
            stopping = Some(Instant::now());
        }
        match rx.recv_timeout(POLL) {
            Ok(Msg::Packets(id, mut b)) => {
                stage.process(&b, &mut eve);
                b.clear();
                let _ = backs[id].try_send(b);
            }
            Ok(Msg::Flows(recs)) => {
                exported += recs.len() as u64;
                stage.export_flows(&recs, &mut eve);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // every source is gone: nothing more can arrive
                tracing::error!("every source stopped; finishing");
                break;
            }
        }
        if stopping.is_some_and(|t| t.elapsed() > Duration::from_millis(1200)) {
            tracing::warn!("sources slow to stop; finishing without them");
            break;
        }
        if hup.swap(false, Ordering::Relaxed) {
            if let Some(r) = &reopen {
                r.store(true, Ordering::Relaxed);
            }
            match load(&args.config) {
                Ok((new, _)) => match stage.engine.reload(&new.detect) {
                    Ok(()) => {
                        metrics.reloads.inc();
                        tracing::info!(config = %args.config.display(), "reloaded detector settings; EVE reopened");
                    }
                    Err(e) => tracing::error!(error = %e, "reload refused; old settings stay"),
                },
                Err(e) => tracing::error!(error = %e, "reload failed; old settings stay"),
            }
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            last_flush = Instant::now();
            metrics.beat();
            // timers on a quiet link: behind the wall clock by more than a
            // packet can spend in the ring and the channel, so no packet
            // still on its way is older than the table's clock
            stage.tick(now_nanos().saturating_sub(IDLE_TICK_LAG), &mut eve);
            if let Err(e) = eve.finish() {
                tracing::error!(error = %e, "writing EVE");
            }
            let fs = stage.table.stats();
            metrics.flow_memory.set(fs.memory_peak as i64);
            metrics.flows_active.set(stage.table.active() as i64);
            if let Some(n) = &rotations {
                metrics.eve_rotations.set(n.load(Ordering::Relaxed) as i64);
            }
            publish_kernel(&kernel, &metrics);
            if rc.stats_interval_secs > 0
                && last_stats.elapsed() >= Duration::from_secs(rc.stats_interval_secs)
            {
                last_stats = Instant::now();
                let s = stats_event(&stage, &kernel, &collector_stats, exported, started);
                eve.raw(&s.to_string());
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    // drain what the sources still hand over (bounded by the 2 s budget)
    while let Ok(m) = rx.recv_timeout(Duration::from_millis(50)) {
        match m {
            Msg::Packets(_, b) => stage.process(&b, &mut eve),
            Msg::Flows(recs) => {
                exported += recs.len() as u64;
                stage.export_flows(&recs, &mut eve);
            }
        }
        if stopping.is_some_and(|t| t.elapsed() > Duration::from_millis(1500)) {
            break;
        }
    }
    // sources stop within one poll (100 ms); their last kernel counters
    // come with them. One that hangs is left behind, not waited for.
    let deadline = Instant::now() + Duration::from_millis(500);
    while threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
        while let Ok(m) = rx.try_recv() {
            match m {
                Msg::Packets(_, b) => stage.process(&b, &mut eve),
                Msg::Flows(recs) => {
                    exported += recs.len() as u64;
                    stage.export_flows(&recs, &mut eve);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for t in threads {
        if t.is_finished() {
            let _ = t.join();
        }
    }
    while let Ok(m) = rx.try_recv() {
        match m {
            Msg::Packets(_, b) => stage.process(&b, &mut eve),
            Msg::Flows(recs) => {
                exported += recs.len() as u64;
                stage.export_flows(&recs, &mut eve);
            }
        }
    }
    stage.finish(&mut eve);
    publish_kernel(&kernel, &metrics);
    let s = stats_event(&stage, &kernel, &collector_stats, exported, started);
    eve.raw(&s.to_string());
    let mut code = 0u8;
    if let Err(e) = eve.finish() {
        tracing::error!(error = %e, "writing EVE");
        code = 1;
    }
    if let Some(e) = &stage.evidence_error {
        tracing::error!(error = %e, "evidence log");
        code = 1;
    }
    if let Some(e) = &stage.sink_error {
        tracing::error!(error = %e, "sink");
        code = 1;
    }
    if metrics.sources_failed.get() > 0 {
        // a run that lost a source ends as failed (systemd restarts it)
        code = 1;
    }
    http_stop.store(true, Ordering::Relaxed);
    drop(http);
    let drops: u64 = kernel
        .iter()
        .map(|(_, k)| k.lock().map(|k| k.drops).unwrap_or(0))
        .sum();
    tracing::info!(
        flows = eve.flows,
        alerts = eve.alerts,
        kernel_drops = drops,
        exported,
        "vigil run stopped"
    );
    Ok(code)
}

/// Sums the rings' kernel counters per interface into the gauges.
fn publish_kernel(
    kernel: &[(String, Arc<std::sync::Mutex<vigil_live::KernelStats>>)],
    metrics: &Metrics,
) {
    let mut per: Vec<(&str, vigil_live::KernelStats)> = Vec::new();
    for (i, k) in kernel {
        let k = *k.lock().unwrap_or_else(|e| e.into_inner());
        match per.iter_mut().find(|(n, _)| n == i) {
            Some((_, t)) => {
                t.packets += k.packets;
                t.drops += k.drops;
                t.freeze_count += k.freeze_count;
            }
            None => per.push((i, k)),
        }
    }
    for (i, k) in per {
        let l = label("interface", i);
        metrics
            .kernel_packets
            .get_or_create(&l)
            .set(k.packets as i64);
        metrics.kernel_drops.get_or_create(&l).set(k.drops as i64);
        metrics
            .kernel_freezes
            .get_or_create(&l)
            .set(k.freeze_count as i64);
    }
}

fn stats_event(
    stage: &FlowStage,
    kernel: &[(String, Arc<std::sync::Mutex<vigil_live::KernelStats>>)],
    collectors: &[(&str, String, Arc<std::sync::Mutex<serde_json::Value>>)],
    exported: u64,
    started: Instant,
) -> serde_json::Value {
    let rings: Vec<_> = kernel
        .iter()
        .map(|(i, k)| {
            let k = *k.lock().unwrap_or_else(|e| e.into_inner());
            json!({"interface": i, "packets": k.packets, "drops": k.drops, "freezes": k.freeze_count})
        })
        .collect();
    let cols: Vec<_> = collectors
        .iter()
        .map(|(kind, bind, st)| {
            json!({"source": kind, "bind": bind, "stats": *st.lock().unwrap_or_else(|e| e.into_inner())})
        })
        .collect();
    json!({
        "timestamp": eve::ts(now_nanos()),
        "event_type": "stats",
        "stats": {
            "capture": {"rings": rings},
            "collectors": cols,
            "flows_exported": exported,
            "flow": stage.table.stats(),
            "alerts_rate_limited": stage.engine.suppressed,
            "uptime_seconds": started.elapsed().as_secs_f64(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_example_config_parses() {
        let c: Config = toml::from_str(include_str!("../../../dist/vigil.toml")).unwrap();
        assert_eq!(c.run.af_packet[0].interface, "eth0");
        assert_eq!(c.run.af_packet[0].workers, 2);
        assert_eq!(c.run.netflow[0].bind, "0.0.0.0:2055");
        assert_eq!(c.run.sflow[0].bind, "0.0.0.0:6343");
        assert_eq!(c.run.metrics.as_deref(), Some("127.0.0.1:9110"));
        assert!(toml::from_str::<Config>("[[run.af_packet]]\ninterfce = \"x\"\n").is_err());
    }
}
