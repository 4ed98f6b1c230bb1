//! `vigil run` end to end, against the real kernel: every test builds its own
//! network namespaces (a veth pair between a "sensor" and a "wire" namespace,
//! or a lone namespace for loopback collectors), runs the `vigil` binary in
//! one of them, and deletes them on the way out (a Drop guard, also when an
//! assertion fails). Traffic never leaves those namespaces. Needs root, ip,
//! tcpreplay, softflowd and python3 (for HTTP GETs inside the namespace);
//! skips with a printed reason when not root.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Skips (prints why) unless root with the tools.
fn ready(tools: &[&str]) -> bool {
    if !is_root() {
        eprintln!("skipped: needs root (network namespaces, AF_PACKET)");
        return false;
    }
    for t in tools {
        assert!(have(t), "{t} is missing: scripts/test.sh installs it");
    }
    true
}

fn sh(args: &[&str]) {
    let st = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(st.success(), "{args:?} failed");
}

/// Namespaces and the veth between them; deleted on drop.
struct Net {
    sensor: String,
    wire: String,
    /// Interface in `sensor` (vigil captures here).
    cap_if: String,
    /// Interface in `wire` (tcpreplay sends here).
    send_if: String,
}

impl Net {
    /// A veth pair between two fresh namespaces, IPv6 off (no router
    /// solicitations or DAD in the capture), links up, no addresses.
    fn veth(tag: &str) -> Net {
        let id = format!("{}{}", std::process::id() % 100_000, tag);
        let n = Net {
            sensor: format!("vgc-{id}-s"),
            wire: format!("vgc-{id}-w"),
            cap_if: format!("vgc{id}s"),
            send_if: format!("vgc{id}w"),
        };
        for ns in [&n.sensor, &n.wire] {
            sh(&["ip", "netns", "add", ns]);
            for k in ["all", "default"] {
                sh(&[
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
                ]);
            }
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&[
            "ip", "link", "add", &n.cap_if, "netns", &n.sensor, "type", "veth", "peer", "name",
            &n.send_if, "netns", &n.wire,
        ]);
        // captures hold frames up to 9 KB (offloaded segments): let them pass
        sh(&[
            "ip", "-n", &n.sensor, "link", "set", &n.cap_if, "mtu", "9000", "up",
        ]);
        sh(&[
            "ip", "-n", &n.wire, "link", "set", &n.send_if, "mtu", "9000", "up",
        ]);
        n
    }

