//! A compact, copyable IP address for hot paths.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv4 or IPv6 address in 17 bytes: IPv4 sits in the first four bytes with
/// the rest zero, so equality and hashing need no branch on the family.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr {
    pub bytes: [u8; 16],
    pub v6: bool,
}

impl Addr {
    pub const fn v4(o: [u8; 4]) -> Self {
        Addr {
            bytes: [o[0], o[1], o[2], o[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            v6: false,
        }
    }
    pub const fn v6(bytes: [u8; 16]) -> Self {
        Addr { bytes, v6: true }
    }
    pub fn to_ip(self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.bytes))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                self.bytes[0],
                self.bytes[1],
                self.bytes[2],
                self.bytes[3],
            ))
        }
    }
    /// The IPv4 address as a host-order integer (0 for IPv6).
    pub fn v4_u32(self) -> u32 {
        if self.v6 {
            0
        } else {
            u32::from_be_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Addr::v4(a.octets()),
            IpAddr::V6(a) => Addr::v6(a.octets()),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_ip().fmt(f)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_ip().fmt(f)
    }
}

/// A set of CIDR prefixes (the home networks), checked by linear scan: home
/// nets are a handful of prefixes. Checked twice per packet, so each family
/// keeps (network, mask) integer pairs: one AND and compare per prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetSet {
    nets: Vec<(Addr, u8)>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl NetSet {
    /// Parses `10.0.0.0/8,2001:db8::/32` (a bare address is a /32 or /128).
    ///
    /// # Errors
    /// A message naming the item that is not a CIDR prefix.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (ip, len) = match item.split_once('/') {
                Some((ip, len)) => (ip, Some(len)),
                None => (item, None),
            };
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("'{item}' is not an IP prefix"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("'{item}': prefix length must be 0..={max}"))?,
                None => max,
            };
            nets.push((Addr::from(ip), len));
        }
        let mut set = NetSet {
            nets,
            ..Default::default()
        };
        for (a, len) in &set.nets {
            if a.v6 {
                let mask = if *len == 0 {
                    0
                } else {
                    u128::MAX << (128 - *len as u32)
                };
                set.v6.push((u128::from_be_bytes(a.bytes) & mask, mask));
            } else {
                let mask = if *len == 0 {
                    0
                } else {
                    u32::MAX << (32 - *len as u32)
                };
                set.v4.push((a.v4_u32() & mask, mask));
            }
        }
        Ok(set)
    }
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
    #[inline]
    pub fn contains(&self, a: Addr) -> bool {
        if a.v6 {
            let x = u128::from_be_bytes(a.bytes);
            self.v6.iter().any(|(n, m)| x & m == *n)
        } else {
            let x = a.v4_u32();
            self.v4.iter().any(|(n, m)| x & m == *n)
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = (Addr, u8)> + '_ {
        self.nets.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netset_matches_prefixes() {
        let s = NetSet::parse("10.0.0.0/8, 192.168.1.0/24,2001:db8::/32").unwrap();
        assert!(s.contains("10.9.8.7".parse::<IpAddr>().unwrap().into()));
        assert!(s.contains("192.168.1.200".parse::<IpAddr>().unwrap().into()));
        assert!(!s.contains("192.168.2.1".parse::<IpAddr>().unwrap().into()));
        assert!(s.contains("2001:db8::1".parse::<IpAddr>().unwrap().into()));
        assert!(!s.contains("2001:db9::1".parse::<IpAddr>().unwrap().into()));
        assert!(NetSet::parse("10.0.0.0/33").is_err());
        let all = NetSet::parse("0.0.0.0/0,::/0").unwrap();
        assert!(all.contains("1.2.3.4".parse::<IpAddr>().unwrap().into()));
        assert!(all.contains("::1".parse::<IpAddr>().unwrap().into()));
        let host = NetSet::parse("10.1.2.3").unwrap();
        assert!(host.contains("10.1.2.3".parse::<IpAddr>().unwrap().into()));
        assert!(!host.contains("10.1.2.4".parse::<IpAddr>().unwrap().into()));
        assert!(NetSet::parse("nope").is_err());
    }
}
