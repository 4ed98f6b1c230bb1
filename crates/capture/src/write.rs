//! A minimal pcapng writer (for evidence excerpts): one section, one
//! interface per link type met, nanosecond timestamps (`if_tsresol` = 9),
//! enhanced packet blocks. Little-endian, as the machines vigil runs on.

use std::io::{self, Write};

use vigil_core::Nanos;

/// Writes a pcapng stream; counts what it wrote.
pub struct PcapNgWriter<W: Write> {
    out: W,
    /// Link type of each interface, in IDB order.
    interfaces: Vec<u32>,
    /// Bytes written so far (the whole file).
    pub bytes: u64,
    pub packets: u64,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PcapNgWriter<W> {
    /// Starts the file with its section header block.
    ///
    /// # Errors
    /// The writer's.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        b.extend_from_slice(&28u32.to_le_bytes());
        out.write_all(&b)?;
        Ok(PcapNgWriter {
            out,
            interfaces: Vec::new(),
            bytes: b.len() as u64,
            packets: 0,
        })
    }

    /// Bytes one packet of `len` captured bytes adds (its block, plus an
    /// interface block if its link type is new).
    pub fn cost(&self, linktype: u32, len: usize) -> u64 {
        let idb = if self.interfaces.contains(&linktype) {
            0
        } else {
            32
        };
        (32 + len + pad4(len)) as u64 + idb
    }

    fn interface(&mut self, linktype: u32) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == linktype) {
            return Ok(i as u32);
        }
        let mut b = Vec::with_capacity(32);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&32u32.to_le_bytes());
        b.extend_from_slice(&(linktype as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // snaplen: no limit
                                                  // option if_tsresol (9) = 9: nanoseconds; then opt_endofopt
        b.extend_from_slice(&9u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[9, 0, 0, 0]);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&32u32.to_le_bytes());
        self.out.write_all(&b)?;
        self.bytes += b.len() as u64;
        self.interfaces.push(linktype);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Appends one packet.
    ///
    /// # Errors
    /// The writer's.
    pub fn packet(
        &mut self,
        linktype: u32,
        ts: Nanos,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let ifc = self.interface(linktype)?;
        let total = 32 + data.len() + pad4(data.len());
        let mut h = Vec::with_capacity(28);
        h.extend_from_slice(&6u32.to_le_bytes());
        h.extend_from_slice(&(total as u32).to_le_bytes());
        h.extend_from_slice(&ifc.to_le_bytes());
        h.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        h.extend_from_slice(&(ts as u32).to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.out.write_all(&[0u8; 3][..pad4(data.len())])?;
        self.out.write_all(&(total as u32).to_le_bytes())?;
        self.bytes += total as u64;
        self.packets += 1;
        Ok(())
    }

    /// Flushes and returns the inner writer.
    ///
    /// # Errors
    /// The writer's.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_it_writes_reads_back() {
        let mut w = PcapNgWriter::new(Vec::new()).expect("new");
        let frame: Vec<u8> = (0..61u8).collect();
        let before = w.cost(1, frame.len());
        let start = w.bytes;
        w.packet(1, 1_700_000_000_123_456_789, 70, &frame)
            .expect("pkt");
        assert_eq!(w.bytes - start, before);
        w.packet(101, 1_700_000_001_000_000_000, 5, &frame[..5])
            .expect("pkt");
        let bytes = w.finish().expect("finish");
        let mut src =
            crate::open_reader("mem", Box::new(std::io::Cursor::new(bytes)), None).expect("open");
        let p = src.next_packet().expect("read").expect("one");
        assert_eq!(p.ts, 1_700_000_000_123_456_789);
        assert_eq!(p.orig_len, 70);
        assert_eq!(p.linktype, 1);
        assert_eq!(p.data, &frame[..]);
        let p = src.next_packet().expect("read").expect("two");
        assert_eq!(p.linktype, 101);
        assert_eq!(p.data.len(), 5);
        assert!(src.next_packet().expect("read").is_none());
    }
}
