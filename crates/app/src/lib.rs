//! Light application-layer metadata for detectors and reports.
//!
//! Runs on the reader thread, where payloads are at hand, and must cost next
//! to nothing for the packets it does not care about: a port and first-byte
//! check decides before any parsing.
#![forbid(unsafe_code)]

use vigil_core::{Meta, PacketInfo};

/// The metadata visible in one packet's L4 payload, if any.
pub fn inspect(p: &PacketInfo, payload: &[u8]) -> Option<Meta> {
    let _ = (p, payload);
    None
}
