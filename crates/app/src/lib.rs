//! Light application-layer metadata for detectors and reports.
//!
//! Runs on the reader thread, where payloads are at hand, and must cost next
//! to nothing for the packets it does not care about: a port and first-byte
//! check decides before any parsing (a few compares for a TLS data segment),
//! and nothing is allocated unless a [`Meta`] is returned.
//!
//! One packet, one segment: there is no stream reassembly, so each parser
//! reads what a single datagram or TCP segment holds, which is where
//! handshake messages, requests, replies and banners normally travel.
//! Outside input never panics a parser; malformed input gives `None`.
//!
//! What is recognised, and where:
//! - DNS on UDP 53/5353 (either side) and TCP 53 (length-prefixed):
//!   [`Meta::Dns`] ([`dns`]).
//! - Any TCP port: a TLS ClientHello ([`Meta::Tls`], [`tls`]; QUIC is out of
//!   scope), an HTTP/1.x request or status line ([`http`]), an SSH
//!   identification string ([`Meta::SshBanner`], [`ssh`]).
//! - Login attempts and failures by server port: FTP 21, SMTP 25/587,
//!   POP3 110, IMAP 143 ([`login`]), MySQL 3306, PostgreSQL 5432 ([`db`]),
//!   Kerberos 88 UDP/TCP ([`kerberos`]); HTTP login-form POSTs and 401s
//!   ([`http`]). Telnet, RDP and SMB are not parsed.
#![forbid(unsafe_code)]

pub mod db;
pub mod dns;
pub mod http;
pub mod kerberos;
pub mod login;
pub mod ssh;
pub mod text;
pub mod tls;

use vigil_core::{proto, Meta, PacketInfo};

/// Services recognised by their well-known server port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Ftp,
    Smtp,
    Dns,
    Kerberos,
    Pop3,
    Imap,
    Mysql,
    Postgres,
}

/// The service whose server listens on `port` (TCP).
#[inline(always)]
fn tcp_service(port: u16) -> Option<Service> {
    Some(match port {
        21 => Service::Ftp,
        25 | 587 => Service::Smtp,
        53 => Service::Dns,
        88 => Service::Kerberos,
        110 => Service::Pop3,
        143 => Service::Imap,
        3306 => Service::Mysql,
        5432 => Service::Postgres,
        _ => return None,
    })
}

/// TCP ports below this are looked up in [`LOW_PORTS`]; the two service
/// ports above it are compared directly.
const LOW_PORT_LIMIT: u16 = 640;
/// Bitmap of the well-known TCP service ports below [`LOW_PORT_LIMIT`]
/// (the `tcp_service` ports), so the hot no-match path is a shift and a
/// load instead of a compare chain.
const LOW_PORTS: [u64; (LOW_PORT_LIMIT / 64) as usize] = {
    let mut m = [0u64; (LOW_PORT_LIMIT / 64) as usize];
    let ports = [21u16, 25, 53, 88, 110, 143, 587];
    let mut i = 0;
    while i < ports.len() {
        m[(ports[i] / 64) as usize] |= 1 << (ports[i] % 64);
        i += 1;
    }
    m
};

/// `port` is one of the `tcp_service` ports (a superset check kept exact).
#[inline(always)]
fn is_tcp_service_port(port: u16) -> bool {
    if port < LOW_PORT_LIMIT {
        LOW_PORTS[usize::from(port / 64)] >> (port % 64) & 1 != 0
    } else {
        port == 3306 || port == 5432
    }
}

/// First bytes a port-independent TCP parser may accept: TLS handshake
/// record, `S` (SSH), and the first letters of HTTP methods and `HTTP/`.
const TCP_FIRST: [bool; 256] = {
    let mut t = [false; 256];
    t[tls::CONTENT_HANDSHAKE as usize] = true;
    let firsts = *b"SGPHDOC";
    let mut i = 0;
    while i < firsts.len() {
        t[firsts[i] as usize] = true;
        i += 1;
    }
    t
};

/// The metadata visible in one packet's L4 payload, if any.
///
/// Inlined into the caller: protocol, ports and first byte decide whether
/// any parser can match before the out-of-line [`inspect_slow`] is called.
#[inline]
pub fn inspect(p: &PacketInfo, payload: &[u8]) -> Option<Meta> {
    let &first = payload.first()?;
    let maybe = match p.proto {
        proto::TCP => {
            TCP_FIRST[usize::from(first)]
                || is_tcp_service_port(p.dport)
                || is_tcp_service_port(p.sport)
        }
        proto::UDP => matches!(p.sport, 53 | 88 | 5353) || matches!(p.dport, 53 | 88 | 5353),
        _ => false,
    };
    if maybe {
        inspect_slow(p, payload, first)
    } else {
        None
    }
}

/// The parsers, once [`inspect`]'s pre-check passed.
#[inline(never)]
fn inspect_slow(p: &PacketInfo, payload: &[u8], first: u8) -> Option<Meta> {
    match p.proto {
        proto::TCP => tcp(p, payload, first),
        proto::UDP => udp(p, payload),
        _ => None,
    }
}

