//! NetFlow v9 (RFC 3954) and IPFIX (RFC 7011): template-described records.
//!
//! Both versions are a header and a list of sets (v9 "flowsets"): template
//! sets, options template sets and data sets whose id names a template. The
//! differences are the header, the template set ids (0/1 vs 2/3), the options
//! template layout (scope and option *byte* lengths in v9, field *counts* in
//! IPFIX), enterprise-specific fields and variable-length fields (IPFIX only),
//! and time fields (uptime-relative in v9, absolute in IPFIX). IPFIX
//! biflows (RFC 5103 reverse elements: octets, packets, TCP flags) fill the
//! record's `toclient` counters; other enterprise elements are skipped.
//!
//! **Templates** are cached per (exporter socket address, source id /
//! observation domain, template id, version): the transport session + domain
//! scoping of RFC 7011 §8. The cache is an LRU of `max_templates` entries;
//! learning one more evicts the least recently used (counted
//! `templates_evicted`). A template with zero fields withdraws it (IPFIX).
//!
//! **Order within a datagram**: exporters may put a data set before the
//! template describing it in the same datagram (akvorado's v9 sample does).
//! Each datagram is therefore walked three times over its set headers (cheap:
//! 4 bytes per set): templates first, then options data (sampling rates),
//! then flow data. Data whose template is still unknown is counted
//! (`sets_without_template`, `bytes_without_template`) and dropped: nothing is
//! buffered, so a stream of template-less data costs no memory.
//!
//! **Sampling**: a record's own sampling field (`samplingInterval` 34,
//! `samplerRandomInterval` 50, `samplingPacketInterval` 305 with
//! `samplingPacketSpace` 306) wins; else the rate announced by the exporter's
//! options data for that domain (one rate per exporter and domain: sampler
//! ids are not tracked); else `default_sampling`.
//!
//! **IPFIX times**: absolute fields (150-157) as they are; `flowStart/End
//! DeltaMicroseconds` (158/159) back from the export time; `flowStart/End
//! SysUpTime` (22/21) from `systemInitTimeMilliseconds` (160), taken from
//! the record or else from the domain's options data (softflowd's way).
//! A record with no usable time gets the export time.

use std::net::SocketAddr;
use std::num::NonZeroUsize;

use lru::LruCache;
use vigil_core::{Addr, FlowRecord, Nanos, NANOS_PER_SEC};

use crate::bytes::{u16_at, u32_at, u64_at, uint};
use crate::record::Rec;
use crate::CollectStats;

/// Fields a template may have. Real templates have a few dozen; the cap
/// bounds the memory one template costs (4 bytes a field).
pub const MAX_TEMPLATE_FIELDS: usize = 512;

/// IPFIX's variable-length marker (RFC 7011 §7).
const VARLEN: u16 = 65535;
/// The private enterprise number of RFC 5103 reverse information elements.
const REVERSE_PEN: u32 = 29305;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Version {
    V9,
    Ipfix,
}

#[derive(Clone, Copy, Debug)]
struct Field {
    id: u16,
    len: u16,
    /// Enterprise-specific (IPFIX) other than RFC 5103 reverse fields:
    /// never interpreted, only skipped.
    enterprise: bool,
    /// An RFC 5103 reverse field (enterprise 29305): the same element for
    /// the reverse direction of a biflow.
    reverse: bool,
    /// A scope field of an options template.
    scope: bool,
}

#[derive(Debug)]
struct Template {
    fields: Box<[Field]>,
    /// Smallest record length (variable-length fields count one byte).
    min_len: usize,
    options: bool,
}

type Key = (SocketAddr, u32, u16, Version);

/// What an exporter's options data said about one domain.
#[derive(Clone, Copy, Debug, Default)]
struct Domain {
    /// Sampling rate (34/50/305+306).
    rate: Option<u32>,
    /// `systemInitTimeMilliseconds` (160): the epoch of IPFIX
    /// `flowStart/EndSysUpTime` (22/21) when data records do not carry it
    /// (softflowd puts it in an options record).
    sys_init_ms: Option<u64>,
}

/// Template and per-domain caches, both bounded.
pub(crate) struct Cache {
    templates: LruCache<Key, Template>,
    domains: LruCache<(SocketAddr, u32, Version), Domain>,
}

