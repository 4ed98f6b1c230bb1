//! Denial of service: `syn-flood`, `udp-flood`, `icmp-flood`,
//! `dns-amplification`, `http-flood` and `slowloris`. Truth: one `dos` event
//! keyed by the victim, spanning the attack packets (not the victim's
//! answers).

use std::net::IpAddr;

use serde_json::json;
use vigil_core::Nanos;

use crate::app::dns::{self, qtype, Answer, Rdata};
use crate::app::http;
use crate::background;
use crate::conn::{self, Side};
use crate::ctx::{secs, Ctx, MS, SEC};
use crate::packet::echo_rest;
use crate::timeline::Tag;

use super::floods;

fn finish(cx: &mut Ctx, end: Nanos) {
    let tail = secs(cx.rng.frange(20.0, 90.0));
    let (bg_start, bg_end) = (cx.base, end + tail);
    background::add(cx, bg_start, bg_end);
}

/// `syn-flood`.
pub(crate) fn syn_flood(cx: &mut Ctx) {
    let victim = cx.net.dmz(&mut cx.rng);
    let ports: Vec<u16> = match cx.rng.below(3) {
        0 => vec![80],
        1 => vec![443],
        _ => vec![80, 443, 22, 25],
    };
    let n = cx.count(200_000.0, 2_000);
    let dur = secs(n as f64 / cx.rng.frange(3_000.0, 12_000.0));
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let tag = cx.event("syn-flood", "dos", None, Some(victim));
    cx.extra(tag, "packets", json!(n));
    let answer = cx.rng.frange(0.05, 0.4);
    floods::syn_flood(cx, victim, &ports, t0, dur, n, answer, tag);
    finish(cx, t0 + dur);
}

/// `udp-flood`.
pub(crate) fn udp_flood(cx: &mut Ctx) {
    let victim = if cx.rng.chance(0.7) {
        cx.net.dmz(&mut cx.rng)
    } else {
        cx.net.server(&mut cx.rng)
    };
    let big = cx.rng.chance(0.3);
    let size = if big { (500, 1400) } else { (0, 200) };
    let avg = (size.0 + size.1) / 2 + 42;
    let n = cx.count(150_000f64.min(40e6 / avg as f64), 2_000);
    let dur = secs(n as f64 / cx.rng.frange(3_000.0, 12_000.0));
    let port = cx
        .rng
        .chance(0.4)
        .then_some(*cx.rng.pick(&[53u16, 123, 80, 443, 27015]));
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let tag = cx.event("udp-flood", "dos", None, Some(victim));
    cx.extra(tag, "packets", json!(n));
    floods::udp_flood(cx, victim, port, size, t0, dur, n, tag);
    finish(cx, t0 + dur);
}

/// `icmp-flood`: echo requests from spoofed sources or a handful of bots.
pub(crate) fn icmp_flood(cx: &mut Ctx) {
    let victim = cx.net.dmz(&mut cx.rng);
    let spoofed = cx.rng.chance(0.5);
    let bots: Vec<IpAddr> = (0..cx.rng.urange(1, 20))
        .map(|_| cx.net.outside(&mut cx.rng))
        .collect();
    let payload_len = *cx.rng.pick(&[0usize, 32, 56, 56, 64, 120, 256, 1000, 1472]);
    let frame = payload_len + 42;
    let n = cx.count(150_000f64.min(40e6 / frame as f64), 2_000);
    let dur = secs(n as f64 / cx.rng.frange(3_000.0, 12_000.0));
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let tag = cx.event("icmp-flood", "dos", None, Some(victim));
    cx.extra(tag, "packets", json!(n));
    let answer = cx.rng.frange(0.0, 0.5);
    let payload = cx.rng.bytes(payload_len);
    let ids: Vec<u16> = bots.iter().map(|_| cx.rng.u16()).collect();
    let mut seq = vec![0u16; bots.len()];
    for t in floods::arrivals(cx, n, t0, dur) {
        let (src, id, s) = if spoofed {
            (cx.net.spoofed(&mut cx.rng), cx.rng.u16(), cx.rng.u16())
        } else {
            let k = cx.rng.urange(0, bots.len());
            seq[k] = seq[k].wrapping_add(1);
            (bots[k], ids[k], seq[k])
        };
        let ttl = cx.rng.range(40, 250) as u8;
        let ip = conn::ipm(&mut cx.rng, src, victim, ttl);
        conn::icmp(&mut cx.tl, t, tag, ip, 8, 0, echo_rest(id, s), &payload);
        if cx.rng.chance(answer) {
            let back = conn::ipm(&mut cx.rng, victim, src, 64);
            conn::icmp(
                &mut cx.tl,
                t + cx.rng.range(20_000, 300_000),
                Tag::NONE,
                back,
                0,
                0,
                echo_rest(id, s),
                &payload,
            );
        }
    }
    finish(cx, t0 + dur);
}

