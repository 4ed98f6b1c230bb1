//! The planner and the engine, without root: decisions, safety rules and
//! the exact commands backends run (through the recording `sys` seam).

use std::net::IpAddr;
use std::sync::Arc;

use vigil_core::{Addr, Alert, Category, DirCounters, FlowRecord, NANOS_PER_SEC};
use vigil_mitigate::config::NetworkPolicy;
use vigil_mitigate::sys::Recorder;
use vigil_mitigate::{Backend, Kind, MitigateConfig, Mitigations, Op, Planner};

const T0: u64 = 1_700_000_000 * NANOS_PER_SEC;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn dos(ts_s: u64, victim: &str, sid: u32, sources: f64) -> Alert {
    let mut a = Alert::new(
        T0 + ts_s * NANOS_PER_SEC,
        Category::Dos,
        sid,
        "VIGIL DOS test",
        1,
    );
    a.dst = Some(Addr::from(ip(victim)));
    a.proto = Some(if sid == 1_000_001 { 6 } else { 17 });
    a.metrics = vec![("distinct_sources", sources), ("pps", 50_000.0)];
    a
}

fn cfg() -> MitigateConfig {
    let mut c = MitigateConfig {
        enabled: true,
        ..Default::default()
    };
    c.nftables.enabled = true;
    c.bgp.enabled = true;
    c
}

fn kinds(ops: &[Op]) -> Vec<(String, Backend, Kind)> {
    ops.iter()
        .map(|o| {
            let (w, a) = match o {
                Op::Announce(a) => ("announce", a),
                Op::Update { new, .. } => ("update", new),
                Op::Rearm(a) => ("rearm", a),
                Op::Withdraw { action, .. } => ("withdraw", action),
                Op::Refused { action, reason } => (*reason, action),
            };
            (w.to_string(), a.backend, a.kind)
        })
        .collect()
}

fn flow(client: &str, server: &str, end_s: u64, pkts: u64) -> FlowRecord {
    FlowRecord {
        flow_id: 1,
        client: Addr::from(ip(client)),
        server: Addr::from(ip(server)),
        cport: 4000,
        sport: 53,
        proto: 17,
        vlan: 0,
        icmp_type: 0,
        icmp_code: 0,
        start: T0,
        end: T0 + end_s * NANOS_PER_SEC,
        toserver: DirCounters {
            pkts,
            ..Default::default()
        },
        toclient: DirCounters::default(),
        state: Default::default(),
        reason: vigil_core::EndReason::Timeout,
        app_proto: None,
    }
}

#[test]
fn spoofed_syn_flood_gets_a_victim_limit_a_blackhole_and_flowspec_but_no_drop_set() {
    let mut p = Planner::new(&cfg()).unwrap();
    let ops = p.alert(&dos(0, "10.0.0.5", 1_000_001, 40_000.0));
    assert_eq!(
        kinds(&ops),
        vec![
            ("announce".into(), Backend::Nftables, Kind::RateLimit),
            ("announce".into(), Backend::Bgp, Kind::Blackhole),
            ("announce".into(), Backend::Bgp, Kind::Flowspec),
        ]
    );
    let Op::Announce(a) = &ops[0] else { panic!() };
    assert_eq!(a.rate_pps, Some(1000));
    assert_eq!(a.expires, T0 + 300 * NANOS_PER_SEC);
    assert_eq!(a.id, "nftables-rate_limit-10.0.0.5-1700000000");
}

#[test]
fn non_dos_alerts_and_alerts_without_victim_plan_nothing() {
    let mut p = Planner::new(&cfg()).unwrap();
    let mut a = dos(0, "10.0.0.5", 1_000_001, 1.0);
    a.category = Category::Scan;
    assert!(p.alert(&a).is_empty());
    let mut a = dos(0, "10.0.0.5", 1_000_001, 1.0);
    a.dst = None;
    assert!(p.alert(&a).is_empty());
    assert_eq!(p.active().count(), 0);
}

#[test]
fn few_real_attackers_named_by_the_alert_go_into_the_drop_set() {
    let mut c = cfg();
    c.bgp.enabled = false;
    let mut p = Planner::new(&c).unwrap();
    let mut a = dos(0, "10.0.0.5", 1_000_002, 1.0);
    a.src = Some(Addr::from(ip("198.51.100.7")));
    let ops = p.alert(&a);
    assert_eq!(
        kinds(&ops)[1],
        ("announce".into(), Backend::Nftables, Kind::DropSources)
    );
    let Op::Announce(d) = &ops[1] else { panic!() };
    assert_eq!(d.sources, vec![ip("198.51.100.7")]);
}

