//! The address plan of one generated capture.
//!
//! Every address the generator uses comes from documentation or private
//! ranges. A scenario's home networks are fixed (its [`crate::ScenarioInfo`]
//! lists them, so a CLI can pass `--home-net`); inside them, subnets and host
//! numbers vary by seed. Outside addresses come from the documentation/test
//! ranges that are not home for that scenario (plus 198.18.0.0/16 and
//! 100.64.0.0/11), and spoofed flood sources from the disjoint 198.19.0.0/16
//! and 100.96.0.0/11 (2.1 M addresses, so 300 k random draws are mostly
//! distinct, and never collide with a named host).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::rng::Rng;

/// Home networks of plan "A": a 10/8 LAN and a public DMZ in 198.51.100/24.
pub const HOME_A: &[&str] = &["10.0.0.0/8", "198.51.100.0/24", "2001:db8:a::/48"];
/// Home networks of plan "B": a 192.168/16 LAN and a DMZ in 203.0.113/24.
pub const HOME_B: &[&str] = &["192.168.0.0/16", "203.0.113.0/24", "2001:db8:b::/48"];
/// Home networks of plan "C": a 172.16/12 LAN and a DMZ in 192.0.2/24.
pub const HOME_C: &[&str] = &["172.16.0.0/12", "192.0.2.0/24", "2001:db8:c::/48"];

/// (first address, prefix length) of an IPv4 block.
type Block = (u32, u8);

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

const OUT_A: &[Block] = &[
    (v4(203, 0, 113, 0), 24),
    (v4(192, 0, 2, 0), 24),
    (v4(198, 18, 0, 0), 16),
    (v4(100, 64, 0, 0), 11),
];
const OUT_B: &[Block] = &[
    (v4(198, 51, 100, 0), 24),
    (v4(192, 0, 2, 0), 24),
    (v4(198, 18, 0, 0), 16),
    (v4(100, 64, 0, 0), 11),
];
const OUT_C: &[Block] = &[
    (v4(198, 51, 100, 0), 24),
    (v4(203, 0, 113, 0), 24),
    (v4(198, 18, 0, 0), 16),
    (v4(100, 64, 0, 0), 11),
];
const SPOOF: &[Block] = &[(v4(198, 19, 0, 0), 16), (v4(100, 96, 0, 0), 11)];

/// Addresses of one capture.
pub struct Net {
    /// The home networks, as CIDR strings.
    pub home: &'static [&'static str],
    /// First three octets of the client subnets (two consecutive /24s).
    lan: [u8; 3],
    /// First three octets of the server subnet.
    srv: [u8; 3],
    /// First three octets of the DMZ /24.
    dmz: [u8; 3],
    v6_site: u16,
    outside: &'static [Block],
    used: HashSet<IpAddr>,
}

