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

/// A fixed-size array of zeroed `T`, for the flow table's big arrays of
/// over-aligned entries. `bytemuck::zeroed_vec` of a 64-byte-aligned type
/// goes through an aligned `malloc` and a `memset`, which touches every page
/// before [`advise_huge_pages`] can ask for huge ones (measured: the 32 MiB
/// candidate sets ended up on 4 KiB pages, and the flood's candidate lookups
/// waited on TLB misses). On Linux this maps anonymous memory instead: the
/// kernel hands out zero pages lazily, aligns a mapping this large to 2 MiB,
/// and the huge-page hint can be given before the first touch of the pages
/// it should cover ([`ZeroedArray::advise_huge_pages`]).
pub struct ZeroedArray<T: bytemuck::Zeroable + Copy> {
    #[cfg(target_os = "linux")]
    ptr: std::ptr::NonNull<T>,
    #[cfg(target_os = "linux")]
    len: usize,
    #[cfg(not(target_os = "linux"))]
    boxed: Box<[T]>,
}

// SAFETY: the array owns its elements like a `Box<[T]>` does.
unsafe impl<T: bytemuck::Zeroable + Copy + Send> Send for ZeroedArray<T> {}
// SAFETY: shared access only hands out `&[T]`.
unsafe impl<T: bytemuck::Zeroable + Copy + Sync> Sync for ZeroedArray<T> {}

impl<T: bytemuck::Zeroable + Copy> ZeroedArray<T> {
    /// `len` zeroed elements. Aborts like `Vec` does when memory cannot be had.
    pub fn new(len: usize) -> Self {
        #[cfg(target_os = "linux")]
        {
            let bytes = len
                .checked_mul(std::mem::size_of::<T>())
                .expect("array size overflows");
            if bytes == 0 {
                return ZeroedArray {
                    ptr: std::ptr::NonNull::dangling(),
                    len,
                };
            }
            // SAFETY: an anonymous private mapping of `bytes` bytes; no
            // existing memory is involved. The result is checked below.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                std::alloc::handle_alloc_error(
                    std::alloc::Layout::array::<T>(len).expect("array layout"),
                );
            }
            assert!(std::mem::align_of::<T>() <= 4096);
            ZeroedArray {
                // a successful mmap is page-aligned (so aligned for any `T`
                // up to 4 KiB, checked above) and never null
                ptr: std::ptr::NonNull::new(p.cast::<T>()).expect("mmap returned null"),
                len,
            }
        }
        #[cfg(not(target_os = "linux"))]
        ZeroedArray {
            boxed: bytemuck::zeroed_slice_box(len),
        }
    }
}

impl<T: bytemuck::Zeroable + Copy> ZeroedArray<T> {
    /// Asks for transparent huge pages from here on: pages touched later are
    /// born huge (those already touched stay as they are). A hint; failure is
    /// ignored.
    pub fn advise_huge_pages(&self) {
        #[cfg(target_os = "linux")]
        {
            let bytes = self.len * std::mem::size_of::<T>();
            if bytes >= HUGE {
                // SAFETY: the range is this array's own mapping; the hint
                // only changes how the kernel backs it.
                unsafe { libc::madvise(self.ptr.as_ptr().cast(), bytes, libc::MADV_HUGEPAGE) };
            }
        }
    }
}

impl<T: bytemuck::Zeroable + Copy> std::ops::Deref for ZeroedArray<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        #[cfg(target_os = "linux")]
        // SAFETY: `ptr` points at `len` initialised (all-zero bytes are a
        // valid `T`: `Zeroable`) elements owned by `self`, or is dangling
        // with a zero size.
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr(), self.len)
        }
        #[cfg(not(target_os = "linux"))]
        &self.boxed
    }
}

impl<T: bytemuck::Zeroable + Copy> std::ops::DerefMut for ZeroedArray<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        #[cfg(target_os = "linux")]
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe {
            std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len)
        }
        #[cfg(not(target_os = "linux"))]
        &mut self.boxed
    }
}

impl<T: bytemuck::Zeroable + Copy> Drop for ZeroedArray<T> {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        {
            let bytes = self.len * std::mem::size_of::<T>();
            if bytes != 0 {
                // SAFETY: the mapping made in `new`, unmapped once; the
                // elements are `Copy`, so there is no drop glue to run.
                unsafe { libc::munmap(self.ptr.as_ptr().cast(), bytes) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, bytemuck::Zeroable)]
    #[repr(C, align(64))]
    struct Line {
        a: u64,
        b: [u64; 7],
    }

    #[test]
    fn zeroed_array_starts_zeroed_holds_writes_and_frees() {
        let empty = ZeroedArray::<Line>::new(0);
        assert!(empty.is_empty());
        empty.advise_huge_pages();
        // big enough for the huge-page hint (several 2 MiB pages)
        let n = 3 * HUGE / std::mem::size_of::<Line>() + 7;
        let mut v = ZeroedArray::<Line>::new(n);
        assert_eq!(v.len(), n);
        assert_eq!(v.as_ptr() as usize % std::mem::align_of::<Line>(), 0);
        assert!(v.iter().all(|l| l.a == 0 && l.b == [0; 7]));
        v.advise_huge_pages();
        for (i, l) in v.iter_mut().enumerate() {
            l.a = i as u64;
            l.b[6] = !(i as u64);
        }
        assert!(v
            .iter()
            .enumerate()
            .all(|(i, l)| l.a == i as u64 && l.b[6] == !(i as u64)));
        drop(v);
        // many maps and unmaps do not leak or fault
        for _ in 0..64 {
            let mut w = ZeroedArray::<u64>::new(1 << 16);
            w[(1 << 16) - 1] = 1;
            assert_eq!(w.iter().sum::<u64>(), 1);
        }
    }
}
