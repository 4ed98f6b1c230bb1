use super::*;
use crate::testutil::*;
use vigil_core::{FlowCtx, PacketInfo};

fn victim() -> Addr {
    Addr::v4([10, 0, 1, 10])
}

type Rig = crate::testutil::Rig<Dos>;

impl Rig {
    fn new(cfg: Config) -> Self {
        Rig::with(Dos::new(&cfg))
    }
}

fn syn(ts: Nanos, src: Addr, dst: Addr, sport: u16, dport: u16) -> PacketInfo {
    tcp(ts, src, dst, sport, dport, tf::SYN)
}

fn new_flow() -> FlowCtx {
    FlowCtx {
        flow_id: 1,
        new_flow: true,
        to_server: true,
        established: false,
        flow_pkts: 1,
    }
}

#[test]
fn spoofed_syn_flood_of_a_million_packets_is_one_alert_and_bounded() {
    let mut r = Rig::new(Config::default());
    // 2 s of quiet normal traffic, then 1.2 M spoofed SYNs at 20 kpps
    let n = 1_200_000u64;
    let start = T0 + 2 * SEC;
    for i in 0..n {
        let ts = start + i * (SEC / 20_000);
        let src = outside(crate::sketch::mix64(i) as u32);
        r.pkt(
            syn(ts, src, victim(), 1024 + (i % 60000) as u16, 80),
            new_flow(),
        );
    }
    r.advance(start + n * (SEC / 20_000) + 2 * SEC);
    let dos: Vec<_> = r
        .out
        .iter()
        .filter(|a| a.category == Category::Dos)
        .collect();
    assert!(!dos.is_empty());
    assert!(dos.iter().all(|a| a.dst == Some(victim())));
    // re-alerts at most once a minute
    assert!(dos.len() <= 2, "{}", dos.len());
    assert_eq!(dos[0].signature_id, Kind::SynFlood.sid());
    // first alert within a second of the start
    assert!(
        dos[0].ts < start + SEC,
        "{}",
        (dos[0].ts - start) as f64 / 1e9
    );
    let m = |k: &str| dos[0].metrics.iter().find(|x| x.0 == k).unwrap().1;
    assert!(m("distinct_sources") > 200.0);
    // spoofed: no source is named
    assert!(dos[0].sources.is_empty());
    assert!(m("syn_ratio") > 0.99);
    // one destination tracked, whatever the number of sources
    assert_eq!(r.d.tracked(), 1);
}

#[test]
fn flash_crowd_of_completed_handshakes_is_not_a_flood() {
    let mut r = Rig::new(Config::default());
    // 3000 clients per second for 10 s, each completing its handshake and
    // sending one request
    for s in 0..10u64 {
        for i in 0..3000u64 {
            let ts = T0 + s * SEC + i * (SEC / 3000);
            let src = outside((s * 3000 + i) as u32);
            let id = s * 3000 + i;
            r.pkt(
                syn(ts, src, victim(), 40000, 443),
                FlowCtx {
                    flow_id: id,
                    ..new_flow()
                },
            );
            let mut ack = syn(ts + 1000, src, victim(), 40000, 443);
            ack.tcp_flags = tf::ACK;
            r.pkt(
                ack,
                FlowCtx {
                    flow_id: id,
                    new_flow: false,
                    to_server: true,
                    established: true,
                    flow_pkts: 3,
                },
            );
            let mut req = ack;
            req.ts += 1000;
            req.tcp_flags = tf::ACK | tf::PSH;
            req.payload_len = 400;
            r.pkt(
                req,
                FlowCtx {
                    flow_id: id,
                    new_flow: false,
                    to_server: true,
                    established: true,
                    flow_pkts: 4,
                },
            );
        }
    }
    r.advance(T0 + 12 * SEC);
    assert!(
        r.out.is_empty(),
        "{:?}",
        r.out.first().map(|a| &a.signature)
    );
}

#[test]
fn vertical_syn_scan_against_one_host_is_not_a_syn_flood() {
    let mut r = Rig::new(Config::default());
    let scanner = outside(7);
    for i in 0..3000u64 {
        let ts = T0 + i * (SEC / 2000);
        r.pkt(syn(ts, scanner, victim(), 40000, 1 + i as u16), new_flow());
    }
    r.advance(T0 + 4 * SEC);
    assert!(r.out.is_empty());
}

