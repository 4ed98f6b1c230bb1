//! The store, `vigil query`, pcap excerpts, `vigil verify` beyond the chain,
//! and `vigil report` rendered in a real headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn vigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigil-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmpdir");
    d
}

/// The smokescreen scenario (a flood hiding a scan, a brute force, lateral
/// movement and a 15 MB exfiltration) and its truth file.
fn smokescreen(dir: &Path) -> (PathBuf, Value) {
    let out = vigil()
        .args(["sim", "smokescreen", "--seed", "3", "-o"])
        .arg(dir)
        .output()
        .expect("vigil sim");
    assert!(out.status.success());
    let cap = dir.join("smokescreen.pcap");
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("smokescreen.pcap.truth.json")).expect("truth"),
    )
    .expect("truth json");
    (cap, truth)
}

fn home(truth: &Value) -> String {
    truth["home_nets"]
        .as_array()
        .expect("home nets")
        .iter()
        .map(|v| v.as_str().expect("str"))
        .collect::<Vec<_>>()
        .join(",")
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().expect("run");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn truth_event<'a>(truth: &'a Value, cat: &str) -> &'a Value {
    truth["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["category"] == cat)
        .expect("event of the category")
}

#[test]
fn store_query_excerpts_and_verify() {
    let dir = tmpdir("query");
    let (cap, truth) = smokescreen(&dir);
    let db = dir.join("v.db");
    let ev = dir.join("ev.jsonl");
    let eve = dir.join("eve.json");
    run_ok(
        vigil()
            .arg("analyze")
            .arg(&cap)
            .args(["--home-net", &home(&truth), "-q", "--store"])
            .arg(&db)
            .arg("--evidence")
            .arg(&ev)
            .arg("--eve")
            .arg(&eve),
    );
    // the store holds what EVE holds
    let events: Vec<Value> = std::fs::read_to_string(&eve)
        .expect("eve")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let n = |t: &str| events.iter().filter(|e| e["event_type"] == t).count();
    let runs: Value = serde_json::from_str(&run_ok(
        vigil()
            .args(["query", "runs", "--format", "json", "--store"])
            .arg(&db),
    ))
    .expect("json");
    assert_eq!(runs[0]["status"], "finished");
    assert_eq!(runs[0]["flows"].as_u64(), Some(n("flow") as u64));
    assert_eq!(runs[0]["alerts"].as_u64(), Some(n("alert") as u64));
    let stats = events
        .iter()
        .find(|e| e["event_type"] == "stats")
        .expect("stats");
    assert_eq!(runs[0]["packets"], stats["stats"]["capture"]["packets"]);

    // filters: the exfiltration by category and by address
    let exfil = truth_event(&truth, "exfiltration");
    let src = exfil["src_ip"].as_str().expect("src");
    let alerts: Value = serde_json::from_str(&run_ok(
        vigil()
            .args([
                "query",
                "alerts",
                "--format",
                "json",
                "--category",
                "exfiltration",
                "--store",
            ])
            .arg(&db),
    ))
    .expect("json");
    assert!(!alerts.as_array().expect("array").is_empty());
    assert!(alerts
        .as_array()
        .expect("array")
        .iter()
        .all(|a| a["src_ip"] == src));
    let by_ip: Value = serde_json::from_str(&run_ok(
        vigil()
            .args([
                "query", "alerts", "--format", "json", "--ip", src, "--store",
            ])
            .arg(&db),
    ))
    .expect("json");
    assert!(by_ip
        .as_array()
        .expect("array")
        .iter()
        .all(|a| a["src_ip"] == src || a["dest_ip"] == src));
    // a time range before anything happened is empty
    let csv = run_ok(
        vigil()
            .args([
                "query",
                "alerts",
                "--format",
                "csv",
                "--until",
                "1970-01-02T00:00:00Z",
                "--store",
            ])
            .arg(&db),
    );
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    // incidents, ranked; the exfiltration under flood cover first
    let inc: Value = serde_json::from_str(&run_ok(
        vigil()
            .args(["query", "incidents", "--format", "json", "--store"])
            .arg(&db),
    ))
    .expect("json");
    let first = &inc[0];
    assert_eq!(first["rank"], 1);
    assert_eq!(first["under_flood_cover"], true);
    let id = first["id"].as_u64().expect("id");
    // flows of that incident: between its hosts and attackers only
    let flows: Value = serde_json::from_str(&run_ok(
        vigil()
            .args([
                "query",
                "flows",
                "--format",
                "json",
                "--incident",
                &id.to_string(),
                "--store",
            ])
            .arg(&db),
    ))
    .expect("json");
    let hosts: Vec<&str> = first["hosts"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!flows.as_array().expect("array").is_empty());
    for f in flows.as_array().expect("array") {
        assert!(
            hosts.contains(&f["src_ip"].as_str().unwrap_or(""))
                || hosts.contains(&f["dest_ip"].as_str().unwrap_or(""))
        );
    }

    // excerpts: pcapng files tshark opens, holding the incident's packets
    let excerpts = dir.join("v.db.excerpts");
    let files: Vec<PathBuf> = std::fs::read_dir(&excerpts)
        .expect("excerpts dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        files.len(),
        inc.as_array().expect("a").len(),
        "one excerpt per incident"
    );
    let mine = excerpts.join(format!("incident-{id}.pcapng"));
    if Command::new("tshark").arg("-v").output().is_ok() {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&mine)
            .args(["-T", "fields", "-e", "ip.src", "-e", "ip.dst"])
            .output()
            .expect("tshark");
        assert!(out.status.success(), "tshark reads the excerpt");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.lines().count() > 0);
        for l in text.lines() {
            assert!(
                l.split('\t').any(|a| hosts.contains(&a)),
                "packet of another host: {l}"
            );
        }
    }

    // the chain verifies, and vouches for the excerpts and the store's rows
    let ok = run_ok(vigil().arg("verify").arg(&ev).arg("--store").arg(&db));
    assert!(ok.contains("excerpt file(s) match"), "{ok}");
    // delete an alert row: named
    let c = rusqlite_free_delete(&db);
    assert!(c > 0);
    let out = vigil()
        .arg("verify")
        .arg(&ev)
        .arg("--store")
        .arg(&db)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing from the store"));
    // alter one byte of an excerpt: named
    let mut bytes = std::fs::read(&mine).expect("read");
    let k = bytes.len() - 10;
    bytes[k] ^= 0xff;
    std::fs::write(&mine, bytes).expect("write");
    let out = vigil().arg("verify").arg(&ev).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was altered") && err.contains(&format!("incident-{id}")),
        "{err}"
    );
}

