//! Hand-made capture bytes for the tests.
#![allow(dead_code)]

use std::io::{Read, Write};

use vigil_capture::{open_reader, CaptureError, PacketSource};

pub fn u16b(v: u16, be: bool) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}
pub fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// A classic pcap file header.
pub fn pcap_header(be: bool, ns: bool, linktype: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u32b(if ns { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be));
    v.extend(u16b(2, be));
    v.extend(u16b(4, be));
    v.extend([0; 8]);
    v.extend(u32b(65535, be));
    v.extend(u32b(linktype, be));
    v
}

/// A classic pcap record.
pub fn pcap_record(be: bool, sec: u32, frac: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u32b(sec, be));
    v.extend(u32b(frac, be));
    v.extend(u32b(data.len() as u32, be));
    v.extend(u32b(orig, be));
    v.extend(data);
    v
}

/// A pcapng block of `btype` with `body` (padded to 4).
pub fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while b.len() & 3 != 0 {
        b.push(0);
    }
    let len = (b.len() + 12) as u32;
    let mut v = Vec::new();
    v.extend(u32b(btype, be));
    v.extend(u32b(len, be));
    v.extend(b);
    v.extend(u32b(len, be));
    v
}

/// An option (code, value) padded to 4.
pub fn opt(be: bool, code: u16, val: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u16b(code, be));
    v.extend(u16b(val.len() as u16, be));
    v.extend(val);
    while v.len() & 3 != 0 {
        v.push(0);
    }
    v
}

pub fn shb(be: bool, opts: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(0x1A2B_3C4D, be));
    body.extend(u16b(1, be));
    body.extend(u16b(0, be));
    body.extend([0xff; 8]);
    body.extend(opts);
    block(be, 0x0A0D_0D0A, &body)
}

pub fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(linktype, be));
    body.extend(u16b(0, be));
    body.extend(u32b(snaplen, be));
    body.extend(opts);
    block(be, 1, &body)
}

pub fn epb(be: bool, iface: u32, ts: u64, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(iface, be));
    body.extend(u32b((ts >> 32) as u32, be));
    body.extend(u32b(ts as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(u32b(orig, be));
    body.extend(data);
    while body.len() & 3 != 0 {
        body.push(0);
    }
    body.extend(opt(be, 1, b"comment"));
    body.extend(opt(be, 0, b""));
    block(be, 6, &body)
}

pub fn spb(be: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(orig, be));
    body.extend(data);
    block(be, 3, &body)
}

pub fn pb(be: bool, iface: u16, ts: u64, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(iface, be));
    body.extend(u16b(0, be));
    body.extend(u32b((ts >> 32) as u32, be));
    body.extend(u32b(ts as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(u32b(orig, be));
    body.extend(data);
    block(be, 2, &body)
}

/// A reader that hands out at most `chunk` bytes per call.
pub struct Dribble {
    pub data: Vec<u8>,
    pub at: usize,
    pub chunk: usize,
}

impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn open_bytes(data: &[u8]) -> Result<Box<dyn PacketSource>, CaptureError> {
    open_reader(
        "test.pcap",
        Box::new(std::io::Cursor::new(data.to_vec())),
        Some(data.len() as u64),
    )
}

/// An owned copy of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub ts: u64,
    pub orig_len: u32,
    pub linktype: u32,
    pub interface: u32,
    pub data: Vec<u8>,
}

/// Read every packet; returns the packets and the first error, if any.
pub fn drain(src: &mut dyn PacketSource) -> (Vec<Pkt>, Option<CaptureError>) {
    let mut out = Vec::new();
    loop {
        match src.next_packet() {
            Ok(Some(p)) => out.push(Pkt {
                ts: p.ts,
                orig_len: p.orig_len,
                linktype: p.linktype,
                interface: p.interface,
                data: p.data.to_vec(),
            }),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

pub fn read_all(data: &[u8]) -> Vec<Pkt> {
    let mut s = open_bytes(data).expect("open");
    let (p, e) = drain(&mut *s);
    assert!(e.is_none(), "{e:?}");
    p
}
