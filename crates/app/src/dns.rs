//! DNS message parsing (RFC 1035), borrowing, in the style of Suricata's
//! `rust/src/dns/parser.rs`.
//!
//! Exists to hand the DNS-tunnel and exfiltration detectors the first
//! question of every DNS message. Promises: every read is bounds-checked;
//! compression pointers are followed only strictly backwards (each target
//! below the previous one, so no loop can form) and at most
//! [`MAX_POINTER_HOPS`] times; names over [`MAX_NAME_WIRE`] bytes or with a
//! label over [`MAX_LABEL`] bytes make the message malformed; a malformed
//! message gives `None`; nothing is allocated before the message is known to
//! be well-formed.

use crate::text;
use vigil_core::DnsMeta;

/// Fixed DNS header size.
pub const HEADER_LEN: usize = 12;
/// Longest name in wire format, length octets and root included (RFC 1035
/// 3.1).
pub const MAX_NAME_WIRE: usize = 255;
/// Longest label (RFC 1035 2.3.4); the two top bits of a length octet are
/// flags, so a larger value is a pointer or an (obsolete) extended label.
pub const MAX_LABEL: usize = 63;
/// Compression pointers followed per name. A 255-byte name has at most 127
/// labels, so a legitimate name never needs more hops than that; the cap
/// bounds the work on pointer-to-pointer chains.
pub const MAX_POINTER_HOPS: usize = 128;

/// The fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(msg: &[u8]) -> Option<Header> {
        let h = msg.get(..HEADER_LEN)?;
        let w = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        Some(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }
    pub fn response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000f) as u8
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Walk the name at `start` of `msg`, calling `label` for each label in
/// order; the offset just past the name where it is written (after its
/// first pointer, if any), or `None` when malformed.
pub fn walk_name<'a>(
    msg: &'a [u8],
    start: usize,
    mut label: impl FnMut(&'a [u8]),
) -> Option<usize> {
    let mut pos = start;
    let mut end = None;
    let mut hops = 0usize;
    // Pointers must target strictly below this: the name's own start first,
    // then the previous target.
    let mut limit = start;
    let mut wire = 1usize; // the root label
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Some(end.unwrap_or(pos + 1));
                }
                let len = usize::from(len);
                wire += len + 1;
                if wire > MAX_NAME_WIRE {
                    return None;
                }
                label(msg.get(pos + 1..pos + 1 + len)?);
                pos += 1 + len;
            }
            0xc0 => {
                let target = (usize::from(len & 0x3f) << 8) | usize::from(*msg.get(pos + 1)?);
                end.get_or_insert(pos + 2);
                hops += 1;
                if hops > MAX_POINTER_HOPS || target >= limit {
                    return None;
                }
                limit = target;
                pos = target;
            }
            // 0x40: extended label (RFC 6891 deprecated), 0x80: reserved.
            _ => return None,
        }
    }
}

/// The name at `start` rendered as [`DnsMeta::qname`] wants it: labels
/// lower-cased and joined by '.', no trailing dot, odd bytes as `\xNN`; the
/// root is "".
pub fn name_string(msg: &[u8], start: usize) -> Option<String> {
    // Most names fit; a longer one grows once or twice.
    let mut out = String::with_capacity(64);
    walk_name(msg, start, |l| {
        if !out.is_empty() {
            out.push('.');
        }
        text::push_label(&mut out, l);
    })?;
    Some(out)
}

/// A borrowed, validated DNS message: where its first name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub msg: &'a [u8],
    pub header: Header,
    /// Offset of the first question's name (or, with no question, the first
    /// answer's: mDNS responses carry none).
    pub name_at: usize,
    pub qtype: u16,
}

