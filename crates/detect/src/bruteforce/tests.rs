use super::*;
use vigil_core::{DirCounters, EndReason, FlowCtx, PacketInfo};

pub(crate) const S: Nanos = NANOS_PER_SEC;

pub(crate) fn ip(a: u8, b: u8, c: u8, d: u8) -> Addr {
    Addr::v4([a, b, c, d])
}

/// Drives a detector with whole TCP sessions, packet by packet.
pub(crate) struct Sim {
    pub next_fid: u64,
    pub home: NetSet,
}

impl Sim {
    pub fn new() -> Self {
        Sim {
            next_fid: 1,
            home: NetSet::parse("10.0.0.0/8").unwrap(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn pkt(
        &self,
        d: &mut dyn Detector,
        out: &mut Out,
        t: Nanos,
        fid: u64,
        n: u64,
        to_server: bool,
        established: bool,
        cli: (Addr, u16),
        srv: (Addr, u16),
        flags: u8,
        payload: u32,
        proto_: u8,
    ) -> (PacketInfo, FlowCtx) {
        let (src, dst) = if to_server { (cli, srv) } else { (srv, cli) };
        let p = PacketInfo {
            ts: t,
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            proto: proto_,
            tcp_flags: flags,
            payload_len: payload,
            ..Default::default()
        };
        let f = FlowCtx {
            flow_id: fid,
            new_flow: n == 1,
            to_server,
            established,
            flow_pkts: n,
        };
        let c = Ctx {
            p: &p,
            flow: &f,
            src_home: self.home.contains(p.src),
            dst_home: self.home.contains(p.dst),
        };
        d.on_packet(&c, out);
        (p, f)
    }

    /// A TCP session: handshake, `exchanges` (client bytes, server bytes),
    /// spread over `dur`, then FIN; `server_first` sends a server greeting of
    /// `greeting` bytes first. Returns the flow id.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp_session(
        &mut self,
        d: &mut dyn Detector,
        out: &mut Out,
        t0: Nanos,
        cli: (Addr, u16),
        srv: (Addr, u16),
        exchanges: &[(u32, u32)],
        dur: Nanos,
        refused: bool,
    ) -> u64 {
        use tcp_flags::*;
        let fid = self.next_fid;
        self.next_fid += 1;
        let mut n = 0u64;
        let mut t = t0;
        n += 1;
        self.pkt(d, out, t, fid, n, true, false, cli, srv, SYN, 0, proto::TCP);
        n += 1;
        t += 1_000_000;
        if refused {
            self.pkt(
                d,
                out,
                t,
                fid,
                n,
                false,
                false,
                cli,
                srv,
                RST | ACK,
                0,
                proto::TCP,
            );
            return fid;
        }
        self.pkt(
            d,
            out,
            t,
            fid,
            n,
            false,
            false,
            cli,
            srv,
            SYN | ACK,
            0,
            proto::TCP,
        );
        n += 1;
        self.pkt(d, out, t, fid, n, true, true, cli, srv, ACK, 0, proto::TCP);
        let step = dur / (exchanges.len() as u64 + 1);
        for &(a, b) in exchanges {
            t += step;
            if a > 0 {
                n += 1;
                self.pkt(
                    d,
                    out,
                    t,
                    fid,
                    n,
                    true,
                    true,
                    cli,
                    srv,
                    PSH | ACK,
                    a,
                    proto::TCP,
                );
            }
            if b > 0 {
                n += 1;
                self.pkt(
                    d,
                    out,
                    t + 1000,
                    fid,
                    n,
                    false,
                    true,
                    cli,
                    srv,
                    PSH | ACK,
                    b,
                    proto::TCP,
                );
            }
        }
        t += step;
        n += 1;
        self.pkt(
            d,
            out,
            t,
            fid,
            n,
            true,
            true,
            cli,
            srv,
            FIN | ACK,
            0,
            proto::TCP,
        );
        n += 1;
        self.pkt(
            d,
            out,
            t + 1000,
            fid,
            n,
            false,
            true,
            cli,
            srv,
            FIN | ACK,
            0,
            proto::TCP,
        );
        n += 1;
        self.pkt(
            d,
            out,
            t + 2000,
            fid,
            n,
            true,
            true,
            cli,
            srv,
            ACK,
            0,
            proto::TCP,
        );
        fid
    }

    /// The record the flow table would report for a session.
    pub fn record(
        fid: u64,
        cli: (Addr, u16),
        srv: (Addr, u16),
        start: Nanos,
        end: Nanos,
        c2s: u64,
        s2c: u64,
    ) -> FlowRecord {
        FlowRecord {
            flow_id: fid,
            client: cli.0,
            server: srv.0,
            cport: cli.1,
            sport: srv.1,
            proto: proto::TCP,
            vlan: 0,
            icmp_type: 0,
            icmp_code: 0,
            start,
            end,
            toserver: DirCounters {
                pkts: 5,
                payload_bytes: c2s,
                ..Default::default()
            },
            toclient: DirCounters {
                pkts: 5,
                payload_bytes: s2c,
                ..Default::default()
            },
            state: FlowState::Closed,
            reason: EndReason::Timeout,
            app_proto: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn meta(
        &self,
        d: &mut dyn Detector,
        out: &mut Out,
        t: Nanos,
        fid: u64,
        to_server: bool,
        cli: (Addr, u16),
        srv: (Addr, u16),
        m: &Meta,
    ) {
        let (src, dst) = if to_server { (cli, srv) } else { (srv, cli) };
        let p = PacketInfo {
            ts: t,
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            proto: proto::TCP,
            payload_len: 40,
            ..Default::default()
        };
        let f = FlowCtx {
            flow_id: fid,
            new_flow: false,
            to_server,
            established: true,
            flow_pkts: 5,
        };
        let c = Ctx {
            p: &p,
            flow: &f,
            src_home: self.home.contains(p.src),
            dst_home: self.home.contains(p.dst),
        };
        d.on_meta(Some(&c), m, &self.home, out);
    }
}

const ATT: Addr = Addr::v4([203, 0, 113, 9]);
const SRV: Addr = Addr::v4([10, 1, 2, 3]);

fn ssh_try() -> Vec<(u32, u32)> {
    vec![
        (0, 41),
        (41, 0),
        (1500, 1100),
        (48, 400),
        (100, 50),
        (100, 50),
    ]
}

#[test]
fn ten_short_ssh_sessions_alert_at_the_eighth() {
    let mut d = Bruteforce::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    for i in 0..10u64 {
        let t = 100 * S + i * 6 * S;
        sim.tcp_session(
            &mut d,
            &mut out,
            t,
            (ATT, 40000 + i as u16),
            (SRV, 22),
            &ssh_try(),
            4 * S,
            false,
        );
        if i < 7 {
            assert!(out.is_empty(), "alert too early at session {i}");
        }
    }
    assert_eq!(out.len(), 1, "one alert, updates rate-limited");
    let a = &out[0];
    assert_eq!(a.category, Category::Bruteforce);
    assert_eq!(
        (a.src, a.dst, a.dest_port),
        (Some(ATT), Some(SRV), Some(22))
    );
    assert_eq!(a.signature_id, SID_SESSIONS);
    // the 8th session's FIN
    assert!(a.ts >= 100 * S + 7 * 6 * S && a.ts < 100 * S + 8 * 6 * S);
}

#[test]
fn long_interactive_sessions_and_mail_polling_do_not_alert() {
    let mut d = Bruteforce::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    // three admin sessions of ten minutes, many keystrokes
    let ks: Vec<(u32, u32)> = (0..200).map(|_| (36, 36)).collect();
    for i in 0..3u64 {
        sim.tcp_session(
            &mut d,
            &mut out,
            i * 20 * S,
            (ATT, 50000 + i as u16),
            (SRV, 22),
            &ks,
            600 * S,
            false,
        );
    }
    // IMAP polling every 3 minutes for an hour
    let cli = ip(10, 9, 9, 9);
    for i in 0..20u64 {
        sim.tcp_session(
            &mut d,
            &mut out,
            i * 180 * S,
            (cli, 51000 + i as u16),
            (SRV, 993),
            &[(0, 100), (300, 2000)],
            2 * S,
            false,
        );
    }
    // a person retrying a password 4 times
    for i in 0..4u64 {
        sim.tcp_session(
            &mut d,
            &mut out,
            4000 * S + i * 10 * S,
            (cli, 52000 + i as u16),
            (SRV, 22),
            &ssh_try(),
            5 * S,
            false,
        );
    }
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn refused_and_unanswered_connections_are_not_attempts() {
    let mut d = Bruteforce::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    for i in 0..50u64 {
        sim.tcp_session(
            &mut d,
            &mut out,
            i * S,
            (ATT, 40000 + i as u16),
            (SRV, 22),
            &[],
            S,
            true,
        );
        // established but silent (connection flood)
        sim.tcp_session(
            &mut d,
            &mut out,
            i * S,
            (ATT, 45000 + i as u16),
            (SRV, 3389),
            &[],
            S,
            false,
        );
    }
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn explicit_failures_alert_with_severity_one() {
    let mut d = Bruteforce::new(&Config::default());
    let sim = Sim::new();
    let mut out = Vec::new();
    for i in 0..6u64 {
        let t = i * 3 * S;
        let m = Meta::LoginFailure { service: "ftp" };
        sim.meta(&mut d, &mut out, t, 7, false, (ATT, 40000), (SRV, 21), &m);
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].signature_id, SID_FAILURES);
    assert_eq!(out[0].severity, 1);
    assert_eq!((out[0].src, out[0].dst), (Some(ATT), Some(SRV)));
    assert_eq!(out[0].ts, 4 * 3 * S);
}

#[test]
fn http_logins_need_metadata() {
    let mut d = Bruteforce::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    // browsing: many short connections to port 80 never count
    for i in 0..100u64 {
        sim.tcp_session(
            &mut d,
            &mut out,
            i * S / 2,
            (ATT, 40000 + i as u16),
            (SRV, 80),
            &[(400, 3000)],
            S / 4,
            false,
        );
    }
    assert!(out.is_empty());
    // login-form POSTs on one keep-alive connection
    for i in 0..25u64 {
        let m = Meta::HttpRequest {
            method: "POST".into(),
            host: None,
            uri: "/wp-login.php".into(),
            user_agent: None,
        };
        sim.meta(
            &mut d,
            &mut out,
            100 * S + i * S,
            500,
            true,
            (ATT, 41000),
            (SRV, 80),
            &m,
        );
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].signature_id, SID_ATTEMPTS);
}

#[test]
fn ssh_banner_on_odd_port_is_followed_like_22() {
    let mut d = Bruteforce::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    for i in 0..10u64 {
        let t = i * S;
        let cli = (ATT, 40000 + i as u16);
        let srv = (SRV, 902);
        // the banner arrives with the server's first data packet
        let fid = sim.next_fid;
        let m = Meta::SshBanner {
            banner: "SSH-2.0-OpenSSH_9.6".into(),
        };
        sim.meta(&mut d, &mut out, t, fid, false, cli, srv, &m);
        sim.tcp_session(&mut d, &mut out, t, cli, srv, &ssh_try(), S / 2, false);
    }
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].dest_port, Some(902));
    assert_eq!(out[0].signature_id, SID_SESSIONS);
}

#[test]
fn kerberos_udp_exchanges_use_the_busy_floor() {
    let mut d = Bruteforce::new(&Config::default());
    let sim = Sim::new();
    let mut out = Vec::new();
    let dc = ip(10, 0, 0, 10);
    let cli = ip(10, 0, 5, 5);
    let mut fid = 1000;
    let mut send = |d: &mut Bruteforce, out: &mut Out, t: Nanos| {
        fid += 1;
        sim.pkt(
            d,
            out,
            t,
            fid,
            1,
            true,
            false,
            (cli, 50000),
            (dc, 88),
            0,
            300,
            proto::UDP,
        );
        sim.pkt(
            d,
            out,
            t + 1000,
            fid,
            2,
            false,
            true,
            (cli, 50000),
            (dc, 88),
            0,
            200,
            proto::UDP,
        );
    };
    // a workstation logon: a dozen exchanges
    for i in 0..12 {
        send(&mut d, &mut out, i * S / 4);
    }
    assert!(out.is_empty());
    for i in 0..30 {
        send(&mut d, &mut out, 10 * S + i * S);
    }
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].src, out[0].dst), (Some(cli), Some(dc)));
}