#[inline]
fn udp(p: &PacketInfo, payload: &[u8]) -> Option<Meta> {
    match (p.sport, p.dport) {
        (53 | 5353, _) | (_, 53 | 5353) => dns::udp(payload).map(Meta::Dns),
        (88, _) | (_, 88) => kerberos::udp(payload),
        _ => None,
    }
}

#[inline]
fn tcp(p: &PacketInfo, payload: &[u8], first: u8) -> Option<Meta> {
    // The server side is the one on a well-known port; the destination wins
    // when both are.
    let by_port = match (tcp_service(p.dport), tcp_service(p.sport)) {
        (Some(s), _) => service(s, payload, true),
        (None, Some(s)) => service(s, payload, false),
        (None, None) => None,
    };
    if by_port.is_some() {
        return by_port;
    }
    match first {
        tls::CONTENT_HANDSHAKE => tls::client_hello_sni(payload).map(|sni| Meta::Tls {
            sni: sni.map(tls::sni_string),
        }),
        b'S' => ssh::banner(payload).map(|banner| Meta::SshBanner { banner }),
        b if http::may_be_method(b) => http::meta(payload),
        _ => None,
    }
}

/// A port-identified service's parser; `to_server` is true for packets
/// towards its well-known port.
#[inline(never)]
fn service(s: Service, payload: &[u8], to_server: bool) -> Option<Meta> {
    match s {
        Service::Dns => dns::tcp(payload).map(Meta::Dns),
        Service::Ftp => login::ftp(payload, to_server),
        Service::Smtp => login::smtp(payload, to_server),
        Service::Pop3 => login::pop3(payload, to_server),
        Service::Imap => login::imap(payload, to_server),
        Service::Kerberos => kerberos::tcp(payload),
        Service::Mysql => db::mysql(payload, to_server),
        Service::Postgres => db::postgres(payload, to_server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(proto: u8, sport: u16, dport: u16) -> PacketInfo {
        PacketInfo {
            proto,
            sport,
            dport,
            ..PacketInfo::default()
        }
    }

    #[test]
    fn port_prefilter_is_exact() {
        for port in 0..=u16::MAX {
            assert_eq!(
                is_tcp_service_port(port),
                tcp_service(port).is_some(),
                "{port}"
            );
        }
    }

    #[test]
    fn dispatch() {
        let q = dns::tests::build(1, 0x0100, "a.example", 1, 0);
        assert!(matches!(
            inspect(&pkt(proto::UDP, 40000, 53), &q),
            Some(Meta::Dns(_))
        ));
        assert!(matches!(
            inspect(&pkt(proto::UDP, 53, 40000), &q),
            Some(Meta::Dns(_))
        ));
        assert!(matches!(
            inspect(&pkt(proto::UDP, 5353, 5353), &q),
            Some(Meta::Dns(_))
        ));
        assert_eq!(inspect(&pkt(proto::UDP, 40000, 54), &q), None);
        assert_eq!(inspect(&pkt(proto::ICMP, 53, 53), &q), None);
        assert_eq!(inspect(&pkt(proto::UDP, 53, 53), &[]), None);

        // FTP direction by port.
        let to = pkt(proto::TCP, 40000, 21);
        let from = pkt(proto::TCP, 21, 40000);
        let att = Some(Meta::LoginAttempt {
            service: "ftp",
            user: Some("x".into()),
        });
        assert_eq!(inspect(&to, b"USER x\r\n"), att);
        assert_eq!(inspect(&from, b"USER x\r\n"), None);
        assert_eq!(
            inspect(&from, b"530 no\r\n"),
            Some(Meta::LoginFailure { service: "ftp" })
        );

        // Any port: TLS, SSH, HTTP.
        let any = pkt(proto::TCP, 40000, 8443);
        let hello = tls::tests::hello(&[tls::tests::sni_ext(b"x.example")]);
        assert_eq!(
            inspect(&any, &hello),
            Some(Meta::Tls {
                sni: Some("x.example".into())
            })
        );
        assert!(matches!(
            inspect(&any, b"SSH-2.0-x\r\n"),
            Some(Meta::SshBanner { .. })
        ));
        assert!(matches!(
            inspect(&any, b"GET / HTTP/1.1\r\n\r\n"),
            Some(Meta::HttpRequest { .. })
        ));
        assert_eq!(
            inspect(&any, b"HTTP/1.1 204 No\r\n"),
            Some(Meta::HttpResponse { status: 204 })
        );
        // Not matching: application data, random text.
        assert_eq!(
            inspect(&pkt(proto::TCP, 443, 50000), &[23, 3, 3, 0, 40, 1, 2]),
            None
        );
        assert_eq!(inspect(&any, b"Hello"), None);
        // A port service that does not recognise the payload falls back to
        // the any-port parsers (HTTP on a client port that happens to be 3306).
        assert!(matches!(
            inspect(&pkt(proto::TCP, 3306, 8080), b"GET / HTTP/1.1\r\n\r\n"),
            Some(Meta::HttpRequest { .. })
        ));
    }
}
