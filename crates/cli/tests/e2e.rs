//! End-to-end tests: the `vigil` binary on real captures, compared with
//! ground truth (tshark's dissection, the corpus notes, the generator's exact
//! counters).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(rel)
}

/// A fresh directory per call: tests run in parallel.
fn tmpdir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("vigil-e2e-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `vigil analyze` and returns (exit code, stderr, EVE events).
fn analyze(captures: &[&Path], extra: &[&str]) -> (i32, String, Vec<Value>) {
    let dir = tmpdir("analyze");
    let eve = dir.join("eve.jsonl");
    let out = vigil()
        .arg("analyze")
        .args(captures)
        .args(["--home-net", "10.0.0.0/8,192.168.0.0/16,172.16.0.0/12"])
        .arg("--eve")
        .arg(&eve)
        .args(extra)
        .output()
        .expect("run vigil");
    let events = std::fs::read_to_string(&eve)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every EVE line is JSON"))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        events,
    )
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == t).collect()
}

fn has_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok()
}

/// Per-conversation totals: (proto, a, b) with a < b as "ip:port" → [frames
/// a→b, bytes a→b, frames b→a, bytes b→a].
type Conv = HashMap<(String, String, String), [u64; 4]>;

fn add(conv: &mut Conv, proto: &str, src: String, dst: String, frames: u64, bytes: u64) {
    let (a, b, fwd) = if src <= dst {
        (src, dst, true)
    } else {
        (dst, src, false)
    };
    let e = conv.entry((proto.to_string(), a, b)).or_default();
    if fwd {
        e[0] += frames;
        e[1] += bytes;
    } else {
        e[2] += frames;
        e[3] += bytes;
    }
}

fn endpoint(ip: &str, port: u64) -> String {
    format!("{ip}|{port}")
}

/// tshark's own per-frame dissection, summed per conversation (exact; its
/// `-z conv` table rounds large byte counts to kB).
fn tshark_convs(cap: &Path) -> Conv {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(cap)
        .args(["-Y", "(tcp or udp) and not icmp and not icmpv6 and not ip.flags.mf == 1 and not ip.frag_offset > 0"])
        .args(["-T", "fields", "-E", "separator=/t"])
        .args(["-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst"])
        .args(["-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport"])
        .output()
        .expect("tshark runs");
    let mut conv = Conv::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 9 || f[1..].iter().any(|x| x.contains(',')) {
            continue; // tunnels (two IP headers) are not compared
        }
        let (src, dst) = if !f[1].is_empty() {
            (f[1], f[2])
        } else {
            (f[3], f[4])
        };
        let (proto, sp, dp) = if !f[5].is_empty() {
            ("TCP", f[5], f[6])
        } else {
            ("UDP", f[7], f[8])
        };
        let (Ok(len), Ok(sp), Ok(dp)) = (f[0].parse(), sp.parse(), dp.parse()) else {
            continue;
        };
        add(
            &mut conv,
            proto,
            endpoint(src, sp),
            endpoint(dst, dp),
            1,
            len,
        );
    }
    conv
}

fn vigil_convs(events: &[Value]) -> Conv {
    let mut conv = Conv::new();
    for e in of_type(events, "flow") {
        let proto = e["proto"].as_str().unwrap();
        if proto != "TCP" && proto != "UDP" {
            continue;
        }
        let c = endpoint(
            e["src_ip"].as_str().unwrap(),
            e["src_port"].as_u64().unwrap(),
        );
        let s = endpoint(
            e["dest_ip"].as_str().unwrap(),
            e["dest_port"].as_u64().unwrap(),
        );
        let f = &e["flow"];
        add(
            &mut conv,
            proto,
            c.clone(),
            s.clone(),
            f["pkts_toserver"].as_u64().unwrap(),
            f["bytes_toserver"].as_u64().unwrap(),
        );
        add(
            &mut conv,
            proto,
            s,
            c,
            f["pkts_toclient"].as_u64().unwrap(),
            f["bytes_toclient"].as_u64().unwrap(),
        );
    }
    conv
}

