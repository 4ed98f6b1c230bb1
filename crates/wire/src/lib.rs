//! Zero-copy packet decoding from the link layer to L4.
//!
//! Why: every packet vigil sees passes through here once, so the common path
//! (Ethernet, IPv4, TCP/UDP, no fragment) is a handful of bounds checks and
//! big-endian loads: no allocation, no hashing. Only IP fragments allocate,
//! under the caps of [`DecoderConfig`].
//!
//! What it promises:
//! - No input makes it panic or read past the captured bytes: every length
//!   field is checked against what was captured before it is used (style of
//!   smoltcp's `wire` module: one view per header, checked constructors).
//! - Unknown link types, EtherTypes and IP protocol numbers are values, not
//!   errors: unknown link types and EtherTypes give [`Decoded::NonIp`], unknown
//!   IP protocols give [`Decoded::Ip`] with ports 0.
//! - Every malformed or truncated header counts one anomaly kind (see
//!   [`Anomaly`]); every frame counts in exactly one result counter of
//!   [`DecodeCounters`]; every fragment frame is reassembled, dropped (and
//!   counted) or still held.
//!
//! Lengths: `ip_len` is the IPv4 total length / IPv6 40 + payload length. A
//! frame cut by the snaplen (`data.len() < wire_len`) is not malformed: the
//! header length stands, and only the bytes present are decoded. A header
//! claiming more than the frame carried on the wire counts
//! `ipv4.len_exceeds_captured` / `ipv6.len_exceeds_captured` and `ip_len` is
//! capped to the bytes present. Ethernet padding beyond the IP length is not
//! payload.
//!
//! Payload: TCP after the data offset, UDP after 8 bytes (up to the UDP
//! length), ICMP/ICMPv6 after the 8-byte header (type, code, checksum and
//! the 4 rest-of-header bytes), any other protocol: all L4 bytes.
#![forbid(unsafe_code)]

pub mod anomaly;
pub mod arp;
pub mod ethernet;
mod field;
mod frag;
pub mod ipv4;
pub mod ipv6;
pub mod l4;
pub mod link;

use vigil_core::{proto, Addr, Nanos, PacketInfo, NANOS_PER_SEC};

use anomaly::Anomalies;
pub use anomaly::Anomaly;
use ethernet::{ethertype, Vlans};
use frag::{FragKey, FragResult, Fragment, Reassembler};

/// pcap/pcapng link types (`LINKTYPE_*`) the decoder understands. The value
/// passed to [`Decoder::decode`] is the link type proper (libpcap's
/// `LT_LINKTYPE`, the low 16 bits of the file's field); anything else counts
/// `link.unsupported`.
pub mod linktype {
    /// BSD loopback, 4-byte address family in the capturing host's order.
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// Raw IP as some BSDs number it (DLT_RAW on most).
    pub const RAW_BSD12: u32 = 12;
    /// Raw IP as OpenBSD numbers it (DLT_RAW).
    pub const RAW_BSD14: u32 = 14;
    /// Raw IP, version nibble decides v4/v6.
    pub const RAW: u32 = 101;
    /// OpenBSD loopback, 4-byte family in network order.
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;

    /// Every supported link type.
    pub const ALL: [u32; 10] = [
        NULL, ETHERNET, RAW_BSD12, RAW_BSD14, RAW, LOOP, LINUX_SLL, IPV4, IPV6, LINUX_SLL2,
    ];
}

/// Stacked VLAN tags walked before giving up: QinQ is 2, 3 covers nested
/// provider setups; more is an anomaly (Suricata's limit is also 3).
pub const MAX_VLAN_LAYERS: usize = 3;
/// IPv6 extension headers walked before giving up: real packets carry at most
/// a handful (RFC 8200 order has 6 kinds); a long chain is an evasion attempt.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// Default trains in flight: a busy link rarely has more than a few hundred
/// incomplete datagrams at once.
pub const DEFAULT_MAX_TRAINS: usize = 1024;
/// Default bytes held by all trains: 1024 trains of typical 2-3 KB
/// datagrams, or 64 full 64 KiB ones.
pub const DEFAULT_MAX_HELD_BYTES: usize = 4 << 20;
/// Default fragments per datagram: a 64 KiB datagram is 45 fragments at a
/// 1500 MTU and 1,024 at 64-byte fragments; more is an attack on the
/// reassembler, not traffic.
pub const DEFAULT_MAX_FRAGS_PER_DATAGRAM: usize = 1024;
/// Largest datagram payload (after the fixed IPv4/IPv6 header): the 16-bit
/// length fields cannot describe more.
pub const DEFAULT_MAX_DATAGRAM_BYTES: usize = 65_535;
/// How long after completing a datagram a fragment re-sending it under the
/// same key is compared with it (counted as overlap/conflict). Short, so that
/// a legitimate 16-bit IPv4 identifier wrap-around (65,536 datagrams between
/// the same hosts) almost never falls inside it.
pub const FRAG_REUSE_WINDOW: Nanos = NANOS_PER_SEC;
/// Default reassembly timeout, capture time: Linux's `ipfrag_time` (30 s).
pub const DEFAULT_FRAG_TIMEOUT: Nanos = 30 * NANOS_PER_SEC;