impl Cache {
    pub(crate) fn new(max_templates: usize) -> Self {
        let cap = NonZeroUsize::new(max_templates.max(1)).unwrap_or(NonZeroUsize::MIN);
        Cache {
            templates: LruCache::new(cap),
            domains: LruCache::new(cap),
        }
    }
    pub(crate) fn len(&self) -> usize {
        self.templates.len()
    }
}

/// One set header and body; `None` ends the walk (and counts `bad_set` once
/// when the set header or length is wrong).
struct Sets<'a> {
    d: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Sets<'a> {
    type Item = Result<(u16, &'a [u8]), ()>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.d.len() {
            return None;
        }
        let (Some(id), Some(len)) = (u16_at(self.d, self.off), u16_at(self.d, self.off + 2)) else {
            self.off = self.d.len();
            return Some(Err(()));
        };
        let len = len as usize;
        if len < 4 || self.off + len > self.d.len() {
            self.off = self.d.len();
            return Some(Err(()));
        }
        let body = &self.d[self.off + 4..self.off + len];
        self.off += len;
        Some(Ok((id, body)))
    }
}

/// Header facts a record's decoding needs.
#[derive(Clone, Copy)]
struct Hdr {
    version: Version,
    domain: u32,
    /// Export time, ns since the epoch.
    export_ns: Nanos,
    /// v9: uptime at export, ms.
    uptime_ms: u32,
}

/// Parses one v9 (`version` V9, 20-byte header) or IPFIX (16-byte header)
/// datagram.
pub(crate) fn parse(
    version: Version,
    exporter: SocketAddr,
    d: &[u8],
    default_sampling: u32,
    cache: &mut Cache,
    stats: &mut CollectStats,
    out: &mut Vec<FlowRecord>,
) {
    let (hdr, body) = match version {
        Version::V9 => {
            let (Some(uptime), Some(secs), Some(domain)) =
                (u32_at(d, 4), u32_at(d, 8), u32_at(d, 16))
            else {
                stats.malformed.too_short += 1;
                return;
            };
            let h = Hdr {
                version,
                domain,
                export_ns: secs as u64 * NANOS_PER_SEC,
                uptime_ms: uptime,
            };
            (h, &d[20..])
        }
        Version::Ipfix => {
            let (Some(len), Some(secs), Some(domain)) = (u16_at(d, 2), u32_at(d, 4), u32_at(d, 12))
            else {
                stats.malformed.too_short += 1;
                return;
            };
            let len = len as usize;
            let end = if len < 16 || len > d.len() {
                stats.malformed.bad_length += 1;
                d.len()
            } else {
                len
            };
            let h = Hdr {
                version,
                domain,
                export_ns: secs as u64 * NANOS_PER_SEC,
                uptime_ms: 0,
            };
            (h, &d[16..end])
        }
    };
    let (tset, oset) = match version {
        Version::V9 => (0, 1),
        Version::Ipfix => (2, 3),
    };
    // pass 1: templates
    for s in (Sets { d: body, off: 0 }) {
        match s {
            Err(()) => stats.malformed.bad_set += 1,
            Ok((id, b)) if id == tset || id == oset => {
                learn(exporter, hdr, id == oset, b, cache, stats)
            }
            Ok((id, _)) if id < 256 => stats.malformed.bad_set += 1,
            Ok(_) => {}
        }
    }
    // pass 2: options data (sampling rates)
    for (id, b) in (Sets { d: body, off: 0 }).flatten() {
        if id < 256 {
            continue;
        }
        let key = (exporter, hdr.domain, id, version);
        let Some(t) = cache.templates.get(&key) else {
            continue;
        };
        if !t.options {
            continue;
        }
        let mut off = 0;
        while b.len() - off >= t.min_len.max(1) {
            let Some(n) = walk(t, &b[off..], hdr, &mut |_, _| {}) else {
                stats.malformed.bad_record += 1;
                break;
            };
            let (mut rate, mut init) = (None, None);
            walk(t, &b[off..off + n], hdr, &mut |f, v| {
                if !f.scope && !f.enterprise && !f.reverse {
                    sampling_field(f.id, v, &mut rate);
                    if f.id == 160 {
                        init = Some(uint(v));
                    }
                }
            });
            stats.options_records += 1;
            let rate = rate.and_then(SamplingAcc::rate);
            if rate.is_some() || init.is_some() {
                let dk = (exporter, hdr.domain, version);
                let mut dom = cache.domains.get(&dk).copied().unwrap_or_default();
                dom.rate = rate.or(dom.rate);
                dom.sys_init_ms = init.or(dom.sys_init_ms);
                cache.domains.put(dk, dom);
            }
            off += n;
        }
    }
    // pass 3: flow data
    for (id, b) in (Sets { d: body, off: 0 }).flatten() {
        if id < 256 {
            continue;
        }
        let key = (exporter, hdr.domain, id, version);
        let Some(t) = cache.templates.get(&key) else {
            stats.sets_without_template += 1;
            stats.bytes_without_template += b.len() as u64;
            continue;
        };
        if t.options {
            continue;
        }
        let dom = cache
            .domains
            .peek(&(exporter, hdr.domain, version))
            .copied()
            .unwrap_or_default();
        let mut off = 0;
        while b.len() - off >= t.min_len.max(1) {
            let mut acc = Acc::default();
            let Some(n) = walk(t, &b[off..], hdr, &mut |f, v| {
                if f.reverse {
                    acc.reverse_field(f.id, v)
                } else if !f.enterprise {
                    acc.field(f.id, v)
                }
            }) else {
                stats.malformed.bad_record += 1;
                break;
            };
            off += n;
            match acc.finish(hdr, dom.sys_init_ms) {
                Some(rec) => {
                    let rate = rec.sampling.or(dom.rate).unwrap_or(default_sampling);
                    out.push(rec.into_flow(exporter, rate, hdr.export_ns));
                    stats.records += 1;
                }
                None => stats.records_unmapped += 1,
            }
        }
    }
}

