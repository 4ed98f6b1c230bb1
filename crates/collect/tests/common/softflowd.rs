//! Runs Debian's softflowd on a capture, exporting to a UDP socket the test
//! binds on 127.0.0.1, and returns the datagrams it sent.
//!
//! softflowd 1.1.0 with `-r` blocks in `accept()` on its control socket
//! before reading the file, and stays up after the file ends; so the driver
//! pokes it with `softflowctl statistics` until it exits (at the end of
//! the file it expires and exports every flow); if the packet count stops
//! moving without an exit, `softflowctl shutdown` does the same.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Kills the exporter if the test fails half-way.
struct Guard(Child, PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

fn ctl(sock: &Path, cmd: &str) -> Option<String> {
    let out = Command::new("softflowctl")
        .arg("-c")
        .arg(sock)
        .arg(cmd)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn processed(stats: &str) -> Option<u64> {
    stats
        .lines()
        .find_map(|l| l.strip_prefix("Packets processed: "))
        .and_then(|x| x.trim().parse().ok())
}

/// Exports `capture` with `softflowd -v version extra...`; returns the
/// datagrams (sender, payload) in arrival order.
pub fn export(capture: &Path, version: &str, extra: &[&str]) -> Vec<(SocketAddr, Vec<u8>)> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // a flood's flows leave softflowd in one burst at the end: a receive
    // buffer of 32 MiB (under Linux's default rmem_max of 64 MiB here) keeps
    // the kernel from dropping datagrams the test would then miss
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    sock.set_recv_buffer_size(32 << 20).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let rx = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut idle_since: Option<Instant> = None;
            loop {
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        got.push((from, buf[..n].to_vec()));
                        idle_since = None;
                    }
                    Err(_) => {
                        if stop.load(Ordering::Relaxed) {
                            // the exporter exited: drain for 300 ms of silence
                            let t = *idle_since.get_or_insert_with(Instant::now);
                            if t.elapsed() > Duration::from_millis(300) {
                                return got;
                            }
                        }
                    }
                }
            }
        })
    };
    let dir = std::env::temp_dir();
    let ctl_path = dir.join(format!("vigil-a-sfd-{}-{n}.ctl", std::process::id()));
    let pid_path = dir.join(format!("vigil-a-sfd-{}-{n}.pid", std::process::id()));
    let _ = std::fs::remove_file(&ctl_path);
    let child = Command::new("softflowd")
        .arg("-r")
        .arg(capture)
        .args([
            "-n",
            &format!("127.0.0.1:{port}"),
            "-v",
            version,
            "-d",
            "-a",
        ])
        .arg("-c")
        .arg(&ctl_path)
        .arg("-p")
        .arg(&pid_path)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("softflowd runs (apt-get install softflowd)");
    let mut guard = Guard(child, pid_path);
    let t0 = Instant::now();
    let mut last = None;
    let mut stable = 0;
    while guard.0.try_wait().unwrap().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "softflowd did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
        // each control command lets the read loop go on; at the end of the
        // file softflowd exports everything and exits by itself
        let p = ctl(&ctl_path, "statistics").as_deref().and_then(processed);
        if p.is_some() && p == last {
            stable += 1;
            if stable >= 5 {
                ctl(&ctl_path, "shutdown");
            }
        }
        last = p;
    }
    let _ = std::fs::remove_file(&ctl_path);
    stop.store(true, Ordering::Relaxed);
    rx.join().unwrap()
}
