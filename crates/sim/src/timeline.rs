//! The capture under construction: frames from many generators, written out
//! in time order.
//!
//! Scenario code emits traffic stream by stream (a whole TCP connection, then
//! the next), not in capture order. The timeline stores every frame in one
//! arena with its timestamp and a [`Tag`], and sorts stably by time when
//! written, so frames with equal timestamps keep their emission order. It
//! promises: timestamps are truncated to whole microseconds *when pushed* (the
//! pcap resolution), and [`Timeline::span`] reports the exact first/last
//! written timestamp of every tag, which is what the ground truth's
//! `start`/`end` are made of.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use vigil_core::Nanos;

use crate::pcap::PcapWriter;

/// Labels frames with the truth event they belong to; [`Tag::NONE`] is
/// background or attack side traffic that does not bound an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Tag(pub u16);

impl Tag {
    /// Not part of any event's time span.
    pub const NONE: Tag = Tag(0);
}

#[derive(Clone, Copy)]
struct Rec {
    ts: Nanos,
    off: u64,
    len: u32,
}

/// Frames in emission order, written sorted by time.
#[derive(Default)]
pub struct Timeline {
    arena: Vec<u8>,
    recs: Vec<Rec>,
    spans: HashMap<Tag, (Nanos, Nanos)>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Timeline::default()
    }

    /// Appends a frame built by `build` (which must append exactly one frame
    /// to the vector it is given) at `ts` (truncated to µs); returns the frame
    /// length.
    pub fn push_with(&mut self, ts: Nanos, tag: Tag, build: impl FnOnce(&mut Vec<u8>)) -> usize {
        let ts = ts - ts % 1000;
        let off = self.arena.len();
        build(&mut self.arena);
        let len = self.arena.len() - off;
        self.recs.push(Rec {
            ts,
            off: off as u64,
            len: len as u32,
        });
        if tag != Tag::NONE {
            let e = self.spans.entry(tag).or_insert((ts, ts));
            e.0 = e.0.min(ts);
            e.1 = e.1.max(ts);
        }
        len
    }

    /// Appends a ready-made frame.
    pub fn push(&mut self, ts: Nanos, tag: Tag, frame: &[u8]) -> usize {
        self.push_with(ts, tag, |out| out.extend_from_slice(frame))
    }

    /// First and last timestamp of the frames pushed with `tag`.
    pub fn span(&self, tag: Tag) -> Option<(Nanos, Nanos)> {
        self.spans.get(&tag).copied()
    }

    /// Frames pushed so far.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Earliest and latest timestamp of any frame.
    pub fn bounds(&self) -> Option<(Nanos, Nanos)> {
        let lo = self.recs.iter().map(|r| r.ts).min()?;
        let hi = self.recs.iter().map(|r| r.ts).max()?;
        Some((lo, hi))
    }

    /// Sorts by time (stable) and writes a classic pcap to `path`; returns
    /// the number of frames.
    pub fn write_pcap(mut self, path: &Path) -> io::Result<u64> {
        self.recs.sort_by_key(|r| r.ts);
        let mut w = PcapWriter::create(path)?;
        for r in &self.recs {
            let f = &self.arena[r.off as usize..r.off as usize + r.len as usize];
            w.write_packet(r.ts, f)?;
        }
        let n = w.records();
        w.finish()?;
        Ok(n)
    }
}
