use super::*;

const S: Nanos = NANOS_PER_SEC;

fn ip(s: &str) -> Addr {
    Addr::from(s.parse::<std::net::IpAddr>().unwrap())
}

fn al(t: u64, cat: Category, src: Option<&str>, dst: Option<&str>, sev: u8) -> Alert {
    let sig = match cat {
        Category::Dos => format!("VIGIL DOS SYN flood against {}", dst.unwrap_or("?")),
        c => format!("VIGIL {} test", c.slug()),
    };
    let mut a = Alert::new(1_700_000_000 * S + t * S, cat, 1, &sig, sev);
    a.src = src.map(ip);
    a.dst = dst.map(ip);
    a
}

fn cor(home: &str) -> Correlator {
    // the per-prefix rule, which most tests here exercise
    let cfg = CorrelateConfig {
        cover_same_prefix: true,
        ..CorrelateConfig::default()
    };
    Correlator::new(&cfg, NetSet::parse(home).unwrap())
}

/// Feeds alerts with engine-like update numbers (per category key).
fn feed(c: &mut Correlator, alerts: &[Alert]) -> Vec<Vec<Incident>> {
    let mut seen: HashMap<(Category, Option<Addr>, Option<Addr>), u32> = HashMap::new();
    alerts
        .iter()
        .map(|a| {
            let n = seen.entry(a.key()).or_insert(0);
            let u = *n;
            *n += 1;
            c.alert(a, u)
        })
        .collect()
}

/// The smokescreen shape: a SYN flood on a DMZ host, and under it a scan and
/// brute force of another DMZ host from outside, lateral movement from that
/// host, exfiltration by a host it reached; plus an unrelated exfiltration on
/// the same network and beaconing on another home network.
fn smokescreen() -> Vec<Alert> {
    use Category::*;
    let mut v = vec![al(10, Dos, None, Some("10.0.1.10"), 1)];
    for t in (70..400).step_by(60) {
        v.push(al(t, Dos, None, Some("10.0.1.10"), 1));
    }
    v.extend([
        al(40, Scan, Some("192.0.2.248"), Some("10.0.1.20"), 2),
        al(90, Bruteforce, Some("192.0.2.248"), Some("10.0.1.20"), 2),
        al(95, Exfiltration, Some("10.0.2.5"), Some("198.51.100.7"), 2),
        al(
            150,
            LateralMovement,
            Some("10.0.1.20"),
            Some("10.0.1.21"),
            1,
        ),
        al(
            200,
            LateralMovement,
            Some("10.0.1.20"),
            Some("10.0.1.22"),
            1,
        ),
        al(
            210,
            Beaconing,
            Some("192.168.7.7"),
            Some("198.51.100.99"),
            2,
        ),
        al(
            260,
            Exfiltration,
            Some("10.0.1.21"),
            Some("203.0.113.50"),
            1,
        ),
    ]);
    v.sort_by_key(|a| a.ts);
    v
}

#[test]
fn smokescreen_quiet_incidents_rank_above_the_flood() {
    let mut c = cor("10.0.0.0/16,192.168.0.0/16");
    feed(&mut c, &smokescreen());
    let r = c.ranked();
    assert_eq!(r.len(), 4, "{r:#?}");
    // 1: the intrusion chain, one incident, under cover
    let chain = &r[0];
    assert_eq!(
        chain.categories,
        vec![
            Category::Scan,
            Category::Bruteforce,
            Category::LateralMovement,
            Category::Exfiltration
        ]
    );
    assert!(chain.under_flood_cover);
    assert_eq!(chain.severity, 1);
    assert_eq!(
        chain.hosts,
        vec![ip("10.0.1.20"), ip("10.0.1.21"), ip("10.0.1.22")]
    );
    assert_eq!(chain.attackers, vec![ip("192.0.2.248"), ip("203.0.113.50")]);
    assert_eq!(chain.alerts, 5);
    assert_eq!(
        chain.summary,
        "Scan, brute force, lateral movement and exfiltration from 192.0.2.248 into \
         10.0.1.20, 10.0.1.21, 10.0.1.22, data sent to 203.0.113.50 under cover of a \
         SYN flood on 10.0.1.10"
    );
    // 2: the unrelated exfiltration on the same network, under cover
    let ex = &r[1];
    assert_eq!(ex.categories, vec![Category::Exfiltration]);
    assert!(ex.under_flood_cover);
    assert_eq!(
        ex.summary,
        "Exfiltration of data from 10.0.2.5 to 198.51.100.7 under cover of a SYN flood on 10.0.1.10"
    );
    // 3: the flood itself
    let dos = &r[2];
    assert_eq!(dos.categories, vec![Category::Dos]);
    assert_eq!(dos.hosts, vec![ip("10.0.1.10")]);
    assert!(!dos.under_flood_cover);
    assert_eq!(dos.summary, "SYN flood against 10.0.1.10");
    assert_eq!(chain.cover_id, Some(dos.id));
    assert_eq!(ex.cover_id, Some(dos.id));
    // 4: beaconing on another home prefix: not under this flood's cover
    let b = &r[3];
    assert_eq!(b.categories, vec![Category::Beaconing]);
    assert!(!b.under_flood_cover);
    assert!(b.score < dos.score);
    assert_eq!(b.summary, "Beaconing by 192.168.7.7 to 198.51.100.99");
}

