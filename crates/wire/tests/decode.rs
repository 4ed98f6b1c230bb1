//! Byte fixtures per header and impossible-length cases.

mod common;

use common::*;
use vigil_core::{Addr, PacketInfo};
use vigil_wire::{linktype, Anomaly, ArpInfo, Decoded, Decoder, DecoderConfig};

fn ip(d: Decoded<'_>) -> (PacketInfo, Vec<u8>) {
    match d {
        Decoded::Ip { info, payload } => (info, payload.to_vec()),
        other => panic!("expected Ip, got {other:?}"),
    }
}

/// An owned copy of a result: non-Ip kinds as is, Ip as (info, payload).
type Owned = (Decoded<'static>, Option<(PacketInfo, Vec<u8>)>);

fn own(r: Decoded<'_>) -> Owned {
    match r {
        Decoded::Ip { info, payload } => (Decoded::NonIp, Some((info, payload.to_vec()))),
        Decoded::Arp(a) => (Decoded::Arp(a), None),
        Decoded::NonIp => (Decoded::NonIp, None),
        Decoded::FragmentHeld => (Decoded::FragmentHeld, None),
        Decoded::Bad => (Decoded::Bad, None),
    }
}

fn one(lt: u32, frame: &[u8]) -> (Decoder, Decoded<'static>, Option<(PacketInfo, Vec<u8>)>) {
    let mut d = Decoder::default();
    let (kind, info) = own(d.decode(lt, 1_000, frame.len() as u32, frame));
    (d, kind, info)
}

fn decode_ip(lt: u32, frame: &[u8]) -> (PacketInfo, Vec<u8>) {
    let (d, _, info) = one(lt, frame);
    assert_eq!(
        d.anomalies().count(),
        0,
        "{:?}",
        d.anomalies().collect::<Vec<_>>()
    );
    info.expect("Ip")
}

fn bad(lt: u32, frame: &[u8], a: Anomaly) {
    let (d, kind, info) = one(lt, frame);
    assert!(info.is_none(), "expected Bad, got Ip {info:?}");
    assert_eq!(kind, Decoded::Bad);
    assert_eq!(d.anomaly(a), 1, "{:?}", d.anomalies().collect::<Vec<_>>());
}

#[test]
fn ethernet_ipv4_tcp_syn() {
    let f = syn_frame();
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!(i.src, Addr::v4(A4));
    assert_eq!(i.dst, Addr::v4(B4));
    assert_eq!((i.proto, i.sport, i.dport), (6, 40000, 80));
    assert_eq!(i.tcp_flags, 0x02);
    assert_eq!(
        (i.tcp_seq, i.tcp_ack, i.tcp_win),
        (0x01020304, 0x0a0b0c0d, 65535)
    );
    assert_eq!((i.frames, i.wire_len, i.ip_len), (1, f.len() as u32, 60));
    assert_eq!((i.ttl, i.vlan, i.ts), (64, 0, 1_000));
    assert!(p.is_empty());
    assert_eq!(i.payload_len, 0);
}

#[test]
fn tcp_payload_after_data_offset() {
    let f = eth(
        0x0800,
        &V4::new(6).build(&tcp(1, 2, 0x18, &[1, 1, 1, 1], b"hello")),
    );
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!(p, b"hello");
    assert_eq!(i.payload_len, 5);
    assert_eq!(i.ip_len, 20 + 24 + 5);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut f = eth(0x0800, &V4::new(17).build(&udp(53, 5353, b"ab")));
    assert_eq!(f.len(), 14 + 20 + 10);
    f.resize(60, 0xee);
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!(p, b"ab");
    assert_eq!((i.ip_len, i.wire_len, i.payload_len), (30, 60, 2));
}

#[test]
fn ipv4_options() {
    let mut v = V4::new(17);
    v.opts = vec![0x94, 0x04, 0, 0, 1, 1, 1, 0]; // router alert, NOPs, EOL
    let f = eth(0x0800, &v.build(&udp(1000, 2000, b"xyz")));
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!((i.sport, i.dport, i.ip_len), (1000, 2000, 28 + 11));
    assert_eq!(p, b"xyz");
}

#[test]
fn vlan_qinq_and_old_tpid() {
    let pkt = V4::new(17).build(&udp(1, 2, b"q"));
    let f = eth_vlan(&[(0x8100, 0x2064)], 0x0800, &pkt); // PCP 1, VID 100
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!((i.vlan, i.sport), (100, 1));
    assert_eq!(p, b"q");
    let f = eth_vlan(&[(0x88a8, 300), (0x8100, 200)], 0x0800, &pkt);
    assert_eq!(decode_ip(linktype::ETHERNET, &f).0.vlan, 300);
    let f = eth_vlan(&[(0x9100, 7), (0x8100, 8)], 0x0800, &pkt);
    assert_eq!(decode_ip(linktype::ETHERNET, &f).0.vlan, 7);
    let f = eth_vlan(&[(0x88a8, 1), (0x8100, 2), (0x8100, 3)], 0x0800, &pkt);
    assert_eq!(decode_ip(linktype::ETHERNET, &f).0.vlan, 1);
    let f = eth_vlan(
        &[(0x88a8, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4)],
        0x0800,
        &pkt,
    );
    bad(linktype::ETHERNET, &f, Anomaly::VlanTooManyLayers);
    let f = eth_vlan(&[(0x8100, 5)], 0x0800, &[]);
    let f = &f[..16];
    bad(linktype::ETHERNET, f, Anomaly::VlanTrunc);
}

#[test]
fn vlan_ipv6() {
    let f = eth_vlan(
        &[(0x8100, 42)],
        0x86dd,
        &ipv6(17, A6, B6, &udp(5, 6, b"v6")),
    );
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!((i.vlan, i.proto, i.ip_len), (42, 17, 40 + 10));
    assert_eq!(i.src, Addr::v6(A6));
    assert_eq!(p, b"v6");
}

#[test]
fn linux_sll_and_sll2() {
    let pkt = V4::new(6).build(&tcp(1, 2, 0x10, &[], b"d"));
    let mut sll = vec![0, 0, 0, 1, 0, 6];
    sll.extend_from_slice(&MAC_A);
    sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
    sll.extend_from_slice(&pkt);
    let (i, p) = decode_ip(linktype::LINUX_SLL, &sll);
    assert_eq!((i.sport, i.dport, i.tcp_flags), (1, 2, 0x10));
    assert_eq!(p, b"d");

    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend_from_slice(&MAC_A);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(&pkt);
    assert_eq!(sll2.len(), 20 + pkt.len());
    let (i, p) = decode_ip(linktype::LINUX_SLL2, &sll2);
    assert_eq!((i.sport, i.dport), (1, 2));
    assert_eq!(p, b"d");

    bad(linktype::LINUX_SLL, &sll[..15], Anomaly::SllPktTooSmall);
    bad(linktype::LINUX_SLL2, &sll2[..19], Anomaly::Sll2PktTooSmall);
}

#[test]
fn bsd_loopback_both_orders() {
    let v4 = V4::new(17).build(&udp(1, 2, b""));
    let v6 = ipv6(17, A6, B6, &udp(3, 4, b""));
    for lt in [linktype::NULL, linktype::LOOP] {
        for fam in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let f = [&fam[..], &v4].concat();
            assert_eq!(decode_ip(lt, &f).0.sport, 1);
        }
        for af in [24u32, 28, 30] {
            for fam in [af.to_le_bytes(), af.to_be_bytes()] {
                let f = [&fam[..], &v6].concat();
                assert_eq!(decode_ip(lt, &f).0.sport, 3);
            }
        }
        let f = [&7u32.to_le_bytes()[..], &v4].concat();
        let (d, k, _) = one(lt, &f);
        assert_eq!(k, Decoded::NonIp);
        assert_eq!(d.anomalies().count(), 0);
        bad(lt, &[2, 0], Anomaly::NullPktTooSmall);
    }
}

