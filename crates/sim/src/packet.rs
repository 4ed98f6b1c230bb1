//! Frame builders: Ethernet II + IPv4/IPv6 + TCP/UDP/ICMP/ICMPv6.
//!
//! Every builder *appends* one complete frame to `out` (so frames can be
//! written straight into a capture arena) and promises: correct IP total /
//! payload lengths, a valid IPv4 header checksum, valid TCP/UDP/ICMP/ICMPv6
//! checksums over the pseudo-header, and frames shorter than 60 bytes padded
//! with zeros to 60, as they appear on the wire (the IP length still says the
//! real size, so the padding is an Ethernet trailer). MAC addresses are derived
//! from IP addresses ([`mac_for`]) so the same host always has the same MAC.

use std::net::IpAddr;

/// Minimum Ethernet frame length without FCS; shorter frames are padded.
pub const ETH_MIN: usize = 60;
/// Ethernet header length.
pub const ETH_HDR: usize = 14;

/// IP protocol numbers used by the builders.
pub use vigil_core::proto;

/// IP-layer fields of one packet.
#[derive(Clone, Copy, Debug)]
pub struct IpMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub id: u16,
    /// IPv4 don't-fragment bit (ignored for IPv6).
    pub df: bool,
}

impl IpMeta {
    /// A header with TTL 64, id 0 and DF set.
    pub fn new(src: IpAddr, dst: IpAddr) -> Self {
        IpMeta {
            src,
            dst,
            ttl: 64,
            id: 0,
            df: true,
        }
    }
}

/// TCP header fields of one segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpMeta<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// Flags byte ([`vigil_core::tcp_flags`]).
    pub flags: u8,
    pub win: u16,
    /// Raw options; the builder pads them with zeros (EOL) to a multiple of 4.
    pub options: &'a [u8],
}

/// A locally administered MAC derived from the address (stable per host).
pub fn mac_for(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0x00, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x06, o[11], o[12], o[13], o[14], o[15]]
        }
    }
}

/// One's-complement sum of `data` added to `acc` (big-endian 16-bit words).
pub fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Folds a one's-complement sum and complements it.
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    fold(sum16(data, 0))
}

/// Pseudo-header sum for the L4 checksum.
pub fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, l4_len: usize) -> u64 {
    let mut acc = 0u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(&s.octets(), acc);
            acc = sum16(&d.octets(), acc);
            acc += proto as u64 + l4_len as u64;
        }
        _ => {
            acc = sum16(&v6_bytes(src), acc);
            acc = sum16(&v6_bytes(dst), acc);
            acc += l4_len as u64 + proto as u64;
        }
    }
    acc
}

fn v6_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

fn put16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes Ethernet + IP headers (lengths and checksum left zero); returns
/// (offset of the IP header, offset of the L4 header).
fn begin(out: &mut Vec<u8>, ip: &IpMeta, proto: u8) -> (usize, usize) {
    out.extend_from_slice(&mac_for(ip.dst));
    out.extend_from_slice(&mac_for(ip.src));
    let l3 = out.len() + 2;
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x08, 0x00]);
            let flags: u16 = if ip.df { 0x4000 } else { 0 };
            out.extend_from_slice(&[0x45, 0x00, 0, 0]);
            out.extend_from_slice(&ip.id.to_be_bytes());
            out.extend_from_slice(&flags.to_be_bytes());
            out.extend_from_slice(&[ip.ttl, proto, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        _ => {
            out.extend_from_slice(&[0x86, 0xdd]);
            out.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, proto, ip.ttl]);
            out.extend_from_slice(&v6_bytes(ip.src));
            out.extend_from_slice(&v6_bytes(ip.dst));
        }
    }
    (l3, out.len())
}

