//! sFlow v5 (sflow.org/sflow_version_5.txt): sampled packet headers.
//!
//! A datagram is a header (agent address, sequence, uptime, sample count)
//! and samples, each `(format, length, body)` so unknown ones are skipped by
//! length. Flow samples (format 1) and expanded flow samples (format 3)
//! carry a sampling rate and flow records; of those, the raw packet header
//! record (format 1) is decoded with vigil's own [`vigil_wire::Decoder`]
//! (header protocol 1 = Ethernet, 11 = IPv4, 12 = IPv6) into a one-packet
//! flow record scaled by the sampling rate: `pkts` = rate, `bytes` = frame
//! length × rate (the frame length minus the `stripped` bytes, normally the
//! 4-byte FCS, to match a capture's frame length), `ip_bytes` = the sampled
//! packet's IP length × rate. The extended switch record (1001) supplies the
//! VLAN when the sampled header had no tag. Start = end = the datagram's
//! receive time (sFlow samples carry no timestamp). Counter samples (2, 4)
//! are counted and skipped; so are other samples and records.
//!
//! Sampled IP fragments are not reassembled (a sample is one packet of
//! many): the decoder runs with reassembly disabled and counts them as
//! `sflow_undecodable_header`, as it does non-IP frames.

use std::net::SocketAddr;

use vigil_core::{FlowRecord, Nanos};
use vigil_wire::{linktype, Decoded, Decoder, DecoderConfig};

use crate::bytes::u32_at;
use crate::record::Rec;
use crate::CollectStats;

/// Samples one datagram may hold; more is malformed (a 64 KiB datagram holds
/// at most ~800 of the smallest useful samples).
pub const MAX_SAMPLES: u32 = 1024;
/// Records one flow sample may hold (hsflowd sends at most a handful).
pub const MAX_RECORDS_PER_SAMPLE: u32 = 64;

/// A decoder for sampled headers: no reassembly.
pub(crate) fn decoder() -> Decoder {
    Decoder::new(DecoderConfig {
        max_trains: 0,
        max_held_bytes: 0,
        max_frags_per_datagram: 0,
        ..DecoderConfig::default()
    })
}

/// Rounds an XDR opaque length up to 4.
#[inline]
fn pad4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|x| x & !3)
}