#[test]
fn raw_ip_link_types() {
    let v4 = V4::new(17).build(&udp(1, 2, b"r"));
    let v6 = ipv6(6, A6, B6, &tcp(7, 8, 0x02, &[], b""));
    for lt in [linktype::RAW, linktype::RAW_BSD12, linktype::RAW_BSD14] {
        assert_eq!(decode_ip(lt, &v4).0.sport, 1);
        assert_eq!(decode_ip(lt, &v6).0.sport, 7);
        bad(lt, &[0x50; 30], Anomaly::IpRawInvalidIpVersion);
        bad(lt, &[], Anomaly::IpRawPktTooSmall);
    }
    assert_eq!(decode_ip(linktype::IPV4, &v4).0.dport, 2);
    assert_eq!(decode_ip(linktype::IPV6, &v6).0.dport, 8);
    bad(linktype::IPV4, &v6, Anomaly::Ipv4WrongIpVersion);
    let mut v4_40 = v4.clone();
    v4_40.resize(40, 0);
    bad(linktype::IPV6, &v4_40, Anomaly::Ipv6WrongIpVersion);
}

#[test]
fn ipv6_extension_headers() {
    // hop-by-hop -> routing -> destination options -> TCP
    let mut rest = ext(43, 0);
    rest.extend(ext(60, 1));
    rest.extend(ext(6, 0));
    rest.extend(tcp(443, 5555, 0x12, &[], b"ext"));
    let f = eth(0x86dd, &ipv6(0, A6, B6, &rest));
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!(
        (i.proto, i.sport, i.dport, i.tcp_flags),
        (6, 443, 5555, 0x12)
    );
    assert_eq!(p, b"ext");
    assert_eq!(i.ip_len as usize, 40 + rest.len());

    // AH (len field 4 -> (4+2)*4 = 24 bytes) -> UDP
    let mut ah = vec![17, 4];
    ah.resize(24, 0);
    ah.extend(udp(500, 500, b"ike"));
    let (i, p) = decode_ip(linktype::IPV6, &ipv6(51, A6, B6, &ah));
    assert_eq!((i.proto, i.sport), (17, 500));
    assert_eq!(p, b"ike");

    // ESP stops the walk: proto 50, ports 0, payload = ESP bytes
    let (i, p) = decode_ip(linktype::IPV6, &ipv6(50, A6, B6, &[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!((i.proto, i.sport, i.dport), (50, 0, 0));
    assert_eq!(p.len(), 8);
    // No next header
    let mut nn = ext(59, 0);
    nn.extend([0xaa; 4]);
    let (i, _) = decode_ip(linktype::IPV6, &ipv6(0, A6, B6, &nn));
    assert_eq!(i.proto, 59);

    // Atomic fragment (offset 0, M clear) decodes in place.
    let mut af = frag6(17, 0, false, 9);
    af.extend(udp(9, 10, b"a"));
    let (i, p) = decode_ip(linktype::IPV6, &ipv6(44, A6, B6, &af));
    assert_eq!((i.proto, i.sport, i.frames), (17, 9, 1));
    assert_eq!(p, b"a");

    // Extension header running past the payload.
    let mut cut = ext(6, 3);
    cut.truncate(10);
    bad(
        linktype::IPV6,
        &ipv6(60, A6, B6, &cut),
        Anomaly::Ipv6TruncExthdr,
    );
    // Too many extension headers.
    let mut many = Vec::new();
    for _ in 0..12 {
        many.extend(ext(60, 0));
    }
    many.extend(udp(1, 2, b""));
    bad(
        linktype::IPV6,
        &ipv6(60, A6, B6, &many),
        Anomaly::Ipv6ExthdrTooMany,
    );
}

#[test]
fn icmp_echo_both_ways_share_ports() {
    let req = eth(0x0800, &V4::new(1).build(&icmp(8, 0, 0x4242, 1, b"ping")));
    let rep = eth(
        0x0800,
        &V4::new(1).rev().build(&icmp(0, 0, 0x4242, 1, b"ping")),
    );
    let (a, p) = decode_ip(linktype::ETHERNET, &req);
    let (b, _) = decode_ip(linktype::ETHERNET, &rep);
    assert_eq!((a.sport, a.dport), (0x4242, 0x4242));
    assert_eq!((a.sport, a.dport), (b.dport, b.sport));
    assert_eq!((a.icmp_type, b.icmp_type), (8, 0));
    assert_eq!(p, b"ping");
    assert_eq!((a.src, a.dst), (b.dst, b.src));

    let unr = eth(0x0800, &V4::new(1).build(&icmp(3, 3, 0, 0, &[0x45; 28])));
    let (u, p) = decode_ip(linktype::ETHERNET, &unr);
    assert_eq!((u.sport, u.dport, u.icmp_type, u.icmp_code), (3, 3, 3, 3));
    assert_eq!(p.len(), 28);
    bad(
        linktype::ETHERNET,
        &eth(0x0800, &V4::new(1).build(&[8, 0, 0, 0])),
        Anomaly::Icmpv4PktTooSmall,
    );
}

#[test]
fn icmpv6() {
    let req = ipv6(58, A6, B6, &icmp(128, 0, 7, 1, b"x"));
    let rep = ipv6(58, B6, A6, &icmp(129, 0, 7, 1, b"x"));
    let (a, _) = decode_ip(linktype::RAW, &req);
    let (b, _) = decode_ip(linktype::RAW, &rep);
    assert_eq!((a.sport, a.dport, b.sport, b.dport), (7, 7, 7, 7));
    assert_eq!((a.icmp_type, b.icmp_type), (128, 129));
    let ns = ipv6(58, A6, B6, &icmp(135, 0, 0, 0, &[0; 16]));
    let (n, p) = decode_ip(linktype::RAW, &ns);
    assert_eq!(
        (n.sport, n.dport, n.icmp_type, n.icmp_code),
        (135, 0, 135, 0)
    );
    assert_eq!(p.len(), 16);
    bad(
        linktype::RAW,
        &ipv6(58, A6, B6, &[1, 0, 0]),
        Anomaly::Icmpv6PktTooSmall,
    );
}

#[test]
fn other_protocol_is_ip_with_zero_ports() {
    let f = eth(0x0800, &V4::new(47).build(&[0, 0, 0x08, 0, 1, 2, 3]));
    let (i, p) = decode_ip(linktype::ETHERNET, &f);
    assert_eq!((i.proto, i.sport, i.dport), (47, 0, 0));
    assert_eq!(p.len(), 7);
}

#[test]
fn arp() {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&MAC_A);
    a.extend_from_slice(&[192, 168, 1, 71]);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&[192, 168, 1, 5]);
    let mut f = eth(0x0806, &a);
    f.resize(60, 0);
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(linktype::ETHERNET, 5, 60, &f),
        Decoded::Arp(ArpInfo {
            ts: 5,
            op: 1,
            sender_ip: Addr::v4([192, 168, 1, 71]),
            target_ip: Addr::v4([192, 168, 1, 5]),
            wire_len: 60,
        })
    );
    // Non-Ethernet/IPv4 ARP is not ours.
    let mut other = a.clone();
    other[1] = 6;
    assert_eq!(
        d.decode(linktype::ETHERNET, 5, 42, &eth(0x0806, &other)),
        Decoded::NonIp
    );
    bad(
        linktype::ETHERNET,
        &eth(0x0806, &a[..20]),
        Anomaly::ArpPktTooSmall,
    );
    let c = d.counters();
    assert_eq!((c.arp, c.non_ip), (1, 1));
}

