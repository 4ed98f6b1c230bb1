//! Bounded IPv4/IPv6 fragment reassembly.
//!
//! Why: flows and detectors must see the L4 header of fragmented datagrams
//! (fragmentation is an evasion technique), but an attacker controls every
//! fragment, so memory and work are capped everywhere.
//!
//! Promises:
//! - Trains are keyed by (src, dst, protocol, identifier, VLAN).
//! - Overlap rule: **first arrival wins**. Bytes already held are never
//!   replaced; a fragment overlapping held bytes counts `frag.overlap`, and
//!   one whose overlapping bytes differ also counts `frag.conflict`. The
//!   first last-fragment (MF clear) fixes the datagram length; a later
//!   disagreeing one counts `frag.conflict` and bytes beyond the fixed
//!   length are ignored.
//! - A datagram re-sent under the key of the datagram completed last, within
//!   [`FRAG_REUSE_WINDOW`](crate::FRAG_REUSE_WINDOW) of its completion, is
//!   compared byte for byte with it: each such fragment counts `frag.overlap`,
//!   and `frag.conflict` if its bytes differ (the "same fragments, different
//!   payload" evasion). It is still reassembled on its own, as the receiving
//!   host would after completing the first copy.
//! - Caps ([`DecoderConfig`](crate::DecoderConfig)): trains in flight,
//!   total bytes held (buffer capacity, so [`Reassembler::held_bytes`] is
//!   honest), fragments per train, datagram size (65,535) and a capture-time
//!   timeout measured from a train's first fragment.
//! - Every fragment frame handed in ends in exactly one of: a completed
//!   datagram (`reassembled_frames`), dropped (`frag_dropped_frames` and
//!   `frag_dropped_bytes`, wire bytes), or still held.

use std::collections::HashMap;

use vigil_core::{Addr, Nanos};

use crate::anomaly::{Anomalies, Anomaly};
use crate::{DecodeCounters, DecoderConfig};

/// Identifies one datagram's fragments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    pub ident: u32,
    pub vlan: u16,
}

/// One fragment frame as the decoder hands it over.
pub(crate) struct Fragment<'d> {
    pub key: FragKey,
    pub ts: Nanos,
    pub wire_len: u32,
    pub ip_len: u32,
    /// Byte offset of `data` in the datagram's fragmentable part.
    pub offset: usize,
    pub more: bool,
    pub ttl: u8,
    pub data: &'d [u8],
}

struct Train {
    first_ts: Nanos,
    /// Reassembly buffer; `capacity()` counts against the memcap.
    buf: Vec<u8>,
    /// Byte ranges received, sorted, disjoint and non-adjacent.
    cov: Vec<(usize, usize)>,
    /// Datagram length, fixed by the first last-fragment.
    total: Option<usize>,
    frames: u32,
    wire_len: u64,
    ip_len: u64,
    ttl: u8,
}

/// A completed datagram; its bytes are in [`Reassembler::out`].
pub(crate) struct Complete {
    pub proto: u8,
    pub frames: u32,
    pub wire_len: u32,
    pub ip_len: u32,
    pub ttl: u8,
}

pub(crate) enum FragResult {
    Held,
    Dropped,
    Complete(Complete),
}

pub(crate) struct Reassembler {
    trains: HashMap<FragKey, Train>,
    held_bytes: usize,
    held_frames: u64,
    last_sweep: Nanos,
    /// Key and completion time of the datagram whose bytes are in `out`.
    last_done: Option<(FragKey, Nanos)>,
    /// Bytes of the last completed datagram (borrowed by `Decoded::Ip`).
    pub out: Vec<u8>,
}

impl Reassembler {
    pub fn new() -> Self {
        Reassembler {
            trains: HashMap::new(),
            held_bytes: 0,
            held_frames: 0,
            last_sweep: 0,
            last_done: None,
            out: Vec::new(),
        }
    }

    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    pub fn held_frames(&self) -> u64 {
        self.held_frames
    }

    pub fn trains(&self) -> usize {
        self.trains.len()
    }

    fn drop_frame(c: &mut DecodeCounters, wire_len: u32) {
        c.frag_dropped_frames += 1;
        c.frag_dropped_bytes += u64::from(wire_len);
    }

