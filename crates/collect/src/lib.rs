//! Flow-export collectors: NetFlow v5, NetFlow v9, IPFIX and sFlow v5
//! datagrams to vigil [`FlowRecord`]s.
//!
//! A flow exporter (a router, a switch, softflowd, pmacct, hsflowd) is one
//! more source of flows: the [`Collector`] turns each UDP datagram into the
//! same `FlowRecord`s vigil's own flow table produces, with counts already
//! multiplied by the sampling rate (scaled once, here, at the edge), so
//! detectors never know where a flow came from. The version is told from the
//! header: NetFlow v5 / v9 and IPFIX start with a 16-bit version (5, 9, 10);
//! sFlow starts with a 32-bit version 5 (so its first 16 bits are 0).
//!
//! **Hand-written, not `netflow_parser`.** The crates.io `netflow_parser`
//! (1.0.6) was considered first: it has a bounded (LRU) template cache, but
//! it decodes every record into an allocated list of enum field values
//! (nom-derive), does not do sFlow, and needs Rust 1.88 (the workspace
//! promises 1.85). These parsers are zero-copy views over the datagram in
//! the smoltcp style: every load is bounds-checked ([`bytes`]), no record
//! allocates (the only allocations are learning a template and pushing to
//! `out`), and a malformed datagram, set, template, record or sample is
//! counted in [`Malformed`] and skipped — never a panic (proptest and a
//! cargo-fuzz target check it).
//!
//! The record mapping (client = source, IP bytes, times, state, sampling) is
//! documented in [`record`]; per-version details in [`v5`], [`template`] and
//! [`sflow`].
#![forbid(unsafe_code)]

mod bytes;
pub mod record;
pub mod sflow;
pub mod template;
pub mod v5;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use vigil_core::{FlowRecord, Nanos};

/// Collector settings (the `netflow` / `sflow` source sections).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CollectConfig {
    /// Most v9/IPFIX templates kept over all exporters (4096: ~100 exporters
    /// with 40 templates each). Learning one more evicts the least recently
    /// used (counted in `templates_evicted`); data for an evicted template is
    /// counted in `sets_without_template` until the exporter resends it. The
    /// per-exporter sampling rates learned from options data use the same
    /// bound.
    pub max_templates: usize,
    /// Sampling rate used when an export does not say its own (1 = the
    /// exporter sees every packet). Set it to the exporters' configured rate
    /// when they do not announce it.
    pub default_sampling: u32,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig {
            max_templates: 4096,
            default_sampling: 1,
        }
    }
}

/// Malformed input, by kind. Each count is one skipped datagram, set,
/// template, record or sample.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Malformed {
    /// Datagram shorter than its version's header (or than 4 bytes).
    pub too_short: u64,
    /// Version not 5, 9, 10 or sFlow 5.
    pub unknown_version: u64,
    /// Header length/count inconsistent with the datagram (v5 count, IPFIX
    /// length, sFlow sample count or agent address type).
    pub bad_length: u64,
    /// v9/IPFIX set with a length below 4 or past the end, or a reserved set
    /// id; the rest of the datagram is skipped.
    pub bad_set: u64,
    /// Template record cut short, with too many fields, a reserved id or only
    /// zero-length fields; the rest of its set is skipped.
    pub bad_template: u64,
    /// Data record cut by its set's end (a variable-length field running
    /// past it); the rest of the set is skipped.
    pub bad_record: u64,
    /// sFlow sample whose header or length runs past the datagram, or with
    /// too many records; the rest of the datagram (or sample) is skipped.
    pub sflow_bad_sample: u64,
    /// sFlow flow record whose length runs past its sample.
    pub sflow_bad_record: u64,
}