/// Learns the templates of one template or options template set.
fn learn(
    exporter: SocketAddr,
    hdr: Hdr,
    options: bool,
    b: &[u8],
    cache: &mut Cache,
    stats: &mut CollectStats,
) {
    let mut off = 0;
    // a template record is at least 4 bytes; less is padding
    while b.len() - off >= 4 {
        let (Some(tid), Some(n2)) = (u16_at(b, off), u16_at(b, off + 2)) else {
            break;
        };
        if tid == 0 && n2 == 0 {
            // zero padding at the end of the set
            break;
        }
        off += 4;
        // field counts: (scope, option) for options templates, (0, all) else
        let (scope_n, total_n) = if !options {
            (0usize, n2 as usize)
        } else {
            match hdr.version {
                Version::V9 => {
                    let Some(olen) = u16_at(b, off) else {
                        stats.malformed.bad_template += 1;
                        return;
                    };
                    off += 2;
                    let (s, o) = (n2 as usize / 4, olen as usize / 4);
                    (s, s + o)
                }
                Version::Ipfix => {
                    let Some(sc) = u16_at(b, off) else {
                        stats.malformed.bad_template += 1;
                        return;
                    };
                    off += 2;
                    (sc as usize, n2 as usize)
                }
            }
        };
        if total_n == 0 && hdr.version == Version::Ipfix {
            // withdrawal (RFC 7011 §8.1)
            if cache
                .templates
                .pop(&(exporter, hdr.domain, tid, hdr.version))
                .is_some()
            {
                stats.templates_withdrawn += 1;
            }
            continue;
        }
        if tid < 256 || total_n == 0 || total_n > MAX_TEMPLATE_FIELDS || scope_n > total_n {
            stats.malformed.bad_template += 1;
            return;
        }
        let mut fields = Vec::with_capacity(total_n);
        let mut min_len = 0usize;
        for i in 0..total_n {
            let (Some(mut id), Some(len)) = (u16_at(b, off), u16_at(b, off + 2)) else {
                stats.malformed.bad_template += 1;
                return;
            };
            off += 4;
            let (mut enterprise, mut reverse) = (false, false);
            if hdr.version == Version::Ipfix && id & 0x8000 != 0 {
                id &= 0x7fff;
                let Some(pen) = u32_at(b, off) else {
                    stats.malformed.bad_template += 1;
                    return;
                };
                reverse = pen == REVERSE_PEN;
                enterprise = !reverse;
                off += 4;
            }
            let varlen = hdr.version == Version::Ipfix && len == VARLEN;
            min_len += if varlen { 1 } else { len as usize };
            fields.push(Field {
                id,
                len,
                enterprise,
                reverse,
                scope: i < scope_n,
            });
        }
        if min_len == 0 {
            // all fields zero-length: records would never advance
            stats.malformed.bad_template += 1;
            continue;
        }
        let t = Template {
            fields: fields.into_boxed_slice(),
            min_len,
            options,
        };
        let key = (exporter, hdr.domain, tid, hdr.version);
        if let Some((old, _)) = cache.templates.push(key, t) {
            if old != key {
                stats.templates_evicted += 1;
            }
        }
        stats.templates_learned += 1;
        if options {
            stats.options_templates += 1;
        }
    }
}