/// Reassembly caps. Defaults are the `DEFAULT_*` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Incomplete datagrams held at once; a fragment that would start one more
    /// is dropped (`frag.too_many`).
    pub max_trains: usize,
    /// Reassembly buffer bytes held over all trains; a fragment that would
    /// exceed it is dropped (`frag.memcap`). [`Decoder::held_bytes`] never
    /// exceeds it.
    pub max_held_bytes: usize,
    /// Fragments accepted per datagram; one more drops the train
    /// (`frag.too_many_frags`).
    pub max_frags_per_datagram: usize,
    /// Largest reassembled payload; a fragment ending beyond it is dropped
    /// (`frag.too_large`).
    pub max_datagram_bytes: usize,
    /// A train older than this (from its first fragment, capture time) is
    /// dropped (`frag.timeout`).
    pub frag_timeout: Nanos,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_trains: DEFAULT_MAX_TRAINS,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            max_frags_per_datagram: DEFAULT_MAX_FRAGS_PER_DATAGRAM,
            max_datagram_bytes: DEFAULT_MAX_DATAGRAM_BYTES,
            frag_timeout: DEFAULT_FRAG_TIMEOUT,
        }
    }
}

/// An IPv4-over-Ethernet ARP packet (request or reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpInfo {
    pub ts: Nanos,
    /// 1 request, 2 reply (others carried as is).
    pub op: u16,
    pub sender_ip: Addr,
    pub target_ip: Addr,
    pub wire_len: u32,
}

/// What one frame decoded to.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An IP packet or a reassembled datagram. `payload` is the L4 payload
    /// present (see the crate docs); for a reassembled datagram it borrows the
    /// decoder's reassembly buffer.
    Ip { info: PacketInfo, payload: &'a [u8] },
    /// IPv4-over-Ethernet ARP.
    Arp(ArpInfo),
    /// Another EtherType / link payload, or an unsupported link type.
    NonIp,
    /// An IP fragment held for reassembly; no flow update yet.
    FragmentHeld,
    /// Malformed or refused (a fragment over a cap): an anomaly was counted.
    Bad,
}

/// Frame and reassembly counters. `ip + arp + non_ip + frag_held + bad ==
/// frames`; `frag_frames == reassembled_frames + frag_dropped_frames +
/// held frames`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// Calls to [`Decoder::decode`].
    pub frames: u64,
    /// Results: [`Decoded::Ip`] (including reassembled datagrams).
    pub ip: u64,
    /// Results: [`Decoded::Arp`].
    pub arp: u64,
    /// Results: [`Decoded::NonIp`].
    pub non_ip: u64,
    /// Results: [`Decoded::FragmentHeld`].
    pub frag_held: u64,
    /// Results: [`Decoded::Bad`].
    pub bad: u64,
    /// Frames cut by the snaplen inside a header (also counted as a
    /// `*.trunc*` anomaly).
    pub truncated: u64,
    /// Fragment frames handed to the reassembler.
    pub frag_frames: u64,
    /// Datagrams completed (decoded as `Ip` or `Bad`).
    pub reassembled: u64,
    /// Fragment frames that went into completed datagrams.
    pub reassembled_frames: u64,
    /// Fragment frames dropped: refused by a cap, invalid, timed out or still
    /// incomplete at `expire(u64::MAX)`.
    pub frag_dropped_frames: u64,
    /// Wire bytes of those frames.
    pub frag_dropped_bytes: u64,
}

