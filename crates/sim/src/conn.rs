//! Stateful traffic builders: a TCP connection and UDP/ICMP one-shots.
//!
//! [`TcpConn`] exists so scenario code can say "handshake, client sends this,
//! server answers that, close" and get a wire-exact conversation: ISNs,
//! sequence/ack numbers that add up, MSS-sized segments, delayed ACKs every
//! second segment, FIN or RST teardown, and per-direction packet/frame-byte
//! counters that match what a flow table must count. Timing models a sensor
//! standing next to one end: the far end reacts one RTT after a packet is seen,
//! the near end within tens of microseconds.

use std::net::IpAddr;

use vigil_core::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use vigil_core::Nanos;

use crate::packet::{self, syn_options, IpMeta, TcpMeta};
use crate::rng::Rng;
use crate::timeline::{Tag, Timeline};

/// Client side (index 0) or server side (index 1) of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client = 0,
    Server = 1,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// Counters of one direction (what the side sent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Frames.
    pub pkts: u64,
    /// Ethernet frame bytes (padded frames count 60).
    pub bytes: u64,
    /// TCP payload bytes.
    pub payload: u64,
}

/// One TCP connection being written into a [`Timeline`].
pub struct TcpConn {
    pub client: IpAddr,
    pub cport: u16,
    pub server: IpAddr,
    pub sport: u16,
    /// Tag given to every frame of the connection.
    pub tag: Tag,
    /// Segment payload size.
    pub mss: usize,
    /// Time of the last packet the conversation logic emitted.
    pub now: Nanos,
    /// Delay before side `i` reacts to a packet from the other side, as seen
    /// at the sensor.
    pub react: [Nanos; 2],
    /// Pacing of data segments, bytes per second.
    pub rate: f64,
    seq: [u32; 2],
    ip_id: [u16; 2],
    ttl: [u8; 2],
    win: [u16; 2],
    /// Per-side counters: `stats[0]` client-to-server, `stats[1]` server-to-client.
    pub stats: [DirStats; 2],
    last_side: Side,
    last_ts: Nanos,
}

/// Typical initial TTLs (Linux/macOS 64, Windows 128).
const TTLS: [u8; 2] = [64, 128];

