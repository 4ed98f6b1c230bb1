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

    /// Starts a program in a namespace, killed when the lab goes.
    pub fn spawn(&mut self, ns: &str, args: &[&str]) -> usize {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in netns");
        self.children.push(child);
        self.children.len() - 1
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
