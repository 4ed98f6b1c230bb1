//! IPv4/IPv6 reassembly: completion, overlap rule, caps, timeouts, accounting.

mod common;

use common::*;
use vigil_core::{PacketInfo, NANOS_PER_SEC};
use vigil_wire::{linktype, Anomaly, Decoded, Decoder, DecoderConfig};

/// v4 fragment frames of `seg` (an L4 segment) cut at `cuts` (byte offsets,
/// multiples of 8), Ethernet-framed.
fn frags4(ident: u16, seg: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    frags4p(17, ident, seg, cuts)
}

fn frags4p(proto: u8, ident: u16, seg: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(seg.len());
    bounds
        .windows(2)
        .map(|w| {
            let mut v = V4::new(proto);
            v.ident = ident;
            v.offset = w[0];
            v.mf = w[1] != seg.len();
            eth(0x0800, &v.build(&seg[w[0]..w[1]]))
        })
        .collect()
}

fn feed(d: &mut Decoder, frames: &[Vec<u8>], t0: u64) -> Vec<Option<(PacketInfo, Vec<u8>)>> {
    frames
        .iter()
        .enumerate()
        .map(
            |(i, f)| match d.decode(linktype::ETHERNET, t0 + i as u64, f.len() as u32, f) {
                Decoded::Ip { info, payload } => Some((info, payload.to_vec())),
                Decoded::FragmentHeld => None,
                other => panic!("frame {i}: {other:?}"),
            },
        )
        .collect()
}

fn check_accounting(d: &Decoder) {
    let c = d.counters();
    assert_eq!(
        c.frag_frames,
        c.reassembled_frames + c.frag_dropped_frames + d.held_frames(),
        "{c:?}"
    );
    assert_eq!(c.ip + c.arp + c.non_ip + c.frag_held + c.bad, c.frames);
}

