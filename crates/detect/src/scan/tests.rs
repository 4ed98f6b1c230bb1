use super::*;
use crate::testutil::*;
use vigil_core::{FlowCtx, PacketInfo};

type Rig = crate::testutil::Rig<Scan>;

impl Rig {
    fn new() -> Self {
        Rig::with(Scan::new(&Config::default()))
    }
    fn scans(&self) -> Vec<&Alert> {
        self.out
            .iter()
            .filter(|a| a.category == Category::Scan)
            .collect()
    }
}

fn first() -> FlowCtx {
    FlowCtx {
        flow_id: 1,
        new_flow: true,
        to_server: true,
        established: false,
        flow_pkts: 1,
    }
}

fn reply() -> FlowCtx {
    FlowCtx {
        flow_id: 1,
        new_flow: false,
        to_server: false,
        established: false,
        flow_pkts: 2,
    }
}

#[test]
fn spoofed_flood_of_a_million_sources_stays_bounded_and_silent() {
    let mut r = Rig::new();
    let victim = home(0x0110);
    let n = 1_500_000u64;
    for i in 0..n {
        let ts = T0 + i * (SEC / 50_000);
        let src = outside(mix64(i) as u32);
        r.pkt(
            tcp(ts, src, victim, (i % 60_000) as u16 + 1024, 80, tf::SYN),
            first(),
        );
        if i % 5 == 0 {
            // the victim answers some with SYN-ACK
            r.pkt(
                tcp(ts + 100, victim, src, 80, 1024, tf::SYN | tf::ACK),
                reply(),
            );
        }
    }
    assert!(r.scans().is_empty());
    assert!(r.d.tracked() < 100, "{}", r.d.tracked());
}

#[test]
fn scan_under_a_flood_is_still_seen() {
    let mut r = Rig::new();
    let victim = home(0x0110);
    let scanner = outside(12345);
    let target = home(0x0220);
    for i in 0..400_000u64 {
        let ts = T0 + i * (SEC / 40_000);
        r.pkt(
            tcp(ts, outside(mix64(i) as u32), victim, 1024, 80, tf::SYN),
            first(),
        );
        if i % 100 == 0 {
            let port = (i / 100) as u16 + 1;
            r.pkt(tcp(ts, scanner, target, 55555, port, tf::SYN), first());
            r.pkt(
                tcp(ts + 50, target, scanner, port, 55555, tf::RST | tf::ACK),
                reply(),
            );
        }
    }
    let s = r.scans();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].src, Some(scanner));
    assert!(s[0].signature.contains("vertical"));
}

#[test]
fn horizontal_sweep_without_answers() {
    let mut r = Rig::new();
    let scanner = home(5);
    for i in 0..256u32 {
        r.pkt(
            tcp(
                T0 + i as u64 * 5_000_000,
                scanner,
                home(0x0100 + i),
                40000,
                445,
                tf::SYN,
            ),
            first(),
        );
    }
    let s = r.scans();
    assert_eq!(s.len(), 1);
    assert!(s[0].signature.contains("horizontal"));
}

#[test]
fn successful_connections_to_many_hosts_are_not_a_scan() {
    // browsing (or lateral movement, or monitoring): every attempt completes
    let mut r = Rig::new();
    let client = home(5);
    for i in 0..300u32 {
        let ts = T0 + i as u64 * 10_000_000;
        let dst = outside(1000 + i);
        r.pkt(
            tcp(ts, client, dst, 40000 + i as u16, 443, tf::SYN),
            first(),
        );
        r.pkt(
            tcp(
                ts + 1000,
                dst,
                client,
                443,
                40000 + i as u16,
                tf::SYN | tf::ACK,
            ),
            reply(),
        );
        r.pkt(
            tcp(ts + 2000, client, dst, 40000 + i as u16, 443, tf::ACK),
            FlowCtx {
                established: true,
                flow_pkts: 3,
                new_flow: false,
                ..first()
            },
        );
    }
    assert!(r.scans().is_empty());
}

#[test]
fn icmp_echo_sweep() {
    let mut r = Rig::new();
    let scanner = outside(3);
    for i in 0..256u32 {
        let p = PacketInfo {
            ts: T0 + i as u64 * 1_000_000,
            src: scanner,
            dst: home(0x0100 + i),
            proto: proto::ICMP,
            icmp_type: 8,
            frames: 1,
            ..Default::default()
        };
        r.pkt(p, first());
    }
    let s = r.scans();
    assert_eq!(s.len(), 1);
    assert!(s[0].signature.contains("ICMP"));
}

#[test]
fn arp_sweep_and_normal_arp() {
    let mut r = Rig::new();
    let nets = NetSet::default();
    let scanner = Addr::v4([192, 168, 1, 71]);
    for i in 1..=250u8 {
        let m = Meta::Arp {
            ts: T0 + i as u64 * 5_000_000,
            op: 1,
            sender: scanner,
            target: Addr::v4([192, 168, 1, i]),
        };
        r.d.on_meta(None, &m, &nets, &mut r.out);
    }
    // a host asking for its gateway over and over, answered
    let host = Addr::v4([192, 168, 1, 20]);
    let gw = Addr::v4([192, 168, 1, 1]);
    for i in 0..500u64 {
        let m = Meta::Arp {
            ts: T0 + i * SEC,
            op: 1,
            sender: host,
            target: gw,
        };
        r.d.on_meta(None, &m, &nets, &mut r.out);
        let m = Meta::Arp {
            ts: T0 + i * SEC,
            op: 2,
            sender: gw,
            target: host,
        };
        r.d.on_meta(None, &m, &nets, &mut r.out);
    }
    let s = r.scans();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].src, Some(scanner));
}

#[test]
fn config_rejects_unknown_fields() {
    assert!(toml::from_str::<Config>("prefilter = 3\nnope = 1\n").is_err());
}

#[test]
fn extreme_flood_saturating_the_sketch_keeps_promotions_bounded() {
    let mut r = Rig::new();
    let _victim = home(0x0110);
    // 6 M spoofed SYNs at 2 M pps spread over hosts and ports: the sketch
    // saturates, the threshold adapts
    let n = 6_000_000u64;
    for i in 0..n {
        let ts = T0 + i * SEC / 2_000_000;
        // random ports on random hosts: no single flooded target to skip
        let dst = home(mix64(i ^ 0xabc) as u32 & 0xffff);
        r.pkt(
            tcp(
                ts,
                outside(mix64(i) as u32),
                dst,
                1024,
                (i % 65_000) as u16 + 1,
                tf::SYN,
            ),
            first(),
        );
    }
    assert!(r.scans().is_empty());
    assert!(r.d.tracked() <= Config::default().max_sources);
    assert!(r.d.threshold > Config::default().prefilter);
}
