//! BGP for real: vigil's GoBGP daemon in one namespace peers over a veth
//! with a second GoBGP speaker in a peer namespace. The engine announces a
//! blackhole /32 with community 65535:666 and a FlowSpec rule; the peer's
//! RIB shows both, then loses both after the TTL. Needs root and gobgpd
//! (apt gobgpd); skips with a reason otherwise.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{have, is_root, ns_sh, Lab};
use vigil_core::{Addr, Alert, Category, NANOS_PER_SEC};
use vigil_mitigate::sys::NetnsSys;
use vigil_mitigate::{MitigateConfig, Mitigations};

const T0: u64 = 1_700_000_000 * NANOS_PER_SEC;
/// RFC 7999 BLACKHOLE, 65535:666, as GoBGP's JSON prints it.
const BLACKHOLE: u64 = 65535 * 65536 + 666;

fn gobgpd_conf(asn: u32, me: &str, peer: &str, peer_as: u32, passive: bool) -> String {
    let mut s = format!(
        "[global.config]\n  as = {asn}\n  router-id = \"{me}\"\n  local-address-list = [\"{me}\"]\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{peer}\"\n    peer-as = {peer_as}\n\
         \x20 [neighbors.timers.config]\n    connect-retry = 1\n"
    );
    if passive {
        s.push_str("  [neighbors.transport.config]\n    passive-mode = true\n");
    }
    for afi in [
        "ipv4-unicast",
        "ipv4-flowspec",
        "ipv6-unicast",
        "ipv6-flowspec",
    ] {
        s.push_str(&format!(
            "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{afi}\"\n"
        ));
    }
    s
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn peer_rib(ns: &str, family: &str) -> serde_json::Value {
    let out = ns_sh(
        ns,
        &["gobgp", "-p", "50152", "-j", "global", "rib", "-a", family],
    );
    serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null)
}

#[test]
fn a_bgp_peer_sees_the_blackhole_and_flowspec_then_their_withdrawal() {
    if !is_root() || !have("gobgpd") || !have("gobgp") {
        eprintln!("skipped: needs root and gobgpd/gobgp (apt gobgpd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lab = Lab::default();
    let me = lab.ns("g");
    let peer = lab.ns("p");
    lab.link(&me, "bv0", "10.232.0.1/30", &peer, "bp0", "10.232.0.2/30");
    let c1 = dir.path().join("vigil.toml");
    let c2 = dir.path().join("peer.toml");
    std::fs::write(
        &c1,
        gobgpd_conf(65001, "10.232.0.1", "10.232.0.2", 65002, false),
    )
    .unwrap();
    std::fs::write(
        &c2,
        gobgpd_conf(65002, "10.232.0.2", "10.232.0.1", 65001, true),
    )
    .unwrap();
    lab.spawn(
        &me,
        &[
            "gobgpd",
            "-f",
            c1.to_str().unwrap(),
            "--api-hosts",
            "127.0.0.1:50151",
            "-l",
            "warn",
        ],
    );
    lab.spawn(
        &peer,
        &[
            "gobgpd",
            "-f",
            c2.to_str().unwrap(),
            "--api-hosts",
            "127.0.0.1:50152",
            "-l",
            "warn",
        ],
    );
    let up = wait_for("the BGP session", 60, || {
        std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &peer,
                "gobgp",
                "-p",
                "50152",
                "neighbor",
                "10.232.0.1",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("BGP state = ESTABLISHED"))
            .unwrap_or(false)
    });
    eprintln!("session established in {up:?}");

    let mut cfg = MitigateConfig {
        enabled: true,
        dry_run: false,
        ttl_secs: 60,
        ..Default::default()
    };
    cfg.bgp.enabled = true;
    cfg.bgp.gobgp_args = vec!["-p".into(), "50151".into()];
    let mut m = Mitigations::from_config(&cfg, Arc::new(NetnsSys { netns: me.clone() })).unwrap();
    let mut alert = Alert::new(T0, Category::Dos, 1_000_001, "VIGIL DOS SYN flood", 1);
    alert.dst = Some(Addr::v4([203, 0, 113, 10]));
    alert.proto = Some(6);
    alert.metrics = vec![("distinct_sources", 50_000.0)];
    let mut out = Vec::new();
    let t = Instant::now();
    m.alert(&alert, &mut out);
    assert_eq!(out.len(), 2);
    assert!(
        out.iter().all(|e| e.json.contains("\"applied\":true")),
        "{out:?}"
    );

    let seen = wait_for("the blackhole route at the peer", 30, || {
        let rib = peer_rib(&peer, "ipv4");
        rib["203.0.113.10/32"][0]["attrs"]
            .as_array()
            .is_some_and(|attrs| {
                attrs.iter().any(|a| {
                    a["communities"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|x| x.as_u64() == Some(BLACKHOLE)))
                })
            })
    });
    eprintln!(
        "alert → blackhole /32 with 65535:666 in the peer's RIB: {:?}",
        t.elapsed()
    );
    let _ = seen;
    wait_for("the FlowSpec rule at the peer", 30, || {
        let out = ns_sh(
            &peer,
            &[
                "gobgp",
                "-p",
                "50152",
                "global",
                "rib",
                "-a",
                "ipv4-flowspec",
            ],
        );
        out.contains("[destination: 203.0.113.10/32][protocol: ==tcp][tcp-flags: =S]")
            && out.contains("discard")
    });

    // an alert update re-arms: nothing is withdrawn at the first TTL
    m.alert(
        &Alert {
            ts: T0 + 40 * NANOS_PER_SEC,
            ..alert.clone()
        },
        &mut out,
    );
    out.clear();
    m.tick(T0 + 61 * NANOS_PER_SEC, &mut out);
    assert!(out.is_empty(), "re-armed: {out:?}");
    m.tick(T0 + 100 * NANOS_PER_SEC, &mut out);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|e| e.json.contains("\"reason\":\"ttl\"")));
    let gone = wait_for("the withdrawal at the peer", 30, || {
        let rib = peer_rib(&peer, "ipv4");
        let fs = ns_sh(
            &peer,
            &[
                "gobgp",
                "-p",
                "50152",
                "global",
                "rib",
                "-a",
                "ipv4-flowspec",
            ],
        );
        rib.get("203.0.113.10/32").is_none() && !fs.contains("203.0.113.10")
    });
    eprintln!("TTL withdrawal → gone from the peer's RIB: {gone:?}");
}
