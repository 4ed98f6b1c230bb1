//! Scenarios that hide attacks inside a flood: `flood-upload` (the flow-table
//! fixture: one exactly counted upload during a spoofed SYN flood) and
//! `smokescreen` (scan, brute force, lateral movement and exfiltration by
//! different hosts under a big flood).

use serde_json::json;
use vigil_core::Nanos;

use crate::app::tls;
use crate::background;
use crate::conn::{Side, TcpConn};
use crate::ctx::{secs, Ctx, MS, SEC};
use crate::timeline::Tag;

use super::{brute, floods, lateral, scan};

/// An upload of exactly `bytes` TCP payload bytes from `client` to
/// `server:port` over TLS in one connection, paced at `rate`; returns the
/// closed connection.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tls_upload(
    cx: &mut Ctx,
    client: std::net::IpAddr,
    server: std::net::IpAddr,
    port: u16,
    sni: &str,
    start: Nanos,
    bytes: u64,
    rate: f64,
    tag: Tag,
) -> TcpConn {
    let rtt = cx.rtt(false);
    let cport = cx.eph(client);
    let mut c = TcpConn::new(
        &mut cx.rng,
        (client, cport),
        (server, port),
        start,
        rtt,
        true,
        tag,
    );
    c.handshake(&mut cx.tl);
    let hello = tls::client_hello(&mut cx.rng, sni);
    c.send(
        &mut cx.tl,
        Side::Client,
        &hello,
        cx.rng.range(50_000, 500_000),
    );
    let n = cx.rng.range(2_400, 4_800) as usize;
    let flight = tls::server_flight(&mut cx.rng, n);
    c.send(
        &mut cx.tl,
        Side::Server,
        &flight,
        cx.rng.range(300_000, 3 * MS),
    );
    let fin = tls::client_finished(&mut cx.rng);
    c.send(
        &mut cx.tl,
        Side::Client,
        &fin,
        cx.rng.range(200_000, 2 * MS),
    );
    let used = hello.len() as u64 + fin.len() as u64;
    let rest = bytes.saturating_sub(used).max(6);
    c.rate = rate;
    let mut stream = tls::TlsStream::new(&mut cx.rng, rest);
    c.send_with(
        &mut cx.tl,
        Side::Client,
        rest,
        cx.rng.range(100_000, MS),
        |_, buf| stream.fill(buf),
    );
    let n = cx.rng.range(180, 600) as usize;
    let ok = tls::app_records(&mut cx.rng, n);
    c.send(&mut cx.tl, Side::Server, &ok, cx.rng.range(5 * MS, 60 * MS));
    c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 50 * MS));
    c
}

/// `flood-upload`.
pub(crate) fn flood_upload(cx: &mut Ctx) {
    let victim = cx.net.dmz(&mut cx.rng);
    let ports: Vec<u16> = if cx.rng.chance(0.5) {
        vec![80]
    } else {
        vec![443]
    };
    let n = cx.count(300_000.0, 3_000);
    let pps = cx.rng.frange(6_000.0, 14_000.0);
    let dur = secs(n as f64 / pps);
    let t0 = cx.base + secs(cx.rng.frange(8.0, 40.0));
    let dos = cx.event("syn-flood", "dos", None, Some(victim));
    let answer = cx.rng.frange(0.05, 0.2);
    floods::syn_flood(cx, victim, &ports, t0, dur, n, answer, dos);
    cx.extra(dos, "packets", json!(n));

    let client = cx.net.client(&mut cx.rng);
    let receiver = cx.net.outside(&mut cx.rng);
    let bytes = cx.count(20_000_000.0, 200_000) as u64;
    let up_start = t0 + secs(cx.rng.frange(0.1, 0.3) * dur as f64 / 1e9);
    let up_dur = cx.rng.frange(0.3, 0.5) * dur as f64 / 1e9;
    let rate = bytes as f64 / up_dur.max(0.05);
    let exfil = cx.event("upload", "exfiltration", Some(client), Some(receiver));
    let port = *cx.rng.pick(&[443u16, 443, 8443]);
    let sni = format!(
        "files.{}.example.org",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 8)
    );
    let c = tls_upload(
        cx, client, receiver, port, &sni, up_start, bytes, rate, exfil,
    );
    cx.extra(exfil, "bytes", json!(bytes));
    cx.flows.push(json!({
        "src_ip": client.to_string(),
        "src_port": c.cport,
        "dest_ip": receiver.to_string(),
        "dest_port": port,
        "proto": "TCP",
        "pkts_toserver": c.stats[0].pkts,
        "pkts_toclient": c.stats[1].pkts,
        "bytes_toserver": c.stats[0].bytes,
        "bytes_toclient": c.stats[1].bytes,
    }));
    let end = (t0 + dur).max(c.now) + secs(cx.rng.frange(20.0, 60.0));
    let (bg_start, bg_end) = (cx.base, end);
    background::add(cx, bg_start, bg_end);
}

