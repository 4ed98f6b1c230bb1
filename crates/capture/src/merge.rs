//! Several captures read as one, in capture-time order.
//!
//! Promise: packets come out ordered by `ts` as long as each source is
//! ordered; on equal times the source listed first wins (stable). Each
//! source's next time is cached, so a packet costs one `peek_ts` of the
//! source it came from plus a scan over the (few) sources.

use vigil_core::Nanos;

use crate::{CaptureError, PacketSource, RawPacket};

/// Merges sources by capture time (see the module docs).
pub struct Merge {
    sources: Vec<Box<dyn PacketSource>>,
    /// Cached `peek_ts` of each source; `None` once it is exhausted.
    heads: Vec<Option<Nanos>>,
    /// Sources whose head must be peeked again (initially all).
    stale: Vec<bool>,
}

impl Merge {
    /// Merge `sources`; ties go to the earlier source in this list.
    pub fn new(sources: Vec<Box<dyn PacketSource>>) -> Self {
        let n = sources.len();
        Merge {
            sources,
            heads: vec![None; n],
            stale: vec![true; n],
        }
    }

    /// Refresh stale heads and return the source with the smallest time.
    fn pick(&mut self) -> Result<Option<usize>, CaptureError> {
        let mut best: Option<(Nanos, usize)> = None;
        for i in 0..self.sources.len() {
            if self.stale[i] {
                self.heads[i] = self.sources[i].peek_ts()?;
                self.stale[i] = false;
            }
            if let Some(t) = self.heads[i] {
                if best.is_none_or(|(bt, _)| t < bt) {
                    best = Some((t, i));
                }
            }
        }
        Ok(best.map(|(_, i)| i))
    }
}

impl PacketSource for Merge {
    fn peek_ts(&mut self) -> Result<Option<Nanos>, CaptureError> {
        Ok(self.pick()?.and_then(|i| self.heads[i]))
    }

    /// # Errors
    /// The first error of the source the next packet comes from.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        let Some(i) = self.pick()? else {
            return Ok(None);
        };
        self.stale[i] = true;
        // By the `peek_ts` contract this yields the packet just peeked.
        self.sources[i].next_packet()
    }

    fn progress(&self) -> (u64, Option<u64>) {
        let mut done = 0u64;
        let mut total = Some(0u64);
        for s in &self.sources {
            let (d, t) = s.progress();
            done = done.saturating_add(d);
            total = total.zip(t).map(|(a, b)| a.saturating_add(b));
        }
        (done, total)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let mut w = Vec::new();
        for s in &mut self.sources {
            w.append(&mut s.take_warnings());
        }
        w
    }
}
