//! `vigil analyze`: capture files in, EVE events and a summary out.
//!
//! Two stages on two threads, meeting at batches of plain `PacketInfo`s:
//! the reader thread reads and decodes (I/O, pcap framing, link to L4, IP
//! reassembly), the main thread runs the flow table and writes EVE. Batch
//! vectors travel back for reuse, so the steady state allocates nothing.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use serde_json::json;
use vigil_capture::{Merge, PacketSource};
use vigil_core::{
    FlowCtx, FlowRecord, FlowSink, Meta, Nanos, NetSet, PacketInfo, ShedAggregate, NANOS_PER_SEC,
};
use vigil_detect::{DetectConfig, Emitted, Engine};
use vigil_flow::{FlowConfig, FlowStats, FlowTable};
use vigil_wire::{Decoded, Decoder, DecoderConfig};

use crate::eve::{self, EveWriter};
use crate::sink::Sink;

/// Packets per batch handed from the reader to the flow stage: large enough
/// to amortise the channel, small enough to stay in L2.
pub(crate) const BATCH: usize = 4096;
/// Batches in flight between the stages; bounds the memory between them.
const CHANNEL_DEPTH: usize = 8;
/// How often (capture time) the decoder expires stale fragment trains.
const EXPIRE_EVERY: Nanos = NANOS_PER_SEC;

pub struct Options {
    pub captures: Vec<PathBuf>,
    pub home_net: NetSet,
    pub eve: Option<PathBuf>,
    pub flow: FlowConfig,
    pub correlate: vigil_correlate::CorrelateConfig,
    /// Tamper-evident log of every alert and incident (`--evidence`).
    pub evidence: Option<PathBuf>,
    /// Detector settings; `None` runs no detector (`--no-detect`).
    pub detect: Option<DetectConfig>,
    pub progress: bool,
    /// 1: read, decode and account on one thread; 2: reader and flow stages
    /// on two threads (faster wall clock, slightly more CPU).
    pub threads: usize,
    /// Extra consumers (store, mitigation, metrics), called after EVE.
    pub sinks: Vec<Box<dyn Sink>>,
}

/// What travels from the reader to the flow stage: decoded packets and the
/// metadata seen in some of them (index of its packet; ARP has none).
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) pkts: Vec<PacketInfo>,
    pub(crate) meta: Vec<(u32, bool, Meta)>,
}

impl Batch {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Batch {
            pkts: Vec::with_capacity(n),
            meta: Vec::new(),
        }
    }
    pub(crate) fn clear(&mut self) {
        self.pkts.clear();
        self.meta.clear();
    }
}

/// Decodes one frame into `batch`: its `PacketInfo`, and the application
/// metadata or ARP it carries. Shared by the file reader and the live
/// capture workers (`run`).
#[inline]
pub(crate) fn decode_into(
    dec: &mut Decoder,
    linktype: u32,
    ts: Nanos,
    orig_len: u32,
    data: &[u8],
    batch: &mut Batch,
) {
    match dec.decode(linktype, ts, orig_len, data) {
        Decoded::Ip { info, payload } => {
            if let Some(m) = vigil_app::inspect(&info, payload) {
                batch.meta.push((batch.pkts.len() as u32, true, m));
            }
            batch.pkts.push(info);
        }
        Decoded::Arp(a) => batch.meta.push((
            batch.pkts.len() as u32,
            false,
            Meta::Arp {
                ts: a.ts,
                op: a.op,
                sender: a.sender_ip,
                target: a.target_ip,
            },
        )),
        _ => {}
    }
}

/// Finished flows go to EVE, the detectors and the extra sinks.
struct Tee<'a> {
    eve: &'a mut EveWriter,
    engine: &'a mut Engine,
    sinks: &'a mut [Box<dyn Sink>],
}

impl FlowSink for Tee<'_> {
    fn flow(&mut self, rec: &FlowRecord) {
        self.eve.flow(rec);
        self.engine.flow_end(rec);
        for s in self.sinks.iter_mut() {
            s.flow(rec);
        }
    }
    fn shed(&mut self, agg: &ShedAggregate) {
        self.eve.aggregate(agg);
        for s in self.sinks.iter_mut() {
            s.aggregate(agg);
        }
    }
}

