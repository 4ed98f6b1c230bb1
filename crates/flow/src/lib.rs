//! The flood-proof, bounded flow table.
//!
//! Why it exists: vigil must account every conversation exactly while a flood
//! of millions of spoofed one-packet "flows" tries to push the real ones out.
//! What it promises:
//!
//! - **One record per flow, whole totals.** A flow stays in the table until it
//!   times out (or the input ends); it is never split by table pressure.
//! - **Bounded memory.** Everything is sized from [`FlowConfig::memory`] up front.
//! - **Admission by proof of life.** A new flow first lives as a one-packet
//!   *candidate* in a set-associative array. Only a second packet promotes it
//!   into the main table. A flood of unanswered one-packet flows therefore only
//!   churns the candidate array, and when a candidate must be displaced to
//!   admit another one, it is *shed*: summed into a per-destination
//!   [`ShedAggregate`] and counted. Nothing is silently lost.
//! - **Protected flows.** A flow that completed a TCP handshake or carried
//!   payload both ways is never evicted to make room; when the main table is
//!   full, unprotected flows are shed first, and only when every sampled flow
//!   is protected is the stalest one ended early (reason `forced`, with its
//!   whole totals), which takes ~1M concurrent real flows at the default bound.
//!
//! Time is capture time, passed in with each packet. Lookups run a batch at a
//! time with cache prefetches, so a flood of cache misses overlaps.
#![deny(unsafe_code)]

mod config;
mod key;
mod mem;

pub use config::{parse_size, FlowConfig, Timeouts, DEFAULT_FLOW_MEMORY, MIN_FLOW_MEMORY};
pub use key::FlowKey;

use vigil_core::hash::FastMap;
use vigil_core::{
    proto, tcp_flags as tf, Addr, DirCounters, EndReason, FlowCtx, FlowRecord, FlowSink, FlowState,
    Nanos, PacketInfo, ShedAggregate, NANOS_PER_SEC,
};

/// Counters of the table's work, reported in the final `stats` event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowStats {
    /// Wire frames seen by the table.
    pub packets: u64,
    /// Distinct flows started (one per first packet of a key).
    pub flows: u64,
    /// Flows written out one by one.
    pub flows_logged: u64,
    /// Flows summed into shed aggregates instead.
    pub flows_shed: u64,
    pub shed_packets: u64,
    pub shed_bytes: u64,
    /// Candidates that got a second packet and entered the main table.
    pub promoted: u64,
    /// Unprotected main-table flows shed to make room.
    pub evicted: u64,
    /// Protected flows ended early because the main table was full of them.
    pub forced: u64,
    /// Sheds that went to the overflow aggregate because the aggregate table
    /// itself was full.
    pub aggregate_overflow: u64,
    pub active_peak: u64,
    pub candidates_peak: u64,
    /// Bytes the table may use (its sizing), and the peak it did use.
    pub memory_bound: u64,
    pub memory_peak: u64,
}

const TCP_SYN_C: u8 = 1;
const TCP_SYNACK_S: u8 = 2;
const TCP_HANDSHAKE: u8 = 4;
const TCP_FIN_C: u8 = 8;
const TCP_FIN_S: u8 = 16;

/// A main-table flow: two cache lines, `repr(C)` and 128-byte aligned (the
/// pair the L2 spatial prefetcher fetches together). The first line holds what
/// a lookup compares and an update touches besides the counters (key, times,
/// state, flags), the second the per-direction counters, so a packet of a
/// known flow touches exactly these two lines (see
/// [`FlowTable::prefetch_flow`]). The key's hash and the flow id are not
/// stored: both are recomputed from the key (and `first`) where needed.
#[derive(Clone, Default)]
#[repr(C, align(128))]
struct Flow {
    key: FlowKey,
    first: Nanos,
    last: Nanos,
    state: FlowState,
    tcp: u8,
    /// `F_*` bits.
    bits: u8,
    icmp_type: u8,
    icmp_code: u8,
    /// OR of TCP flags seen, [to server, to client].
    flags: [u8; 2],
    /// [to server, to client]
    dir: [Ctr; 2],
}
/// The sender of the first packet is the `lo` side of the key.
const F_CLIENT_LO: u8 = 1;
/// Never evicted to make room (handshake done or payload both ways).
const F_PROTECTED: u8 = 2;
/// The slot holds a flow (not on the free list).
const F_LIVE: u8 = 4;

impl Flow {
    #[inline]
    fn client_is_lo(&self) -> bool {
        self.bits & F_CLIENT_LO != 0
    }
    #[inline]
    fn protected(&self) -> bool {
        self.bits & F_PROTECTED != 0
    }
    #[inline]
    fn live(&self) -> bool {
        self.bits & F_LIVE != 0
    }
    #[inline]
    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.bits |= bit;
        } else {
            self.bits &= !bit;
        }
    }
}

