//! Prometheus `/metrics` and `/healthz` for `vigil run`.
//!
//! Counters are `prometheus-client` atomics shared by the capture workers,
//! the collectors and the flow stage; the HTTP side is `tiny_http` on one
//! thread (chosen over axum: no async runtime to build or run for two
//! read-only endpoints, a fraction of the compile time, and a slow client
//! only ever holds that one thread). `/healthz` answers 200 while the flow
//! stage has looped within the last 5 s and every source is running, 503
//! otherwise (a wedged pipeline, or a capture worker or collector that
//! stopped on an error).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use vigil_core::{FlowRecord, ShedAggregate};
use vigil_correlate::Incident;
use vigil_detect::Emitted;

use crate::eve::EveWriter;
use crate::sink::Sink;

type Labels = Vec<(String, String)>;

/// Every counter `vigil run` exports.
#[derive(Default)]
pub struct Metrics {
    pub packets: Family<Labels, Counter>,
    pub bytes: Family<Labels, Counter>,
    pub kernel_packets: Family<Labels, Gauge>,
    pub kernel_drops: Family<Labels, Gauge>,
    pub kernel_freezes: Family<Labels, Gauge>,
    pub flows: Counter,
    pub flows_exported: Counter,
    pub aggregates: Counter,
    pub alerts: Family<Labels, Counter>,
    pub incidents: Counter,
    pub flow_memory: Gauge,
    pub flow_memory_bound: Gauge,
    pub flows_active: Gauge,
    pub collector_datagrams: Family<Labels, Counter>,
    pub collector_records: Family<Labels, Counter>,
    pub collector_malformed: Family<Labels, Counter>,
    pub collector_stats: Family<Labels, Gauge>,
    pub collector_socket_drops: Family<Labels, Gauge>,
    pub eve_rotations: Gauge,
    /// Bytes of capture ring mapped, over all workers.
    pub ring_memory: Gauge,
    pub reloads: Counter,
    /// Unix seconds of the flow stage's last loop (for /healthz).
    pub heartbeat: AtomicU64,
    /// Sources (capture workers, collectors) that stopped on an error.
    pub sources_failed: Gauge,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn label(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

impl Metrics {
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut r = Registry::with_prefix("vigil");
        let m = self;
        r.register(
            "packets",
            "Packets captured, by interface",
            m.packets.clone(),
        );
        r.register(
            "bytes",
            "Wire bytes captured, by interface",
            m.bytes.clone(),
        );
        r.register(
            "kernel_packets",
            "Packets that reached the capture rings, dropped ones included (PACKET_STATISTICS), by interface",
            m.kernel_packets.clone(),
        );
        r.register(
            "kernel_drops",
            "Packets the kernel dropped because a ring was full, by interface",
            m.kernel_drops.clone(),
        );
        r.register(
            "kernel_freezes",
            "Times a ring was frozen (all blocks in user space), by interface",
            m.kernel_freezes.clone(),
        );
        r.register("flows", "Flow records written", m.flows.clone());
        r.register(
            "flows_exported",
            "Flow records received from exporters (NetFlow/IPFIX/sFlow)",
            m.flows_exported.clone(),
        );
        r.register(
            "flow_aggregates",
            "Shed-flow aggregates written",
            m.aggregates.clone(),
        );
        r.register("alerts", "Alerts written, by category", m.alerts.clone());
        r.register(
            "incidents",
            "Incident events written (opened or grown)",
            m.incidents.clone(),
        );
        r.register(
            "flow_memory_bytes",
            "Flow table memory in use",
            m.flow_memory.clone(),
        );
        r.register(
            "flow_memory_bound_bytes",
            "Flow table memory bound",
            m.flow_memory_bound.clone(),
        );
        r.register("flows_active", "Flows in the table", m.flows_active.clone());
        r.register(
            "collector_datagrams",
            "Datagrams received by the flow collectors, by source",
            m.collector_datagrams.clone(),
        );
        r.register(
            "collector_records",
            "Flow records decoded by the flow collectors, by source",
            m.collector_records.clone(),
        );
        r.register(
            "collector_malformed",
            "Datagrams the collectors could not decode (counted, skipped), by source",
            m.collector_malformed.clone(),
        );
        r.register(
            "collector_socket_drops",
            "Datagrams the kernel dropped for a collector socket (receive buffer full), by source",
            m.collector_socket_drops.clone(),
        );
        r.register(
            "collector_stat",
            "The collectors' own counters, by source and name",
            m.collector_stats.clone(),
        );
        r.register(
            "eve_rotations",
            "EVE file rotations",
            m.eve_rotations.clone(),
        );
        r.register(
            "ring_memory_bytes",
            "Capture ring memory mapped, over all workers",
            m.ring_memory.clone(),
        );
        r.register(
            "sources_failed",
            "Capture workers and collectors that stopped on an error (/healthz turns 503)",
            m.sources_failed.clone(),
        );
        r.register(
            "reloads",
            "Configuration reloads (SIGHUP)",
            m.reloads.clone(),
        );
        r
    }

    pub fn beat(&self) {
        self.heartbeat.store(unix_now(), Ordering::Relaxed);
    }
}

/// Counts what the flow stage writes (flows, aggregates, alerts by category,
/// incidents).
pub struct MetricsSink(pub Arc<Metrics>);

impl Sink for MetricsSink {
    fn flow(&mut self, _r: &FlowRecord) {
        self.0.flows.inc();
    }
    fn aggregate(&mut self, _a: &ShedAggregate) {
        self.0.aggregates.inc();
    }
    fn alert(&mut self, a: &Emitted, _eve: &mut EveWriter) {
        self.0
            .alerts
            .get_or_create(&label("category", a.alert.category.slug()))
            .inc();
    }
    fn incident(&mut self, _i: &Incident, rank: Option<usize>, _eve: &mut EveWriter) {
        if rank.is_none() {
            self.0.incidents.inc();
        }
    }
}

/// Serves `/metrics` and `/healthz` until `stop` is set.
///
/// # Errors
/// The address cannot be bound.
pub fn serve(
    addr: &str,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(std::thread::JoinHandle<()>, std::net::SocketAddr)> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("metrics address {addr}: {e}"))?;
    let local = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow::anyhow!("metrics address {addr}: not an IP socket"))?;
    let registry = metrics.registry();
    let h = std::thread::Builder::new()
        .name("vigil-metrics".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let req = match server.recv_timeout(Duration::from_millis(200)) {
                    Ok(Some(r)) => r,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics server");
                        continue;
                    }
                };
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let resp = match path.as_str() {
                    "/metrics" => {
                        let mut body = String::new();
                        match encode(&mut body, &registry) {
                            Ok(()) => tiny_http::Response::from_string(body).with_header(
                                tiny_http::Header::from_bytes(
                                    &b"Content-Type"[..],
                                    &b"application/openmetrics-text; version=1.0.0; charset=utf-8"
                                        [..],
                                )
                                .expect("static header"),
                            ),
                            Err(e) => tiny_http::Response::from_string(e.to_string())
                                .with_status_code(500),
                        }
                    }
                    "/healthz" => {
                        let age =
                            unix_now().saturating_sub(metrics.heartbeat.load(Ordering::Relaxed));
                        let failed = metrics.sources_failed.get();
                        if failed > 0 {
                            tiny_http::Response::from_string(format!(
                                "degraded: {failed} source(s) stopped on an error (see the log)\n"
                            ))
                            .with_status_code(503)
                        } else if age <= 5 {
                            tiny_http::Response::from_string("ok\n")
                        } else {
                            tiny_http::Response::from_string(format!(
                                "stalled: flow stage silent for {age} s\n"
                            ))
                            .with_status_code(503)
                        }
                    }
                    _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
                };
                let _ = req.respond(resp);
            }
        })?;
    Ok((h, local))
}