/// What one run found, for the summary and the exit code.
pub struct Outcome {
    pub packets: u64,
    pub wire_bytes: u64,
    pub first_ts: Option<Nanos>,
    pub last_ts: Nanos,
    pub flow: FlowStats,
    pub flows_written: u64,
    pub aggregates_written: u64,
    pub alerts_written: u64,
    pub alerts_suppressed: u64,
    /// An evidence log write that failed (exit code 1).
    pub evidence_error: Option<String>,
    /// A sink (store, mitigation, ...) that failed to finish (exit code 1).
    pub sink_error: Option<String>,
    /// Incidents, ranked, for the summary.
    pub incidents: Vec<vigil_correlate::Incident>,
    pub warnings: Vec<String>,
    /// A capture that turned out broken mid-way: results up to it are kept.
    pub fatal: Option<String>,
    pub decode: serde_json::Value,
    pub anomalies: Vec<(&'static str, u64)>,
    pub elapsed: f64,
}

struct ReaderResult {
    packets: u64,
    wire_bytes: u64,
    first_ts: Option<Nanos>,
    last_ts: Nanos,
    warnings: Vec<String>,
    fatal: Option<String>,
    decode: serde_json::Value,
    anomalies: Vec<(&'static str, u64)>,
}

fn progress_bar(enabled: bool, total: Option<u64>) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total.unwrap_or(0));
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    Some(pb)
}

/// Opens every capture up front so a corrupt header fails before any output.
///
/// # Errors
/// The first capture that cannot be opened, as one line naming it.
pub fn open_all(paths: &[PathBuf]) -> Result<Box<dyn PacketSource>, String> {
    let mut sources = Vec::new();
    for p in paths {
        sources.push(vigil_capture::open(p).map_err(|e| e.to_string())?);
    }
    Ok(if sources.len() == 1 {
        sources.pop().expect("one source")
    } else {
        Box::new(Merge::new(sources))
    })
}

/// Reads, decodes and inspects every packet, handing full batches to
/// `dispatch`, which returns the next (empty) batch to fill, or `None` to
/// stop early.
fn read_loop(
    source: &mut dyn PacketSource,
    pb: Option<&indicatif::ProgressBar>,
    dispatch: &mut dyn FnMut(Batch) -> Option<Batch>,
) -> ReaderResult {
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut r = ReaderResult {
        packets: 0,
        wire_bytes: 0,
        first_ts: None,
        last_ts: 0,
        warnings: Vec::new(),
        fatal: None,
        decode: serde_json::Value::Null,
        anomalies: Vec::new(),
    };
    let mut batch = Batch::with_capacity(BATCH);
    let mut next_expire: Nanos = 0;
    let mut batches = 0u64;
    loop {
        match source.next_packet() {
            Ok(Some(p)) => {
                r.packets += 1;
                r.wire_bytes += p.orig_len as u64;
                if r.first_ts.is_none() {
                    r.first_ts = Some(p.ts);
                }
                if p.ts > r.last_ts {
                    r.last_ts = p.ts;
                }
                decode_into(&mut dec, p.linktype, p.ts, p.orig_len, p.data, &mut batch);
                if batch.pkts.len() == BATCH {
                    match dispatch(batch) {
                        Some(next) => batch = next,
                        None => {
                            batch = Batch::default();
                            break;
                        }
                    }
                    batches += 1;
                    if batches.is_multiple_of(64) {
                        if let Some(pb) = pb {
                            pb.set_position(source.progress().0);
                        }
                    }
                }
                if r.last_ts >= next_expire {
                    dec.expire(r.last_ts);
                    next_expire = r.last_ts.saturating_add(EXPIRE_EVERY);
                }
            }
            Ok(None) => break,
            Err(e) => {
                r.fatal = Some(e.to_string());
                break;
            }
        }
    }
    dec.expire(Nanos::MAX);
    if !batch.pkts.is_empty() || !batch.meta.is_empty() {
        let _ = dispatch(batch);
    }
    r.warnings = source.take_warnings();
    r.decode = decode_counters(&dec.counters());
    r.anomalies = dec.anomalies().collect();
    r
}

/// The flow table and the detectors: everything after decoding. Shared by
/// `analyze` (fed by the file reader) and `run` (fed by live sources).
pub(crate) struct FlowStage {
    pub(crate) evidence: Option<vigil_evidence::EvidenceLog>,
    /// The first evidence write error (the run goes on; the exit code says).
    pub evidence_error: Option<String>,
    pub(crate) table: FlowTable,
    pub(crate) engine: Engine,
    pub(crate) correlator: vigil_correlate::Correlator,
    ctx: Vec<FlowCtx>,
    alerts: Vec<Emitted>,
    sinks: Vec<Box<dyn Sink>>,
    /// Latest capture time seen, for the sinks' timers.
    now: Nanos,
    /// The first error a sink reported when finishing.
    pub sink_error: Option<String>,
}

