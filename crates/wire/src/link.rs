//! Link-layer headers other than Ethernet: Linux cooked capture (SLL, SLL2)
//! and BSD loopback (NULL / LOOP).
//!
//! Each function checks the header length and returns the EtherType-like
//! protocol of the payload plus the payload offset, or `None` if cut short.

use crate::field::be16;

/// Linux cooked v1 header length.
pub const SLL_LEN: usize = 16;
/// Linux cooked v2 header length.
pub const SLL2_LEN: usize = 20;
/// BSD loopback family header length.
pub const NULL_LEN: usize = 4;

/// SLL (v1): packet type, ARPHRD type, address length, 8 address bytes,
/// protocol (an EtherType for ordinary interfaces). Returns the protocol.
#[inline]
pub fn sll_protocol(data: &[u8]) -> Option<u16> {
    (data.len() >= SLL_LEN).then(|| be16(data, 14))
}

/// SLL2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, 8 address bytes. Returns the protocol.
#[inline]
pub fn sll2_protocol(data: &[u8]) -> Option<u16> {
    (data.len() >= SLL2_LEN).then(|| be16(data, 0))
}

/// What a loopback address family says the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopFamily {
    V4,
    V6,
    Other(u32),
}

/// BSD loopback family: a 4-byte AF_ value in the capturing host's byte
/// order (NULL) or network order (LOOP); both are accepted for both link
/// types since every defined value fits in one byte. 2 is IPv4; 24, 28 and
/// 30 are IPv6 (NetBSD/OpenBSD, FreeBSD, Darwin).
#[inline]
pub fn loop_family(data: &[u8]) -> Option<LoopFamily> {
    if data.len() < NULL_LEN {
        return None;
    }
    let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let fam = if le < 256 { le } else { be };
    Some(match fam {
        2 => LoopFamily::V4,
        24 | 28 | 30 => LoopFamily::V6,
        f => LoopFamily::Other(f),
    })
}
