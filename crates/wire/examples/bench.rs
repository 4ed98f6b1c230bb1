//! Micro benchmark of the common path. Run with
//! `cargo run --release -p vigil-wire --example bench`.
//!
//! Decodes a 60-byte TCP SYN (Ethernet-padded) and a 1514-byte TCP data
//! frame in a loop and prints ns/packet for each.

use std::hint::black_box;
use std::time::Instant;

use vigil_wire::{linktype, Decoded, Decoder, DecoderConfig};

fn frame(flags: u8, payload: usize) -> Vec<u8> {
    let tcp_len = 20 + payload;
    let total = 20 + tcp_len;
    let mut f = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.resize(14 + total, 0x61);
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

fn run(name: &str, f: &[u8], iters: u64) {
    let mut d = Decoder::new(DecoderConfig::default());
    let mut acc = 0u64;
    let wire = f.len() as u32;
    // Warm up.
    for i in 0..iters / 10 {
        if let Decoded::Ip { info, payload } = d.decode(linktype::ETHERNET, i, wire, black_box(f)) {
            acc = acc.wrapping_add(u64::from(info.sport) + payload.len() as u64);
        }
    }
    let t = Instant::now();
    for i in 0..iters {
        if let Decoded::Ip { info, payload } = d.decode(linktype::ETHERNET, i, wire, black_box(f)) {
            acc = acc.wrapping_add(u64::from(info.sport) + payload.len() as u64);
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    black_box(acc);
    println!("{name:<28} {:>5} bytes  {ns:6.2} ns/packet", f.len());
}

fn main() {
    let iters = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000_000u64);
    run("ethernet/ipv4/tcp SYN", &frame(0x02, 0), iters);
    run("ethernet/ipv4/tcp data", &frame(0x18, 1460), iters);
}