/// Per-direction counters of a main-table flow (TCP flags live in
/// [`Flow::flags`], on the first line).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Ctr {
    pkts: u64,
    bytes: u64,
    ip_bytes: u64,
    payload_bytes: u64,
}

impl Ctr {
    fn counters(&self, tcp_flags: u8) -> DirCounters {
        DirCounters {
            pkts: self.pkts,
            bytes: self.bytes,
            ip_bytes: self.ip_bytes,
            payload_bytes: self.payload_bytes,
            tcp_flags,
        }
    }
}

const _: () = assert!(std::mem::size_of::<Flow>() == 128);
const _: () = assert!(std::mem::offset_of!(Flow, dir) == 64);

/// A one-packet flow candidate: one cache line.
#[derive(Clone, Copy, Default, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Candidate {
    key: FlowKey,
    ts: Nanos,
    wire_len: u32,
    ip_len: u32,
    /// Saturating: only an IPv6 jumbogram could exceed it.
    payload_len: u16,
    frames: u16,
    tcp_flags: u8,
    icmp_type: u8,
    icmp_code: u8,
    bits: u8,
}
const C_USED: u8 = 1;
const C_SRC_LO: u8 = 2;
/// A candidate set's ways at a glance, in one cache line: a lookup or an
/// insertion reads this line and at most one candidate line, not all four
/// (under a flood of new keys the four candidate lines were what the
/// prefetches waited on).
#[derive(Clone, Copy, Default, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct SetTags {
    /// Per way: 0 free, else the key hash's low 32 bits with bit 0 set.
    tag: [u32; WAYS],
    /// Per way: the candidate's capture time (the oldest is displaced).
    ts: [Nanos; WAYS],
}

impl SetTags {
    fn tag_of(h: u64) -> u32 {
        h as u32 | 1
    }

    /// The way a new candidate takes: a free one, else the oldest; and
    /// whether it was free.
    fn victim(&self) -> (usize, bool) {
        let mut victim = 0;
        let mut oldest = Nanos::MAX;
        for w in 0..WAYS {
            if self.tag[w] == 0 {
                return (w, true);
            }
            if self.ts[w] < oldest {
                oldest = self.ts[w];
                victim = w;
            }
        }
        (victim, false)
    }
}

/// Ways per candidate set: four keeps a legitimate one-packet flow safe from
/// displacement unless four newer candidates land in its set before its reply.
const WAYS: usize = 4;
type Set = [Candidate; WAYS];

/// Lookups are prefetched in three stages ahead of the packet being
/// processed, each reading only lines the stage before fetched: the home index
/// slot (`PREFETCH_AHEAD`); then the flow's two lines if the slot names the
/// packet's hash, else the candidate set's tag line (`PREFETCH_FLOW`); then,
/// for a packet that missed the index, the one candidate line it will touch
/// (`PREFETCH_CAND`). A packet of a known flow (nearly every packet of
/// ordinary traffic) thus pulls three lines, a packet of a spoofed flood three.
/// Measured against fetching the tag line with the index slot: up to 7 % less
/// user time on the mix capture, the same on flood. The distances matter:
/// 8/4/2 cost 15 % more on flood (the candidate line came too late), 12/6/3
/// 5 %.
const PREFETCH_AHEAD: usize = 16;
const PREFETCH_FLOW: usize = 8;
const PREFETCH_CAND: usize = 4;
/// Main-table entries examined to find one to make room.
const EVICT_SAMPLE: usize = 32;
/// Expiry runs every second of capture time over a slice of each table, so
/// every flow is looked at within `SWEEP_SLICES` seconds of timing out (a
/// record may be written that much later; its times and totals are exact).
/// Slower sweeps cost less memory traffic: at 1/8 a second the sweeps moved
/// ~1.5 GB over the 138 s flood capture.
const SWEEP_SLICES: usize = 32;
/// Candidates are swept more slowly still: they are 30 % of the memory bound
/// and a timed-out one is also retired when its set needs the room.
const CANDIDATE_SWEEP_SLICES: usize = 64;

/// Shares of the memory bound: main table, candidates, aggregates (the rest
/// is slack for the index's rounding to a power of two).
const MAIN_SHARE: f64 = 0.55;
const CAND_SHARE: f64 = 0.30;
const AGG_SHARE: f64 = 0.05;

struct Agg {
    a: ShedAggregate,
    /// Linear-counting bitmap of destination ports.
    ports: [u64; 16],
}

