//! Scans: `port-scan` (vertical SYN scan), `host-sweep` (one port across a
//! /24, or an ICMP echo sweep) and `udp-scan`. Truth spans the probes only,
//! not the targets' answers (as the corpus truth does).

use std::net::{IpAddr, Ipv4Addr};

use vigil_core::tcp_flags::{ACK, RST, SYN};
use vigil_core::Nanos;

use crate::app::{dns, misc};
use crate::background;
use crate::conn;
use crate::ctx::{secs, Ctx};
use crate::packet::{self, echo_rest, IpMeta, TcpMeta};
use crate::timeline::Tag;

/// Ports a scanner tries first (nmap's most common), then the rest of 1-1024
/// and a few high ones.
fn port_list(cx: &mut Ctx, n: usize) -> Vec<u16> {
    const TOP: &[u16] = &[
        80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995,
        993, 5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179,
        1026, 2000, 8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666,
        646, 5000, 5631, 631, 49153, 8081, 2049, 88, 79, 5800, 106, 2121, 1110,
    ];
    let mut rest: Vec<u16> = (1..=1024).filter(|p| !TOP.contains(p)).collect();
    rest.extend([
        1433u16, 1521, 2375, 5432, 5985, 6379, 8009, 9000, 9090, 9200, 11211, 27017,
    ]);
    cx.rng.shuffle(&mut rest);
    let mut ports: Vec<u16> = TOP.to_vec();
    ports.extend(rest);
    ports.dedup();
    ports.truncate(n);
    cx.rng.shuffle(&mut ports);
    ports
}

/// A SYN scan of `n` ports of `target` from `scanner` starting at `t0`:
/// open ports answer SYN-ACK (the scanner resets), closed ones RST-ACK,
/// filtered ones stay silent and get one retransmission. Returns the time of
/// the last probe.
pub(crate) fn vertical_syn(
    cx: &mut Ctx,
    scanner: IpAddr,
    target: IpAddr,
    n: usize,
    t0: Nanos,
    tag: Tag,
) -> Nanos {
    let ports = port_list(cx, n);
    let open: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| [22u16, 80, 443, 25, 53, 8080].contains(p))
        .take(cx.rng.urange(1, 5))
        .collect();
    let filtered = cx.rng.frange(0.0, 0.3);
    let pps = cx.rng.frange(300.0, 3000.0);
    let sport = cx.rng.range(33_000, 65_000) as u16;
    let ttl = cx.rng.range(37, 60) as u8;
    let rtt = cx.rtt(cx.inside(scanner) && cx.inside(target));
    let opts = [2u8, 4, 5, 0xb4];
    let mut t = t0;
    let mut last = t0;
    let mut retry = Vec::new();
    for &p in &ports {
        let seq = cx.rng.u32();
        let ip = conn::ipm(&mut cx.rng, scanner, target, ttl);
        let tcp = TcpMeta {
            sport,
            dport: p,
            seq,
            ack: 0,
            flags: SYN,
            win: 1024,
            options: &opts,
        };
        cx.tl
            .push_with(t, tag, |out| packet::tcp_frame(out, &ip, &tcp, &[]));
        last = t;
        let back = IpMeta {
            src: target,
            dst: scanner,
            ttl: 64,
            id: 0,
            df: true,
        };
        if open.contains(&p) {
            let o = packet::syn_options(1460, 7, None);
            let sa = TcpMeta {
                sport: p,
                dport: sport,
                seq: cx.rng.u32(),
                ack: seq.wrapping_add(1),
                flags: SYN | ACK,
                win: 64_240,
                options: &o,
            };
            cx.tl.push_with(t + rtt, Tag::NONE, |out| {
                packet::tcp_frame(out, &back, &sa, &[])
            });
            let r = TcpMeta {
                sport,
                dport: p,
                seq: seq.wrapping_add(1),
                ack: 0,
                flags: RST,
                win: 0,
                options: &[],
            };
            let ip2 = conn::ipm(&mut cx.rng, scanner, target, ttl);
            cx.tl.push_with(t + rtt + 30_000, Tag::NONE, |out| {
                packet::tcp_frame(out, &ip2, &r, &[])
            });
        } else if cx.rng.chance(filtered) {
            if retry.len() < n / 3 {
                retry.push(p);
            }
        } else {
            let r = TcpMeta {
                sport: p,
                dport: sport,
                seq: 0,
                ack: seq.wrapping_add(1),
                flags: RST | ACK,
                win: 0,
                options: &[],
            };
            cx.tl.push_with(t + rtt, Tag::NONE, |out| {
                packet::tcp_frame(out, &back, &r, &[])
            });
        }
        t += secs(cx.rng.exp(1.0 / pps));
    }
    // retransmissions of unanswered probes, about a second later
    t += secs(cx.rng.frange(0.8, 1.5));
    for p in retry {
        let ip = conn::ipm(&mut cx.rng, scanner, target, ttl);
        let tcp = TcpMeta {
            sport,
            dport: p,
            seq: cx.rng.u32(),
            ack: 0,
            flags: SYN,
            win: 1024,
            options: &opts,
        };
        cx.tl
            .push_with(t, tag, |out| packet::tcp_frame(out, &ip, &tcp, &[]));
        last = t;
        t += secs(cx.rng.exp(1.0 / pps));
    }
    last
}

