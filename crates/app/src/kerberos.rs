//! Kerberos 5 AS-REQ and KRB-ERROR (RFC 4120 5.4.1, 5.9.1), DER.
//!
//! Exists for the brute-force detector (password guessing and spraying
//! against a KDC). Promises: a minimal DER reader (definite lengths of at
//! most 4 octets, low tag numbers only), every length checked against its
//! enclosing value; an AS-REQ is an attempt (the user is the client
//! principal's name components joined by '/', when readable); a KRB-ERROR
//! is a failure only for the codes in [`FAIL_CODES`]. UDP carries a message
//! as is; TCP prefixes it with a 4-byte length.

use crate::text;
use vigil_core::Meta;

/// [APPLICATION 10] constructed: AS-REQ.
const TAG_AS_REQ: u8 = 0x6a;
/// [APPLICATION 30] constructed: KRB-ERROR.
const TAG_KRB_ERROR: u8 = 0x7e;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_INTEGER: u8 = 0x02;
/// KerberosString is a GeneralString.
const TAG_GENERAL_STRING: u8 = 0x1b;
/// Context tag `[n]` constructed.
const fn ctx(n: u8) -> u8 {
    0xa0 | n
}
/// Error codes that mean a refused login: KDC_ERR_PREAUTH_FAILED (24, wrong
/// password), KDC_ERR_CLIENT_REVOKED (18, locked/disabled account),
/// KDC_ERR_C_PRINCIPAL_UNKNOWN (6, no such user). 25 (PREAUTH_REQUIRED) is
/// the normal first answer of every Windows logon and is not one.
pub const FAIL_CODES: [i64; 3] = [24, 18, 6];
/// Name components of a principal kept (user, or service/host).
const MAX_COMPONENTS: usize = 4;

/// One DER TLV at the start of `b`: (tag, content, rest).
pub fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag number form: nothing Kerberos uses here
    }
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None; // indefinite (not DER) or absurd
        }
        let mut len = 0usize;
        for &x in &b[..n] {
            len = len << 8 | usize::from(x);
        }
        b = &b[n..];
        len
    };
    if len > b.len() {
        return None;
    }
    Some((tag, &b[..len], &b[len..]))
}

/// The content of the element tagged `tag` in a SEQUENCE's content.
fn field(mut seq: &[u8], tag: u8) -> Option<&[u8]> {
    while !seq.is_empty() {
        let (t, c, rest) = tlv(seq)?;
        if t == tag {
            return Some(c);
        }
        seq = rest;
    }
    None
}

/// Content of the single TLV `b` must be, if tagged `tag`.
fn inner(b: &[u8], tag: u8) -> Option<&[u8]> {
    let (t, c, _) = tlv(b)?;
    (t == tag).then_some(c)
}

fn integer(b: &[u8]) -> Option<i64> {
    let c = inner(b, TAG_INTEGER)?;
    if c.is_empty() || c.len() > 8 {
        return None;
    }
    let mut v: i64 = if c[0] & 0x80 != 0 { -1 } else { 0 };
    for &x in c {
        v = v << 8 | i64::from(x);
    }
    Some(v)
}

/// The client principal name of an AS-REQ: KDC-REQ [4] req-body,
/// KDC-REQ-BODY [1] cname, PrincipalName [1] name-string.
fn cname(req: &[u8]) -> Option<String> {
    let body = inner(field(req, ctx(4))?, TAG_SEQUENCE)?;
    let princ = inner(field(body, ctx(1))?, TAG_SEQUENCE)?;
    let mut names = inner(field(princ, ctx(1))?, TAG_SEQUENCE)?;
    let mut out: Vec<u8> = Vec::new();
    for i in 0..MAX_COMPONENTS {
        if names.is_empty() {
            break;
        }
        let (t, c, rest) = tlv(names)?;
        if t != TAG_GENERAL_STRING {
            return None;
        }
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(c);
        names = rest;
    }
    text::user(&out)
}