/// `dns-amplification`: open resolvers answer spoofed ANY/TXT queries with
/// large (often fragmented) responses to the victim.
pub(crate) fn dns_amplification(cx: &mut Ctx) {
    let victim = if cx.rng.chance(0.6) {
        cx.net.dmz(&mut cx.rng)
    } else {
        cx.net.client(&mut cx.rng)
    };
    let n_res = cx.count(300.0, 20);
    let resolvers: Vec<IpAddr> = (0..n_res).map(|_| cx.net.outside(&mut cx.rng)).collect();
    let n = cx.count(12_000.0, 300);
    let dur = secs(n as f64 / cx.rng.frange(300.0, 1_200.0));
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let tag = cx.event("dns-amplification", "dos", None, Some(victim));
    cx.extra(tag, "packets", json!(n));
    // one to three amplifier domains, each with a prebuilt large answer
    let templates: Vec<(Vec<u8>, u16)> = (0..cx.rng.urange(1, 4))
        .map(|_| {
            let domain = format!(
                "{}.example.org",
                cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 6)
            );
            let qt = if cx.rng.chance(0.5) {
                qtype::ANY
            } else {
                qtype::TXT
            };
            let mut answers = Vec::new();
            let n_txt = cx.rng.urange(6, 16);
            for _ in 0..n_txt {
                let s = cx.rng.string(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
                    250,
                );
                answers.push(Answer {
                    name: domain.clone(),
                    ttl: 3600,
                    data: Rdata::Txt(vec![s.into_bytes()]),
                });
            }
            if qt == qtype::ANY {
                answers.push(Answer {
                    name: domain.clone(),
                    ttl: 3600,
                    data: Rdata::A([192, 0, 2, cx.rng.range(1, 255) as u8]),
                });
                answers.push(Answer {
                    name: domain.clone(),
                    ttl: 3600,
                    data: Rdata::Mx(10, format!("mail.{domain}")),
                });
                answers.push(Answer {
                    name: domain.clone(),
                    ttl: 3600,
                    data: Rdata::Ns(format!("ns1.{domain}")),
                });
            }
            (dns::response(0, &domain, qt, &answers, 0, Some(4096)), qt)
        })
        .collect();
    let victim_port = cx
        .rng
        .chance(0.5)
        .then(|| cx.rng.range(1024, 65_536) as u16);
    let mut last_unreach = 0;
    for t in floods::arrivals(cx, n, t0, dur) {
        let r = *cx.rng.pick(&resolvers);
        let (tpl, _) = cx.rng.pick(&templates);
        let mut msg = tpl.clone();
        let id = cx.rng.u16().to_be_bytes();
        msg[0] = id[0];
        msg[1] = id[1];
        let dport = victim_port.unwrap_or_else(|| cx.rng.range(1024, 65_536) as u16);
        let ttl = cx.rng.range(40, 60) as u8;
        let ip = conn::ipm(&mut cx.rng, r, victim, ttl);
        conn::udp(&mut cx.tl, t, tag, ip, 53, dport, &msg);
        if t > last_unreach + SEC / 10 {
            last_unreach = t;
            conn::port_unreachable(
                &mut cx.tl,
                t + 50_000,
                Tag::NONE,
                &mut cx.rng,
                &ip,
                53,
                dport,
                &msg,
            );
        }
    }
    finish(cx, t0 + dur);
}

