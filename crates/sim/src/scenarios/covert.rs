//! Data theft and command-and-control: `exfiltration` (a big HTTPS upload),
//! `beaconing` (periodic small check-ins with jitter) and `dns-tunnel` (data
//! in long high-entropy DNS names and TXT/NULL/CNAME/MX answers).

use std::net::IpAddr;

use serde_json::json;

use crate::app::dns::{self, qtype, Answer, Rdata};
use crate::app::http;
use crate::background::{self, dns_lookup};
use crate::conn::{self, Side};
use crate::ctx::{secs, Ctx, MS, SEC};
use crate::timeline::Tag;

use super::mixed::tls_upload;

/// `exfiltration`: 100 MB (scaled) over one to three HTTPS connections to
/// one outside receiver.
pub(crate) fn exfiltration(cx: &mut Ctx) {
    let thief = cx.net.client(&mut cx.rng);
    let receiver = cx.net.outside(&mut cx.rng);
    let tag = cx.event("exfiltration", "exfiltration", Some(thief), Some(receiver));
    let total = cx.count(100_000_000.0, 1_000_000) as u64;
    let parts = cx.rng.urange(1, 4) as u64;
    let sni = format!(
        "{}.storage.example.net",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz0123456789", 12)
    );
    let mut t = cx.base + secs(cx.rng.frange(20.0, 90.0));
    let rate = cx.rng.frange(3e6, 12e6);
    let mut sent = 0;
    for i in 0..parts {
        let bytes = if i + 1 == parts {
            total - sent
        } else {
            total / parts
        };
        sent += bytes;
        let c = tls_upload(cx, thief, receiver, 443, &sni, t, bytes, rate, tag);
        t = c.now + secs(cx.rng.frange(0.5, 20.0));
    }
    cx.extra(tag, "bytes", json!(total));
    let (bg_start, bg_end) = (cx.base, t + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}

/// `beaconing`: an inside host checks in every N s (5-300) ± jitter (0-20 %)
/// over HTTPS or HTTP with small requests and answers.
pub(crate) fn beaconing(cx: &mut Ctx) {
    let host = cx.net.client(&mut cx.rng);
    let controller = cx.net.outside(&mut cx.rng);
    let tag = cx.event("beaconing", "beaconing", Some(host), Some(controller));
    let period = (cx.rng.frange(5f64.ln(), 300f64.ln())).exp();
    let jitter = cx.rng.frange(0.0, 0.2);
    let count = cx.count((7200.0 / period).clamp(20.0, 120.0), 12);
    let https = cx.rng.chance(0.6);
    let name = format!(
        "{}.{}.example.com",
        cx.rng
            .pick(&["api", "update", "cdn", "telemetry", "static"]),
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 9)
    );
    let uri = format!(
        "/{}/{}",
        cx.rng.pick(&["api/v1", "gate", "news", "submit", "images"]),
        cx.rng.string(b"abcdef0123456789", 8)
    );
    let port = if https {
        443
    } else {
        *cx.rng.pick(&[80u16, 80, 8080])
    };
    let rtt = cx.rtt(false);
    let resolver = cx.net.server(&mut cx.rng);
    cx.extra(tag, "period_s", json!((period * 1000.0).round() / 1000.0));
    cx.extra(tag, "jitter", json!((jitter * 1000.0).round() / 1000.0));
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut last_lookup = 0;
    let mut end = t;
    for _ in 0..count {
        let mut start = t;
        if t >= last_lookup + 300 * SEC {
            last_lookup = t;
            let ans = [Answer {
                name: name.clone(),
                ttl: 300,
                data: ip_rdata(controller),
            }];
            start = dns_lookup(cx, host, resolver, &name, qtype::A, &ans, t, Tag::NONE)
                + cx.rng.range(100_000, MS);
        }
        let req = cx.rng.range(150, 600) as usize;
        let resp = if cx.rng.chance(0.1) {
            cx.rng.range(2_000, 20_000)
        } else {
            cx.rng.range(80, 400)
        } as usize;
        let port_c = cx.eph(host);
        let c = if https {
            background::tls_session(
                cx,
                (host, port_c),
                (controller, port),
                &name,
                start,
                rtt,
                true,
                tag,
                &[(req, resp)],
                true,
            )
        } else {
            let mut c = cx.tcp(host, (controller, port), start, rtt, true, tag);
            c.handshake(&mut cx.tl);
            let body = cx.rng.string(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                req,
            );
            let r = http::request(
                "POST",
                &name,
                &uri,
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
                Some(body.as_bytes()),
            );
            c.send(&mut cx.tl, Side::Client, &r, cx.rng.range(50_000, MS));
            let a = http::response(&mut cx.rng, 200, "OK", "application/octet-stream", resp, "");
            c.send(&mut cx.tl, Side::Server, &a, cx.rng.range(5 * MS, 60 * MS));
            c.close(&mut cx.tl, Side::Server, cx.rng.range(MS, 10 * MS));
            c
        };
        end = end.max(c.now);
        t += secs(cx.rng.jitter(period, jitter));
    }
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}

