//! Bounded-memory counting for detectors: distinct counts (HyperLogLog),
//! frequency estimates (count-min with conservative update and decay), heavy
//! hitters (space-saving top-k), and a fast deterministic hasher for the small
//! exact tables detectors keep beside them.
//!
//! Everything here is deterministic: fixed hash functions, no random seed, so
//! the same capture gives the same alerts.
//!
//! | structure | memory | error |
//! |---|---|---|
//! | [`Hll`] with 2^p registers | 2^p bytes | relative standard error 1.04/sqrt(2^p): 3.3 % at p=10, 1.6 % at p=12; exact-ish (linear counting) below 2.5·2^p |
//! | [`CountMin`] w×d (blocked) | w·d' bytes (d' = d rounded up to a power of two; u8, saturating) | never under-estimates (until saturation at 255); over-estimate ≤ e·N/w with probability 1−e^−d, N = total count since the last decay; conservative update tightens it further |
//! | [`SpaceSaving`] k | k entries + index | any key with true count > N/k is in the table; each reported count over-estimates by at most N/k |
//! | [`Bitmap`] 2^b bits | 2^b/8 bytes | linear counting of distinct keys; ~2 % error up to ~2^b distinct, saturates at ~2^b·ln(2^b) |

use std::hash::Hash;

pub use vigil_core::hash::{mix64, FastBuild, FastHasher, FastMap};
use vigil_core::Addr;

/// A well-mixed 64-bit hash of an address (both families).
#[inline]
pub fn hash_addr(a: &Addr) -> u64 {
    let lo = u64::from_le_bytes(a.bytes[0..8].try_into().unwrap_or([0; 8]));
    let hi = u64::from_le_bytes(a.bytes[8..16].try_into().unwrap_or([0; 8]));
    mix64(lo ^ mix64(hi ^ ((a.v6 as u64) << 1) ^ 0x9e37_79b9_7f4a_7c15))
}

