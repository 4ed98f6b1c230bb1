//! IPv6 fixed header view (RFC 8200) and the extension-header walk.
//!
//! [`Packet::new_checked`] guarantees the 40-byte header. [`walk_ext`] steps
//! over hop-by-hop, routing, destination-options, fragment and AH headers
//! with every length checked against the bytes given, and stops at the
//! first other next-header value (ESP and No-Next-Header included: vigil
//! does not look inside them).

use crate::field::{be16, be32};

/// Next-header values the walk treats as extension headers.
pub mod nh {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const NO_NEXT: u8 = 59;
    pub const DEST_OPTS: u8 = 60;
}

/// Read-only view of an IPv6 fixed header.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Fixed header length.
    pub const HEADER_LEN: usize = 40;

    /// Wraps `buffer` if it holds the 40-byte header.
    #[inline]
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= Self::HEADER_LEN).then_some(Packet { buffer })
    }
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    #[inline]
    pub fn payload_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), 4))
    }
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }
    #[inline]
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[8..24]);
        a
    }
    #[inline]
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[24..40]);
        a
    }
}

/// A fragment header found by the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragHeader {
    /// Protocol of the fragmentable part.
    pub next: u8,
    /// Offset in bytes.
    pub offset: usize,
    pub more: bool,
    pub ident: u32,
    /// Offset (within the walked bytes) of the fragmentable part.
    pub data_offset: usize,
}

/// Outcome of an extension-header walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Upper-layer protocol and the offset where it starts.
    Upper { proto: u8, offset: usize },
    /// A non-atomic fragment header (walk stops there).
    Fragment(FragHeader),
    /// A header runs past the bytes given.
    Trunc,
    /// More than `max` extension headers.
    TooMany,
}

/// Walks extension headers in `b` starting with next-header `next`. An
/// atomic fragment (offset 0, M clear, RFC 6946) is stepped over like any
/// other header.
pub fn walk_ext(b: &[u8], mut next: u8, max: usize) -> Walk {
    let mut off = 0usize;
    let mut n = 0usize;
    loop {
        let len = match next {
            nh::HOP_BY_HOP | nh::ROUTING | nh::DEST_OPTS => {
                if b.len() < off + 2 {
                    return Walk::Trunc;
                }
                (usize::from(b[off + 1]) + 1) * 8
            }
            nh::AH => {
                if b.len() < off + 2 {
                    return Walk::Trunc;
                }
                (usize::from(b[off + 1]) + 2) * 4
            }
            nh::FRAGMENT => 8,
            _ => {
                return Walk::Upper {
                    proto: next,
                    offset: off,
                }
            }
        };
        if n == max {
            return Walk::TooMany;
        }
        n += 1;
        if b.len() < off + len {
            return Walk::Trunc;
        }
        if next == nh::FRAGMENT {
            let fo = be16(b, off + 2);
            let offset = usize::from(fo >> 3) * 8;
            let more = fo & 1 != 0;
            if offset != 0 || more {
                return Walk::Fragment(FragHeader {
                    next: b[off],
                    offset,
                    more,
                    ident: be32(b, off + 4),
                    data_offset: off + 8,
                });
            }
        }
        next = b[off];
        off += len;
    }
}
