//! Bounded-memory counting for detectors: distinct counts (HyperLogLog) and
//! heavy hitters, so a spoofed flood of millions of keys costs fixed memory.
//!
//! (stub: filled in by the dos/scan work)
