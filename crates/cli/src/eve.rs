//! EVE JSON output (Suricata's event format), hand-written for the hot path.
//!
//! Flow events are written without building a JSON tree: a capture can end
//! hundreds of thousands of flows and serde_json's `Value` costs microseconds
//! each. Field names follow Suricata's `flow` events; vigil's additions
//! (`ip_bytes_*`, `payload_bytes_*`) sit beside them in `flow`.

use std::fmt::Write as _;
use std::io::{self, Write};
use vigil_core::{
    format_eve_ts, proto, push_eve_ts, FlowRecord, Nanos, ShedAggregate, NANOS_PER_SEC,
};

/// Writes EVE lines to any writer; counts what it wrote.
pub struct EveWriter {
    out: Box<dyn Write + Send>,
    line: String,
    /// The line written last (buffers swap on every emit).
    prev: String,
    pub flows: u64,
    pub aggregates: u64,
    pub alerts: u64,
    pub incidents: u64,
    /// When set, copies of every alert and incident line (without the
    /// newline), taken by the evidence log.
    pub tap: Option<Vec<(Nanos, &'static str, String)>>,
    /// The first write error; later writes are skipped.
    pub error: Option<io::Error>,
}

fn push_proto(s: &mut String, p: u8) {
    match proto::name(p) {
        Some(n) => {
            let _ = write!(s, "\"proto\":\"{n}\"");
        }
        None => {
            let _ = write!(s, "\"proto\":\"{p}\"");
        }
    }
}

/// Appends `prefix` then `v` in decimal (itoa: flow records write a dozen
/// integers each, and `core::fmt` showed in profiles).
fn num(s: &mut String, prefix: &str, v: u64) {
    s.push_str(prefix);
    s.push_str(itoa::Buffer::new().format(v));
}

/// Two lower-case hex digits, as EVE writes TCP flags.
fn hex2(s: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.push(HEX[(b >> 4) as usize] as char);
    s.push(HEX[(b & 15) as usize] as char);
}

/// A JSON string literal (quotes and escapes) for free text.
fn json_str(t: &str) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "\"\"".into())
}

fn has_ports(p: u8) -> bool {
    matches!(p, proto::TCP | proto::UDP | proto::SCTP)
}