#[test]
fn application_logins_that_succeed_do_not_alert() {
    let mut d = Bruteforce::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    let app = ip(10, 0, 1, 1);
    for i in 0..200u64 {
        let t = i * S / 4;
        let cli = (app, 30000 + i as u16);
        let srv = (SRV, 3306);
        let fid = sim.next_fid;
        let m = Meta::LoginAttempt {
            service: "mysql",
            user: Some("app".into()),
        };
        sim.meta(&mut d, &mut out, t, fid, true, cli, srv, &m);
        sim.tcp_session(
            &mut d,
            &mut out,
            t,
            cli,
            srv,
            &[(0, 80), (100, 11), (60, 400)],
            S / 10,
            false,
        );
    }
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn generic_rule_on_finished_flows() {
    let mut d = Bruteforce::new(&Config::default());
    let home = NetSet::parse("10.0.0.0/8").unwrap();
    let mut out = Vec::new();
    for port in [902u16, 443] {
        for i in 0..60u64 {
            let t = i * S / 5;
            let r = Sim::record(
                5000 + i + port as u64 * 100,
                (ATT, 40000 + i as u16),
                (SRV, port),
                t,
                t + S,
                900,
                1500,
            );
            d.on_flow_end(&r, &home, &mut out);
        }
    }
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].dest_port, Some(902));
    assert_eq!(out[0].signature_id, SID_GENERIC);
}

