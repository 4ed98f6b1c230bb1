//! MySQL and PostgreSQL login packets and their refusals.
//!
//! Exists for the brute-force detector (database password guessing).
//! Promises: bounds-checked reads of the first protocol packet(s) of one
//! segment; the user name is taken only from a well-formed login packet.
//! Logins inside TLS are invisible: MySQL's SSLRequest counts as an attempt
//! without user (no clear login follows it), PostgreSQL's SSLRequest does
//! not (the server may refuse TLS and a clear StartupMessage follow).

use crate::text;
use vigil_core::Meta;

/// MySQL capability flags (protocol docs, "Capabilities Flags").
const CLIENT_PROTOCOL_41: u32 = 0x0200;
const CLIENT_SSL: u32 = 0x0800;
/// HandshakeResponse41 fixed part: capabilities, max packet, charset, 23
/// zero bytes of filler; the user name follows.
const MY_FIXED: usize = 4 + 4 + 1 + 23;
/// ER_ACCESS_DENIED_ERROR.
const MY_ACCESS_DENIED: u16 = 1045;

/// MySQL, `to_server` for packets towards port 3306.
pub fn mysql(seg: &[u8], to_server: bool) -> Option<Meta> {
    let [l0, l1, l2, seq, body @ ..] = seg else {
        return None;
    };
    let len = usize::from(*l0) | usize::from(*l1) << 8 | usize::from(*l2) << 16;
    let body = &body[..body.len().min(len)];
    if !to_server {
        // ERR packet: 0xff, error code (LE).
        return match body {
            [0xff, c0, c1, ..] if u16::from_le_bytes([*c0, *c1]) == MY_ACCESS_DENIED => {
                Some(Meta::LoginFailure { service: "mysql" })
            }
            _ => None,
        };
    }
    // The handshake response answers the server greeting (sequence 0).
    if *seq != 1 || body.len() < MY_FIXED {
        return None;
    }
    let caps = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
    if caps & CLIENT_PROTOCOL_41 == 0 || body[9..MY_FIXED].iter().any(|&b| b != 0) {
        return None;
    }
    let rest = &body[MY_FIXED..];
    if rest.is_empty() && len == MY_FIXED && caps & CLIENT_SSL != 0 {
        return Some(Meta::LoginAttempt {
            service: "mysql",
            user: None,
        });
    }
    let nul = rest.iter().position(|&b| b == 0)?;
    Some(Meta::LoginAttempt {
        service: "mysql",
        user: text::user(&rest[..nul]),
    })
}