/// `http-flood`: tens of bots complete handshakes and hammer the site with
/// GETs (cache-busting query strings) at several requests a second each.
pub(crate) fn http_flood(cx: &mut Ctx) {
    let victim = cx.net.dmz(&mut cx.rng);
    let n_bots = cx.count(50.0, 8);
    let bots: Vec<IpAddr> = (0..n_bots).map(|_| cx.net.outside(&mut cx.rng)).collect();
    let total = cx.count(15_000.0, 300);
    let dur_s = cx.rng.frange(40.0, 90.0);
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let tag = cx.event("http-flood", "dos", None, Some(victim));
    cx.extra(tag, "requests", json!(total));
    let host = format!(
        "www.{}.example.com",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 7)
    );
    let bust = cx.rng.chance(0.6);
    let fixed_ua = cx.rng.chance(0.5);
    let per_bot = total.div_ceil(n_bots);
    let overload = cx.rng.frange(0.3, 0.9);
    let mut end = t0;
    for bot in bots {
        let rtt = cx.rtt(false);
        let rate = per_bot as f64 / dur_s;
        let mut t = t0 + secs(cx.rng.frange(0.0, 3.0));
        let mut left = per_bot;
        let ua = *cx.rng.pick(http::BROWSER_UAS);
        while left > 0 {
            let k = cx.rng.urange(1, 11).min(left);
            left -= k;
            let mut c = cx.tcp(bot, (victim, 80), t, rtt, false, tag);
            c.handshake(&mut cx.tl);
            for _ in 0..k {
                let uri = if bust {
                    format!("/?{}={}", cx.rng.string(b"abcdefghij", 3), cx.rng.u32())
                } else {
                    cx.rng.pick(&["/", "/index.php", "/search"]).to_string()
                };
                let ua = if fixed_ua { "Mozilla/5.0" } else { ua };
                let req = http::request("GET", &host, &uri, ua, None);
                c.send(&mut cx.tl, Side::Client, &req, secs(cx.rng.exp(0.3 / rate)));
                let resp = if cx.rng.chance(overload) {
                    http::response(
                        &mut cx.rng,
                        503,
                        "Service Unavailable",
                        "text/html",
                        190,
                        "Retry-After: 30\r\n",
                    )
                } else {
                    let len = cx.rng.range(1_000, 3_000) as usize;
                    http::response(&mut cx.rng, 200, "OK", "text/html; charset=utf-8", len, "")
                };
                c.send(
                    &mut cx.tl,
                    Side::Server,
                    &resp,
                    cx.rng.range(20 * MS, 400 * MS),
                );
            }
            c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 20 * MS));
            end = end.max(c.now);
            t = c.now + secs(cx.rng.exp(0.7 * k as f64 / rate));
        }
    }
    finish(cx, end);
}

/// `slowloris`: hundreds of connections that send a partial request and then
/// one more header line every 10-15 s, never finishing.
pub(crate) fn slowloris(cx: &mut Ctx) {
    let victim = cx.net.dmz(&mut cx.rng);
    let attackers: Vec<IpAddr> = (0..cx.rng.urange(1, 3))
        .map(|_| cx.net.outside(&mut cx.rng))
        .collect();
    let conns = cx.count(400.0, 40);
    let dur_s = cx.rng.frange(120.0, 300.0) * cx.scale.clamp(0.2, 1.0);
    let keep = cx.rng.frange(8.0, 15.0);
    let ramp = cx.rng.frange(3.0, 20.0);
    let host = format!(
        "www.{}.example.org",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 7)
    );
    let port = *cx.rng.pick(&[80u16, 80, 8080]);
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let tag = cx.event("slowloris", "dos", None, Some(victim));
    cx.extra(tag, "connections", json!(conns));
    let mut end = t0;
    for _ in 0..conns {
        let a = *cx.rng.pick(&attackers);
        let rtt = cx.rtt(false);
        let start = t0 + secs(cx.rng.frange(0.0, ramp));
        let mut c = cx.tcp(a, (victim, port), start, rtt, false, tag);
        c.handshake(&mut cx.tl);
        let ua = *cx.rng.pick(http::BROWSER_UAS);
        let first = format!("GET /?{} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept-language: en-US,en,q=0.5\r\n", cx.rng.below(2000));
        c.send(
            &mut cx.tl,
            Side::Client,
            first.as_bytes(),
            cx.rng.range(MS, 10 * MS),
        );
        let stop = start + secs(dur_s);
        loop {
            let think = secs(cx.rng.jitter(keep, 0.1));
            if c.now + think > stop {
                break;
            }
            let line = format!("X-a: {}\r\n", cx.rng.below(5000));
            c.send(&mut cx.tl, Side::Client, line.as_bytes(), think);
        }
        if cx.rng.chance(0.3) {
            let r = http::response(
                &mut cx.rng,
                408,
                "Request Timeout",
                "text/html",
                0,
                "Connection: close\r\n",
            );
            c.send(&mut cx.tl, Side::Server, &r, cx.rng.range(MS, 2 * SEC));
            c.close(&mut cx.tl, Side::Server, MS);
        }
        end = end.max(c.now);
    }
    finish(cx, end);
}