/// Frame counts per conversation from tshark's `-z conv` tables themselves.
fn tshark_conv_table_frames(cap: &Path) -> HashMap<(String, String, String), u64> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(cap)
        .args(["-q", "-z", "conv,tcp", "-z", "conv,udp"])
        .output()
        .expect("tshark runs");
    let mut map = HashMap::new();
    let mut proto = "";
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("TCP Conversations") {
            proto = "TCP";
        } else if line.starts_with("UDP Conversations") {
            proto = "UDP";
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() > 4 && w[1] == "<->" {
            let split = |s: &str| {
                let (ip, port) = s.rsplit_once(':').unwrap();
                endpoint(
                    ip.trim_matches(|c| c == '[' || c == ']'),
                    port.parse().unwrap(),
                )
            };
            let (a, b) = (split(w[0]), split(w[2]));
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            // total frames: the column after the two per-direction pairs
            let nums: Vec<u64> = w[3..]
                .iter()
                .filter_map(|x| x.replace(',', "").parse().ok())
                .collect();
            *map.entry((proto.to_string(), a, b)).or_default() += nums[0] + nums[2];
        }
    }
    map
}

const GOOD_CAPTURES: &[&str] = &[
    "scan/chrissanders_synscan.pcapng",
    "scan/pcaphunt_hs-tcp_synPingSweepRand.pcapng",
    "scan/pcaphunt_ps-udp.pcap",
    "scan/zeek_nmap-vsn.pcap",
    "bruteforce/slips_malicious-ssh-bruteforce.pcap",
    "bruteforce/zeek_sshguess.pcap",
    "bruteforce/zeek_ftp_bruteforce.pcap",
    "exfil/ndpi_dns-tunnel-iodine.pcap",
    "exfil/ndpi_dns_exfiltration_dnscat2.pcap",
    "exfil/ndpi_icmp-tunnel.pcap",
    "c2/slips_test-cc-capture-1.pcap",
    "c2/chrissanders_cryptowall4_c2.pcapng",
    "c2/zeek_merlinc2_quic.pcapng",
    "c2/ndpi_trickbot.pcap",
    "background/chrissanders_http_espn.pcapng",
    "background/zeek_quic_win11_firefox_google.pcap",
    "flood/lucid_CIC-DDoS-2019-WebDDoS.pcap",
];

#[test]
fn flows_match_tshark_conversations_on_the_corpus() {
    if !has_tshark() {
        panic!("tshark is required for this test (scripts/test.sh installs it)");
    }
    for rel in GOOD_CAPTURES {
        let cap = corpus(rel);
        let (code, stderr, events) = analyze(&[&cap], &[]);
        assert_eq!(code, 0, "{rel}: {stderr}");
        let ours = vigil_convs(&events);
        let theirs = tshark_convs(&cap);
        assert!(!theirs.is_empty() || ours.is_empty(), "{rel}");
        for (k, t) in &theirs {
            let o = ours.get(k).copied().unwrap_or_default();
            assert_eq!(&o, t, "{rel}: conversation {k:?}: vigil {o:?} tshark {t:?}");
        }
        for k in ours.keys() {
            assert!(
                theirs.contains_key(k),
                "{rel}: vigil has {k:?}, tshark does not"
            );
        }
        for (k, frames) in tshark_conv_table_frames(&cap) {
            let o = ours.get(&k).copied().unwrap_or_default();
            assert_eq!(o[0] + o[2], frames, "{rel}: conv table frames of {k:?}");
        }
        let stats = of_type(&events, "stats");
        assert_eq!(stats.len(), 1, "{rel}: one final stats event");
    }
}