#[test]
fn the_sources_the_dos_detector_names_are_dropped_at_the_first_alert() {
    let mut c = cfg();
    c.bgp.enabled = false;
    let mut p = Planner::new(&c).unwrap();
    let mut a = dos(0, "10.0.0.5", 1_000_003, 3.0);
    a.sources = ["198.51.100.9", "198.51.100.7", "198.51.100.8"]
        .iter()
        .map(|s| Addr::from(ip(s)))
        .collect();
    let ops = p.alert(&a);
    assert_eq!(
        kinds(&ops),
        vec![
            ("announce".into(), Backend::Nftables, Kind::RateLimit),
            ("announce".into(), Backend::Nftables, Kind::DropSources)
        ]
    );
    let Op::Announce(d) = &ops[1] else { panic!() };
    assert_eq!(
        d.sources,
        vec![ip("198.51.100.7"), ip("198.51.100.8"), ip("198.51.100.9")]
    );
}

#[test]
fn few_source_attackers_are_named_from_flows_that_end_during_the_attack() {
    let mut c = cfg();
    c.bgp.enabled = false;
    let mut p = Planner::new(&c).unwrap();
    let ops = p.alert(&dos(10, "10.0.0.5", 1_000_002, 3.0));
    // sources unknown yet: only the per-victim limit
    assert_eq!(
        kinds(&ops),
        vec![("announce".into(), Backend::Nftables, Kind::RateLimit)]
    );
    // a flow that ended before the attack, and a tiny one: not attackers
    assert!(p
        .flow(&flow("198.51.100.1", "10.0.0.5", 5, 10_000))
        .is_empty());
    assert!(p.flow(&flow("198.51.100.2", "10.0.0.5", 12, 3)).is_empty());
    let ops = p.flow(&flow("198.51.100.3", "10.0.0.5", 12, 5_000));
    assert_eq!(
        kinds(&ops),
        vec![("announce".into(), Backend::Nftables, Kind::DropSources)]
    );
    let ops = p.flow(&flow("198.51.100.4", "10.0.0.5", 13, 5_000));
    let Op::Update { old, new } = &ops[0] else {
        panic!("{ops:?}")
    };
    assert_eq!(old.sources, vec![ip("198.51.100.3")]);
    assert_eq!(new.sources, vec![ip("198.51.100.3"), ip("198.51.100.4")]);
    // a flow to a host not under attack names nobody
    assert!(p
        .flow(&flow("198.51.100.9", "10.0.0.6", 13, 5_000))
        .is_empty());
}

#[test]
fn allowlisted_victims_and_sources_are_never_acted_on() {
    let mut c = cfg();
    c.allowlist = vec!["10.0.0.53/32".into(), "198.51.100.0/24".into()];
    let mut p = Planner::new(&c).unwrap();
    let ops = p.alert(&dos(0, "10.0.0.53", 1_000_001, 40_000.0));
    assert!(ops.iter().all(|o| matches!(
        o,
        Op::Refused {
            reason: "allowlist",
            ..
        }
    )));
    assert_eq!(ops.len(), 3);
    assert_eq!(p.active().count(), 0);
    assert_eq!(p.counters.refused_allowlist, 3);
    // an allowlisted source of a few-source flood is refused, never dropped
    let mut a = dos(0, "10.0.0.5", 1_000_002, 1.0);
    a.src = Some(Addr::from(ip("198.51.100.7")));
    let ops = p.alert(&a);
    assert!(ops
        .iter()
        .any(|o| matches!(o, Op::Refused { reason: "allowlist", action } if action.kind == Kind::DropSources)));
    assert!(p.active().all(|a| a.sources.is_empty()));
}

#[test]
fn caps_per_backend_and_in_total_refuse_and_count() {
    let mut c = cfg();
    c.bgp.enabled = false;
    c.nftables.max_active = 2;
    let mut p = Planner::new(&c).unwrap();
    for (i, v) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        let ops = p.alert(&dos(i as u64, v, 1_000_001, 9_000.0));
        if i < 2 {
            assert!(matches!(ops[0], Op::Announce(_)));
        } else {
            assert!(matches!(ops[0], Op::Refused { reason: "cap", .. }));
        }
    }
    assert_eq!(p.counters.refused_cap, 1);
    let mut c = cfg();
    c.max_active = 4;
    let mut p = Planner::new(&c).unwrap();
    p.alert(&dos(0, "10.0.0.1", 1_000_001, 9_000.0));
    let ops = p.alert(&dos(1, "10.0.0.2", 1_000_001, 9_000.0));
    assert_eq!(
        kinds(&ops).iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        vec!["announce", "cap", "cap"]
    );
    assert_eq!(p.active().count(), 4);
}

