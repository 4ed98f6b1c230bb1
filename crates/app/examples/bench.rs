//! Micro benchmark of `vigil_app::inspect` per packet kind:
//! `cargo run --release -p vigil-app --example bench`.
//!
//! Each case runs `inspect` on the same packet many times (inputs and output
//! through `black_box` so nothing is hoisted) and prints ns/packet. Cases
//! that return a Meta include its allocation and drop.

use std::hint::black_box;
use std::time::Instant;
use vigil_core::{proto, PacketInfo};

fn pkt(proto: u8, sport: u16, dport: u16) -> PacketInfo {
    PacketInfo {
        proto,
        sport,
        dport,
        ..PacketInfo::default()
    }
}

fn dns_query(name: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

fn client_hello(sni: &[u8]) -> Vec<u8> {
    let mut h = vec![3, 3];
    h.extend_from_slice(&[0x11; 32]);
    h.push(32);
    h.extend_from_slice(&[0x22; 32]);
    h.extend_from_slice(&[0, 32]);
    h.extend_from_slice(&[0x13; 32]);
    h.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    for (ty, d) in [(10u16, vec![0u8; 10]), (13, vec![0; 20]), (43, vec![0; 5])] {
        e.extend_from_slice(&ty.to_be_bytes());
        e.extend_from_slice(&(d.len() as u16).to_be_bytes());
        e.extend_from_slice(&d);
    }
    let mut entry = vec![0];
    entry.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    entry.extend_from_slice(sni);
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&((entry.len() + 2) as u16).to_be_bytes());
    e.extend_from_slice(&(entry.len() as u16).to_be_bytes());
    e.extend_from_slice(&entry);
    h.extend_from_slice(&(e.len() as u16).to_be_bytes());
    h.extend_from_slice(&e);
    let mut hs = vec![1];
    hs.extend_from_slice(&(h.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&h);
    let mut rec = vec![22, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn run(name: &str, p: PacketInfo, payload: &[u8], iters: u64) {
    // Warm up, then time.
    for _ in 0..iters / 10 {
        black_box(vigil_app::inspect(black_box(&p), black_box(payload)));
    }
    let t = Instant::now();
    let mut hits = 0u64;
    for _ in 0..iters {
        if let Some(m) = vigil_app::inspect(black_box(&p), black_box(payload)) {
            hits += 1;
            black_box(m);
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    println!("{name:<38} {ns:>8.2} ns/packet  (meta: {})", hits == iters);
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    let mut tls_data = vec![23u8, 3, 3, 5, 0x6c];
    tls_data.resize(1400, 0xab);
    run(
        "TLS app data 443->client (no match)",
        pkt(proto::TCP, 443, 50123),
        &tls_data,
        n,
    );
    run(
        "TLS app data client->443 (no match)",
        pkt(proto::TCP, 50123, 443),
        &tls_data,
        n,
    );
    run(
        "TCP pure ACK (empty payload)",
        pkt(proto::TCP, 50123, 443),
        &[],
        n,
    );
    run(
        "UDP 443 QUIC (no match)",
        pkt(proto::UDP, 50123, 443),
        &tls_data[..1200],
        n,
    );
    let q = dns_query("www.example.com");
    run(
        "DNS query www.example.com",
        pkt(proto::UDP, 50123, 53),
        &q,
        n / 10,
    );
    let q = dns_query("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8.a9b8c7d6e5f4.t.tunnel.example");
    run(
        "DNS query, long tunnel-like name",
        pkt(proto::UDP, 50123, 53),
        &q,
        n / 10,
    );
    let ch = client_hello(b"www.example.com");
    run(
        "TLS ClientHello with SNI",
        pkt(proto::TCP, 50123, 443),
        &ch,
        n / 10,
    );
    let get = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n";
    run(
        "HTTP GET with Host and UA",
        pkt(proto::TCP, 50123, 80),
        get,
        n / 10,
    );
}