    fn drop_train(&mut self, t: Train, c: &mut DecodeCounters) {
        self.held_bytes -= t.buf.capacity();
        self.held_frames -= u64::from(t.frames);
        c.frag_dropped_frames += u64::from(t.frames);
        c.frag_dropped_bytes += t.wire_len;
    }

    /// Drops every train whose first fragment is `timeout` or more older
    /// than `now`, counting `frag.timeout` once per train.
    pub fn expire(
        &mut self,
        now: Nanos,
        cfg: &DecoderConfig,
        anom: &mut Anomalies,
        c: &mut DecodeCounters,
    ) {
        self.last_sweep = now;
        if self.trains.is_empty() {
            return;
        }
        let timeout = cfg.frag_timeout;
        let old: Vec<FragKey> = self
            .trains
            .iter()
            .filter(|(_, t)| t.first_ts.saturating_add(timeout) <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            if let Some(t) = self.trains.remove(&k) {
                anom.bump(Anomaly::FragTimeout);
                self.drop_train(t, c);
            }
        }
        if self.trains.is_empty() {
            // Give back the table's memory after a burst.
            self.trains.shrink_to(16);
        }
    }

    /// Adds one fragment; on completion the datagram's bytes are in `self.out`.
    pub fn add(
        &mut self,
        f: Fragment<'_>,
        cfg: &DecoderConfig,
        anom: &mut Anomalies,
        c: &mut DecodeCounters,
    ) -> FragResult {
        c.frag_frames += 1;
        if f.data.is_empty() {
            anom.bump(Anomaly::FragInvalidLength);
            Self::drop_frame(c, f.wire_len);
            return FragResult::Dropped;
        }
        let end = f.offset + f.data.len();
        if end > cfg.max_datagram_bytes {
            anom.bump(Anomaly::FragTooLarge);
            Self::drop_frame(c, f.wire_len);
            return FragResult::Dropped;
        }

        // A copy of the datagram just completed: compare with it.
        if let Some((k, done_ts)) = self.last_done {
            if k == f.key && f.ts < done_ts.saturating_add(crate::FRAG_REUSE_WINDOW) {
                let e = end.min(self.out.len());
                if f.offset < e {
                    anom.bump(Anomaly::FragOverlap);
                    if self.out[f.offset..e] != f.data[..e - f.offset] {
                        anom.bump(Anomaly::FragConflict);
                    }
                }
            }
        }

        // A train past its timeout is dropped before this fragment is looked at.
        if let Some(t) = self.trains.get(&f.key) {
            if t.first_ts.saturating_add(cfg.frag_timeout) <= f.ts {
                let t = self.trains.remove(&f.key).expect("present");
                anom.bump(Anomaly::FragTimeout);
                self.drop_train(t, c);
            }
        }
        if !self.trains.contains_key(&f.key) {
            if self.trains.len() >= cfg.max_trains {
                // Sweep at most once per second of capture time so a flood
                // of new trains cannot make every fragment scan the table.
                if f.ts >= self.last_sweep.saturating_add(vigil_core::NANOS_PER_SEC) {
                    self.expire(f.ts, cfg, anom, c);
                }
                if self.trains.len() >= cfg.max_trains {
                    anom.bump(Anomaly::FragTooMany);
                    Self::drop_frame(c, f.wire_len);
                    return FragResult::Dropped;
                }
            }
            self.trains.insert(
                f.key,
                Train {
                    first_ts: f.ts,
                    buf: Vec::new(),
                    cov: Vec::new(),
                    total: None,
                    frames: 0,
                    wire_len: 0,
                    ip_len: 0,
                    ttl: f.ttl,
                },
            );
        }
        let t = self.trains.get_mut(&f.key).expect("inserted");

        if t.frames as usize >= cfg.max_frags_per_datagram {
            let t = self.trains.remove(&f.key).expect("present");
            anom.bump(Anomaly::FragTooManyFrags);
            self.drop_train(t, c);
            Self::drop_frame(c, f.wire_len);
            return FragResult::Dropped;
        }

        // First last-fragment fixes the length.
        if !f.more {
            match t.total {
                None => t.total = Some(end),
                Some(total) if total != end => anom.bump(Anomaly::FragConflict),
                Some(_) => {}
            }
        }
        let limit = match t.total {
            Some(total) => {
                if end > total {
                    anom.bump(Anomaly::FragConflict);
                }
                end.min(total)
            }
            None => end,
        };

        // Grow the buffer within the memcap (capacity is what is counted).
        if limit > t.buf.len() {
            let cap = t.buf.capacity();
            if limit > cap {
                let new_cap = limit.max((cap * 2).min(cfg.max_datagram_bytes));
                if self.held_bytes - cap + new_cap > cfg.max_held_bytes {
                    anom.bump(Anomaly::FragMemcap);
                    Self::drop_frame(c, f.wire_len);
                    if t.frames == 0 {
                        self.trains.remove(&f.key);
                    }
                    return FragResult::Dropped;
                }
                t.buf.reserve_exact(new_cap - t.buf.len());
                self.held_bytes = self.held_bytes - cap + t.buf.capacity();
            }
            t.buf.resize(limit, 0);
        }

        // Copy the bytes not yet held; compare the ones that are.
        let (mut overlap, mut conflict) = (false, false);
        let mut pos = f.offset;
        for &(s, e) in &t.cov {
            if pos >= limit {
                break;
            }
            if e <= pos {
                continue;
            }
            if s > pos {
                let gap_end = s.min(limit);
                t.buf[pos..gap_end].copy_from_slice(&f.data[pos - f.offset..gap_end - f.offset]);
                pos = gap_end;
            }
            if pos < limit && s <= pos {
                let ov_end = e.min(limit);
                overlap = true;
                if t.buf[pos..ov_end] != f.data[pos - f.offset..ov_end - f.offset] {
                    conflict = true;
                }
                pos = ov_end;
            }
        }
        if pos < limit {
            t.buf[pos..limit].copy_from_slice(&f.data[pos - f.offset..limit - f.offset]);
        }
        if overlap {
            anom.bump(Anomaly::FragOverlap);
        }
        if conflict {
            anom.bump(Anomaly::FragConflict);
        }
        if f.offset < limit {
            insert_range(&mut t.cov, f.offset, limit);
        }

        t.frames += 1;
        t.wire_len += u64::from(f.wire_len);
        t.ip_len += u64::from(f.ip_len);
        if f.offset == 0 {
            t.ttl = f.ttl;
        }
        self.held_frames += 1;

        let done = match (t.total, t.cov.first()) {
            (Some(total), Some(&(0, e))) => e >= total,
            _ => false,
        };
        if !done {
            return FragResult::Held;
        }
        let mut t = self.trains.remove(&f.key).expect("present");
        self.held_bytes -= t.buf.capacity();
        self.held_frames -= u64::from(t.frames);
        c.reassembled += 1;
        c.reassembled_frames += u64::from(t.frames);
        t.buf.truncate(t.total.unwrap_or(0));
        self.out = t.buf;
        self.last_done = Some((f.key, f.ts));
        FragResult::Complete(Complete {
            proto: f.key.proto,
            frames: t.frames,
            wire_len: u32::try_from(t.wire_len).unwrap_or(u32::MAX),
            ip_len: u32::try_from(t.ip_len).unwrap_or(u32::MAX),
            ttl: t.ttl,
        })
    }
}

/// Inserts `[s, e)` into sorted, disjoint, non-adjacent ranges, merging.
fn insert_range(cov: &mut Vec<(usize, usize)>, s: usize, e: usize) {
    // First range that ends at or after s (could merge).
    let i = cov.partition_point(|&(_, ce)| ce < s);
    let mut j = i;
    let (mut ns, mut ne) = (s, e);
    while j < cov.len() && cov[j].0 <= ne {
        ns = ns.min(cov[j].0);
        ne = ne.max(cov[j].1);
        j += 1;
    }
    cov.splice(i..j, std::iter::once((ns, ne)));
}

#[cfg(test)]
mod tests {
    use super::insert_range;

    #[test]
    fn ranges_merge() {
        let mut c = Vec::new();
        insert_range(&mut c, 10, 20);
        insert_range(&mut c, 30, 40);
        assert_eq!(c, vec![(10, 20), (30, 40)]);
        insert_range(&mut c, 20, 30);
        assert_eq!(c, vec![(10, 40)]);
        insert_range(&mut c, 0, 5);
        insert_range(&mut c, 50, 60);
        insert_range(&mut c, 3, 55);
        assert_eq!(c, vec![(0, 60)]);
    }
}