/// By default the home networks are one organisation: the beacon on the
/// other prefix is under the flood's cover too, and ranks above it.
#[test]
fn by_default_every_home_prefix_shares_the_cover() {
    let mut c = Correlator::new(
        &CorrelateConfig::default(),
        NetSet::parse("10.0.0.0/16,192.168.0.0/16").unwrap(),
    );
    feed(&mut c, &smokescreen());
    let r = c.ranked();
    let dos = r
        .iter()
        .position(|i| i.categories == vec![Category::Dos])
        .unwrap();
    let b = r
        .iter()
        .position(|i| i.categories == vec![Category::Beaconing])
        .unwrap();
    assert!(r[b].under_flood_cover);
    assert!(b < dos, "{r:#?}");
    assert!(r
        .iter()
        .filter(|i| i.categories != vec![Category::Dos])
        .all(|i| i.under_flood_cover));
}

#[test]
fn single_home_prefix_covers_any_quiet_incident() {
    let mut c = cor("0.0.0.0/0");
    feed(&mut c, &smokescreen());
    let r = c.ranked();
    assert_eq!(r.len(), 4);
    assert!(r
        .iter()
        .filter(|i| i.categories != [Category::Dos])
        .all(|i| i.under_flood_cover));
    assert_eq!(r[3].categories, vec![Category::Dos]);
}

#[test]
fn flood_starting_later_flags_earlier_quiet_incident() {
    let mut c = cor("10.0.0.0/8");
    let out = c.alert(
        &al(0, Category::Scan, Some("192.0.2.1"), Some("10.0.0.5"), 2),
        0,
    );
    assert!(!out[0].under_flood_cover);
    let scan_id = out[0].id;
    let out = c.alert(&al(200, Category::Dos, None, Some("10.0.0.9"), 1), 0);
    assert_eq!(out.len(), 2, "flood and the incident it now covers");
    assert_eq!(out[0].categories, vec![Category::Dos]);
    assert_eq!(out[1].id, scan_id);
    assert!(out[1].under_flood_cover);
    assert!(out[1]
        .summary
        .ends_with("under cover of a SYN flood on 10.0.0.9"));
    // too late: more than flood_cover_secs after the quiet incident's end
    let mut c = cor("10.0.0.0/8");
    c.alert(
        &al(0, Category::Scan, Some("192.0.2.1"), Some("10.0.0.5"), 2),
        0,
    );
    let out = c.alert(&al(400, Category::Dos, None, Some("10.0.0.9"), 1), 0);
    assert_eq!(out.len(), 1);
    assert!(c.ranked().iter().all(|i| !i.under_flood_cover));
}

#[test]
fn covered_quiet_incident_always_outranks_flood() {
    let mut c = cor("10.0.0.0/8");
    // a huge, long flood: many updates
    for t in 0..5_000u64 {
        c.alert(
            &al(t, Category::Dos, Some("198.51.100.1"), Some("10.0.0.9"), 1),
            t as u32,
        );
    }
    // the least alarming quiet incident: one low-severity scan
    c.alert(
        &al(100, Category::Scan, Some("192.0.2.1"), Some("10.0.0.5"), 3),
        0,
    );
    let r = c.ranked();
    assert_eq!(r[0].categories, vec![Category::Scan]);
    assert!(r[0].under_flood_cover);
    assert!(r[0].score > r[1].score);
    assert_eq!(r[1].alerts, 5_000);
    assert_eq!(r[1].attackers, vec![ip("198.51.100.1")]);
}

