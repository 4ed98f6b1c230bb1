//! Outside input never panics: arbitrary bytes and packet headers through
//! `inspect` and through every parser.

use proptest::prelude::*;
use vigil_core::{proto, PacketInfo};

/// Ports the dispatcher cares about, so arbitrary payloads reach the parsers
/// often instead of almost never.
const PORTS: &[u16] = &[
    21, 22, 25, 53, 80, 88, 110, 143, 443, 587, 3306, 5353, 5432, 8080, 40000,
];

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![prop::sample::select(PORTS), any::<u16>()]
}

fn packet() -> impl Strategy<Value = PacketInfo> {
    (
        prop_oneof![Just(proto::TCP), Just(proto::UDP), any::<u8>()],
        port(),
        port(),
    )
        .prop_map(|(proto, sport, dport)| PacketInfo {
            proto,
            sport,
            dport,
            ..PacketInfo::default()
        })
}

/// Mostly-plausible payloads: random bytes behind a known protocol prefix.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let prefixes: Vec<&'static [u8]> = vec![
        b"",
        b"\x16\x03\x01",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET /",
        b"POST /login HTTP/1.1\r\n",
        b"HTTP/1.1 ",
        b"SSH-2.0-",
        b"USER ",
        b"530 ",
        b"a1 LOGIN ",
        b"a1 NO ",
        b"-ERR",
        b"535 ",
        b"\x6a",
        b"\x7e",
        b"\x30\x00\x00\x01",
        b"\x00\x00\x00\x08",
        b"E\x00\x00\x00",
    ];
    (
        prop::sample::select(prefixes),
        prop::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(p, rest)| {
            let mut v = p.to_vec();
            v.extend_from_slice(&rest);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn inspect_never_panics(p in packet(), data in payload()) {
        let _ = vigil_app::inspect(&p, &data);
    }

    #[test]
    fn dns_never_panics(data in prop::collection::vec(any::<u8>(), 0..600), start in 0usize..700) {
        let _ = vigil_app::dns::udp(&data);
        let _ = vigil_app::dns::tcp(&data);
        let _ = vigil_app::dns::walk_name(&data, start, |_| {});
        let _ = vigil_app::dns::name_string(&data, start);
    }

    /// A valid query with arbitrary bytes spliced in parses or is refused,
    /// and a name it returns is printable ASCII.
    #[test]
    fn dns_output_printable(mut data in prop::collection::vec(any::<u8>(), 12..300)) {
        data[4] = 0;
        data[5] = 1;
        if let Some(d) = vigil_app::dns::udp(&data) {
            prop_assert!(d.qname.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            prop_assert_eq!(d.len as usize, data.len());
        }
    }

    #[test]
    fn parsers_never_panic(data in payload(), to_server in any::<bool>()) {
        use vigil_app::*;
        let _ = tls::client_hello_sni(&data);
        let _ = http::meta(&data);
        let _ = http::form_user(&data);
        let _ = ssh::banner(&data);
        let _ = login::ftp(&data, to_server);
        let _ = login::smtp(&data, to_server);
        let _ = login::pop3(&data, to_server);
        let _ = login::imap(&data, to_server);
        let _ = db::mysql(&data, to_server);
        let _ = db::postgres(&data, to_server);
        let _ = kerberos::udp(&data);
        let _ = kerberos::tcp(&data);
        let _ = kerberos::tlv(&data);
    }

    /// Every string a Meta carries is printable ASCII.
    #[test]
    fn strings_printable(p in packet(), data in payload()) {
        use vigil_core::Meta;
        let ok = |s: &str| s.bytes().all(|b| (0x20..=0x7e).contains(&b));
        match vigil_app::inspect(&p, &data) {
            Some(Meta::Dns(d)) => prop_assert!(ok(&d.qname)),
            Some(Meta::Tls { sni }) => prop_assert!(sni.as_deref().is_none_or(ok)),
            Some(Meta::HttpRequest { method, host, uri, user_agent }) => {
                prop_assert!(ok(&method) && ok(&uri));
                prop_assert!(host.as_deref().is_none_or(ok) && user_agent.as_deref().is_none_or(ok));
            }
            Some(Meta::SshBanner { banner }) => prop_assert!(ok(&banner)),
            Some(Meta::LoginAttempt { user, .. }) => prop_assert!(user.as_deref().is_none_or(ok)),
            _ => {}
        }
    }
}