/// A well-mixed hash of an address and a 64-bit tag (e.g. a port).
#[inline]
pub fn hash_addr_tag(a: &Addr, tag: u64) -> u64 {
    mix64(hash_addr(a) ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// HyperLogLog distinct counter with 2^p one-byte registers (4 ≤ p ≤ 16).
#[derive(Clone, Debug)]
pub struct Hll {
    p: u8,
    regs: Box<[u8]>,
}

impl Hll {
    /// A counter with 2^p registers (p clamped to 4..=16).
    pub fn new(p: u8) -> Self {
        let p = p.clamp(4, 16);
        Hll {
            p,
            regs: vec![0u8; 1 << p].into_boxed_slice(),
        }
    }
    /// Adds an already well-mixed 64-bit hash (see [`hash_addr`], [`mix64`]).
    #[inline]
    pub fn add_hash(&mut self, h: u64) {
        let idx = (h >> (64 - self.p)) as usize;
        let rest = (h << self.p) | (1u64 << (self.p - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        let r = &mut self.regs[idx];
        if rank > *r {
            *r = rank;
        }
    }
    /// Adds an address.
    #[inline]
    pub fn add_addr(&mut self, a: &Addr) {
        self.add_hash(hash_addr(a))
    }
    /// The estimated number of distinct items added.
    pub fn count(&self) -> f64 {
        let m = self.regs.len() as f64;
        let mut sum = 0.0;
        let mut zeros = 0usize;
        for &r in self.regs.iter() {
            sum += 1.0 / (1u64 << r) as f64;
            zeros += (r == 0) as usize;
        }
        let alpha = match self.regs.len() {
            16 => 0.673,
            32 => 0.697,
            64 => 0.709,
            _ => 0.7213 / (1.0 + 1.079 / m),
        };
        let e = alpha * m * m / sum;
        if e <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            e
        }
    }
    pub fn clear(&mut self) {
        self.regs.fill(0);
    }
    /// Adds every item of `other` (same p) to this one.
    pub fn merge(&mut self, other: &Hll) {
        if other.p == self.p {
            for (a, b) in self.regs.iter_mut().zip(other.regs.iter()) {
                *a = (*a).max(*b);
            }
        }
    }
}

/// A fixed bitmap for linear counting of distinct keys: cheaper than an HLL
/// for small sets (scan targets per source), exact-ish well below its size.
#[derive(Clone, Debug)]
pub struct Bitmap<const WORDS: usize> {
    bits: [u64; WORDS],
}

impl<const WORDS: usize> Default for Bitmap<WORDS> {
    fn default() -> Self {
        Bitmap { bits: [0; WORDS] }
    }
}

impl<const WORDS: usize> Bitmap<WORDS> {
    const BITS: usize = WORDS * 64;
    /// Sets the bit of `h` (a well-mixed hash); true if it was clear (likely
    /// a new key).
    #[inline]
    pub fn insert(&mut self, h: u64) -> bool {
        let i = (h as usize) % Self::BITS;
        let (w, b) = (i / 64, i % 64);
        let new = self.bits[w] & (1 << b) == 0;
        self.bits[w] |= 1 << b;
        new
    }
    #[inline]
    pub fn contains(&self, h: u64) -> bool {
        let i = (h as usize) % Self::BITS;
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }
    /// The estimated number of distinct keys inserted (linear counting).
    pub fn count(&self) -> f64 {
        let set: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        let m = Self::BITS as f64;
        let zeros = (Self::BITS as u32 - set).max(1) as f64;
        m * (m / zeros).ln()
    }
    pub fn clear(&mut self) {
        self.bits = [0; WORDS];
    }
}

/// Count-min sketch of `d` rows × `w` one-byte saturating counters with
/// conservative update (only the minimal cells grow) and halving decay, for
/// "has this key been frequent recently?" pre-filters. Blocked: a key's d
/// counters sit in one 64-byte cache line (one memory access per update);
/// the error bound is that of a sketch of width 64 per block, i.e. slightly
/// looser than an unblocked one of the same size.
#[derive(Clone, Debug)]
pub struct CountMin {
    w_bits: u32,
    d: usize,
    cells: Box<[u8]>,
}

impl CountMin {
    /// `d` rows (1..=4) of 2^w_bits counters (8..=20).
    pub fn new(w_bits: u32, d: usize) -> Self {
        let w_bits = w_bits.clamp(8, 20);
        let d = d.clamp(1, 4);
        CountMin {
            w_bits,
            d,
            cells: vec![0u8; d.next_power_of_two() << w_bits].into_boxed_slice(),
        }
    }
    #[inline]
    fn idx(&self, h: u64, row: usize) -> usize {
        // blocked layout: the top bits pick one 64-byte block (one cache
        // line), each row a counter inside it from its own 6 bits of the
        // hash, so an update touches one line instead of d
        let blocks_bits = self.w_bits + self.d.next_power_of_two().trailing_zeros() - 6;
        let block = (h >> (64 - blocks_bits)) as usize;
        let off = (h >> (row as u32 * 6)) as usize & 63;
        (block << 6) | off
    }
    /// Adds one to the key of hash `h`; returns the new estimate.
    #[inline]
    pub fn add(&mut self, h: u64) -> u8 {
        let mut min = u8::MAX;
        let mut ix = [0usize; 4];
        for (r, slot) in ix.iter_mut().enumerate().take(self.d) {
            *slot = self.idx(h, r);
            min = min.min(self.cells[*slot]);
        }
        let new = min.saturating_add(1);
        for &i in ix.iter().take(self.d) {
            if self.cells[i] < new {
                self.cells[i] = new;
            }
        }
        new
    }
    /// The estimate of the key of hash `h`.
    #[inline]
    pub fn estimate(&self, h: u64) -> u8 {
        (0..self.d)
            .map(|r| self.cells[self.idx(h, r)])
            .min()
            .unwrap_or(0)
    }
    /// Halves every counter (exponential decay of old counts).
    pub fn decay(&mut self) {
        for c in self.cells.iter_mut() {
            *c >>= 1;
        }
    }
    pub fn clear(&mut self) {
        self.cells.fill(0);
    }
}

/// Space-saving top-k heavy hitters (Metwally et al.): k counters; a new key
/// takes over the smallest counter (inheriting its count as error bound).
/// Replacement scans the k counters, so keep k small (≤ a few hundred) or
/// call it off the per-packet path.
#[derive(Clone, Debug)]
pub struct SpaceSaving<K: Hash + Eq + Copy> {
    k: usize,
    index: FastMap<K, usize>,
    /// (key, count, error)
    slots: Vec<(K, u64, u64)>,
    total: u64,
}

impl<K: Hash + Eq + Copy> SpaceSaving<K> {
    pub fn new(k: usize) -> Self {
        let k = k.max(1);
        SpaceSaving {
            k,
            index: FastMap::with_capacity_and_hasher(k, FastBuild),
            slots: Vec::with_capacity(k),
            total: 0,
        }
    }
    /// Adds `n` to `key`; returns its (over-)estimated count.
    pub fn add(&mut self, key: K, n: u64) -> u64 {
        self.total += n;
        if let Some(&i) = self.index.get(&key) {
            self.slots[i].1 += n;
            return self.slots[i].1;
        }
        if self.slots.len() < self.k {
            self.index.insert(key, self.slots.len());
            self.slots.push((key, n, 0));
            return n;
        }
        let (i, _) = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.1)
            .expect("k >= 1");
        let (old, c, _) = self.slots[i];
        self.index.remove(&old);
        self.index.insert(key, i);
        self.slots[i] = (key, c + n, c);
        c + n
    }
    /// The keys with the largest counts, largest first: (key, count, error).
    pub fn top(&self, n: usize) -> Vec<(K, u64, u64)> {
        let mut v = self.slots.clone();
        v.sort_by_key(|b| std::cmp::Reverse(b.1));
        v.truncate(n);
        v
    }
    pub fn total(&self) -> u64 {
        self.total
    }
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hll_is_within_error_bounds() {
        for &n in &[10u64, 1_000, 100_000, 1_000_000] {
            let mut h = Hll::new(12);
            for i in 0..n {
                h.add_hash(mix64(i));
            }
            let e = h.count();
            let err = (e - n as f64).abs() / n as f64;
            assert!(err < 0.05, "n={n} est={e}");
        }
        // duplicates do not count
        let mut h = Hll::new(10);
        for _ in 0..10 {
            for i in 0..500u64 {
                h.add_addr(&Addr::v4((i as u32).to_be_bytes()));
            }
        }
        assert!((h.count() - 500.0).abs() < 30.0, "{}", h.count());
    }

    #[test]
    fn bitmap_counts_small_sets() {
        let mut b = Bitmap::<16>::default();
        for i in 0..300u64 {
            b.insert(mix64(i));
        }
        assert!((b.count() - 300.0).abs() < 30.0, "{}", b.count());
    }

    #[test]
    fn count_min_never_underestimates_and_decays() {
        let mut c = CountMin::new(12, 3);
        for i in 0..20_000u64 {
            c.add(mix64(i % 5_000));
        }
        for i in 0..5_000u64 {
            assert!(c.estimate(mix64(i)) >= 4);
        }
        c.decay();
        c.decay();
        c.decay();
        assert!(c.estimate(mix64(7)) <= 2);
        // a heavy key among 100k one-off keys stands out
        let mut c = CountMin::new(16, 3);
        for i in 0..100_000u64 {
            c.add(mix64(1_000_000 + i));
            if i % 100 == 0 {
                c.add(mix64(42));
            }
        }
        assert!(c.estimate(mix64(42)) >= 200);
        let noisy = (0..1000u64)
            .filter(|i| c.estimate(mix64(1_000_000 + i)) > 8)
            .count();
        assert!(noisy < 5, "{noisy}");
    }

    #[test]
    fn space_saving_keeps_heavy_hitters() {
        let mut s = SpaceSaving::new(32);
        for i in 0..100_000u64 {
            s.add(i, 1);
            if i % 10 == 0 {
                s.add(u64::MAX, 1);
            }
            if i % 20 == 0 {
                s.add(u64::MAX - 1, 1);
            }
        }
        let top = s.top(2);
        assert_eq!(top[0].0, u64::MAX);
        assert_eq!(top[1].0, u64::MAX - 1);
        assert!(top[0].1 >= 10_000);
    }
}