impl Agg {
    fn new(dest: Option<Addr>, proto: u8) -> Self {
        Agg {
            a: ShedAggregate {
                dest,
                proto,
                flows: 0,
                pkts: 0,
                bytes: 0,
                ip_bytes: 0,
                first: Nanos::MAX,
                last: 0,
                dest_ports: 0,
            },
            ports: [0; 16],
        }
    }
    fn add(&mut self, s: &Shed) {
        self.a.flows += 1;
        self.a.pkts += s.pkts;
        self.a.bytes += s.bytes;
        self.a.ip_bytes += s.ip_bytes;
        self.a.first = self.a.first.min(s.first);
        self.a.last = self.a.last.max(s.last);
        let bit = (s.dport as usize).wrapping_mul(0x9e37) >> 6 & 1023;
        self.ports[bit / 64] |= 1 << (bit % 64);
    }
    fn finish(&mut self) -> &ShedAggregate {
        let set: u32 = self.ports.iter().map(|w| w.count_ones()).sum();
        let m = 1024.0f64;
        let zero = m - set as f64;
        self.a.dest_ports = if zero < 1.0 {
            65535
        } else {
            (m * (m / zero).ln()).round().min(65535.0) as u32
        };
        &self.a
    }
}

/// One flow on its way into an aggregate.
struct Shed {
    dest: Addr,
    proto: u8,
    dport: u16,
    pkts: u64,
    bytes: u64,
    ip_bytes: u64,
    first: Nanos,
    last: Nanos,
}

/// What the table needs of one packet.
#[derive(Clone, Copy)]
struct Pkt {
    ts: Nanos,
    src_lo: bool,
    frames: u32,
    wire_len: u32,
    ip_len: u32,
    payload_len: u32,
    flags: u8,
}

impl Pkt {
    fn of(p: &PacketInfo, src_lo: bool) -> Self {
        Pkt {
            ts: p.ts,
            src_lo,
            frames: p.frames.max(1),
            wire_len: p.wire_len,
            ip_len: p.ip_len,
            payload_len: p.payload_len,
            flags: p.tcp_flags,
        }
    }
    fn of_candidate(c: &Candidate) -> Self {
        Pkt {
            ts: c.ts,
            src_lo: c.bits & C_SRC_LO != 0,
            frames: c.frames as u32,
            wire_len: c.wire_len,
            ip_len: c.ip_len,
            payload_len: c.payload_len as u32,
            flags: c.tcp_flags,
        }
    }
}

/// A flow's id: a function of its key's hash and its first packet's time, so
/// a one-packet candidate already has the id its record will carry
/// (splitmix64 finaliser, positive like Suricata's hash-looking ids).
fn flow_id(h: u64, first: Nanos) -> u64 {
    let mut z = h ^ first.rotate_left(29);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & 0x7fff_ffff_ffff_ffff
}

/// Whether the sender of a flow's first packet is its server: only when that
/// packet is a SYN-ACK (the capture started mid-handshake).
fn first_sender_is_server(proto: u8, flags: u8) -> bool {
    proto == proto::TCP && flags & (tf::SYN | tf::ACK) == (tf::SYN | tf::ACK)
}

/// The bounded, flood-proof flow table. See the crate docs.
pub struct FlowTable {
    timeouts: Timeouts,
    /// Open addressing, linear probing; entry = (hash low 32 bits) << 32 |
    /// (slot + 1); 0 is empty. Load stays at or below one half.
    index: Vec<u64>,
    mask: usize,
    flows: Vec<Flow>,
    free: Vec<u32>,
    max_flows: usize,
    live: usize,
    sets: mem::ZeroedArray<Set>,
    /// One [`SetTags`] per set, kept in step with `sets`.
    tags: mem::ZeroedArray<SetTags>,
    set_mask: usize,
    candidates: usize,
    aggs: Vec<Agg>,
    agg_index: FastMap<(Addr, u8), u32>,
    max_aggs: usize,
    last_agg: Option<(Addr, u8, u32)>,
    overflow: Option<Agg>,
    now: Nanos,
    next_sweep: Nanos,
    main_cursor: usize,
    set_cursor: usize,
    evict_cursor: usize,
    stats: FlowStats,
    scratch: Vec<(FlowKey, bool, u64)>,
}