#[test]
fn updates_rearm_and_the_ttl_withdraws_after_the_attack() {
    let mut c = cfg();
    c.bgp.enabled = false;
    c.ttl_secs = 120;
    let mut p = Planner::new(&c).unwrap();
    p.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0));
    assert!(p.tick(T0 + 119 * NANOS_PER_SEC).is_empty());
    let ops = p.alert(&dos(60, "10.0.0.5", 1_000_001, 9_000.0));
    let Op::Rearm(a) = &ops[0] else { panic!() };
    assert_eq!((a.rearms, a.expires), (1, T0 + 180 * NANOS_PER_SEC));
    assert!(p.tick(T0 + 179 * NANOS_PER_SEC).is_empty());
    let ops = p.tick(T0 + 180 * NANOS_PER_SEC);
    assert!(matches!(&ops[..], [Op::Withdraw { reason: "ttl", .. }]));
    assert_eq!(p.active().count(), 0);
    // a new attack later is a new action
    let ops = p.alert(&dos(500, "10.0.0.5", 1_000_001, 9_000.0));
    assert!(matches!(&ops[..], [Op::Announce(a)] if a.id.ends_with("1700000500")));
}

#[test]
fn an_operator_withdrawal_holds_the_action_off_for_a_ttl() {
    let mut c = cfg();
    c.bgp.enabled = false;
    let mut p = Planner::new(&c).unwrap();
    let ops = p.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0));
    let Op::Announce(a) = &ops[0] else { panic!() };
    assert!(matches!(
        p.withdraw(&a.id, "operator"),
        Some(Op::Withdraw {
            reason: "operator",
            ..
        })
    ));
    assert!(p.withdraw(&a.id, "operator").is_none());
    assert!(p.alert(&dos(60, "10.0.0.5", 1_000_001, 9_000.0)).is_empty());
    p.tick(T0 + 301 * NANOS_PER_SEC);
    assert!(matches!(
        &p.alert(&dos(400, "10.0.0.5", 1_000_001, 9_000.0))[..],
        [Op::Announce(_)]
    ));
}

#[test]
fn network_policies_choose_backends_per_home_network() {
    let mut c = cfg();
    c.networks = vec![
        NetworkPolicy {
            prefixes: vec!["10.0.0.0/24".into()],
            backends: vec![Backend::Nftables],
        },
        NetworkPolicy {
            prefixes: vec!["2001:db8::/32".into()],
            backends: vec![Backend::Bgp],
        },
    ];
    let mut p = Planner::new(&c).unwrap();
    let k = kinds(&p.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0)));
    assert_eq!(
        k,
        vec![("announce".into(), Backend::Nftables, Kind::RateLimit)]
    );
    let k = kinds(&p.alert(&dos(0, "2001:db8::5", 1_000_001, 9_000.0)));
    assert_eq!(
        k.iter().map(|x| x.2).collect::<Vec<_>>(),
        vec![Kind::Blackhole, Kind::Flowspec]
    );
    // a victim in no listed network: nothing
    assert!(p
        .alert(&dos(0, "192.168.1.1", 1_000_001, 9_000.0))
        .is_empty());
}

#[test]
fn the_same_alerts_give_the_same_plan() {
    let run = || {
        let mut p = Planner::new(&cfg()).unwrap();
        let mut all = Vec::new();
        for i in 0..50u64 {
            let v = format!("10.0.{}.{}", i % 3, i % 7);
            all.extend(p.alert(&dos(
                i * 20,
                &v,
                1_000_001 + (i % 4) as u32,
                (i * 13 % 40) as f64,
            )));
            all.extend(p.tick(T0 + i * 20 * NANOS_PER_SEC));
        }
        all
    };
    assert_eq!(run(), run());
}

#[test]
fn bad_prefixes_are_config_errors() {
    let mut c = cfg();
    c.allowlist = vec!["10.0.0.0/33".into()];
    assert!(Planner::new(&c).is_err());
}