/// Deletes the scan alerts, as someone covering tracks would; returns how
/// many went.
fn rusqlite_free_delete(db: &Path) -> usize {
    let c = rusqlite::Connection::open(db).expect("open");
    c.execute("DELETE FROM alerts WHERE category = 'scan'", [])
        .expect("delete")
}

#[test]
fn signed_head_catches_cut_records() {
    let dir = tmpdir("sign");
    let (cap, truth) = smokescreen(&dir);
    let key = dir.join("k.key");
    let public = run_ok(vigil().arg("keygen").arg("-o").arg(&key));
    let public = public.trim();
    assert_eq!(public.len(), 64);
    // an existing key is never overwritten
    assert!(!vigil()
        .arg("keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .expect("run")
        .status
        .success());
    let ev = dir.join("ev.jsonl");
    run_ok(
        vigil()
            .arg("analyze")
            .arg(&cap)
            .args([
                "--home-net",
                &home(&truth),
                "-q",
                "--no-excerpts",
                "--evidence",
            ])
            .arg(&ev)
            .arg("--evidence-key")
            .arg(&key),
    );
    run_ok(
        vigil()
            .arg("verify")
            .arg(&ev)
            .args(["--public-key", public]),
    );
    // cut the last record: the bare chain still verifies, the signed head not
    let text = std::fs::read_to_string(&ev).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&ev, lines[..lines.len() - 1].join("\n") + "\n").expect("write");
    run_ok(vigil().arg("verify").arg(&ev));
    let out = vigil()
        .arg("verify")
        .arg(&ev)
        .args(["--public-key", public])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut off the end"));
}