fn ip_rdata(ip: IpAddr) -> Rdata {
    match ip {
        IpAddr::V4(a) => Rdata::A(a.octets()),
        IpAddr::V6(a) => Rdata::Aaaa(a.octets()),
    }
}

/// `dns-tunnel`: base32 or hex encoded chunks in 2-3 labels of 40-63
/// characters under one domain, TXT/NULL/CNAME/MX queries at 30-200 a minute.
pub(crate) fn dns_tunnel(cx: &mut Ctx) {
    let host = cx.net.client(&mut cx.rng);
    let tag = cx.event("dns-tunnel", "dns-tunnel", Some(host), None);
    let domain = format!(
        "{}.{}.example.net",
        cx.rng.pick(&["t", "d", "ns1", "x"]),
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 7)
    );
    let resolver = if cx.rng.chance(0.6) {
        cx.net.server(&mut cx.rng)
    } else {
        cx.net.outside(&mut cx.rng)
    };
    let all = [qtype::TXT, qtype::NULL, qtype::CNAME, qtype::MX];
    let types: Vec<u16> = if cx.rng.chance(0.5) {
        vec![*cx.rng.pick(&all)]
    } else {
        all.to_vec()
    };
    let hex = cx.rng.chance(0.5);
    let alphabet: &[u8] = if hex {
        b"0123456789abcdef"
    } else {
        b"abcdefghijklmnopqrstuvwxyz234567"
    };
    let per_min = cx.rng.frange(30.0, 200.0);
    let n = cx.count(600.0, 60);
    let rtt = cx.rtt(cx.inside(resolver));
    let sport = cx.eph(host);
    let fixed_port = cx.rng.chance(0.5);
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut seqno: u32 = cx.rng.u32();
    for _ in 0..n {
        let qt = *cx.rng.pick(&types);
        let labels = cx.rng.urange(2, 4);
        let mut name = String::new();
        if hex {
            name.push_str(&format!("{:08x}.", seqno));
        }
        for _ in 0..labels {
            let len = cx.rng.urange(40, 64);
            name.push_str(&cx.rng.string(alphabet, len));
            name.push('.');
        }
        name.push_str(&domain);
        seqno = seqno.wrapping_add(1);
        let k = cx.rng.urange(30, 63);
        let data = match qt {
            qtype::TXT => Rdata::Txt(vec![cx
                .rng
                .string(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                    k * 4,
                )
                .into_bytes()]),
            qtype::NULL => Rdata::Null(cx.rng.bytes(k * 14)),
            qtype::CNAME => Rdata::Cname(format!("{}.{domain}", cx.rng.string(alphabet, k))),
            _ => Rdata::Mx(10, format!("{}.{domain}", cx.rng.string(alphabet, k))),
        };
        let ans = [Answer {
            name: name.clone(),
            ttl: 0,
            data,
        }];
        let id = cx.rng.u16();
        let port = if fixed_port { sport } else { cx.eph(host) };
        let edns = Some(4096);
        let q = dns::query(id, &name, qt, edns);
        let ip = conn::ipm(&mut cx.rng, host, resolver, 64);
        conn::udp(&mut cx.tl, t, tag, ip, port, 53, &q);
        let r = dns::response(id, &name, qt, &ans, 0, edns);
        let back = conn::ipm(&mut cx.rng, resolver, host, 60);
        let delay = rtt + cx.rng.range(5 * MS, 80 * MS);
        conn::udp(&mut cx.tl, t + delay, tag, back, 53, port, &r);
        t += secs(cx.rng.exp(60.0 / per_min));
    }
    let (bg_start, bg_end) = (cx.base, t + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}
