//! EVE JSON output (Suricata's event format), hand-written for the hot path.
//!
//! Flow events are written without building a JSON tree: a capture can end
//! hundreds of thousands of flows and serde_json's `Value` costs microseconds
//! each. Field names follow Suricata's `flow` events; vigil's additions
//! (`ip_bytes_*`, `payload_bytes_*`) sit beside them in `flow`.

use std::fmt::Write as _;
use std::io::{self, Write};
use vigil_core::{
    format_eve_ts, proto, push_eve_ts, EndReason, FlowRecord, FlowState, Nanos, ShedAggregate,
    NANOS_PER_SEC,
};

/// Writes EVE lines to any writer; counts what it wrote.
pub struct EveWriter {
    out: Box<dyn Write + Send>,
    line: String,
    pub flows: u64,
    pub aggregates: u64,
    pub alerts: u64,
    /// The first write error; later writes are skipped.
    pub error: Option<io::Error>,
}

fn state_name(s: FlowState) -> &'static str {
    match s {
        FlowState::New => "new",
        FlowState::Established => "established",
        FlowState::Closed => "closed",
    }
}

fn reason_name(r: EndReason) -> &'static str {
    match r {
        EndReason::Timeout => "timeout",
        EndReason::Shutdown => "shutdown",
        EndReason::Forced => "forced",
    }
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
            flows: 0,
            aggregates: 0,
            alerts: 0,
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
        self.line.clear();
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
        let _ = write!(s, "\",\"flow_id\":{},\"event_type\":\"flow\",", r.flow_id);
        if r.vlan != 0 {
            let _ = write!(s, "\"vlan\":[{}],", r.vlan);
        }
        let _ = write!(s, "\"src_ip\":\"{}\",", r.client);
        if has_ports(r.proto) {
            let _ = write!(s, "\"src_port\":{},", r.cport);
        }
        let _ = write!(s, "\"dest_ip\":\"{}\",", r.server);
        if has_ports(r.proto) {
            let _ = write!(s, "\"dest_port\":{},", r.sport);
        }
        push_proto(s, r.proto);
        if matches!(r.proto, proto::ICMP | proto::ICMPV6) {
            let _ = write!(
                s,
                ",\"icmp_type\":{},\"icmp_code\":{}",
                r.icmp_type, r.icmp_code
            );
        }
        if let Some(app) = r.app_proto {
            let _ = write!(s, ",\"app_proto\":\"{app}\"");
        }
        let (ts, tc) = (&r.toserver, &r.toclient);
        let _ = write!(
            s,
            ",\"flow\":{{\"pkts_toserver\":{},\"pkts_toclient\":{},\"bytes_toserver\":{},\"bytes_toclient\":{},\
             \"ip_bytes_toserver\":{},\"ip_bytes_toclient\":{},\"payload_bytes_toserver\":{},\"payload_bytes_toclient\":{},\
             \"start\":\"",
            ts.pkts,
            tc.pkts,
            ts.bytes,
            tc.bytes,
            ts.ip_bytes,
            tc.ip_bytes,
            ts.payload_bytes,
            tc.payload_bytes,
        );
        push_eve_ts(s, r.start);
        s.push_str("\",\"end\":\"");
        push_eve_ts(s, r.end);
        let _ = write!(
            s,
            "\",\"age\":{},\"state\":\"{}\",\"reason\":\"{}\",\"alerted\":false}}",
            (r.end.saturating_sub(r.start)) / NANOS_PER_SEC,
            state_name(r.state),
            reason_name(r.reason),
        );
        if r.proto == proto::TCP {
            let all = ts.tcp_flags | tc.tcp_flags;
            let _ = write!(
                s,
                ",\"tcp\":{{\"tcp_flags\":\"{all:02x}\",\"tcp_flags_ts\":\"{:02x}\",\"tcp_flags_tc\":\"{:02x}\"",
                ts.tcp_flags, tc.tcp_flags
            );
            for (bit, name) in [
                (0x01, "fin"),
                (0x02, "syn"),
                (0x04, "rst"),
                (0x08, "psh"),
                (0x10, "ack"),
                (0x20, "urg"),
                (0x40, "ecn"),
                (0x80, "cwr"),
            ] {
                if all & bit != 0 {
                    let _ = write!(s, ",\"{name}\":true");
                }
            }
            let _ = write!(s, ",\"state\":\"{}\"}}", state_name(r.state));
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
        s.push_str("]}}");
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
