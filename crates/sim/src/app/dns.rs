//! DNS messages (RFC 1035) with label compression in responses.

use std::collections::HashMap;

/// Record types used by the generator.
pub mod qtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const NULL: u16 = 10;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const OPT: u16 = 41;
    pub const HTTPS: u16 = 65;
    pub const ANY: u16 = 255;
}

/// Answer data.
#[derive(Clone, Debug)]
pub enum Rdata {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(String),
    Ns(String),
    Ptr(String),
    Mx(u16, String),
    /// Character strings (each ≤ 255 bytes).
    Txt(Vec<Vec<u8>>),
    Null(Vec<u8>),
}

impl Rdata {
    fn rtype(&self) -> u16 {
        match self {
            Rdata::A(_) => qtype::A,
            Rdata::Aaaa(_) => qtype::AAAA,
            Rdata::Cname(_) => qtype::CNAME,
            Rdata::Ns(_) => qtype::NS,
            Rdata::Ptr(_) => qtype::PTR,
            Rdata::Mx(..) => qtype::MX,
            Rdata::Txt(_) => qtype::TXT,
            Rdata::Null(_) => qtype::NULL,
        }
    }
}

/// One answer record.
#[derive(Clone, Debug)]
pub struct Answer {
    pub name: String,
    pub ttl: u32,
    pub data: Rdata,
}

/// Writes names with compression pointers to suffixes already written.
struct NameWriter {
    seen: HashMap<String, u16>,
}

impl NameWriter {
    fn write(&mut self, out: &mut Vec<u8>, name: &str, compress: bool) {
        let name = name.trim_end_matches('.');
        let labels: Vec<&str> = if name.is_empty() {
            vec![]
        } else {
            name.split('.').collect()
        };
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if compress {
                if let Some(&off) = self.seen.get(&suffix) {
                    out.extend_from_slice(&(0xC000 | off).to_be_bytes());
                    return;
                }
            }
            if out.len() < 0x3FFF {
                self.seen.entry(suffix).or_insert(out.len() as u16);
            }
            let l = labels[i].as_bytes();
            let l = &l[..l.len().min(63)];
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
    }
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) {
    for v in [id, flags, qd, an, ns, ar] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn opt_rr(out: &mut Vec<u8>, size: u16) {
    out.push(0);
    out.extend_from_slice(&qtype::OPT.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
}

/// A recursive query (RD set) for `name`/`qt`, with an EDNS0 OPT record
/// advertising `edns` bytes when given.
pub fn query(id: u16, name: &str, qt: u16, edns: Option<u16>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + name.len());
    header(&mut out, id, 0x0100, 1, 0, 0, edns.is_some() as u16);
    NameWriter {
        seen: HashMap::new(),
    }
    .write(&mut out, name, false);
    out.extend_from_slice(&qt.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    if let Some(size) = edns {
        opt_rr(&mut out, size);
    }
    out
}

/// A response to `query(id, name, qt, ..)` with `answers` (owner names and
/// names inside the data are compressed), response code `rcode`, and an OPT
/// record when `edns` is given.
pub fn response(
    id: u16,
    name: &str,
    qt: u16,
    answers: &[Answer],
    rcode: u8,
    edns: Option<u16>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    header(
        &mut out,
        id,
        0x8180 | rcode as u16,
        1,
        answers.len() as u16,
        0,
        edns.is_some() as u16,
    );
    let mut names = NameWriter {
        seen: HashMap::new(),
    };
    names.write(&mut out, name, false);
    out.extend_from_slice(&qt.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    for a in answers {
        names.write(&mut out, &a.name, true);
        out.extend_from_slice(&a.data.rtype().to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&a.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        match &a.data {
            Rdata::A(v) => out.extend_from_slice(v),
            Rdata::Aaaa(v) => out.extend_from_slice(v),
            Rdata::Cname(n) | Rdata::Ns(n) | Rdata::Ptr(n) => names.write(&mut out, n, true),
            Rdata::Mx(pref, n) => {
                out.extend_from_slice(&pref.to_be_bytes());
                names.write(&mut out, n, true);
            }
            Rdata::Txt(strings) => {
                for s in strings {
                    let s = &s[..s.len().min(255)];
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
            }
            Rdata::Null(v) => out.extend_from_slice(v),
        }
        let rdlen = (out.len() - len_at - 2) as u16;
        out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }
    if let Some(size) = edns {
        opt_rr(&mut out, size);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_compress_to_the_question() {
        let r = response(
            1,
            "www.example.com",
            qtype::A,
            &[
                Answer {
                    name: "www.example.com".into(),
                    ttl: 60,
                    data: Rdata::Cname("cdn.example.com".into()),
                },
                Answer {
                    name: "cdn.example.com".into(),
                    ttl: 60,
                    data: Rdata::A([192, 0, 2, 1]),
                },
            ],
            0,
            None,
        );
        // question owner pointer 0xC00C appears for the first answer
        assert_eq!(&r[33..35], &[0xC0, 0x0C]);
        assert!(r.len() < 33 + 2 + 10 + 6 + 2 + 2 + 10 + 4 + 4);
    }
}
