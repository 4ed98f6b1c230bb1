//! Brute force against login services: SSH, FTP, HTTP login forms,
//! MySQL/PostgreSQL and Kerberos pre-authentication. Truth spans every packet
//! between attacker and target on the service port.

use std::net::IpAddr;

use vigil_core::Nanos;

use crate::app::{db, ftp, http, kerberos, ssh};
use crate::background::{self, ssh_kex};
use crate::conn::{self, Side};
use crate::ctx::{format_rfc3339, secs, Ctx, MS};
use crate::timeline::Tag;

const USERS: &[&str] = &[
    "root", "admin", "test", "user", "oracle", "postgres", "ubuntu", "guest", "support", "backup",
    "ftp", "www",
];

fn password(cx: &mut Ctx) -> String {
    const BASE: &[&str] = &[
        "123456", "password", "admin", "qwerty", "letmein", "welcome", "changeme", "dragon",
        "master", "P@ssw0rd",
    ];
    let b = *cx.rng.pick(BASE);
    if cx.rng.chance(0.5) {
        format!("{b}{}", cx.rng.below(1000))
    } else {
        b.to_string()
    }
}

/// `conns` SSH connections from `attacker` to `server:22`, each with 1-6
/// failed password attempts; connections start `interval` apart and may
/// overlap (parallel tasks). Returns the last packet time.
pub(crate) fn ssh_attempts(
    cx: &mut Ctx,
    attacker: IpAddr,
    server: IpAddr,
    t0: Nanos,
    conns: usize,
    tag: Tag,
) -> Nanos {
    let lan = cx.inside(attacker) && cx.inside(server);
    let rtt = cx.rtt(lan);
    let interval = cx.rng.frange(0.2, 3.0);
    let tries_max = cx.rng.urange(1, 7);
    let mut end = t0;
    let mut t = t0;
    for _ in 0..conns {
        let mut c = cx.tcp(attacker, (server, 22), t, rtt, false, tag);
        ssh_kex(cx, &mut c);
        let p = ssh::encrypted(&mut cx.rng, 28);
        c.send(&mut cx.tl, Side::Client, &p, cx.rng.range(100_000, MS));
        let p = ssh::encrypted(&mut cx.rng, 28);
        c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(100_000, MS));
        let tries = cx.rng.urange(1, tries_max + 1);
        for _ in 0..tries {
            let n = cx.rng.range(60, 90) as usize;
            let p = ssh::encrypted(&mut cx.rng, n);
            c.send(&mut cx.tl, Side::Client, &p, cx.rng.range(200_000, 5 * MS));
            let p = ssh::encrypted(&mut cx.rng, 40);
            // OpenSSH delays failure answers by ~2 s
            c.send(&mut cx.tl, Side::Server, &p, secs(cx.rng.frange(0.5, 2.5)));
        }
        if cx.rng.chance(0.5) {
            let p = ssh::encrypted(&mut cx.rng, 50);
            c.send(&mut cx.tl, Side::Server, &p, cx.rng.range(MS, 5 * MS));
            c.close(&mut cx.tl, Side::Server, MS);
        } else {
            c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 20 * MS));
        }
        end = end.max(c.now);
        t += secs(cx.rng.jitter(interval, 0.5));
    }
    end
}

fn finish(cx: &mut Ctx, end: Nanos) {
    let tail = secs(cx.rng.frange(30.0, 120.0));
    let (bg_start, bg_end) = (cx.base, end + tail);
    background::add(cx, bg_start, bg_end);
}

fn attacker_and_target(cx: &mut Ctx) -> (IpAddr, IpAddr) {
    if cx.rng.chance(0.7) {
        let a = cx.net.outside(&mut cx.rng);
        let t = cx.net.dmz(&mut cx.rng);
        (a, t)
    } else {
        let a = cx.net.client(&mut cx.rng);
        let t = cx.net.server(&mut cx.rng);
        (a, t)
    }
}

/// `ssh-bruteforce`.
pub(crate) fn ssh_bruteforce(cx: &mut Ctx) {
    let (attacker, server) = attacker_and_target(cx);
    let tag = cx.event("ssh-bruteforce", "bruteforce", Some(attacker), Some(server));
    let conns = cx.count(120.0, 15);
    let t0 = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let end = ssh_attempts(cx, attacker, server, t0, conns, tag);
    finish(cx, end);
}

