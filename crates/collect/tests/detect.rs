//! Flow-derived alerts match packet-derived ones: a corpus scan capture
//! exported by softflowd (a real exporter, NetFlow v9 and IPFIX over
//! loopback) into the collector and `Engine::flow_export` raises the scan
//! alert that the packet path (decoder → flow table → `Engine::packet`)
//! raises on the same capture, for the same source, and that the capture's
//! truth file names.

mod common;

use std::path::Path;

use vigil_collect::{CollectConfig, Collector};
use vigil_core::{Category, FlowRecord, NetSet};
use vigil_detect::{DetectConfig, Emitted, Engine};
use vigil_flow::{FlowConfig, FlowTable};
use vigil_wire::{Decoded, Decoder};

struct Truth {
    home: NetSet,
    /// (category, source, destination) of each event; either side may be
    /// absent (a spoofed flood names its victim only).
    events: Vec<(String, String, String)>,
}

fn truth(capture: &Path) -> Truth {
    let t: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.truth.json", capture.display())).unwrap(),
    )
    .unwrap();
    let nets: Vec<&str> = t["home_nets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    Truth {
        home: NetSet::parse(&nets.join(",")).unwrap(),
        events: t["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                (s("category"), s("src_ip"), s("dest_ip"))
            })
            .collect(),
    }
}

type Key = (Category, String, String, String);

/// (category, source, destination, signature) of every first alert.
fn keys(alerts: &[Emitted]) -> Vec<Key> {
    let mut v: Vec<_> = alerts
        .iter()
        .filter(|e| e.update == 0)
        .map(|e| {
            (
                e.alert.category,
                e.alert.src.map(|a| a.to_string()).unwrap_or_default(),
                e.alert.dst.map(|a| a.to_string()).unwrap_or_default(),
                e.alert.signature.clone(),
            )
        })
        .collect();
    v.sort_by_key(|k| format!("{k:?}"));
    v.dedup();
    v
}

fn packet_path(capture: &Path, home: &NetSet) -> Vec<Emitted> {
    let mut engine = Engine::new(&DetectConfig::default(), home.clone()).unwrap();
    let mut src = vigil_capture::open(capture).unwrap();
    let mut dec = Decoder::default();
    let mut table = FlowTable::new(&FlowConfig::default());
    let mut ended: Vec<FlowRecord> = Vec::new();
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        if let Decoded::Ip { info, .. } = dec.decode(p.linktype, p.ts, p.orig_len, p.data) {
            let ctx = table.process(&info, &mut |r: &FlowRecord| ended.push(r.clone()));
            for r in ended.drain(..) {
                engine.flow_end(&r);
            }
            engine.packet(&info, &ctx);
            engine.drain(&mut out);
        }
    }
    table.finish(&mut |r: &FlowRecord| ended.push(r.clone()));
    for r in ended.drain(..) {
        engine.flow_end(&r);
    }
    engine.finish();
    engine.drain(&mut out);
    out
}

fn export_path(capture: &Path, home: &NetSet, version: &str) -> Vec<Emitted> {
    let grams = common::softflowd::export(capture, version, &[]);
    let mut c = Collector::new(&CollectConfig::default());
    let mut recs = Vec::new();
    for (from, d) in &grams {
        c.datagram(*from, d, 0, &mut recs);
    }
    assert!(!recs.is_empty());
    let mut engine = Engine::new(&DetectConfig::default(), home.clone()).unwrap();
    let mut out = Vec::new();
    for r in &recs {
        engine.flow_export(r);
        engine.drain(&mut out);
    }
    engine.finish();
    engine.drain(&mut out);
    out
}

fn same_alert(capture: &str) {
    same_alert_at(&common::corpus().join(capture));
}

fn exporter_missing() -> bool {
    let missing = !common::have("softflowd") || !common::have("softflowctl");
    if missing {
        eprintln!("SKIP: softflowd not installed (apt-get install softflowd)");
    }
    missing
}

fn same_alert_at(path: &Path) {
    check(path, true);
}

/// `all`: every truth event must be found by this test's packet path (it
/// has no application metadata, unlike `vigil analyze`); else events it
/// misses are skipped with a note. Returns the truth events both paths
/// found.
fn check(path: &Path, all: bool) -> usize {
    if exporter_missing() {
        return 0;
    }
    let capture = path.display();
    let t = truth(path);
    let packets = keys(&packet_path(path, &t.home));
    let flows: Vec<_> = ["9", "10"]
        .iter()
        .map(|v| (*v, keys(&export_path(path, &t.home, v))))
        .collect();
    // the scorer's key: victim for dos, source for scan, lateral movement
    // and dns tunnels, both for the rest
    let key = |k: &Key| match k.0 {
        Category::Dos => (k.0, String::new(), k.2.clone()),
        Category::Scan | Category::LateralMovement | Category::DnsTunnel => {
            (k.0, k.1.clone(), String::new())
        }
        _ => (k.0, k.1.clone(), k.2.clone()),
    };
    for (v, fl) in &flows {
        eprintln!("{capture} v{v}: packets {packets:?} flows {fl:?}");
        // nothing the packet path did not say
        for k in fl {
            assert!(
                packets.iter().any(|p| key(p) == key(k)),
                "flow path alone says {k:?}"
            );
        }
    }
    let hit = |k: &&Key, cat: &str, src: &str, dst: &str| {
        k.0.slug() == cat && ((!src.is_empty() && k.1 == src) || (!dst.is_empty() && k.2 == dst))
    };
    let mut matched = 0;
    for (cat, src, dst) in &t.events {
        let Some(want) = packets.iter().find(|k| hit(k, cat, src, dst)) else {
            assert!(!all, "packet path missed {cat} {src} {dst}: {packets:?}");
            eprintln!("note: this test's packet path misses {cat} {src} {dst}");
            continue;
        };
        matched += 1;
        for (v, fl) in &flows {
            let got = fl
                .iter()
                .find(|k| key(k) == key(want))
                .unwrap_or_else(|| panic!("flow path (v{v}) missed {want:?}: {fl:?}"));
            // same signature (shape: vertical, horizontal, TCP/UDP, flood
            // kind), except lateral movement, whose message lists the admin
            // protocols that answered: an RPC answer is not always visible
            // in one-way records
            if want.0 != Category::LateralMovement {
                assert_eq!(got.3, want.3, "v{v}");
            }
        }
    }
    matched
}