impl FlowStage {
    fn new(opts: &mut Options) -> anyhow::Result<Self> {
        Self::build(
            &opts.home_net,
            &opts.flow,
            opts.detect.as_ref(),
            &opts.correlate,
            std::mem::take(&mut opts.sinks),
        )
    }

    /// # Errors
    /// A detector configuration the engine refuses.
    pub(crate) fn build(
        home_net: &NetSet,
        flow: &FlowConfig,
        detect: Option<&DetectConfig>,
        correlate: &vigil_correlate::CorrelateConfig,
        sinks: Vec<Box<dyn Sink>>,
    ) -> anyhow::Result<Self> {
        Ok(FlowStage {
            evidence: None,
            evidence_error: None,
            table: FlowTable::new(flow),
            engine: match detect {
                Some(cfg) => Engine::new(cfg, home_net.clone()).map_err(anyhow::Error::msg)?,
                None => Engine::disabled(home_net.clone()),
            },
            correlator: vigil_correlate::Correlator::new(correlate, home_net.clone()),
            ctx: Vec::with_capacity(BATCH),
            alerts: Vec::new(),
            sinks,
            now: 0,
            sink_error: None,
        })
    }

    /// Flows from an exporter (NetFlow/IPFIX/sFlow): they bypass the flow
    /// table and go to EVE, the detectors and the sinks as finished flows.
    pub(crate) fn export_flows(&mut self, recs: &[FlowRecord], eve: &mut EveWriter) {
        for r in recs {
            eve.flow(r);
            self.engine.flow_export(r);
            for s in self.sinks.iter_mut() {
                s.flow(r);
            }
            self.now = self.now.max(r.end);
        }
        self.write_alerts(eve);
    }

    pub(crate) fn process(&mut self, batch: &Batch, eve: &mut EveWriter) {
        let engine = &mut self.engine;
        let sinks = &mut self.sinks[..];
        self.table
            .process_batch(&batch.pkts, &mut self.ctx, &mut Tee { eve, engine, sinks });
        if let Some(last) = batch.pkts.last() {
            self.now = self.now.max(last.ts);
        }
        if engine.idle() {
            // no detector: only the engine's clock moves
            engine.tick(self.now);
            self.write_alerts(eve);
            return;
        }
        let mut metas = batch.meta.iter().peekable();
        for (i, (p, c)) in batch.pkts.iter().zip(&self.ctx).enumerate() {
            // ARP frames read before this packet, then the packet, then what
            // its payload showed
            while let Some((_, _, m)) = metas.next_if(|(at, ip, _)| !*ip && *at as usize == i) {
                engine.meta(None, m);
            }
            engine.packet(p, c);
            while let Some((_, _, m)) = metas.next_if(|(at, ip, _)| *ip && *at as usize == i) {
                engine.meta(Some((p, c)), m);
            }
        }
        for (_, _, m) in metas {
            engine.meta(None, m);
        }
        self.write_alerts(eve);
    }

    fn write_alerts(&mut self, eve: &mut EveWriter) {
        self.engine.drain(&mut self.alerts);
        for a in self.alerts.drain(..) {
            eve.alert(&a);
            eve.tap_last(a.alert.ts, "alert");
            for s in self.sinks.iter_mut() {
                s.alert(&a, eve);
            }
            for i in self.correlator.alert(&a.alert, a.update) {
                eve.incident(&i, None);
                eve.tap_last(i.last, "incident");
                for s in self.sinks.iter_mut() {
                    s.incident(&i, None, eve);
                }
            }
        }
        for s in self.sinks.iter_mut() {
            s.tick(self.now, eve);
        }
        self.record_evidence(eve);
    }

    /// A timer tick without packets (the live sensor calls it once a second
    /// with the wall clock, which is what kernel timestamps are): idle flows
    /// expire, detectors tick and sinks' timers (mitigation TTLs, store
    /// flushes) run on a quiet link too.
    pub(crate) fn tick(&mut self, now: Nanos, eve: &mut EveWriter) {
        let engine = &mut self.engine;
        let sinks = &mut self.sinks[..];
        self.table.advance(now, &mut Tee { eve, engine, sinks });
        self.engine.tick(now);
        self.now = self.now.max(now);
        self.write_alerts(eve);
    }

