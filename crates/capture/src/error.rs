//! The one error type of this crate.
//!
//! Every variant names the file it is about and renders as a single line, so
//! the CLI can print it as is: `FILE: what is wrong`.

use std::io;

/// Why a capture could not be opened or read further.
///
/// `Display` is one line that starts with the file's name and states the
/// defect; the byte offsets given are positions in the (decompressed) capture.
#[derive(thiserror::Error, Debug)]
pub enum CaptureError {
    /// The file could not be opened or its size read.
    #[error("{file}: cannot open: {err}")]
    Open { file: String, err: io::Error },
    /// A read failed (disk error, corrupt gzip stream, ...).
    #[error("{file}: read error at byte {offset}: {err}")]
    Io {
        file: String,
        offset: u64,
        err: io::Error,
    },
    /// The file holds no byte at all.
    #[error("{file}: empty file (no capture header)")]
    Empty { file: String },
    /// The first bytes are neither a pcap, pcapng nor gzip magic number.
    #[error("{file}: not a pcap, pcapng or gzip file (starts with {magic})")]
    UnknownFormat { file: String, magic: String },
    /// The file ends inside its file header (pcap) or first section header (pcapng).
    #[error("{file}: truncated {what} ({need} bytes needed, {got} present)")]
    TruncatedHeader {
        file: String,
        what: &'static str,
        need: usize,
        got: usize,
    },
    /// A version this reader does not know the layout of.
    #[error(
        "{file}: unsupported {format} version {major}.{minor} (only {supported} is supported)"
    )]
    UnsupportedVersion {
        file: String,
        format: &'static str,
        major: u16,
        minor: u16,
        supported: &'static str,
    },
    /// Any other structural defect, with the byte offset of the header or block it is in.
    #[error("{file}: {detail} (at byte {offset})")]
    Corrupt {
        file: String,
        offset: u64,
        detail: String,
    },
}
