//! Benign background traffic, and the session builders scenarios share.
//!
//! Every capture needs ordinary traffic around its attack, or a detector can
//! win by alerting on "anything at all". [`add`] fills a time window with what
//! a small office emits: browsing (DNS lookup, then TLS with SNI or plain
//! HTTP, a few request/response pairs), NTP polls, an SSH admin session or
//! two to inside servers, and a large inbound download. It promises never to
//! produce anything in the eval categories: no host sends much data out, no
//! host touches many inside hosts on admin ports, no periodic contact with
//! one outside host other than NTP.

use std::net::IpAddr;

use vigil_core::Nanos;

use crate::app::dns::{self, qtype, Answer, Rdata};
use crate::app::{http, misc, ssh, tls};
use crate::conn::{self, Side, TcpConn};
use crate::ctx::{secs, Ctx, MS, SEC};
use crate::timeline::Tag;

/// A web site clients visit.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub name: String,
    pub ip: IpAddr,
    pub ip6: Option<IpAddr>,
    /// CDN name the site's name is a CNAME of, if any.
    pub cname: Option<String>,
    pub rtt: Nanos,
}

const WORDS: &[&str] = &[
    "news", "mail", "cloud", "shop", "media", "data", "static", "video", "social", "maps", "docs",
    "code", "books", "travel", "weather", "sport", "music", "photo", "bank", "health", "learn",
    "market", "forum", "wiki", "games", "search",
];
const TLDS: &[&str] = &["example.com", "example.net", "example.org"];

/// A set of sites with outside addresses.
pub(crate) fn sites(cx: &mut Ctx, n: usize) -> Vec<Site> {
    (0..n)
        .map(|_| {
            let w1 = *cx.rng.pick(WORDS);
            let w2 = *cx.rng.pick(WORDS);
            let tld = *cx.rng.pick(TLDS);
            let prefix = *cx.rng.pick(&["www.", "", "api.", "cdn.", "app."]);
            let name = format!("{prefix}{w1}{w2}.{tld}");
            let cname = cx.rng.chance(0.4).then(|| {
                let id = cx.rng.string(b"abcdefghijklmnopqrstuvwxyz0123456789", 10);
                format!("{id}.edge.cdn-{}.example.net", cx.rng.below(9))
            });
            let ip6 = if cx.rng.chance(0.3) {
                Some(cx.net.outside_v6(&mut cx.rng))
            } else {
                None
            };
            Site {
                name,
                ip: cx.net.outside(&mut cx.rng),
                ip6,
                cname,
                rtt: cx.rtt(false),
            }
        })
        .collect()
}

/// Answers for an A/AAAA lookup of `site`.
pub(crate) fn site_answers(cx: &mut Ctx, site: &Site, v6: bool) -> Vec<Answer> {
    let ttl = *cx.rng.pick(&[60u32, 300, 300, 600, 3600]);
    let mut out = Vec::new();
    let mut owner = site.name.clone();
    if let Some(c) = &site.cname {
        out.push(Answer {
            name: owner.clone(),
            ttl,
            data: Rdata::Cname(c.clone()),
        });
        owner = c.clone();
    }
    let data = match (v6, site.ip6, site.ip) {
        (true, Some(IpAddr::V6(a)), _) => Rdata::Aaaa(a.octets()),
        (_, _, IpAddr::V4(a)) => Rdata::A(a.octets()),
        _ => Rdata::A([192, 0, 2, 1]),
    };
    out.push(Answer {
        name: owner,
        ttl: ttl.min(60),
        data,
    });
    out
}

/// One DNS question and answer over UDP from `client` to `resolver` at `t`;
/// returns the time of the answer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dns_lookup(
    cx: &mut Ctx,
    client: IpAddr,
    resolver: IpAddr,
    name: &str,
    qt: u16,
    answers: &[Answer],
    t: Nanos,
    tag: Tag,
) -> Nanos {
    let id = cx.rng.u16();
    let port = cx.eph(client);
    let edns = cx.rng.chance(0.6).then_some(1232);
    let q = dns::query(id, name, qt, edns);
    let lan = cx.inside(resolver);
    let ip = conn::ipm(&mut cx.rng, client, resolver, 64);
    conn::udp(&mut cx.tl, t, tag, ip, port, 53, &q);
    let delay = if lan {
        if cx.rng.chance(0.6) {
            cx.rng.range(150_000, 900_000)
        } else {
            cx.rng.range(5 * MS, 60 * MS)
        }
    } else {
        cx.rtt(false)
    };
    let r = dns::response(id, name, qt, answers, 0, edns);
    let ttl = if lan { 64 } else { 52 };
    let ip = conn::ipm(&mut cx.rng, resolver, client, ttl);
    conn::udp(&mut cx.tl, t + delay, tag, ip, 53, port, &r);
    t + delay
}

