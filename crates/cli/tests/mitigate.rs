//! Mitigation end to end through the `vigil` binary: `vigil analyze` on a
//! generated flood in dry-run (EVE `mitigation` events, evidence log,
//! `vigil mitigations list|withdraw`), the same with nftables applied for
//! real inside a namespace, and `vigil run` on a router namespace between
//! an attacker and a victim: the rule appears and the victim's received
//! rate drops. Root, nft and hping3 are needed for the last two (they skip
//! with a reason otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

// the namespace lab shared with vigil-mitigate's own namespace tests
#[path = "../../mitigate/tests/common/mod.rs"]
mod common;
use common::{have, is_root, ns_sh, rx_rate, sh, Lab};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-mitigate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn mitigations(ev: &[Value]) -> Vec<&Value> {
    ev.iter()
        .filter(|e| e["event_type"] == "mitigation" && e["mitigation"]["action"] != "stats")
        .collect()
}

fn ts_nanos(s: &str) -> i128 {
    // 2022-06-25T11:27:25.981184+0000 or ...Z: seconds of the day are enough
    // for differences inside one capture
    let t = &s[11..];
    let h: i128 = t[0..2].parse().unwrap();
    let m: i128 = t[3..5].parse().unwrap();
    let sec: f64 = t[6..]
        .trim_end_matches('Z')
        .split(['+', '-'])
        .next()
        .unwrap()
        .parse()
        .unwrap();
    ((h * 3600 + m * 60) * 1_000_000_000) + (sec * 1e9) as i128
}

fn sim(dir: &Path, scenario: &str) -> (PathBuf, Value) {
    sh(&[
        VIGIL,
        "sim",
        scenario,
        "--out",
        dir.to_str().unwrap(),
        "--seed",
        "1",
    ]);
    let pcap = dir.join(format!("{scenario}.pcap"));
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{scenario}.pcap.truth.json"))).unwrap(),
    )
    .unwrap();
    (pcap, truth)
}

fn analyze(prefix: &[&str], pcap: &Path, config: &Path, eve: &Path, evidence: Option<&Path>) {
    let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    args.extend([VIGIL, "analyze", "--no-progress", "-q", "--config"].map(String::from));
    args.push(config.display().to_string());
    args.push("--eve".into());
    args.push(eve.display().to_string());
    if let Some(e) = evidence {
        args.push("--evidence".into());
        args.push(e.display().to_string());
    }
    args.push(pcap.display().to_string());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    sh(&a);
}

