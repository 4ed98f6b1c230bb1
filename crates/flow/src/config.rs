//! Flow table settings: the memory bound and the idle timeouts.

use vigil_core::{proto, FlowState, Nanos, NANOS_PER_SEC};

/// Idle timeouts in seconds of capture time, per protocol and state. The
/// defaults are Suricata's (`flow-timeouts` in suricata.yaml).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// TCP before the handshake completes (also every one-packet flow).
    pub tcp_new: u64,
    /// TCP after the handshake (or data both ways).
    pub tcp_established: u64,
    /// TCP after FIN from both sides or a RST.
    pub tcp_closed: u64,
    pub udp_new: u64,
    pub udp_established: u64,
    /// ICMP, ICMPv6 and every other protocol.
    pub other_new: u64,
    pub other_established: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_new: 60,
            tcp_established: 600,
            tcp_closed: 60,
            udp_new: 30,
            udp_established: 300,
            other_new: 30,
            other_established: 300,
        }
    }
}

impl Timeouts {
    #[inline]
    pub(crate) fn for_state(&self, p: u8, state: FlowState) -> Nanos {
        let s = match (p, state) {
            (proto::TCP, FlowState::New) => self.tcp_new,
            (proto::TCP, FlowState::Established) => self.tcp_established,
            (proto::TCP, FlowState::Closed) => self.tcp_closed,
            (proto::UDP, FlowState::New) => self.udp_new,
            (proto::UDP, _) => self.udp_established,
            (_, FlowState::New) => self.other_new,
            (_, _) => self.other_established,
        };
        s.saturating_mul(NANOS_PER_SEC)
    }
}

/// Default memory bound of the flow table: 256 MiB holds about 1M concurrent
/// flows plus 1M one-packet candidates, far beyond a busy service's real
/// concurrency, while keeping the process well under 512 MiB.
pub const DEFAULT_FLOW_MEMORY: usize = 256 << 20;

/// The smallest bound accepted: enough for a few thousand flows, so tests can
/// squeeze the table hard.
pub const MIN_FLOW_MEMORY: usize = 256 << 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Upper bound on the bytes held by the table (flows, candidates, index and
    /// shed aggregates). Everything is sized from it up front.
    pub memory: usize,
    pub timeouts: Timeouts,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            memory: DEFAULT_FLOW_MEMORY,
            timeouts: Timeouts::default(),
        }
    }
}

/// Parses sizes like `256MiB`, `1G`, `512m`, `300k`, `1048576`.
///
/// # Errors
/// A message saying what a size looks like.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size (e.g. 256MiB, 1G, 300k)"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("'{text}': unknown unit (use k, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{text}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("300k"), Ok(300 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
