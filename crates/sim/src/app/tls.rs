//! TLS records: a browser-like ClientHello with SNI, a TLS 1.3 ServerHello
//! flight, and application-data records of chosen sizes.

use crate::rng::Rng;

fn record(out: &mut Vec<u8>, ctype: u8, body: &[u8]) {
    out.push(ctype);
    out.extend_from_slice(&[0x03, 0x03]);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![ty];
    let l = body.len() as u32;
    h.extend_from_slice(&l.to_be_bytes()[1..]);
    h.extend_from_slice(body);
    h
}

/// A TLS 1.3-capable ClientHello record naming `sni` (ALPN h2/http1.1).
pub fn client_hello(rng: &mut Rng, sni: &str) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&rng.bytes(32));
    b.push(32);
    b.extend_from_slice(&rng.bytes(32));
    let suites: [u16; 15] = [
        0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
        0xc013, 0xc014, 0x009c, 0x002f,
    ];
    b.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    ext(&mut e, 0, &sn);
    ext(&mut e, 23, &[]);
    ext(&mut e, 0xff01, &[0]);
    ext(&mut e, 10, &[0, 8, 0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19]);
    ext(&mut e, 11, &[1, 0]);
    ext(&mut e, 35, &[]);
    ext(
        &mut e,
        16,
        &[
            0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
        ],
    );
    ext(&mut e, 5, &[1, 0, 0, 0, 0]);
    let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
    ks.extend_from_slice(&rng.bytes(32));
    ext(&mut e, 51, &ks);
    ext(&mut e, 43, &[4, 3, 4, 3, 3]);
    ext(
        &mut e,
        13,
        &[0, 16, 4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1],
    );
    ext(&mut e, 45, &[1, 1]);
    // padding to a 512-byte hello, as browsers do
    let so_far = 4 + b.len() + 2 + e.len();
    if so_far + 4 < 512 {
        let pad = 512 - so_far - 4;
        ext(&mut e, 21, &vec![0; pad]);
    }
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    let mut out = Vec::new();
    record(&mut out, 22, &handshake(1, &b));
    out
}

/// The server's first flight: a TLS 1.3 ServerHello, ChangeCipherSpec and
/// encrypted handshake records (EncryptedExtensions, Certificate, ...) totalling
/// about `cert_bytes`.
pub fn server_flight(rng: &mut Rng, cert_bytes: usize) -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&rng.bytes(32));
    b.push(32);
    b.extend_from_slice(&rng.bytes(32));
    b.extend_from_slice(&[0x13, 0x01, 0]);
    let mut e = Vec::new();
    ext(&mut e, 43, &[3, 4]);
    let mut ks = vec![0, 0x1d, 0, 32];
    ks.extend_from_slice(&rng.bytes(32));
    ext(&mut e, 51, &ks);
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    let mut out = Vec::new();
    record(&mut out, 22, &handshake(2, &b));
    record(&mut out, 20, &[1]);
    app_data(rng, &mut out, cert_bytes);
    out
}

/// The client's second flight: ChangeCipherSpec and an encrypted Finished.
pub fn client_finished(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    record(&mut out, 20, &[1]);
    record(&mut out, 23, &rng.bytes(53));
    out
}

/// Appends application-data records carrying `len` bytes of ciphertext in
/// total (records of at most 16 KiB + 22 bytes of AEAD overhead).
pub fn app_data(rng: &mut Rng, out: &mut Vec<u8>, len: usize) {
    let mut left = len;
    while left > 0 {
        let n = left.min(16_406);
        left -= n;
        out.push(23);
        out.extend_from_slice(&[3, 3]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        let at = out.len();
        out.resize(at + n, 0);
        rng.fill(&mut out[at..]);
    }
}

/// `len` bytes of ciphertext as application-data records (header included
/// in `len`: the result is exactly `len` bytes long when `len >= 6`).
pub fn app_records(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut left = len;
    while left > 5 {
        let n = (left - 5).min(16_406);
        left -= n + 5;
        out.push(23);
        out.extend_from_slice(&[3, 3]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        let at = out.len();
        out.resize(at + n, 0);
        rng.fill(&mut out[at..]);
    }
    out
}

/// A byte stream of TLS application-data records for bulk transfers: call
/// [`TlsStream::fill`] with consecutive chunks of a stream of exactly `total`
/// bytes; record headers land where they would, ciphertext comes from a
/// random pool.
pub struct TlsStream {
    pool: Vec<u8>,
    total: u64,
    /// Bytes of the current record still to produce (header included).
    rec_left: usize,
    /// Position inside the current record's header (0..5 or 5 = body).
    hdr: [u8; 5],
    hdr_pos: usize,
    produced: u64,
    pool_pos: usize,
}

impl TlsStream {
    /// A stream of `total` bytes (total ≥ 6).
    pub fn new(rng: &mut Rng, total: u64) -> Self {
        TlsStream {
            pool: rng.bytes(1 << 16),
            total,
            rec_left: 0,
            hdr: [0; 5],
            hdr_pos: 5,
            produced: 0,
            pool_pos: rng.below(1 << 15) as usize,
        }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut i = 0;
        while i < buf.len() {
            if self.rec_left == 0 {
                let remaining = self.total - self.produced;
                let body = if remaining <= 16_411 {
                    remaining.saturating_sub(5).max(1)
                } else if remaining - 16_411 < 6 {
                    16_000
                } else {
                    16_406
                } as usize;
                self.hdr = [23, 3, 3, (body >> 8) as u8, body as u8];
                self.hdr_pos = 0;
                self.rec_left = body + 5;
            }
            if self.hdr_pos < 5 {
                buf[i] = self.hdr[self.hdr_pos];
                self.hdr_pos += 1;
                self.rec_left -= 1;
                self.produced += 1;
                i += 1;
                continue;
            }
            let n = (buf.len() - i)
                .min(self.rec_left)
                .min(self.pool.len() - self.pool_pos);
            buf[i..i + n].copy_from_slice(&self.pool[self.pool_pos..self.pool_pos + n]);
            self.pool_pos = (self.pool_pos + n) % (self.pool.len() - 7);
            self.rec_left -= n;
            self.produced += n as u64;
            i += n;
        }
    }
}