impl Net {
    /// A plan for `home` (one of [`HOME_A`], [`HOME_B`], [`HOME_C`]) with
    /// subnets chosen by `rng`.
    pub fn new(home: &'static [&'static str], rng: &mut Rng) -> Self {
        let (lan, srv, dmz, outside, v6_site) = match home[0] {
            "192.168.0.0/16" => {
                let c = rng.range(1, 120) as u8;
                (
                    [192, 168, c],
                    [192, 168, c + 100],
                    [203, 0, 113],
                    OUT_B,
                    0xb,
                )
            }
            "172.16.0.0/12" => {
                let b = rng.range(16, 32) as u8;
                let c = rng.range(0, 120) as u8;
                ([172, b, c], [172, b, c + 100], [192, 0, 2], OUT_C, 0xc)
            }
            _ => {
                let b = rng.range(1, 255) as u8;
                let c = rng.range(0, 120) as u8;
                ([10, b, c], [10, b, c + 100], [198, 51, 100], OUT_A, 0xa)
            }
        };
        Net {
            home,
            lan,
            srv,
            dmz,
            v6_site,
            outside,
            used: HashSet::new(),
        }
    }

    fn claim(&mut self, ip: IpAddr) -> bool {
        self.used.insert(ip)
    }

    /// A fresh (not yet handed out) workstation address in the client LAN
    /// (two /24s, hosts .10-.250).
    pub fn client(&mut self, rng: &mut Rng) -> IpAddr {
        loop {
            let [a, b, c] = self.lan;
            let ip = IpAddr::V4(Ipv4Addr::new(
                a,
                b,
                c + rng.below(2) as u8,
                rng.range(10, 251) as u8,
            ));
            if self.claim(ip) {
                return ip;
            }
        }
    }

    /// A fresh server address in the server subnet (hosts .2-.250).
    pub fn server(&mut self, rng: &mut Rng) -> IpAddr {
        loop {
            let [a, b, c] = self.srv;
            let ip = IpAddr::V4(Ipv4Addr::new(a, b, c, rng.range(2, 251) as u8));
            if self.claim(ip) {
                return ip;
            }
        }
    }

    /// The server subnet's /24 as (first three octets); used by sweeps.
    pub fn server_subnet(&self) -> [u8; 3] {
        self.srv
    }

    /// Claims a specific address (so later fresh draws avoid it).
    pub fn reserve(&mut self, ip: IpAddr) {
        self.used.insert(ip);
    }

    /// A fresh public-facing server address in the DMZ (hosts .2-.250).
    pub fn dmz(&mut self, rng: &mut Rng) -> IpAddr {
        loop {
            let [a, b, c] = self.dmz;
            let ip = IpAddr::V4(Ipv4Addr::new(a, b, c, rng.range(2, 251) as u8));
            if self.claim(ip) {
                return ip;
            }
        }
    }

    /// A fresh outside IPv4 address (the small /24 documentation blocks are
    /// preferred for named servers, as they look like distinct networks).
    pub fn outside(&mut self, rng: &mut Rng) -> IpAddr {
        loop {
            let (base, len) = self.outside[rng.below(self.outside.len() as u64) as usize];
            let size = 1u64 << (32 - len);
            let host = rng.range(1, size - 1) as u32;
            if host & 0xff == 0 || host & 0xff == 255 {
                continue;
            }
            let ip = IpAddr::V4(Ipv4Addr::from(base + host));
            if self.claim(ip) {
                return ip;
            }
        }
    }

    /// A random spoofed source (not claimed; repeats are possible but rare).
    pub fn spoofed(&self, rng: &mut Rng) -> IpAddr {
        let (base, len) = SPOOF[if rng.below(32) == 0 { 0 } else { 1 }];
        let size = 1u64 << (32 - len);
        IpAddr::V4(Ipv4Addr::from(base + rng.below(size) as u32))
    }

    /// True when `ip` is inside the home networks.
    pub fn is_home(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                match self.lan[0] {
                    192 => {
                        (o[0] == 192 && o[1] == 168) || (o[0] == 203 && o[1] == 0 && o[2] == 113)
                    }
                    172 => {
                        (o[0] == 172 && (16..32).contains(&o[1]))
                            || (o[0] == 192 && o[1] == 0 && o[2] == 2)
                    }
                    _ => o[0] == 10 || (o[0] == 198 && o[1] == 51 && o[2] == 100),
                }
            }
            IpAddr::V6(a) => {
                let s = a.segments();
                s[0] == 0x2001 && s[1] == 0xdb8 && s[2] == self.v6_site
            }
        }
    }

    /// The IPv6 address of an inside host (same host number as its IPv4).
    pub fn v6_inside(&self, v4: IpAddr) -> IpAddr {
        let o = match v4 {
            IpAddr::V4(a) => a.octets(),
            IpAddr::V6(_) => return v4,
        };
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            self.v6_site,
            o[2] as u16,
            0,
            0,
            0,
            o[3] as u16 + 0x100,
        ))
    }

    /// A fresh outside IPv6 address in 2001:db8:8000::/33.
    pub fn outside_v6(&mut self, rng: &mut Rng) -> IpAddr {
        loop {
            let ip = IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0x8000 | rng.below(0x8000) as u16,
                rng.u16(),
                0,
                0,
                0,
                rng.range(1, 0x400) as u16,
            ));
            if self.claim(ip) {
                return ip;
            }
        }
    }
}

/// An ephemeral client port (Linux 32768-60999 or Windows 49152-65535).
pub fn eph_port(rng: &mut Rng) -> u16 {
    if rng.chance(0.5) {
        rng.range(32_768, 61_000) as u16
    } else {
        rng.range(49_152, 65_536) as u16
    }
}