pub(crate) fn parse(
    exporter: SocketAddr,
    d: &[u8],
    now: Nanos,
    default_sampling: u32,
    dec: &mut Decoder,
    stats: &mut CollectStats,
    out: &mut Vec<FlowRecord>,
) {
    let Some(at) = u32_at(d, 4) else {
        stats.malformed.too_short += 1;
        return;
    };
    let mut off = match at {
        1 => 8 + 4,
        2 => 8 + 16,
        _ => {
            stats.malformed.bad_length += 1;
            return;
        }
    };
    // sub-agent, sequence, uptime, sample count
    let Some(n) = u32_at(d, off + 12) else {
        stats.malformed.too_short += 1;
        return;
    };
    off += 16;
    if n > MAX_SAMPLES {
        stats.malformed.bad_length += 1;
        return;
    }
    for _ in 0..n {
        let (Some(fmt), Some(len)) = (u32_at(d, off), u32_at(d, off + 4)) else {
            stats.malformed.sflow_bad_sample += 1;
            return;
        };
        let len = len as usize;
        let Some(body) = pad4(len).and_then(|l| d.get(off + 8..(off + 8).checked_add(l)?)) else {
            stats.malformed.sflow_bad_sample += 1;
            return;
        };
        off += 8 + body.len();
        let body = &body[..len];
        match fmt {
            1 | 3 => {
                stats.sflow_flow_samples += 1;
                flow_sample(
                    exporter,
                    fmt == 3,
                    body,
                    now,
                    default_sampling,
                    dec,
                    stats,
                    out,
                );
            }
            2 | 4 => stats.sflow_counter_samples += 1,
            _ => stats.sflow_other_samples += 1,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn flow_sample(
    exporter: SocketAddr,
    expanded: bool,
    b: &[u8],
    now: Nanos,
    default_sampling: u32,
    dec: &mut Decoder,
    stats: &mut CollectStats,
    out: &mut Vec<FlowRecord>,
) {
    // compact: seq, source id, rate, pool, drops, input, output, n
    // expanded: seq, source type, source index, rate, pool, drops,
    //           input fmt, input, output fmt, output, n
    let (rate_off, n_off) = if expanded { (12, 40) } else { (8, 28) };
    let (Some(rate), Some(n)) = (u32_at(b, rate_off), u32_at(b, n_off)) else {
        stats.malformed.sflow_bad_sample += 1;
        return;
    };
    let rate = if rate == 0 { default_sampling } else { rate };
    if n > MAX_RECORDS_PER_SAMPLE {
        stats.malformed.sflow_bad_sample += 1;
        return;
    }
    let mut off = n_off + 4;
    let mut rec: Option<Rec> = None;
    let mut switch_vlan = None;
    for _ in 0..n {
        let (Some(fmt), Some(len)) = (u32_at(b, off), u32_at(b, off + 4)) else {
            stats.malformed.sflow_bad_record += 1;
            return;
        };
        let len = len as usize;
        let Some(body) = pad4(len).and_then(|l| b.get(off + 8..(off + 8).checked_add(l)?)) else {
            stats.malformed.sflow_bad_record += 1;
            return;
        };
        off += 8 + body.len();
        let body = &body[..len];
        match fmt {
            1 => {
                if rec.is_some() {
                    // one header per sample; a second is ignored
                    stats.sflow_other_records += 1;
                    continue;
                }
                rec = raw_header(body, now, dec, stats);
            }
            1001 => switch_vlan = u32_at(body, 0).map(|v| (v & 0x0fff) as u16),
            _ => stats.sflow_other_records += 1,
        }
    }
    if let Some(mut r) = rec {
        if r.vlan == 0 {
            r.vlan = switch_vlan.unwrap_or(0);
        }
        out.push(r.into_flow(exporter, rate, now));
        stats.records += 1;
    }
}

/// The raw packet header record: protocol, frame length, stripped, header
/// length, header bytes.
fn raw_header(b: &[u8], now: Nanos, dec: &mut Decoder, stats: &mut CollectStats) -> Option<Rec> {
    let (Some(hp), Some(frame_len), Some(stripped), Some(hlen)) =
        (u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12))
    else {
        stats.malformed.sflow_bad_record += 1;
        return None;
    };
    let Some(hdr) = b.get(16..16 + (hlen as usize).min(b.len().saturating_sub(16))) else {
        stats.malformed.sflow_bad_record += 1;
        return None;
    };
    if hdr.len() < hlen as usize {
        stats.malformed.sflow_bad_record += 1;
        return None;
    }
    let lt = match hp {
        1 => linktype::ETHERNET,
        11 => linktype::IPV4,
        12 => linktype::IPV6,
        _ => {
            stats.sflow_undecodable_header += 1;
            return None;
        }
    };
    let wire = frame_len.saturating_sub(stripped).max(hdr.len() as u32);
    match dec.decode(lt, now, wire, hdr) {
        Decoded::Ip { info, .. } => {
            let is_icmp = matches!(info.proto, 1 | 58);
            Some(Rec {
                src: info.src,
                dst: info.dst,
                sport: info.sport,
                dport: info.dport,
                proto: info.proto,
                tcp_flags: info.tcp_flags,
                vlan: info.vlan,
                icmp_type: info.icmp_type,
                icmp_code: info.icmp_code,
                has_icmp: is_icmp,
                pkts: 1,
                ip_bytes: info.ip_len as u64,
                frame_bytes: Some(wire as u64),
                ..Rec::default()
            })
        }
        _ => {
            stats.sflow_undecodable_header += 1;
            None
        }
    }
}
