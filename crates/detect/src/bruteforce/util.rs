//! Small helpers shared by the bruteforce and lateral detectors: a bounded
//! sliding window of event times and a fast hasher for flow ids and address
//! keys (no untrusted-collision concern: keys only exist for completed
//! handshakes, and every table has a cap).

use std::collections::VecDeque;
use std::hash::{BuildHasherDefault, Hasher};

use vigil_core::Nanos;

/// Event times within a sliding window, at most `cap` of them (the oldest
/// fall off first, so a count saturates at `cap`).
#[derive(Clone, Debug, Default)]
pub struct TimeWindow {
    times: VecDeque<Nanos>,
}

impl TimeWindow {
    /// Records an event at `t` (times may arrive slightly out of order; the
    /// window only needs them roughly sorted).
    pub fn push(&mut self, t: Nanos, cap: usize) {
        if self.times.len() >= cap {
            self.times.pop_front();
        }
        self.times.push_back(t);
    }

    /// Events in (now - window, now], dropping the older ones.
    pub fn count(&mut self, now: Nanos, window: Nanos) -> u32 {
        let from = now.saturating_sub(window);
        while let Some(&f) = self.times.front() {
            if f < from {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.len() as u32
    }
}

/// FxHash (rustc's): one multiply per word.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_and_caps() {
        let mut w = TimeWindow::default();
        for t in 0..10u64 {
            w.push(t * 10, 8);
        }
        // capped at 8: times 20..=90
        assert_eq!(w.count(90, 1000), 8);
        assert_eq!(w.count(90, 35), 4); // 60,70,80,90 (55 < 60)
    }
}