impl FlowTable {
    pub fn new(cfg: &FlowConfig) -> Self {
        let mem = cfg.memory.max(MIN_FLOW_MEMORY) as f64;
        let flow_cost = std::mem::size_of::<Flow>() + 16;
        let max_flows = ((mem * MAIN_SHARE) as usize / flow_cost).max(1024);
        let index_len = (max_flows * 2).next_power_of_two();
        let set_size = std::mem::size_of::<Set>() + std::mem::size_of::<SetTags>();
        let nsets = ((mem * CAND_SHARE) as usize / set_size).max(64);
        // round down to a power of two
        let nsets = 1usize << (usize::BITS - 1 - nsets.leading_zeros());
        let agg_cost = std::mem::size_of::<Agg>() + 48;
        let max_aggs = ((mem * AGG_SHARE) as usize / agg_cost).max(64);
        let mut t = FlowTable {
            timeouts: cfg.timeouts,
            // zeroed allocations: the kernel hands out zero pages lazily, so
            // a small capture never touches most of the table
            index: vec![0; index_len],
            mask: index_len - 1,
            flows: Vec::with_capacity(max_flows),
            free: Vec::new(),
            max_flows,
            live: 0,
            sets: mem::ZeroedArray::new(nsets),
            tags: mem::ZeroedArray::new(nsets),
            set_mask: nsets - 1,
            candidates: 0,
            aggs: Vec::new(),
            agg_index: FastMap::default(),
            max_aggs,
            last_agg: None,
            overflow: None,
            now: 0,
            next_sweep: 0,
            main_cursor: 0,
            set_cursor: 0,
            evict_cursor: 0,
            stats: FlowStats::default(),
            scratch: Vec::new(),
        };
        // Advise before first touch so the pages are born huge.
        mem::advise_huge_pages(&t.index);
        mem::advise_huge_pages(&t.flows);
        t.stats.memory_bound = (index_len * 8
            + max_flows * std::mem::size_of::<Flow>()
            + nsets * set_size
            + max_aggs * agg_cost) as u64;
        t
    }

    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Flows in the main table now.
    pub fn active(&self) -> usize {
        self.live
    }

    /// Accounts a batch of packets (in capture order), writing flows that end
    /// to `out` and each packet's [`FlowCtx`] to `ctx` (cleared first).
    pub fn process_batch<S: FlowSink + ?Sized>(
        &mut self,
        pkts: &[PacketInfo],
        ctx: &mut Vec<FlowCtx>,
        out: &mut S,
    ) {
        ctx.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(pkts.iter().map(|p| {
            let (k, lo) = FlowKey::of(p);
            (k, lo, k.hash())
        }));
        for s in scratch.iter().take(PREFETCH_AHEAD) {
            self.prefetch(s.2);
        }
        for s in scratch.iter().take(PREFETCH_FLOW) {
            self.prefetch_flow(s.2);
        }
        for s in scratch.iter().take(PREFETCH_CAND) {
            self.prefetch_candidate(s.2);
        }
        for (i, p) in pkts.iter().enumerate() {
            if let Some(s) = scratch.get(i + PREFETCH_AHEAD) {
                self.prefetch(s.2);
            }
            if let Some(s) = scratch.get(i + PREFETCH_FLOW) {
                self.prefetch_flow(s.2);
            }
            if let Some(s) = scratch.get(i + PREFETCH_CAND) {
                self.prefetch_candidate(s.2);
            }
            let (k, lo, h) = scratch[i];
            ctx.push(self.process_keyed(p, &k, lo, h, out));
        }
        self.scratch = scratch;
    }

    /// Accounts one packet.
    pub fn process<S: FlowSink + ?Sized>(&mut self, p: &PacketInfo, out: &mut S) -> FlowCtx {
        let (k, lo) = FlowKey::of(p);
        let h = k.hash();
        self.process_keyed(p, &k, lo, h, out)
    }

    /// First stage: the packet's home index slot.
    #[inline]
    fn prefetch(&self, h: u64) {
        mem::prefetch(&self.index[h as usize & self.mask]);
    }

    /// Whether the home index slot (prefetched by now) names a flow with the
    /// packet's hash: the common case for a packet of a known flow.
    #[inline]
    fn home_hit(&self, h: u64) -> Option<usize> {
        let e = self.index[h as usize & self.mask];
        (e != 0 && e >> 32 == h as u32 as u64).then(|| (e as u32 - 1) as usize)
    }

    /// Second stage (the index line has arrived): the flow's two lines if the
    /// home slot names it, else the candidate set's tag line.
    #[inline]
    fn prefetch_flow(&self, h: u64) {
        match self.home_hit(h).and_then(|fi| self.flows.get(fi)) {
            Some(f) => {
                mem::prefetch(f);
                mem::prefetch(&f.dir);
            }
            None => mem::prefetch(&self.tags[(h >> 32) as usize & self.set_mask]),
        }
    }

    /// Third stage, for a packet without a home-slot hit (the tag line has
    /// arrived): the one candidate line it will touch (the way whose tag
    /// matches, or the way a new candidate would take).
    #[inline]
    fn prefetch_candidate(&self, h: u64) {
        if self.home_hit(h).is_some() {
            return;
        }
        let si = (h >> 32) as usize & self.set_mask;
        let t = &self.tags[si];
        let tag = SetTags::tag_of(h);
        let w = t
            .tag
            .iter()
            .position(|&x| x == tag)
            .unwrap_or_else(|| t.victim().0);
        mem::prefetch(&self.sets[si][w]);
    }

    /// Empties way `w` of set `si`, returning what it held.
    fn take_candidate(&mut self, si: usize, w: usize) -> Candidate {
        let c = self.sets[si][w];
        self.sets[si][w].bits = 0;
        self.tags[si].tag[w] = 0;
        self.candidates -= 1;
        c
    }