/// Walks one record of template `t` at the start of `b`, calling `f` with
/// each field and its bytes. Returns the record's length, or `None` when a
/// field runs past `b`.
#[inline]
fn walk(t: &Template, b: &[u8], hdr: Hdr, f: &mut impl FnMut(&Field, &[u8])) -> Option<usize> {
    let mut off = 0usize;
    for fd in t.fields.iter() {
        let mut len = fd.len as usize;
        if hdr.version == Version::Ipfix && fd.len == VARLEN {
            let l1 = *b.get(off)?;
            off += 1;
            len = if l1 == 255 {
                let l = u16_at(b, off)? as usize;
                off += 2;
                l
            } else {
                l1 as usize
            };
        }
        let v = b.get(off..off.checked_add(len)?)?;
        f(fd, v);
        off += len;
    }
    Some(off)
}

/// Sampling fields seen in one record.
#[derive(Default, Clone, Copy)]
struct SamplingAcc {
    interval: Option<u64>,
    space: Option<u64>,
}

impl SamplingAcc {
    fn rate(self) -> Option<u32> {
        let i = self.interval?;
        let r = match self.space {
            // samplingPacketInterval packets taken out of every
            // interval + space
            Some(s) if i > 0 => i.saturating_add(s) / i,
            _ => i,
        };
        (r > 0).then_some(r.min(u32::MAX as u64) as u32)
    }
}

fn sampling_field(id: u16, v: &[u8], acc: &mut Option<SamplingAcc>) {
    match id {
        34 | 50 | 305 => acc.get_or_insert_with(SamplingAcc::default).interval = Some(uint(v)),
        306 => acc.get_or_insert_with(SamplingAcc::default).space = Some(uint(v)),
        _ => {}
    }
}

/// NTP timestamp (RFC 7011 dateTimeMicro/Nanoseconds) to ns since 1970.
fn ntp_to_ns(v: u64) -> Option<Nanos> {
    let secs = (v >> 32).checked_sub(2_208_988_800)?;
    let frac = ((v & 0xffff_ffff) * NANOS_PER_SEC) >> 32;
    Some(secs * NANOS_PER_SEC + frac)
}

/// The fields of one data record as they are met.
#[derive(Default)]
struct Acc {
    rec: Rec,
    src: bool,
    dst: bool,
    octets: Option<u64>,
    octets_alt: Option<u64>,
    pkts: Option<u64>,
    pkts_alt: Option<u64>,
    up_start: Option<u32>,
    up_end: Option<u32>,
    sys_init_ms: Option<u64>,
    start_delta_us: Option<u64>,
    end_delta_us: Option<u64>,
    sampling: Option<SamplingAcc>,
    vlan: Option<u16>,
    vlan_alt: Option<u16>,
}

impl Acc {
    /// A reverse-direction field of a biflow (RFC 5103).
    #[inline]
    fn reverse_field(&mut self, id: u16, v: &[u8]) {
        let r = &mut self.rec;
        match id {
            1 | 85 => r.rev_ip_bytes = uint(v),
            2 | 86 => r.rev_pkts = uint(v),
            6 => r.rev_tcp_flags = uint(v) as u8,
            _ => {}
        }
    }