/// Per-frame facts the layers need.
#[derive(Clone, Copy)]
struct FrameCtx {
    ts: Nanos,
    wire_len: u32,
    /// Bytes the wire carried beyond the capture (snaplen cut), 0 if whole.
    missing: usize,
    vlan: u16,
}

/// L4 fields decoded from a segment.
struct L4 {
    sport: u16,
    dport: u16,
    tcp_flags: u8,
    icmp_type: u8,
    icmp_code: u8,
    tcp_seq: u32,
    tcp_ack: u32,
    tcp_win: u16,
    /// Payload range within the segment bytes.
    start: usize,
    end: usize,
}

/// Link to L4 decoder with bounded IP reassembly. One per capture stream.
pub struct Decoder {
    core: Core,
    /// Result counts, indexed by [`Decoded::index`]; kept apart from `core`
    /// so they can be bumped while the result borrows `core`.
    results: [u64; 5],
}

/// Everything a decode touches besides the result counts.
struct Core {
    cfg: DecoderConfig,
    anom: Anomalies,
    counters: DecodeCounters,
    reasm: Reassembler,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecoderConfig::default())
    }
}

impl Decoder {
    /// A decoder with the given reassembly caps.
    pub fn new(cfg: DecoderConfig) -> Self {
        Decoder {
            core: Core {
                cfg,
                anom: Anomalies::default(),
                counters: DecodeCounters::default(),
                reasm: Reassembler::new(),
            },
            results: [0; 5],
        }
    }

    /// Decodes one frame of link type `linktype` captured at `ts`;
    /// `wire_len` is its original length, `data` the captured bytes.
    #[inline]
    pub fn decode<'a>(
        &'a mut self,
        linktype: u32,
        ts: Nanos,
        wire_len: u32,
        data: &'a [u8],
    ) -> Decoded<'a> {
        let missing = (wire_len as usize).saturating_sub(data.len());
        let ctx = FrameCtx {
            ts,
            wire_len,
            missing,
            vlan: 0,
        };
        let Decoder { core, results } = self;
        let d = core.link(linktype, ctx, data);
        results[d.index()] += 1;
        d
    }

    /// Anomaly counters with a non-zero count, as (name, count), in
    /// [`Anomaly::ALL`] order.
    pub fn anomalies(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.core.anom.iter()
    }

    /// Count of one anomaly kind.
    pub fn anomaly(&self, a: Anomaly) -> u64 {
        self.core.anom.get(a)
    }

    /// Frame and reassembly counters.
    pub fn counters(&self) -> DecodeCounters {
        let r = self.results;
        DecodeCounters {
            frames: r.iter().sum(),
            ip: r[0],
            arp: r[1],
            non_ip: r[2],
            frag_held: r[3],
            bad: r[4],
            ..self.core.counters
        }
    }

    /// Reassembly buffer bytes held by incomplete trains (capacity, so real
    /// memory); never above `max_held_bytes`. The last completed datagram's
    /// buffer (at most one datagram) is not included.
    pub fn held_bytes(&self) -> usize {
        self.core.reasm.held_bytes()
    }

    /// Fragment frames held in incomplete trains.
    pub fn held_frames(&self) -> u64 {
        self.core.reasm.held_frames()
    }

    /// Incomplete trains in flight.
    pub fn held_trains(&self) -> usize {
        self.core.reasm.trains()
    }

    /// Drops fragment trains whose first fragment is `frag_timeout` or more
    /// older than `now` (capture time), counting their frames and bytes as
    /// dropped and one `frag.timeout` per train. Call periodically, and with
    /// `u64::MAX` at end of input so incomplete trains are accounted.
    pub fn expire(&mut self, now: Nanos) {
        let c = &mut self.core;
        c.reasm.expire(now, &c.cfg, &mut c.anom, &mut c.counters);
    }
}

