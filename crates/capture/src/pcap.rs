//! Classic libpcap files (version 2.4, µs or ns magic, either byte order).
//!
//! This is the hot path of the sensor: the reader is generic over the byte
//! order so the per-packet code has no byte-order branch, parses each 16-byte
//! record header in place in the shared buffer, and returns the packet as a
//! borrow of that buffer. A record is only handed out once it is completely
//! buffered, so `peek_ts` followed by `next_packet` always yields that packet.

use std::marker::PhantomData;

use vigil_core::Nanos;

use crate::input::Input;
use crate::{CaptureError, PacketSource, RawPacket, MAX_CAPLEN};

/// Length of the file header.
const FILE_HDR: usize = 24;
/// Length of a record header.
const REC_HDR: usize = 16;
/// Bits 16..25 of the link-type field are reserved and must be zero
/// (bits 26..31 carry the optional FCS length).
const LT_RESERVED: u32 = 0x03FF_0000;

/// Reads integers in one byte order; chosen once per file.
pub(crate) trait Order: Send + 'static {
    fn u16(b: [u8; 2]) -> u16;
    fn u32(b: [u8; 4]) -> u32;
}

pub(crate) struct Le;
pub(crate) struct Be;

impl Order for Le {
    #[inline(always)]
    fn u16(b: [u8; 2]) -> u16 {
        u16::from_le_bytes(b)
    }
    #[inline(always)]
    fn u32(b: [u8; 4]) -> u32 {
        u32::from_le_bytes(b)
    }
}

impl Order for Be {
    #[inline(always)]
    fn u16(b: [u8; 2]) -> u16 {
        u16::from_be_bytes(b)
    }
    #[inline(always)]
    fn u32(b: [u8; 4]) -> u32 {
        u32::from_be_bytes(b)
    }
}

#[inline(always)]
fn u32_at<E: Order>(h: &[u8; REC_HDR], at: usize) -> u32 {
    E::u32([h[at], h[at + 1], h[at + 2], h[at + 3]])
}

/// A classic pcap reader over a buffered input.
pub(crate) struct PcapReader<E> {
    input: Input,
    /// 1000 for microsecond files, 1 for nanosecond files.
    frac_mult: u64,
    linktype: u32,
    packets: u64,
    _order: PhantomData<E>,
}

impl<E: Order> PcapReader<E> {
    /// Validate the 24-byte file header at the start of `input`.
    pub fn new(mut input: Input, nanos: bool) -> Result<Self, CaptureError> {
        if !input.fill(FILE_HDR)? {
            return Err(CaptureError::TruncatedHeader {
                file: input.file(),
                what: "pcap file header",
                need: FILE_HDR,
                got: input.avail(),
            });
        }
        let h = &input.buf[input.pos..input.pos + FILE_HDR];
        let major = E::u16([h[4], h[5]]);
        let minor = E::u16([h[6], h[7]]);
        let field = E::u32([h[20], h[21], h[22], h[23]]);
        if (major, minor) != (2, 4) {
            return Err(CaptureError::UnsupportedVersion {
                file: input.file(),
                format: "pcap",
                major,
                minor,
                supported: "2.4",
            });
        }
        if field & LT_RESERVED != 0 {
            return Err(input.corrupt(
                20,
                format!(
                    "linktype reserved field not zero (0x{:08x})",
                    field & LT_RESERVED
                ),
            ));
        }
        input.pos += FILE_HDR;
        Ok(PcapReader {
            input,
            frac_mult: if nanos { 1 } else { 1000 },
            linktype: field & 0xFFFF,
            packets: 0,
            _order: PhantomData,
        })
    }

    /// Caplen of the record at `pos` if it is completely buffered (fast path).
    #[inline(always)]
    fn buffered_caplen(&self) -> Option<usize> {
        let inp = &self.input;
        let h = inp.buf[inp.pos..inp.end].first_chunk::<REC_HDR>()?;
        let caplen = u32_at::<E>(h, 8) as usize;
        (caplen <= MAX_CAPLEN && inp.end - inp.pos >= REC_HDR + caplen).then_some(caplen)
    }

    /// Buffer the record at `pos` completely; `None` at the end of the
    /// capture (a truncated last record is reported as a warning).
    #[cold]
    #[inline(never)]
    fn load_record(&mut self) -> Result<Option<usize>, CaptureError> {
        if !self.input.fill(REC_HDR)? {
            let got = self.input.avail();
            if got > 0 {
                self.truncated(REC_HDR, got);
            }
            return Ok(None);
        }
        let p = self.input.pos;
        let b = &self.input.buf[p..p + REC_HDR];
        let caplen = E::u32([b[8], b[9], b[10], b[11]]) as usize;
        if caplen > MAX_CAPLEN {
            return Err(self.input.corrupt(
                0,
                format!(
                    "record {}: captured length {caplen} exceeds the {} MiB cap",
                    self.packets + 1,
                    MAX_CAPLEN >> 20
                ),
            ));
        }
        if !self.input.fill(REC_HDR + caplen)? {
            let got = self.input.avail();
            self.truncated(REC_HDR + caplen, got);
            return Ok(None);
        }
        Ok(Some(caplen))
    }

    #[cold]
    fn truncated(&mut self, need: usize, got: usize) {
        let n = self.packets;
        self.input.warn(format!(
            "last record truncated (needs {need} bytes, {got} present); {n} packets kept"
        ));
        self.input.discard();
    }

    #[inline(always)]
    fn record_ts(&self) -> Nanos {
        let p = self.input.pos;
        match self.input.buf[p..].first_chunk::<REC_HDR>() {
            Some(h) => {
                u64::from(u32_at::<E>(h, 0)) * 1_000_000_000
                    + u64::from(u32_at::<E>(h, 4)) * self.frac_mult
            }
            None => 0,
        }
    }
}

impl<E: Order> PacketSource for PcapReader<E> {
    fn peek_ts(&mut self) -> Result<Option<Nanos>, CaptureError> {
        if self.buffered_caplen().is_none() && self.load_record()?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.record_ts()))
    }

    #[inline]
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        let caplen = match self.buffered_caplen() {
            Some(c) => c,
            None => match self.load_record()? {
                Some(c) => c,
                None => return Ok(None),
            },
        };
        let ts = self.record_ts();
        let p = self.input.pos;
        let rec = &self.input.buf[p..p + REC_HDR + caplen];
        let orig_len = E::u32([rec[12], rec[13], rec[14], rec[15]]);
        self.input.pos = p + REC_HDR + caplen;
        self.packets += 1;
        Ok(Some(RawPacket {
            ts,
            orig_len,
            linktype: self.linktype,
            interface: 0,
            data: &rec[REC_HDR..],
        }))
    }

    fn progress(&self) -> (u64, Option<u64>) {
        self.input.progress()
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.input.warnings)
    }
}
