use super::*;
use vigil_core::{Addr, Alert, Category, DirCounters, EndReason, FlowRecord, FlowState};

fn ip(s: &str) -> Addr {
    s.parse::<std::net::IpAddr>().expect("ip").into()
}

fn flow(id: u64, c: &str, s: &str, start: u64, end: u64, up: u64, down: u64) -> FlowRecord {
    FlowRecord {
        flow_id: id,
        client: ip(c),
        server: ip(s),
        cport: 40000,
        sport: 443,
        proto: 6,
        vlan: 0,
        icmp_type: 0,
        icmp_code: 0,
        start,
        end,
        toserver: DirCounters {
            pkts: 10,
            bytes: up,
            ..Default::default()
        },
        toclient: DirCounters {
            pkts: 5,
            bytes: down,
            ..Default::default()
        },
        state: FlowState::Closed,
        reason: EndReason::Timeout,
        app_proto: Some("tls"),
    }
}

const S: u64 = 1_700_000_000_000_000_000;

#[test]
fn a_run_round_trips() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("v.db");
    let mut w = Store::begin_run(
        &db,
        &RunInfo {
            command: "analyze".into(),
            inputs: vec!["x.pcap".into()],
            home_net: vec!["10.0.0.0/8".into()],
        },
    )
    .expect("begin");
    let run = w.run_id();
    w.push(Msg::Flow(Box::new(flow(
        1,
        "10.0.0.5",
        "203.0.113.9",
        S,
        S + 3_000_000_000,
        3_000_000,
        1000,
    ))))
    .expect("push");
    w.push(Msg::Flow(Box::new(flow(
        2,
        "10.0.0.6",
        "198.51.100.1",
        S,
        S + 1,
        100,
        100,
    ))))
    .expect("push");
    let mut a = Alert::new(
        S + 2_000_000_000,
        Category::Exfiltration,
        9,
        "big upload",
        1,
    );
    a.src = Some(ip("10.0.0.5"));
    a.dst = Some(ip("203.0.113.9"));
    a.metrics.push(("bytes", 3e6));
    a.flow_ids.push(1);
    w.push(Msg::Alert(Box::new(a), 0)).expect("push");
    w.push(Msg::Incident(
        Box::new(IncidentRow {
            id: 77,
            first_ns: (S + 2_000_000_000) as i64,
            last_ns: (S + 2_000_000_000) as i64,
            categories: vec!["exfiltration".into()],
            hosts: vec!["10.0.0.5".into()],
            attackers: vec!["203.0.113.9".into()],
            alerts: 1,
            severity: 1,
            summary: "exfil".into(),
            ..Default::default()
        }),
        true,
    ))
    .expect("push");
    let rows = w
        .finish(RunTotals {
            first_ns: Some(S as i64),
            last_ns: (S + 3_000_000_000) as i64,
            packets: 30,
            bytes: 3_001_200,
            status: "finished".into(),
        })
        .expect("finish");
    assert_eq!(rows, 4);

    let st = Store::open_existing(&db).expect("open");
    assert_eq!(st.integrity_check().expect("check"), "ok");
    let runs = st.runs().expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "finished");
    assert_eq!(runs[0].flows, Some(2));
    let f = Filter {
        ip: Some("10.0.0.5".into()),
        ..Default::default()
    };
    assert_eq!(st.flows(&f).expect("flows").len(), 1);
    assert_eq!(st.alerts(&f).expect("alerts").len(), 1);
    let by_inc = Filter {
        incident: Some(77),
        ..Default::default()
    };
    let alerts = st.alerts(&by_inc).expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].metrics["bytes"], 3e6);
    let flows = st.flows(&by_inc).expect("flows");
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].flow_id, 1);
    assert_eq!(
        st.bytes_out(
            run,
            &["10.0.0.5".into()],
            &["203.0.113.9".into()],
            0,
            i64::MAX
        )
        .expect("bytes"),
        3_000_000
    );
    // the timeline holds every packet and byte, spread over the flows' spans
    let tl = st.timeline(run).expect("timeline");
    assert_eq!(tl.len(), 4);
    let pk: i64 = tl.iter().map(|t| t.2).sum();
    let by: i64 = tl.iter().map(|t| t.3).sum();
    assert_eq!(pk, 30);
    assert_eq!(by, 3_001_200);
    assert!(st
        .alerts(&Filter {
            category: Some("scan".into()),
            ..Default::default()
        })
        .expect("alerts")
        .is_empty());
}

#[test]
fn not_a_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("junk.db");
    std::fs::write(&p, b"this is not sqlite at all, just bytes........................................................................................").expect("write");
    assert!(Store::open_existing(&p).is_err());
    assert!(Store::open_existing(&dir.path().join("missing.db")).is_err());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("new.db");
    drop(Store::open(&p).expect("open"));
    let c = rusqlite::Connection::open(&p).expect("c");
    c.pragma_update(None, "user_version", 99).expect("set");
    drop(c);
    assert!(matches!(
        Store::open(&p),
        Err(Error::TooNew { found: 99, .. })
    ));
}

#[test]
fn merged_incidents_hand_over_their_alerts() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("m.db");
    let mut w = Store::begin_run(&db, &RunInfo::default()).expect("begin");
    let inc = |id: u64, merged: Vec<u64>| IncidentRow {
        id,
        merged,
        hosts: vec!["10.0.0.1".into()],
        ..Default::default()
    };
    for id in [1u64, 2] {
        w.push(Msg::Alert(
            Box::new(Alert::new(S, Category::Scan, 1, "s", 2)),
            0,
        ))
        .expect("push");
        w.push(Msg::Incident(Box::new(inc(id, vec![])), true))
            .expect("push");
    }
    w.push(Msg::Incident(Box::new(inc(1, vec![2])), false))
        .expect("push");
    w.finish(RunTotals::default()).expect("finish");
    let st = Store::open_existing(&db).expect("open");
    let all = st.incidents(&Filter::default()).expect("inc");
    assert_eq!(all.len(), 1);
    let f = Filter {
        incident: Some(1),
        ..Default::default()
    };
    assert_eq!(st.alerts(&f).expect("alerts").len(), 2);
}

#[test]
fn an_older_store_is_migrated_in_place() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("old.db");
    {
        // a store as the first schema left it, with one alert
        let c = rusqlite::Connection::open(&p).expect("c");
        c.execute_batch(MIGRATIONS[0]).expect("v1");
        c.pragma_update(None, "user_version", 1).expect("v");
        c.execute_batch(
            "INSERT INTO runs (started_at, command, inputs, home_net, version) VALUES ('t', 'analyze', '[]', '[]', '0');
             INSERT INTO alerts (run_id, ts_ns, category, signature_id, signature, severity, update_n, metrics, flow_ids)
             VALUES (1, 5, 'dos', 1, 'old', 1, 0, '{}', '[]');",
        )
        .expect("rows");
    }
    let st = Store::open_existing(&p).expect("migrates");
    let v: i64 = st
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("v");
    assert_eq!(v, schema_version());
    let a = st.alerts(&Filter::default()).expect("alerts");
    assert_eq!(a.len(), 1);
    assert!(a[0].sources.is_empty());
}