/// `ftp-bruteforce`.
pub(crate) fn ftp_bruteforce(cx: &mut Ctx) {
    let (attacker, server) = attacker_and_target(cx);
    let tag = cx.event("ftp-bruteforce", "bruteforce", Some(attacker), Some(server));
    let attempts = cx.count(150.0, 20);
    let per_conn = cx.rng.urange(1, 4);
    let user = *cx.rng.pick(USERS);
    let greeting = *cx.rng.pick(ftp::GREETINGS);
    let rtt = cx.rtt(cx.inside(attacker));
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut end = t;
    let mut done = 0;
    while done < attempts {
        let mut c = cx.tcp(attacker, (server, 21), t, rtt, false, tag);
        c.handshake(&mut cx.tl);
        c.send(
            &mut cx.tl,
            Side::Server,
            greeting.as_bytes(),
            cx.rng.range(MS, 10 * MS),
        );
        for _ in 0..per_conn.min(attempts - done) {
            c.send(
                &mut cx.tl,
                Side::Client,
                &ftp::user(user),
                cx.rng.range(100_000, 2 * MS),
            );
            c.send(
                &mut cx.tl,
                Side::Server,
                ftp::NEED_PASS,
                cx.rng.range(100_000, MS),
            );
            let pw = password(cx);
            c.send(
                &mut cx.tl,
                Side::Client,
                &ftp::pass(&pw),
                cx.rng.range(100_000, 2 * MS),
            );
            c.send(
                &mut cx.tl,
                Side::Server,
                ftp::LOGIN_INCORRECT,
                secs(cx.rng.frange(0.8, 3.2)),
            );
            done += 1;
        }
        c.send(
            &mut cx.tl,
            Side::Client,
            ftp::QUIT,
            cx.rng.range(100_000, 2 * MS),
        );
        c.send(
            &mut cx.tl,
            Side::Server,
            ftp::GOODBYE,
            cx.rng.range(100_000, MS),
        );
        c.close(&mut cx.tl, Side::Server, 100_000);
        end = end.max(c.now);
        t = c.now + secs(cx.rng.frange(0.01, 0.5));
    }
    finish(cx, end);
}

/// `http-login-bruteforce`: form POSTs on keep-alive connections answered
/// 401 or 200 "invalid"; the last one may succeed with a 302.
pub(crate) fn http_login_bruteforce(cx: &mut Ctx) {
    let attacker = cx.net.outside(&mut cx.rng);
    let server = cx.net.dmz(&mut cx.rng);
    let tag = cx.event(
        "http-login-bruteforce",
        "bruteforce",
        Some(attacker),
        Some(server),
    );
    let (uri, field) = *cx.rng.pick(&[
        ("/login", "username"),
        ("/wp-login.php", "log"),
        ("/user/login", "name"),
        ("/admin/login.php", "user"),
    ]);
    let host = format!(
        "www.{}.example.com",
        cx.rng.string(b"abcdefghijklmnopqrstuvwxyz", 6)
    );
    let style401 = cx.rng.chance(0.5);
    let attempts = cx.count(250.0, 25);
    let per_conn = cx.rng.urange(1, 20);
    let port = *cx.rng.pick(&[80u16, 80, 8080]);
    let ua = if cx.rng.chance(0.5) {
        "python-requests/2.31.0"
    } else {
        *cx.rng.pick(http::BROWSER_UAS)
    };
    let user = *cx.rng.pick(USERS);
    let rtt = cx.rtt(false);
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut end = t;
    let mut done = 0;
    let success_last = cx.rng.chance(0.4);
    while done < attempts {
        let mut c = cx.tcp(attacker, (server, port), t, rtt, false, tag);
        c.handshake(&mut cx.tl);
        for _ in 0..per_conn.min(attempts - done) {
            done += 1;
            let pw = password(cx);
            let body = format!("{field}={user}&pwd={pw}&submit=Log+In");
            let req = http::request("POST", &host, uri, ua, Some(body.as_bytes()));
            c.send(&mut cx.tl, Side::Client, &req, cx.rng.range(MS, 300 * MS));
            let resp = if done == attempts && success_last {
                http::response(
                    &mut cx.rng,
                    302,
                    "Found",
                    "text/html",
                    0,
                    "Location: /dashboard\r\nSet-Cookie: session=ab12cd34; HttpOnly\r\n",
                )
            } else if style401 {
                http::response(&mut cx.rng, 401, "Unauthorized", "text/html", 180, "")
            } else {
                let len = cx.rng.range(2500, 4200) as usize;
                http::response(&mut cx.rng, 200, "OK", "text/html; charset=utf-8", len, "")
            };
            c.send(
                &mut cx.tl,
                Side::Server,
                &resp,
                cx.rng.range(20 * MS, 250 * MS),
            );
        }
        c.close(&mut cx.tl, Side::Client, cx.rng.range(MS, 50 * MS));
        end = end.max(c.now);
        t = c.now + cx.rng.range(MS, 200 * MS);
    }
    finish(cx, end);
}