    /// One namespace with only loopback (collectors).
    fn lone(tag: &str) -> Net {
        let ns = format!("vgc-{}{}-l", std::process::id() % 100_000, tag);
        sh(&["ip", "netns", "add", &ns]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        Net {
            sensor: ns,
            wire: String::new(),
            cap_if: String::new(),
            send_if: String::new(),
        }
    }

    fn replay(&self, pcap: &Path, extra: &[&str]) {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.wire,
                "tcpreplay",
                "-q",
                "-i",
                &self.send_if,
            ])
            .args(extra)
            .arg(pcap)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tcpreplay: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An HTTP GET from inside the sensor namespace: (status, body).
    fn get(&self, addr: &str, path: &str) -> (u16, String) {
        let py = format!(
            "import urllib.request,urllib.error,sys\n\
             try:\n r=urllib.request.urlopen('http://{addr}{path}',timeout=5); print(r.status); sys.stdout.write(r.read().decode())\n\
             except urllib.error.HTTPError as e:\n print(e.code); sys.stdout.write(e.read().decode())\n"
        );
        let out = Command::new("ip")
            .args(["netns", "exec", &self.sensor, "python3", "-c", &py])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (code, body) = text.split_once('\n').unwrap_or(("0", ""));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Polls `/metrics` until `ok` holds on it (at most 15 s: the machine
    /// may be busy); returns the last text either way.
    fn metrics_until(&self, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let (_, m) = self.get("127.0.0.1:9110", "/metrics");
            if ok(&m) || t.elapsed() > Duration::from_secs(15) {
                return m;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn vigil(&self, config: &Path) -> Vigil {
        let log = config.with_extension("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.sensor, VIGIL, "run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Vigil { child, log }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.sensor, &self.wire] {
            if !ns.is_empty() {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }
}

/// A running `vigil run`; killed on drop if still alive.
struct Vigil {
    child: Child,
    log: PathBuf,
}

impl Vigil {
    fn signal(&self, sig: &str) {
        // `ip netns exec` execs vigil, so the child pid is vigil's
        sh(&["kill", &format!("-{sig}"), &self.child.id().to_string()]);
    }

    /// Waits until the log says the sensor runs.
    fn wait_started(&self) {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .contains("vigil run started")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("vigil did not start: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM; returns how long the exit took and the exit status.
    fn stop(mut self) -> (Duration, std::process::ExitStatus) {
        let t = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (t.elapsed(), st);
            }
            if t.elapsed() > Duration::from_secs(10) {
                panic!("vigil ignored SIGTERM: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Vigil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory, removed when the test passes (kept for a look
/// when it fails).
struct Tmp(PathBuf);

impl std::ops::Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Tmp {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn tmpdir(tag: &str) -> Tmp {
    let d = std::env::temp_dir().join(format!("vigil-live-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Tmp(d)
}

fn events(paths: &[PathBuf]) -> Vec<Value> {
    let mut v = Vec::new();
    for p in paths {
        for l in std::fs::read_to_string(p).unwrap_or_default().lines() {
            v.push(
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: bad line {l}: {e}", p.display())),
            );
        }
    }
    v
}

type AlertKey = (String, String, String);

fn alert_set(ev: &[Value]) -> BTreeSet<AlertKey> {
    ev.iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            (
                e["alert"]["category"].as_str().unwrap_or("").to_string(),
                e["src_ip"].as_str().unwrap_or("").to_string(),
                e["dest_ip"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn analyze(pcap: &Path, config: &Path, dir: &Path) -> Vec<Value> {
    let eve = dir.join(format!(
        "analyze-{}.json",
        pcap.file_name().unwrap().to_string_lossy()
    ));
    let st = Command::new(VIGIL)
        .args(["analyze", "-q", "--no-progress", "--config"])
        .arg(config)
        .arg("--eve")
        .arg(&eve)
        .arg(pcap)
        .status()
        .unwrap();
    assert!(st.success());
    events(&[eve])
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn last_stats(ev: &[Value]) -> &Value {
    ev.iter()
        .rev()
        .find(|e| e["event_type"] == "stats")
        .expect("a stats event")
}

/// tcpreplay two corpus captures into the veth; vigil run (two fanout
/// workers) must raise the alerts `vigil analyze` raises on the same files,
/// with no kernel drop, answer /metrics and /healthz, and exit within 2 s of
/// SIGTERM having written everything.
#[test]
fn live_af_packet_alerts_match_analyze() {
    if !ready(&["ip", "tcpreplay", "python3"]) {
        return;
    }
    let dir = tmpdir("match");
    let net = Net::veth("m");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"192.168.0.0/16\", \"147.32.80.0/24\"]\n\
             [run]\neve = \"{}\"\nstore = \"{}\"\nevidence = \"{}\"\nmetrics = \"127.0.0.1:9110\"\nstats_interval_secs = 1\n\
             [[run.af_packet]]\ninterface = \"{}\"\nworkers = 2\nblock_size = \"256KiB\"\nblock_count = 16\n",
            dir.join("eve.json").display(),
            dir.join("vigil.db").display(),
            dir.join("evidence.jsonl").display(),
            net.cap_if
        ),
    )
    .unwrap();
    let pcaps = [
        PathBuf::from(CORPUS).join("scan/zeek_nmap-vsn.pcap"),
        PathBuf::from(CORPUS).join("bruteforce/slips_malicious-ssh-bruteforce.pcap"),
    ];
    let v = net.vigil(&cfg);
    v.wait_started();
    for p in &pcaps {
        // original timing (13 s of ssh brute force, 2.4 s of scan)
        net.replay(p, &[]);
    }
    let expected_pkts: u64 = pcaps
        .iter()
        .map(|p| {
            last_stats(&analyze(p, &cfg, &dir))["stats"]["capture"]["packets"]
                .as_u64()
                .unwrap()
        })
        .sum();
    let m = net.metrics_until(|m| {
        metric(m, "vigil_packets_total") as u64 >= expected_pkts
            && metric(m, "vigil_alerts_total") >= 2.0
    });
    let (code, health) = net.get("127.0.0.1:9110", "/healthz");
    assert_eq!((code, health.trim()), (200, "ok"));
    assert_eq!(
        metric(&m, "vigil_packets_total") as u64,
        expected_pkts,
        "every replayed frame captured:\n{m}"
    );
    assert_eq!(metric(&m, "vigil_kernel_drops"), 0.0, "{m}");
    assert!(metric(&m, "vigil_alerts_total") >= 2.0, "{m}");
    assert!(m.contains("vigil_flow_memory_bytes"), "{m}");
    // two workers, 256 KiB x 16 blocks each
    assert_eq!(
        metric(&m, "vigil_ring_memory_bytes"),
        2.0 * 256.0 * 1024.0 * 16.0,
        "{m}"
    );
    let (took, st) = v.stop();
    assert!(st.success(), "exit status {st}");
    assert!(took < Duration::from_secs(2), "SIGTERM exit took {took:?}");

    let live = events(&[dir.join("eve.json")]);
    let mut want = BTreeSet::new();
    for p in &pcaps {
        want.extend(alert_set(&analyze(p, &cfg, &dir)));
    }
    assert!(!want.is_empty());
    assert_eq!(alert_set(&live), want, "live alerts differ from analyze");
    let s = &last_stats(&live)["stats"];
    let rings = s["capture"]["rings"].as_array().unwrap();
    assert_eq!(rings.len(), 2);
    let kp: u64 = rings.iter().map(|r| r["packets"].as_u64().unwrap()).sum();
    let kd: u64 = rings.iter().map(|r| r["drops"].as_u64().unwrap()).sum();
    assert_eq!(kp, expected_pkts, "kernel counted every frame: {s}");
    assert_eq!(kd, 0);
    // flows were ended and written at shutdown
    let flows = live.iter().filter(|e| e["event_type"] == "flow").count();
    assert!(flows > 10, "{flows} flows");
    // periodic stats events while running, and the final one
    let stats = live.iter().filter(|e| e["event_type"] == "stats").count();
    assert!(
        stats >= 3,
        "{stats} stats events (one a second, plus the last)"
    );
    // the evidence log holds every alert and incident and verifies
    let written = live
        .iter()
        .filter(|e| e["event_type"] == "alert" || e["event_type"] == "incident")
        .count();
    let ev_log = std::fs::read_to_string(dir.join("evidence.jsonl")).unwrap();
    assert_eq!(ev_log.lines().count(), written);
    let vf = Command::new(VIGIL)
        .arg("verify")
        .arg(dir.join("evidence.jsonl"))
        .output()
        .unwrap();
    assert!(
        vf.status.success(),
        "{}",
        String::from_utf8_lossy(&vf.stderr)
    );
    // and the store holds the run's alerts
    let q = Command::new(VIGIL)
        .args(["query", "alerts", "--store"])
        .arg(dir.join("vigil.db"))
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let table = String::from_utf8_lossy(&q.stdout);
    for (cat, src, _) in &want {
        assert!(
            table.contains(cat.as_str()) && table.contains(src.as_str()),
            "store lacks {cat} {src}:\n{table}"
        );
    }
}

/// SIGHUP reloads thresholds into the running detectors and keeps their
/// and the flow table's state; it also reopens EVE (logrotate), and EVE
/// rotates by size.
#[test]
fn live_sighup_reload_keeps_state_and_eve_rotates() {
    if !ready(&["ip", "tcpreplay", "python3"]) {
        return;
    }
    let dir = tmpdir("hup");
    let net = Net::veth("h");
    let cfg = dir.join("vigil.toml");
    let eve = dir.join("eve.json");
    let write_cfg = |scan: &str| {
        std::fs::write(
            &cfg,
            format!(
                "home_net = [\"192.168.0.0/16\"]\n{scan}\
                 [run]\neve = \"{}\"\neve_max_size = \"8KiB\"\neve_keep = 50\nmetrics = \"127.0.0.1:9110\"\nstats_interval_secs = 0\n\
                 [[run.af_packet]]\ninterface = \"{}\"\nblock_size = \"64KiB\"\nblock_count = 8\n",
                eve.display(),
                net.cap_if
            ),
        )
        .unwrap()
    };
    write_cfg(
        "[detect.scan]\nmin_failed_targets = 1e9\nmin_spread = 1e9\nicmp_min_hosts = 1e9\narp_min_targets = 1e9\n",
    );
    let pcap = PathBuf::from(CORPUS).join("scan/zeek_nmap-vsn.pcap");
    let v = net.vigil(&cfg);
    v.wait_started();
    net.replay(&pcap, &["--topspeed"]);
    net.metrics_until(|m| metric(m, "vigil_packets_total") >= 547.0);
    // gauges are published once a second: wait until one is settled
    let settled = || {
        let mut last = -1.0;
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(1100));
            let (_, m) = net.get("127.0.0.1:9110", "/metrics");
            let a = metric(&m, "vigil_flows_active");
            if a == last {
                return m;
            }
            last = a;
        }
        panic!("vigil_flows_active never settled");
    };
    let m1 = settled();
    assert_eq!(
        metric(&m1, "vigil_alerts_total"),
        0.0,
        "thresholds too high to alert:\n{m1}"
    );
    let active = metric(&m1, "vigil_flows_active");
    assert!(active > 0.0, "{m1}");

    // default thresholds; logrotate moves the file away first
    write_cfg("");
    std::fs::rename(&eve, dir.join("moved.json")).unwrap();
    v.signal("HUP");
    net.metrics_until(|m| metric(m, "vigil_reloads_total") >= 1.0);
    let m2 = settled();
    assert_eq!(metric(&m2, "vigil_reloads_total"), 1.0, "{}", v.log_text());
    assert_eq!(
        metric(&m2, "vigil_flows_active"),
        active,
        "flows kept across reload"
    );
    net.replay(&pcap, &["--topspeed"]);
    net.metrics_until(|m| metric(m, "vigil_packets_total") >= 2.0 * 547.0);
    let (took, st) = v.stop();
    assert!(
        st.success() && took < Duration::from_secs(2),
        "{st} {took:?}"
    );

    // EVE: reopened at the path, then rotated by size; no line split
    let mut files = vec![dir.join("moved.json")];
    let mut n = 50;
    while n > 0 {
        let p = PathBuf::from(format!("{}.{n}", eve.display()));
        if p.exists() {
            files.push(p);
        }
        n -= 1;
    }
    files.push(eve.clone());
    assert!(files.len() >= 4, "rotation happened: {files:?}");
    for f in &files[1..] {
        assert!(
            std::fs::metadata(f).unwrap().len() <= 8192,
            "{} too big",
            f.display()
        );
    }
    let ev = events(&files);
    let alerts = alert_set(&ev);
    assert!(
        alerts
            .iter()
            .any(|(c, s, _)| c == "scan" && s == "192.168.1.71"),
        "new threshold applied after SIGHUP: {alerts:?}"
    );
    // state kept: flows of the first replay go on with the second one's
    // packets (one record with both halves)
    let want = analyze(&pcap, &cfg, &dir);
    let key = |e: &Value| {
        format!(
            "{} {} {} {} {}",
            e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"], e["proto"]
        )
    };
    let single: HashMap<String, u64> = want
        .iter()
        .filter(|e| e["event_type"] == "flow")
        .map(|e| (key(e), e["flow"]["pkts_toserver"].as_u64().unwrap()))
        .collect();
    let doubled = ev
        .iter()
        .filter(|e| e["event_type"] == "flow")
        .filter(|e| {
            single
                .get(&key(e))
                .is_some_and(|&p| e["flow"]["pkts_toserver"].as_u64() == Some(2 * p))
        })
        .count();
    assert!(
        doubled > 0,
        "no flow carried packets from both sides of the reload"
    );
}

/// UDP payloads of a capture (flow-export datagrams), decoded with vigil's
/// own reader and decoder.
fn udp_payloads(pcap: &Path) -> Vec<Vec<u8>> {
    let mut src = vigil_capture::open(pcap).unwrap();
    let mut dec = vigil_wire::Decoder::new(vigil_wire::DecoderConfig::default());
    let mut out = Vec::new();
    while let Ok(Some(p)) = src.next_packet() {
        if let vigil_wire::Decoded::Ip { info, payload } =
            dec.decode(p.linktype, p.ts, p.orig_len, p.data)
        {
            if info.proto == 17 && !payload.is_empty() {
                out.push(payload.to_vec());
            }
        }
    }
    out
}

/// softflowd exports NetFlow v9 over loopback to vigil's netflow source, and
/// the corpus' flow-export captures are replayed as datagrams to the netflow
/// and sflow sources: their records come out as EVE flows, and /metrics
/// counts datagrams and records.
#[test]
fn live_collectors_softflowd_and_corpus() {
    if !ready(&["ip", "softflowd", "python3"]) {
        return;
    }
    let dir = tmpdir("col");
    let net = Net::lone("c");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"192.168.0.0/16\"]\n[run]\neve = \"{}\"\nmetrics = \"127.0.0.1:9110\"\nstats_interval_secs = 0\nlog_format = \"json\"\n\
             [[run.netflow]]\nbind = \"127.0.0.1:2055\"\n[[run.sflow]]\nbind = \"127.0.0.1:6343\"\n",
            dir.join("eve.json").display()
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    // softflowd reads a capture and exports every flow at its end: once as
    // NetFlow v9, once as IPFIX (a different scan capture each, so the two
    // exports can be told apart in EVE)
    for (file, version) in [
        ("scan/zeek_nmap-vsn.pcap", "9"),
        ("bruteforce/zeek_ftp_bruteforce.pcap", "10"),
    ] {
        let out = Command::new("ip")
            .args(["netns", "exec", &net.sensor, "softflowd", "-r"])
            .arg(PathBuf::from(CORPUS).join(file))
            .args(["-n", "127.0.0.1:2055", "-v", version, "-d"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "softflowd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // corpus datagrams, sent from inside the namespace (loopback only)
    let mut sent = 0;
    let send = |port: u16, files: &[&str]| -> usize {
        let mut script =
            String::from("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n");
        let mut n = 0;
        for f in files {
            for d in udp_payloads(&PathBuf::from(CORPUS).join("flowexport").join(f)) {
                script.push_str(&format!(
                    "s.sendto(bytes.fromhex('{}'),('127.0.0.1',{port}))\n",
                    hex(&d)
                ));
                n += 1;
            }
        }
        let mut child = Command::new("ip")
            .args(["netns", "exec", &net.sensor, "python3", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        n
    };
    sent += send(
        2055,
        &[
            "akvorado_nfv5.pcap",
            "akvorado_nfv9_data+templates.pcap",
            "akvorado_ipfixprobe_templates+data.pcap",
        ],
    );
    sent += send(6343, &["akvorado_sflow_data-1140.pcap"]);
    // malformed datagrams: counted, skipped, the sensor lives on
    let mut junk = Command::new("ip")
        .args(["netns", "exec", &net.sensor, "python3", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    junk.stdin
        .take()
        .unwrap()
        .write_all(
            b"import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
              s.sendto(b'\\x00\\x05\\x00\\x30'+b'\\xff'*20,('127.0.0.1',2055))\n\
              s.sendto(b'\\x00\\x0a\\xff\\xff'+b'\\x00'*12,('127.0.0.1',2055))\n\
              s.sendto(b'\\x00\\x00\\x00\\x05'+b'\\x01'*8,('127.0.0.1',6343))\n",
        )
        .unwrap();
    assert!(junk.wait().unwrap().success());
    sent += 3;
    assert!(sent >= 4);
    let m = net.metrics_until(|m| {
        metric(m, "vigil_collector_datagrams_total") >= sent as f64 + 1.0
            && metric(m, "vigil_collector_malformed_total") >= 3.0
    });
    let dg = metric(&m, "vigil_collector_datagrams_total");
    assert!(
        dg >= sent as f64 + 1.0,
        "datagrams counted ({sent} sent + softflowd):\n{m}"
    );
    assert!(
        m.contains("vigil_collector_socket_drops{"),
        "socket drops reported:\n{m}"
    );
    assert_eq!(metric(&m, "vigil_collector_socket_drops"), 0.0, "{m}");
    assert!(
        metric(&m, "vigil_collector_malformed_total") >= 3.0,
        "malformed datagrams counted:\n{m}"
    );
    let recs = metric(&m, "vigil_collector_records_total");
    assert!(recs > 0.0, "records decoded:\n{m}");
    let (took, st) = v.stop();
    assert!(st.success() && took < Duration::from_secs(2));
    let ev = events(&[dir.join("eve.json")]);
    let flows: Vec<&Value> = ev.iter().filter(|e| e["event_type"] == "flow").collect();
    assert_eq!(flows.len() as f64, recs, "every record is an EVE flow");
    // structured logs: one JSON object per line, with level and message
    let log = dir.join("vigil.log");
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l}: {e}")))
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "collector source"));
    // softflowd's v9 flows of the scan capture (its scanner) and IPFIX
    // flows of the FTP capture (its client) are there
    for host in ["192.168.1.71", "192.168.56.1"] {
        assert!(
            flows
                .iter()
                .any(|f| f["src_ip"] == host || f["dest_ip"] == host),
            "softflowd's records of {host} reached EVE"
        );
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Flow-derived alerts match packet-derived ones: softflowd exports a
/// generated UDP flood as NetFlow v9 to `vigil run`, whose dos alert names
/// the same victim as `vigil analyze` on the packets.
#[test]
fn live_netflow_flood_alert_matches_packet_path() {
    if !ready(&["ip", "softflowd"]) {
        return;
    }
    let dir = tmpdir("nfdos");
    let st = Command::new(VIGIL)
        .args(["sim", "udp-flood", "--seed", "1", "--scale", "0.5", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pcap = dir.join("udp-flood.pcap");
    let net = Net::lone("f");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"192.168.0.0/16\", \"203.0.113.0/24\"]\n[run]\neve = \"{}\"\nstats_interval_secs = 0\n\
             [[run.netflow]]\nbind = \"127.0.0.1:2055\"\n",
            dir.join("eve.json").display()
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    let out = Command::new("ip")
        .args(["netns", "exec", &net.sensor, "softflowd", "-r"])
        .arg(&pcap)
        .args(["-n", "127.0.0.1:2055", "-v", "9", "-d"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(700));
    let (took, st) = v.stop();
    assert!(st.success() && took < Duration::from_secs(2));
    let live = events(&[dir.join("eve.json")]);
    let packet_path = analyze(&pcap, &cfg, &dir);
    let victims = |ev: &[Value]| -> BTreeSet<String> {
        alert_set(ev)
            .into_iter()
            .filter(|(c, _, _)| c == "dos")
            .map(|(_, _, d)| d)
            .collect()
    };
    let want = victims(&packet_path);
    assert!(!want.is_empty(), "the packet path alerts");
    assert_eq!(
        victims(&live),
        want,
        "flow-derived dos alerts name the same victim"
    );
}

/// SIGTERM while a flood is still arriving at full speed: vigil stops its
/// sources, ends every flow, writes the final stats and exits within 2 s.
#[test]
fn live_sigterm_under_load_exits_within_2s() {
    if !ready(&["ip", "tcpreplay"]) {
        return;
    }
    let dir = tmpdir("term");
    let st = Command::new(VIGIL)
        .args(["sim", "syn-flood", "--seed", "2", "--scale", "0.5", "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let net = Net::veth("t");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"10.0.0.0/8\", \"198.51.100.0/24\"]\n[run]\neve = \"{}\"\nstats_interval_secs = 0\n\
             [[run.af_packet]]\ninterface = \"{}\"\nworkers = 2\n",
            dir.join("eve.json").display(),
            net.cap_if
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    let mut replay = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.wire,
            "tcpreplay",
            "-q",
            "--topspeed",
            "--loop=50",
            "-i",
            &net.send_if,
        ])
        .arg(dir.join("syn-flood.pcap"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (took, st) = v.stop();
    let _ = replay.kill();
    let _ = replay.wait();
    assert!(st.success(), "{st}");
    eprintln!("SIGTERM under load: exited after {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "SIGTERM under load took {took:?}"
    );
    let ev = events(&[dir.join("eve.json")]);
    let s = &last_stats(&ev)["stats"];
    let got: u64 = s["capture"]["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["packets"].as_u64().unwrap())
        .sum();
    assert!(got > 10_000, "it was busy: {s}");
    assert!(ev
        .iter()
        .any(|e| e["event_type"] == "flow_aggregate" || e["event_type"] == "flow"));
    assert!(
        ev.iter()
            .any(|e| e["event_type"] == "alert" && e["alert"]["category"] == "dos"),
        "the flood was seen"
    );
}

/// The captured interface disappears: the worker stops with an error in the
/// log, /healthz turns 503 and counts it while the other source (a
/// collector) goes on, and SIGTERM still flushes and exits in time, with
/// status 1 (the run lost a source).
#[test]
fn live_interface_gone_turns_healthz_503() {
    if !ready(&["ip", "python3"]) {
        return;
    }
    let dir = tmpdir("gone");
    let net = Net::veth("g");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"10.0.0.0/8\"]\n[run]\neve = \"{}\"\nmetrics = \"127.0.0.1:9110\"\n\
             [[run.af_packet]]\ninterface = \"{}\"\n[[run.netflow]]\nbind = \"127.0.0.1:2055\"\n",
            dir.join("eve.json").display(),
            net.cap_if
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    assert_eq!(net.get("127.0.0.1:9110", "/healthz").0, 200);
    sh(&["ip", "-n", &net.sensor, "link", "del", &net.cap_if]);
    let t = Instant::now();
    let mut health = (0, String::new());
    while t.elapsed() < Duration::from_secs(5) {
        health = net.get("127.0.0.1:9110", "/healthz");
        if health.0 == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(health.0, 503, "{health:?}\n{}", v.log_text());
    assert!(health.1.contains("stopped"), "{health:?}");
    let (_, m) = net.get("127.0.0.1:9110", "/metrics");
    assert_eq!(metric(&m, "vigil_sources_failed"), 1.0, "{m}");
    assert!(v.log_text().contains("capture failed"), "{}", v.log_text());
    let log = v.log.clone();
    let (took, st) = v.stop();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert_eq!(st.code(), Some(1), "{log}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let ev = events(&[dir.join("eve.json")]);
    assert!(
        ev.iter().any(|e| e["event_type"] == "stats"),
        "final stats written"
    );
}

/// A pcap of `n` 802.1Q-tagged (VLAN `vid`) UDP frames 10.1.1.1:4000 →
/// 10.1.1.2:5000, 1 ms apart.
fn vlan_pcap(path: &Path, vid: u16, n: u32) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..n {
        let payload = [0x5au8; 32];
        let mut fr = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x81, 0x00];
        fr.extend_from_slice(&vid.to_be_bytes());
        fr.extend_from_slice(&[0x08, 0x00]);
        let ip_len = 20 + 8 + payload.len() as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&ip_len.to_be_bytes());
        ip.extend_from_slice(&(i as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 64, 17, 0, 0, 10, 1, 1, 1, 10, 1, 1, 2]);
        let sum = ip
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
            .sum::<u32>();
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        fr.extend_from_slice(&ip);
        fr.extend_from_slice(&4000u16.to_be_bytes());
        fr.extend_from_slice(&5000u16.to_be_bytes());
        fr.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        fr.extend_from_slice(&[0, 0]);
        fr.extend_from_slice(&payload);
        f.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        f.extend_from_slice(&(i * 1000).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(&fr);
    }
    std::fs::write(path, f).unwrap();
}

/// The kernel takes a VLAN tag out of the frame before AF_PACKET sees it;
/// the ring puts it back, so live flows carry the VLAN (and the wire length)
/// exactly as `vigil analyze` reads them from the file.
#[test]
fn live_vlan_tag_restored() {
    if !ready(&["ip", "tcpreplay"]) {
        return;
    }
    let dir = tmpdir("vlan");
    let pcap = dir.join("vlan.pcap");
    vlan_pcap(&pcap, 42, 20);
    let net = Net::veth("v");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"10.0.0.0/8\"]\n[run]\neve = \"{}\"\nstats_interval_secs = 0\n\
             [[run.af_packet]]\ninterface = \"{}\"\n",
            dir.join("eve.json").display(),
            net.cap_if
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    net.replay(&pcap, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let (_, st) = v.stop();
    assert!(st.success());
    let flow = |ev: &[Value]| -> Vec<(String, u64, u64)> {
        ev.iter()
            .filter(|e| e["event_type"] == "flow")
            .map(|e| {
                (
                    e["vlan"].to_string(),
                    e["flow"]["pkts_toserver"].as_u64().unwrap(),
                    e["flow"]["bytes_toserver"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let want = flow(&analyze(&pcap, &cfg, &dir));
    assert_eq!(want, vec![("[42]".to_string(), 20, 20 * 78)]);
    assert_eq!(flow(&events(&[dir.join("eve.json")])), want);
}

/// On a quiet link flows still time out: after the last packet, with no
/// more traffic, the flow's record (reason "timeout") reaches EVE while the
/// sensor runs, not only at shutdown.
#[test]
fn live_idle_flow_times_out_without_traffic() {
    if !ready(&["ip", "tcpreplay"]) {
        return;
    }
    let dir = tmpdir("idle");
    let pcap = dir.join("vlan.pcap");
    vlan_pcap(&pcap, 7, 5);
    let net = Net::veth("i");
    let cfg = dir.join("vigil.toml");
    let eve = dir.join("eve.json");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"10.0.0.0/8\"]\n[flow.timeouts]\nudp_new = 1\nudp_established = 1\n\
             [run]\neve = \"{}\"\nstats_interval_secs = 0\n[[run.af_packet]]\ninterface = \"{}\"\n",
            eve.display(),
            net.cap_if
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    net.replay(&pcap, &[]);
    let t = Instant::now();
    let mut flows = Vec::new();
    while t.elapsed() < Duration::from_secs(10) && flows.is_empty() {
        std::thread::sleep(Duration::from_millis(250));
        flows = events(&[eve.to_path_buf()])
            .into_iter()
            .filter(|e| e["event_type"] == "flow")
            .collect();
    }
    eprintln!("idle flow written {:?} after the replay", t.elapsed());
    assert_eq!(flows.len(), 1, "the idle flow was written while running");
    assert_eq!(flows[0]["flow"]["reason"], "timeout");
    assert_eq!(flows[0]["flow"]["pkts_toserver"], 5);
    let (_, st) = v.stop();
    assert!(st.success());
}

/// Fragmented traffic over two fanout workers: every fragment frame is
/// captured and counted as on the wire (no kernel reassembly), each
/// datagram is reassembled by the worker its fragments reach, and the
/// alerts are those of `vigil analyze` on the file.
#[test]
fn live_fragments_over_fanout_match_analyze() {
    if !ready(&["ip", "tcpreplay"]) {
        return;
    }
    let dir = tmpdir("frag");
    let st = Command::new(VIGIL)
        .args([
            "sim",
            "dns-amplification",
            "--seed",
            "1",
            "--scale",
            "0.3",
            "--out",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pcap = dir.join("dns-amplification.pcap");
    let net = Net::veth("a");
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "home_net = [\"10.0.0.0/8\", \"198.51.100.0/24\"]\n[run]\neve = \"{}\"\nstats_interval_secs = 0\n\
             [[run.af_packet]]\ninterface = \"{}\"\nworkers = 2\n",
            dir.join("eve.json").display(),
            net.cap_if
        ),
    )
    .unwrap();
    let v = net.vigil(&cfg);
    v.wait_started();
    // the capture spans about a minute: replay it 10x faster
    net.replay(&pcap, &["--multiplier=10"]);
    std::thread::sleep(Duration::from_millis(500));
    let (_, st) = v.stop();
    assert!(st.success());
    let live = events(&[dir.join("eve.json")]);
    let want = analyze(&pcap, &cfg, &dir);
    let wd = &last_stats(&want)["stats"]["decoder"]["counters"];
    assert!(
        wd["frag_frames"].as_u64().unwrap() > 100,
        "the capture is fragmented: {wd}"
    );
    let rings = &last_stats(&live)["stats"]["capture"]["rings"];
    let got: u64 = rings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(
        got,
        last_stats(&want)["stats"]["capture"]["packets"]
            .as_u64()
            .unwrap(),
        "every frame"
    );
    assert_eq!(
        last_stats(&live)["stats"]["flow"]["packets"],
        last_stats(&want)["stats"]["flow"]["packets"],
        "the flow table counted the same packets"
    );
    let dos = |ev: &[Value]| -> BTreeSet<AlertKey> {
        alert_set(ev)
            .into_iter()
            .filter(|(c, _, _)| c == "dos")
            .collect()
    };
    assert!(!dos(&want).is_empty());
    assert_eq!(dos(&live), dos(&want));
}
