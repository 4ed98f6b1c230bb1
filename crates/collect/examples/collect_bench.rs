//! Collector throughput, and a datagram sender for comparing with nfcapd.
//!
//!     collect_bench decode LOOPS CAPTURE...
//!         Takes every UDP payload of the captures (flow-export datagrams,
//!         templates included) and feeds them all, LOOPS times over, to one
//!         Collector on this thread; prints datagrams, records and
//!         records/s (wall time of the loop, one core).
//!     collect_bench send ADDR LOOPS PER_SEC CAPTURE...
//!         Sends the same datagrams LOOPS times over UDP to ADDR (loopback
//!         only), paced at PER_SEC datagrams a second, and prints the
//!         datagrams and the records they carry (decoded by the collector).
//!     collect_bench recv ADDR
//!         Binds ADDR (loopback), receives and decodes until 2 s of silence,
//!         prints datagrams and records: run under /usr/bin/time beside the
//!         sender for CPU time per record including the socket, as nfcapd.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use vigil_collect::{CollectConfig, Collector};
use vigil_wire::{Decoded, Decoder};

fn datagrams(files: &[String]) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    for f in files {
        let mut src = vigil_capture::open(Path::new(f)).expect("capture");
        let mut dec = Decoder::default();
        while let Some(p) = src.next_packet().expect("readable") {
            if let Decoded::Ip { info, payload } = dec.decode(p.linktype, p.ts, p.orig_len, p.data)
            {
                if info.proto == 17 {
                    out.push((
                        SocketAddr::new(info.src.to_ip(), info.sport),
                        payload.to_vec(),
                    ));
                }
            }
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("decode") => {
            let loops: u64 = args[2].parse().unwrap();
            let grams = datagrams(&args[3..]);
            let mut c = Collector::new(&CollectConfig::default());
            let mut out = Vec::with_capacity(1024);
            // warm-up: templates learned, caches hot
            for (from, d) in &grams {
                c.datagram(*from, d, 0, &mut out);
                out.clear();
            }
            let t = Instant::now();
            let mut records = 0u64;
            for _ in 0..loops {
                for (from, d) in &grams {
                    c.datagram(*from, d, 0, &mut out);
                    records += out.len() as u64;
                    out.clear();
                }
            }
            let s = t.elapsed().as_secs_f64();
            let n = loops * grams.len() as u64;
            println!(
                "datagrams {n} records {records} seconds {s:.3} datagrams/s {:.0} records/s {:.0}",
                n as f64 / s,
                records as f64 / s
            );
            let st = c.stats();
            assert_eq!(st.malformed, Default::default(), "{st:?}");
        }
        Some("send") => {
            let to: SocketAddr = args[2].parse().unwrap();
            assert!(to.ip().is_loopback(), "loopback only");
            let loops: u64 = args[3].parse().unwrap();
            let per_sec: f64 = args[4].parse().unwrap();
            let grams = datagrams(&args[5..]);
            let mut c = Collector::new(&CollectConfig::default());
            let mut out = Vec::new();
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            let t = Instant::now();
            let mut n = 0u64;
            for _ in 0..loops {
                for (_, d) in &grams {
                    sock.send_to(d, to).unwrap();
                    c.datagram(sock.local_addr().unwrap(), d, 0, &mut out);
                    n += 1;
                    let due = Duration::from_secs_f64(n as f64 / per_sec);
                    if let Some(w) = due.checked_sub(t.elapsed()) {
                        std::thread::sleep(w);
                    }
                }
            }
            println!(
                "sent datagrams {n} records {} seconds {:.3}",
                out.len(),
                t.elapsed().as_secs_f64()
            );
        }
        Some("recv") => {
            // the collector behind a real socket, as nfcapd: recv + decode
            let addr: SocketAddr = args[2].parse().unwrap();
            assert!(addr.ip().is_loopback(), "loopback only");
            let sock = UdpSocket::bind(addr).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut c = Collector::new(&CollectConfig::default());
            let mut out = Vec::with_capacity(1024);
            let mut buf = vec![0u8; 65536];
            let mut records = 0u64;
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                c.datagram(from, &buf[..n], 0, &mut out);
                records += out.len() as u64;
                out.clear();
            }
            let st = c.stats();
            println!("received datagrams {} records {records}", st.datagrams);
        }
        _ => {
            eprintln!(
                "usage: collect_bench decode LOOPS CAPTURE... | send ADDR LOOPS PER_SEC CAPTURE... | recv ADDR"
            );
            std::process::exit(1);
        }
    }
}
