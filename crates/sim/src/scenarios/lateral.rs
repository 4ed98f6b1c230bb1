//! `lateral-movement`: one inside host reaching SMB 445, RDP 3389, WinRM
//! 5985 and SSH 22 on many inside hosts within minutes. Truth spans all of
//! that host's connections to the admin ports.

use std::net::IpAddr;

use vigil_core::Nanos;

use crate::app::{admin, ssh};
use crate::background;
use crate::conn::{Side, TcpConn};
use crate::ctx::{secs, Ctx, MS};
use crate::timeline::Tag;

/// `src` tries admin ports on `hosts` fresh inside hosts, starting them at
/// random times within `span` seconds of `t0`; returns the last packet time.
pub(crate) fn sweep_admin_ports(
    cx: &mut Ctx,
    src: IpAddr,
    hosts: usize,
    t0: Nanos,
    span: f64,
    tag: Tag,
) -> Nanos {
    let mut end = t0;
    let user = *cx
        .rng
        .pick(&["administrator", "svc_backup", "admin", "helpdesk"]);
    for _ in 0..hosts {
        let target = if cx.rng.chance(0.6) {
            cx.net.client(&mut cx.rng)
        } else {
            cx.net.server(&mut cx.rng)
        };
        let mut ports = vec![445u16, 3389, 5985, 22, 135];
        cx.rng.shuffle(&mut ports);
        ports.truncate(cx.rng.urange(1, 4));
        let mut t = t0 + secs(cx.rng.frange(0.0, span));
        for p in ports {
            let rtt = cx.rtt(true);
            let mut c = cx.tcp(src, (target, p), t, rtt, true, tag);
            let r = cx.rng.f64();
            if r < 0.25 {
                c.refused(&mut cx.tl);
            } else {
                c.handshake(&mut cx.tl);
                admin_exchange(cx, &mut c, p, user, target);
            }
            end = end.max(c.now).max(c.last_ts());
            t = c.now + cx.rng.range(MS, 200 * MS);
        }
    }
    end
}

fn admin_exchange(cx: &mut Ctx, c: &mut TcpConn, port: u16, user: &str, target: IpAddr) {
    match port {
        445 => {
            let q = admin::smb2_negotiate(&mut cx.rng);
            c.send(&mut cx.tl, Side::Client, &q, cx.rng.range(50_000, MS));
            let r = admin::smb2_negotiate_response(&mut cx.rng);
            c.send(&mut cx.tl, Side::Server, &r, cx.rng.range(200_000, 2 * MS));
            // session setup / tree connect, opaque
            for (a, b) in [(180usize, 300usize), (500, 120), (110, 90)] {
                let q = opaque_smb(cx, a);
                c.send(&mut cx.tl, Side::Client, &q, cx.rng.range(100_000, 3 * MS));
                let r = opaque_smb(cx, b);
                c.send(&mut cx.tl, Side::Server, &r, cx.rng.range(200_000, 5 * MS));
            }
        }
        3389 => {
            let q = admin::rdp_connect_request(user);
            c.send(&mut cx.tl, Side::Client, &q, cx.rng.range(50_000, MS));
            let r = admin::rdp_connect_confirm();
            c.send(&mut cx.tl, Side::Server, &r, cx.rng.range(200_000, 2 * MS));
        }
        5985 => {
            let q = admin::winrm_post(&mut cx.rng, &target.to_string());
            c.send(&mut cx.tl, Side::Client, &q, cx.rng.range(50_000, MS));
            let r = admin::winrm_challenge(&mut cx.rng);
            c.send(&mut cx.tl, Side::Server, &r, cx.rng.range(200_000, 2 * MS));
        }
        22 => {
            let sb = ssh::banner(cx.rng.pick::<&str>(ssh::SERVER_BANNERS));
            c.send(&mut cx.tl, Side::Server, &sb, cx.rng.range(MS, 5 * MS));
            let cb = ssh::banner("SSH-2.0-OpenSSH_for_Windows_8.1");
            c.send(&mut cx.tl, Side::Client, &cb, cx.rng.range(100_000, MS));
        }
        _ => {
            // 135: an opaque DCE/RPC bind and its ack
            let q = cx.rng.bytes(116);
            c.send(&mut cx.tl, Side::Client, &q, cx.rng.range(50_000, MS));
            let r = cx.rng.bytes(84);
            c.send(&mut cx.tl, Side::Server, &r, cx.rng.range(200_000, 2 * MS));
        }
    }
    let side = if cx.rng.chance(0.5) {
        Side::Client
    } else {
        Side::Server
    };
    c.close(&mut cx.tl, side, cx.rng.range(MS, 500 * MS));
}

/// An SMB2-framed message of `len` bytes with a valid header and an opaque,
/// encrypted-looking body (SMB3 transform header).
fn opaque_smb(cx: &mut Ctx, len: usize) -> Vec<u8> {
    let mut b = vec![0xfd, b'S', b'M', b'B'];
    b.extend_from_slice(&cx.rng.bytes(16));
    b.extend_from_slice(&cx.rng.bytes(16));
    let orig = len.saturating_sub(52) as u32;
    b.extend_from_slice(&orig.to_le_bytes());
    b.extend_from_slice(&[0, 0, 1, 0]);
    b.extend_from_slice(&cx.rng.u64_bytes());
    b.extend_from_slice(&cx.rng.bytes(orig as usize));
    let l = b.len() as u32;
    let mut out = vec![0];
    out.extend_from_slice(&l.to_be_bytes()[1..]);
    out.extend_from_slice(&b);
    out
}

/// `lateral-movement`.
pub(crate) fn lateral_movement(cx: &mut Ctx) {
    let src = cx.net.client(&mut cx.rng);
    let tag = cx.event("lateral-movement", "lateral-movement", Some(src), None);
    let hosts = cx.count(30.0, 8);
    let t0 = cx.base + secs(cx.rng.frange(20.0, 90.0));
    let span = cx.rng.frange(60.0, 300.0);
    let end = sweep_admin_ports(cx, src, hosts, t0, span, tag);
    let (bg_start, bg_end) = (cx.base, end + secs(cx.rng.frange(30.0, 120.0)));
    background::add(cx, bg_start, bg_end);
}
