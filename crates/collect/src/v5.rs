//! NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records.
//!
//! Times: records carry `First` / `Last` in milliseconds of the exporter's
//! uptime; the header gives the uptime and the wall clock at export
//! (`unix_secs`, `unix_nsecs`), so a record time is
//! `export_time - (sys_uptime - t)` (computed with wrapping 32-bit
//! arithmetic, so an uptime counter that wrapped after 49.7 days still gives
//! the right answer). Sampling: the low 14 bits of `sampling_interval`, 0 =
//! not configured (then the collector's `default_sampling`).

use std::net::SocketAddr;

use vigil_core::{Addr, FlowRecord, Nanos, NANOS_PER_SEC};

use crate::bytes::{u16_at, u32_at, u8_at};
use crate::record::Rec;
use crate::CollectStats;

pub(crate) const HEADER: usize = 24;
pub(crate) const RECORD: usize = 48;
/// Records a v5 datagram may hold (Cisco's limit, what fits a 1500-byte MTU).
/// More is counted `bad_length` and the excess ignored.
pub(crate) const MAX_RECORDS: usize = 30;

/// Uptime-relative milliseconds to absolute ns, given the export time and
/// the uptime at export.
#[inline]
pub(crate) fn uptime_to_abs(export_ns: Nanos, uptime_ms: u32, t_ms: u32) -> Nanos {
    let back = uptime_ms.wrapping_sub(t_ms) as u64 * 1_000_000;
    export_ns.saturating_sub(back)
}

pub(crate) fn parse(
    exporter: SocketAddr,
    d: &[u8],
    default_sampling: u32,
    stats: &mut CollectStats,
    out: &mut Vec<FlowRecord>,
) {
    let (Some(count), Some(uptime), Some(secs), Some(nsecs), Some(samp)) = (
        u16_at(d, 2),
        u32_at(d, 4),
        u32_at(d, 8),
        u32_at(d, 12),
        u16_at(d, 22),
    ) else {
        stats.malformed.too_short += 1;
        return;
    };
    let export_ns = secs as u64 * NANOS_PER_SEC + (nsecs as u64).min(NANOS_PER_SEC - 1);
    let interval = (samp & 0x3fff) as u32;
    let rate = if interval == 0 {
        default_sampling
    } else {
        interval
    };
    let count = count as usize;
    let present = (d.len() - HEADER) / RECORD;
    if count > MAX_RECORDS || count > present {
        stats.malformed.bad_length += 1;
    }
    let n = count.min(MAX_RECORDS).min(present);
    for i in 0..n {
        let r = &d[HEADER + i * RECORD..HEADER + (i + 1) * RECORD];
        let (Some(first), Some(last)) = (u32_at(r, 24), u32_at(r, 28)) else {
            continue;
        };
        let rec = Rec {
            src: Addr::v4([r[0], r[1], r[2], r[3]]),
            dst: Addr::v4([r[4], r[5], r[6], r[7]]),
            pkts: u32_at(r, 16).unwrap_or(0) as u64,
            ip_bytes: u32_at(r, 20).unwrap_or(0) as u64,
            start: Some(uptime_to_abs(export_ns, uptime, first)),
            end: Some(uptime_to_abs(export_ns, uptime, last)),
            sport: u16_at(r, 32).unwrap_or(0),
            dport: u16_at(r, 34).unwrap_or(0),
            tcp_flags: u8_at(r, 37).unwrap_or(0),
            proto: u8_at(r, 38).unwrap_or(0),
            ..Rec::default()
        };
        out.push(rec.into_flow(exporter, rate, export_ns));
        stats.records += 1;
    }
}