#[test]
fn killed_mid_run_the_store_still_opens() {
    let dir = tmpdir("kill");
    let (cap, truth) = smokescreen(&dir);
    let bytes = std::fs::read(&cap).expect("read");
    // feed the capture through a FIFO: vigil reads 70% of it, then waits
    // for more, mid-run, when it is killed
    let fifo = dir.join("live.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let db = dir.join("v.db");
    let ev = dir.join("ev.jsonl");
    let mut child = vigil()
        .arg("analyze")
        .arg(&fifo)
        .args([
            "--home-net",
            &home(&truth),
            "-q",
            "--threads",
            "1",
            "--store",
        ])
        .arg(&db)
        .arg("--evidence")
        .arg(&ev)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let part = bytes.len() * 7 / 10;
    let feeder = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open fifo");
            f.write_all(&bytes[..part]).expect("write");
            f.flush().expect("flush");
            // keep the pipe open so vigil waits, mid-file
            std::thread::sleep(std::time::Duration::from_secs(30));
            drop(f);
        })
    };
    // wait until alerts are committed
    let mut committed = 0;
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Ok(st) = vigil_store::Store::open_existing(&db) {
            committed = st
                .alerts(&vigil_store::Filter::default())
                .map_or(0, |a| a.len());
            if committed > 0 {
                break;
            }
        }
    }
    assert!(
        committed > 0,
        "alerts reach the store while the run goes on"
    );
    // SIGKILL
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    // the store opens, is consistent, says the run never finished, and
    // answers queries and reports
    let st = vigil_store::Store::open_existing(&db).expect("opens after kill -9");
    assert_eq!(st.integrity_check().expect("check"), "ok");
    let runs = st.runs().expect("runs");
    assert_eq!(runs[0].status, "running");
    assert!(runs[0].finished_at.is_none());
    // the traffic chart up to the last committed alert is there too
    assert!(!st.timeline(runs[0].id).expect("timeline").is_empty());
    drop(st);
    let q = run_ok(vigil().args(["query", "alerts", "--store"]).arg(&db));
    assert!(q.lines().count() > 1);
    run_ok(
        vigil()
            .args(["report", "--format", "md", "--store"])
            .arg(&db),
    );
    // the evidence log written so far verifies
    run_ok(vigil().arg("verify").arg(&ev));
    // and the next run continues both
    run_ok(
        vigil()
            .arg("analyze")
            .arg(&cap)
            .args([
                "--home-net",
                &home(&truth),
                "-q",
                "--no-excerpts",
                "--store",
            ])
            .arg(&db)
            .arg("--evidence")
            .arg(&ev),
    );
    let runs = vigil_store::Store::open_existing(&db)
        .expect("open")
        .runs()
        .expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].status, "finished");
    run_ok(vigil().arg("verify").arg(&ev).arg("--store").arg(&db));
    drop(feeder);
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn headless(profile: &Path) -> Command {
    let mut c = Command::new(chromium().expect("chromium"));
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stderr(Stdio::null());
    c
}