#[test]
fn config_defaults_are_safe_and_unknown_keys_fail() {
    let c: MitigateConfig = toml::from_str("").unwrap();
    assert!(!c.enabled && c.dry_run && !c.nftables.enabled && !c.bgp.enabled);
    assert!(toml::from_str::<MitigateConfig>("dryrun = false").is_err());
    let c: MitigateConfig =
        toml::from_str("dry_run = false\n[nftables]\nenabled = true\n[[networks]]\nprefixes = [\"10.0.0.0/8\"]\nbackends = [\"nftables\"]\n")
            .unwrap();
    assert!(!c.dry_run && c.nftables.enabled && c.networks[0].backends == vec![Backend::Nftables]);
}

// ---- the engine, through the recording seam ----

fn engine(c: &MitigateConfig) -> (Mitigations, Recorder) {
    let rec = Recorder::default();
    let m = Mitigations::from_config(c, Arc::new(rec.clone())).unwrap();
    (m, rec)
}

fn events(out: &[vigil_mitigate::Event]) -> Vec<serde_json::Value> {
    out.iter()
        .map(|e| serde_json::from_str(&e.json).unwrap())
        .collect()
}

#[test]
fn dry_run_logs_every_decision_and_runs_nothing() {
    let (mut m, rec) = engine(&cfg());
    let mut out = Vec::new();
    m.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    m.tick(T0 + 400 * NANOS_PER_SEC, &mut out);
    assert!(rec.calls().is_empty());
    let ev = events(&out);
    assert_eq!(ev.len(), 6);
    for e in &ev {
        assert_eq!(e["event_type"], "mitigation");
        assert_eq!(e["mitigation"]["dry_run"], true);
        assert_eq!(e["mitigation"]["applied"], false);
    }
    let acts: Vec<&str> = ev
        .iter()
        .map(|e| e["mitigation"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        acts,
        vec!["announce", "announce", "announce", "withdraw", "withdraw", "withdraw"]
    );
    assert_eq!(ev[3]["mitigation"]["reason"], "ttl");
}

#[test]
fn nft_commands_install_and_withdraw_by_comment() {
    let mut c = cfg();
    c.dry_run = false;
    c.bgp.enabled = false;
    let (mut m, rec) = engine(&c);
    let mut out = Vec::new();
    let mut a = dos(0, "10.0.0.5", 1_000_002, 2.0);
    a.src = Some(Addr::from(ip("198.51.100.7")));
    m.alert(&a, &mut out);
    let calls = rec.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls
        .iter()
        .all(|c| c.program == "nft" && c.args == ["-f", "-"]));
    let setup = calls[0].stdin.as_deref().unwrap();
    assert!(setup.starts_with("add table inet vigil\ndelete table inet vigil\n"));
    assert!(setup.contains("hook prerouting priority raw"));
    assert_eq!(
        calls[1].stdin.as_deref().unwrap(),
        "add rule inet vigil pre ip daddr 10.0.0.5 meta l4proto udp limit rate over 1000/second burst 200 packets counter drop comment \"vigil:nftables-rate_limit-10.0.0.5-1700000000\"\n"
    );
    assert_eq!(
        calls[2].stdin.as_deref().unwrap(),
        "add element inet vigil drop4 { 198.51.100.7 }\n"
    );
    assert!(events(&out)
        .iter()
        .all(|e| e["mitigation"]["applied"] == true));
    // withdrawal finds the rule's handle by its comment
    *rec.stdout.lock().unwrap() = r#"{"nftables":[{"rule":{"family":"inet","table":"vigil","chain":"pre","handle":7,"comment":"vigil:nftables-rate_limit-10.0.0.5-1700000000","expr":[]}}]}"#.into();
    out.clear();
    m.tick(T0 + 300 * NANOS_PER_SEC, &mut out);
    let calls = rec.calls();
    let tail: Vec<String> = calls[3..]
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c.args.join(" "),
                c.stdin.clone().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        tail,
        vec![
            "-f - delete element inet vigil drop4 { 198.51.100.7 }\n".to_string(),
            "-j list chain inet vigil pre ".to_string(),
            "-f - delete rule inet vigil pre handle 7\n".to_string(),
        ]
    );
    assert!(events(&out)
        .iter()
        .all(|e| e["mitigation"]["action"] == "withdraw"));
}

