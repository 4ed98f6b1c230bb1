//! Bounds-checked big-endian loads: every accessor returns `None` past the
//! end instead of panicking, so the parsers above never index unchecked.

#[inline]
pub(crate) fn u8_at(d: &[u8], off: usize) -> Option<u8> {
    d.get(off).copied()
}

#[inline]
pub(crate) fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    let b = d.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
pub(crate) fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[inline]
pub(crate) fn u64_at(d: &[u8], off: usize) -> Option<u64> {
    let b = d.get(off..off.checked_add(8)?)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Some(u64::from_be_bytes(w))
}

/// An unsigned integer of 1 to 8 bytes (IPFIX reduced-size encoding, RFC
/// 7011 §6.2); longer fields give the low 8 bytes.
#[inline]
pub(crate) fn uint(b: &[u8]) -> u64 {
    let b = if b.len() > 8 { &b[b.len() - 8..] } else { b };
    b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_refuse_out_of_range() {
        let d = [1u8, 2, 3];
        assert_eq!(u16_at(&d, 1), Some(0x0203));
        assert_eq!(u16_at(&d, 2), None);
        assert_eq!(u32_at(&d, 0), None);
        assert_eq!(u32_at(&d, usize::MAX), None);
        assert_eq!(u64_at(&d, 0), None);
        assert_eq!(uint(&[1, 2, 3]), 0x010203);
        assert_eq!(uint(&[]), 0);
        assert_eq!(uint(&[9; 10]), 0x0909_0909_0909_0909);
    }
}