#[test]
fn the_html_report_renders_in_chromium_with_its_chart() {
    let dir = tmpdir("report");
    let (cap, truth) = smokescreen(&dir);
    let db = dir.join("v.db");
    run_ok(
        vigil()
            .arg("analyze")
            .arg(&cap)
            .args(["--home-net", &home(&truth), "-q", "--store"])
            .arg(&db),
    );
    // JSON: the facts a reader needs, from the traffic itself
    let json: Value = serde_json::from_str(&run_ok(
        vigil()
            .args(["report", "--format", "json", "--store"])
            .arg(&db),
    ))
    .expect("json");
    let exfil = truth_event(&truth, "exfiltration");
    let s = &json["summary"];
    assert!(s["bytes_out"].as_u64().expect("bytes") >= 15_000_000, "{s}");
    assert_eq!(s["bytes_out_to"][0], exfil["dest_ip"]);
    assert!(s["hosts"].as_array().expect("a").contains(&exfil["src_ip"]));
    assert!(!s["names"].as_array().expect("a").is_empty(), "names seen");
    assert_eq!(json["incidents"][0]["incident"]["under_flood_cover"], true);
    assert!(json["incidents"][0]["actions"].as_array().expect("a").len() >= 2);
    let pkts: i64 = json["timeline"]["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p[1].as_i64().expect("n"))
        .sum();
    assert_eq!(
        Some(pkts as u64),
        json["run"]["packets"].as_u64(),
        "every packet on the chart"
    );
    let md = run_ok(
        vigil()
            .args(["report", "--format", "md", "--store"])
            .arg(&db),
    );
    assert!(md.contains("## Incidents") && md.contains(exfil["dest_ip"].as_str().expect("ip")));

    let html_path = dir.join("report.html");
    run_ok(
        vigil()
            .args(["report", "--store"])
            .arg(&db)
            .arg("-o")
            .arg(&html_path),
    );
    let html = std::fs::read_to_string(&html_path).expect("html");
    // self-contained: nothing fetched
    for bad in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(!html.contains(bad), "the report references {bad}");
    }
    // one incident report too
    let id = json["incidents"][0]["incident"]["id"].as_u64().expect("id");
    let one = run_ok(
        vigil()
            .args([
                "report",
                "--format",
                "json",
                "--incident",
                &id.to_string(),
                "--store",
            ])
            .arg(&db),
    );
    let one: Value = serde_json::from_str(&one).expect("json");
    assert_eq!(one["incidents"].as_array().expect("a").len(), 1);

    let Some(_) = chromium() else {
        panic!("chromium is not installed (scripts/test.sh installs Debian's chromium)");
    };
    // the DOM Chromium built: the chart and one marker per alert
    let dom = headless(&dir.join("profile-dom"))
        .arg("--dump-dom")
        .arg(format!("file://{}", html_path.display()))
        .output()
        .expect("chromium --dump-dom");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<svg id=\"timeline\""), "chart in the DOM");
    assert!(dom.contains("id=\"traffic\""));
    let markers = dom.matches("class=\"alert-marker\"").count();
    assert_eq!(
        markers as u64,
        json["summary"]["alerts"].as_u64().expect("n")
    );
    // the screenshot: not blank, and the chart's colours are on it
    let shot = dir.join("shot.png");
    let out = headless(&dir.join("profile-shot"))
        .arg("--window-size=1200,1400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .expect("chromium --screenshot");
    assert!(out.status.success());
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let px = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        c => panic!("unexpected colour type {c:?}"),
    };
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 12);
    let mut colours = std::collections::HashSet::new();
    let (mut traffic, mut exfil_marker, mut non_bg) = (0, 0, 0);
    for p in buf[..info.buffer_size()].chunks(px) {
        colours.insert((p[0] >> 3, p[1] >> 3, p[2] >> 3));
        if !near(p, [0xf6, 0xf7, 0xf9]) && !near(p, [0xff, 0xff, 0xff]) {
            non_bg += 1;
        }
        // the traffic area: #1f77b4 at 35% over white
        if near(p, [0xa8, 0xc8, 0xe1]) || near(p, [0x1f, 0x77, 0xb4]) {
            traffic += 1;
        }
        if near(p, [0xe0, 0x21, 0x8a]) {
            exfil_marker += 1;
        }
    }
    let total = buf.len() / px;
    assert!(
        colours.len() > 50,
        "a page, not a blank: {} colours",
        colours.len()
    );
    assert!(
        non_bg * 20 > total,
        "content covers the page: {non_bg} of {total}"
    );
    assert!(
        traffic > 2000,
        "the traffic area is drawn: {traffic} pixels"
    );
    assert!(
        exfil_marker > 20,
        "the exfiltration alert is marked: {exfil_marker} pixels"
    );
}