    fn process_keyed<S: FlowSink + ?Sized>(
        &mut self,
        p: &PacketInfo,
        key: &FlowKey,
        src_lo: bool,
        h: u64,
        out: &mut S,
    ) -> FlowCtx {
        self.stats.packets += p.frames.max(1) as u64;
        if p.ts > self.now {
            self.now = p.ts;
            if self.now >= self.next_sweep {
                self.sweep(out);
            }
        }
        let pkt = Pkt::of(p, src_lo);
        if let Some(fi) = self.find(key, h) {
            let f = &self.flows[fi];
            let idle = p.ts.saturating_sub(f.last);
            let reuse = f.state == FlowState::Closed
                && p.tcp_flags & (tf::SYN | tf::ACK) == tf::SYN
                && f.key.proto == proto::TCP;
            if idle <= self.timeouts.for_state(f.key.proto, f.state) && !reuse {
                let f = &mut self.flows[fi];
                Self::apply(f, &pkt);
                return Self::ctx_of(f, h, &pkt);
            }
            self.end_flow(fi, EndReason::Timeout, out);
        }
        let si = (h >> 32) as usize & self.set_mask;
        let tag = SetTags::tag_of(h);
        for w in 0..WAYS {
            if self.tags[si].tag[w] == tag && self.sets[si][w].key == *key {
                let c = self.take_candidate(si, w);
                let idle = p.ts.saturating_sub(c.ts);
                if idle <= self.timeouts.for_state(key.proto, FlowState::New) {
                    let fi = self.promote(&c, h, &pkt, p, out);
                    return Self::ctx_of(&self.flows[fi], h, &pkt);
                }
                self.retire_candidate(&c, out);
                break;
            }
        }
        self.insert_candidate(si, h, p, key, src_lo, out);
        FlowCtx {
            flow_id: flow_id(h, p.ts),
            new_flow: true,
            to_server: !first_sender_is_server(key.proto, p.tcp_flags),
            established: false,
            flow_pkts: p.frames.max(1) as u64,
        }
    }

    fn ctx_of(f: &Flow, h: u64, p: &Pkt) -> FlowCtx {
        FlowCtx {
            flow_id: flow_id(h, f.first),
            new_flow: false,
            to_server: p.src_lo == f.client_is_lo(),
            established: f.state != FlowState::New || f.tcp & TCP_HANDSHAKE != 0,
            flow_pkts: f.dir[0].pkts + f.dir[1].pkts,
        }
    }

    fn insert_candidate<S: FlowSink + ?Sized>(
        &mut self,
        si: usize,
        h: u64,
        p: &PacketInfo,
        key: &FlowKey,
        src_lo: bool,
        out: &mut S,
    ) {
        self.stats.flows += 1;
        let (victim, free) = self.tags[si].victim();
        if free {
            self.candidates += 1;
            if self.candidates == self.sets.len() {
                // a quarter of the ways in use: a flood of new keys, which
                // will touch every page of the candidate arrays; huge pages
                // spare it the TLB misses. Ordinary traffic keeps a few
                // hundred candidates scattered over them, and on 4 KiB pages
                // touches (and zeroes) a few MiB instead of all of them.
                self.sets.advise_huge_pages();
                self.tags.advise_huge_pages();
            }
            self.stats.candidates_peak = self.stats.candidates_peak.max(self.candidates as u64);
        } else {
            let old = self.sets[si][victim];
            if p.ts.saturating_sub(old.ts) > self.timeouts.for_state(old.key.proto, FlowState::New)
            {
                self.retire_candidate(&old, out);
            } else {
                self.shed_candidate(&old);
            }
        }
        let mut bits = C_USED;
        if src_lo {
            bits |= C_SRC_LO;
        }
        self.tags[si].tag[victim] = SetTags::tag_of(h);
        self.tags[si].ts[victim] = p.ts;
        self.sets[si][victim] = Candidate {
            key: *key,
            ts: p.ts,
            wire_len: p.wire_len,
            ip_len: p.ip_len,
            payload_len: p.payload_len.min(u16::MAX as u32) as u16,
            frames: p.frames.clamp(1, u16::MAX as u32) as u16,
            tcp_flags: p.tcp_flags,
            icmp_type: p.icmp_type,
            icmp_code: p.icmp_code,
            bits,
        };
    }

    /// The destination (server side) of a candidate.
    fn candidate_dest(c: &Candidate) -> (Addr, u16) {
        let src_lo = c.bits & C_SRC_LO != 0;
        let client_lo = src_lo != first_sender_is_server(c.key.proto, c.tcp_flags);
        let v6 = c.key.v6 != 0;
        if client_lo {
            (
                Addr {
                    bytes: c.key.hi,
                    v6,
                },
                c.key.hi_port,
            )
        } else {
            (
                Addr {
                    bytes: c.key.lo,
                    v6,
                },
                c.key.lo_port,
            )
        }
    }