impl Core {
    #[inline]
    fn bad(&mut self, a: Anomaly) -> Decoded<'static> {
        self.anom.bump(a);
        Decoded::Bad
    }

    /// Counts a header cut by the snaplen.
    #[inline]
    fn trunc(&mut self, a: Anomaly) -> Decoded<'static> {
        self.counters.truncated += 1;
        self.bad(a)
    }

    #[inline(always)]
    fn link<'a>(&'a mut self, linktype: u32, ctx: FrameCtx, data: &'a [u8]) -> Decoded<'a> {
        match linktype {
            linktype::ETHERNET => {
                let Some(eth) = ethernet::Frame::new_checked(data) else {
                    return self.bad(Anomaly::EthernetPktTooSmall);
                };
                let et = eth.ethertype();
                self.ethertype(ctx, data, et, ethernet::Frame::<&[u8]>::HEADER_LEN)
            }
            linktype::LINUX_SLL => match link::sll_protocol(data) {
                Some(p) => self.ethertype(ctx, data, p, link::SLL_LEN),
                None => self.bad(Anomaly::SllPktTooSmall),
            },
            linktype::LINUX_SLL2 => match link::sll2_protocol(data) {
                Some(p) => self.ethertype(ctx, data, p, link::SLL2_LEN),
                None => self.bad(Anomaly::Sll2PktTooSmall),
            },
            linktype::NULL | linktype::LOOP => match link::loop_family(data) {
                Some(link::LoopFamily::V4) => self.ipv4(ctx, &data[link::NULL_LEN..]),
                Some(link::LoopFamily::V6) => self.ipv6(ctx, &data[link::NULL_LEN..]),
                Some(link::LoopFamily::Other(_)) => Decoded::NonIp,
                None => self.bad(Anomaly::NullPktTooSmall),
            },
            linktype::RAW | linktype::RAW_BSD12 | linktype::RAW_BSD14 => match data.first() {
                Some(b) if b >> 4 == 4 => self.ipv4(ctx, data),
                Some(b) if b >> 4 == 6 => self.ipv6(ctx, data),
                Some(_) => self.bad(Anomaly::IpRawInvalidIpVersion),
                None => self.bad(Anomaly::IpRawPktTooSmall),
            },
            linktype::IPV4 => self.ipv4(ctx, data),
            linktype::IPV6 => self.ipv6(ctx, data),
            _ => {
                self.anom.bump(Anomaly::LinkUnsupported);
                Decoded::NonIp
            }
        }
    }

    /// Dispatches on an EtherType found at the end of a link header at
    /// `offset`, walking VLAN tags first.
    #[inline(always)]
    fn ethertype<'a>(
        &'a mut self,
        mut ctx: FrameCtx,
        data: &'a [u8],
        et: u16,
        offset: usize,
    ) -> Decoded<'a> {
        let (et, offset) = if ethernet::is_vlan_tpid(et) {
            match ethernet::strip_vlans(data, et, offset, MAX_VLAN_LAYERS) {
                Vlans::Ok {
                    ethertype,
                    vlan,
                    offset,
                } => {
                    ctx.vlan = vlan;
                    (ethertype, offset)
                }
                Vlans::Trunc => {
                    return if ctx.missing > 0 {
                        self.trunc(Anomaly::VlanTrunc)
                    } else {
                        self.bad(Anomaly::VlanTrunc)
                    }
                }
                Vlans::TooMany => return self.bad(Anomaly::VlanTooManyLayers),
            }
        } else {
            (et, offset)
        };
        // `offset` <= data.len(): checked by the link header / VLAN walk.
        let rest = &data[offset..];
        match et {
            ethertype::IPV4 => self.ipv4(ctx, rest),
            ethertype::IPV6 => self.ipv6(ctx, rest),
            ethertype::ARP => self.arp(ctx, rest),
            _ => Decoded::NonIp,
        }
    }

    fn arp<'a>(&'a mut self, ctx: FrameCtx, b: &'a [u8]) -> Decoded<'a> {
        match arp::Packet::<&[u8]>::check(b) {
            arp::Check::Ok => {
                let p = arp::Packet::new_checked(b).expect("checked");
                Decoded::Arp(ArpInfo {
                    ts: ctx.ts,
                    op: p.op(),
                    sender_ip: Addr::v4(p.sender_ip()),
                    target_ip: Addr::v4(p.target_ip()),
                    wire_len: ctx.wire_len,
                })
            }
            arp::Check::Other => Decoded::NonIp,
            arp::Check::Short if ctx.missing > 0 => self.trunc(Anomaly::ArpPktTooSmall),
            arp::Check::Short => self.bad(Anomaly::ArpPktTooSmall),
        }
    }

    #[inline(always)]
    fn ipv4<'a>(&'a mut self, ctx: FrameCtx, b: &'a [u8]) -> Decoded<'a> {
        let Some(ip) = ipv4::Packet::new_checked(b) else {
            return if b.len() + ctx.missing >= 20 {
                self.trunc(Anomaly::Ipv4TruncPkt)
            } else {
                self.bad(Anomaly::Ipv4PktTooSmall)
            };
        };
        if ip.version() != 4 {
            return self.bad(Anomaly::Ipv4WrongIpVersion);
        }
        let hlen = ip.header_len();
        if hlen < 20 {
            return self.bad(Anomaly::Ipv4HlenTooSmall);
        }
        let total = ip.total_len();
        if total < hlen {
            return self.bad(Anomaly::Ipv4IplenSmallerThanHlen);
        }
        if hlen > b.len() {
            // total >= hlen: the header itself is cut (snaplen) or a lie.
            return if total <= b.len() + ctx.missing {
                self.trunc(Anomaly::Ipv4TruncPkt)
            } else {
                self.bad(Anomaly::Ipv4LenExceedsCaptured)
            };
        }
        // Bytes of this IP packet present, and the ip_len to report.
        let (present, ip_len) = if total <= b.len() {
            (total, total) // whole (Ethernet padding beyond `total` ignored)
        } else if total <= b.len() + ctx.missing {
            (b.len(), total) // cut by the snaplen: the wire carried `total`
        } else {
            self.anom.bump(Anomaly::Ipv4LenExceedsCaptured);
            (b.len(), b.len())
        };
        let src = Addr::v4(ip.src());
        let dst = Addr::v4(ip.dst());
        let proto = ip.protocol();
        let l4 = &b[hlen..present];
        // L4 bytes the IP header claims (used to validate L4 length fields).
        let claimed = total - hlen;
        let snap = ctx.missing > 0 && present < total;

        if ip.is_fragment() {
            if snap {
                self.counters.truncated += 1;
                self.counters.frag_frames += 1;
                self.counters.frag_dropped_frames += 1;
                self.counters.frag_dropped_bytes += u64::from(ctx.wire_len);
                return self.bad(Anomaly::FragTrunc);
            }
            let frag = Fragment {
                key: FragKey {
                    src,
                    dst,
                    proto,
                    ident: u32::from(ip.ident()),
                    vlan: ctx.vlan,
                },
                ts: ctx.ts,
                wire_len: ctx.wire_len,
                ip_len: ip_len as u32,
                offset: ip.frag_offset(),
                more: ip.more_frags(),
                ttl: ip.ttl(),
                data: l4,
            };
            return self.reassembled(frag, ctx, false);
        }

        let ttl = ip.ttl();
        self.finish(
            ctx,
            src,
            dst,
            proto,
            ttl,
            1,
            ctx.wire_len,
            ip_len as u32,
            l4,
            claimed,
            snap,
        )
    }

    #[inline]
    fn ipv6<'a>(&'a mut self, ctx: FrameCtx, b: &'a [u8]) -> Decoded<'a> {
        let Some(ip) = ipv6::Packet::new_checked(b) else {
            return if b.len() + ctx.missing >= 40 {
                self.trunc(Anomaly::Ipv6TruncPkt)
            } else {
                self.bad(Anomaly::Ipv6PktTooSmall)
            };
        };
        if ip.version() != 6 {
            return self.bad(Anomaly::Ipv6WrongIpVersion);
        }
        let total = 40 + ip.payload_len();
        let (present, ip_len) = if total <= b.len() {
            (total, total)
        } else if total <= b.len() + ctx.missing {
            (b.len(), total)
        } else {
            self.anom.bump(Anomaly::Ipv6LenExceedsCaptured);
            (b.len(), b.len())
        };
        let snap = ctx.missing > 0 && present < total;
        let src = Addr::v6(ip.src());
        let dst = Addr::v6(ip.dst());
        let ttl = ip.hop_limit();
        let pl = &b[40..present];
        match ipv6::walk_ext(pl, ip.next_header(), MAX_IPV6_EXT_HEADERS) {
            ipv6::Walk::Upper { proto, offset } => {
                let claimed = (total - 40).saturating_sub(offset);
                self.finish(
                    ctx,
                    src,
                    dst,
                    proto,
                    ttl,
                    1,
                    ctx.wire_len,
                    ip_len as u32,
                    &pl[offset..],
                    claimed,
                    snap,
                )
            }
            ipv6::Walk::Fragment(fh) => {
                if snap {
                    self.counters.truncated += 1;
                    self.counters.frag_frames += 1;
                    self.counters.frag_dropped_frames += 1;
                    self.counters.frag_dropped_bytes += u64::from(ctx.wire_len);
                    return self.bad(Anomaly::FragTrunc);
                }
                let frag = Fragment {
                    key: FragKey {
                        src,
                        dst,
                        proto: fh.next,
                        ident: fh.ident,
                        vlan: ctx.vlan,
                    },
                    ts: ctx.ts,
                    wire_len: ctx.wire_len,
                    ip_len: ip_len as u32,
                    offset: fh.offset,
                    more: fh.more,
                    ttl,
                    data: &pl[fh.data_offset..],
                };
                self.reassembled(frag, ctx, true)
            }
            ipv6::Walk::Trunc if snap => self.trunc(Anomaly::Ipv6TruncExthdr),
            ipv6::Walk::Trunc => self.bad(Anomaly::Ipv6TruncExthdr),
            ipv6::Walk::TooMany => self.bad(Anomaly::Ipv6ExthdrTooMany),
        }
    }

    /// Feeds a fragment to the reassembler; on completion decodes the
    /// datagram's L4 header from the reassembly buffer (`v6`: walk the
    /// extension headers that follow the fragment header first).
    fn reassembled<'a>(&'a mut self, frag: Fragment<'_>, ctx: FrameCtx, v6: bool) -> Decoded<'a> {
        let (src, dst) = (frag.key.src, frag.key.dst);
        let done = match self
            .reasm
            .add(frag, &self.cfg, &mut self.anom, &mut self.counters)
        {
            FragResult::Held => return Decoded::FragmentHeld,
            FragResult::Dropped => return Decoded::Bad,
            FragResult::Complete(done) => done,
        };
        let Core {
            anom,
            reasm,
            counters,
            ..
        } = self;
        let buf: &'a [u8] = &reasm.out;
        let (proto, seg) = if v6 {
            match ipv6::walk_ext(buf, done.proto, MAX_IPV6_EXT_HEADERS) {
                ipv6::Walk::Upper { proto, offset } => (proto, &buf[offset..]),
                // A fragment header inside a reassembled datagram, or a
                // chain running past it: malformed.
                ipv6::Walk::Fragment(_) | ipv6::Walk::Trunc => {
                    anom.bump(Anomaly::Ipv6TruncExthdr);
                    return Decoded::Bad;
                }
                ipv6::Walk::TooMany => {
                    anom.bump(Anomaly::Ipv6ExthdrTooMany);
                    return Decoded::Bad;
                }
            }
        } else {
            (done.proto, buf)
        };
        let Some(l4) = decode_l4(
            anom,
            &mut counters.truncated,
            proto,
            v6,
            seg,
            seg.len(),
            false,
        ) else {
            return Decoded::Bad;
        };
        let payload = &seg[l4.start..l4.end];
        Decoded::Ip {
            info: packet_info(&ctx, src, dst, proto, done.ttl, &l4, payload.len()),
            payload,
        }
        .with_totals(done.frames, done.wire_len, done.ip_len)
    }

    /// Builds the `Ip` result for an unfragmented packet.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn finish<'a>(
        &'a mut self,
        ctx: FrameCtx,
        src: Addr,
        dst: Addr,
        proto: u8,
        ttl: u8,
        frames: u32,
        wire_len: u32,
        ip_len: u32,
        seg: &'a [u8],
        claimed: usize,
        snap: bool,
    ) -> Decoded<'a> {
        let v6 = src.v6;
        let Some(l4) = decode_l4(
            &mut self.anom,
            &mut self.counters.truncated,
            proto,
            v6,
            seg,
            claimed,
            snap,
        ) else {
            return Decoded::Bad;
        };
        let payload = &seg[l4.start..l4.end];
        Decoded::Ip {
            info: packet_info(&ctx, src, dst, proto, ttl, &l4, payload.len()),
            payload,
        }
        .with_totals(frames, wire_len, ip_len)
    }
}

