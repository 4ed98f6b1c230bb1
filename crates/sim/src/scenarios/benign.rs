//! Benign hard cases (truth `"events": []`): `flash-crowd`, `nightly-backup`,
//! `busy-resolver`, `benign-periodic` and `large-download`. Each looks like
//! one attack category at a glance and is not one; every alert on them is a
//! false alarm.

use std::net::IpAddr;

use crate::app::dns::{self, qtype, Answer, Rdata};
use crate::app::{misc, ssh, tls};
use crate::background::{self, dns_lookup, site_answers, sites};
use crate::conn::{self, Side, TcpConn};
use crate::ctx::{secs, Ctx, MS, SEC};
use crate::net::eph_port;
use crate::timeline::Tag;

/// `flash-crowd`: thousands of real clients each load a page from the home
/// web server within a minute or two (a news spike), one visit each.
pub(crate) fn flash_crowd(cx: &mut Ctx) {
    let server = cx.net.dmz(&mut cx.rng);
    let n = cx.count(2_000.0, 100);
    let burst = cx.rng.frange(30.0, 120.0);
    let t0 = cx.base + secs(cx.rng.frange(20.0, 60.0));
    let name = format!(
        "www.{}.example.org",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 8)
    );
    let https = cx.rng.chance(0.7);
    let mut end = t0;
    for _ in 0..n {
        let client = cx.net.outside(&mut cx.rng);
        // arrivals peak early and decay (triangular-ish)
        let u = cx.rng.f64().min(cx.rng.f64());
        let t = t0 + secs(u * burst);
        let rtt = cx.rtt(false);
        let k = cx.rng.urange(1, 5);
        let port = cx.eph(client);
        let c = if https {
            let ex: Vec<(usize, usize)> = (0..k)
                .map(|_| {
                    (
                        cx.rng.range(250, 700) as usize,
                        cx.rng.lognormal(3500.0, 0.8).clamp(400.0, 40_000.0) as usize,
                    )
                })
                .collect();
            background::tls_session(
                cx,
                (client, port),
                (server, 443),
                &name,
                t,
                rtt,
                false,
                Tag::NONE,
                &ex,
                true,
            )
        } else {
            let ex: Vec<(&str, usize)> = (0..k)
                .map(|i| {
                    let uri = if i == 0 {
                        "/"
                    } else {
                        *cx.rng.pick(&[
                            "/static/site.css",
                            "/static/app.js",
                            "/img/hero.jpg",
                            "/favicon.ico",
                        ])
                    };
                    (
                        uri,
                        cx.rng.lognormal(3500.0, 0.8).clamp(400.0, 40_000.0) as usize,
                    )
                })
                .collect();
            background::http_session(
                cx,
                (client, port),
                (server, 80),
                &name,
                t,
                rtt,
                false,
                Tag::NONE,
                &ex,
            )
        };
        end = end.max(c.now);
    }
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(20.0, 60.0)));
    background::add(cx, bg_start, bg_end);
}