#[test]
fn state_is_bounded() {
    let cfg = Config {
        max_keys: 100,
        max_flows: 50,
        ..Config::default()
    };
    let mut d = Bruteforce::new(&cfg);
    let mut sim = Sim::new();
    let mut out = Vec::new();
    for i in 0..500u32 {
        let a = Addr::v4([198, 51, (i >> 8) as u8, i as u8]);
        let m = Meta::LoginFailure { service: "ftp" };
        sim.meta(&mut d, &mut out, S, 1, false, (a, 40000), (SRV, 21), &m);
        // half-open followed flows (no FIN ever)
        let fid = sim.next_fid;
        sim.next_fid += 1;
        sim.pkt(
            &mut d,
            &mut out,
            S,
            fid,
            3,
            true,
            true,
            (a, 40001),
            (SRV, 22),
            tcp_flags::ACK,
            0,
            proto::TCP,
        );
    }
    assert!(d.keys.len() <= 100 && d.flows.len() <= 50);
    assert!(d.stats.keys_dropped > 0 && d.stats.flows_dropped > 0);
}

#[test]
fn config_round_trips_and_rejects_unknown_keys() {
    let text = toml::to_string(&Config::default()).unwrap();
    assert_eq!(toml::from_str::<Config>(&text).unwrap(), Config::default());
    assert!(toml::from_str::<Config>("min_sesions = 3\n").is_err());
}
