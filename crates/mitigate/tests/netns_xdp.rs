//! XDP for real (feature `xdp`): the same attacker → router → victim lab as
//! the nftables test, with vigil's XDP program attached to the router's
//! attacker-facing veth. aya attaches in the caller's network namespace, so
//! the test re-runs itself inside the router namespace (`xdp_in_router`,
//! ignored unless started that way).
#![cfg(feature = "xdp")]

mod common;

use std::time::Duration;

use common::{have, is_root, ns_sh, rx_rate, Lab};
use vigil_mitigate::action::{Action, Backend, Flood, Kind};
use vigil_mitigate::config::XdpConfig;
use vigil_mitigate::xdp::Xdp;
use vigil_mitigate::Mitigator;

fn action(kind: Kind, sources: Vec<std::net::IpAddr>) -> Action {
    Action {
        id: format!("xdp-{}", kind.slug()),
        backend: Backend::Xdp,
        kind,
        flood: Flood::Udp,
        victim: "10.234.2.2".parse().unwrap(),
        proto: Some(17),
        dest_port: None,
        src_ports: vec![],
        sources,
        rate_pps: Some(300),
        signature: "test".into(),
        signature_id: 1_000_002,
        created: 0,
        expires: 0,
        rearms: 0,
        applied: false,
    }
}

#[test]
fn xdp_limits_and_drops_a_flood_through_a_router_namespace() {
    if !is_root() || !have("hping3") {
        eprintln!("skipped: needs root and hping3");
        return;
    }
    let mut lab = Lab::default();
    let (att, rtr, vic) = lab.router("x", 234);
    lab.spawn(
        &att,
        &[
            "hping3",
            "-q",
            "--udp",
            "-p",
            "9",
            "-i",
            "u200",
            "10.234.2.2",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &rtr])
        .arg(exe)
        .args(["xdp_in_router", "--exact", "--ignored", "--nocapture"])
        .env("VMB_VICTIM_NS", &vic)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "run by xdp_limits_and_drops_a_flood_through_a_router_namespace inside the router namespace"]
fn xdp_in_router() {
    let vic = std::env::var("VMB_VICTIM_NS").expect("started by the outer test");
    let before = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx, no mitigation: {before:.0} pps");
    assert!(before > 1500.0);
    let mut x = Xdp::new(&XdpConfig {
        enabled: true,
        interface: "ra0".into(),
        burst: 50,
        ..Default::default()
    });
    let limit = action(Kind::RateLimit, vec![]);
    x.announce(&limit).unwrap();
    eprintln!("attached in {} mode", x.mode);
    std::thread::sleep(Duration::from_millis(200));
    let limited = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx, XDP per-victim limit 300 pps: {limited:.0} pps");
    assert!(limited < 450.0 && limited > 100.0, "{limited}");
    let block = action(Kind::DropSources, vec!["10.234.1.2".parse().unwrap()]);
    x.announce(&block).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let dropped = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx, attacker in the XDP drop trie: {dropped:.0} pps");
    assert!(dropped < 20.0, "{dropped}");
    let [blocked, limited_n, passed] = x.stats().unwrap();
    eprintln!("xdp stats: blocked {blocked}, over limit {limited_n}, passed {passed}");
    assert!(blocked > 1000 && limited_n > 1000 && passed > 100);
    x.withdraw(&block).unwrap();
    x.withdraw(&limit).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let after = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx after withdrawal: {after:.0} pps");
    assert!(after > 1500.0, "{after}");
    drop(x);
    let link = ns_sh_local(&["ip", "link", "show", "ra0"]);
    assert!(!link.contains("xdp"), "detached on drop: {link}");
}

fn ns_sh_local(args: &[&str]) -> String {
    common::sh(args)
}

fn tx_packets(ns: &str, dev: &str) -> u64 {
    let out = ns_sh(ns, &["ip", "-s", "-j", "link", "show", "dev", dev]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0]["stats64"]["tx"]["packets"].as_u64().unwrap()
}

/// BENCHMARKS.md (Mitigation): a one-source `hping3 --flood` through the
/// router, with nothing, the nftables drop set, and the XDP drop trie.
/// Prints sent / received-by-victim packets per second. Run with
/// `cargo test -p vigil-mitigate --features xdp --test netns_xdp -- --ignored --nocapture bench`.
#[test]
#[ignore = "benchmark"]
fn bench_drop_rates() {
    if !is_root() || !have("hping3") || !have("nft") {
        eprintln!("skipped: needs root, nft and hping3");
        return;
    }
    for mode in ["none", "nftables", "xdp"] {
        let mut lab = Lab::default();
        let (att, rtr, vic) = lab.router("b", 235);
        let exe = std::env::current_exe().unwrap();
        let mut helper = None;
        match mode {
            "nftables" => {
                ns_sh(&rtr, &["nft", "add", "table", "inet", "vigil"]);
                let script = "table inet vigil {\nset drop4 { type ipv4_addr; elements = { 10.235.1.2 }; }\nchain pre { type filter hook prerouting priority raw; policy accept; ip saddr @drop4 counter drop; }\n}\n";
                let mut c = std::process::Command::new("ip")
                    .args(["netns", "exec", &rtr, "nft", "-f", "-"])
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(script.as_bytes())
                    .unwrap();
                assert!(c.wait().unwrap().success());
            }
            "xdp" => {
                helper = Some(
                    std::process::Command::new("ip")
                        .args(["netns", "exec", &rtr])
                        .arg(&exe)
                        .args(["xdp_hold_drop", "--exact", "--ignored", "--nocapture"])
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .unwrap(),
                );
                std::thread::sleep(Duration::from_millis(1500));
            }
            _ => {}
        }
        lab.spawn(
            &att,
            &["hping3", "-q", "--udp", "-p", "9", "--flood", "10.235.2.2"],
        );
        std::thread::sleep(Duration::from_millis(500));
        let (t0, r0) = (tx_packets(&att, "att0"), common::rx_packets(&vic, "vic0"));
        std::thread::sleep(Duration::from_millis(2000));
        let (t1, r1) = (tx_packets(&att, "att0"), common::rx_packets(&vic, "vic0"));
        eprintln!(
            "BENCH drop {mode:9}: sent {:>8.0} pps, victim received {:>8.0} pps",
            (t1 - t0) as f64 / 2.0,
            (r1 - r0) as f64 / 2.0
        );
        if let Some(mut h) = helper {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

/// Holds the XDP drop trie with the bench's attacker for 6 s (started by
/// `bench_drop_rates` inside the router namespace).
#[test]
#[ignore = "helper of bench_drop_rates"]
fn xdp_hold_drop() {
    let mut x = Xdp::new(&XdpConfig {
        enabled: true,
        interface: "ra0".into(),
        ..Default::default()
    });
    let mut a = action(Kind::DropSources, vec!["10.235.1.2".parse().unwrap()]);
    a.victim = "10.235.2.2".parse().unwrap();
    x.announce(&a).unwrap();
    std::thread::sleep(Duration::from_secs(6));
}