/// `nightly-backup`: inside hosts push backups to the inside backup server
/// (rsync over SSH, rsync daemon or a backup agent port) in a few sessions
/// minutes apart.
pub(crate) fn nightly_backup(cx: &mut Ctx) {
    let backup = cx.net.server(&mut cx.rng);
    let port = *cx.rng.pick(&[22u16, 873, 9102]);
    let sources: Vec<IpAddr> = (0..cx.rng.urange(1, 4))
        .map(|_| cx.net.server(&mut cx.rng))
        .collect();
    let total = cx.count(30_000_000.0, 400_000) as u64;
    let sessions = cx.rng.urange(2, 6) as u64;
    let mut t = cx.base + secs(cx.rng.frange(20.0, 120.0));
    let mut end = t;
    for i in 0..sessions {
        let src = sources[i as usize % sources.len()];
        let bytes = total / sessions;
        let rtt = cx.rtt(true);
        let mut c = cx.tcp(src, (backup, port), t, rtt, true, Tag::NONE);
        if port == 22 {
            background::ssh_kex(cx, &mut c);
            for (a, b) in [(28usize, 28usize), (700, 12), (40, 24), (120, 8)] {
                let p = ssh::encrypted(&mut cx.rng, a);
                c.send(&mut cx.tl, Side::Client, &p, cx.rng.range(100_000, 2 * MS));
                let p = ssh::encrypted(&mut cx.rng, b);
                c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(200_000, 3 * MS));
            }
        } else {
            let hello = if port == 873 {
                b"@RSYNCD: 31.0\n".to_vec()
            } else {
                cx.rng.bytes(64)
            };
            c.handshake(&mut cx.tl);
            c.send(&mut cx.tl, Side::Server, &hello, cx.rng.range(MS, 5 * MS));
            c.send(&mut cx.tl, Side::Client, &hello, cx.rng.range(MS, 5 * MS));
        }
        c.rate = cx.rng.frange(20e6, 80e6);
        let mut pool = tls::TlsStream::new(&mut cx.rng, bytes + 1);
        // compressed data in bursts with pauses (file scanning)
        let chunks = cx.rng.urange(3, 12) as u64;
        for k in 0..chunks {
            let part = if k + 1 == chunks {
                bytes - bytes / chunks * k
            } else {
                bytes / chunks
            };
            c.send_with(
                &mut cx.tl,
                Side::Client,
                part,
                secs(cx.rng.frange(0.05, 4.0)),
                |_, buf| pool.fill(buf),
            );
            let n = cx.rng.urange(40, 200);
            let ack = cx.rng.bytes(n);
            c.send(&mut cx.tl, Side::Server, &ack, cx.rng.range(MS, 30 * MS));
        }
        c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 100 * MS));
        end = end.max(c.now);
        t = c.now + secs(cx.rng.frange(60.0, 600.0) * cx.scale.clamp(0.1, 1.0));
    }
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(20.0, 60.0)));
    background::add(cx, bg_start, bg_end);
}

