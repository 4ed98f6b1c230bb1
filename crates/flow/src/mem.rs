//! A cache prefetch hint, the one place this crate needs `unsafe`.
//!
//! The flow table looks up a batch of packets at a time: it first hints the
//! cache lines each packet will touch, then does the lookups, so the memory
//! latencies of a batch overlap instead of adding up (a flood of new flows
//! misses the cache on every packet).
#![allow(unsafe_code)]

/// Hints the CPU to pull the cache line holding `*p` into L1. Never faults and
/// has no visible effect but timing.
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has; it is a
    // hint that never dereferences in a way that can fault, and `p` is a valid
    // reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            p as *const T as *const i8,
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