#[test]
fn icmp_flood_from_few_bots() {
    let mut r = Rig::new(Config::default());
    for i in 0..20_000u64 {
        let ts = T0 + i * (SEC / 5000);
        let p = PacketInfo {
            ts,
            src: outside((i % 5) as u32),
            dst: victim(),
            proto: proto::ICMP,
            icmp_type: 8,
            frames: 1,
            wire_len: 98,
            ip_len: 84,
            ..Default::default()
        };
        r.pkt(
            p,
            FlowCtx {
                new_flow: i < 5,
                flow_pkts: i / 5 + 1,
                ..new_flow()
            },
        );
    }
    r.advance(T0 + 5 * SEC);
    assert_eq!(r.out.len(), 1);
    assert_eq!(r.out[0].signature_id, Kind::IcmpFlood.sid());
    // the five bots are named, for a drop set
    let mut named = r.out[0].sources.clone();
    named.sort();
    let mut bots: Vec<Addr> = (0..5).map(outside).collect();
    bots.sort();
    assert_eq!(named, bots);
}

#[test]
fn top_sources_are_exact_up_to_eight_then_give_up() {
    let mut t = TopSources::default();
    for i in 0..3_000u32 {
        t.add(outside(i % 3), 1 + u64::from(i % 3));
    }
    // busiest first: 3 packets each from source 2, 2 from 1, 1 from 0
    assert_eq!(t.sorted(), vec![outside(2), outside(1), outside(0)]);
    for i in 3..TOP_SOURCES as u32 {
        t.add(outside(i), 1);
    }
    assert_eq!(t.sorted().len(), TOP_SOURCES);
    // one more distinct source: spoofed or distributed, nothing named
    t.add(outside(99), 1);
    assert!(t.sorted().is_empty());
    t.add(outside(0), 1);
    assert!(t.sorted().is_empty());
    // the next window starts over
    t.clear();
    t.add(outside(5), 1);
    assert_eq!(t.sorted(), vec![outside(5)]);
}

#[test]
fn amplification_needs_unsolicited_large_answers() {
    let big = |ts, i: u64, dst: Addr| PacketInfo {
        ts,
        src: outside((i % 300) as u32),
        dst,
        proto: proto::UDP,
        sport: 53,
        dport: 5000 + (i % 1000) as u16,
        frames: 3,
        wire_len: 3200,
        ip_len: 3100,
        payload_len: 3072,
        ..Default::default()
    };
    // a reflection victim asked nothing
    let mut r = Rig::new(Config::default());
    for i in 0..2000u64 {
        r.pkt(big(T0 + i * (SEC / 500), i, victim()), new_flow());
    }
    r.advance(T0 + 6 * SEC);
    assert_eq!(r.out.len(), 1);
    assert_eq!(r.out[0].signature_id, Kind::Amplification.sid());
    // a resolver asked for every (large) answer it got
    let mut r = Rig::new(Config::default());
    let resolver = Addr::v4([10, 0, 0, 53]);
    for i in 0..2000u64 {
        let ts = T0 + i * (SEC / 500);
        let mut q = big(ts, i, resolver);
        std::mem::swap(&mut q.src, &mut q.dst);
        std::mem::swap(&mut q.sport, &mut q.dport);
        q.frames = 1;
        q.ip_len = 60;
        r.pkt(q, new_flow());
        r.pkt(
            big(ts + 1000, i, resolver),
            FlowCtx {
                established: true,
                new_flow: false,
                to_server: false,
                flow_pkts: 2,
                flow_id: 1,
            },
        );
    }
    r.advance(T0 + 6 * SEC);
    assert!(
        r.out.is_empty(),
        "{:?}",
        r.out.first().map(|a| &a.signature)
    );
}

#[test]
fn slowloris_many_silent_trickling_connections() {
    let mut r = Rig::new(Config::default());
    let attacker = outside(99);
    // 200 connections, each sends a partial header then 10 bytes every 10 s
    for k in 0..12u64 {
        for c in 0..200u64 {
            let ts = T0 + k * 10 * SEC + c * (SEC / 50);
            let p = PacketInfo {
                ts,
                src: attacker,
                dst: victim(),
                proto: proto::TCP,
                sport: 30000 + c as u16,
                dport: 80,
                tcp_flags: tf::ACK | tf::PSH,
                frames: 1,
                wire_len: 80,
                ip_len: 66,
                payload_len: if k == 0 { 200 } else { 10 },
                ..Default::default()
            };
            r.pkt(
                p,
                FlowCtx {
                    flow_id: 1000 + c,
                    new_flow: false,
                    to_server: true,
                    established: true,
                    flow_pkts: 4 + k,
                },
            );
        }
    }
    r.advance(T0 + 125 * SEC);
    // one alert, then one update a minute later
    assert!(
        (1..=2).contains(&r.out.len()),
        "{:?}",
        r.out.iter().map(|a| &a.signature).collect::<Vec<_>>()
    );
    assert_eq!(r.out[0].signature_id, Kind::Slowloris.sid());
    assert_eq!(r.out[0].dest_port, Some(80));
}

