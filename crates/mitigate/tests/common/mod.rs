//! Network namespaces for the tests: created with unique names, always
//! deleted (a Drop guard, so also when an assertion fails), and processes
//! started in them killed first.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs a command, panicking with its stderr when it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn ns_sh(ns: &str, args: &[&str]) -> String {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v)
}

#[derive(Default)]
pub struct Lab {
    pub names: Vec<String>,
    pub children: Vec<Child>,
}

impl Lab {
    /// A namespace named `vmb{tag}{pid}` (short: interface names are
    /// derived from it), loopback up.
    pub fn ns(&mut self, tag: &str) -> String {
        let name = format!("vmb{tag}{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &name]);
        self.names.push(name.clone());
        ns_sh(&name, &["ip", "link", "set", "lo", "up"]);
        name
    }

    /// A veth pair between two namespaces with addresses (CIDR).
    pub fn link(&mut self, a: &str, a_if: &str, a_ip: &str, b: &str, b_if: &str, b_ip: &str) {
        sh(&[
            "ip", "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b,
        ]);
        ns_sh(a, &["ip", "addr", "add", a_ip, "dev", a_if]);
        ns_sh(b, &["ip", "addr", "add", b_ip, "dev", b_if]);
        ns_sh(a, &["ip", "link", "set", a_if, "up"]);
        ns_sh(b, &["ip", "link", "set", b_if, "up"]);
    }

    /// attacker ─ router ─ victim: namespaces `{tag}a`, `{tag}r`, `{tag}v`;
    /// attacker `att0` 10.`net`.1.2/24 to router `ra0` .1.1, router `rv0`
    /// 10.`net`.2.1/24 to victim `vic0` .2.2; default routes through the
    /// router, which forwards with reverse-path filtering off (the floods
    /// are spoofed). Returns (attacker, router, victim).
    pub fn router(&mut self, tag: &str, net: u8) -> (String, String, String) {
        let att = self.ns(&format!("{tag}a"));
        let rtr = self.ns(&format!("{tag}r"));
        let vic = self.ns(&format!("{tag}v"));
        let ip = |sub: u8, host: u8| format!("10.{net}.{sub}.{host}");
        self.link(
            &att,
            "att0",
            &format!("{}/24", ip(1, 2)),
            &rtr,
            "ra0",
            &format!("{}/24", ip(1, 1)),
        );
        self.link(
            &rtr,
            "rv0",
            &format!("{}/24", ip(2, 1)),
            &vic,
            "vic0",
            &format!("{}/24", ip(2, 2)),
        );
        ns_sh(&att, &["ip", "route", "add", "default", "via", &ip(1, 1)]);
        ns_sh(&vic, &["ip", "route", "add", "default", "via", &ip(2, 1)]);
        for k in [
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.ra0.rp_filter=0",
        ] {
            ns_sh(&rtr, &["sysctl", "-qw", k]);
        }
        (att, rtr, vic)
    }

    /// Starts a program in a namespace, killed when the lab goes.
    pub fn spawn(&mut self, ns: &str, args: &[&str]) -> usize {
        self.spawn_to(ns, args, None)
    }

    /// The same, its stderr written to `stderr`.
    pub fn spawn_logged(&mut self, ns: &str, args: &[&str], stderr: &std::path::Path) -> usize {
        self.spawn_to(ns, args, Some(stderr))
    }

    fn spawn_to(&mut self, ns: &str, args: &[&str], stderr: Option<&std::path::Path>) -> usize {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(match stderr {
                Some(p) => Stdio::from(std::fs::File::create(p).expect("log file")),
                None => Stdio::null(),
            })
            .spawn()
            .expect("spawn in netns");
        self.children.push(child);
        self.children.len() - 1
    }

    /// SIGTERM, then its exit code (`None`: still running after 10 s).
    pub fn term(&mut self, i: usize) -> Option<i32> {
        let pid = self.children[i].id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_secs(10) {
            if let Ok(Some(st)) = self.children[i].try_wait() {
                return st.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    pub fn kill(&mut self, i: usize) {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Received packets on an interface in a namespace.
pub fn rx_packets(ns: &str, dev: &str) -> u64 {
    let out = ns_sh(ns, &["ip", "-s", "-j", "link", "show", "dev", dev]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j");
    v[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .expect("rx packets")
}

/// Packets per second received over `ms` milliseconds.
pub fn rx_rate(ns: &str, dev: &str, ms: u64) -> f64 {
    let a = rx_packets(ns, dev);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    let b = rx_packets(ns, dev);
    (b - a) as f64 * 1000.0 / ms as f64
}
