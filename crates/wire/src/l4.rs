//! Transport header views: TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792)
//! and ICMPv6 (RFC 4443).
//!
//! Each `new_checked` guarantees the fixed header bytes its accessors read;
//! the decoder validates the length fields (data offset, UDP length) against
//! the IP-given segment length before slicing the payload.

use crate::field::{be16, be32};

/// Read-only view of a TCP header.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Fixed header length (data offset 5).
    pub const MIN_LEN: usize = 20;

    /// Wraps `buffer` if it holds the fixed 20-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= Self::MIN_LEN).then_some(TcpPacket { buffer })
    }
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    #[inline]
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }
    #[inline]
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }
    /// Header length in bytes (data offset * 4); may be below 20 in bad packets.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }
    /// Flags byte (see `vigil_core::tcp_flags`).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[13]
    }
    #[inline]
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }
}

/// Read-only view of a UDP header.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Header length.
    pub const HEADER_LEN: usize = 8;

    /// Wraps `buffer` if it holds the 8-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= Self::HEADER_LEN).then_some(UdpPacket { buffer })
    }
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    /// Length field (header + data).
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 4))
    }
    /// Whether the length field is zero.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Read-only view of an ICMP or ICMPv6 header (same first 8 bytes layout:
/// type, code, checksum, 4 bytes that echo messages split into identifier
/// and sequence number).
#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Header length vigil requires (type, code, checksum, rest-of-header).
    pub const HEADER_LEN: usize = 8;

    /// Wraps `buffer` if it holds the 8-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= Self::HEADER_LEN).then_some(IcmpPacket { buffer })
    }
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Echo identifier (bytes 4-5), meaningful for echo messages.
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }
}