/// `smokescreen`.
pub(crate) fn smokescreen(cx: &mut Ctx) {
    let victim = cx.net.dmz(&mut cx.rng);
    let syn = cx.rng.chance(0.5);
    let n = cx.count(if syn { 250_000.0 } else { 160_000.0 }, 3_000);
    let pps = cx.rng.frange(2_000.0, 6_000.0);
    let dur = secs(n as f64 / pps).max(40 * SEC);
    let t0 = cx.base + secs(cx.rng.frange(10.0, 40.0));
    let dos = cx.event("flood", "dos", None, Some(victim));
    if syn {
        let ports = [*cx.rng.pick(&[80u16, 443])];
        floods::syn_flood(cx, victim, &ports, t0, dur, n, 0.1, dos);
    } else {
        let port = cx
            .rng
            .chance(0.5)
            .then_some(*cx.rng.pick(&[53u16, 123, 443]));
        floods::udp_flood(cx, victim, port, (0, 120), t0, dur, n, dos);
    }
    let at = |cx: &mut Ctx| t0 + secs(cx.rng.frange(0.05, 0.5) * dur as f64 / 1e9);

    // a vertical scan of another DMZ host from outside
    let scanner = cx.net.outside(&mut cx.rng);
    let target = cx.net.dmz(&mut cx.rng);
    let tag = cx.event("scan", "scan", Some(scanner), None);
    let ports = cx.count(600.0, 60);
    let t = at(cx);
    scan::vertical_syn(cx, scanner, target, ports, t, tag);

    // an SSH brute force against a DMZ server from another outside host
    let attacker = cx.net.outside(&mut cx.rng);
    let server = cx.net.dmz(&mut cx.rng);
    let tag = cx.event("bruteforce", "bruteforce", Some(attacker), Some(server));
    let tries = cx.count(60.0, 12);
    let t = at(cx);
    brute::ssh_attempts(cx, attacker, server, t, tries, tag);

    // lateral movement by an inside workstation
    let mover = cx.net.client(&mut cx.rng);
    let tag = cx.event("lateral", "lateral-movement", Some(mover), None);
    let hosts = cx.count(20.0, 8);
    let t = at(cx);
    let span = ((t0 + dur).saturating_sub(t) as f64 / 1e9 * 0.8).max(5.0);
    lateral::sweep_admin_ports(cx, mover, hosts, t, span, tag);

    // exfiltration by yet another inside host
    let thief = cx.net.client(&mut cx.rng);
    let receiver = cx.net.outside(&mut cx.rng);
    let tag = cx.event("exfil", "exfiltration", Some(thief), Some(receiver));
    let bytes = cx.count(15_000_000.0, 300_000) as u64;
    let t = at(cx);
    let rate = cx.rng.frange(2e6, 8e6);
    let sni = format!(
        "sync.{}.example.com",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 7)
    );
    let c = tls_upload(cx, thief, receiver, 443, &sni, t, bytes, rate, tag);
    cx.extra(tag, "bytes", json!(bytes));

    let end = (t0 + dur).max(c.now) + secs(cx.rng.frange(20.0, 60.0));
    let (bg_start, bg_end) = (cx.base, end);
    background::add(cx, bg_start, bg_end);
}
