//! `Engine::reload` (SIGHUP in `vigil run`): new thresholds reach the
//! running detectors and their state stays.

use std::net::{IpAddr, Ipv4Addr};

use vigil_core::{Addr, Meta, NetSet, NANOS_PER_SEC};
use vigil_detect::{DetectConfig, Emitted, Engine};

fn ip(a: u8, b: u8) -> Addr {
    Addr::from(IpAddr::V4(Ipv4Addr::new(192, 168, a, b)))
}

/// ARP requests from one sender to `n` targets starting at `from`.
fn sweep(e: &mut Engine, from: u8, n: u8, t0: u64) {
    for i in 0..n {
        e.meta(
            None,
            &Meta::Arp {
                ts: t0 + i as u64 * NANOS_PER_SEC / 10,
                op: 1,
                sender: ip(1, 71),
                target: ip(2, from + i),
            },
        );
    }
}

#[test]
fn reload_applies_thresholds_and_keeps_state() {
    let mut high = DetectConfig::default();
    high.scan.arp_min_targets = 1e9;
    let home = NetSet::parse("192.168.0.0/16").unwrap();
    let mut e = Engine::new(&high, home).unwrap();
    let t0 = 1_700_000_000 * NANOS_PER_SEC;
    let mut out: Vec<Emitted> = Vec::new();
    sweep(&mut e, 1, 40, t0);
    e.drain(&mut out);
    assert!(out.is_empty(), "threshold too high to alert");

    // back to the default (32 targets): the 40 targets already seen count,
    // so one more request is enough
    e.reload(&DetectConfig::default()).unwrap();
    sweep(&mut e, 100, 1, t0 + 5 * NANOS_PER_SEC);
    e.drain(&mut out);
    assert_eq!(out.len(), 1, "the sweep alerts after the reload");
    assert_eq!(out[0].alert.src, Some(ip(1, 71)));
    let targets = out[0]
        .alert
        .metrics
        .iter()
        .find(|(k, _)| *k == "arp_targets")
        .map(|(_, v)| *v)
        .unwrap();
    assert!(targets >= 40.0, "state kept across the reload: {targets}");
}

#[test]
fn reload_refuses_a_changed_detector_set() {
    let mut e = Engine::new(&DetectConfig::default(), NetSet::default()).unwrap();
    let mut off = DetectConfig::default();
    off.scan.enabled = false;
    assert!(e.reload(&off).is_err());
    assert!(e.reload(&DetectConfig::default()).is_ok());
}