#[test]
fn non_ip_and_unsupported_link() {
    let f = eth(0x88cc, &[0; 46]); // LLDP
    let (d, k, _) = one(linktype::ETHERNET, &f);
    assert_eq!(k, Decoded::NonIp);
    assert_eq!(d.anomalies().count(), 0);
    let f = eth(0x0026, &[0; 46]); // 802.3 length field
    assert_eq!(one(linktype::ETHERNET, &f).1, Decoded::NonIp);
    let (d, k, _) = one(147, &f);
    assert_eq!(k, Decoded::NonIp);
    assert_eq!(d.anomaly(Anomaly::LinkUnsupported), 1);
}

#[test]
fn impossible_ipv4_lengths() {
    let good = V4::new(6).build(&tcp(1, 2, 2, &[], b""));
    let mut f = good.clone();
    f[0] = 0x44;
    bad(linktype::RAW, &f, Anomaly::Ipv4HlenTooSmall);
    let mut f = good.clone();
    f[2..4].copy_from_slice(&16u16.to_be_bytes());
    bad(linktype::RAW, &f, Anomaly::Ipv4IplenSmallerThanHlen);
    let mut f = good.clone();
    f[0] = 0x4f; // 60-byte header, only 40 bytes present
    bad(linktype::RAW, &f, Anomaly::Ipv4IplenSmallerThanHlen);
    let mut f = good.clone();
    f[0] = 0x4f;
    f[2..4].copy_from_slice(&60u16.to_be_bytes());
    bad(linktype::RAW, &f, Anomaly::Ipv4LenExceedsCaptured);
    bad(
        linktype::ETHERNET,
        &eth(0x0800, &good[..19]),
        Anomaly::Ipv4PktTooSmall,
    );
    bad(linktype::ETHERNET, &[0; 13], Anomaly::EthernetPktTooSmall);
}

