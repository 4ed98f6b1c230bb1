//! ARP for IPv4 over Ethernet (RFC 826), the only ARP vigil reports.

use crate::field::be16;

/// Read-only view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// What a buffer holds, as far as ARP goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Ethernet/IPv4 ARP, 28 bytes present.
    Ok,
    /// Some other hardware/protocol pair: not ours to decode.
    Other,
    /// Cut short.
    Short,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = 28;

    /// Checks the 8-byte fixed part and, for Ethernet/IPv4, the 28 bytes.
    pub fn check(buffer: &[u8]) -> Check {
        if buffer.len() < 8 {
            return Check::Short;
        }
        if be16(buffer, 0) != 1 || be16(buffer, 2) != 0x0800 || buffer[4] != 6 || buffer[5] != 4 {
            return Check::Other;
        }
        if buffer.len() < Self::LEN {
            return Check::Short;
        }
        Check::Ok
    }

    /// Wraps `buffer` if it is a complete Ethernet/IPv4 ARP packet.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (Self::check(buffer.as_ref()) == Check::Ok).then_some(Packet { buffer })
    }
    pub fn op(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }
    pub fn sender_ip(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[14], b[15], b[16], b[17]]
    }
    pub fn target_ip(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[24], b[25], b[26], b[27]]
    }
}
