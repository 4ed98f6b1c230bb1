use super::*;
use vigil_core::{FlowCtx, PacketInfo};

const CLIENT: Addr = Addr::v4([10, 0, 2, 30]);
const SERVER: Addr = Addr::v4([198, 18, 0, 53]);

fn ask(d: &mut DnsTunnel, ts: Nanos, src: Addr, dst: Addr, name: &str, qtype: u16, dst_home: bool) {
    let p = PacketInfo {
        ts,
        src,
        dst,
        proto: 17,
        sport: 40000,
        dport: 53,
        ..Default::default()
    };
    let flow = FlowCtx::default();
    let c = Ctx {
        p: &p,
        flow: &flow,
        src_home: true,
        dst_home,
    };
    let m = Meta::Dns(DnsMeta {
        id: 1,
        response: false,
        qname: name.to_string(),
        qtype,
        rcode: 0,
        answers: 0,
        len: 40 + name.len() as u32,
    });
    d.on_meta(Some(&c), &m, &NetSet::default(), &mut Vec::new());
}

/// Deterministic hex of `n` chars from `seed`.
fn hex(seed: u64, n: usize) -> String {
    let mut s = String::new();
    let mut x = seed;
    while s.len() < n {
        x = mix64(x + 1);
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(n);
    s
}

fn tick_all(d: &mut DnsTunnel, from: u64, to: u64) -> Vec<Alert> {
    let mut out = Vec::new();
    for s in from..=to {
        d.on_tick(s * NANOS_PER_SEC, &mut out);
    }
    out
}

#[test]
fn split_domains() {
    let sfx = Config::default().public_suffixes;
    assert_eq!(
        split_domain("www.example.co.uk", &sfx),
        ("example.co.uk", "www")
    );
    assert_eq!(split_domain("a.b.pirate.sea", &sfx), ("pirate.sea", "a.b"));
    assert_eq!(split_domain("pirate.sea", &sfx), ("pirate.sea", ""));
    assert_eq!(
        split_domain("x.d.erfmbnt.example.net", &sfx),
        ("erfmbnt.example.net", "x.d")
    );
    // dnscat2 direct mode: no real top-level label
    let n = format!("dnscat.{}.{}", hex(1, 60), hex(2, 30));
    assert_eq!(split_domain(&n, &sfx).0, "");
    assert_eq!(split_domain("localhost", &sfx), ("", "localhost"));
}

#[test]
fn hex_tunnel_alerts() {
    let mut d = DnsTunnel::new(&Config::default());
    let t0 = 1_000u64;
    for i in 0..120u64 {
        let name = format!("{}.{}.t.evil.com", hex(i, 60), hex(i + 1000, 40));
        ask(
            &mut d,
            (t0 + i / 2) * NANOS_PER_SEC,
            CLIENT,
            SERVER,
            &name,
            16,
            false,
        );
    }
    let a = tick_all(&mut d, t0, t0 + 61);
    assert!(!a.is_empty());
    assert_eq!(a[0].src, Some(CLIENT));
    assert!(a[0].signature.contains("evil.com"));
}

#[test]
fn short_null_polls_with_some_data_alert() {
    // iodine-like: short NULL polls, one in five carrying a long label
    let mut d = DnsTunnel::new(&Config::default());
    for i in 0..200u64 {
        let name = if i % 4 == 0 {
            format!("{}.pirate.sea", hex(i, 50))
        } else {
            format!("pa{}.pirate.sea", hex(i, 6))
        };
        ask(
            &mut d,
            (100 + i / 8) * NANOS_PER_SEC,
            CLIENT,
            Addr::v4([10, 0, 2, 20]),
            &name,
            10,
            true,
        );
    }
    assert!(!tick_all(&mut d, 100, 130).is_empty());
}

#[test]
fn busy_client_with_cdn_names_is_quiet() {
    let mut d = DnsTunnel::new(&Config::default());
    let words = ["www", "api", "cdn", "img", "static", "login", "mail", "app"];
    for i in 0..400u64 {
        let name = match i % 3 {
            0 => format!("d{}.cloudfront.net", hex(i, 13)),
            1 => format!("{}.{}.akamaiedge.net", words[(i % 8) as usize], hex(i, 5)),
            _ => format!("prod-{}.s3.dualstack.eu-west-1.amazonaws.com", hex(i, 12)),
        };
        let qt = if i % 2 == 0 { 1 } else { 28 };
        ask(
            &mut d,
            (100 + i / 4) * NANOS_PER_SEC,
            CLIENT,
            SERVER,
            &name,
            qt,
            false,
        );
    }
    assert!(tick_all(&mut d, 100, 210).is_empty());
}

#[test]
fn resolver_forwarding_is_judged_through_its_clients() {
    let mut d = DnsTunnel::new(&Config::default());
    let resolver = Addr::v4([10, 0, 0, 53]);
    let c2 = Addr::v4([10, 0, 0, 77]);
    ask(
        &mut d,
        99 * NANOS_PER_SEC,
        c2,
        resolver,
        "www.example.org",
        1,
        true,
    );
    for i in 0..120u64 {
        let name = format!("{}.{}.t.evil.com", hex(i, 60), hex(i + 1000, 40));
        let ts = (100 + i / 2) * NANOS_PER_SEC;
        ask(&mut d, ts, CLIENT, resolver, &name, 16, true);
        ask(&mut d, ts + 1000, resolver, SERVER, &name, 16, false);
    }
    let a = tick_all(&mut d, 100, 170);
    assert!(a.iter().any(|a| a.src == Some(CLIENT)));
    assert!(a.iter().all(|a| a.src != Some(resolver)));
}

#[test]
fn ignored_domains_and_caps() {
    let cfg = Config {
        max_groups: 4,
        ..Config::default()
    };
    let mut d = DnsTunnel::new(&cfg);
    ask(
        &mut d,
        NANOS_PER_SEC,
        CLIENT,
        SERVER,
        "1.2.3.4.in-addr.arpa",
        12,
        false,
    );
    assert!(d.groups.is_empty());
    for i in 0..50u64 {
        ask(
            &mut d,
            NANOS_PER_SEC,
            CLIENT,
            SERVER,
            &format!("www.d{i}.com"),
            1,
            false,
        );
    }
    assert_eq!(d.groups.len(), 4);
    assert_eq!(d.groups_evicted, 46);
}

#[test]
fn config_rejects_unknown_keys() {
    assert!(toml::from_str::<Config>("min_distinctt = 1\n").is_err());
}
