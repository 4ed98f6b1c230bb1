//! Frame builders shared by the integration tests.
#![allow(dead_code)]

pub const MAC_A: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
pub const MAC_B: [u8; 6] = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
pub const A4: [u8; 4] = [10, 0, 0, 1];
pub const B4: [u8; 4] = [10, 0, 0, 2];
pub const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Ethernet with VLAN tags: `tags` are (tpid, vid), outermost first.
pub fn eth_vlan(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    for (i, (tpid, vid)) in tags.iter().enumerate() {
        if i == 0 {
            v.extend_from_slice(&tpid.to_be_bytes());
        }
        v.extend_from_slice(&vid.to_be_bytes());
        let next = tags.get(i + 1).map(|t| t.0).unwrap_or(ethertype);
        v.extend_from_slice(&next.to_be_bytes());
    }
    if tags.is_empty() {
        v.extend_from_slice(&ethertype.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

pub struct V4 {
    pub proto: u8,
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ident: u16,
    pub ttl: u8,
    pub mf: bool,
    pub offset: usize,
    pub opts: Vec<u8>,
    /// Override the total length field.
    pub total: Option<u16>,
}

impl V4 {
    pub fn new(proto: u8) -> Self {
        V4 {
            proto,
            src: A4,
            dst: B4,
            ident: 0x1234,
            ttl: 64,
            mf: false,
            offset: 0,
            opts: Vec::new(),
            total: None,
        }
    }
    pub fn rev(mut self) -> Self {
        std::mem::swap(&mut self.src, &mut self.dst);
        self
    }
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        assert_eq!(self.opts.len() % 4, 0);
        let hlen = 20 + self.opts.len();
        let total = self.total.unwrap_or((hlen + payload.len()) as u16);
        let mut v = vec![0x40 | (hlen / 4) as u8, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&self.ident.to_be_bytes());
        let fo = (self.offset / 8) as u16 | if self.mf { 0x2000 } else { 0 };
        v.extend_from_slice(&fo.to_be_bytes());
        v.push(self.ttl);
        v.push(self.proto);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.src);
        v.extend_from_slice(&self.dst);
        v.extend_from_slice(&self.opts);
        v.extend_from_slice(payload);
        v
    }
}

/// IPv6 header + `ext` (already chained) + payload; `nh` is the first next header.
pub fn ipv6(nh: u8, src: [u8; 16], dst: [u8; 16], rest: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    v.push(nh);
    v.push(64);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(rest);
    v
}

/// Generic extension header (hop-by-hop, routing, dest opts) of `8*(len8+1)` bytes.
pub fn ext(next: u8, len8: u8) -> Vec<u8> {
    let mut v = vec![next, len8];
    v.resize(8 * (len8 as usize + 1), 0);
    if v.len() > 2 {
        v[2] = 1; // PadN
        v[3] = (v.len() - 4) as u8;
    }
    v
}

pub fn frag6(next: u8, offset: usize, more: bool, ident: u32) -> Vec<u8> {
    let mut v = vec![next, 0];
    let fo = ((offset / 8) as u16) << 3 | more as u16;
    v.extend_from_slice(&fo.to_be_bytes());
    v.extend_from_slice(&ident.to_be_bytes());
    v
}

pub fn tcp(sport: u16, dport: u16, flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    v.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes());
    v.push((((20 + opts.len()) / 4) as u8) << 4);
    v.push(flags);
    v.extend_from_slice(&65535u16.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    v
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

pub fn icmp(ty: u8, code: u8, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, code, 0, 0];
    v.extend_from_slice(&ident.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A typical SYN: Ethernet / IPv4 / TCP with MSS, SACK-perm, TS, NOP, WS options.
pub fn syn_frame() -> Vec<u8> {
    let opts = [
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    eth(0x0800, &V4::new(6).build(&tcp(40000, 80, 0x02, &opts, &[])))
}