/// `n` HTTP requests (as `Meta::HttpRequest`) to the victim from `srcs`
/// sources in turn (numbered from `first_src`), from `start`, `per_sec` a
/// second.
fn http_requests(r: &mut Rig, start: Nanos, n: u64, per_sec: u64, first_src: u32, srcs: u32) {
    let m = Meta::HttpRequest {
        method: "GET".into(),
        host: None,
        uri: "/".into(),
        user_agent: None,
    };
    for i in 0..n {
        let ts = start + i * (SEC / per_sec);
        let p = PacketInfo {
            ts,
            src: outside(first_src + (i % srcs as u64) as u32),
            dst: victim(),
            proto: proto::TCP,
            sport: 40000,
            dport: 80,
            tcp_flags: tf::ACK | tf::PSH,
            frames: 1,
            wire_len: 400,
            ip_len: 386,
            payload_len: 346,
            ..Default::default()
        };
        let f = FlowCtx {
            flow_id: i,
            new_flow: false,
            to_server: true,
            established: true,
            flow_pkts: 4,
        };
        r.pkt(p, f);
        let c = Ctx {
            p: &p,
            flow: &f,
            src_home: false,
            dst_home: true,
        };
        r.d.on_meta(Some(&c), &m, &NetSet::default(), &mut r.out);
    }
}

#[test]
fn http_flood_from_few_bots_via_request_meta() {
    let mut r = Rig::new(Config::default());
    http_requests(&mut r, T0, 3000, 100, 0, 20);
    r.advance(T0 + 31 * SEC);
    assert!(!r.out.is_empty());
    assert!(r
        .out
        .iter()
        .all(|a| a.signature_id == Kind::HttpFlood.sid()));
}

#[test]
fn http_flood_is_called_after_the_sustain_seconds_not_before() {
    // 40 requests a second from 4 bots, starting 0.7 s into a second (that
    // second's 12 requests stay under the 15 a second a flood needs)
    let mut r = Rig::new(Config::default());
    let start = T0 + 7 * SEC / 10;
    http_requests(&mut r, start, 40 * 4, 40, 0, 4);
    r.advance(start + 4 * SEC + SEC / 2);
    assert!(r.out.is_empty(), "4 s of requests are not yet a flood");
    let mut r = Rig::new(Config::default());
    http_requests(&mut r, start, 40 * 8, 40, 0, 4);
    r.advance(start + 9 * SEC);
    let a = r.out.first().expect("an HTTP flood alert");
    assert_eq!(a.signature_id, Kind::HttpFlood.sid());
    let onset = a.ts - start;
    assert!(
        (4 * SEC..6 * SEC).contains(&onset),
        "onset {:.2} s",
        onset as f64 / SEC as f64
    );
}

#[test]
fn page_load_bursts_are_not_an_http_flood() {
    // a new visitor every 0.2 s, each loading a page of 4 requests at once:
    // 20 requests a second for 30 s, but 4 per source
    let mut r = Rig::new(Config::default());
    for v in 0..150u64 {
        let t = T0 + v * (SEC / 5);
        // 4 requests 20 ms apart from visitor v
        http_requests(&mut r, t, 4, 50, v as u32, 1);
    }
    r.advance(T0 + 40 * SEC);
    assert!(
        r.out.is_empty(),
        "{:?}",
        r.out.iter().map(|a| &a.signature).collect::<Vec<_>>()
    );
}

#[test]
fn table_of_destinations_is_bounded() {
    let cfg = Config {
        max_dests: 100,
        ..Config::default()
    };
    let mut r = Rig::new(cfg);
    for i in 0..10_000u32 {
        let dst = Addr::v4((0x0A00_0000u32 | i).to_be_bytes());
        r.pkt(
            syn(T0 + i as u64 * 1000, outside(1), dst, 1, 80),
            new_flow(),
        );
    }
    assert!(r.d.tracked() <= 100);
    assert!(r.d.dests_dropped > 0);
}

#[test]
fn config_rejects_unknown_fields() {
    assert!(toml::from_str::<Config>("syn_pps = 10\nbogus = 1\n").is_err());
    let c: Config = toml::from_str("syn_pps = 10\n").unwrap();
    assert_eq!(c.syn_pps, 10.0);
}
