//! Per-generation state shared by scenario code: randomness, the timeline,
//! the address plan, truth events, and writing the two output files.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Map, Value};
use vigil_core::{format_eve_ts, Nanos, NANOS_PER_SEC};

use crate::conn::TcpConn;
use crate::net::{eph_port, Net};
use crate::rng::Rng;
use crate::timeline::{Tag, Timeline};
use crate::{ScenarioInfo, SimError, SimOptions};

/// Capture time as RFC 3339 with microseconds and `Z`
/// (`2011-04-17T10:00:06.250000Z`), the truth-file format.
pub fn format_rfc3339(ts: Nanos) -> String {
    let s = format_eve_ts(ts);
    format!("{}Z", s.trim_end_matches("+0000"))
}

pub(crate) struct Draft {
    id: String,
    category: &'static str,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    tag: Tag,
    extra: Map<String, Value>,
}

pub(crate) struct Ctx {
    pub info: ScenarioInfo,
    pub seed: u64,
    pub scale: f64,
    pub rng: Rng,
    pub tl: Timeline,
    pub net: Net,
    /// Start of the capture (varies by seed).
    pub base: Nanos,
    events: Vec<Draft>,
    pub flows: Vec<Value>,
    /// Last ephemeral port handed out per host.
    ports: HashMap<IpAddr, u16>,
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

pub(crate) const SEC: Nanos = NANOS_PER_SEC;
pub(crate) const MS: Nanos = 1_000_000;

/// Seconds (float) to nanoseconds.
pub(crate) fn secs(s: f64) -> Nanos {
    (s.max(0.0) * 1e9) as Nanos
}

impl Ctx {
    pub fn new(info: &ScenarioInfo, opts: &SimOptions) -> Self {
        let mut rng = Rng::new(opts.seed ^ fnv(info.name));
        // 2015-01-01 .. 2025-01-01, any time of day
        let base_s = 1_420_070_400 + rng.below(10 * 365 * 86_400);
        let base = base_s * SEC + rng.below(SEC / 1000) * 1000;
        let net = Net::new(info.home_nets, &mut rng);
        Ctx {
            info: *info,
            seed: opts.seed,
            scale: opts.scale,
            rng,
            tl: Timeline::new(),
            net,
            base,
            events: Vec::new(),
            flows: Vec::new(),
            ports: HashMap::new(),
        }
    }

    /// `base * scale` rounded, at least `min`.
    pub fn count(&self, base: f64, min: usize) -> usize {
        ((base * self.scale).round() as usize).max(min)
    }

    /// A new truth event; frames pushed with the returned tag make its span.
    pub fn event(
        &mut self,
        id: &str,
        category: &'static str,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
    ) -> Tag {
        let tag = Tag(self.events.len() as u16 + 1);
        self.events.push(Draft {
            id: id.to_string(),
            category,
            src,
            dst,
            tag,
            extra: Map::new(),
        });
        tag
    }

    /// Adds an extra field (e.g. `bytes`) to the event of `tag`.
    pub fn extra(&mut self, tag: Tag, key: &str, value: Value) {
        if let Some(d) = self.events.iter_mut().find(|d| d.tag == tag) {
            d.extra.insert(key.to_string(), value);
        }
    }

    /// The next ephemeral port of `host`: random at first, then increasing
    /// by small steps (wrapping), so one host never reuses a port while an
    /// earlier connection may still be open.
    pub fn eph(&mut self, host: IpAddr) -> u16 {
        let next = match self.ports.get(&host) {
            None => eph_port(&mut self.rng),
            Some(&p) => {
                let n = p as u32 + 1 + self.rng.below(3) as u32;
                if n > 65_000 {
                    32_768 + self.rng.below(1000) as u16
                } else {
                    n as u16
                }
            }
        };
        self.ports.insert(host, next);
        next
    }

    /// A TCP connection from the client's next ephemeral port.
    pub fn tcp(
        &mut self,
        client: IpAddr,
        server: (IpAddr, u16),
        start: Nanos,
        rtt: Nanos,
        near_client: bool,
        tag: Tag,
    ) -> TcpConn {
        let port = self.eph(client);
        TcpConn::new(
            &mut self.rng,
            (client, port),
            server,
            start,
            rtt,
            near_client,
            tag,
        )
    }

    /// A round-trip time: LAN (0.2-2 ms) or Internet (8-180 ms).
    pub fn rtt(&mut self, lan: bool) -> Nanos {
        if lan {
            self.rng.range(200_000, 2_000_000)
        } else {
            self.rng.lognormal(45.0, 0.5).clamp(8.0, 180.0) as Nanos * MS + self.rng.below(MS)
        }
    }

    /// True when `ip` is inside the home networks.
    pub fn inside(&self, ip: IpAddr) -> bool {
        self.net.is_home(ip)
    }

    pub fn finish(self, pcap: &Path) -> Result<(), SimError> {
        let mut events = Vec::new();
        for d in &self.events {
            let (start, end) = self
                .tl
                .span(d.tag)
                .ok_or_else(|| SimError::EmptyEvent(self.info.name.to_string(), d.id.clone()))?;
            let mut e = Map::new();
            e.insert("id".into(), json!(d.id));
            e.insert("category".into(), json!(d.category));
            if let Some(s) = d.src {
                e.insert("src_ip".into(), json!(s.to_string()));
            }
            if let Some(s) = d.dst {
                e.insert("dest_ip".into(), json!(s.to_string()));
            }
            e.insert("start".into(), json!(format_rfc3339(start)));
            e.insert("end".into(), json!(format_rfc3339(end)));
            for (k, v) in &d.extra {
                e.insert(k.clone(), v.clone());
            }
            events.push(Value::Object(e));
        }
        let file_name = pcap
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut truth = json!({
            "capture": file_name,
            "home_nets": self.info.home_nets,
            "generator": {"name": "vigil-sim", "scenario": self.info.name, "seed": self.seed, "scale": self.scale},
            "events": events,
        });
        if !self.flows.is_empty() {
            truth["flows"] = Value::Array(self.flows.clone());
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SimError::Io { path, source }
        };
        self.tl.write_pcap(pcap).map_err(io(pcap))?;
        let truth_path = pcap.with_file_name(format!("{file_name}.truth.json"));
        let text = serde_json::to_string_pretty(&truth).expect("truth serialises");
        std::fs::write(&truth_path, text + "\n").map_err(io(&truth_path))?;
        Ok(())
    }
}