    #[inline]
    fn field(&mut self, id: u16, v: &[u8]) {
        let r = &mut self.rec;
        match id {
            1 => self.octets = Some(uint(v)),
            2 => self.pkts = Some(uint(v)),
            23 | 85 => {
                self.octets_alt.get_or_insert(uint(v));
            }
            24 | 86 => {
                self.pkts_alt.get_or_insert(uint(v));
            }
            4 => r.proto = uint(v) as u8,
            6 => r.tcp_flags = uint(v) as u8,
            7 => r.sport = uint(v) as u16,
            11 => r.dport = uint(v) as u16,
            8 if v.len() == 4 => {
                r.src = Addr::v4([v[0], v[1], v[2], v[3]]);
                self.src = true;
            }
            12 if v.len() == 4 => {
                r.dst = Addr::v4([v[0], v[1], v[2], v[3]]);
                self.dst = true;
            }
            27 if v.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(v);
                r.src = Addr::v6(a);
                self.src = true;
            }
            28 if v.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(v);
                r.dst = Addr::v6(a);
                self.dst = true;
            }
            32 | 139 => {
                let x = uint(v);
                r.icmp_type = (x >> 8) as u8;
                r.icmp_code = x as u8;
                r.has_icmp = true;
            }
            176 | 178 => {
                r.icmp_type = uint(v) as u8;
                r.has_icmp = true;
            }
            177 | 179 => {
                r.icmp_code = uint(v) as u8;
                r.has_icmp = true;
            }
            58 => self.vlan = Some(uint(v) as u16 & 0x0fff),
            243 => self.vlan_alt = Some(uint(v) as u16 & 0x0fff),
            22 => self.up_start = Some(uint(v) as u32),
            21 => self.up_end = Some(uint(v) as u32),
            160 => self.sys_init_ms = Some(uint(v)),
            150 => r.start = Some(uint(v).saturating_mul(NANOS_PER_SEC)),
            151 => r.end = Some(uint(v).saturating_mul(NANOS_PER_SEC)),
            152 => r.start = Some(uint(v).saturating_mul(1_000_000)),
            153 => r.end = Some(uint(v).saturating_mul(1_000_000)),
            154 | 156 => {
                if let Some(t) = u64_at(v, 0).and_then(ntp_to_ns) {
                    r.start = Some(t)
                }
            }
            155 | 157 => {
                if let Some(t) = u64_at(v, 0).and_then(ntp_to_ns) {
                    r.end = Some(t)
                }
            }
            158 => self.start_delta_us = Some(uint(v)),
            159 => self.end_delta_us = Some(uint(v)),
            34 | 50 | 305 | 306 => sampling_field(id, v, &mut self.sampling),
            _ => {}
        }
    }

    /// The record, or `None` without both addresses.
    /// `sys_init_ms`: the domain's system init time from options data.
    fn finish(mut self, hdr: Hdr, sys_init_ms: Option<u64>) -> Option<Rec> {
        if !(self.src && self.dst) {
            return None;
        }
        let r = &mut self.rec;
        r.ip_bytes = self.octets.or(self.octets_alt).unwrap_or(0);
        r.pkts = self.pkts.or(self.pkts_alt).unwrap_or(0);
        r.vlan = self.vlan.or(self.vlan_alt).unwrap_or(0);
        r.sampling = self.sampling.and_then(SamplingAcc::rate);
        let ms = |x: u64| x.saturating_mul(1_000_000);
        match hdr.version {
            Version::V9 => {
                if let Some(t) = self.up_start {
                    r.start = Some(crate::v5::uptime_to_abs(hdr.export_ns, hdr.uptime_ms, t));
                }
                if let Some(t) = self.up_end {
                    r.end = Some(crate::v5::uptime_to_abs(hdr.export_ns, hdr.uptime_ms, t));
                }
            }
            Version::Ipfix => {
                if let Some(init) = self.sys_init_ms.or(sys_init_ms) {
                    if r.start.is_none() {
                        r.start = self.up_start.map(|t| ms(init.saturating_add(t as u64)));
                    }
                    if r.end.is_none() {
                        r.end = self.up_end.map(|t| ms(init.saturating_add(t as u64)));
                    }
                }
                if r.start.is_none() {
                    r.start = self
                        .start_delta_us
                        .map(|d| hdr.export_ns.saturating_sub(d.saturating_mul(1000)));
                }
                if r.end.is_none() {
                    r.end = self
                        .end_delta_us
                        .map(|d| hdr.export_ns.saturating_sub(d.saturating_mul(1000)));
                }
            }
        }
        Some(self.rec)
    }
}