#[test]
fn impossible_tcp_lengths() {
    let mut seg = tcp(1, 2, 2, &[], b"");
    seg[12] = 0x40; // data offset 4
    bad(
        linktype::RAW,
        &V4::new(6).build(&seg),
        Anomaly::TcpHlenTooSmall,
    );
    let mut seg = tcp(1, 2, 2, &[], b"abcd");
    seg[12] = 0x60; // 24 bytes of header, 24 present: ok
    let (i, p) = decode_ip(linktype::RAW, &V4::new(6).build(&seg));
    assert_eq!((i.sport, p.len()), (1, 0));
    seg[12] = 0xf0; // 60 bytes of header, 24 present
    bad(
        linktype::RAW,
        &V4::new(6).build(&seg),
        Anomaly::TcpHlenExceedsPkt,
    );
    bad(
        linktype::RAW,
        &V4::new(6).build(&tcp(1, 2, 2, &[], b"")[..19]),
        Anomaly::TcpPktTooSmall,
    );
}

#[test]
fn impossible_udp_lengths() {
    let mut seg = udp(1, 2, b"abc");
    seg[4..6].copy_from_slice(&7u16.to_be_bytes());
    bad(
        linktype::RAW,
        &V4::new(17).build(&seg),
        Anomaly::UdpHlenInvalid,
    );
    seg[4..6].copy_from_slice(&12u16.to_be_bytes());
    bad(
        linktype::RAW,
        &V4::new(17).build(&seg),
        Anomaly::UdpLenExceedsIpPayload,
    );
    // UDP length shorter than the IP payload: payload ends at the UDP length.
    seg[4..6].copy_from_slice(&10u16.to_be_bytes());
    let (_, p) = decode_ip(linktype::RAW, &V4::new(17).build(&seg));
    assert_eq!(p, b"ab");
    bad(
        linktype::RAW,
        &V4::new(17).build(&seg[..7]),
        Anomaly::UdpPktTooSmall,
    );
}

