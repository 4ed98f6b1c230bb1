//! Micro benchmark: walk a pcap with `vigil_capture::open` and print packets
//! per CPU-second.
//!
//! `cargo run --release -p vigil-capture --example read_bench [FILE...]`
//! Without FILE it writes two synthetic captures to the temp dir (1 GiB of
//! 60-1514-byte frames, 256 MiB of 60-byte frames) and walks them.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// CPU time of this thread (user + system), from the scheduler's statistics.
fn cpu_ns() -> u64 {
    fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn synth(path: &Path, bytes: u64, min: u32, max: u32) -> std::io::Result<()> {
    if fs::metadata(path)
        .map(|m| m.len() >= bytes)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut hdr = Vec::new();
    hdr.extend(0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend(2u16.to_le_bytes());
    hdr.extend(4u16.to_le_bytes());
    hdr.extend([0; 8]);
    hdr.extend(65535u32.to_le_bytes());
    hdr.extend(1u32.to_le_bytes());
    w.write_all(&hdr)?;
    let frame = vec![0x45u8; max as usize];
    let (mut x, mut written, mut i) = (0x2545_f491_4f6c_dd1du64, 24u64, 0u32);
    while written < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = min + (x % u64::from(max - min + 1)) as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&(1_700_000_000 + i / 1_000_000).to_le_bytes());
        rec[4..8].copy_from_slice(&(i % 1_000_000).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        w.write_all(&rec)?;
        w.write_all(&frame[..len as usize])?;
        written += 16 + u64::from(len);
        i += 1;
    }
    w.flush()
}

fn walk(path: &Path) {
    // Warm the page cache so the figure is the reader's, not the disk's.
    let _ = fs::read(path).map(|v| v.len());
    let (t0, c0) = (Instant::now(), cpu_ns());
    let mut src = vigil_capture::open(path).unwrap_or_else(|e| panic!("{e}"));
    let (mut n, mut bytes, mut check) = (0u64, 0u64, 0u64);
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                n += 1;
                bytes += p.data.len() as u64;
                check = check.wrapping_add(p.ts ^ u64::from(p.data[0]));
            }
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ns() - c0) as f64 / 1e9;
    println!(
        "{}: {n} packets, {:.2} GB in {wall:.3} s wall, {cpu:.3} s CPU: {:.1} M packets/CPU-s, {:.2} GB/CPU-s, {:.1} ns/packet (check {check:x})",
        path.display(),
        bytes as f64 / 1e9,
        n as f64 / cpu / 1e6,
        bytes as f64 / cpu / 1e9,
        cpu * 1e9 / n as f64,
    );
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if !args.is_empty() {
        args.iter().for_each(|p| walk(p));
        return;
    }
    let dir = std::env::temp_dir();
    let mixed = dir.join("vigil-bench-mixed.pcap");
    let small = dir.join("vigil-bench-60.pcap");
    synth(&mixed, 1 << 30, 60, 1514).expect("write mixed");
    synth(&small, 256 << 20, 60, 60).expect("write small");
    walk(&mixed);
    walk(&small);
}
