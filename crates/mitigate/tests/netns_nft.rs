//! nftables for real: an attacker namespace floods a victim namespace
//! through a router namespace; the engine, applying in the router
//! namespace, installs a per-victim limit and a drop set; the victim's
//! received-packet rate falls; withdrawal (TTL) removes the rules and the
//! rate comes back. Needs root, nft and hping3 (skips with a reason
//! otherwise).

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{have, is_root, ns_sh, rx_rate, Lab};
use vigil_core::{Addr, Alert, Category, NANOS_PER_SEC};
use vigil_mitigate::sys::NetnsSys;
use vigil_mitigate::{MitigateConfig, Mitigations};

const T0: u64 = 1_700_000_000 * NANOS_PER_SEC;

fn udp_flood_alert(ts_s: u64, victim: &str, sources: f64, src: Option<&str>) -> Alert {
    let mut a = Alert::new(
        T0 + ts_s * NANOS_PER_SEC,
        Category::Dos,
        1_000_002,
        "VIGIL DOS UDP flood",
        1,
    );
    a.dst = Some(Addr::from(victim.parse::<std::net::IpAddr>().unwrap()));
    a.src = src.map(|s| Addr::from(s.parse::<std::net::IpAddr>().unwrap()));
    a.proto = Some(17);
    a.metrics = vec![("distinct_sources", sources)];
    a
}

fn vigil_rules(ns: &str) -> (Vec<String>, Vec<String>) {
    let out = ns_sh(ns, &["nft", "-j", "list", "ruleset"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut comments = Vec::new();
    let mut drop4 = Vec::new();
    for item in v["nftables"].as_array().unwrap() {
        if let Some(r) = item.get("rule") {
            if let Some(c) = r.get("comment").and_then(|c| c.as_str()) {
                comments.push(c.to_string());
            }
        }
        if let Some(s) = item.get("set") {
            if s["name"] == "drop4" {
                for e in s
                    .get("elem")
                    .and_then(|e| e.as_array())
                    .cloned()
                    .unwrap_or_default()
                {
                    drop4.push(e.as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    (comments, drop4)
}

#[test]
fn nftables_limits_and_drops_a_flood_through_a_router_namespace() {
    if !is_root() || !have("nft") || !have("hping3") {
        eprintln!("skipped: needs root, nft (apt nftables) and hping3");
        return;
    }
    let mut lab = Lab::default();
    let (att, rtr, vic) = lab.router("", 231);
    // an unrelated table of the operator's, which vigil must not touch
    ns_sh(&rtr, &["nft", "add", "table", "inet", "operator"]);
    ns_sh(&rtr, &["nft", "add", "chain", "inet", "operator", "keep"]);

    // ~5000 pps of spoofed-source UDP from the attacker
    let spoofed = lab.spawn(
        &att,
        &[
            "hping3",
            "-q",
            "--udp",
            "-p",
            "9",
            "-i",
            "u200",
            "--rand-source",
            "10.231.2.2",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    let before = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx, spoofed flood, no mitigation: {before:.0} pps");
    assert!(
        before > 1500.0,
        "the flood reaches the victim ({before} pps)"
    );

    let mut cfg = MitigateConfig {
        enabled: true,
        dry_run: false,
        ttl_secs: 60,
        ..Default::default()
    };
    cfg.nftables.enabled = true;
    cfg.nftables.victim_pps = 300;
    cfg.nftables.burst = 50;
    let sys = Arc::new(NetnsSys { netns: rtr.clone() });
    let mut m = Mitigations::from_config(&cfg, sys).unwrap();
    let mut out = Vec::new();
    let t = Instant::now();
    m.alert(&udp_flood_alert(0, "10.231.2.2", 40_000.0, None), &mut out);
    let installed = t.elapsed();
    assert!(
        out.iter().all(|e| e.json.contains("\"applied\":true")),
        "{out:?}"
    );
    let (comments, _) = vigil_rules(&rtr);
    assert!(
        comments
            .iter()
            .any(|c| c.starts_with("vigil:nftables-rate_limit-10.231.2.2-")),
        "{comments:?}"
    );
    let limited = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx, spoofed flood, per-victim limit 300 pps: {limited:.0} pps (alert to rule installed: {installed:?}, table setup included)");
    assert!(limited < 450.0, "limited to about 300 pps, got {limited}");
    assert!(
        limited > 100.0,
        "the limit lets some traffic through, got {limited}"
    );
    lab.kill(spoofed);

    // a real attacker (one address): its address goes into the drop set
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
            "10.231.2.2",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    m.alert(
        &udp_flood_alert(30, "10.231.2.2", 1.0, Some("10.231.1.2")),
        &mut out,
    );
    let (_, drop4) = vigil_rules(&rtr);
    assert_eq!(drop4, vec!["10.231.1.2".to_string()]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let dropped = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx, one real attacker in the drop set: {dropped:.0} pps");
    assert!(dropped < 20.0, "the attacker is dropped, got {dropped}");

    // the TTL passes with no alert update: everything is withdrawn
    out.clear();
    m.tick(T0 + 91 * NANOS_PER_SEC, &mut out);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.iter().all(
        |e| e.json.contains("\"action\":\"withdraw\"") && e.json.contains("\"reason\":\"ttl\"")
    ));
    let (comments, drop4) = vigil_rules(&rtr);
    assert!(
        comments.iter().all(|c| !c.starts_with("vigil:nftables")),
        "{comments:?}"
    );
    assert!(drop4.is_empty());
    let after = rx_rate(&vic, "vic0", 1000);
    eprintln!("victim rx after withdrawal: {after:.0} pps");
    assert!(
        after > 1500.0,
        "traffic flows again after withdrawal ({after})"
    );
    // the operator's table is still there
    let tables = ns_sh(&rtr, &["nft", "list", "tables"]);
    assert!(tables.contains("table inet operator"), "{tables}");
}