/// Fills lengths and checksums, pads to 60 bytes.
fn finish(out: &mut Vec<u8>, ip: &IpMeta, proto: u8, l3: usize, l4: usize, csum_at: Option<usize>) {
    let l4_len = out.len() - l4;
    if ip.src.is_ipv4() && ip.dst.is_ipv4() {
        let total = (out.len() - l3) as u16;
        put16(out, l3 + 2, total);
        let c = checksum(&out[l3..l3 + 20]);
        put16(out, l3 + 10, c);
    } else {
        put16(out, l3 + 4, l4_len as u16);
    }
    if let Some(at) = csum_at {
        let acc = pseudo_sum(ip.src, ip.dst, proto, l4_len);
        let mut c = fold(sum16(&out[l4..], acc));
        if proto == proto::UDP && c == 0 {
            c = 0xffff;
        }
        put16(out, l4 + at, c);
    }
    let start = l3 - ETH_HDR;
    if out.len() - start < ETH_MIN {
        out.resize(start + ETH_MIN, 0);
    }
}

/// Appends an Ethernet/IP/TCP frame.
pub fn tcp_frame(out: &mut Vec<u8>, ip: &IpMeta, tcp: &TcpMeta<'_>, payload: &[u8]) {
    let (l3, l4) = begin(out, ip, proto::TCP);
    let opt_len = tcp.options.len().div_ceil(4) * 4;
    let doff = ((20 + opt_len) / 4) as u8;
    out.extend_from_slice(&tcp.sport.to_be_bytes());
    out.extend_from_slice(&tcp.dport.to_be_bytes());
    out.extend_from_slice(&tcp.seq.to_be_bytes());
    out.extend_from_slice(&tcp.ack.to_be_bytes());
    out.extend_from_slice(&[doff << 4, tcp.flags]);
    out.extend_from_slice(&tcp.win.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(tcp.options);
    out.resize(out.len() + opt_len - tcp.options.len(), 0);
    out.extend_from_slice(payload);
    finish(out, ip, proto::TCP, l3, l4, Some(16));
}

/// Appends an Ethernet/IP/TCP frame whose payload is produced by `fill`
/// (given a zeroed slice of `len` bytes), avoiding a copy for bulk data.
pub fn tcp_frame_with(
    out: &mut Vec<u8>,
    ip: &IpMeta,
    tcp: &TcpMeta<'_>,
    len: usize,
    fill: impl FnOnce(&mut [u8]),
) {
    let (l3, l4) = begin(out, ip, proto::TCP);
    let opt_len = tcp.options.len().div_ceil(4) * 4;
    let doff = ((20 + opt_len) / 4) as u8;
    out.extend_from_slice(&tcp.sport.to_be_bytes());
    out.extend_from_slice(&tcp.dport.to_be_bytes());
    out.extend_from_slice(&tcp.seq.to_be_bytes());
    out.extend_from_slice(&tcp.ack.to_be_bytes());
    out.extend_from_slice(&[doff << 4, tcp.flags]);
    out.extend_from_slice(&tcp.win.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(tcp.options);
    out.resize(out.len() + opt_len - tcp.options.len(), 0);
    let at = out.len();
    out.resize(at + len, 0);
    fill(&mut out[at..]);
    finish(out, ip, proto::TCP, l3, l4, Some(16));
}

/// Appends an Ethernet/IP/UDP frame.
pub fn udp_frame(out: &mut Vec<u8>, ip: &IpMeta, sport: u16, dport: u16, payload: &[u8]) {
    let (l3, l4) = begin(out, ip, proto::UDP);
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    finish(out, ip, proto::UDP, l3, l4, Some(6));
}

/// Appends an ICMP (IPv4) or ICMPv6 (IPv6) frame: type, code, checksum, the
/// 4-byte `rest` of the header (echo id + sequence, unused, MTU...), payload.
pub fn icmp_frame(
    out: &mut Vec<u8>,
    ip: &IpMeta,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    payload: &[u8],
) {
    let v6 = !(ip.src.is_ipv4() && ip.dst.is_ipv4());
    let p = if v6 { proto::ICMPV6 } else { proto::ICMP };
    let (l3, l4) = begin(out, ip, p);
    out.extend_from_slice(&[icmp_type, code, 0, 0]);
    out.extend_from_slice(&rest);
    out.extend_from_slice(payload);
    if v6 {
        finish(out, ip, p, l3, l4, Some(2));
    } else {
        let c = checksum(&out[l4..]);
        put16(out, l4 + 2, c);
        finish(out, ip, p, l3, l4, None);
    }
}

/// Echo identifier and sequence as ICMP's `rest` field.
pub fn echo_rest(id: u16, seq: u16) -> [u8; 4] {
    let i = id.to_be_bytes();
    let s = seq.to_be_bytes();
    [i[0], i[1], s[0], s[1]]
}

/// The UDP header + payload (checksum filled) as it sits inside an IP packet.
pub fn udp_datagram(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + payload.len());
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let mut c = fold(sum16(&d, pseudo_sum(src, dst, proto::UDP, d.len())));
    if c == 0 {
        c = 0xffff;
    }
    put16(&mut d, 6, c);
    d
}

/// Splits an IPv4 packet's L4 bytes (`l4`, checksum already filled) into
/// fragments fitting `mtu` (IP bytes per frame) and returns the frames, first
/// fragment first. One frame when it fits. IPv4 only.
pub fn ipv4_fragments(ip: &IpMeta, proto: u8, l4: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let max = ((mtu - 20) / 8) * 8;
    let mut frames = Vec::new();
    let mut off = 0;
    loop {
        let take = (l4.len() - off).min(max);
        let more = off + take < l4.len();
        let mut out = Vec::with_capacity(ETH_HDR + 20 + take);
        let meta = IpMeta { df: false, ..*ip };
        let (l3, _) = begin(&mut out, &meta, proto);
        let frag = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        put16(&mut out, l3 + 6, frag);
        out.extend_from_slice(&l4[off..off + take]);
        finish(&mut out, &meta, proto, l3, l3 + 20, None);
        frames.push(out);
        off += take;
        if !more {
            break;
        }
    }
    frames
}

/// TCP options of a typical SYN / SYN-ACK: MSS, SACK permitted, window scale
/// (and, when `ts` is given, timestamps), 4-byte aligned.
pub fn syn_options(mss: u16, wscale: u8, ts: Option<(u32, u32)>) -> Vec<u8> {
    let mut o = vec![2, 4];
    o.extend_from_slice(&mss.to_be_bytes());
    match ts {
        Some((val, ecr)) => {
            o.extend_from_slice(&[4, 2, 8, 10]);
            o.extend_from_slice(&val.to_be_bytes());
            o.extend_from_slice(&ecr.to_be_bytes());
            o.extend_from_slice(&[1, 3, 3, wscale]);
        }
        None => {
            o.extend_from_slice(&[1, 3, 3, wscale, 1, 1, 4, 2]);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn small_frames_are_padded_and_checksums_verify() {
        let ip = IpMeta::new(
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        );
        let mut f = Vec::new();
        tcp_frame(
            &mut f,
            &ip,
            &TcpMeta {
                sport: 1,
                dport: 2,
                seq: 3,
                ack: 0,
                flags: 2,
                win: 1024,
                options: &[],
            },
            &[],
        );
        assert_eq!(f.len(), 60);
        assert_eq!(checksum(&f[14..34]), 0);
        let acc = pseudo_sum(ip.src, ip.dst, proto::TCP, 20);
        assert_eq!(fold(sum16(&f[34..54], acc)), 0);
    }

    #[test]
    fn fragments_cover_the_datagram() {
        let ip = IpMeta::new(
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        );
        let d = udp_datagram(ip.src, ip.dst, 53, 4444, &[7u8; 3000]);
        let frames = ipv4_fragments(&ip, proto::UDP, &d, 1500);
        assert_eq!(frames.len(), 3);
        let total: usize = frames.iter().map(|f| f.len() - 34).sum();
        assert_eq!(total, d.len());
    }
}
