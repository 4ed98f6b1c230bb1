//! TLS ClientHello server name (RFC 8446 4.1.2, RFC 6066 3).
//!
//! Exists so detectors can name the server a TLS client asks for (beaconing,
//! exfiltration keys) without decrypting anything. Promises: bounds-checked
//! reads of the first record of one TCP segment only; a ClientHello whose
//! extensions continue in the next segment (large post-quantum key shares)
//! is still reported, with the SNI if it came before the cut and `None`
//! otherwise. QUIC (its ClientHello travels encrypted in UDP Initial
//! packets) is out of scope. SSLv2-format hellos are ignored.

use crate::text;

/// TLS record content type "handshake".
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Handshake message type "client_hello".
pub const HS_CLIENT_HELLO: u8 = 1;
/// Extension "server_name".
pub const EXT_SERVER_NAME: u16 = 0;
/// Largest legal record body: 2^14 plaintext plus the 2048 bytes a
/// compressed/protected record may add (RFC 5246 6.2.3).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// A host name is at most 255 bytes in DNS; a longer SNI is cut there.
pub const MAX_SNI: usize = 255;

struct Cur<'a> {
    b: &'a [u8],
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let s = self.take(2)?;
        Some(u16::from_be_bytes([s[0], s[1]]))
    }
    /// A vector with a `u8`/`u16` length prefix.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// `Some(sni)` when `seg` starts with a TLS record holding a ClientHello;
/// `sni` is the first host_name of the server_name extension, when present
/// and inside the segment.
pub fn client_hello_sni(seg: &[u8]) -> Option<Option<&[u8]>> {
    let [CONTENT_HANDSHAKE, 3, minor, l0, l1, body @ ..] = seg else {
        return None;
    };
    let rec_len = usize::from(u16::from_be_bytes([*l0, *l1]));
    if *minor > 4 || !(4..=MAX_RECORD).contains(&rec_len) {
        return None;
    }
    let body = &body[..body.len().min(rec_len)];
    let [HS_CLIENT_HELLO, _, _, _, 3, _, hello @ ..] = body else {
        return None;
    };
    // From here on the hello may be cut by the segment end: each step that
    // runs out of bytes means "ClientHello, SNI not visible".
    Some(sni(hello))
}

fn sni(hello: &[u8]) -> Option<&[u8]> {
    let mut c = Cur { b: hello };
    c.take(32)?; // random
    c.vec8()?; // legacy_session_id
    c.vec16()?; // cipher_suites
    c.vec8()?; // legacy_compression_methods
    let ext_len = usize::from(c.u16()?);
    let mut e = Cur {
        b: &c.b[..c.b.len().min(ext_len)],
    };
    while let (Some(ty), Some(data)) = (e.u16(), e.vec16()) {
        if ty != EXT_SERVER_NAME {
            continue;
        }
        let mut list = Cur { b: e_list(data)? };
        while let (Some(kind), Some(name)) = (list.u8(), list.vec16()) {
            if kind == 0 && !name.is_empty() {
                return Some(name);
            }
        }
        return None;
    }
    None
}

/// The ServerNameList inside the extension data (its own u16 prefix).
fn e_list(data: &[u8]) -> Option<&[u8]> {
    Cur { b: data }.vec16()
}

/// The SNI as reported: lower-cased, escaped, capped at [`MAX_SNI`].
pub fn sni_string(name: &[u8]) -> String {
    text::host(name, MAX_SNI)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello record with the given extensions (type, data).
    pub fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut h = vec![3, 3];
        h.extend_from_slice(&[0x11; 32]);
        h.push(32);
        h.extend_from_slice(&[0x22; 32]);
        h.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
        h.extend_from_slice(&[1, 0]);
        let mut e = Vec::new();
        for (ty, d) in exts {
            e.extend_from_slice(&ty.to_be_bytes());
            e.extend_from_slice(&(d.len() as u16).to_be_bytes());
            e.extend_from_slice(d);
        }
        h.extend_from_slice(&(e.len() as u16).to_be_bytes());
        h.extend_from_slice(&e);
        let mut hs = vec![1];
        hs.extend_from_slice(&(h.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&h);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    pub fn sni_ext(name: &[u8]) -> (u16, Vec<u8>) {
        let mut entry = vec![0];
        entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
        entry.extend_from_slice(name);
        let mut d = (entry.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&entry);
        (0, d)
    }

    #[test]
    fn finds_sni_after_other_extensions() {
        let rec = hello(&[
            (10, vec![0, 2, 0, 29]),
            sni_ext(b"Testing.COM"),
            (43, vec![2, 3, 4]),
        ]);
        let s = client_hello_sni(&rec).unwrap().unwrap();
        assert_eq!(sni_string(s), "testing.com");
    }

    #[test]
    fn no_sni_and_cut() {
        let rec = hello(&[(10, vec![0, 2, 0, 29])]);
        assert_eq!(client_hello_sni(&rec), Some(None));
        // SNI last, hello cut before it: a ClientHello without visible SNI.
        let rec = hello(&[(21, vec![0; 300]), sni_ext(b"late.example")]);
        assert_eq!(client_hello_sni(&rec[..200]), Some(None));
        assert_eq!(client_hello_sni(&rec).unwrap(), Some(&b"late.example"[..]));
        // Every prefix is either not a hello or a hello without a panic.
        for n in 0..rec.len() {
            let r = client_hello_sni(&rec[..n]);
            assert_eq!(r.is_some(), n >= 11, "{n}");
        }
    }

    #[test]
    fn not_a_hello() {
        let mut rec = hello(&[sni_ext(b"a.b")]);
        rec[5] = 2; // ServerHello
        assert_eq!(client_hello_sni(&rec), None);
        let mut rec = hello(&[sni_ext(b"a.b")]);
        rec[0] = 23; // application data
        assert_eq!(client_hello_sni(&rec), None);
        let mut rec = hello(&[sni_ext(b"a.b")]);
        rec[2] = 9; // version 3.9
        assert_eq!(client_hello_sni(&rec), None);
        // Empty host name is no SNI.
        assert_eq!(client_hello_sni(&hello(&[sni_ext(b"")])), Some(None));
    }
}