#[test]
fn ipv4_in_order_and_out_of_order() {
    let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let seg = udp(1111, 2222, &data);
    let fr = frags4(7, &seg, &[1480, 2960]);
    for order in [[0usize, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let frames: Vec<_> = order.iter().map(|&i| fr[i].clone()).collect();
        let mut d = Decoder::default();
        let out = feed(&mut d, &frames, 100);
        assert!(out[0].is_none() && out[1].is_none());
        let (i, p) = out[2].clone().expect("complete");
        assert_eq!((i.sport, i.dport, i.proto), (1111, 2222, 17));
        assert_eq!(p, data);
        assert_eq!(i.frames, 3);
        assert_eq!(i.wire_len as usize, fr.iter().map(Vec::len).sum::<usize>());
        assert_eq!(i.ip_len as usize, 3 * 20 + seg.len());
        assert_eq!(i.payload_len as usize, data.len());
        assert_eq!(i.ts, 102);
        assert_eq!(d.held_bytes(), 0);
        assert_eq!(d.anomalies().count(), 0);
        let c = d.counters();
        assert_eq!(
            (c.reassembled, c.reassembled_frames, c.frag_held),
            (1, 3, 2)
        );
        check_accounting(&d);
    }
}

#[test]
fn ipv4_reassembled_tcp() {
    let seg = tcp(5, 6, 0x18, &[], &[9; 100]);
    let fr = frags4p(6, 8, &seg, &[16]);
    let mut d = Decoder::default();
    let out = feed(&mut d, &fr, 0);
    let (i, p) = out[1].clone().unwrap();
    assert_eq!((i.proto, i.sport, i.tcp_flags, p.len()), (6, 5, 0x18, 100));
}

#[test]
fn ipv6_fragments() {
    let data = vec![0x5a; 2000];
    let seg = udp(53, 4444, &data);
    let mut d = Decoder::default();
    let mut last = None;
    let cuts = [0, 1232, seg.len()];
    for (k, w) in cuts.windows(2).enumerate().rev() {
        let mut rest = frag6(17, w[0], w[1] != seg.len(), 0xdeadbeef);
        rest.extend_from_slice(&seg[w[0]..w[1]]);
        let f = eth(0x86dd, &ipv6(44, A6, B6, &rest));
        match d.decode(linktype::ETHERNET, k as u64, f.len() as u32, &f) {
            Decoded::FragmentHeld => assert_eq!(k, 1),
            Decoded::Ip { info, payload } => {
                assert_eq!(k, 0);
                assert_eq!(payload, &data[..]);
                last = Some(info);
            }
            o => panic!("{o:?}"),
        }
    }
    let i = last.unwrap();
    assert_eq!((i.sport, i.dport, i.frames, i.proto), (53, 4444, 2, 17));
    assert_eq!(i.ip_len as usize, 2 * 48 + seg.len());
    // Destination options after the fragment header, in the first fragment.
    let mut inner = ext(6, 0);
    inner.extend(tcp(1, 2, 2, &[], b"hi"));
    let mut rest = frag6(60, 0, true, 1);
    rest.extend_from_slice(&inner[..16]);
    let f1 = ipv6(44, A6, B6, &rest);
    let mut rest = frag6(60, 16, false, 1);
    rest.extend_from_slice(&inner[16..]);
    let f2 = ipv6(44, A6, B6, &rest);
    assert_eq!(d.decode(linktype::RAW, 10, 0, &f2), Decoded::FragmentHeld);
    match d.decode(linktype::RAW, 11, 0, &f1) {
        Decoded::Ip { info, payload } => {
            assert_eq!((info.proto, info.sport, info.dport), (6, 1, 2));
            assert_eq!(payload, b"hi");
        }
        o => panic!("{o:?}"),
    }
    check_accounting(&d);
}

#[test]
fn first_arrival_wins_and_conflicts_are_counted() {
    let seg = udp(1, 2, &[0xaa; 40]);
    let fr = frags4(9, &seg, &[24]);
    // Conflicting copy of the first fragment's bytes 8..24.
    let mut v = V4::new(17);
    v.ident = 9;
    v.offset = 8;
    v.mf = true;
    let evil = eth(0x0800, &v.build(&[0xbb; 16]));
    let mut d = Decoder::default();
    let out = feed(
        &mut d,
        &[fr[0].clone(), evil.clone(), evil, fr[1].clone()],
        0,
    );
    let (i, p) = out[3].clone().unwrap();
    assert_eq!(p, vec![0xaa; 40]);
    assert_eq!(i.frames, 4);
    assert_eq!(d.anomaly(Anomaly::FragOverlap), 2);
    assert_eq!(d.anomaly(Anomaly::FragConflict), 2);
    // Exact duplicate: overlap, no conflict.
    let mut d = Decoder::default();
    let out = feed(&mut d, &[fr[0].clone(), fr[0].clone(), fr[1].clone()], 0);
    assert!(out[2].is_some());
    assert_eq!(d.anomaly(Anomaly::FragOverlap), 1);
    assert_eq!(d.anomaly(Anomaly::FragConflict), 0);
}

#[test]
fn lone_fragments_held_then_expired_and_counted() {
    let seg = udp(1, 2, &[1; 100]);
    let fr = frags4(10, &seg, &[48]);
    let mut d = Decoder::default();
    let wire = fr[1].len() as u64;
    assert!(feed(&mut d, &fr[1..], 0)[0].is_none()); // non-first fragment: held, not L4
    assert_eq!((d.held_trains(), d.held_frames()), (1, 1));
    assert!(d.held_bytes() > 0);
    d.expire(DecoderConfig::default().frag_timeout - 1);
    assert_eq!(d.held_trains(), 1);
    d.expire(u64::MAX);
    assert_eq!((d.held_trains(), d.held_bytes()), (0, 0));
    let c = d.counters();
    assert_eq!((c.frag_dropped_frames, c.frag_dropped_bytes), (1, wire));
    assert_eq!(d.anomaly(Anomaly::FragTimeout), 1);
    check_accounting(&d);
}

#[test]
fn timeout_on_arrival() {
    let seg = udp(1, 2, &[1; 100]);
    let fr = frags4(11, &seg, &[48]);
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(linktype::ETHERNET, 0, 0, &fr[0]),
        Decoded::FragmentHeld
    );
    let late = 31 * NANOS_PER_SEC;
    // The stale train is dropped; the late fragment starts a new one.
    assert_eq!(
        d.decode(linktype::ETHERNET, late, 0, &fr[1]),
        Decoded::FragmentHeld
    );
    assert_eq!(d.anomaly(Anomaly::FragTimeout), 1);
    assert_eq!(d.counters().frag_dropped_frames, 1);
    check_accounting(&d);
}