/// A TLS session: handshake, hello exchange, then `exchanges` of
/// (request bytes, response bytes), then a close (`close`) or nothing (left
/// open / idle). Returns the connection (its `now` is the last packet).
#[allow(clippy::too_many_arguments)]
pub(crate) fn tls_session(
    cx: &mut Ctx,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    sni: &str,
    start: Nanos,
    rtt: Nanos,
    near_client: bool,
    tag: Tag,
    exchanges: &[(usize, usize)],
    close: bool,
) -> TcpConn {
    let mut c = TcpConn::new(&mut cx.rng, client, server, start, rtt, near_client, tag);
    c.handshake(&mut cx.tl);
    let hello = tls::client_hello(&mut cx.rng, sni);
    let think = cx.rng.range(50_000, 800_000);
    c.send(&mut cx.tl, Side::Client, &hello, think);
    let cert = cx.rng.range(2_400, 5_200) as usize;
    let flight = tls::server_flight(&mut cx.rng, cert);
    let think = cx.rng.range(300_000, 4 * MS);
    c.send(&mut cx.tl, Side::Server, &flight, think);
    for (i, &(req, resp)) in exchanges.iter().enumerate() {
        let mut r = if i == 0 {
            tls::client_finished(&mut cx.rng)
        } else {
            Vec::new()
        };
        r.extend_from_slice(&tls::app_records(&mut cx.rng, req.max(30)));
        let think = if i == 0 {
            cx.rng.range(200_000, 2 * MS)
        } else {
            secs(cx.rng.exp(1.5))
        };
        c.send(&mut cx.tl, Side::Client, &r, think);
        let body = tls::app_records(&mut cx.rng, resp.max(30));
        let think = cx.rng.range(2 * MS, 80 * MS);
        c.send(&mut cx.tl, Side::Server, &body, think);
    }
    if close {
        let side = if cx.rng.chance(0.7) {
            Side::Client
        } else {
            Side::Server
        };
        let idle = secs(cx.rng.frange(0.05, 8.0));
        c.close(&mut cx.tl, side, idle);
    }
    c
}

/// A plain-HTTP session of `exchanges` GETs with responses of the given sizes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn http_session(
    cx: &mut Ctx,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    host: &str,
    start: Nanos,
    rtt: Nanos,
    near_client: bool,
    tag: Tag,
    exchanges: &[(&str, usize)],
) -> TcpConn {
    let mut c = TcpConn::new(&mut cx.rng, client, server, start, rtt, near_client, tag);
    c.handshake(&mut cx.tl);
    let ua = *cx.rng.pick(http::BROWSER_UAS);
    for (i, &(uri, resp)) in exchanges.iter().enumerate() {
        let req = http::request("GET", host, uri, ua, None);
        let think = if i == 0 {
            cx.rng.range(50_000, MS)
        } else {
            secs(cx.rng.exp(0.8))
        };
        c.send(&mut cx.tl, Side::Client, &req, think);
        let ctype = if uri.ends_with(".js") {
            "application/javascript"
        } else if uri.ends_with(".png") || uri.ends_with(".jpg") {
            "image/jpeg"
        } else {
            "text/html; charset=utf-8"
        };
        let body = http::response(&mut cx.rng, 200, "OK", ctype, resp, "");
        let think = cx.rng.range(2 * MS, 60 * MS);
        c.send(&mut cx.tl, Side::Server, &body, think);
    }
    let side = if cx.rng.chance(0.6) {
        Side::Client
    } else {
        Side::Server
    };
    let idle = secs(cx.rng.frange(0.05, 5.0));
    c.close(&mut cx.tl, side, idle);
    c
}

/// An interactive SSH session with successful public-key login and
/// `keystrokes` typed characters (each echoed), lasting about `dur`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ssh_admin(
    cx: &mut Ctx,
    client: IpAddr,
    server: IpAddr,
    start: Nanos,
    dur: Nanos,
    keystrokes: usize,
    tag: Tag,
) -> TcpConn {
    let lan = cx.inside(client) && cx.inside(server);
    let rtt = cx.rtt(lan);
    let mut c = cx.tcp(client, (server, 22), start, rtt, true, tag);
    ssh_kex(cx, &mut c);
    // service request/accept, pubkey query / ok, signed auth / success
    for (req, resp) in [(28usize, 28usize), (380, 320), (700, 12)] {
        let p = ssh::encrypted(&mut cx.rng, req);
        c.send(&mut cx.tl, Side::Client, &p, cx.rng.range(100_000, 3 * MS));
        let p = ssh::encrypted(&mut cx.rng, resp);
        c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(200_000, 5 * MS));
    }
    // channel open, pty, shell, motd
    for (req, resp) in [(40usize, 24usize), (300, 8), (20, 900)] {
        let p = ssh::encrypted(&mut cx.rng, req);
        c.send(&mut cx.tl, Side::Client, &p, cx.rng.range(100_000, 2 * MS));
        let p = ssh::encrypted(&mut cx.rng, resp);
        c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(200_000, 3 * MS));
    }
    let gap = (dur / keystrokes.max(1) as u64).max(20 * MS);
    for _ in 0..keystrokes {
        let p = ssh::encrypted(&mut cx.rng, 10);
        let think = cx.rng.range(gap / 4, gap * 2);
        c.send(&mut cx.tl, Side::Client, &p, think);
        let out = if cx.rng.chance(0.08) {
            cx.rng.range(200, 6000) as usize
        } else {
            10
        };
        let p = ssh::encrypted(&mut cx.rng, out);
        c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(100_000, 2 * MS));
    }
    let p = ssh::encrypted(&mut cx.rng, 60);
    c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(MS, 10 * MS));
    c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 30 * MS));
    c
}