#[test]
fn multi_stage_outranks_single_stage() {
    let mut c = cor("10.0.0.0/8");
    use Category::*;
    feed(
        &mut c,
        &[
            al(0, Scan, Some("192.0.2.1"), Some("10.0.0.5"), 2),
            al(10, Exfiltration, Some("10.9.9.9"), Some("203.0.113.9"), 1),
            al(20, Bruteforce, Some("192.0.2.1"), Some("10.0.0.5"), 2),
            al(30, LateralMovement, Some("10.0.0.5"), Some("10.0.0.6"), 1),
            al(40, Exfiltration, Some("10.0.0.6"), Some("203.0.113.50"), 1),
        ],
    );
    let r = c.ranked();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].categories.len(), 4);
    assert!(r[0].score > r[1].score);
}

#[test]
fn unrelated_alerts_stay_separate() {
    let mut c = cor("10.0.0.0/8");
    use Category::*;
    feed(
        &mut c,
        &[
            al(0, Scan, Some("192.0.2.1"), Some("10.0.0.5"), 2),
            al(1, Bruteforce, Some("192.0.2.2"), Some("10.0.0.6"), 2),
            al(2, Exfiltration, Some("10.0.0.7"), Some("203.0.113.1"), 1),
            al(3, Beaconing, Some("10.0.0.8"), Some("203.0.113.2"), 2),
            // same resolver, different clients: not joined through the resolver
            al(4, DnsTunnel, Some("10.0.0.9"), Some("10.0.0.53"), 1),
            al(5, DnsTunnel, Some("10.0.0.10"), Some("10.0.0.53"), 1),
        ],
    );
    let r = c.ranked();
    assert_eq!(r.len(), 6);
    assert!(r.iter().all(|i| i.alerts == 1 && i.categories.len() == 1));
    assert!(r.iter().all(|i| !i.under_flood_cover));
    let mut ids: Vec<u64> = r.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    // dns-tunnel resolvers are not listed
    assert!(r.iter().all(|i| !i.hosts.contains(&ip("10.0.0.53"))));
}

#[test]
fn dos_never_joins_quiet_incidents() {
    let mut c = cor("10.0.0.0/8");
    use Category::*;
    feed(
        &mut c,
        &[
            al(0, Bruteforce, Some("192.0.2.2"), Some("10.0.0.6"), 2),
            al(1, Dos, Some("192.0.2.2"), Some("10.0.0.6"), 1),
            al(2, Dos, None, Some("10.0.0.7"), 1),
            al(3, Scan, Some("192.0.2.2"), Some("10.0.0.6"), 2),
        ],
    );
    let r = c.ranked();
    assert_eq!(r.len(), 3);
    let quiet = r.iter().find(|i| i.categories[0] != Dos).unwrap();
    assert_eq!(quiet.categories, vec![Scan, Bruteforce]);
    assert_eq!(quiet.alerts, 2);
    assert!(quiet.under_flood_cover);
}

#[test]
fn window_expiry_splits_incidents() {
    let mut c = cor("10.0.0.0/8");
    use Category::*;
    let out = feed(
        &mut c,
        &[
            al(0, Scan, Some("192.0.2.1"), Some("10.0.0.5"), 2),
            al(900, Bruteforce, Some("192.0.2.1"), Some("10.0.0.5"), 2), // exactly at the edge: joins
            al(1801, Bruteforce, Some("192.0.2.1"), Some("10.0.0.5"), 2), // 901 s later: new
            al(1900, Dos, None, Some("10.0.0.9"), 1),
            al(2801, Dos, None, Some("10.0.0.9"), 1), // flood window too
        ],
    );
    assert_eq!(out[0][0].id, out[1][0].id);
    assert_ne!(out[1][0].id, out[2][0].id);
    assert_ne!(out[3][0].id, out[4][0].id);
    let r = c.ranked();
    assert_eq!(r.len(), 4);
    let first = r.iter().find(|i| i.id == out[0][0].id).unwrap();
    assert_eq!(first.categories, vec![Scan, Bruteforce]);
    assert_eq!(first.alerts, 2);
    assert_eq!(first.last - first.first, 900 * S);
}