    /// Sums a displaced candidate into its destination's aggregate.
    fn shed_candidate(&mut self, c: &Candidate) {
        let (dest, dport) = Self::candidate_dest(c);
        self.shed(&Shed {
            dest,
            proto: c.key.proto,
            dport,
            pkts: c.frames as u64,
            bytes: c.wire_len as u64,
            ip_bytes: c.ip_len as u64,
            first: c.ts,
            last: c.ts,
        });
    }

    fn shed(&mut self, s: &Shed) {
        self.stats.flows_shed += 1;
        self.stats.shed_packets += s.pkts;
        self.stats.shed_bytes += s.bytes;
        let slot = match self.last_agg {
            Some((a, p, i)) if a == s.dest && p == s.proto => Some(i as usize),
            _ => match self.agg_index.get(&(s.dest, s.proto)) {
                Some(&i) => Some(i as usize),
                None if self.aggs.len() < self.max_aggs => {
                    let i = self.aggs.len();
                    self.aggs.push(Agg::new(Some(s.dest), s.proto));
                    self.agg_index.insert((s.dest, s.proto), i as u32);
                    Some(i)
                }
                None => None,
            },
        };
        match slot {
            Some(i) => {
                self.last_agg = Some((s.dest, s.proto, i as u32));
                self.aggs[i].add(s);
            }
            None => {
                self.stats.aggregate_overflow += 1;
                self.overflow
                    .get_or_insert_with(|| Agg::new(None, 0))
                    .add(s);
            }
        }
    }

    /// A candidate that timed out (or outlived the input): written as a
    /// one-packet flow, unless its destination is already being shed to (it is
    /// then part of that flood and joins its aggregate).
    fn retire_candidate<S: FlowSink + ?Sized>(&mut self, c: &Candidate, out: &mut S) {
        let (dest, _) = Self::candidate_dest(c);
        if self.agg_index.contains_key(&(dest, c.key.proto)) {
            self.shed_candidate(c);
            return;
        }
        let mut f = Flow {
            key: c.key,
            icmp_type: c.icmp_type,
            icmp_code: c.icmp_code,
            first: c.ts,
            last: c.ts,
            ..Flow::default()
        };
        f.set(
            F_CLIENT_LO,
            (c.bits & C_SRC_LO != 0) != first_sender_is_server(c.key.proto, c.tcp_flags),
        );
        Self::apply(&mut f, &Pkt::of_candidate(c));
        let reason =
            if self.now.saturating_sub(c.ts) > self.timeouts.for_state(c.key.proto, f.state) {
                EndReason::Timeout
            } else {
                EndReason::Shutdown
            };
        self.stats.flows_logged += 1;
        out.flow(&Self::record(&f, reason));
    }

    fn promote<S: FlowSink + ?Sized>(
        &mut self,
        c: &Candidate,
        h: u64,
        pkt: &Pkt,
        p: &PacketInfo,
        out: &mut S,
    ) -> usize {
        let fi = self.alloc_flow(out);
        self.stats.promoted += 1;
        let f = &mut self.flows[fi];
        *f = Flow {
            key: c.key,
            first: c.ts,
            last: c.ts,
            icmp_type: c.icmp_type,
            icmp_code: c.icmp_code,
            bits: F_LIVE,
            ..Flow::default()
        };
        f.set(
            F_CLIENT_LO,
            (c.bits & C_SRC_LO != 0) != first_sender_is_server(c.key.proto, c.tcp_flags),
        );
        if c.icmp_type == 0 && c.icmp_code == 0 {
            f.icmp_type = p.icmp_type;
            f.icmp_code = p.icmp_code;
        }
        Self::apply(f, &Pkt::of_candidate(c));
        Self::apply(f, pkt);
        self.index_insert(h, fi);
        self.live += 1;
        self.stats.active_peak = self.stats.active_peak.max(self.live as u64);
        let used = self.live * (std::mem::size_of::<Flow>() + 16)
            + self.candidates * std::mem::size_of::<Candidate>()
            + self.aggs.len() * std::mem::size_of::<Agg>()
            + self.index.len() * 8;
        self.stats.memory_peak = self.stats.memory_peak.max(used as u64);
        fi
    }