/// `db-bruteforce`: MySQL (3306) or PostgreSQL (5432) logins refused.
pub(crate) fn db_bruteforce(cx: &mut Ctx) {
    let (attacker, server) = attacker_and_target(cx);
    let tag = cx.event("db-bruteforce", "bruteforce", Some(attacker), Some(server));
    let mysql = cx.rng.chance(0.5);
    let port = if mysql { 3306 } else { 5432 };
    let attempts = cx.count(200.0, 20);
    let interval = cx.rng.frange(0.05, 1.5);
    let user = if mysql { "root" } else { "postgres" };
    let rtt = cx.rtt(cx.inside(attacker));
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut end = t;
    for i in 0..attempts {
        let mut c = cx.tcp(attacker, (server, port), t, rtt, false, tag);
        c.handshake(&mut cx.tl);
        if mysql {
            let g = db::mysql_greeting(&mut cx.rng, 1000 + i as u32);
            c.send(&mut cx.tl, Side::Server, &g, cx.rng.range(200_000, 2 * MS));
            let l = db::mysql_login(&mut cx.rng, user);
            c.send(&mut cx.tl, Side::Client, &l, cx.rng.range(100_000, MS));
            let e = db::mysql_denied(user, &attacker.to_string());
            c.send(&mut cx.tl, Side::Server, &e, cx.rng.range(200_000, 3 * MS));
            c.close(&mut cx.tl, Side::Client, cx.rng.range(50_000, MS));
        } else {
            let s = db::pg_startup(user, "postgres");
            c.send(&mut cx.tl, Side::Client, &s, cx.rng.range(50_000, MS));
            let ch = db::pg_md5_challenge(&mut cx.rng);
            c.send(&mut cx.tl, Side::Server, &ch, cx.rng.range(200_000, 2 * MS));
            let p = db::pg_password(&mut cx.rng);
            c.send(&mut cx.tl, Side::Client, &p, cx.rng.range(50_000, MS));
            let e = db::pg_auth_failed(user);
            c.send(&mut cx.tl, Side::Server, &e, cx.rng.range(200_000, 3 * MS));
            c.close(&mut cx.tl, Side::Server, 50_000);
        }
        end = end.max(c.now);
        t += secs(cx.rng.jitter(interval, 0.6));
    }
    finish(cx, end);
}

/// `kerberos-bruteforce`: AS-REQs with wrong pre-auth against a domain
/// controller, over UDP 88 (or TCP 88), answered KRB-ERROR 24.
pub(crate) fn kerberos_bruteforce(cx: &mut Ctx) {
    let attacker = cx.net.client(&mut cx.rng);
    let dc = cx.net.server(&mut cx.rng);
    let tag = cx.event(
        "kerberos-bruteforce",
        "bruteforce",
        Some(attacker),
        Some(dc),
    );
    let realm = format!(
        "{}.EXAMPLE.COM",
        cx.rng.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 5)
    );
    let spray = cx.rng.chance(0.5);
    let tcp = cx.rng.chance(0.3);
    let attempts = cx.count(300.0, 30);
    let interval = cx.rng.frange(0.02, 1.0);
    let users: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "{}.{}{}",
                cx.rng.pick(&["j", "m", "a", "s", "k"]),
                cx.rng.pick(&["smith", "jones", "lee", "brown", "garcia"]),
                i
            )
        })
        .collect();
    let rtt = cx.rtt(true);
    let mut t = cx.base + secs(cx.rng.frange(10.0, 60.0));
    let mut end = t;
    for i in 0..attempts {
        let user = if spray {
            users[i % users.len()].clone()
        } else {
            users[0].clone()
        };
        let stime = format_rfc3339(t).replace(['-', ':', 'T'], "");
        let stime = format!("{}Z", &stime[..14]);
        let mut msgs = Vec::new();
        if cx.rng.chance(0.3) {
            msgs.push((
                kerberos::as_req(&mut cx.rng, &user, &realm, false),
                kerberos::PREAUTH_REQUIRED,
            ));
        }
        msgs.push((
            kerberos::as_req(&mut cx.rng, &user, &realm, true),
            kerberos::PREAUTH_FAILED,
        ));
        if tcp {
            let mut c = cx.tcp(attacker, (dc, 88), t, rtt, true, tag);
            c.handshake(&mut cx.tl);
            for (req, code) in msgs {
                c.send(
                    &mut cx.tl,
                    Side::Client,
                    &kerberos::tcp_frame(&req),
                    cx.rng.range(50_000, MS),
                );
                let e = kerberos::error(&mut cx.rng, code, &user, &realm, &stime);
                c.send(
                    &mut cx.tl,
                    Side::Server,
                    &kerberos::tcp_frame(&e),
                    cx.rng.range(100_000, 2 * MS),
                );
            }
            c.close(&mut cx.tl, Side::Client, 100_000);
            end = end.max(c.now);
        } else {
            let mut tt = t;
            for (req, code) in msgs {
                let port = cx.eph(attacker);
                let ip = conn::ipm(&mut cx.rng, attacker, dc, 128);
                conn::udp(&mut cx.tl, tt, tag, ip, port, 88, &req);
                let e = kerberos::error(&mut cx.rng, code, &user, &realm, &stime);
                let back = conn::ipm(&mut cx.rng, dc, attacker, 128);
                tt += rtt + cx.rng.range(100_000, MS);
                conn::udp(&mut cx.tl, tt, tag, back, 88, port, &e);
                tt += cx.rng.range(100_000, MS);
            }
            end = end.max(tt);
        }
        t += secs(cx.rng.jitter(interval, 0.5));
    }
    finish(cx, end);
}