impl TcpConn {
    /// A connection starting at `start` with round-trip time `rtt`.
    /// `near_client` says the sensor sits next to the client (the server then
    /// answers one RTT after each client packet), else next to the server.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rng: &mut Rng,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        start: Nanos,
        rtt: Nanos,
        near_client: bool,
        tag: Tag,
    ) -> Self {
        let near = rng.range(15_000, 250_000);
        let react = if near_client {
            [near, rtt]
        } else {
            [rtt, near]
        };
        let hops = rng.range(4, 20) as u8;
        let mut ttl = [*rng.pick(&TTLS), *rng.pick(&TTLS)];
        if near_client {
            ttl[1] -= hops;
        } else {
            ttl[0] -= hops;
        }
        let v6 = client.0.is_ipv6();
        TcpConn {
            client: client.0,
            cport: client.1,
            server: server.0,
            sport: server.1,
            tag,
            mss: if v6 { 1440 } else { 1460 },
            now: start,
            react,
            rate: rng.frange(2e6, 12e6),
            seq: [rng.u32(), rng.u32()],
            ip_id: [rng.u16(), rng.u16()],
            ttl,
            win: [
                *rng.pick(&[502u16, 1026, 2052, 64240]),
                *rng.pick(&[501u16, 509, 1024, 65160]),
            ],
            stats: [DirStats::default(); 2],
            last_side: Side::Client,
            last_ts: start,
        }
    }

    /// Latest timestamp of any frame of this connection so far.
    pub fn last_ts(&self) -> Nanos {
        self.last_ts
    }

    fn ends(&self, side: Side) -> (IpAddr, u16, IpAddr, u16) {
        match side {
            Side::Client => (self.client, self.cport, self.server, self.sport),
            Side::Server => (self.server, self.sport, self.client, self.cport),
        }
    }

    /// Emits one segment from `side` at `ts` with `flags` and a payload of
    /// `len` bytes written by `fill`; returns the frame length.
    #[allow(clippy::too_many_arguments)]
    pub fn emit_with(
        &mut self,
        tl: &mut Timeline,
        side: Side,
        ts: Nanos,
        flags: u8,
        options: &[u8],
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> usize {
        let i = side as usize;
        let (src, sp, dst, dp) = self.ends(side);
        let ip = IpMeta {
            src,
            dst,
            ttl: self.ttl[i],
            id: self.ip_id[i],
            df: true,
        };
        let ack = if flags & ACK != 0 { self.seq[1 - i] } else { 0 };
        let tcp = TcpMeta {
            sport: sp,
            dport: dp,
            seq: self.seq[i],
            ack,
            flags,
            win: self.win[i],
            options,
        };
        let n = tl.push_with(ts, self.tag, |out| {
            packet::tcp_frame_with(out, &ip, &tcp, len, fill)
        });
        self.ip_id[i] = self.ip_id[i].wrapping_add(1);
        let mut adv = len as u32;
        if flags & (SYN | FIN) != 0 {
            adv += 1;
        }
        self.seq[i] = self.seq[i].wrapping_add(adv);
        let s = &mut self.stats[i];
        s.pkts += 1;
        s.bytes += n as u64;
        s.payload += len as u64;
        self.last_ts = self.last_ts.max(ts - ts % 1000);
        n
    }

    fn emit(&mut self, tl: &mut Timeline, side: Side, ts: Nanos, flags: u8, options: &[u8]) {
        self.emit_with(tl, side, ts, flags, options, 0, |_| {});
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self, tl: &mut Timeline) {
        let mss = self.mss as u16;
        let t = self.now;
        self.emit(tl, Side::Client, t, SYN, &syn_options(mss, 7, None));
        let t = t + self.react[1];
        self.emit(tl, Side::Server, t, SYN | ACK, &syn_options(mss, 7, None));
        let t = t + self.react[0];
        self.emit(tl, Side::Client, t, ACK, &[]);
        self.now = t;
        self.last_side = Side::Client;
    }

    /// A SYN the server refuses with RST-ACK (closed port).
    pub fn refused(&mut self, tl: &mut Timeline) {
        let t = self.now;
        self.emit(
            tl,
            Side::Client,
            t,
            SYN,
            &syn_options(self.mss as u16, 7, None),
        );
        let t = t + self.react[1];
        self.emit(tl, Side::Server, t, RST | ACK, &[]);
        self.now = t;
        self.last_side = Side::Server;
    }

    fn start_time(&self, side: Side, think: Nanos) -> Nanos {
        let react = if self.last_side != side {
            self.react[side as usize]
        } else {
            0
        };
        self.now + react + think
    }

    /// `side` sends `data` after `think` ns (plus its reaction delay when the
    /// other side spoke last), split into MSS segments; the receiver ACKs every
    /// second segment and the last one.
    pub fn send(&mut self, tl: &mut Timeline, side: Side, data: &[u8], think: Nanos) {
        self.send_with(tl, side, data.len() as u64, think, |off, buf| {
            buf.copy_from_slice(&data[off as usize..off as usize + buf.len()])
        });
    }

    /// As [`TcpConn::send`] for `len` bytes produced by `fill(offset, buf)`
    /// (bulk transfers without materialising the data).
    pub fn send_with(
        &mut self,
        tl: &mut Timeline,
        side: Side,
        len: u64,
        think: Nanos,
        mut fill: impl FnMut(u64, &mut [u8]),
    ) {
        if len == 0 {
            return;
        }
        let start = self.start_time(side, think);
        let other = side.other();
        let mut off = 0u64;
        let mut t = start as f64;
        let mut seg_no = 0u64;
        let mut last = start;
        while off < len {
            let n = ((len - off) as usize).min(self.mss);
            let ts = t as Nanos;
            let is_last = off + n as u64 == len;
            let flags = if is_last { ACK | PSH } else { ACK };
            let o = off;
            self.emit_with(tl, side, ts, flags, &[], n, |buf| fill(o, buf));
            off += n as u64;
            seg_no += 1;
            last = ts;
            if seg_no % 2 == 0 || is_last {
                let ats = ts + self.react[other as usize];
                self.emit(tl, other, ats, ACK, &[]);
            }
            t += (n + 54) as f64 / self.rate * 1e9;
        }
        self.now = last;
        self.last_side = side;
    }

    /// Waits `dt` ns (idle connection).
    pub fn wait(&mut self, dt: Nanos) {
        self.now += dt;
    }

    /// `side` closes with FIN-ACK after `think`; the peer answers FIN-ACK and
    /// `side` sends the last ACK.
    pub fn close(&mut self, tl: &mut Timeline, side: Side, think: Nanos) {
        let other = side.other();
        let t = self.start_time(side, think);
        self.emit(tl, side, t, FIN | ACK, &[]);
        let t = t + self.react[other as usize];
        self.emit(tl, other, t, FIN | ACK, &[]);
        let t = t + self.react[side as usize];
        self.emit(tl, side, t, ACK, &[]);
        self.now = t;
        self.last_side = side;
    }

    /// `side` aborts with RST-ACK after `think`.
    pub fn reset(&mut self, tl: &mut Timeline, side: Side, think: Nanos) {
        let t = self.start_time(side, think);
        self.emit(tl, side, t, RST | ACK, &[]);
        self.now = t;
        self.last_side = side;
    }
}