/// PostgreSQL protocol 3.0 in a StartupMessage.
const PG_PROTOCOL_3: u32 = 196_608;
/// Largest StartupMessage accepted (the server's own limit is 10000).
const PG_MAX_STARTUP: usize = 10_000;
/// Messages of one server segment walked looking for an ErrorResponse.
const PG_MAX_MESSAGES: usize = 8;
/// SQLSTATEs of a refused login: invalid_password,
/// invalid_authorization_specification.
const PG_AUTH_FAILED: [&[u8]; 2] = [b"28P01", b"28000"];

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// PostgreSQL, `to_server` for packets towards port 5432.
pub fn postgres(seg: &[u8], to_server: bool) -> Option<Meta> {
    if to_server {
        let len = be32(seg)? as usize;
        if !(9..=PG_MAX_STARTUP).contains(&len) || be32(&seg[4..])? != PG_PROTOCOL_3 {
            return None;
        }
        let params = &seg[8..seg.len().min(len)];
        let mut it = params.split(|&b| b == 0);
        let mut user = None;
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if k.is_empty() {
                break;
            }
            if k == b"user" {
                user = text::user(v);
                break;
            }
        }
        return Some(Meta::LoginAttempt {
            service: "postgresql",
            user,
        });
    }
    let mut rest = seg;
    for _ in 0..PG_MAX_MESSAGES {
        let (&ty, after) = rest.split_first()?;
        let len = be32(after)? as usize;
        if len < 4 || !ty.is_ascii_alphabetic() {
            return None;
        }
        let body = &after[4..after.len().min(len)];
        if ty == b'E' {
            let failed = body
                .split(|&b| b == 0)
                .any(|f| f.first() == Some(&b'C') && PG_AUTH_FAILED.contains(&&f[1..]));
            return failed.then_some(Meta::LoginFailure {
                service: "postgresql",
            });
        }
        rest = after.get(len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn my_packet(seq: u8, body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(body);
        out
    }

    fn my_login(user: &[u8]) -> Vec<u8> {
        let mut b = 0x01af_a20du32.to_le_bytes().to_vec();
        b.extend_from_slice(&16_777_216u32.to_le_bytes());
        b.push(0xff);
        b.extend_from_slice(&[0; 23]);
        b.extend_from_slice(user);
        b.push(0);
        b.push(20);
        b.extend_from_slice(&[7; 20]);
        my_packet(1, &b)
    }

    #[test]
    fn mysql_login_and_denied() {
        let p = my_login(b"root");
        assert_eq!(
            mysql(&p, true),
            Some(Meta::LoginAttempt {
                service: "mysql",
                user: Some("root".into())
            })
        );
        for n in 0..36 {
            assert_eq!(mysql(&p[..n], true), None, "{n}");
        }
        let mut bad = p.clone();
        bad[3] = 0; // greeting sequence
        assert_eq!(mysql(&bad, true), None);
        let mut bad = p.clone();
        bad[20] = 1; // filler not zero
        assert_eq!(mysql(&bad, true), None);
        // SSLRequest
        let ssl = my_packet(1, &[&0x0000_0a00u32.to_le_bytes()[..], &[0; 28]].concat());
        assert_eq!(
            mysql(&ssl, true),
            Some(Meta::LoginAttempt {
                service: "mysql",
                user: None
            })
        );
        let mut err = vec![0xff];
        err.extend_from_slice(&1045u16.to_le_bytes());
        err.extend_from_slice(b"#28000Access denied");
        assert_eq!(
            mysql(&my_packet(2, &err), false),
            Some(Meta::LoginFailure { service: "mysql" })
        );
        err[1] = 0x16; // 1046
        assert_eq!(mysql(&my_packet(2, &err), false), None);
        assert_eq!(mysql(&my_packet(2, &[0xff, 0x15]), false), None);
    }

    fn pg_startup(user: &str) -> Vec<u8> {
        let mut b = PG_PROTOCOL_3.to_be_bytes().to_vec();
        for kv in ["database", "db", "user", user] {
            b.extend_from_slice(kv.as_bytes());
            b.push(0);
        }
        b.push(0);
        let mut out = ((b.len() + 4) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&b);
        out
    }

    fn pg_msg(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![ty];
        out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn postgres_startup_and_error() {
        let s = pg_startup("postgres");
        assert_eq!(
            postgres(&s, true),
            Some(Meta::LoginAttempt {
                service: "postgresql",
                user: Some("postgres".into())
            })
        );
        // SSLRequest: not an attempt.
        assert_eq!(postgres(&[0, 0, 0, 8, 4, 210, 22, 47], true), None);
        for n in 0..8 {
            assert_eq!(postgres(&s[..n], true), None);
        }
        let e = pg_msg(b'E', b"SFATAL\0C28P01\0Mpassword authentication failed\0\0");
        assert_eq!(
            postgres(&e, false),
            Some(Meta::LoginFailure {
                service: "postgresql"
            })
        );
        let other = pg_msg(b'E', b"SERROR\0C42601\0Msyntax\0\0");
        assert_eq!(postgres(&other, false), None);
        // After another message in the same segment.
        let both = [pg_msg(b'N', b"x\0\0"), pg_msg(b'E', b"C28000\0\0")].concat();
        assert_eq!(
            postgres(&both, false),
            Some(Meta::LoginFailure {
                service: "postgresql"
            })
        );
        for n in 0..e.len() {
            let _ = postgres(&e[..n], false);
        }
        assert_eq!(postgres(&[b'E', 0, 0, 0, 2], false), None);
    }
}