#[test]
fn snaplen_cut_is_not_malformed() {
    let f = eth(0x0800, &V4::new(17).build(&udp(1, 2, &[7; 1000])));
    let mut d = Decoder::default();
    let (i, p) = ip(d.decode(linktype::ETHERNET, 0, f.len() as u32, &f[..100]));
    let _ = own;
    assert_eq!(i.ip_len, 1028);
    assert_eq!(i.wire_len as usize, f.len());
    assert_eq!(p.len(), 100 - 14 - 28);
    assert_eq!(d.anomalies().count(), 0);
}

#[test]
fn header_lying_about_length() {
    let mut v = V4::new(17);
    v.total = Some(5000);
    let f = eth(0x0800, &v.build(&udp(1, 2, &[7; 100])));
    let mut d = Decoder::default();
    let (i, p) = ip(d.decode(linktype::ETHERNET, 0, f.len() as u32, &f));
    assert_eq!(i.ip_len, 128);
    assert_eq!(p.len(), 100);
    assert_eq!(d.anomaly(Anomaly::Ipv4LenExceedsCaptured), 1);
}

#[test]
fn snap_cut_tcp_options_still_decoded() {
    let f = syn_frame();
    let mut d = Decoder::default();
    let (i, p) = ip(d.decode(linktype::ETHERNET, 0, f.len() as u32, &f[..60]));
    assert_eq!((i.sport, i.tcp_flags, i.ip_len), (40000, 2, 60));
    assert!(p.is_empty());
    assert_eq!(d.anomaly(Anomaly::TcpOptTrunc), 1);
    assert_eq!(d.counters().truncated, 1);
}

