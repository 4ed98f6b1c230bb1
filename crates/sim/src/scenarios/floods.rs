//! Flood primitives shared by the DoS scenarios, `flood-upload` and
//! `smokescreen`: spoofed-source SYN and UDP floods with optional victim
//! answers.

use std::net::IpAddr;

use vigil_core::tcp_flags::{ACK, RST, SYN};
use vigil_core::Nanos;

use crate::conn;
use crate::ctx::Ctx;
use crate::packet::{self, syn_options, IpMeta, TcpMeta};
use crate::timeline::Tag;

/// Arrival times of `n` packets over `dur` starting at `t0` (Poisson-ish,
/// rescaled so the last one falls at about `t0 + dur`).
pub(crate) fn arrivals(cx: &mut Ctx, n: usize, t0: Nanos, dur: Nanos) -> Vec<Nanos> {
    let mut gaps: Vec<f64> = (0..n).map(|_| cx.rng.exp(1.0)).collect();
    let total: f64 = gaps.iter().sum::<f64>().max(1e-9);
    let k = dur as f64 / total;
    let mut t = t0 as f64;
    for g in gaps.iter_mut() {
        let v = t;
        t += *g * k;
        *g = v;
    }
    gaps.into_iter().map(|v| v as Nanos).collect()
}

/// A spoofed-source SYN flood of `n` packets at `victim` on `ports`; the
/// victim answers a fraction `answer` with SYN-ACK (and a few RSTs).
#[allow(clippy::too_many_arguments)]
pub(crate) fn syn_flood(
    cx: &mut Ctx,
    victim: IpAddr,
    ports: &[u16],
    t0: Nanos,
    dur: Nanos,
    n: usize,
    answer: f64,
    tag: Tag,
) {
    let with_opts = cx.rng.chance(0.4);
    let fixed_win = cx
        .rng
        .chance(0.5)
        .then(|| *cx.rng.pick(&[512u16, 1024, 5840, 64240]));
    let opts = syn_options(1460, 7, None);
    for t in arrivals(cx, n, t0, dur) {
        let src = cx.net.spoofed(&mut cx.rng);
        let sport = cx.rng.range(1024, 65_536) as u16;
        let dport = *cx.rng.pick(ports);
        let seq = cx.rng.u32();
        let ip = IpMeta {
            src,
            dst: victim,
            ttl: cx.rng.range(40, 250) as u8,
            id: cx.rng.u16(),
            df: false,
        };
        let win = fixed_win.unwrap_or_else(|| cx.rng.u16() | 0x200);
        let tcp = TcpMeta {
            sport,
            dport,
            seq,
            ack: 0,
            flags: SYN,
            win,
            options: if with_opts { &opts } else { &[] },
        };
        cx.tl
            .push_with(t, tag, |out| packet::tcp_frame(out, &ip, &tcp, &[]));
        if cx.rng.chance(answer) {
            let back = IpMeta {
                src: victim,
                dst: src,
                ttl: 64,
                id: 0,
                df: true,
            };
            let rst = cx.rng.chance(0.05);
            let flags = if rst { RST | ACK } else { SYN | ACK };
            let sa_opts = syn_options(1460, 7, None);
            let tcp = TcpMeta {
                sport: dport,
                dport: sport,
                seq: if rst { 0 } else { cx.rng.u32() },
                ack: seq.wrapping_add(1),
                flags,
                win: if rst { 0 } else { 64_240 },
                options: if rst { &[] } else { &sa_opts },
            };
            let dt = cx.rng.range(20_000, 400_000);
            cx.tl.push_with(t + dt, Tag::NONE, |out| {
                packet::tcp_frame(out, &back, &tcp, &[])
            });
        }
    }
}

/// A spoofed-source UDP flood of `n` datagrams (random sizes in `size`) at
/// `victim`: random destination ports, or one port when `port` is given; the
/// victim answers a few with ICMP port unreachable (rate limited).
#[allow(clippy::too_many_arguments)]
pub(crate) fn udp_flood(
    cx: &mut Ctx,
    victim: IpAddr,
    port: Option<u16>,
    size: (usize, usize),
    t0: Nanos,
    dur: Nanos,
    n: usize,
    tag: Tag,
) {
    let fixed = cx
        .rng
        .chance(0.5)
        .then(|| cx.rng.urange(size.0, size.1 + 1));
    let pool = cx.rng.bytes(1500);
    let mut last_unreach = 0;
    for t in arrivals(cx, n, t0, dur) {
        let src = cx.net.spoofed(&mut cx.rng);
        let sport = cx.rng.range(1024, 65_536) as u16;
        let dport = port.unwrap_or_else(|| cx.rng.range(1, 65_536) as u16);
        let len = fixed.unwrap_or_else(|| cx.rng.urange(size.0, size.1 + 1));
        let ip = IpMeta {
            src,
            dst: victim,
            ttl: cx.rng.range(40, 250) as u8,
            id: cx.rng.u16(),
            df: false,
        };
        let off = cx.rng.urange(0, 1500 - len.min(1472));
        let payload = &pool[off..off + len.min(1472)];
        conn::udp(&mut cx.tl, t, tag, ip, sport, dport, payload);
        if t > last_unreach + 1_000_000_000 / 50 {
            last_unreach = t;
            let dt = cx.rng.range(20_000, 200_000);
            conn::port_unreachable(
                &mut cx.tl,
                t + dt,
                Tag::NONE,
                &mut cx.rng,
                &ip,
                sport,
                dport,
                payload,
            );
        }
    }
}