    /// Appends what the EVE tap caught to the evidence log.
    fn record_evidence(&mut self, eve: &mut EveWriter) {
        let (Some(log), Some(tap)) = (self.evidence.as_mut(), eve.tap.as_mut()) else {
            return;
        };
        for (ts, kind, line) in tap.drain(..) {
            let data: serde_json::Value =
                serde_json::from_str(&line).unwrap_or(serde_json::Value::Null);
            if let Err(e) = log.append(ts, kind, &data) {
                self.evidence_error.get_or_insert(e.to_string());
            }
        }
    }

    pub(crate) fn finish(&mut self, eve: &mut EveWriter) {
        let engine = &mut self.engine;
        let sinks = &mut self.sinks[..];
        self.table.finish(&mut Tee { eve, engine, sinks });
        self.engine.finish();
        self.write_alerts(eve);
        for (rank, i) in self.correlator.ranked().iter().enumerate() {
            eve.incident(i, Some(rank + 1));
            eve.tap_last(i.last, "incident");
            for s in self.sinks.iter_mut() {
                s.incident(i, Some(rank + 1), eve);
            }
        }
        for s in self.sinks.iter_mut() {
            if let Err(e) = s.finish(self.now, eve) {
                self.sink_error.get_or_insert(e.to_string());
            }
        }
        self.record_evidence(eve);
        if let Some(log) = self.evidence.as_mut() {
            if let Err(e) = log.flush() {
                self.evidence_error.get_or_insert(e.to_string());
            }
        }
    }
}