    /// A free main-table slot, making room if the table is full.
    fn alloc_flow<S: FlowSink + ?Sized>(&mut self, out: &mut S) -> usize {
        if let Some(i) = self.free.pop() {
            return i as usize;
        }
        if self.flows.len() < self.max_flows {
            self.flows.push(Flow::default());
            return self.flows.len() - 1;
        }
        // Full: look at a sample for an expired flow, else the stalest
        // unprotected one (shed), else the stalest protected one (forced).
        let n = self.flows.len();
        let mut best_unprot: Option<(Nanos, usize)> = None;
        let mut best_prot: Option<(Nanos, usize)> = None;
        for _ in 0..EVICT_SAMPLE {
            self.evict_cursor = (self.evict_cursor + 0x9e37_79b1) % n;
            let i = self.evict_cursor;
            let f = &self.flows[i];
            if !f.live() {
                continue;
            }
            if self.now.saturating_sub(f.last) > self.timeouts.for_state(f.key.proto, f.state) {
                self.end_flow(i, EndReason::Timeout, out);
                return self.free.pop().expect("a slot was just freed") as usize;
            }
            let best = if f.protected() {
                &mut best_prot
            } else {
                &mut best_unprot
            };
            if best.is_none_or(|(t, _)| f.last < t) {
                *best = Some((f.last, i));
            }
        }
        if let Some((_, i)) = best_unprot {
            self.stats.evicted += 1;
            self.shed_flow(i);
        } else if let Some((_, i)) = best_prot {
            self.stats.forced += 1;
            self.end_flow(i, EndReason::Forced, out);
        } else {
            // every sampled slot was free: impossible with an empty free list
            self.flows.push(Flow::default());
            return self.flows.len() - 1;
        }
        self.free.pop().expect("a slot was just freed") as usize
    }

    /// Sums an unprotected main-table flow into its destination's aggregate.
    fn shed_flow(&mut self, fi: usize) {
        let r = Self::record(&self.flows[fi], EndReason::Forced);
        self.shed(&Shed {
            dest: r.server,
            proto: r.proto,
            dport: r.sport,
            pkts: r.toserver.pkts + r.toclient.pkts,
            bytes: r.toserver.bytes + r.toclient.bytes,
            ip_bytes: r.toserver.ip_bytes + r.toclient.ip_bytes,
            first: r.start,
            last: r.end,
        });
        self.remove_flow(fi);
    }

    fn end_flow<S: FlowSink + ?Sized>(&mut self, fi: usize, reason: EndReason, out: &mut S) {
        self.stats.flows_logged += 1;
        out.flow(&Self::record(&self.flows[fi], reason));
        self.remove_flow(fi);
    }

    fn remove_flow(&mut self, fi: usize) {
        let h = self.flows[fi].key.hash();
        self.index_remove(h, fi);
        self.flows[fi].set(F_LIVE, false);
        self.free.push(fi as u32);
        self.live -= 1;
    }

    fn record(f: &Flow, reason: EndReason) -> FlowRecord {
        let v6 = f.key.v6 != 0;
        let lo = Addr {
            bytes: f.key.lo,
            v6,
        };
        let hi = Addr {
            bytes: f.key.hi,
            v6,
        };
        let (client, server, cport, sport) = if f.client_is_lo() {
            (lo, hi, f.key.lo_port, f.key.hi_port)
        } else {
            (hi, lo, f.key.hi_port, f.key.lo_port)
        };
        FlowRecord {
            flow_id: flow_id(f.key.hash(), f.first),
            client,
            server,
            cport,
            sport,
            proto: f.key.proto,
            vlan: f.key.vlan,
            icmp_type: f.icmp_type,
            icmp_code: f.icmp_code,
            start: f.first,
            end: f.last,
            toserver: f.dir[0].counters(f.flags[0]),
            toclient: f.dir[1].counters(f.flags[1]),
            state: f.state,
            reason,
            app_proto: None,
        }
    }

    #[inline]
    fn apply(f: &mut Flow, p: &Pkt) {
        let d = (p.src_lo != f.client_is_lo()) as usize;
        let c = &mut f.dir[d];
        c.pkts += p.frames as u64;
        c.bytes += p.wire_len as u64;
        c.ip_bytes += p.ip_len as u64;
        c.payload_bytes += p.payload_len as u64;
        f.flags[d] |= p.flags;
        f.first = f.first.min(p.ts);
        f.last = f.last.max(p.ts);
        if f.key.proto == proto::TCP {
            let fl = p.flags;
            if fl & tf::SYN != 0 {
                if fl & tf::ACK == 0 && d == 0 {
                    f.tcp |= TCP_SYN_C;
                } else if fl & tf::ACK != 0 && d == 1 {
                    f.tcp |= TCP_SYNACK_S;
                }
            } else if fl & tf::ACK != 0 && d == 0 && f.tcp & TCP_SYNACK_S != 0 {
                f.tcp |= TCP_HANDSHAKE;
                if f.state == FlowState::New {
                    f.state = FlowState::Established;
                }
            }
            if fl & tf::FIN != 0 {
                f.tcp |= if d == 0 { TCP_FIN_C } else { TCP_FIN_S };
            }
            if fl & tf::RST != 0 || f.tcp & (TCP_FIN_C | TCP_FIN_S) == TCP_FIN_C | TCP_FIN_S {
                f.state = FlowState::Closed;
            }
        }
        let both_payload = f.dir[0].payload_bytes > 0 && f.dir[1].payload_bytes > 0;
        if f.state == FlowState::New
            && (both_payload
                || (f.key.proto != proto::TCP && f.dir[0].pkts > 0 && f.dir[1].pkts > 0))
        {
            f.state = FlowState::Established;
        }
        f.set(F_PROTECTED, f.tcp & TCP_HANDSHAKE != 0 || both_payload);
    }

