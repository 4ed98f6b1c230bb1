//! vigil's capture-file readers.
//!
//! This crate exists to turn capture files into a stream of [`RawPacket`]s as
//! fast as the disk allows and without ever trusting the file: classic pcap
//! (2.4, µs or ns, either byte order), pcapng (1.0, any number of sections
//! and interfaces), either one gzip-compressed, and several files merged by
//! capture time ([`Merge`]).
//!
//! What it promises:
//! - no allocation and no syscall per packet: files are read with large
//!   `read()` calls into one reusable buffer, records are parsed in place and
//!   [`RawPacket::data`] borrows that buffer;
//! - outside input never panics and never loops; lengths read from the file
//!   are checked against caps ([`MAX_CAPLEN`] per packet, a little more per
//!   pcapng block) and the buffer grows only as bytes actually arrive, so a
//!   bogus length never causes a large allocation; a broken header or block
//!   is a [`CaptureError`], one line naming the file and the defect;
//! - a file cut short inside its last record is not an error: everything
//!   before it is delivered and a warning says what was lost
//!   ([`PacketSource::take_warnings`]).
#![forbid(unsafe_code)]

mod error;
mod input;
mod merge;
mod pcap;
mod pcapng;
mod write;

use std::fs::File;
use std::io::{BufReader, Cursor, ErrorKind, Read};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub use error::CaptureError;
pub use merge::Merge;
pub use vigil_core::Nanos;
pub use write::PcapNgWriter;

use input::{Counting, Input};

/// Largest captured length accepted for one packet. Real link layers stay far
/// below (jumbo frames, 256 KiB loopback/USB snaplen); anything above is a
/// corrupt length, and refusing it bounds the read buffer.
pub const MAX_CAPLEN: usize = 16 << 20;

/// Size of the buffer between the raw file and the gzip decoder: big enough
/// that the decoder works on large chunks, negligible next to [`MAX_CAPLEN`].
const GZ_IN_BUF: usize = 256 << 10;

/// Link-layer header types (LINKTYPE_* of the tcpdump.org registry) that vigil
/// names. Any other value is passed through in [`RawPacket::linktype`].
pub mod linktype {
    /// BSD loopback: 4-byte protocol family in host byte order.
    pub const NULL: u32 = 0;
    /// Ethernet II / 802.3.
    pub const ETHERNET: u32 = 1;
    /// PPP (RFC 1661).
    pub const PPP: u32 = 9;
    /// Raw IP written by some old BSD tools with DLT value 12.
    pub const RAW_DLT12: u32 = 12;
    /// Raw IP written by OpenBSD with DLT value 14.
    pub const RAW_DLT14: u32 = 14;
    /// Raw IPv4 or IPv6, version from the first nibble.
    pub const RAW: u32 = 101;
    /// IEEE 802.11 without radio header.
    pub const IEEE802_11: u32 = 105;
    /// OpenBSD loopback: 4-byte protocol family in network byte order.
    pub const LOOP: u32 = 108;
    /// Linux "cooked" capture v1 (16-byte header).
    pub const LINUX_SLL: u32 = 113;
    /// OpenBSD pflog.
    pub const PFLOG: u32 = 117;
    /// 802.11 with radiotap header.
    pub const IEEE802_11_RADIOTAP: u32 = 127;
    /// Raw IPv4 only.
    pub const IPV4: u32 = 228;
    /// Raw IPv6 only.
    pub const IPV6: u32 = 229;
    /// Linux netfilter NFLOG.
    pub const NFLOG: u32 = 239;
    /// Linux "cooked" capture v2 (20-byte header).
    pub const LINUX_SLL2: u32 = 276;
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// Capture time (nanoseconds since the Unix epoch).
    pub ts: Nanos,
    /// Length of the frame on the wire (may be less than `data.len()` in
    /// broken files; use `data.len()` for what is there).
    pub orig_len: u32,
    /// LINKTYPE_* of the frame (see [`linktype`]).
    pub linktype: u32,
    /// Interface number: 0 for pcap; for pcapng the IDB index, counted on
    /// across sections so numbers stay unique within one file.
    pub interface: u32,
    /// The captured bytes (caplen = `data.len()`).
    pub data: &'a [u8],
}

/// A stream of packets from one capture or several merged ones.
///
/// Contract: when `peek_ts` returned `Ok(Some(t))`, the next `next_packet`
/// returns `Ok(Some(p))` with `p.ts == t` (or an error).
pub trait PacketSource: Send {
    /// Capture time of the next packet without consuming it (`Ok(None)` at end).
    ///
    /// # Errors
    /// A corrupt record or block before the next packet, or a read error.
    fn peek_ts(&mut self) -> Result<Option<Nanos>, CaptureError>;