/// A Kerberos message (without TCP framing).
pub fn message(msg: &[u8]) -> Option<Meta> {
    let (tag, content, _) = tlv(msg)?;
    let seq = inner(content, TAG_SEQUENCE)?;
    match tag {
        TAG_AS_REQ => {
            // msg-type [2] must say AS-REQ (10) too.
            if integer(field(seq, ctx(2))?)? != 10 {
                return None;
            }
            Some(Meta::LoginAttempt {
                service: "kerberos",
                user: cname(seq),
            })
        }
        TAG_KRB_ERROR => {
            let code = integer(field(seq, ctx(6))?)?;
            FAIL_CODES.contains(&code).then_some(Meta::LoginFailure {
                service: "kerberos",
            })
        }
        _ => None,
    }
}

/// A UDP datagram.
pub fn udp(payload: &[u8]) -> Option<Meta> {
    message(payload)
}

/// A TCP segment starting with the 4-byte length prefix.
pub fn tcp(seg: &[u8]) -> Option<Meta> {
    let [_, _, _, _, msg @ ..] = seg else {
        return None;
    };
    message(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, c: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if c.len() < 128 {
            out.push(c.len() as u8);
        } else {
            out.extend_from_slice(&[0x82, (c.len() >> 8) as u8, c.len() as u8]);
        }
        out.extend_from_slice(c);
        out
    }
    fn int(v: u8) -> Vec<u8> {
        der(TAG_INTEGER, &[v])
    }
    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        der(TAG_SEQUENCE, &parts.concat())
    }
    fn principal(names: &[&str]) -> Vec<u8> {
        let ns: Vec<Vec<u8>> = names.iter().map(|n| der(0x1b, n.as_bytes())).collect();
        seq(&[der(ctx(0), &int(1)), der(ctx(1), &seq(&ns))])
    }
    fn as_req(user: &str) -> Vec<u8> {
        let body = seq(&[
            der(ctx(0), &der(0x03, &[0, 0x40, 0x81, 0, 0x10])),
            der(ctx(1), &principal(&[user])),
            der(ctx(2), &der(0x1b, b"CORP.LOCAL")),
            der(ctx(3), &principal(&["krbtgt", "CORP.LOCAL"])),
            der(ctx(8), &seq(&[int(18), int(23)])),
        ]);
        let padata = seq(&[seq(&[
            der(ctx(1), &int(2)),
            der(ctx(2), &der(0x04, &[9; 200])),
        ])]);
        let req = seq(&[
            der(ctx(1), &int(5)),
            der(ctx(2), &int(10)),
            der(ctx(3), &padata),
            der(ctx(4), &body),
        ]);
        der(TAG_AS_REQ, &req)
    }
    fn krb_error(code: u8) -> Vec<u8> {
        der(
            TAG_KRB_ERROR,
            &seq(&[
                der(ctx(0), &int(5)),
                der(ctx(1), &int(30)),
                der(ctx(4), &der(0x18, b"20240101000000Z")),
                der(ctx(5), &int(1)),
                der(ctx(6), &int(code)),
                der(ctx(7), &der(0x1b, b"CORP.LOCAL")),
            ]),
        )
    }

    #[test]
    fn as_req_user() {
        let m = as_req("Administrator");
        assert_eq!(
            udp(&m),
            Some(Meta::LoginAttempt {
                service: "kerberos",
                user: Some("Administrator".into())
            })
        );
        let mut framed = (m.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        assert!(tcp(&framed).is_some());
        for n in 0..m.len() {
            assert_eq!(udp(&m[..n]), None, "{n}");
        }
    }

    #[test]
    fn errors() {
        for code in [24, 18, 6] {
            assert_eq!(
                udp(&krb_error(code)),
                Some(Meta::LoginFailure {
                    service: "kerberos"
                })
            );
        }
        assert_eq!(udp(&krb_error(25)), None);
        let e = krb_error(24);
        for n in 0..e.len() {
            assert_eq!(udp(&e[..n]), None);
        }
    }

    #[test]
    fn der_lengths() {
        assert_eq!(tlv(&[0x30, 0x80, 0, 0]), None); // indefinite
        assert_eq!(tlv(&[0x30, 0x85, 0, 0, 0, 0, 1, 0]), None); // 5 octets
        assert_eq!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(tlv(&[0x1f, 0x01, 0]), None);
        assert_eq!(
            tlv(&[0x04, 0x81, 2, 7, 8, 9]),
            Some((4, &[7u8, 8][..], &[9u8][..]))
        );
        assert_eq!(integer(&[2, 1, 0xff]), Some(-1));
        assert_eq!(integer(&[2, 0]), None);
    }
}