    #[inline]
    fn find(&self, key: &FlowKey, h: u64) -> Option<usize> {
        let tag = h as u32 as u64;
        let mut i = h as usize & self.mask;
        loop {
            let e = self.index[i];
            if e == 0 {
                return None;
            }
            if e >> 32 == tag {
                let fi = (e as u32 - 1) as usize;
                if self.flows[fi].key == *key {
                    return Some(fi);
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    fn index_insert(&mut self, h: u64, fi: usize) {
        let mut i = h as usize & self.mask;
        while self.index[i] != 0 {
            i = (i + 1) & self.mask;
        }
        self.index[i] = (h as u32 as u64) << 32 | (fi as u64 + 1);
    }

    /// Removes slot `fi` from the index with backward-shift deletion (no
    /// tombstones, so probe lengths stay short under churn).
    fn index_remove(&mut self, h: u64, fi: usize) {
        let want = fi as u64 + 1;
        let mut i = h as usize & self.mask;
        loop {
            let e = self.index[i];
            assert!(e != 0, "flow {fi} missing from index");
            if e & 0xffff_ffff == want {
                break;
            }
            i = (i + 1) & self.mask;
        }
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.index[j];
            if e == 0 {
                break;
            }
            let home = (e >> 32) as usize & self.mask;
            // move e into the hole if its home is not in (hole, j]
            let between = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !between {
                self.index[hole] = e;
                hole = j;
            }
        }
        self.index[hole] = 0;
    }

    /// Expires idle flows: one slice of each table per second of capture time.
    fn sweep<S: FlowSink + ?Sized>(&mut self, out: &mut S) {
        self.next_sweep = self.now - self.now % NANOS_PER_SEC + NANOS_PER_SEC;
        let n = self.flows.len();
        if n > 0 {
            let slice = n.div_ceil(SWEEP_SLICES);
            for _ in 0..slice {
                self.main_cursor = (self.main_cursor + 1) % n;
                let i = self.main_cursor;
                let f = &self.flows[i];
                if f.live()
                    && self.now.saturating_sub(f.last)
                        > self.timeouts.for_state(f.key.proto, f.state)
                {
                    self.end_flow(i, EndReason::Timeout, out);
                }
            }
        }
        if self.candidates > 0 {
            let ns = self.sets.len();
            let slice = ns.div_ceil(CANDIDATE_SWEEP_SLICES);
            for _ in 0..slice {
                self.set_cursor = (self.set_cursor + 1) % ns;
                let si = self.set_cursor;
                for w in 0..WAYS {
                    // the tag line says which ways are worth reading
                    if self.tags[si].tag[w] != 0 {
                        let c = self.sets[si][w];
                        if self.now.saturating_sub(c.ts)
                            > self.timeouts.for_state(c.key.proto, FlowState::New)
                        {
                            let c = self.take_candidate(si, w);
                            self.retire_candidate(&c, out);
                        }
                    }
                }
            }
        }
    }

    /// Advances the table's clock without a packet (a live sensor on a quiet
    /// link calls it once a second): expiry sweeps run as a packet at `now`
    /// would run them. An earlier `now` does nothing.
    pub fn advance<S: FlowSink + ?Sized>(&mut self, now: Nanos, out: &mut S) {
        if now > self.now {
            self.now = now;
            if self.now >= self.next_sweep {
                self.sweep(out);
            }
        }
    }

    /// Ends every flow at the end of input (reason `timeout` if it had gone
    /// idle, else `shutdown`) and reports the shed aggregates.
    pub fn finish<S: FlowSink + ?Sized>(&mut self, out: &mut S) {
        for i in 0..self.flows.len() {
            let f = &self.flows[i];
            if f.live() {
                let reason = if self.now.saturating_sub(f.last)
                    > self.timeouts.for_state(f.key.proto, f.state)
                {
                    EndReason::Timeout
                } else {
                    EndReason::Shutdown
                };
                self.end_flow(i, reason, out);
            }
        }
        for si in 0..self.sets.len() {
            for w in 0..WAYS {
                if self.tags[si].tag[w] != 0 {
                    let c = self.take_candidate(si, w);
                    self.retire_candidate(&c, out);
                }
            }
        }
        for a in self.aggs.iter_mut() {
            out.shed(a.finish());
        }
        if let Some(o) = self.overflow.as_mut() {
            out.shed(o.finish());
        }
    }
}

#[cfg(test)]
mod tests;
