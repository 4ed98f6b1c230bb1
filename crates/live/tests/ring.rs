//! The ring against the real kernel: inside a network namespace this test
//! creates (and always deletes), two rings in one fanout group capture UDP
//! datagrams sent over the namespace's loopback. Needs root; skips with a
//! printed reason otherwise.

use std::process::Command;
use std::time::{Duration, Instant};

use vigil_live::{Ring, RingConfig};

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn fanout_rings_capture_loopback_in_netns() {
    if std::env::var_os("VIGIL_LIVE_INNER").is_some() {
        return inner();
    }
    if !is_root() {
        eprintln!("skipped: needs root for network namespaces and AF_PACKET");
        return;
    }
    let ns = Netns(format!("vgc-live-{}", std::process::id()));
    assert!(Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .unwrap()
        .success());
    assert!(Command::new("ip")
        .args(["-n", &ns.0, "link", "set", "lo", "up"])
        .status()
        .unwrap()
        .success());
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(exe)
        .args([
            "--exact",
            "fanout_rings_capture_loopback_in_netns",
            "--nocapture",
        ])
        .env("VIGIL_LIVE_INNER", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inner test failed:\n{text}");
    assert!(text.contains("INNER-OK"), "inner test did not run:\n{text}");
}

const N: usize = 2000;
const PORT: u16 = 47_011;

/// UDP to PORT on IPv4 over Ethernet (lo has a zero Ethernet header).
fn our_flow(d: &[u8]) -> Option<u16> {
    if d.len() < 42 || d[12..14] != [8, 0] || d[23] != 17 {
        return None;
    }
    let ihl = (d[14] & 15) as usize * 4;
    let l4 = 14 + ihl;
    let sport = u16::from_be_bytes([d[l4], d[l4 + 1]]);
    let dport = u16::from_be_bytes([d[l4 + 2], d[l4 + 3]]);
    (dport == PORT).then_some(sport)
}

fn inner() {
    let cfg = RingConfig {
        interface: "lo".into(),
        block_size: 1 << 16,
        block_count: 64,
        block_timeout_ms: 5,
        fanout_group: Some(4242),
        promiscuous: false,
        // lo shows each datagram twice (sent and received): keep one
        outgoing: false,
    };
    let mut rings = [Ring::open(&cfg).unwrap(), Ring::open(&cfg).unwrap()];
    let rx = std::net::UdpSocket::bind(("127.0.0.1", PORT)).unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    // 50 source sockets, 40 datagrams each: 50 flows
    let socks: Vec<_> = (0..50)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for i in 0..N {
        socks[i % 50]
            .send_to(&[i as u8; 100], ("127.0.0.1", PORT))
            .unwrap();
    }
    drop(rx);
    let mut seen = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen[0].len() + seen[1].len() < N && Instant::now() < deadline {
        for (r, s) in rings.iter_mut().zip(seen.iter_mut()) {
            if let Some(mut b) = r.next_block(Duration::from_millis(20)).unwrap() {
                while let Some(p) = b.next() {
                    if let Some(sport) = our_flow(p.data) {
                        assert!(p.ts >= before - 1_000_000_000, "kernel time {}", p.ts);
                        assert_eq!(p.orig_len as usize, 14 + 20 + 8 + 100);
                        s.push(sport);
                    }
                }
            }
        }
    }
    assert_eq!(
        seen[0].len() + seen[1].len(),
        N,
        "every datagram captured once"
    );
    // a flow stays on one ring
    for sp in &seen[0] {
        assert!(
            !seen[1].contains(sp),
            "flow from port {sp} split across rings"
        );
    }
    assert!(
        !seen[0].is_empty() && !seen[1].is_empty(),
        "fanout spread the flows"
    );
    let st: Vec<_> = rings.iter_mut().map(|r| r.stats().unwrap()).collect();
    let pk: u64 = st.iter().map(|s| s.packets).sum();
    assert!(pk >= N as u64, "kernel counted {pk}");
    assert_eq!(st.iter().map(|s| s.drops).sum::<u64>(), 0);
    println!("INNER-OK ring0 {} ring1 {}", seen[0].len(), seen[1].len());
}