#[test]
fn linking_alert_merges_incidents_into_the_oldest() {
    let mut c = cor("10.0.0.0/8");
    use Category::*;
    let out = feed(
        &mut c,
        &[
            al(0, Scan, Some("192.0.2.1"), Some("10.0.0.5"), 2),
            al(10, Exfiltration, Some("10.0.0.6"), Some("203.0.113.5"), 1),
            // 10.0.0.5 moves to 10.0.0.6: both stories are one
            al(20, LateralMovement, Some("10.0.0.5"), Some("10.0.0.6"), 1),
        ],
    );
    let (a, b) = (out[0][0].id, out[1][0].id);
    assert_eq!(out[2].len(), 1);
    let m = &out[2][0];
    assert_eq!(m.id, a);
    assert_eq!(m.merged, vec![b]);
    assert_eq!(m.alerts, 3);
    assert_eq!(m.categories, vec![Scan, LateralMovement, Exfiltration]);
    assert_eq!(c.len(), 1);
    assert_eq!(c.counters().incidents_merged, 1);
    assert_eq!(m.alert_refs.len(), 3);
    assert!(m.alert_refs.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn empty_home_uses_roles() {
    let mut c = cor("");
    use Category::*;
    feed(
        &mut c,
        &[
            al(0, Scan, Some("192.0.2.248"), Some("10.1.2.3"), 2),
            al(5, Bruteforce, Some("192.0.2.248"), Some("10.1.2.4"), 2),
            al(9, LateralMovement, Some("10.1.2.4"), Some("10.1.2.3"), 1),
        ],
    );
    let r = c.ranked();
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].summary,
        "Scan, brute force and lateral movement from 192.0.2.248 into 10.1.2.3, 10.1.2.4"
    );
    assert_eq!(r[0].attackers, vec![ip("192.0.2.248")]);
}

fn random_alerts(seed: u64, n: usize) -> Vec<(Alert, u32)> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut t = 0u64;
    (0..n)
        .map(|_| {
            t += next() % 3 * S / 2;
            let cat = Category::ALL[(next() % 7) as usize];
            let r = next();
            let src = Addr::v4([10, 0, (r % 7) as u8, (r >> 8) as u8 % 200]);
            let out = Addr::v4([198, 51, (r >> 16) as u8 % 3, (r >> 24) as u8]);
            let (s, d) = if (r >> 40) % 2 == 0 {
                (src, out)
            } else {
                (out, src)
            };
            let mut a = Alert::new(
                t,
                cat,
                1,
                "VIGIL DOS UDP flood against x",
                1 + (r >> 50) as u8 % 3,
            );
            a.src = ((r >> 44) % 5 != 0).then_some(s);
            a.dst = ((r >> 47) % 7 != 0).then_some(d);
            (a, (r >> 52) as u32 % 3)
        })
        .collect()
}

