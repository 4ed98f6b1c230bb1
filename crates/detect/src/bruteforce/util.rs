//! Small helpers shared by the bruteforce and lateral detectors: a bounded
//! sliding window of event times and a fast hasher for flow ids and address
//! keys (no untrusted-collision concern: keys only exist for completed
//! handshakes, and every table has a cap).

use std::collections::VecDeque;

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