#[test]
fn analyze_dry_run_plans_logs_and_lists_mitigations() {
    let dir = tmpdir("dry");
    let (pcap, truth) = sim(&dir, "udp-flood");
    let victim = truth["events"][0]["dest_ip"].as_str().unwrap().to_string();
    let state = dir.join("state.json");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"192.168.0.0/16\", \"203.0.113.0/24\", \"2001:db8:b::/48\"]\n\
             [mitigate]\nenabled = true\nstate_file = \"{}\"\nallowlist = [\"192.168.0.0/16\"]\n\
             [mitigate.nftables]\nenabled = true\n[mitigate.bgp]\nenabled = true\n",
            state.display()
        ),
    )
    .unwrap();
    let eve = dir.join("eve.json");
    let evidence = dir.join("evidence.jsonl");
    analyze(&[], &pcap, &cfg, &eve, Some(&evidence));
    let ev = lines(&eve);
    let m = mitigations(&ev);
    let kinds: Vec<(String, String)> = m
        .iter()
        .map(|e| {
            (
                e["mitigation"]["action"].as_str().unwrap().to_string(),
                e["mitigation"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("announce".into(), "rate_limit".into()),
            ("announce".into(), "blackhole".into()),
            ("announce".into(), "flowspec".into()),
        ],
        "{m:?}"
    );
    for e in &m {
        assert_eq!(e["mitigation"]["victim"], victim.as_str());
        assert_eq!(e["mitigation"]["dry_run"], true);
        assert_eq!(e["mitigation"]["applied"], false);
    }
    // onset in capture time: the flood's first packet → the plan
    let onset = ts_nanos(m[0]["timestamp"].as_str().unwrap())
        - ts_nanos(truth["events"][0]["start"].as_str().unwrap());
    eprintln!(
        "udp-flood: first flood packet → mitigation planned: {:.3} s (capture time)",
        onset as f64 / 1e9
    );
    assert!((0..2_000_000_000).contains(&onset), "onset {onset} ns");
    // every decision (and the final counters) is in the evidence log, and
    // the chain verifies
    let log = std::fs::read_to_string(&evidence).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"kind\":\"mitigation\""))
            .count(),
        4
    );
    let stats = ev
        .iter()
        .find(|e| e["mitigation"]["action"] == "stats")
        .expect("a stats event");
    assert_eq!(stats["mitigation"]["announced"], 3);
    assert_eq!(stats["mitigation"]["refused_cap"], 0);
    sh(&[VIGIL, "verify", evidence.to_str().unwrap()]);
    // the state file lists them; withdraw one (dry-run: nothing to undo)
    let list = sh(&[
        VIGIL,
        "mitigations",
        "list",
        "--json",
        "--state",
        state.to_str().unwrap(),
    ]);
    let ids: Vec<String> = list
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3);
    let out = sh(&[
        VIGIL,
        "mitigations",
        "withdraw",
        &ids[0],
        "--state",
        state.to_str().unwrap(),
    ]);
    let w: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(w["mitigation"]["action"], "withdraw");
    assert_eq!(w["mitigation"]["reason"], "operator");
    let list = sh(&[
        VIGIL,
        "mitigations",
        "list",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(!list.contains(&ids[0]) && list.contains(&ids[1]), "{list}");
    let bad = Command::new(VIGIL)
        .args([
            "mitigations",
            "withdraw",
            "no-such-id",
            "--state",
            state.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    // a second run over the same capture: the restart withdraws what the
    // first left, then plans the same actions again (same ids: capture time)
    let eve2 = dir.join("eve2.json");
    analyze(&[], &pcap, &cfg, &eve2, None);
    let ev2 = lines(&eve2);
    let m2 = mitigations(&ev2);
    let restart: Vec<&&Value> = m2
        .iter()
        .filter(|e| e["mitigation"]["reason"] == "restart")
        .collect();
    assert_eq!(restart.len(), 2);
    let ann2: Vec<&Value> = m2
        .iter()
        .filter(|e| e["mitigation"]["action"] == "announce")
        .map(|e| &e["mitigation"]["id"])
        .collect();
    let ann1: Vec<&Value> = m.iter().map(|e| &e["mitigation"]["id"]).collect();
    assert_eq!(ann1, ann2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_mitigate_section_is_a_config_error() {
    let dir = tmpdir("bad");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        "[mitigate]\nenabled = true\nallowlist = [\"10.0.0.0/99\"]\n",
    )
    .unwrap();
    let (pcap, _) = sim(&dir, "udp-flood");
    let out = Command::new(VIGIL)
        .args(["analyze", "-q", "--no-progress", "--config"])
        .arg(&cfg)
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mitigate"));
    std::fs::write(&cfg, "[mitigate]\nenabeld = true\n").unwrap();
    let out = Command::new(VIGIL)
        .args(["analyze", "-q", "--no-progress", "--config"])
        .arg(&cfg)
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

fn vigil_rules(ns: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(&ns_sh(ns, &["nft", "-j", "list", "ruleset"])).unwrap();
    v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.get("rule")?.get("comment")?.as_str().map(String::from))
        .filter(|c| c.starts_with("vigil:nftables"))
        .collect()
}

#[test]
fn analyze_applies_nftables_in_a_namespace_and_the_operator_withdraws_it() {
    if !is_root() || !have("nft") {
        eprintln!("skipped: needs root and nft (apt nftables)");
        return;
    }
    let dir = tmpdir("nft");
    let (pcap, truth) = sim(&dir, "udp-flood");
    let victim = truth["events"][0]["dest_ip"].as_str().unwrap().to_string();
    let mut lab = Lab::default();
    let ns = lab.ns("n");
    let state = dir.join("state.json");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"203.0.113.0/24\"]\n[mitigate]\nenabled = true\ndry_run = false\nstate_file = \"{}\"\n\
             [mitigate.nftables]\nenabled = true\n",
            state.display()
        ),
    )
    .unwrap();
    let eve = dir.join("eve.json");
    analyze(&["ip", "netns", "exec", &ns], &pcap, &cfg, &eve, None);
    let ev = lines(&eve);
    let m = mitigations(&ev);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["mitigation"]["applied"], true);
    let id = m[0]["mitigation"]["id"].as_str().unwrap().to_string();
    assert_eq!(vigil_rules(&ns), vec![format!("vigil:{id}")]);
    let rules = ns_sh(&ns, &["nft", "list", "chain", "inet", "vigil", "pre"]);
    assert!(
        rules.contains(&format!(
            "ip daddr {victim} meta l4proto udp limit rate over 1000/second"
        )),
        "{rules}"
    );
    // the operator withdraws it: the rule goes
    ns_sh(
        &ns,
        &[
            VIGIL,
            "mitigations",
            "withdraw",
            &id,
            "--state",
            state.to_str().unwrap(),
        ],
    );
    assert!(vigil_rules(&ns).is_empty());
    // a run installs it again; the next run's start withdraws it (restart)
    analyze(&["ip", "netns", "exec", &ns], &pcap, &cfg, &eve, None);
    assert_eq!(vigil_rules(&ns).len(), 1);
    let empty = dir.join("empty.toml");
    std::fs::write(
        &empty,
        format!(
            "home_net = [\"198.18.0.0/24\"]\n[mitigate]\nenabled = true\ndry_run = false\nstate_file = \"{}\"\n\
             [mitigate.nftables]\nenabled = true\n",
            state.display()
        ),
    )
    .unwrap();
    let eve3 = dir.join("eve3.json");
    analyze(&["ip", "netns", "exec", &ns], &pcap, &empty, &eve3, None);
    let ev3 = lines(&eve3);
    let m3 = mitigations(&ev3);
    assert_eq!(m3.len(), 1);
    assert_eq!(m3[0]["mitigation"]["reason"], "restart");
    assert!(vigil_rules(&ns).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vigil_run_on_a_router_mitigates_a_live_flood() {
    if !is_root() || !have("nft") || !have("hping3") {
        eprintln!("skipped: needs root, nft (apt nftables) and hping3");
        return;
    }
    let dir = tmpdir("run");
    let mut lab = Lab::default();
    let (att, rtr, vic) = lab.router("", 233);
    let flood = [
        "hping3",
        "-q",
        "--udp",
        "-p",
        "9",
        "-i",
        "u100",
        "--rand-source",
        "10.233.2.2",
    ];
    // no mitigation: what the flood does to the victim
    let f = lab.spawn(&att, &flood);
    std::thread::sleep(Duration::from_millis(500));
    let none = rx_rate(&vic, "vic0", 1000);
    lab.kill(f);
    eprintln!("victim rx, spoofed UDP flood, no mitigation: {none:.0} pps");
    assert!(none > 2000.0, "the flood reaches the victim ({none} pps)");
    std::thread::sleep(Duration::from_millis(300));

    let state = dir.join("state.json");
    let eve = dir.join("eve.json");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"10.233.2.0/24\"]\n\
             [run]\neve = \"{}\"\nmetrics = \"127.0.0.1:9111\"\nstats_interval_secs = 0\n\
             [[run.af_packet]]\ninterface = \"ra0\"\nworkers = 1\nblock_size = \"256KiB\"\nblock_count = 8\nblock_timeout_ms = 10\n\
             [mitigate]\nenabled = true\ndry_run = false\nttl_secs = 4\nstate_file = \"{}\"\n\
             [mitigate.nftables]\nenabled = true\nvictim_pps = 300\nburst = 50\n",
            eve.display(),
            state.display()
        ),
    )
    .unwrap();
    let log = dir.join("vigil.log");
    let v = lab.spawn_logged(
        &rtr,
        &[VIGIL, "run", "--config", cfg.to_str().unwrap()],
        &log,
    );
    let t = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("vigil run started")
    {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "vigil run did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));

    let start_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let t0 = Instant::now();
    let f = lab.spawn(&att, &flood);
    while vigil_rules(&rtr).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no rule: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let onset_wall = t0.elapsed();
    let limited = rx_rate(&vic, "vic0", 1000);
    eprintln!("flood start → nft rule visible: {onset_wall:?} (wall); victim rx under the limit: {limited:.0} pps (none: {none:.0})");
    assert!(
        limited < 450.0,
        "victim rx limited to about 300 pps, got {limited}"
    );
    assert!(onset_wall < Duration::from_secs(5));
    lab.kill(f);
    // light traffic keeps the sensor's clock moving until the TTL passes
    let _tick = lab.spawn(
        &att,
        &[
            "hping3",
            "-q",
            "--udp",
            "-p",
            "7",
            "-i",
            "u50000",
            "10.233.2.2",
        ],
    );
    let t1 = Instant::now();
    while !vigil_rules(&rtr).is_empty() {
        assert!(
            t1.elapsed() < Duration::from_secs(20),
            "the TTL did not withdraw the rule"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        lab.term(v),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let ev = lines(&eve);
    let m = mitigations(&ev);
    let alert = ev
        .iter()
        .find(|e| e["event_type"] == "alert" && e["alert"]["category"] == "dos")
        .expect("a dos alert");
    let ann = m
        .iter()
        .find(|e| e["mitigation"]["action"] == "announce")
        .expect("announce");
    assert_eq!(ann["mitigation"]["applied"], true);
    assert!(m
        .iter()
        .any(|e| e["mitigation"]["action"] == "withdraw" && e["mitigation"]["reason"] == "ttl"));
    // capture time: the flood's start (wall clock of the sender) → the alert
    let day = 86_400_000_000_000i128;
    let onset_cap =
        (ts_nanos(alert["timestamp"].as_str().unwrap()) - start_wall % day).rem_euclid(day);
    eprintln!(
        "flood start → dos alert (capture time): {:.3} s",
        onset_cap as f64 / 1e9
    );
    let _ = std::fs::remove_dir_all(&dir);
}