#[test]
fn deterministic() {
    let run = || {
        let mut c = cor("10.0.0.0/16,10.0.4.0/22");
        let mut outs = Vec::new();
        for (a, u) in random_alerts(7, 5_000) {
            outs.extend(
                c.alert(&a, u)
                    .into_iter()
                    .map(|i| (i.id, i.score.to_bits())),
            );
        }
        (outs, c.ranked())
    };
    let (o1, r1) = run();
    let (o2, r2) = run();
    assert_eq!(o1, o2);
    assert_eq!(r1, r2);
    assert!(r1.windows(2).all(|w| w[0].score >= w[1].score));
    // smokescreen twice: same ids
    let ids = || {
        let mut c = cor("10.0.0.0/16");
        feed(&mut c, &smokescreen());
        c.ranked().iter().map(|i| i.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(), ids());
}

#[test]
fn bounds_hold_with_100k_random_alerts() {
    let mut c = cor("10.0.0.0/16,10.0.4.0/22,192.168.0.0/16");
    for (a, u) in random_alerts(0x5EED, 100_000) {
        for i in c.alert(&a, u) {
            assert!(i.hosts.len() <= MAX_HOSTS);
            assert!(i.attackers.len() <= MAX_ATTACKERS);
            assert!(i.alert_refs.len() <= MAX_ALERT_REFS);
            assert!(i.merged.len() <= MAX_MERGED);
        }
        assert!(c.len() <= MAX_INCIDENTS);
    }
    // a second pass with sparse time: many incidents, eviction
    let mut c2 = cor("10.0.0.0/8");
    for i in 0..(MAX_INCIDENTS as u64 * 2) {
        let mut a = Alert::new(i * 1000 * S, Category::Scan, 1, "s", 2);
        a.src = Some(Addr::v4([192, 0, (i >> 8) as u8, i as u8]));
        c2.alert(&a, 0);
        assert!(c2.len() <= MAX_INCIDENTS);
    }
    assert_eq!(c2.counters().incidents_evicted, MAX_INCIDENTS as u64);
    assert!(c.index.len() <= MAX_INCIDENTS * (MAX_HOSTS + MAX_ATTACKERS));
    let k = c.counters();
    assert_eq!(k.alerts, 100_000);
    assert!(k.hosts_capped > 0 && k.attackers_capped > 0 && k.refs_capped > 0);
    let r = c.ranked();
    assert_eq!(r.len(), c.len());
    assert!(r.windows(2).all(|w| w[0].score >= w[1].score));
    for i in &r {
        assert!(i
            .categories
            .windows(2)
            .all(|w| chain_pos(w[0]) < chain_pos(w[1])));
        assert!((1..=3).contains(&i.severity));
        assert!(i.first <= i.last);
    }
}

#[test]
fn alert_refs_keep_every_category() {
    let mut refs = Vec::new();
    for t in 0..MAX_ALERT_REFS as u64 {
        assert!(push_ref(&mut refs, (t, Category::Scan, None, None)));
    }
    assert!(!push_ref(&mut refs, (100, Category::Scan, None, None)));
    assert!(push_ref(
        &mut refs,
        (101, Category::Exfiltration, None, None)
    ));
    assert_eq!(refs.len(), MAX_ALERT_REFS);
    assert!(refs.iter().any(|r| r.1 == Category::Exfiltration));
    assert!(refs.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn summaries_read_well() {
    assert_eq!(
        flood_name("VIGIL DOS SYN flood against 10.0.1.10"),
        "SYN flood"
    );
    assert_eq!(
        flood_name("VIGIL DOS slowloris (slow HTTP headers) against 1.2.3.4:80"),
        "slowloris (slow HTTP headers)"
    );
    assert_eq!(flood_name("weird"), "flood");
    let a: Vec<Addr> = (1..=6).map(|i| Addr::v4([10, 0, 0, i])).collect();
    assert_eq!(addr_list(&a[..2]), "10.0.0.1, 10.0.0.2");
    assert_eq!(
        addr_list(&a),
        "10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4 and 2 more"
    );
    assert_eq!(stage_list(&[Category::Scan]), "Scan");
    assert_eq!(
        stage_list(&[Category::Scan, Category::Bruteforce]),
        "Scan and brute force"
    );
    let mut c = cor("10.0.0.0/8");
    let mut d = al(0, Category::Dos, None, Some("10.0.0.1"), 1);
    d.signature = "VIGIL DOS ICMP flood against 10.0.0.1".into();
    c.alert(&d, 0);
    let out = c.alert(
        &al(
            1,
            Category::Exfiltration,
            Some("10.0.0.2"),
            Some("203.0.113.1"),
            1,
        ),
        0,
    );
    assert!(
        out[0]
            .summary
            .ends_with("under cover of an ICMP flood on 10.0.0.1"),
        "{}",
        out[0].summary
    );
}

#[test]
fn prefixes() {
    assert!(in_prefix(ip("10.0.0.0"), 16, ip("10.0.200.1")));
    assert!(!in_prefix(ip("10.0.0.0"), 16, ip("10.1.0.1")));
    assert!(in_prefix(ip("2001:db8::"), 32, ip("2001:db8:1::1")));
    assert!(!in_prefix(ip("2001:db8::"), 32, ip("10.0.0.1")));
    assert!(in_prefix(ip("0.0.0.0"), 0, ip("1.2.3.4")));
}

#[test]
fn config_round_trip_and_unknown_keys() {
    let d = CorrelateConfig::default();
    assert_eq!(d.window_secs, 900);
    assert_eq!(d.flood_cover_secs, 300);
    let empty: CorrelateConfig = toml::from_str("").unwrap();
    assert_eq!(empty, d);
    let c = CorrelateConfig {
        window_secs: 60,
        flood_cover_secs: 5,
        cover_same_prefix: true,
    };
    let text = toml::to_string(&c).unwrap();
    assert_eq!(toml::from_str::<CorrelateConfig>(&text).unwrap(), c);
    let partial: CorrelateConfig = toml::from_str("window_secs = 30").unwrap();
    assert_eq!(partial.window_secs, 30);
    assert_eq!(partial.flood_cover_secs, 300);
    let err = toml::from_str::<CorrelateConfig>("window_sec = 30").unwrap_err();
    assert!(err.to_string().contains("window_sec"), "{err}");
}
