//! A fast, deterministic hasher for small exact tables, shared by every
//! stage (the flow table's shed aggregates, the detectors' tables): no
//! per-process random seed, so runs are repeatable.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// 64-bit finaliser (splitmix64 / murmur3 fmix64): a good avalanche for
/// integer keys, a few cycles.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A fast, deterministic hasher for small exact tables (FxHash-style word
/// folding with a mix64 finish). Not DoS-resistant against an adversary
/// choosing keys, which is why the tables using it are capped.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        mix64(self.0)
    }
}

/// [`BuildHasher`] of [`FastHasher`].
#[derive(Default, Clone, Copy)]
pub struct FastBuild;

impl BuildHasher for FastBuild {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

/// A `HashMap` with [`FastBuild`].
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;