/// Good frames of several shapes, with the offset where their L4 header ends.
fn good_frames() -> Vec<(u32, Vec<u8>, usize)> {
    let mut rest = ext(17, 0);
    rest.extend(udp(53, 53, b"dns?"));
    vec![
        (linktype::ETHERNET, syn_frame(), 14 + 20 + 40),
        (
            linktype::ETHERNET,
            eth(
                0x0800,
                &V4::new(6).build(&tcp(1, 2, 0x18, &[1, 1, 1, 1], b"data!")),
            ),
            14 + 20 + 24,
        ),
        (
            linktype::ETHERNET,
            eth_vlan(
                &[(0x88a8, 1), (0x8100, 2)],
                0x86dd,
                &ipv6(60, A6, B6, &rest),
            ),
            22 + 40 + 8 + 8,
        ),
        (
            linktype::LINUX_SLL2,
            [
                &[
                    0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
                ][..],
                &V4::new(1).build(&icmp(8, 0, 1, 1, b"abc")),
            ]
            .concat(),
            20 + 20 + 8,
        ),
        (
            linktype::NULL,
            [
                &30u32.to_le_bytes()[..],
                &ipv6(58, A6, B6, &icmp(128, 0, 1, 1, b"z")),
            ]
            .concat(),
            4 + 40 + 8,
        ),
    ]
}

#[test]
fn truncated_at_every_offset_counts_an_anomaly() {
    for (lt, f, l4_end) in good_frames() {
        for n in 0..f.len() {
            let cut = &f[..n];
            // The frame really was this short: always an anomaly.
            let mut d = Decoder::default();
            let (k, i) = own(d.decode(lt, 0, n as u32, cut));
            let nonip = i.is_none() && k == Decoded::NonIp;
            assert!(
                nonip || d.anomalies().count() > 0,
                "lt {lt} cut {n}: {k:?} {i:?} without anomaly"
            );
            // Cut by the snaplen: an anomaly while inside the headers, a
            // clean partial decode inside the payload.
            let mut d = Decoder::default();
            let (k, i) = own(d.decode(lt, 0, f.len() as u32, cut));
            if n < l4_end {
                assert!(
                    (i.is_none() && k == Decoded::NonIp) || d.anomalies().count() > 0,
                    "lt {lt} snap {n}: {k:?} {i:?}"
                );
            } else {
                let (i, p) = i.unwrap_or_else(|| panic!("lt {lt} snap {n}: {k:?}"));
                assert_eq!(p.len(), n - l4_end, "lt {lt} snap {n}");
                assert_eq!(i.wire_len as usize, f.len());
                assert_eq!(d.anomalies().count(), 0);
            }
        }
    }
}

#[test]
fn counters_add_up() {
    let mut d = Decoder::new(DecoderConfig::default());
    for (lt, f, _) in good_frames() {
        for n in 0..=f.len() {
            let _ = d.decode(lt, 0, n as u32, &f[..n]);
        }
    }
    let c = d.counters();
    assert_eq!(c.ip + c.arp + c.non_ip + c.frag_held + c.bad, c.frames);
    assert!(c.ip > 0 && c.bad > 0);
}