#[test]
fn the_upload_under_a_flood_is_one_exact_flow() {
    let dir = tmpdir("flood");
    let cap = vigil_sim::generate(
        "flood-upload",
        &dir,
        &vigil_sim::SimOptions {
            seed: 7,
            scale: 0.5,
        },
    )
    .expect("generate");
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.truth.json", cap.display())).unwrap(),
    )
    .unwrap();
    let want = &truth["flows"][0];
    // A table far smaller than the flood: it must shed the flood, not the upload.
    let (code, stderr, events) = analyze(&[&cap], &["--flow-memory", "1MiB"]);
    assert_eq!(code, 0, "{stderr}");
    let ups: Vec<_> = of_type(&events, "flow")
        .into_iter()
        .filter(|e| {
            e["src_ip"] == want["src_ip"]
                && e["dest_ip"] == want["dest_ip"]
                && e["dest_port"] == want["dest_port"]
        })
        .collect();
    assert_eq!(ups.len(), 1, "the upload is one record");
    for k in [
        "pkts_toserver",
        "pkts_toclient",
        "bytes_toserver",
        "bytes_toclient",
    ] {
        assert_eq!(ups[0]["flow"][k], want[k], "{k}");
    }
    assert_eq!(ups[0]["src_port"], want["src_port"]);
    let stats = &of_type(&events, "stats")[0]["stats"];
    assert!(
        stats["flow"]["flows_shed"].as_u64().unwrap() > 1000,
        "{stats}"
    );
    // nothing silently lost: every IP frame is in a flow record or an aggregate
    let in_flows: u64 = of_type(&events, "flow")
        .iter()
        .map(|e| {
            e["flow"]["pkts_toserver"].as_u64().unwrap()
                + e["flow"]["pkts_toclient"].as_u64().unwrap()
        })
        .sum();
    let in_aggs: u64 = of_type(&events, "flow_aggregate")
        .iter()
        .map(|e| e["flow_aggregate"]["pkts_toserver"].as_u64().unwrap())
        .sum();
    assert_eq!(
        in_flows + in_aggs,
        stats["flow"]["packets"].as_u64().unwrap()
    );
    assert!(
        stats["memory"]["flow_peak"].as_u64().unwrap()
            <= stats["memory"]["flow_bound"].as_u64().unwrap()
    );
}

#[test]
fn corrupt_headers_fail_with_one_line_and_exit_2() {
    let dir = corpus("malformed/file-format");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let (code, stderr, _) = analyze(&[&path], &[]);
        assert_eq!(code, 2, "{}: {stderr}", path.display());
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(stderr.contains(name), "names the file: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        n += 1;
    }
    assert_eq!(n, 7);
}

#[test]
fn bad_packets_are_counted_and_skipped() {
    for (file, kind) in [
        ("tcpdump_ipv4_invalid_hdr_length.pcap", "ipv4"),
        ("suricata-verify_ipv4-truncated.pcap", "ipv4"),
        ("zeek_ip4-trunc.pcap", "ipv4"),
        ("ndpi_fuzz-2006-06-26-2594.pcap", "ipv4"),
        ("ndpi_ip_fragmented_garbage.pcap", "frag"),
        ("tcpdump_heapoverflow-tcp_print.pcap", ""),
    ] {
        let cap = corpus(&format!("malformed/packet/{file}"));
        let (code, stderr, events) = analyze(&[&cap], &[]);
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        let stats = of_type(&events, "stats");
        assert_eq!(stats.len(), 1, "{file}: {stderr}");
        if file.starts_with("tcpdump_heapoverflow") {
            // its link-type field has reserved bits set: readers reject it
            assert!(code == 0 || code == 2, "{file}: {stderr}");
            continue;
        }
        assert_eq!(code, 0, "{file}: {stderr}");
        let ev = &stats[0]["stats"]["decoder"]["event"];
        assert!(ev.get(kind).is_some(), "{file}: anomalies {ev}");
    }
}

