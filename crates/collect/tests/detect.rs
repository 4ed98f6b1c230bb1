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
    events: Vec<(String, String)>,
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
                (
                    e["category"].as_str().unwrap().to_string(),
                    e["src_ip"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
    }
}

/// (category, source, signature) of every first alert.
fn keys(alerts: &[Emitted]) -> Vec<(Category, String, String)> {
    let mut v: Vec<_> = alerts
        .iter()
        .filter(|e| e.update == 0)
        .map(|e| {
            (
                e.alert.category,
                e.alert.src.map(|a| a.to_string()).unwrap_or_default(),
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
    if !common::have("softflowd") || !common::have("softflowctl") {
        eprintln!("SKIP: softflowd not installed (apt-get install softflowd)");
        return;
    }
    let path = common::corpus().join(capture);
    let t = truth(&path);
    let packets = keys(&packet_path(&path, &t.home));
    for (cat, src) in &t.events {
        let want = packets
            .iter()
            .find(|k| k.0.slug() == cat && k.1 == *src)
            .unwrap_or_else(|| panic!("packet path missed {src}: {packets:?}"));
        for v in ["9", "10"] {
            let flows = keys(&export_path(&path, &t.home, v));
            eprintln!("{capture} v{v}: packets {packets:?} flows {flows:?}");
            // same category, source and signature (shape: vertical,
            // horizontal, TCP/UDP)
            assert!(
                flows.contains(want),
                "flow path (v{v}) missed {want:?}: {flows:?}"
            );
            // nothing the packet path did not say
            for k in &flows {
                assert!(packets.contains(k), "flow path alone says {k:?}");
            }
        }
    }
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