pub fn run(mut opts: Options, mut source: Box<dyn PacketSource>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let out: Box<dyn Write + Send> = match &opts.eve {
        None => Box::new(std::io::sink()),
        Some(p) if p.as_os_str() == "-" => {
            Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout()))
        }
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        )),
    };
    let mut eve = EveWriter::new(out);
    let pb = progress_bar(opts.progress, source.progress().1);
    let mut stage = FlowStage::new(&mut opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut evidence_warning = None;
    if let Some(path) = &opts.evidence {
        let (log, report) = vigil_evidence::EvidenceLog::open(
            path,
            &vigil_evidence::OpenOptions {
                repair_torn_tail: true,
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if report.truncated_bytes > 0 {
            evidence_warning = Some(format!(
                "{}: cut a torn last record ({} bytes) left by an interrupted writer",
                path.display(),
                report.truncated_bytes
            ));
        }
        stage.evidence = Some(log);
        eve.tap = Some(Vec::new());
    }

    let r = if opts.threads <= 1 {
        read_loop(source.as_mut(), pb.as_ref(), &mut |mut b| {
            stage.process(&b, &mut eve);
            b.clear();
            Some(b)
        })
    } else {
        let (tx, rx) = sync_channel::<Batch>(CHANNEL_DEPTH);
        // Empty batches travel back for reuse; bounded like the forward
        // channel so the number of batches alive is fixed.
        let (back_tx, back_rx) = sync_channel::<Batch>(CHANNEL_DEPTH + 2);
        let pb2 = pb.clone();
        let reader = std::thread::Builder::new()
            .name("vigil-reader".into())
            .spawn(move || {
                read_loop(source.as_mut(), pb2.as_ref(), &mut |b| {
                    tx.send(b).ok()?;
                    Some(
                        back_rx
                            .try_recv()
                            .unwrap_or_else(|_| Batch::with_capacity(BATCH)),
                    )
                })
            })?;
        for mut batch in rx {
            stage.process(&batch, &mut eve);
            batch.clear();
            let _ = back_tx.try_send(batch);
        }
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?
    };
    stage.finish(&mut eve);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let (table, engine) = (&stage.table, &stage.engine);
    let flow = table.stats();
    let outcome = Outcome {
        packets: r.packets,
        wire_bytes: r.wire_bytes,
        first_ts: r.first_ts,
        last_ts: r.last_ts,
        flow,
        flows_written: eve.flows,
        aggregates_written: eve.aggregates,
        alerts_written: eve.alerts,
        incidents: stage.correlator.ranked(),
        evidence_error: stage.evidence_error.clone(),
        sink_error: stage.sink_error.clone(),
        alerts_suppressed: engine.suppressed,
        warnings: r.warnings.into_iter().chain(evidence_warning).collect(),
        fatal: r.fatal,
        decode: r.decode,
        anomalies: r.anomalies,
        elapsed: started.elapsed().as_secs_f64(),
    };
    eve.raw(&stats_event(&outcome, &opts).to_string());
    eve.finish()
        .map_err(|e| anyhow::anyhow!("writing EVE output: {e}"))?;
    Ok(outcome)
}

fn decode_counters(c: &vigil_wire::DecodeCounters) -> serde_json::Value {
    json!({
        "frames": c.frames, "ip": c.ip, "arp": c.arp, "non_ip": c.non_ip,
        "frag_held": c.frag_held, "bad": c.bad, "truncated": c.truncated,
        "frag_frames": c.frag_frames, "reassembled": c.reassembled,
        "reassembled_frames": c.reassembled_frames,
        "frag_dropped_frames": c.frag_dropped_frames, "frag_dropped_bytes": c.frag_dropped_bytes,
    })
}

fn stats_event(o: &Outcome, opts: &Options) -> serde_json::Value {
    let mut events = serde_json::Map::new();
    for (name, n) in &o.anomalies {
        // "ipv4.hlen_too_small" → {"ipv4": {"hlen_too_small": n}} as Suricata
        let (layer, kind) = name.split_once('.').unwrap_or(("other", name));
        let entry = events.entry(layer.to_string()).or_insert_with(|| json!({}));
        entry[kind] = json!(n);
    }
    json!({
        "timestamp": eve::ts(o.last_ts),
        "event_type": "stats",
        "stats": {
            "capture": {
                "files": opts.captures.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "packets": o.packets,
                "bytes": o.wire_bytes,
                "first": o.first_ts.map(eve::ts),
                "last": eve::ts(o.last_ts),
                "warnings": o.warnings,
                "error": o.fatal,
            },
            "decoder": {
                "counters": o.decode,
                "event": events,
            },
            "flow": o.flow,
            "home_net": opts.home_net.iter().map(|(a, l)| format!("{a}/{l}")).collect::<Vec<_>>(),
            "output": {"flows": o.flows_written, "flow_aggregates": o.aggregates_written,
                       "alerts": o.alerts_written, "alerts_rate_limited": o.alerts_suppressed},
            "memory": {"flow_bound": o.flow.memory_bound, "flow_peak": o.flow.memory_peak},
            "elapsed_seconds": o.elapsed,
        }
    })
}

fn human(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The human summary printed on stderr.
pub fn summary(o: &Outcome) -> String {
    let mut s = String::new();
    let secs = o.elapsed.max(1e-9);
    s.push_str(&format!(
        "vigil: {} packets, {} bytes in {:.2} s ({:.2} Mpps)\n",
        human(o.packets),
        human(o.wire_bytes),
        o.elapsed,
        o.packets as f64 / secs / 1e6
    ));
    let f = &o.flow;
    s.push_str(&format!(
        "  alerts: {} ({} repeats rate-limited)\n",
        human(o.alerts_written),
        human(o.alerts_suppressed)
    ));
    for (n, i) in o.incidents.iter().take(5).enumerate() {
        s.push_str(&format!(
            "  incident {}: {}{}\n",
            n + 1,
            if i.under_flood_cover {
                "[under flood cover] "
            } else {
                ""
            },
            i.summary
        ));
    }
    s.push_str(&format!(
        "  flows: {} logged, {} shed into {} aggregate(s) ({} packets); peak {} active, {} candidates\n",
        human(f.flows_logged),
        human(f.flows_shed),
        o.aggregates_written,
        human(f.shed_packets),
        human(f.active_peak),
        human(f.candidates_peak),
    ));
    if f.forced > 0 || f.evicted > 0 {
        s.push_str(&format!(
            "  table full: {} unprotected flows shed, {} protected flows ended early\n",
            human(f.evicted),
            human(f.forced)
        ));
    }
    let total: u64 = o.anomalies.iter().map(|(_, n)| n).sum();
    if total > 0 {
        let list: Vec<String> = o
            .anomalies
            .iter()
            .map(|(k, n)| format!("{k} {}", human(*n)))
            .collect();
        s.push_str(&format!(
            "  decode anomalies: {} ({})\n",
            human(total),
            list.join(", ")
        ));
    }
    s.push_str(&format!(
        "  flow memory: peak {:.1} MiB of {:.1} MiB bound\n",
        f.memory_peak as f64 / 1048576.0,
        f.memory_bound as f64 / 1048576.0
    ));
    for w in &o.warnings {
        s.push_str(&format!("  warning: {w}\n"));
    }
    s
}
