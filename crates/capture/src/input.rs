//! The reusable read buffer every reader parses in place.
//!
//! It exists so that reading costs one large `read()` per few MiB instead of a
//! syscall or allocation per packet. It promises: bytes `buf[pos..end]` are the
//! stream from offset `base + pos` on; `fill(n)` makes `n` bytes available at
//! `pos` (moving them to the front of the buffer) or reports end of input; the
//! buffer only grows beyond [`BUF_SIZE`] when the caller asks for a larger `n`
//! (which the readers bound by their caps), and then only as fast as bytes
//! actually arrive, so a length field alone never causes a large allocation.

use std::io::{self, ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::CaptureError;

/// Steady-state buffer size. The cost of reading a page-cached file is the
/// kernel's copy into this buffer; a buffer that stays in L2 makes that copy
/// ~50% faster than a multi-MiB one (measured with `examples/read_bench`:
/// 89 ns/packet at 256 KiB vs 132 ns at 8 MiB for 60-1514-byte frames),
/// while one `read()` per 256 KiB (hundreds of packets) keeps syscalls rare.
pub(crate) const BUF_SIZE: usize = 256 << 10;

/// First buffer size: tiny inputs (tests, fuzzing, short captures) should not
/// pay for 8 MiB; the buffer doubles on each refill up to [`BUF_SIZE`].
const INITIAL_BUF: usize = 64 << 10;

/// Counts the bytes read from the underlying file, shared with the source so
/// that progress can be told even when a decompressor sits in between.
pub(crate) struct Counting<R> {
    pub inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A buffered, refillable window on the (decompressed) capture stream.
pub(crate) struct Input {
    pub name: Arc<str>,
    r: Box<dyn Read + Send>,
    pub buf: Vec<u8>,
    pub pos: usize,
    pub end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    consumed: Arc<AtomicU64>,
    total: Option<u64>,
    pub warnings: Vec<String>,
}

impl Input {
    pub fn new(
        name: Arc<str>,
        r: Box<dyn Read + Send>,
        consumed: Arc<AtomicU64>,
        total: Option<u64>,
    ) -> Self {
        Input {
            name,
            r,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            consumed,
            total,
            warnings: Vec::new(),
        }
    }

    /// Bytes buffered from `pos`.
    #[inline(always)]
    pub fn avail(&self) -> usize {
        self.end - self.pos
    }

    /// Stream offset of `pos`.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.consumed.load(Ordering::Relaxed), self.total)
    }

    pub fn file(&self) -> String {
        self.name.to_string()
    }

    /// A [`CaptureError::Corrupt`] about the bytes at `pos + rel`.
    #[cold]
    pub fn corrupt(&self, rel: usize, detail: String) -> CaptureError {
        CaptureError::Corrupt {
            file: self.file(),
            offset: self.offset() + rel as u64,
            detail,
        }
    }

    /// Push a warning prefixed with the file name.
    #[cold]
    pub fn warn(&mut self, msg: String) {
        let w = format!("{}: {msg}", self.name);
        self.warnings.push(w);
    }

    /// Drop everything buffered (after a truncated tail was reported).
    pub fn discard(&mut self) {
        self.pos = self.end;
    }

    /// Make at least `n` bytes available at `pos`. Returns `Ok(false)` when the
    /// input ends first; the bytes that were there stay available.
    ///
    /// The caller bounds `n` (it is the buffer size needed).
    #[cold]
    #[inline(never)]
    pub fn fill(&mut self, n: usize) -> Result<bool, CaptureError> {
        if self.avail() >= n {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        // Steady size: start small, double per refill up to BUF_SIZE; drop
        // back to it after an oversized record (capacity is kept).
        let steady = (self.buf.len() * 2).clamp(INITIAL_BUF, BUF_SIZE);
        if self.buf.len() < steady {
            self.buf.resize(steady, 0);
        } else if self.buf.len() > steady && self.end <= steady && n <= steady {
            self.buf.truncate(steady);
        }
        while self.end < n && !self.eof {
            if self.end == self.buf.len() {
                // Grow towards `n` only as data arrives, so a huge length
                // claimed by a short file never allocates more than the file.
                let len = self.buf.len();
                self.buf.resize(n.min(len * 2), 0);
            }
            let room = self.buf.len() - self.end;
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k.min(room),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    // A gzip stream cut short: keep what was decompressed.
                    self.eof = true;
                    self.warn(format!("compressed stream ends early ({e})"));
                }
                Err(err) => {
                    return Err(CaptureError::Io {
                        file: self.file(),
                        offset: self.base + self.end as u64,
                        err,
                    })
                }
            }
        }
        Ok(self.end >= n)
    }
}