impl EveWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        EveWriter {
            out,
            line: String::with_capacity(1024),
            prev: String::with_capacity(1024),
            flows: 0,
            aggregates: 0,
            alerts: 0,
            incidents: 0,
            tap: None,
            error: None,
        }
    }

    fn emit(&mut self) {
        self.line.push('\n');
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(self.line.as_bytes()) {
                self.error = Some(e);
            }
        }
        std::mem::swap(&mut self.line, &mut self.prev);
        self.line.clear();
    }

    /// Hands a copy of the line just written to the evidence tap, if any.
    pub fn tap_last(&mut self, ts: Nanos, kind: &'static str) {
        if let Some(tap) = self.tap.as_mut() {
            tap.push((ts, kind, self.prev.trim_end().to_string()));
        }
    }

    /// Writes one already-serialised JSON object as a line.
    pub fn raw(&mut self, json: &str) {
        self.line.push_str(json);
        self.emit();
    }

    pub fn flow(&mut self, r: &FlowRecord) {
        self.flows += 1;
        let s = &mut self.line;
        s.push_str("{\"timestamp\":\"");
        push_eve_ts(s, r.end);
        num(s, "\",\"flow_id\":", r.flow_id);
        s.push_str(",\"event_type\":\"flow\",");
        if r.vlan != 0 {
            num(s, "\"vlan\":[", r.vlan as u64);
            s.push_str("],");
        }
        let _ = write!(s, "\"src_ip\":\"{}\",", r.client);
        if has_ports(r.proto) {
            num(s, "\"src_port\":", r.cport as u64);
            s.push(',');
        }
        let _ = write!(s, "\"dest_ip\":\"{}\",", r.server);
        if has_ports(r.proto) {
            num(s, "\"dest_port\":", r.sport as u64);
            s.push(',');
        }
        push_proto(s, r.proto);
        if matches!(r.proto, proto::ICMP | proto::ICMPV6) {
            num(s, ",\"icmp_type\":", r.icmp_type as u64);
            num(s, ",\"icmp_code\":", r.icmp_code as u64);
        }
        if let Some(app) = r.app_proto {
            let _ = write!(s, ",\"app_proto\":\"{app}\"");
        }
        let (ts, tc) = (&r.toserver, &r.toclient);
        num(s, ",\"flow\":{\"pkts_toserver\":", ts.pkts);
        num(s, ",\"pkts_toclient\":", tc.pkts);
        num(s, ",\"bytes_toserver\":", ts.bytes);
        num(s, ",\"bytes_toclient\":", tc.bytes);
        num(s, ",\"ip_bytes_toserver\":", ts.ip_bytes);
        num(s, ",\"ip_bytes_toclient\":", tc.ip_bytes);
        num(s, ",\"payload_bytes_toserver\":", ts.payload_bytes);
        num(s, ",\"payload_bytes_toclient\":", tc.payload_bytes);
        s.push_str(",\"start\":\"");
        push_eve_ts(s, r.start);
        s.push_str("\",\"end\":\"");
        push_eve_ts(s, r.end);
        num(
            s,
            "\",\"age\":",
            r.end.saturating_sub(r.start) / NANOS_PER_SEC,
        );
        s.push_str(",\"state\":\"");
        s.push_str(r.state.name());
        s.push_str("\",\"reason\":\"");
        s.push_str(r.reason.name());
        s.push_str("\",\"alerted\":false}");
        if r.proto == proto::TCP {
            let all = ts.tcp_flags | tc.tcp_flags;
            s.push_str(",\"tcp\":{\"tcp_flags\":\"");
            hex2(s, all);
            s.push_str("\",\"tcp_flags_ts\":\"");
            hex2(s, ts.tcp_flags);
            s.push_str("\",\"tcp_flags_tc\":\"");
            hex2(s, tc.tcp_flags);
            s.push('"');
            for (bit, name) in [
                (0x01, ",\"fin\":true"),
                (0x02, ",\"syn\":true"),
                (0x04, ",\"rst\":true"),
                (0x08, ",\"psh\":true"),
                (0x10, ",\"ack\":true"),
                (0x20, ",\"urg\":true"),
                (0x40, ",\"ecn\":true"),
                (0x80, ",\"cwr\":true"),
            ] {
                if all & bit != 0 {
                    s.push_str(name);
                }
            }
            s.push_str(",\"state\":\"");
            s.push_str(r.state.name());
            s.push_str("\"}");
        }
        s.push('}');
        self.emit();
    }

    /// An alert, as Suricata writes them, with vigil's evidence in `vigil`.
    pub fn alert(&mut self, e: &vigil_detect::Emitted) {
        self.alerts += 1;
        let a = &e.alert;
        let s = &mut self.line;
        let _ = write!(s, "{{\"timestamp\":\"{}\",", format_eve_ts(a.ts));
        if let Some(id) = a.flow_ids.first() {
            let _ = write!(s, "\"flow_id\":{id},");
        }
        s.push_str("\"event_type\":\"alert\",");
        if let Some(ip) = a.src {
            let _ = write!(s, "\"src_ip\":\"{ip}\",");
        }
        if let Some(p) = a.src_port {
            let _ = write!(s, "\"src_port\":{p},");
        }
        if let Some(ip) = a.dst {
            let _ = write!(s, "\"dest_ip\":\"{ip}\",");
        }
        if let Some(p) = a.dest_port {
            let _ = write!(s, "\"dest_port\":{p},");
        }
        if let Some(p) = a.proto {
            push_proto(s, p);
            s.push(',');
        }
        let _ = write!(
            s,
            "\"alert\":{{\"action\":\"allowed\",\"gid\":1,\"signature_id\":{},\"rev\":1,\"signature\":{},\"category\":\"{}\",\"severity\":{}}},",
            a.signature_id,
            json_str(&a.signature),
            a.category.slug(),
            a.severity
        );
        let _ = write!(s, "\"vigil\":{{\"update\":{},\"metrics\":{{", e.update);
        for (i, (k, v)) in a.metrics.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            if v.is_finite() {
                let _ = write!(s, "\"{k}\":{v}");
            } else {
                let _ = write!(s, "\"{k}\":null");
            }
        }
        s.push_str("},\"flow_ids\":[");
        for (i, id) in a.flow_ids.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{id}");
        }
        s.push(']');
        if !a.sources.is_empty() {
            s.push_str(",\"sources\":[");
            for (i, ip) in a.sources.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                let _ = write!(s, "\"{ip}\"");
            }
            s.push(']');
        }
        s.push_str("}}");
        self.emit();
    }

    /// An incident: correlated alerts as one story. Written when an alert
    /// creates or changes it, and once more at the end with its `rank`.
    pub fn incident(&mut self, i: &vigil_correlate::Incident, rank: Option<usize>) {
        self.incidents += 1;
        let addrs = |v: &[vigil_core::Addr]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mut inc = serde_json::json!({
            "id": i.id,
            "first": format_eve_ts(i.first),
            "last": format_eve_ts(i.last),
            "categories": i.categories.iter().map(|c| c.slug()).collect::<Vec<_>>(),
            "hosts": addrs(&i.hosts),
            "attackers": addrs(&i.attackers),
            "alerts": i.alerts,
            "severity": i.severity,
            "under_flood_cover": i.under_flood_cover,
            "cover_id": i.cover_id,
            "score": i.score,
            "summary": i.summary,
            "merged": i.merged,
        });
        if let Some(r) = rank {
            inc["rank"] = serde_json::json!(r);
        }
        let ev = serde_json::json!({
            "timestamp": format_eve_ts(i.last),
            "event_type": "incident",
            "incident": inc,
        });
        self.line.push_str(&ev.to_string());
        self.emit();
    }

    /// A shed aggregate: flows summed per destination under table pressure.
    pub fn aggregate(&mut self, a: &ShedAggregate) {
        self.aggregates += 1;
        let s = &mut self.line;
        let _ = write!(
            s,
            "{{\"timestamp\":\"{}\",\"event_type\":\"flow_aggregate\",",
            format_eve_ts(a.last)
        );
        match a.dest {
            Some(d) => {
                let _ = write!(s, "\"dest_ip\":\"{d}\",");
            }
            None => s.push_str("\"dest_ip\":null,"),
        }
        push_proto(s, a.proto);
        let _ = write!(
            s,
            ",\"flow_aggregate\":{{\"reason\":\"shed\",\"flows\":{},\"pkts_toserver\":{},\"bytes_toserver\":{},\
             \"ip_bytes_toserver\":{},\"start\":\"{}\",\"end\":\"{}\",\"dest_ports\":{}}}}}",
            a.flows,
            a.pkts,
            a.bytes,
            a.ip_bytes,
            format_eve_ts(a.first.min(a.last)),
            format_eve_ts(a.last),
            a.dest_ports
        );
        self.emit();
    }

    /// Flushes; a broken pipe counts as success (the reader went away).
    ///
    /// # Errors
    /// The first write or flush error other than a broken pipe.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
        match self.error.take() {
            Some(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        }
    }
}

impl vigil_core::FlowSink for EveWriter {
    fn flow(&mut self, rec: &FlowRecord) {
        EveWriter::flow(self, rec)
    }
    fn shed(&mut self, agg: &ShedAggregate) {
        self.aggregate(agg)
    }
}

/// The capture time rendered for a `stats` event.
pub fn ts(t: Nanos) -> String {
    format_eve_ts(t)
}
