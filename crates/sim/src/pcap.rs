//! Classic pcap writer (microsecond timestamps, Ethernet link type).
//!
//! Exists so every generated capture is readable by any tool (tcpdump, tshark,
//! Suricata, vigil's own reader) without pcapng support. Promises: the 24-byte
//! global header once, then one 16-byte record header per frame with
//! `caplen == orig_len == frame.len()` unless [`PcapWriter::write_packet_orig`]
//! says otherwise; little-endian; output buffered through a `BufWriter`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use vigil_core::{Nanos, NANOS_PER_SEC};

/// Link type 1: Ethernet II.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snap length written in the global header.
pub const SNAPLEN: u32 = 262_144;

/// Writes a classic little-endian pcap with microsecond timestamps.
pub struct PcapWriter<W: Write> {
    out: BufWriter<W>,
    records: u64,
}

impl PcapWriter<File> {
    /// Creates (truncates) `path` and writes the global header.
    pub fn create(path: &Path) -> io::Result<Self> {
        PcapWriter::new(File::create(path)?)
    }
}

impl<W: Write> PcapWriter<W> {
    /// Wraps `inner` (buffered, 1 MiB) and writes the global header.
    pub fn new(inner: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, inner);
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        hdr[4..6].copy_from_slice(&2u16.to_le_bytes());
        hdr[6..8].copy_from_slice(&4u16.to_le_bytes());
        hdr[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        hdr[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&hdr)?;
        Ok(PcapWriter { out, records: 0 })
    }

    /// Writes one frame captured at `ts` (truncated to microseconds).
    pub fn write_packet(&mut self, ts: Nanos, frame: &[u8]) -> io::Result<()> {
        self.write_packet_orig(ts, frame, frame.len() as u32)
    }

    /// Writes one frame whose original wire length was `orig_len` (for
    /// snap-length-truncated captures).
    pub fn write_packet_orig(&mut self, ts: Nanos, frame: &[u8], orig_len: u32) -> io::Result<()> {
        let secs = (ts / NANOS_PER_SEC) as u32;
        let micros = ((ts % NANOS_PER_SEC) / 1000) as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&micros.to_le_bytes());
        rec[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(frame)?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}
