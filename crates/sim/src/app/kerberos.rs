//! Kerberos 5 (RFC 4120) AS-REQ with PA-ENC-TIMESTAMP and the KRB-ERROR
//! `KDC_ERR_PREAUTH_FAILED` (24) answer, DER-encoded.

use crate::rng::Rng;

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let l = content.len();
    if l < 128 {
        out.push(l as u8);
    } else if l < 256 {
        out.extend_from_slice(&[0x81, l as u8]);
    } else {
        out.extend_from_slice(&[0x82, (l >> 8) as u8, l as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn int(v: u32) -> Vec<u8> {
    let mut b = v.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    der(0x02, &b)
}

fn ctx(n: u8, content: &[u8]) -> Vec<u8> {
    der(0xa0 + n, content)
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn gstr(s: &str) -> Vec<u8> {
    der(0x1b, s.as_bytes())
}

fn principal(name_type: u32, names: &[&str]) -> Vec<u8> {
    let ns: Vec<Vec<u8>> = names.iter().map(|n| gstr(n)).collect();
    seq(&[ctx(0, &int(name_type)), ctx(1, &seq(&ns))])
}

/// An AS-REQ for `user@realm`, carrying an encrypted timestamp (AES256)
/// when `preauth`.
pub fn as_req(rng: &mut Rng, user: &str, realm: &str, preauth: bool) -> Vec<u8> {
    let enc = seq(&[ctx(0, &int(18)), ctx(2, &der(0x04, &rng.bytes(56)))]);
    let pa = seq(&[ctx(1, &int(2)), ctx(2, &der(0x04, &enc))]);
    let pa_pac = seq(&[
        ctx(1, &int(128)),
        ctx(2, &der(0x04, &seq(&[ctx(0, &der(0x01, &[0xff]))]))),
    ]);
    let padata = if preauth {
        seq(&[pa, pa_pac])
    } else {
        seq(&[pa_pac])
    };
    let body = seq(&[
        ctx(0, &der(0x03, &[0, 0x40, 0x81, 0, 0x10])),
        ctx(1, &principal(1, &[user])),
        ctx(2, &gstr(realm)),
        ctx(3, &principal(2, &["krbtgt", realm])),
        ctx(5, &der(0x18, b"20370913024805Z")),
        ctx(6, &der(0x18, b"20370913024805Z")),
        ctx(7, &int(rng.u32() & 0x7fff_ffff)),
        ctx(8, &seq(&[int(18), int(17), int(23)])),
    ]);
    let req = seq(&[
        ctx(1, &int(5)),
        ctx(2, &int(10)),
        ctx(3, &padata),
        ctx(4, &body),
    ]);
    der(0x6a, &req)
}

/// KDC_ERR_PREAUTH_FAILED: wrong password.
pub const PREAUTH_FAILED: u32 = 24;
/// KDC_ERR_PREAUTH_REQUIRED: the answer to an AS-REQ without pre-auth.
pub const PREAUTH_REQUIRED: u32 = 25;

/// KRB-ERROR `code` for `user@realm`; `stime` is "YYYYMMDDHHMMSSZ".
pub fn error(rng: &mut Rng, code: u32, user: &str, realm: &str, stime: &str) -> Vec<u8> {
    let err = seq(&[
        ctx(0, &int(5)),
        ctx(1, &int(30)),
        ctx(4, &der(0x18, stime.as_bytes())),
        ctx(5, &int(rng.below(999_999) as u32)),
        ctx(6, &int(code)),
        ctx(7, &gstr(realm)),
        ctx(8, &principal(1, &[user])),
        ctx(9, &gstr(realm)),
        ctx(10, &principal(2, &["krbtgt", realm])),
    ]);
    der(0x7e, &err)
}

/// Kerberos-over-TCP framing: a 4-byte big-endian length prefix.
pub fn tcp_frame(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    out
}
