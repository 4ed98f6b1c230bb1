//! IPv4 header view (RFC 791).
//!
//! [`Packet::new_checked`] guarantees the fixed 20 bytes; the decoder then
//! validates IHL and total length against what was captured before using
//! [`Packet::header_len`] or [`Packet::total_len`] to slice anything.

use crate::field::{be16, be32};

/// Read-only view of an IPv4 header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Fixed header length (IHL 5).
    pub const MIN_LEN: usize = 20;

    /// Wraps `buffer` if it holds the fixed 20-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= Self::MIN_LEN).then_some(Packet { buffer })
    }
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    /// Header length in bytes (IHL * 4); may be below 20 in bad packets.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }
    #[inline]
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 2))
    }
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }
    /// More-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[6] & 0x20 != 0
    }
    /// Fragment offset in bytes.
    #[inline]
    pub fn frag_offset(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 6) & 0x1fff) * 8
    }
    /// Whether this is a fragment (MF set or non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), 6) & 0x3fff != 0
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[8]
    }
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[9]
    }
    #[inline]
    pub fn src(&self) -> [u8; 4] {
        be32(self.buffer.as_ref(), 12).to_be_bytes()
    }
    #[inline]
    pub fn dst(&self) -> [u8; 4] {
        be32(self.buffer.as_ref(), 16).to_be_bytes()
    }
}
