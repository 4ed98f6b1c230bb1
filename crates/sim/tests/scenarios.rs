//! Every scenario, two seeds, small scale: the pcap is well-formed, checksums
//! hold on a sample of frames, the truth parses and its events lie inside the
//! capture with `start`/`end` equal to real packet times.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use common::{check_frame, parse_time, read_pcap, scratch};
use serde_json::Value;
use vigil_sim::{generate, scenarios, SimOptions};

const SCALE: f64 = 0.05;
const BENIGN: &[&str] = &[
    "flash-crowd",
    "nightly-backup",
    "busy-resolver",
    "benign-periodic",
    "large-download",
];

fn keys(category: &str) -> &'static [&'static str] {
    match category {
        "dos" => &["dest_ip"],
        "scan" | "dns-tunnel" | "lateral-movement" => &["src_ip"],
        "bruteforce" | "exfiltration" | "beaconing" => &["src_ip", "dest_ip"],
        other => panic!("unknown category {other}"),
    }
}

fn check(name: &str) {
    let info = scenarios().iter().find(|s| s.name == name).expect("listed");
    for seed in [1u64, 2] {
        let dir = scratch(&format!("{name}-{seed}"));
        let t = Instant::now();
        let pcap = generate(name, &dir, &SimOptions { seed, scale: SCALE }).expect("generates");
        let took = t.elapsed();
        assert!(took.as_secs_f64() < 5.0, "{name}: {took:?}");
        assert_eq!(pcap, dir.join(format!("{name}.pcap")));
        let recs = read_pcap(&pcap);
        assert!(recs.len() > 100, "{name}: {} records", recs.len());
        let times: HashSet<u64> = recs.iter().map(|r| r.ts).collect();
        for w in recs.windows(2) {
            assert!(w[0].ts <= w[1].ts, "{name}: timestamps go back");
        }
        let step = (recs.len() / 400).max(1);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.caplen, r.orig);
            if i % step == 0 || i < 50 || i + 50 > recs.len() {
                check_frame(&r.data);
            }
        }
        let (first, last) = (recs[0].ts, recs[recs.len() - 1].ts);

        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.pcap.truth.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(truth["capture"], format!("{name}.pcap"));
        let homes: Vec<&str> = truth["home_nets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(homes, info.home_nets);
        let events = truth["events"].as_array().expect("events array");
        if BENIGN.contains(&name) {
            assert!(events.is_empty(), "{name}: benign with events");
        } else {
            assert!(!events.is_empty(), "{name}: no events");
        }
        for e in events {
            let cat = e["category"].as_str().unwrap();
            assert!(e["id"].is_string());
            for k in keys(cat) {
                let v = e[k]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: event lacks {k}"));
                v.parse::<std::net::IpAddr>().unwrap();
            }
            let s = parse_time(e["start"].as_str().unwrap());
            let en = parse_time(e["end"].as_str().unwrap());
            assert!(
                first <= s && s <= en && en <= last,
                "{name}: event outside capture"
            );
            assert!(
                times.contains(&s) && times.contains(&en),
                "{name}: start/end not packet times"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

macro_rules! scenario_tests {
    ($($f:ident => $n:literal),* $(,)?) => {
        $( #[test] fn $f() { check($n); } )*

        #[test]
        fn every_scenario_has_a_test() {
            let tested: &[&str] = &[$($n),*];
            for s in scenarios() {
                assert!(tested.contains(&s.name), "no test for {}", s.name);
            }
        }
    };
}

scenario_tests! {
    flood_upload => "flood-upload",
    syn_flood => "syn-flood",
    udp_flood => "udp-flood",
    icmp_flood => "icmp-flood",
    dns_amplification => "dns-amplification",
    http_flood => "http-flood",
    slowloris => "slowloris",
    port_scan => "port-scan",
    host_sweep => "host-sweep",
    udp_scan => "udp-scan",
    ssh_bruteforce => "ssh-bruteforce",
    ftp_bruteforce => "ftp-bruteforce",
    http_login_bruteforce => "http-login-bruteforce",
    db_bruteforce => "db-bruteforce",
    kerberos_bruteforce => "kerberos-bruteforce",
    exfiltration => "exfiltration",
    beaconing => "beaconing",
    dns_tunnel => "dns-tunnel",
    lateral_movement => "lateral-movement",
    smokescreen => "smokescreen",
    flash_crowd => "flash-crowd",
    nightly_backup => "nightly-backup",
    busy_resolver => "busy-resolver",
    benign_periodic => "benign-periodic",
    large_download => "large-download",
}