#[test]
fn exported_syn_port_scan_alerts_like_packets() {
    same_alert("scan/chrissanders_synscan.pcapng");
}

#[test]
fn exported_syn_sweep_alerts_like_packets() {
    same_alert("scan/pcaphunt_hs-tcp_synPingSweepRand.pcapng");
}

#[test]
fn exported_udp_port_scan_alerts_like_packets() {
    same_alert("scan/pcaphunt_ps-udp.pcap");
}

#[test]
fn exported_ssh_bruteforce_alerts_like_packets() {
    same_alert("bruteforce/zeek_sshguess.pcap");
}

#[test]
fn exported_ftp_bruteforce_alerts_like_packets() {
    same_alert("bruteforce/zeek_ftp_bruteforce.pcap");
}

/// A `vigil sim` scenario (small scale) written to a temporary directory,
/// removed on drop.
struct Sim(std::path::PathBuf);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(format!("{}.truth.json", self.0.display()));
        if let Some(d) = self.0.parent() {
            let _ = std::fs::remove_dir(d); // once empty
        }
    }
}

fn sim(name: &str) -> Sim {
    let dir = std::env::temp_dir().join(format!("vigil-a-sim-{}", std::process::id()));
    Sim(vigil_sim::generate(
        name,
        &dir,
        &vigil_sim::SimOptions {
            seed: 7,
            scale: 0.2,
        },
    )
    .unwrap())
}

#[test]
fn exported_syn_flood_alerts_like_packets() {
    same_alert_at(&sim("syn-flood").0);
}

#[test]
fn exported_udp_flood_alerts_like_packets() {
    same_alert_at(&sim("udp-flood").0);
}

#[test]
fn exported_icmp_flood_alerts_like_packets() {
    same_alert_at(&sim("icmp-flood").0);
}

#[test]
fn exported_dns_amplification_alerts_like_packets() {
    same_alert_at(&sim("dns-amplification").0);
}

#[test]
fn exported_exfiltration_alerts_like_packets() {
    same_alert_at(&sim("exfiltration").0);
}

#[test]
fn exported_beaconing_alerts_like_packets() {
    same_alert_at(&sim("beaconing").0);
}

/// Benign look-alikes: the flow path raises nothing the packet path does
/// not (which raises nothing on them).
#[test]
fn exported_benign_scenarios_stay_quiet_like_packets() {
    for s in [
        "flash-crowd",
        "nightly-backup",
        "busy-resolver",
        "benign-periodic",
        "large-download",
    ] {
        same_alert_at(&sim(s).0);
    }
}

#[test]
#[ignore = "survey: prints packet vs flow alerts for every scenario"]
fn survey_every_scenario() {
    let only = std::env::var("SURVEY").unwrap_or_default();
    for s in vigil_sim::scenarios() {
        if !only.is_empty() && only != s.name {
            continue;
        }
        let r = std::panic::catch_unwind(|| same_alert_at(&sim(s.name).0));
        eprintln!(
            "SURVEY {} {}",
            s.name,
            if r.is_ok() { "same" } else { "DIFFERS" }
        );
    }
}

#[test]
fn exported_lateral_movement_alerts_like_packets() {
    same_alert_at(&sim("lateral-movement").0);
}

#[test]
fn exported_scans_and_db_bruteforce_alert_like_packets() {
    for s in [
        "port-scan",
        "host-sweep",
        "udp-scan",
        "ssh-bruteforce",
        "db-bruteforce",
    ] {
        same_alert_at(&sim(s).0);
    }
}

/// The product's story from flows alone: a SYN flood hiding a scan, an SSH
/// brute force and lateral movement, all exported by softflowd (which
/// force-expires flows past its 8192-flow table), found as the packet path
/// finds them.
#[test]
fn exported_smokescreen_finds_the_quiet_attacks_under_the_flood() {
    if exporter_missing() {
        return;
    }
    // the flood, the scan, the brute force and the lateral movement (the
    // exfiltration needs application metadata this test's packet path lacks)
    assert!(check(&sim("smokescreen").0, false) >= 4);
}
