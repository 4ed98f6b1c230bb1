use super::*;
use crate::bruteforce::tests::{ip, Sim, S};

fn smb() -> Vec<(u32, u32)> {
    vec![(120, 200), (180, 300), (500, 120)]
}

#[test]
fn answered_admin_sessions_on_many_hosts_alert() {
    let mut d = Lateral::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    let mover = ip(10, 0, 0, 50);
    for i in 0..8u8 {
        let t = 100 * S + i as u64 * 20 * S;
        sim.tcp_session(
            &mut d,
            &mut out,
            t,
            (mover, 50000 + i as u16),
            (ip(10, 0, 1, i), 445),
            &smb(),
            S,
            false,
        );
        if i < 4 {
            assert!(out.is_empty(), "too early at host {i}");
        }
    }
    // the first alert, then one update with more hosts a minute later
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1].metrics[0], ("hosts_answered", 8.0));
    let a = &out[0];
    assert_eq!(a.category, Category::LateralMovement);
    assert_eq!(a.src, Some(mover));
    // the fifth host's first answer
    assert!(a.ts >= 180 * S && a.ts < 182 * S, "{}", a.ts);
}

#[test]
fn two_protocols_need_four_hosts() {
    let mut d = Lateral::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    let mover = ip(10, 0, 0, 50);
    for i in 0..4u8 {
        let port = if i % 2 == 0 { 3389 } else { 5985 };
        sim.tcp_session(
            &mut d,
            &mut out,
            i as u64 * S,
            (mover, 50000 + i as u16),
            (ip(10, 0, 1, i), port),
            &[(40, 19)],
            S,
            false,
        );
    }
    assert_eq!(out.len(), 1);
}

#[test]
fn refused_probes_outside_hosts_and_other_ports_do_not_count() {
    let mut d = Lateral::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    let src = ip(10, 0, 0, 50);
    for i in 0..50u8 {
        // a scan: refused
        sim.tcp_session(
            &mut d,
            &mut out,
            i as u64 * S,
            (src, 50000 + i as u16),
            (ip(10, 0, 2, i), 445),
            &[],
            S,
            true,
        );
        // answered but silent (SYN-ACK then RST from the scanner)
        sim.tcp_session(
            &mut d,
            &mut out,
            i as u64 * S,
            (src, 51000 + i as u16),
            (ip(10, 0, 3, i), 22),
            &[],
            S,
            false,
        );
        // monitoring over SNMP-ish/HTTPS ports
        sim.tcp_session(
            &mut d,
            &mut out,
            i as u64 * S,
            (src, 52000 + i as u16),
            (ip(10, 0, 4, i), 443),
            &[(200, 3000)],
            S,
            false,
        );
        // outside targets
        sim.tcp_session(
            &mut d,
            &mut out,
            i as u64 * S,
            (src, 53000 + i as u16),
            (ip(192, 0, 2, i), 22),
            &[(40, 40)],
            S,
            false,
        );
    }
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn shared_servers_and_allowed_sources_do_not_count() {
    let cfg = Config {
        allow_sources: "10.9.9.9/32".into(),
        ..Config::default()
    };
    let mut d = Lateral::new(&cfg);
    let mut sim = Sim::new();
    let mut out = Vec::new();
    // eight file servers / DCs, used by twenty workstations
    let mut port = 40000u16;
    for w in 0..20u8 {
        for s in 0..8u8 {
            port += 1;
            sim.tcp_session(
                &mut d,
                &mut out,
                (w as u64 * 8 + s as u64) * S,
                (ip(10, 1, 0, w), port),
                (ip(10, 2, 0, s), 445),
                &smb(),
                S,
                false,
            );
        }
    }
    // the management server touches every workstation
    for w in 0..20u8 {
        port += 1;
        sim.tcp_session(
            &mut d,
            &mut out,
            200 * S + w as u64 * S,
            (ip(10, 9, 9, 9), port),
            (ip(10, 1, 0, w), 135),
            &[(116, 84)],
            S,
            false,
        );
    }
    // the first few workstations raced ahead of the fan-in; the rest must not
    let alerted: Vec<_> = out.iter().filter_map(|a| a.src).collect();
    assert!(alerted.len() <= 3, "{alerted:?}");
    assert!(!alerted.contains(&ip(10, 9, 9, 9)));
    assert!(alerted.iter().all(|a| *a != ip(10, 1, 0, 19)));
}

#[test]
fn hosts_outside_the_window_expire() {
    let mut d = Lateral::new(&Config::default());
    let mut sim = Sim::new();
    let mut out = Vec::new();
    let src = ip(10, 0, 0, 7);
    // one new SSH host every 5 minutes: never 5 in 10 minutes
    for i in 0..12u8 {
        sim.tcp_session(
            &mut d,
            &mut out,
            i as u64 * 300 * S,
            (src, 50000 + i as u16),
            (ip(10, 0, 1, i), 22),
            &[(0, 21), (21, 0), (1500, 1100)],
            60 * S,
            false,
        );
    }
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn config_round_trips_and_rejects_unknown_keys() {
    let text = toml::to_string(&Config::default()).unwrap();
    assert_eq!(toml::from_str::<Config>(&text).unwrap(), Config::default());
    assert!(toml::from_str::<Config>("min_host = 3\n").is_err());
}