#[test]
fn truncated_last_record_warns_and_keeps_results() {
    let src = std::fs::read(corpus("bruteforce/zeek_ftp_bruteforce.pcap")).unwrap();
    let dir = tmpdir("trunc");
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &src[..src.len() - 20]).unwrap();
    let (code, stderr, events) = analyze(&[&cut], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning"), "{stderr}");
    let stats = &of_type(&events, "stats")[0]["stats"];
    assert_eq!(
        stats["capture"]["packets"], 605,
        "606 packets less the cut one"
    );
    assert_eq!(stats["capture"]["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn gzip_and_several_files_merge_by_time() {
    use std::io::Write;
    let a = corpus("bruteforce/zeek_ftp_bruteforce.pcap");
    let b = corpus("bruteforce/zeek_sshguess.pcap");
    let dir = tmpdir("gz");
    let gz = dir.join("ftp.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&a).unwrap()).unwrap();
    enc.finish().unwrap();
    let (c1, e1, plain) = analyze(&[&a], &[]);
    let (c2, e2, zipped) = analyze(&[&gz], &[]);
    assert_eq!((c1, c2), (0, 0), "{e1} {e2}");
    assert_eq!(vigil_convs(&plain), vigil_convs(&zipped));
    let (c3, e3, both) = analyze(&[&gz, &b], &[]);
    assert_eq!(c3, 0, "{e3}");
    let stats = &of_type(&both, "stats")[0]["stats"];
    assert_eq!(stats["capture"]["packets"], 606 + 431);
    let mut merged = vigil_convs(&plain);
    let (_, _, ssh) = analyze(&[&b], &[]);
    merged.extend(vigil_convs(&ssh));
    assert_eq!(vigil_convs(&both), merged);
}

#[test]
fn config_defaults_print_and_unknown_keys_are_rejected() {
    let out = vigil()
        .args(["config", "--print-default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[flow.timeouts]"), "{text}");
    let dir = tmpdir("cfg");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[flow]\nmemroy = \"1G\"\n").unwrap();
    let (code, stderr, _) = analyze(
        &[&corpus("c2/ndpi_trickbot.pcap")],
        &["--config", bad.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("memroy"), "{stderr}");
}

#[test]
fn one_and_two_threads_give_the_same_events() {
    let cap = corpus("c2/slips_test-cc-capture-1.pcap");
    let strip = |ev: Vec<Value>| -> Vec<Value> {
        ev.into_iter()
            .filter(|e| e["event_type"] != "stats")
            .collect()
    };
    let (c1, e1, one) = analyze(&[&cap], &["--threads", "1"]);
    let (c2, e2, two) = analyze(&[&cap], &["--threads", "2"]);
    assert_eq!((c1, c2), (0, 0), "{e1} {e2}");
    let (one, two) = (strip(one), strip(two));
    assert!(one.len() > 290, "{}", one.len());
    assert_eq!(one, two);
}

#[test]
fn per_home_net_overrides_and_no_detect() {
    let cap = corpus("bruteforce/zeek_ftp_bruteforce.pcap");
    let alerts = |ev: &[Value]| of_type(ev, "alert").len();
    let (_, _, base) = analyze(&[&cap], &[]);
    assert!(alerts(&base) >= 1, "the brute force is seen by default");
    let dir = tmpdir("override");
    let cfg = dir.join("o.toml");
    // the override covers the victim's network only: its traffic is judged by it
    std::fs::write(&cfg, "[[detect.overrides]]\nnets = [\"192.168.56.0/24\"]\n[detect.overrides.bruteforce]\nenabled = false\n").unwrap();
    let (code, stderr, over) = analyze(&[&cap], &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(alerts(&over), 0);
    std::fs::write(&cfg, "[[detect.overrides]]\nnets = [\"10.99.0.0/16\"]\n[detect.overrides.bruteforce]\nenabled = false\n").unwrap();
    let (_, _, other) = analyze(&[&cap], &["--config", cfg.to_str().unwrap()]);
    assert_eq!(
        alerts(&other),
        alerts(&base),
        "an override elsewhere changes nothing here"
    );
    let (_, _, none) = analyze(&[&cap], &["--no-detect"]);
    assert_eq!(alerts(&none), 0);
    assert_eq!(of_type(&none, "flow").len(), of_type(&base, "flow").len());
}

/// The point of vigil: the quiet attacks under a flood come out as incidents
/// flagged "under cover of a flood" and ranked above the flood itself.
#[test]
fn incidents_rank_the_quiet_attacks_under_the_flood_first() {
    let dir = tmpdir("incidents");
    let cap = vigil_sim::generate(
        "smokescreen",
        &dir,
        &vigil_sim::SimOptions {
            seed: 3,
            scale: 1.0,
        },
    )
    .unwrap();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.truth.json", cap.display())).unwrap(),
    )
    .unwrap();
    let nets: Vec<&str> = truth["home_nets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    let out = vigil()
        .arg("analyze")
        .arg(&cap)
        .args(["--home-net", &nets.join(","), "-q", "--eve"])
        .arg(dir.join("eve.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let events: Vec<Value> = std::fs::read_to_string(dir.join("eve.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut ranked: Vec<&Value> = of_type(&events, "incident")
        .into_iter()
        .filter(|e| e["incident"]["rank"].is_u64())
        .collect();
    ranked.sort_by_key(|e| e["incident"]["rank"].as_u64());
    assert!(ranked.len() >= 2, "{ranked:?}");
    let is_dos = |e: &&Value| e["incident"]["categories"] == serde_json::json!(["dos"]);
    let flood_rank = ranked
        .iter()
        .position(is_dos)
        .expect("the flood is an incident");
    let quiet: Vec<_> = ranked.iter().filter(|e| !is_dos(e)).collect();
    assert!(!quiet.is_empty());
    for q in &quiet {
        assert_eq!(q["incident"]["under_flood_cover"], true, "{q}");
        assert!(
            q["incident"]["summary"]
                .as_str()
                .unwrap()
                .contains("under cover of"),
            "{q}"
        );
    }
    assert_eq!(
        flood_rank,
        ranked.len() - 1,
        "the flood ranks below every quiet incident"
    );
    // every event of the truth is in some incident's categories
    let cats: Vec<String> = ranked
        .iter()
        .flat_map(|e| {
            e["incident"]["categories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
        })
        .collect();
    for ev in truth["events"].as_array().unwrap() {
        assert!(
            cats.contains(&ev["category"].as_str().unwrap().to_string()),
            "{ev}"
        );
    }
}

/// `--evidence` appends every alert and incident to a hash-chained log;
/// `vigil verify` checks it and names the first record that was changed,
/// removed or cut; a second run continues the same chain.
#[test]
fn evidence_log_verifies_and_names_tampering() {
    let cap = corpus("bruteforce/zeek_ftp_bruteforce.pcap");
    let dir = tmpdir("evidence");
    let log = dir.join("evidence.jsonl");
    let log_arg = log.to_str().unwrap();
    let (code, stderr, events) = analyze(&[&cap], &["--evidence", log_arg]);
    assert_eq!(code, 0, "{stderr}");
    let written = of_type(&events, "alert").len() + of_type(&events, "incident").len();
    let text = std::fs::read_to_string(&log).unwrap();
    let records = text.lines().count();
    let kinds: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let of_kind = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(
        of_kind("alert") + of_kind("incident"),
        written,
        "every alert and incident is in the log"
    );
    // and one hashed pcap excerpt per incident, written beside the log
    let excerpts = std::fs::read_dir(dir.join("evidence.jsonl.excerpts"))
        .unwrap()
        .count();
    assert_eq!(of_kind("excerpt"), excerpts);
    assert_eq!(records, written + excerpts);
    let verify = |p: &Path| vigil().arg("verify").arg(p).output().unwrap();
    let ok = verify(&log);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // a second run continues the chain
    analyze(&[&cap], &["--evidence", log_arg]);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().count(),
        2 * records
    );
    assert!(verify(&log).status.success());
    // change one byte of the second record (a digit of its time)
    let mut bytes = std::fs::read(&log).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let at = second
        + bytes[second..]
            .windows(6)
            .position(|w| w == b"\"ts\":\"")
            .unwrap()
        + 6;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, &bytes).unwrap();
    let out = verify(&bad);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    // a record removed
    let text = std::fs::read_to_string(&log).unwrap();
    let cut: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&bad, cut.join("\n") + "\n").unwrap();
    let out = verify(&bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}