/// Validate `msg`: header, every question and, when `complete`, every
/// answer record in bounds. With `complete == false` (a TCP segment holding
/// only the head of a longer message) the answers are walked as far as they
/// go.
pub fn parse(msg: &[u8], complete: bool) -> Option<Message<'_>> {
    let header = Header::parse(msg)?;
    let mut pos = HEADER_LEN;
    let mut first: Option<(usize, u16)> = None;
    for _ in 0..header.qdcount {
        let end = walk_name(msg, pos, |_| {})?;
        let qtype = be16(msg, end)?;
        be16(msg, end + 2)?; // qclass
        first.get_or_insert((pos, qtype));
        pos = end + 4;
    }
    for _ in 0..header.ancount {
        let rr = (|| {
            let end = walk_name(msg, pos, |_| {})?;
            let rtype = be16(msg, end)?;
            let rdlen = usize::from(be16(msg, end + 8)?);
            let next = end + 10 + rdlen;
            (next <= msg.len()).then_some((pos, rtype, next))
        })();
        match rr {
            Some((at, rtype, next)) => {
                first.get_or_insert((at, rtype));
                pos = next;
            }
            None if complete => return None,
            None => break,
        }
    }
    let (name_at, qtype) = first?;
    Some(Message {
        msg,
        header,
        name_at,
        qtype,
    })
}

/// [`DnsMeta`] of a DNS message (a UDP payload, or a TCP message without its
/// length prefix); `len` is the message's declared length.
pub fn meta(msg: &[u8], complete: bool, len: u32) -> Option<DnsMeta> {
    let m = parse(msg, complete)?;
    Some(DnsMeta {
        id: m.header.id,
        response: m.header.response(),
        qname: name_string(m.msg, m.name_at)?,
        qtype: m.qtype,
        rcode: m.header.rcode(),
        answers: m.header.ancount,
        len,
    })
}

/// A UDP payload.
pub fn udp(payload: &[u8]) -> Option<DnsMeta> {
    meta(payload, true, u32::try_from(payload.len()).ok()?)
}