/// Handshake, banners, KEXINITs, ECDH and NEWKEYS on a fresh SSH connection.
pub(crate) fn ssh_kex(cx: &mut Ctx, c: &mut TcpConn) {
    c.handshake(&mut cx.tl);
    let sb = ssh::banner(cx.rng.pick::<&str>(ssh::SERVER_BANNERS));
    c.send(&mut cx.tl, Side::Server, &sb, cx.rng.range(MS, 8 * MS));
    let cb = ssh::banner(cx.rng.pick::<&str>(ssh::CLIENT_BANNERS));
    c.send(&mut cx.tl, Side::Client, &cb, cx.rng.range(100_000, MS));
    let ck = ssh::kexinit(&mut cx.rng, false);
    c.send(&mut cx.tl, Side::Client, &ck, cx.rng.range(10_000, 200_000));
    let sk = ssh::kexinit(&mut cx.rng, true);
    c.send(&mut cx.tl, Side::Server, &sk, cx.rng.range(100_000, MS));
    let ci = ssh::ecdh_init(&mut cx.rng);
    c.send(&mut cx.tl, Side::Client, &ci, cx.rng.range(100_000, MS));
    let sr = ssh::ecdh_reply(&mut cx.rng);
    c.send(&mut cx.tl, Side::Server, &sr, cx.rng.range(MS, 6 * MS));
    let nk = ssh::newkeys(&mut cx.rng);
    c.send(&mut cx.tl, Side::Client, &nk, cx.rng.range(100_000, MS));
}

/// NTP polls from `host` to `server` every 2^poll s (±2 %) over [t0, t1].
pub(crate) fn ntp_polls(
    cx: &mut Ctx,
    host: IpAddr,
    server: IpAddr,
    t0: Nanos,
    t1: Nanos,
    poll: u8,
    tag: Tag,
) {
    let period = (1u64 << poll) as f64;
    let mut t = t0 + secs(cx.rng.frange(0.0, period));
    let rtt = cx.rtt(cx.inside(server));
    while t < t1 {
        let req = misc::ntp_request(&mut cx.rng, t, poll);
        let ip = conn::ipm(&mut cx.rng, host, server, 64);
        conn::udp(&mut cx.tl, t, tag, ip, 123, 123, &req);
        let resp = misc::ntp_response(&mut cx.rng, &req, t + rtt / 2);
        let ip = conn::ipm(&mut cx.rng, server, host, 54);
        conn::udp(&mut cx.tl, t + rtt, tag, ip, 123, 123, &resp);
        t += secs(cx.rng.jitter(period, 0.02));
    }
}

/// A large inbound HTTPS download of `bytes` to `client` from `server`.
pub(crate) fn download(
    cx: &mut Ctx,
    client: IpAddr,
    server: IpAddr,
    sni: &str,
    start: Nanos,
    bytes: u64,
    tag: Tag,
) -> Nanos {
    let rtt = cx.rtt(false);
    let port = cx.eph(client);
    let mut c = tls_session(
        cx,
        (client, port),
        (server, 443),
        sni,
        start,
        rtt,
        true,
        tag,
        &[(420, 900)],
        false,
    );
    let req = tls::app_records(&mut cx.rng, 380);
    c.send(&mut cx.tl, Side::Client, &req, cx.rng.range(MS, 20 * MS));
    c.rate = cx.rng.frange(3e6, 25e6);
    let mut stream = tls::TlsStream::new(&mut cx.rng, bytes);
    c.send_with(
        &mut cx.tl,
        Side::Server,
        bytes,
        cx.rng.range(5 * MS, 40 * MS),
        |_, buf| stream.fill(buf),
    );
    c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 200 * MS));
    c.now
}