/// `busy-resolver`: many clients, many ordinary lookups of CDN-style long but
/// normal names through an inside resolver, which forwards cache misses to
/// outside authoritative servers.
pub(crate) fn busy_resolver(cx: &mut Ctx) {
    let resolver = cx.net.server(&mut cx.rng);
    let clients: Vec<IpAddr> = (0..cx.count(40.0, 8))
        .map(|_| cx.net.client(&mut cx.rng))
        .collect();
    let auths: Vec<IpAddr> = (0..cx.rng.urange(8, 30))
        .map(|_| cx.net.outside(&mut cx.rng))
        .collect();
    let all_sites = sites(cx, 80);
    let n = cx.count(6_000.0, 300);
    let dur = cx.rng.frange(300.0, 600.0);
    let t0 = cx.base + secs(cx.rng.frange(5.0, 30.0));
    let mut end = t0;
    for _ in 0..n {
        let client = *cx.rng.pick(&clients);
        let t = t0 + secs(cx.rng.frange(0.0, dur));
        let r = cx.rng.f64();
        let (name, qt, answers): (String, u16, Vec<Answer>) = if r < 0.55 {
            let s = cx.rng.pick(&all_sites).clone();
            (s.name.clone(), qtype::A, site_answers(cx, &s, false))
        } else if r < 0.8 {
            let s = cx.rng.pick(&all_sites).clone();
            let a = site_answers(cx, &s, true);
            (s.name.clone(), qtype::AAAA, a)
        } else if r < 0.9 {
            // CDN-style long but ordinary names
            let name = match cx.rng.below(4) {
                0 => format!(
                    "r{}---sn-{}.googlevideo.example.com",
                    cx.rng.below(9),
                    cx.rng.string(b"abcdefghijklmnopqrstuvwxyz0123456789", 8)
                ),
                1 => format!(
                    "d{}.cloudfront.example.net",
                    cx.rng.string(b"abcdefghijklmnopqrstuvwxyz0123456789", 13)
                ),
                2 => format!("e{}.dscx.akamaiedge.example.net", cx.rng.range(1000, 9999)),
                _ => format!(
                    "{}-{}.s3.dualstack.eu-west-1.amazonaws.example.com",
                    cx.rng.pick(&["prod", "assets", "media"]),
                    cx.rng.string(b"abcdef0123456789", 12)
                ),
            };
            let a = [Answer {
                name: name.clone(),
                ttl: 20,
                data: Rdata::A([198, 18, cx.rng.below(256) as u8, cx.rng.range(1, 255) as u8]),
            }];
            (name, qtype::A, a.to_vec())
        } else if r < 0.94 {
            let s = cx.rng.pick(&all_sites).clone();
            (s.name.clone(), qtype::HTTPS, Vec::new())
        } else if r < 0.97 {
            let ip = cx.rng.pick(&all_sites).ip;
            let o = match ip {
                IpAddr::V4(a) => a.octets(),
                _ => [192, 0, 2, 1],
            };
            let name = format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0]);
            let a = [Answer {
                name: name.clone(),
                ttl: 3600,
                data: Rdata::Ptr(format!("host-{}.example.net", o[3])),
            }];
            (name, qtype::PTR, a.to_vec())
        } else if r < 0.99 {
            let d = format!(
                "{}.example.com",
                cx.rng.pick(&["mail", "corp", "partner", "vendor"])
            );
            let a = [Answer {
                name: d.clone(),
                ttl: 3600,
                data: Rdata::Mx(10, format!("mx1.{d}")),
            }];
            (d, qtype::MX, a.to_vec())
        } else {
            let d = format!(
                "{}.example.org",
                cx.rng.pick(&["corp", "partner", "vendor"])
            );
            let a = [Answer {
                name: d.clone(),
                ttl: 3600,
                data: Rdata::Txt(vec![b"v=spf1 include:_spf.example.net ~all".to_vec()]),
            }];
            (d, qtype::TXT, a.to_vec())
        };
        let when = dns_lookup(cx, client, resolver, &name, qt, &answers, t, Tag::NONE);
        // cache miss: the resolver asks an authoritative server meanwhile
        if cx.rng.chance(0.3) {
            let auth = *cx.rng.pick(&auths);
            let id = cx.rng.u16();
            let port = cx.eph(resolver);
            let q = dns::query(id, &name, qt, Some(1232));
            let ip = conn::ipm(&mut cx.rng, resolver, auth, 64);
            let tq = t + (when - t) / 4;
            conn::udp(&mut cx.tl, tq, Tag::NONE, ip, port, 53, &q);
            let resp = dns::response(id, &name, qt, &answers, 0, Some(1232));
            let back = conn::ipm(&mut cx.rng, auth, resolver, 55);
            conn::udp(
                &mut cx.tl,
                tq + (when - tq) * 3 / 4,
                Tag::NONE,
                back,
                53,
                port,
                &resp,
            );
        }
        end = end.max(when);
    }
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(10.0, 40.0)));
    background::add(cx, bg_start, bg_end);
}