/// A TCP segment starting with a DNS message's 2-byte length prefix; the
/// segment may hold only the message's head.
pub fn tcp(payload: &[u8]) -> Option<DnsMeta> {
    let len = usize::from(be16(payload, 0)?);
    if len < HEADER_LEN {
        return None;
    }
    let body = &payload[2..];
    let complete = body.len() >= len;
    meta(&body[..len.min(body.len())], complete, len as u32)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A message with one question per `names` entry (dotted form), flags
    /// and `answers` A records pointing at the first question.
    pub fn build(id: u16, flags: u16, name: &str, qtype: u16, answers: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&answers.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        for l in name.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for i in 0..answers {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, i as u8]);
        }
        m
    }

    #[test]
    fn query_and_response() {
        let q = build(0x1234, 0x0100, "WWW.Example.com", 1, 0);
        let d = udp(&q).unwrap();
        assert_eq!(d.id, 0x1234);
        assert!(!d.response);
        assert_eq!(d.qname, "www.example.com");
        assert_eq!(
            (d.qtype, d.rcode, d.answers, d.len),
            (1, 0, 0, q.len() as u32)
        );

        let r = build(7, 0x8183, "nx.example", 28, 2);
        let d = udp(&r).unwrap();
        assert!(d.response);
        assert_eq!(
            (d.qname.as_str(), d.qtype, d.rcode, d.answers),
            ("nx.example", 28, 3, 2)
        );
    }

    #[test]
    fn root_and_escapes() {
        let q = build(1, 0, "", 2, 0);
        assert_eq!(udp(&q).unwrap().qname, "");
        let mut q = build(1, 0, "ab.c", 1, 0);
        q[13] = 0; // 'a' -> NUL
        q[14] = b'.'; // 'b' -> a dot inside the label
        assert_eq!(udp(&q).unwrap().qname, "\\x00\\x2e.c");
    }

    #[test]
    fn truncated_and_malformed() {
        let q = build(1, 0x0100, "a.example.org", 16, 0);
        for n in 0..q.len() {
            assert_eq!(udp(&q[..n]), None, "prefix {n}");
        }
        // Answer count too high for the bytes present.
        let mut r = build(1, 0x8180, "a.b", 1, 1);
        r[7] = 2;
        assert_eq!(udp(&r), None);
        // Label over 63 → flag bits → refused.
        let mut q = build(1, 0, "a", 1, 0);
        q[12] = 0x40;
        assert_eq!(udp(&q), None);
    }

    #[test]
    fn pointers() {
        // Question name is a pointer to itself: a loop.
        let mut q = build(1, 0, "", 1, 0);
        q.truncate(12);
        q.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(udp(&q), None);
        // Forward pointer (to the byte after it) refused too.
        let mut q = q.clone();
        q[13] = 14;
        assert_eq!(udp(&q), None);
        // Answer name pointing backwards to the question is fine.
        let r = build(1, 0x8180, "x.y", 1, 1);
        assert_eq!(walk_name(&r, r.len() - 16, |_| {}), Some(r.len() - 14));
        // Two-step chain: name "a" + ptr -> earlier "b.c".
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[1, b'b', 1, b'c', 0]); // at 12
        m.extend_from_slice(&[1, b'a', 0xc0, 12]); // at 17
        m.extend_from_slice(&[0xc0, 17]); // at 21
        assert_eq!(name_string(&m, 21).as_deref(), Some("a.b.c"));
        assert_eq!(walk_name(&m, 21, |_| {}), Some(23));
    }

    #[test]
    fn name_cap() {
        // 4 labels of 63 = 256 wire bytes with the root: over the cap.
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
        ]
        .join(".");
        assert_eq!(udp(&build(1, 0, &long, 1, 0)), None);
        let ok = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(udp(&build(1, 0, &ok, 1, 0)).unwrap().qname, ok);
    }

    #[test]
    fn pointer_hop_cap() {
        // A chain of pointers, each to the one before it: over the cap.
        let mut m = vec![0u8; 12];
        m.push(0); // root at 12
        let mut prev = 12u16;
        for _ in 0..MAX_POINTER_HOPS + 1 {
            let at = m.len() as u16;
            m.extend_from_slice(&(0xc000 | prev).to_be_bytes());
            prev = at;
        }
        assert_eq!(walk_name(&m, usize::from(prev), |_| {}), None);
        assert_eq!(
            walk_name(&m, 13 + 2 * (MAX_POINTER_HOPS - 1), |_| {}),
            Some(13 + 2 * MAX_POINTER_HOPS)
        );
    }

    #[test]
    fn mdns_answer_only() {
        let mut r = build(0, 0x8400, "printer.local", 1, 0);
        r[5] = 0; // qdcount 0: the name becomes the first answer's
        r[7] = 1;
        let n = r.len() - 4;
        r.truncate(n);
        r.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
        let d = udp(&r).unwrap();
        assert_eq!(
            (d.qname.as_str(), d.qtype, d.answers),
            ("printer.local", 1, 1)
        );
        // qdcount 0 and ancount 0: nothing to report.
        assert_eq!(udp(&build(0, 0, "x", 1, 0)[..12]), None);
    }

    #[test]
    fn tcp_framing() {
        let q = build(9, 0x0100, "t.example", 252, 0);
        let mut seg = (q.len() as u16).to_be_bytes().to_vec();
        seg.extend_from_slice(&q);
        let d = tcp(&seg).unwrap();
        assert_eq!(
            (d.qname.as_str(), d.qtype, d.len),
            ("t.example", 252, q.len() as u32)
        );
        // A long response whose answers continue in the next segment.
        let r = build(9, 0x8180, "t.example", 1, 3);
        let mut seg = ((r.len() + 100) as u16).to_be_bytes().to_vec();
        seg.extend_from_slice(&r[..r.len() - 20]);
        let d = tcp(&seg).unwrap();
        assert_eq!((d.answers, d.len), (3, r.len() as u32 + 100));
        assert_eq!(tcp(&[0, 5, 1, 2, 3, 4, 5]), None);
    }
}