impl Decoded<'_> {
    /// Position of this result in the result counters.
    #[inline(always)]
    fn index(&self) -> usize {
        match self {
            Decoded::Ip { .. } => 0,
            Decoded::Arp(_) => 1,
            Decoded::NonIp => 2,
            Decoded::FragmentHeld => 3,
            Decoded::Bad => 4,
        }
    }

    #[inline(always)]
    fn with_totals(mut self, frames: u32, wire_len: u32, ip_len: u32) -> Self {
        if let Decoded::Ip { info, .. } = &mut self {
            info.frames = frames;
            info.wire_len = wire_len;
            info.ip_len = ip_len;
        }
        self
    }
}

#[inline(always)]
fn packet_info(
    ctx: &FrameCtx,
    src: Addr,
    dst: Addr,
    proto: u8,
    ttl: u8,
    l4: &L4,
    payload_len: usize,
) -> PacketInfo {
    PacketInfo {
        ts: ctx.ts,
        src,
        dst,
        proto,
        sport: l4.sport,
        dport: l4.dport,
        vlan: ctx.vlan,
        tcp_flags: l4.tcp_flags,
        icmp_type: l4.icmp_type,
        icmp_code: l4.icmp_code,
        frames: 1,
        wire_len: ctx.wire_len,
        ip_len: 0,
        payload_len: payload_len as u32,
        tcp_seq: l4.tcp_seq,
        tcp_ack: l4.tcp_ack,
        tcp_win: l4.tcp_win,
        ttl,
    }
}