#[test]
fn a_failing_backend_is_logged_forgotten_and_retried_by_the_next_alert() {
    let mut c = cfg();
    c.dry_run = false;
    c.nftables.enabled = false;
    c.bgp.flowspec = false;
    let (mut m, rec) = engine(&c);
    *rec.fail_on.lock().unwrap() = Some("global rib".into());
    let mut out = Vec::new();
    m.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    let ev = events(&out);
    assert_eq!(ev[0]["mitigation"]["action"], "failed");
    assert_eq!(ev[0]["mitigation"]["reason"], "announce");
    assert!(ev[0]["mitigation"]["error"]
        .as_str()
        .unwrap()
        .contains("recorder told to fail"));
    assert_eq!(m.failed, 1);
    assert!(m.active().is_empty());
    *rec.fail_on.lock().unwrap() = None;
    out.clear();
    m.alert(&dos(60, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    assert_eq!(events(&out)[0]["mitigation"]["action"], "announce");
    let last = rec.calls().last().unwrap().clone();
    assert_eq!(last.program, "gobgp");
    assert_eq!(
        last.args,
        [
            "global",
            "rib",
            "-a",
            "ipv4",
            "add",
            "10.0.0.5/32",
            "community",
            "65535:666"
        ]
    );
}

#[test]
fn bgp_flowspec_arguments_follow_the_flood() {
    let mut c = cfg();
    c.dry_run = false;
    c.nftables.enabled = false;
    c.bgp.blackhole = false;
    c.bgp.gobgp_args = vec!["-p".into(), "50051".into()];
    let (mut m, rec) = engine(&c);
    let mut out = Vec::new();
    m.alert(&dos(0, "10.0.0.5", 1_000_004, 300.0), &mut out);
    m.alert(&dos(0, "2001:db8::5", 1_000_001, 9_000.0), &mut out);
    let calls: Vec<String> = rec.calls().iter().map(|c| c.args.join(" ")).collect();
    assert_eq!(
        calls,
        vec![
            "-p 50051 global rib -a ipv4-flowspec add match destination 10.0.0.5/32 protocol udp source-port ==19|==53|==111|==123|==137|==161|==389|==1900|==3702|==5353|==11211 then discard",
            "-p 50051 global rib -a ipv6-flowspec add match destination 2001:db8::5/128 protocol tcp tcp-flags =S then discard",
        ]
    );
}

#[test]
fn the_state_file_survives_a_restart_which_withdraws_what_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.dry_run = false;
    c.nftables.enabled = false;
    c.bgp.flowspec = false;
    c.state_file = dir.path().join("state.json").display().to_string();
    let (mut m, _rec) = engine(&c);
    let mut out = Vec::new();
    m.start(T0, &mut out).unwrap();
    m.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    m.finish(T0 + 10 * NANOS_PER_SEC, &mut out).unwrap();
    let st = vigil_mitigate::state::load(std::path::Path::new(&c.state_file)).unwrap();
    assert_eq!(st.active.len(), 1);
    assert!(st.active[0].applied);
    // a new process
    let (mut m2, rec2) = engine(&c);
    out.clear();
    m2.start(T0 + 20 * NANOS_PER_SEC, &mut out).unwrap();
    let ev = events(&out);
    assert_eq!(ev[0]["mitigation"]["action"], "withdraw");
    assert_eq!(ev[0]["mitigation"]["reason"], "restart");
    assert_eq!(
        rec2.calls()[0].args,
        ["global", "rib", "-a", "ipv4", "del", "10.0.0.5/32"]
    );
    let st = vigil_mitigate::state::load(std::path::Path::new(&c.state_file)).unwrap();
    assert!(st.active.is_empty());
}

#[test]
fn an_operator_withdrawal_through_the_state_file_is_noticed_by_the_running_engine() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.nftables.enabled = false;
    c.bgp.flowspec = false;
    c.state_file = dir.path().join("state.json").display().to_string();
    let (mut m, _) = engine(&c);
    let mut out = Vec::new();
    m.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    let id = m.active()[0].id.clone();
    // what `vigil mitigations withdraw ID` does in another process
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (mut op, _) = engine(&c);
    op.load_state().unwrap();
    let mut o2 = Vec::new();
    op.withdraw(&id, &mut o2).unwrap();
    assert!(op.withdraw(&id, &mut o2).is_err());
    out.clear();
    m.tick(T0 + NANOS_PER_SEC, &mut out);
    let ev = events(&out);
    assert_eq!(ev[0]["mitigation"]["reason"], "operator");
    assert!(m.active().is_empty());
    out.clear();
    m.alert(&dos(60, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    assert!(out.is_empty(), "held off after an operator's withdrawal");
}

#[cfg(not(feature = "xdp"))]
#[test]
fn enabling_xdp_in_a_build_without_it_is_a_config_error() {
    let mut c = cfg();
    c.xdp.enabled = true;
    let e = Mitigations::from_config(&c, Arc::new(Recorder::default()))
        .err()
        .unwrap();
    assert!(e.to_string().contains("without the `xdp` feature"), "{e}");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A damaged state file is an error, never a panic.
        #[test]
        fn any_state_file_bytes_load_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("s.json");
            std::fs::write(&p, &bytes).unwrap();
            let _ = vigil_mitigate::state::load(&p);
        }

        /// Whatever alerts and flows come, the caps hold, allowlisted
        /// victims and sources are never acted on, and every active action
        /// expires after the last alert plus the TTL.
        #[test]
        fn caps_and_allowlist_always_hold(
            steps in proptest::collection::vec((0u8..16, 0u8..4, 0u32..40, 0u64..400, any::<bool>(), 0u8..16), 1..120)
        ) {
            let mut c = cfg();
            c.max_active = 9;
            c.nftables.max_active = 5;
            c.bgp.max_active = 4;
            c.allowlist = vec!["10.0.0.0/30".into(), "198.51.100.0/29".into()];
            let mut p = Planner::new(&c).unwrap();
            let mut t = 0u64;
            for (v, kind, nsrc, dt, is_flow, s) in steps {
                t += dt;
                let victim = format!("10.0.0.{v}");
                if is_flow {
                    p.flow(&flow(&format!("198.51.100.{s}"), &victim, t, 150 + dt));
                } else {
                    let mut a = dos(t, &victim, 1_000_001 + kind as u32, nsrc as f64);
                    if s % 3 == 0 {
                        a.src = Some(Addr::from(ip(&format!("198.51.100.{s}"))));
                    }
                    p.alert(&a);
                }
                p.tick(T0 + t * NANOS_PER_SEC);
                let active: Vec<_> = p.active().cloned().collect();
                prop_assert!(active.len() <= 9);
                prop_assert!(active.iter().filter(|a| a.backend == Backend::Nftables).count() <= 5);
                prop_assert!(active.iter().filter(|a| a.backend == Backend::Bgp).count() <= 4);
                for a in &active {
                    let allow = vigil_core::NetSet::parse("10.0.0.0/30,198.51.100.0/29").unwrap();
                    prop_assert!(!allow.contains(Addr::from(a.victim)));
                    prop_assert!(a.sources.iter().all(|s| !allow.contains(Addr::from(*s))));
                    prop_assert!(a.sources.len() <= 8);
                    prop_assert!(a.expires > T0 + t * NANOS_PER_SEC);
                }
            }
        }
    }
}

