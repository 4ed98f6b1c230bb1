//! Big-endian field readers shared by the header views.
//!
//! Callers check lengths first; these index directly, so an unchecked call
//! with a short slice would panic. Every view documents the minimum length it
//! checked before handing out accessors that use these.

#[inline(always)]
pub(crate) fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

#[inline(always)]
pub(crate) fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