/// Decodes the L4 header of `seg` (the segment bytes present). `claimed` is
/// the segment length the IP header gives; `snap` says bytes beyond `seg`
/// were cut by the snaplen. `None` when malformed (anomaly counted).
#[inline(always)]
fn decode_l4(
    anom: &mut Anomalies,
    truncated: &mut u64,
    proto: u8,
    v6: bool,
    seg: &[u8],
    claimed: usize,
    snap: bool,
) -> Option<L4> {
    let mut l4 = L4 {
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        tcp_seq: 0,
        tcp_ack: 0,
        tcp_win: 0,
        start: 0,
        end: seg.len(),
    };
    let mut short = |anom: &mut Anomalies, min: usize, too_small: Anomaly, trunc: Anomaly| {
        if claimed < min || !snap {
            anom.bump(too_small);
        } else {
            *truncated += 1;
            anom.bump(trunc);
        }
    };
    match proto {
        proto::TCP => {
            let Some(t) = l4::TcpPacket::new_checked(seg) else {
                short(anom, 20, Anomaly::TcpPktTooSmall, Anomaly::TcpTruncPkt);
                return None;
            };
            let hl = t.header_len();
            if hl < 20 {
                anom.bump(Anomaly::TcpHlenTooSmall);
                return None;
            }
            if hl > claimed {
                anom.bump(Anomaly::TcpHlenExceedsPkt);
                return None;
            }
            if hl > seg.len() {
                if snap {
                    *truncated += 1;
                }
                anom.bump(Anomaly::TcpOptTrunc);
            }
            l4.sport = t.src_port();
            l4.dport = t.dst_port();
            l4.tcp_flags = t.flags();
            l4.tcp_seq = t.seq();
            l4.tcp_ack = t.ack();
            l4.tcp_win = t.window();
            l4.start = hl.min(seg.len());
        }
        proto::UDP => {
            let Some(u) = l4::UdpPacket::new_checked(seg) else {
                short(anom, 8, Anomaly::UdpPktTooSmall, Anomaly::UdpTruncPkt);
                return None;
            };
            let ul = u.len();
            if ul < 8 {
                anom.bump(Anomaly::UdpHlenInvalid);
                return None;
            }
            if ul > claimed {
                anom.bump(Anomaly::UdpLenExceedsIpPayload);
                return None;
            }
            l4.sport = u.src_port();
            l4.dport = u.dst_port();
            l4.start = 8;
            l4.end = ul.min(seg.len());
        }
        proto::ICMP | proto::ICMPV6 if (proto == proto::ICMPV6) == v6 => {
            let Some(i) = l4::IcmpPacket::new_checked(seg) else {
                if v6 {
                    short(anom, 8, Anomaly::Icmpv6PktTooSmall, Anomaly::Icmpv6TruncPkt);
                } else {
                    short(anom, 8, Anomaly::Icmpv4PktTooSmall, Anomaly::Icmpv4TruncPkt);
                }
                return None;
            };
            let (ty, code) = (i.msg_type(), i.code());
            l4.icmp_type = ty;
            l4.icmp_code = code;
            let echo = if v6 {
                matches!(ty, 128 | 129)
            } else {
                matches!(ty, 0 | 8)
            };
            if echo {
                let id = i.echo_ident();
                l4.sport = id;
                l4.dport = id;
            } else {
                l4.sport = u16::from(ty);
                l4.dport = u16::from(code);
            }
            l4.start = 8;
        }
        _ => {}
    }
    Some(l4)
}