/// `benign-periodic`: NTP polls, OS update checks at loose intervals, and a
/// monitoring server polling many inside hosts with SNMP (161/UDP) every
/// minute and HTTPS health checks every five.
pub(crate) fn benign_periodic(cx: &mut Ctx) {
    let dur = secs((3600.0 * cx.scale).clamp(600.0, 3600.0) * cx.rng.frange(0.7, 1.0));
    let t0 = cx.base + secs(cx.rng.frange(5.0, 30.0));
    let t1 = t0 + dur;
    // NTP
    let ntp: Vec<IpAddr> = (0..2).map(|_| cx.net.outside(&mut cx.rng)).collect();
    for _ in 0..cx.rng.urange(2, 5) {
        let host = cx.net.client(&mut cx.rng);
        let server = *cx.rng.pick(&ntp);
        let poll = cx.rng.range(6, 8) as u8;
        background::ntp_polls(cx, host, server, t0, t1, poll, Tag::NONE);
    }
    // update checks: exponential gaps (no period), a few hosts
    let update_srv = cx.net.outside(&mut cx.rng);
    let update_name = "update.os-vendor.example.com";
    for _ in 0..cx.rng.urange(3, 8) {
        let host = cx.net.client(&mut cx.rng);
        let mut t = t0 + secs(cx.rng.frange(0.0, 600.0));
        while t < t1 {
            let rtt = cx.rtt(false);
            let port = cx.eph(host);
            let resp = cx.rng.range(300, 4_000) as usize;
            background::tls_session(
                cx,
                (host, port),
                (update_srv, 443),
                update_name,
                t,
                rtt,
                true,
                Tag::NONE,
                &[(400, resp)],
                true,
            );
            t += secs(cx.rng.exp(1200.0) + 300.0);
        }
    }
    // monitoring
    let monitor = cx.net.server(&mut cx.rng);
    let targets: Vec<IpAddr> = (0..cx.count(40.0, 10))
        .map(|_| {
            if cx.rng.chance(0.5) {
                cx.net.server(&mut cx.rng)
            } else {
                cx.net.client(&mut cx.rng)
            }
        })
        .collect();
    let community = *cx.rng.pick(&["public", "monitor", "n0c-ro"]);
    let snmp_port = eph_port(&mut cx.rng);
    let mut round = t0;
    let mut k = 0u32;
    while round < t1 {
        for (i, &h) in targets.iter().enumerate() {
            let t = round + i as u64 * cx.rng.range(2 * MS, 20 * MS);
            let req_id = cx.rng.u32() >> 1;
            let q = misc::snmp(community, req_id, None);
            let ip = conn::ipm(&mut cx.rng, monitor, h, 64);
            conn::udp(&mut cx.tl, t, Tag::NONE, ip, snmp_port, 161, &q);
            let v = [k * 6000 + i as u32, cx.rng.u32() >> 2, cx.rng.u32() >> 2];
            let r = misc::snmp(community, req_id, Some(v));
            let back = conn::ipm(&mut cx.rng, h, monitor, 64);
            conn::udp(
                &mut cx.tl,
                t + cx.rng.range(300_000, 3 * MS),
                Tag::NONE,
                back,
                161,
                snmp_port,
                &r,
            );
            if k % 5 == 0 {
                let rtt = cx.rtt(true);
                let port = cx.eph(monitor);
                let mut c = TcpConn::new(
                    &mut cx.rng,
                    (monitor, port),
                    (h, 443),
                    t + 50 * MS,
                    rtt,
                    true,
                    Tag::NONE,
                );
                c.handshake(&mut cx.tl);
                let hello = tls::client_hello(&mut cx.rng, &format!("host{i}.corp.example.com"));
                c.send(&mut cx.tl, Side::Client, &hello, 100_000);
                let fl = tls::server_flight(&mut cx.rng, 1800);
                c.send(&mut cx.tl, Side::Server, &fl, MS);
                let fin = tls::client_finished(&mut cx.rng);
                c.send(&mut cx.tl, Side::Client, &fin, 200_000);
                let req = tls::app_records(&mut cx.rng, 180);
                c.send(&mut cx.tl, Side::Client, &req, 10_000);
                let resp = tls::app_records(&mut cx.rng, 220);
                c.send(&mut cx.tl, Side::Server, &resp, 3 * MS);
                c.close(&mut cx.tl, Side::Client, MS);
            }
        }
        k += 1;
        round += 60 * SEC + cx.rng.range(0, 500 * MS);
    }
    let (bg_start, bg_end) = (cx.base, t1 + secs(cx.rng.frange(5.0, 30.0)));
    background::add(cx, bg_start, bg_end);
}

/// `large-download`: inside clients pull big files from outside servers
/// (software images, videos), which is inbound volume, not exfiltration.
pub(crate) fn large_download(cx: &mut Ctx) {
    let resolver = cx.net.server(&mut cx.rng);
    let n = cx.rng.urange(2, 5);
    let total = cx.count(32_000_000.0, 500_000) as u64;
    let mut t = cx.base + secs(cx.rng.frange(10.0, 40.0));
    let mut end = t;
    let all_sites = sites(cx, 4);
    for _ in 0..n {
        let client = cx.net.client(&mut cx.rng);
        let site = cx.rng.pick(&all_sites).clone();
        let ans = site_answers(cx, &site, false);
        let when = dns_lookup(
            cx,
            client,
            resolver,
            &site.name,
            qtype::A,
            &ans,
            t,
            Tag::NONE,
        );
        let e = background::download(
            cx,
            client,
            site.ip,
            &site.name,
            when + MS,
            total / n as u64,
            Tag::NONE,
        );
        end = end.max(e);
        t += secs(cx.rng.frange(5.0, 60.0));
    }
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(20.0, 60.0)));
    background::add(cx, bg_start, bg_end);
}