    /// The next packet, `Ok(None)` at the end of the capture (also after a
    /// truncated last record, which leaves a warning).
    ///
    /// # Errors
    /// A corrupt record or block, or a read error; the source should not be
    /// read further after an error.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError>;

    /// (bytes of the underlying file consumed so far, total file size if
    /// known), for a progress bar; for `.gz` the compressed position.
    fn progress(&self) -> (u64, Option<u64>);

    /// Non-fatal problems found so far, each one line starting with the file
    /// name; drained by the caller.
    fn take_warnings(&mut self) -> Vec<String>;
}

/// Open a capture file: gzip is detected by its magic (1f 8b) and
/// decompressed on the fly, then pcap or pcapng by theirs.
///
/// # Errors
/// The file cannot be opened or read, or its header is not a supported pcap
/// or pcapng header (see [`open_reader`]).
pub fn open(path: &Path) -> Result<Box<dyn PacketSource>, CaptureError> {
    let name = path.display().to_string();
    let open_err = |err| CaptureError::Open {
        file: name.clone(),
        err,
    };
    let f = File::open(path).map_err(open_err)?;
    let meta = f.metadata().map_err(open_err)?;
    let total = meta.is_file().then_some(meta.len());
    open_reader(&name, Box::new(f), total)
}

/// Like [`open`], from any reader; `name` is used in errors and warnings and
/// `total` is the input's size for [`PacketSource::progress`].
///
/// For pcapng, the blocks up to the first packet are read and checked here, so
/// a broken section or interface header is reported at open time.
///
/// # Errors
/// [`CaptureError::Empty`], [`CaptureError::UnknownFormat`],
/// [`CaptureError::TruncatedHeader`], [`CaptureError::UnsupportedVersion`],
/// [`CaptureError::Corrupt`] for a broken header or first blocks, and
/// [`CaptureError::Io`] for read errors (including a corrupt gzip stream).
pub fn open_reader(
    name: &str,
    r: Box<dyn Read + Send>,
    total: Option<u64>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    let name: Arc<str> = Arc::from(name);
    let consumed = Arc::new(AtomicU64::new(0));
    let mut raw = Counting {
        inner: r,
        count: consumed.clone(),
    };
    // Sniff two bytes for the gzip magic, then put them back in front.
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match raw.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k.min(head.len() - got),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(err) => {
                return Err(CaptureError::Io {
                    file: name.to_string(),
                    offset: got as u64,
                    err,
                })
            }
        }
    }
    if got == 0 {
        return Err(CaptureError::Empty {
            file: name.to_string(),
        });
    }
    let gz = got == 2 && head == [0x1f, 0x8b];
    let stream = Cursor::new(head[..got].to_vec()).chain(raw);
    let stream: Box<dyn Read + Send> = if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(
            BufReader::with_capacity(GZ_IN_BUF, stream),
        ))
    } else {
        Box::new(stream)
    };
    let mut input = Input::new(name, stream, consumed, total);
    input.fill(4)?;
    let b = &input.buf[input.pos..input.end];
    let magic = match b.first_chunk::<4>() {
        Some(m) => *m,
        None if b.is_empty() && gz => return Err(CaptureError::Empty { file: input.file() }),
        None => {
            return Err(CaptureError::TruncatedHeader {
                file: input.file(),
                what: "capture file header",
                need: 24,
                got: b.len(),
            })
        }
    };
    Ok(match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => Box::new(pcap::PcapReader::<pcap::Le>::new(input, false)?),
        [0xa1, 0xb2, 0xc3, 0xd4] => Box::new(pcap::PcapReader::<pcap::Be>::new(input, false)?),
        [0x4d, 0x3c, 0xb2, 0xa1] => Box::new(pcap::PcapReader::<pcap::Le>::new(input, true)?),
        [0xa1, 0xb2, 0x3c, 0x4d] => Box::new(pcap::PcapReader::<pcap::Be>::new(input, true)?),
        [0x0a, 0x0d, 0x0d, 0x0a] => Box::new(pcapng::PcapngReader::new(input)?),
        m => {
            return Err(CaptureError::UnknownFormat {
                file: input.file(),
                magic: format!("{:02x} {:02x} {:02x} {:02x}", m[0], m[1], m[2], m[3]),
            })
        }
    })
}