#[test]
fn caps() {
    let seg = udp(1, 2, &[1; 64]);
    let cfg = DecoderConfig {
        max_trains: 2,
        max_held_bytes: 1000,
        max_frags_per_datagram: 3,
        ..DecoderConfig::default()
    };
    // Trains in flight.
    let mut d = Decoder::new(cfg);
    for id in 0..3u16 {
        let f = &frags4(id, &seg, &[32])[0];
        let r = d.decode(linktype::ETHERNET, 0, 0, f);
        assert_eq!(
            r,
            if id < 2 {
                Decoded::FragmentHeld
            } else {
                Decoded::Bad
            }
        );
    }
    assert_eq!(d.anomaly(Anomaly::FragTooMany), 1);
    check_accounting(&d);

    // Fragments per datagram.
    let mut d = Decoder::new(cfg);
    let fr = frags4(1, &seg, &[8, 16, 24, 32]);
    for f in &fr[..3] {
        assert_eq!(d.decode(linktype::ETHERNET, 0, 0, f), Decoded::FragmentHeld);
    }
    assert_eq!(d.decode(linktype::ETHERNET, 0, 0, &fr[3]), Decoded::Bad);
    assert_eq!(d.anomaly(Anomaly::FragTooManyFrags), 1);
    assert_eq!((d.held_trains(), d.held_bytes()), (0, 0));
    assert_eq!(d.counters().frag_dropped_frames, 4);
    check_accounting(&d);

    // Bytes held.
    let mut d = Decoder::new(cfg);
    let mut v = V4::new(17);
    v.mf = true;
    v.offset = 800;
    assert_eq!(
        d.decode(linktype::RAW, 0, 0, &v.build(&[0; 64])),
        Decoded::FragmentHeld
    );
    v.ident = 2;
    assert_eq!(
        d.decode(linktype::RAW, 0, 0, &v.build(&[0; 64])),
        Decoded::Bad
    );
    assert_eq!(d.anomaly(Anomaly::FragMemcap), 1);
    assert!(d.held_bytes() <= 1000);
    check_accounting(&d);

    // Datagram size.
    let mut d = Decoder::default();
    v.offset = 65528;
    v.mf = false;
    assert_eq!(
        d.decode(linktype::RAW, 0, 0, &v.build(&[0; 16])),
        Decoded::Bad
    );
    assert_eq!(d.anomaly(Anomaly::FragTooLarge), 1);
    check_accounting(&d);
}

#[test]
fn reassembled_invalid_l4_is_bad() {
    let mut seg = tcp(5, 6, 0x18, &[], &[9; 30]);
    seg[12] = 0x20; // data offset 2
    let fr = frags4p(6, 12, &seg, &[16]);
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(linktype::ETHERNET, 0, 0, &fr[0]),
        Decoded::FragmentHeld
    );
    assert_eq!(d.decode(linktype::ETHERNET, 0, 0, &fr[1]), Decoded::Bad);
    assert_eq!(d.anomaly(Anomaly::TcpHlenTooSmall), 1);
    assert_eq!(d.counters().reassembled, 1);
    check_accounting(&d);
}

#[test]
fn fragments_keyed_by_vlan() {
    let seg = udp(1, 2, &[3; 40]);
    let fr = frags4(13, &seg, &[24]);
    let tag = |f: &Vec<u8>, vid: u16| eth_vlan(&[(0x8100, vid)], 0x0800, &f[14..]);
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(linktype::ETHERNET, 0, 0, &tag(&fr[0], 1)),
        Decoded::FragmentHeld
    );
    assert_eq!(
        d.decode(linktype::ETHERNET, 0, 0, &tag(&fr[1], 2)),
        Decoded::FragmentHeld
    );
    assert_eq!(d.held_trains(), 2);
    let f = tag(&fr[1], 1);
    match d.decode(linktype::ETHERNET, 0, 0, &f) {
        Decoded::Ip { info, .. } => assert_eq!(info.vlan, 1),
        o => panic!("{o:?}"),
    }
}