#[test]
fn a_failed_withdrawal_is_kept_in_the_state_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.dry_run = false;
    c.nftables.enabled = false;
    c.bgp.flowspec = false;
    c.ttl_secs = 60;
    c.state_file = dir.path().join("state.json").display().to_string();
    let (mut m, rec) = engine(&c);
    let mut out = Vec::new();
    m.alert(&dos(0, "10.0.0.5", 1_000_001, 9_000.0), &mut out);
    *rec.fail_on.lock().unwrap() = Some(" del ".into());
    out.clear();
    m.tick(T0 + 60 * NANOS_PER_SEC, &mut out);
    let ev = events(&out);
    assert_eq!(ev.len(), 1, "one failure, no immediate retry: {ev:?}");
    assert_eq!(ev[0]["mitigation"]["action"], "failed");
    assert_eq!(ev[0]["mitigation"]["reason"], "withdraw");
    let st = vigil_mitigate::state::load(std::path::Path::new(&c.state_file)).unwrap();
    assert_eq!(st.active.len(), 1, "kept while still installed");
    // the daemon is back: the next retry (10 s later) withdraws it
    *rec.fail_on.lock().unwrap() = None;
    out.clear();
    m.tick(T0 + 65 * NANOS_PER_SEC, &mut out);
    assert!(out.is_empty(), "not before the retry interval");
    m.tick(T0 + 71 * NANOS_PER_SEC, &mut out);
    let ev = events(&out);
    assert_eq!(ev[0]["mitigation"]["action"], "withdraw");
    assert_eq!(ev[0]["mitigation"]["reason"], "retry");
    let st = vigil_mitigate::state::load(std::path::Path::new(&c.state_file)).unwrap();
    assert!(st.active.is_empty());
}