/// Benign background over [t0, t1]: browsing, NTP, SSH admin, a download.
pub(crate) fn add(cx: &mut Ctx, t0: Nanos, t1: Nanos) {
    let t1 = t1.max(t0 + 30 * SEC);
    let dur_s = (t1 - t0) as f64 / 1e9;
    let n_clients = cx.rng.urange(6, 20);
    let clients: Vec<IpAddr> = (0..n_clients).map(|_| cx.net.client(&mut cx.rng)).collect();
    let v6_ok: Vec<bool> = clients.iter().map(|_| cx.rng.chance(0.3)).collect();
    let resolver = if cx.rng.chance(0.6) {
        cx.net.server(&mut cx.rng)
    } else {
        cx.net.outside(&mut cx.rng)
    };
    let n_sites = cx.rng.urange(25, 50);
    let all_sites = sites(cx, n_sites);

    // browsing: ~0.5 sessions/s, scaled and capped
    let n_web = cx.count((dur_s * 0.4).min(300.0), 4);
    for _ in 0..n_web {
        let ci = cx.rng.urange(0, clients.len());
        let client = clients[ci];
        let site = cx.rng.pick(&all_sites).clone();
        let t = t0 + secs(cx.rng.frange(0.0, (dur_s - 10.0).max(1.0)));
        let use_v6 = v6_ok[ci] && site.ip6.is_some();
        let mut start = t;
        if cx.rng.chance(0.75) {
            let qt = if use_v6 { qtype::AAAA } else { qtype::A };
            let ans = site_answers(cx, &site, use_v6);
            start = dns_lookup(cx, client, resolver, &site.name, qt, &ans, t, Tag::NONE)
                + cx.rng.range(100_000, 2 * MS);
        }
        let (cip, sip) = if use_v6 {
            (cx.net.v6_inside(client), site.ip6.unwrap_or(site.ip))
        } else {
            (client, site.ip)
        };
        let port = cx.eph(client);
        let n_ex = cx.rng.urange(1, 5);
        if cx.rng.chance(0.85) {
            let ex: Vec<(usize, usize)> = (0..n_ex)
                .map(|_| {
                    let req = cx.rng.range(200, 900) as usize;
                    let resp = cx.rng.lognormal(4000.0, 0.9).clamp(300.0, 200_000.0) as usize;
                    (req, resp)
                })
                .collect();
            let close = cx.rng.chance(0.9);
            tls_session(
                cx,
                (cip, port),
                (sip, 443),
                &site.name,
                start,
                site.rtt,
                true,
                Tag::NONE,
                &ex,
                close,
            );
        } else {
            const URIS: &[&str] = &[
                "/",
                "/index.html",
                "/static/app.js",
                "/img/logo.png",
                "/news/latest",
                "/favicon.ico",
            ];
            let ex: Vec<(&str, usize)> = (0..n_ex)
                .map(|_| {
                    (
                        *cx.rng.pick(URIS),
                        cx.rng.lognormal(4000.0, 1.0).clamp(200.0, 200_000.0) as usize,
                    )
                })
                .collect();
            http_session(
                cx,
                (cip, port),
                (sip, 80),
                &site.name,
                start,
                site.rtt,
                true,
                Tag::NONE,
                &ex,
            );
        }
    }

    // NTP: one or two hosts poll one or two servers
    let ntp_server = cx.net.outside(&mut cx.rng);
    for _ in 0..cx.rng.urange(1, 3) {
        let host = *cx.rng.pick(&clients);
        let poll = cx.rng.range(6, 9) as u8;
        ntp_polls(cx, host, ntp_server, t0, t1, poll, Tag::NONE);
    }

    // SSH admin sessions from one admin workstation to one or two servers
    let admin = *cx.rng.pick(&clients);
    for _ in 0..cx.rng.urange(1, 3) {
        let server = cx.net.server(&mut cx.rng);
        let t = t0 + secs(cx.rng.frange(0.0, dur_s * 0.6));
        let dur = secs(cx.rng.frange(20.0, (dur_s * 0.4).max(25.0)));
        let k = cx.rng.range(40, 200) as f64;
        let keys = cx.count(k, 10);
        ssh_admin(cx, admin, server, t, dur, keys, Tag::NONE);
    }

    // a large download
    let n_dl = 1;
    for _ in 0..n_dl {
        let client = *cx.rng.pick(&clients);
        let site = cx.rng.pick(&all_sites).clone();
        let t = t0 + secs(cx.rng.frange(0.0, dur_s * 0.7));
        let b = cx.rng.range(1_000_000, 4_000_000) as f64;
        let bytes = cx.count(b, 50_000) as u64;
        let ans = site_answers(cx, &site, false);
        let t = dns_lookup(
            cx,
            client,
            resolver,
            &site.name,
            qtype::A,
            &ans,
            t,
            Tag::NONE,
        );
        download(cx, client, site.ip, &site.name, t + MS, bytes, Tag::NONE);
    }
}
