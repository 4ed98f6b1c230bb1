//! pcapng files: several sections (each with its own byte order) and several
//! interfaces (each with its own link type, timestamp resolution and offset).
//!
//! Enhanced, Simple and obsolete Packet Blocks yield packets; Section Header
//! and Interface Description Blocks update the state; every other block is
//! skipped by its length. Each block is buffered whole, its length bounded by
//! [`MAX_BLOCK`] and checked against its trailer before any field inside it is
//! used, and every option is bounded by its block. Nothing is allocated per
//! block (the interface table only grows with new interfaces).

use vigil_core::Nanos;

use crate::input::Input;
use crate::{CaptureError, PacketSource, RawPacket, MAX_CAPLEN};

/// Largest block accepted: the largest packet plus generous room for its
/// headers and options. Lengths above it are treated as corruption rather than
/// buffered, so a bogus length can never make the reader allocate gigabytes.
pub(crate) const MAX_BLOCK: usize = MAX_CAPLEN + (1 << 20);

/// Most interfaces one section may describe; each costs a table entry, so a
/// file made of nothing but IDBs must not grow the table without bound.
const MAX_INTERFACES: usize = 1 << 16;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

const OPT_ENDOFOPT: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

#[inline(always)]
fn rd32(b: &[u8], at: usize, be: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

#[inline(always)]
fn rd16(b: &[u8], at: usize, be: bool) -> u16 {
    let a = [b[at], b[at + 1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

/// How an interface's timestamp units turn into nanoseconds.
#[derive(Clone, Copy, Debug)]
enum TsRes {
    Mul(u64),
    Div(u64),
    /// Units of 2^-n seconds.
    Pow2(u32),
}

impl TsRes {
    fn from_option(v: u8) -> Self {
        let e = u32::from(v & 0x7F);
        if v & 0x80 != 0 {
            TsRes::Pow2(e)
        } else if e <= 9 {
            TsRes::Mul(10u64.pow(9 - e))
        } else {
            // 10^-e s with e > 9: below a nanosecond; beyond 10^19 every
            // value rounds to (almost) zero.
            TsRes::Div(10u64.checked_pow(e - 9).unwrap_or(u64::MAX))
        }
    }

    #[inline]
    fn to_ns(self, t: u64) -> u64 {
        match self {
            TsRes::Mul(m) => t.saturating_mul(m),
            TsRes::Div(d) => t / d,
            TsRes::Pow2(s) => {
                let ns = (u128::from(t) * 1_000_000_000) >> s;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    res: TsRes,
    /// if_tsoffset, in nanoseconds.
    offset_ns: i64,
}

impl Iface {
    #[inline]
    fn ts(&self, hi: u32, lo: u32) -> Nanos {
        let t = (u64::from(hi) << 32) | u64::from(lo);
        self.res.to_ns(t).saturating_add_signed(self.offset_ns)
    }
}

/// The packet block at `pos`, fully buffered and validated.
#[derive(Clone, Copy)]
struct Pending {
    ts: Nanos,
    orig_len: u32,
    linktype: u32,
    interface: u32,
    /// Offset of the packet bytes from `pos`.
    data: usize,
    caplen: usize,
    block_len: usize,
}

/// Walk the options in `opts`, calling `f(code, value)` for each, until
/// opt_endofopt or the end; an option longer than what is left is an error.
fn walk_options(
    opts: &[u8],
    be: bool,
    mut f: impl FnMut(u16, &[u8]),
) -> Result<(), (usize, String)> {
    let mut i = 0;
    while opts.len() - i >= 4 {
        let code = rd16(opts, i, be);
        let len = usize::from(rd16(opts, i + 2, be));
        if code == OPT_ENDOFOPT {
            break;
        }
        let padded = (len + 3) & !3;
        if padded > opts.len() - i - 4 {
            return Err((
                i,
                format!(
                    "option (code {code}, length {len}) longer than its block ({} bytes left)",
                    opts.len() - i - 4
                ),
            ));
        }
        f(code, &opts[i + 4..i + 4 + len]);
        i += 4 + padded;
    }
    Ok(())
}

/// A pcapng reader over a buffered input.
pub(crate) struct PcapngReader {
    input: Input,
    /// Byte order of the current section.
    be: bool,
    ifaces: Vec<Iface>,
    /// Interfaces of the earlier sections: numbers stay unique in the file.
    iface_base: u32,
    pending: Option<Pending>,
    last_ts: Nanos,
    packets: u64,
}

impl PcapngReader {
    /// Validate the first section header and read up to the first packet,
    /// so that a broken head of the file is an error at open time.
    pub fn new(mut input: Input) -> Result<Self, CaptureError> {
        const MIN_SHB: usize = 28;
        if !input.fill(12)? {
            return Err(CaptureError::TruncatedHeader {
                file: input.file(),
                what: "pcapng section header block",
                need: MIN_SHB,
                got: input.avail(),
            });
        }
        let mut r = PcapngReader {
            input,
            be: false,
            ifaces: Vec::new(),
            iface_base: 0,
            pending: None,
            last_ts: 0,
            packets: 0,
        };
        let len = r.header()?.1;
        if !r.input.fill(len)? {
            return Err(CaptureError::TruncatedHeader {
                file: r.input.file(),
                what: "pcapng section header block",
                need: len,
                got: r.input.avail(),
            });
        }
        r.advance()?;
        Ok(r)
    }

    /// Type and total length of the block at `pos` (at least 8 bytes
    /// buffered; 12 for a section header), taking the byte order from a
    /// section header. Lengths are validated here.
    fn header(&mut self) -> Result<(u32, usize), CaptureError> {
        let p = self.input.pos;
        let b = &self.input.buf[p..self.input.end];
        if b[..4] == [0x0A, 0x0D, 0x0D, 0x0A] {
            self.be = match b[8..12] {
                [0x1A, 0x2B, 0x3C, 0x4D] => true,
                [0x4D, 0x3C, 0x2B, 0x1A] => false,
                _ => {
                    return Err(self.input.corrupt(
                        8,
                        format!(
                            "section header byte-order magic invalid ({:02x} {:02x} {:02x} {:02x})",
                            b[8], b[9], b[10], b[11]
                        ),
                    ))
                }
            };
        }
        let btype = rd32(b, 0, self.be);
        let len = rd32(b, 4, self.be) as usize;
        if len < 12 {
            return Err(self.input.corrupt(
                0,
                format!("block (type 0x{btype:08x}) has a length of {len} < 12"),
            ));
        }
        if len & 3 != 0 {
            return Err(self.input.corrupt(
                0,
                format!("block (type 0x{btype:08x}) length {len} is not a multiple of 4"),
            ));
        }
        if len > MAX_BLOCK {
            return Err(self.input.corrupt(
                0,
                format!(
                    "block (type 0x{btype:08x}) length {len} exceeds the {} MiB cap",
                    MAX_BLOCK >> 20
                ),
            ));
        }
        Ok((btype, len))
    }

    #[cold]
    fn truncated(&mut self, need: usize) {
        let got = self.input.avail();
        let n = self.packets;
        self.input.warn(format!(
            "last block truncated (needs {need} bytes, {got} present); {n} packets kept"
        ));
        self.input.discard();
    }

    /// Position on the next packet block (buffered whole, in `pending`), or
    /// return `Ok(false)` at the end of the capture.
    fn advance(&mut self) -> Result<bool, CaptureError> {
        if self.pending.is_some() {
            return Ok(true);
        }
        loop {
            if !self.input.fill(8)? {
                if self.input.avail() > 0 {
                    self.truncated(8);
                }
                return Ok(false);
            }
            let p = self.input.pos;
            if self.input.buf[p..p + 4] == [0x0A, 0x0D, 0x0D, 0x0A] && !self.input.fill(12)? {
                self.truncated(12);
                return Ok(false);
            }
            let (btype, len) = self.header()?;
            if !self.input.fill(len)? {
                self.truncated(len);
                return Ok(false);
            }
            let p = self.input.pos;
            let blk = &self.input.buf[p..p + len];
            let be = self.be;
            let trailer = rd32(blk, len - 4, be) as usize;
            if trailer != len {
                return Err(self.input.corrupt(
                    0,
                    format!(
                        "block (type 0x{btype:08x}) total length in header {len} and trailer {trailer} don't match"
                    ),
                ));
            }
            match btype {
                EPB | PB => {
                    if len < 32 {
                        return Err(self.too_short(btype, len, 32));
                    }
                    let id = if btype == EPB {
                        rd32(blk, 8, be)
                    } else {
                        u32::from(rd16(blk, 8, be))
                    };
                    let caplen = rd32(blk, 20, be) as usize;
                    let orig_len = rd32(blk, 24, be);
                    if caplen > len - 32 || caplen > MAX_CAPLEN {
                        return Err(self.input.corrupt(
                            0,
                            format!("packet block captured length {caplen} exceeds its block ({len} bytes)"),
                        ));
                    }
                    let iface = self.iface(id)?;
                    let ts = iface.ts(rd32(blk, 12, be), rd32(blk, 16, be));
                    self.pending = Some(Pending {
                        ts,
                        orig_len,
                        linktype: iface.linktype,
                        interface: self.iface_base.saturating_add(id),
                        data: 28,
                        caplen,
                        block_len: len,
                    });
                    return Ok(true);
                }
                SPB => {
                    if len < 16 {
                        return Err(self.too_short(btype, len, 16));
                    }
                    let orig_len = rd32(blk, 8, be);
                    let iface = self.iface(0)?;
                    let mut caplen = (orig_len as usize).min(len - 16);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    self.pending = Some(Pending {
                        // An SPB carries no time: reuse the previous packet's.
                        ts: self.last_ts,
                        orig_len,
                        linktype: iface.linktype,
                        interface: self.iface_base,
                        data: 12,
                        caplen: caplen.min(MAX_CAPLEN),
                        block_len: len,
                    });
                    return Ok(true);
                }
                SHB => {
                    if len < 28 {
                        return Err(self.too_short(btype, len, 28));
                    }
                    let (major, minor) = (rd16(blk, 12, be), rd16(blk, 14, be));
                    if (major, minor) != (1, 0) {
                        return Err(CaptureError::UnsupportedVersion {
                            file: self.input.file(),
                            format: "pcapng section header",
                            major,
                            minor,
                            supported: "1.0",
                        });
                    }
                    if let Err((at, msg)) = walk_options(&blk[24..len - 4], be, |_, _| {}) {
                        return Err(self.input.corrupt(24 + at, msg));
                    }
                    let n = u32::try_from(self.ifaces.len()).unwrap_or(u32::MAX);
                    self.iface_base = self.iface_base.saturating_add(n);
                    self.ifaces.clear();
                }
                IDB => {
                    if len < 20 {
                        return Err(self.too_short(btype, len, 20));
                    }
                    let mut iface = Iface {
                        linktype: u32::from(rd16(blk, 8, be)),
                        snaplen: rd32(blk, 12, be),
                        res: TsRes::Mul(1000),
                        offset_ns: 0,
                    };
                    let opts = walk_options(&blk[16..len - 4], be, |code, v| match code {
                        IF_TSRESOL if !v.is_empty() => iface.res = TsRes::from_option(v[0]),
                        IF_TSOFFSET if v.len() >= 8 => {
                            let a = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
                            let secs = if be {
                                i64::from_be_bytes(a)
                            } else {
                                i64::from_le_bytes(a)
                            };
                            iface.offset_ns = secs.saturating_mul(1_000_000_000);
                        }
                        _ => {}
                    });
                    if let Err((at, msg)) = opts {
                        return Err(self.input.corrupt(16 + at, msg));
                    }
                    if self.ifaces.len() >= MAX_INTERFACES {
                        return Err(self.input.corrupt(
                            0,
                            format!("more than {MAX_INTERFACES} interfaces in one section"),
                        ));
                    }
                    self.ifaces.push(iface);
                }
                _ => {}
            }
            self.input.pos += len;
        }
    }

    #[inline]
    fn iface(&self, id: u32) -> Result<Iface, CaptureError> {
        match self.ifaces.get(id as usize) {
            Some(i) => Ok(*i),
            None if self.ifaces.is_empty() => Err(self.input.corrupt(
                0,
                format!("packet block for interface {id} before any Interface Description Block"),
            )),
            None => Err(self.input.corrupt(
                0,
                format!(
                    "packet block for interface {id}, but the section describes only {} interfaces",
                    self.ifaces.len()
                ),
            )),
        }
    }

    #[cold]
    fn too_short(&self, btype: u32, len: usize, min: usize) -> CaptureError {
        self.input.corrupt(
            0,
            format!("block (type 0x{btype:08x}) length {len} is below its minimum of {min}"),
        )
    }
}

impl PacketSource for PcapngReader {
    fn peek_ts(&mut self) -> Result<Option<Nanos>, CaptureError> {
        Ok(if self.advance()? {
            self.pending.map(|p| p.ts)
        } else {
            None
        })
    }

    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if !self.advance()? {
            return Ok(None);
        }
        let Some(pk) = self.pending.take() else {
            return Ok(None);
        };
        let p = self.input.pos;
        self.input.pos = p + pk.block_len;
        self.packets += 1;
        self.last_ts = pk.ts;
        Ok(Some(RawPacket {
            ts: pk.ts,
            orig_len: pk.orig_len,
            linktype: pk.linktype,
            interface: pk.interface,
            data: &self.input.buf[p + pk.data..p + pk.data + pk.caplen],
        }))
    }

    fn progress(&self) -> (u64, Option<u64>) {
        self.input.progress()
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.input.warnings)
    }
}