/// `port-scan`.
pub(crate) fn port_scan(cx: &mut Ctx) {
    let inside = cx.rng.chance(0.3);
    let scanner = if inside {
        cx.net.client(&mut cx.rng)
    } else {
        cx.net.outside(&mut cx.rng)
    };
    let target = if cx.rng.chance(0.5) {
        cx.net.dmz(&mut cx.rng)
    } else {
        cx.net.server(&mut cx.rng)
    };
    let tag = cx.event("port-scan", "scan", Some(scanner), None);
    let n = cx.count(1000.0, 100);
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let end = vertical_syn(cx, scanner, target, n, t0, tag);
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}

/// `host-sweep`: TCP SYN to one port across a /24, or an ICMP echo sweep.
pub(crate) fn host_sweep(cx: &mut Ctx) {
    let icmp = cx.rng.chance(0.4);
    let scanner = if icmp && cx.rng.chance(0.5) {
        cx.net.client(&mut cx.rng)
    } else {
        cx.net.outside(&mut cx.rng)
    };
    let tag = cx.event("host-sweep", "scan", Some(scanner), None);
    let [a, b, c] = cx.net.server_subnet();
    let mut hosts: Vec<u8> = (1..=254).collect();
    cx.rng.shuffle(&mut hosts);
    hosts.truncate(cx.count(254.0, 60).min(254));
    let live = cx.rng.frange(0.05, 0.3);
    let port = *cx.rng.pick(&[22u16, 80, 443, 445, 3389, 8080, 23]);
    let pps = cx.rng.frange(50.0, 800.0);
    let sport = cx.rng.range(33_000, 65_000) as u16;
    let ttl = cx.rng.range(37, 64) as u8;
    let icmp_id = cx.rng.u16();
    let rtt = cx.rtt(cx.inside(scanner));
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    for (i, &h) in hosts.iter().enumerate() {
        let target = IpAddr::V4(Ipv4Addr::new(a, b, c, h));
        let ip = conn::ipm(&mut cx.rng, scanner, target, ttl);
        let alive = cx.rng.chance(live);
        let back = conn::ipm(&mut cx.rng, target, scanner, 64);
        if icmp {
            let payload = [0u8; 0];
            conn::icmp(
                &mut cx.tl,
                t,
                tag,
                ip,
                8,
                0,
                echo_rest(icmp_id, i as u16),
                &payload,
            );
            if alive {
                conn::icmp(
                    &mut cx.tl,
                    t + rtt,
                    Tag::NONE,
                    back,
                    0,
                    0,
                    echo_rest(icmp_id, i as u16),
                    &payload,
                );
            }
        } else {
            let seq = cx.rng.u32();
            let tcp = TcpMeta {
                sport,
                dport: port,
                seq,
                ack: 0,
                flags: SYN,
                win: 1024,
                options: &[2, 4, 5, 0xb4],
            };
            cx.tl
                .push_with(t, tag, |out| packet::tcp_frame(out, &ip, &tcp, &[]));
            if alive {
                let open = cx.rng.chance(0.6);
                let o = packet::syn_options(1460, 7, None);
                let (flags, opts): (u8, &[u8]) = if open {
                    (SYN | ACK, &o)
                } else {
                    (RST | ACK, &[])
                };
                let r = TcpMeta {
                    sport: port,
                    dport: sport,
                    seq: if open { cx.rng.u32() } else { 0 },
                    ack: seq.wrapping_add(1),
                    flags,
                    win: if open { 64_240 } else { 0 },
                    options: opts,
                };
                cx.tl.push_with(t + rtt, Tag::NONE, |out| {
                    packet::tcp_frame(out, &back, &r, &[])
                });
                if open {
                    let rs = TcpMeta {
                        sport,
                        dport: port,
                        seq: seq.wrapping_add(1),
                        ack: 0,
                        flags: RST,
                        win: 0,
                        options: &[],
                    };
                    let ip2 = conn::ipm(&mut cx.rng, scanner, target, ttl);
                    cx.tl.push_with(t + rtt + 20_000, Tag::NONE, |out| {
                        packet::tcp_frame(out, &ip2, &rs, &[])
                    });
                }
            }
        }
        t += secs(cx.rng.exp(1.0 / pps));
    }
    let (bg_start, bg_end) = (cx.base, t + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}

/// `udp-scan`: empty (or protocol-shaped) datagrams to many ports of 1-3
/// hosts; closed ports answer ICMP port unreachable (rate limited to about
/// one a second, as Linux does), open 53/123/161 answer.
pub(crate) fn udp_scan(cx: &mut Ctx) {
    let scanner = if cx.rng.chance(0.5) {
        cx.net.client(&mut cx.rng)
    } else {
        cx.net.outside(&mut cx.rng)
    };
    let tag = cx.event("udp-scan", "scan", Some(scanner), None);
    let n_targets = cx.rng.urange(1, 4);
    let targets: Vec<IpAddr> = (0..n_targets).map(|_| cx.net.server(&mut cx.rng)).collect();
    let n_ports = cx.count(1000.0, 80);
    let mut ports: Vec<u16> = (1..=1024).collect();
    ports.extend([1434u16, 1900, 5353, 4500, 5060, 11211, 49152]);
    cx.rng.shuffle(&mut ports);
    ports.truncate(n_ports);
    let pps = cx.rng.frange(20.0, 400.0);
    let sport = cx.rng.range(33_000, 65_000) as u16;
    let ttl = cx.rng.range(37, 64) as u8;
    let rtt = cx.rtt(cx.inside(scanner));
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut last_unreach = vec![0 as Nanos; targets.len()];
    let rounds = if cx.rng.chance(0.5) { 2 } else { 1 };
    for _ in 0..rounds {
        for &p in &ports {
            for (k, &target) in targets.iter().enumerate() {
                let payload: Vec<u8> = match p {
                    53 => dns::query(cx.rng.u16(), "", dns::qtype::NS, None),
                    123 => misc::ntp_request(&mut cx.rng, t, 6),
                    161 => misc::snmp("public", cx.rng.u32() & 0x7fff_ffff, None),
                    _ => Vec::new(),
                };
                let ip = conn::ipm(&mut cx.rng, scanner, target, ttl);
                conn::udp(&mut cx.tl, t, tag, ip, sport, p, &payload);
                match p {
                    53 | 123 | 161 if cx.rng.chance(0.7) => {
                        let resp = match p {
                            53 => dns::response(1, "", dns::qtype::NS, &[], 5, None),
                            123 => misc::ntp_response(&mut cx.rng, &payload, t),
                            _ => misc::snmp(
                                "public",
                                1,
                                Some([cx.rng.u32() >> 1, cx.rng.u32() >> 1, cx.rng.u32() >> 1]),
                            ),
                        };
                        let back = conn::ipm(&mut cx.rng, target, scanner, 64);
                        conn::udp(&mut cx.tl, t + rtt, Tag::NONE, back, p, sport, &resp);
                    }
                    _ => {
                        if t >= last_unreach[k] + secs(cx.rng.frange(0.5, 1.0)) {
                            last_unreach[k] = t;
                            conn::port_unreachable(
                                &mut cx.tl,
                                t + rtt,
                                Tag::NONE,
                                &mut cx.rng,
                                &ip,
                                sport,
                                p,
                                &payload,
                            );
                        }
                    }
                }
                t += secs(cx.rng.exp(1.0 / pps));
            }
        }
    }
    let (bg_start, bg_end) = (cx.base, t + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}