/// Counters of one collector (serialised in the live sensor's stats).
///
/// Invariant: `datagrams ==` [`CollectStats::by_kind`] `= netflow_v5 +
/// netflow_v9 + ipfix + sflow_v5 + too_short_header +
/// malformed.unknown_version`, where
/// `too_short_header` counts datagrams too short to tell a version (the
/// other `too_short` counts are inside a version's count).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CollectStats {
    /// Datagrams given to [`Collector::datagram`].
    pub datagrams: u64,
    /// Flow records produced.
    pub records: u64,
    /// Datagrams per version.
    pub netflow_v5: u64,
    pub netflow_v9: u64,
    pub ipfix: u64,
    pub sflow_v5: u64,
    /// Datagrams shorter than 4 bytes (no version to read).
    pub too_short_header: u64,
    pub malformed: Malformed,
    /// Templates in the cache now.
    pub templates_cached: u64,
    /// Template and options template records learned (new or refreshed).
    pub templates_learned: u64,
    /// Templates evicted by the `max_templates` bound.
    pub templates_evicted: u64,
    /// Templates withdrawn by their exporter (IPFIX).
    pub templates_withdrawn: u64,
    /// Options templates learned (a subset of `templates_learned`).
    pub options_templates: u64,
    /// Options data records read (sampling rates).
    pub options_records: u64,
    /// Data sets whose template is not (yet, or no longer) known: dropped,
    /// never buffered.
    pub sets_without_template: u64,
    /// Bytes of those sets.
    pub bytes_without_template: u64,
    /// Data records without both a source and a destination address
    /// (e.g. MPLS- or MAC-only templates): skipped.
    pub records_unmapped: u64,
    /// sFlow flow samples (compact and expanded).
    pub sflow_flow_samples: u64,
    /// sFlow counter samples (skipped).
    pub sflow_counter_samples: u64,
    /// sFlow samples of other formats (skipped).
    pub sflow_other_samples: u64,
    /// sFlow flow records other than the raw header and extended switch.
    pub sflow_other_records: u64,
    /// Sampled headers that are not an IP packet vigil can decode (non-IP,
    /// a fragment, or malformed).
    pub sflow_undecodable_header: u64,
}

impl CollectStats {
    /// Datagrams counted by what they turned out to be: every datagram is
    /// exactly one of a version, too short to have one, or an unknown
    /// version, so this equals `datagrams`.
    pub fn by_kind(&self) -> u64 {
        self.netflow_v5
            + self.netflow_v9
            + self.ipfix
            + self.sflow_v5
            + self.too_short_header
            + self.malformed.unknown_version
    }
}

/// Decodes flow-export datagrams into [`FlowRecord`]s. One per listening
/// socket (or per worker); it holds the template cache.
pub struct Collector {
    cfg: CollectConfig,
    stats: CollectStats,
    cache: template::Cache,
    dec: vigil_wire::Decoder,
}

impl Collector {
    pub fn new(cfg: &CollectConfig) -> Self {
        Collector {
            cfg: cfg.clone(),
            stats: CollectStats::default(),
            cache: template::Cache::new(cfg.max_templates),
            dec: sflow::decoder(),
        }
    }

    /// One UDP datagram from `exporter`, received at `now` (ns since the
    /// epoch). Appends the flows it carries to `out` as FlowRecords whose
    /// counts are already multiplied by the sampling rate. The version is
    /// detected from the header (5, 9, 10, sFlow 5). Never panics;
    /// malformed datagrams/records are counted by kind and skipped.
    pub fn datagram(
        &mut self,
        exporter: SocketAddr,
        data: &[u8],
        now: Nanos,
        out: &mut Vec<FlowRecord>,
    ) {
        let s = &mut self.stats;
        s.datagrams += 1;
        let rate = self.cfg.default_sampling.max(1);
        let (Some(v16), Some(v32)) = (
            data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])),
            data.get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        ) else {
            s.too_short_header += 1;
            return;
        };
        match (v16, v32) {
            (5, _) => {
                s.netflow_v5 += 1;
                if data.len() < v5::HEADER {
                    s.malformed.too_short += 1;
                    return;
                }
                v5::parse(exporter, data, rate, s, out);
            }
            (9, _) => {
                s.netflow_v9 += 1;
                if data.len() < 20 {
                    s.malformed.too_short += 1;
                    return;
                }
                template::parse(
                    template::Version::V9,
                    exporter,
                    data,
                    rate,
                    &mut self.cache,
                    s,
                    out,
                );
            }
            (10, _) => {
                s.ipfix += 1;
                if data.len() < 16 {
                    s.malformed.too_short += 1;
                    return;
                }
                template::parse(
                    template::Version::Ipfix,
                    exporter,
                    data,
                    rate,
                    &mut self.cache,
                    s,
                    out,
                );
            }
            (_, 5) => {
                s.sflow_v5 += 1;
                sflow::parse(exporter, data, now, rate, &mut self.dec, s, out);
            }
            _ => s.malformed.unknown_version += 1,
        }
        s.templates_cached = self.cache.len() as u64;
    }

    pub fn stats(&self) -> CollectStats {
        self.stats.clone()
    }
}