/// Writes one UDP datagram at `ts`; IPv4 datagrams larger than 1500 IP bytes
/// are sent as fragments (1 µs apart). Returns the frame bytes written.
#[allow(clippy::too_many_arguments)]
pub fn udp(
    tl: &mut Timeline,
    ts: Nanos,
    tag: Tag,
    ip: IpMeta,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> usize {
    if ip.src.is_ipv4() && payload.len() + 28 > 1500 {
        let d = packet::udp_datagram(ip.src, ip.dst, sport, dport, payload);
        let mut total = 0;
        for (k, f) in packet::ipv4_fragments(&ip, packet::proto::UDP, &d, 1500)
            .iter()
            .enumerate()
        {
            total += tl.push(ts + k as Nanos * 1000, tag, f);
        }
        total
    } else {
        tl.push_with(ts, tag, |out| {
            packet::udp_frame(out, &ip, sport, dport, payload)
        })
    }
}

/// Writes one ICMP/ICMPv6 message at `ts`.
#[allow(clippy::too_many_arguments)]
pub fn icmp(
    tl: &mut Timeline,
    ts: Nanos,
    tag: Tag,
    ip: IpMeta,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    payload: &[u8],
) -> usize {
    tl.push_with(ts, tag, |out| {
        packet::icmp_frame(out, &ip, icmp_type, code, rest, payload)
    })
}

/// IP header fields for a one-off packet with a random id.
pub fn ipm(rng: &mut Rng, src: IpAddr, dst: IpAddr, ttl: u8) -> IpMeta {
    IpMeta {
        src,
        dst,
        ttl,
        id: rng.u16(),
        df: false,
    }
}

/// The ICMP "destination unreachable" (port unreachable) answer to a UDP
/// datagram, quoting its IP header and first 8 payload bytes.
#[allow(clippy::too_many_arguments)]
pub fn port_unreachable(
    tl: &mut Timeline,
    ts: Nanos,
    tag: Tag,
    rng: &mut Rng,
    orig: &IpMeta,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> usize {
    let mut quoted = Vec::new();
    packet::udp_frame(&mut quoted, orig, sport, dport, payload);
    let ip_start = packet::ETH_HDR;
    let ip_len = if orig.src.is_ipv4() { 20 } else { 40 };
    let end = (ip_start + ip_len + 8).min(quoted.len());
    let (t, c) = if orig.src.is_ipv4() { (3, 3) } else { (1, 4) };
    let back = ipm(rng, orig.dst, orig.src, 64);
    icmp(tl, ts, tag, back, t, c, [0; 4], &quoted[ip_start..end])
}
