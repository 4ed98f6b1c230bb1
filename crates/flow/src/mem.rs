//! Memory hints, the one place this crate needs `unsafe`.
//!
//! The flow table looks up a batch of packets at a time: it first hints the
//! cache lines each packet will touch, then does the lookups, so the memory
//! latencies of a batch overlap instead of adding up (a flood of new flows
//! misses the cache on every packet). Its big arrays are also backed by huge
//! pages where the kernel allows, since random lookups over tens of MiB would
//! otherwise miss the TLB on nearly every packet.
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

const HUGE: usize = 2 << 20;

/// Asks the kernel to back the 2 MiB-aligned interior of a vector's
/// allocation (its whole capacity) with transparent huge pages. A hint: it
/// changes no contents, and failure (no THP on this kernel) is ignored.
pub fn advise_huge_pages<T>(v: &Vec<T>) {
    let start = v.as_ptr() as usize;
    let len = v.capacity() * std::mem::size_of::<T>();
    let aligned = start.next_multiple_of(HUGE);
    let end = (start + len) / HUGE * HUGE;
    if end <= aligned {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside the vector's own live allocation (which
    // outlives this call), and MADV_HUGEPAGE only changes how the kernel backs
    // those pages, never their contents or validity.
    unsafe {
        libc::madvise(
            aligned as *mut libc::c_void,
            end - aligned,
            libc::MADV_HUGEPAGE,
        );
    }
}
