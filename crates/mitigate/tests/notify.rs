//! Webhook against a real HTTP listener on 127.0.0.1 (one that fails the
//! first attempts, to see the retries and the backoff), and exec with a
//! script that records its stdin.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_core::{Addr, Alert, Category, NANOS_PER_SEC};
use vigil_mitigate::notify::Webhook;
use vigil_mitigate::sys::OsSys;
use vigil_mitigate::{MitigateConfig, Mitigations};

const T0: u64 = 1_700_000_000 * NANOS_PER_SEC;

/// Serves HTTP on 127.0.0.1: answers 503 to the first `fail` requests,
/// then 200; records (time, body) of each.
type Seen = Arc<Mutex<Vec<(Instant, String)>>>;

fn listener(fail: usize) -> (String, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            s2.lock()
                .unwrap()
                .push((Instant::now(), String::from_utf8_lossy(&body).into_owned()));
            let status = if n < fail {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

fn alert() -> Alert {
    let mut a = Alert::new(T0, Category::Dos, 1_000_001, "VIGIL DOS SYN flood", 1);
    a.dst = Some(Addr::v4([10, 0, 0, 5]));
    a.metrics = vec![("distinct_sources", 9000.0)];
    a
}

#[test]
fn webhook_retries_with_backoff_until_the_listener_accepts() {
    let (url, seen) = listener(2);
    let mut cfg = MitigateConfig::default();
    cfg.webhook.url = url;
    cfg.webhook.retries = 3;
    cfg.webhook.backoff_ms = 100;
    let mut w = Webhook::new(&cfg.webhook);
    w.post(r#"{"hello":1}"#).unwrap();
    let s = seen.lock().unwrap().clone();
    assert_eq!(s.len(), 3);
    assert!(s.iter().all(|(_, b)| b == r#"{"hello":1}"#));
    // 100 ms, then 200 ms
    let d1 = s[1].0 - s[0].0;
    let d2 = s[2].0 - s[1].0;
    assert!(
        d1 >= Duration::from_millis(95) && d2 >= Duration::from_millis(195),
        "{d1:?} {d2:?}"
    );
    assert_eq!(w.retried, 2);
}

#[test]
fn webhook_gives_up_after_its_retries_and_the_engine_logs_it() {
    let (url, seen) = listener(usize::MAX);
    let mut cfg = MitigateConfig {
        enabled: true,
        dry_run: false,
        ..Default::default()
    };
    cfg.nftables.enabled = false;
    cfg.webhook.enabled = true;
    cfg.webhook.url = url;
    cfg.webhook.retries = 1;
    cfg.webhook.backoff_ms = 10;
    // a planned action to be told about: bgp through a program that succeeds
    cfg.bgp.enabled = true;
    cfg.bgp.gobgp = "true".into();
    cfg.bgp.flowspec = false;
    let mut m = Mitigations::from_config(&cfg, Arc::new(OsSys)).unwrap();
    let mut out = Vec::new();
    m.alert(&alert(), &mut out);
    assert_eq!(seen.lock().unwrap().len(), 2);
    let j: Vec<serde_json::Value> = out
        .iter()
        .map(|e| serde_json::from_str(&e.json).unwrap())
        .collect();
    assert_eq!(j[0]["mitigation"]["action"], "failed");
    assert_eq!(j[0]["mitigation"]["backend"], "webhook");
    assert!(j[0]["mitigation"]["error"]
        .as_str()
        .unwrap()
        .contains("2 attempts failed"));
    assert_eq!(j[1]["mitigation"]["action"], "announce");
    assert_eq!(m.failed, 1);
}

#[test]
fn webhook_and_exec_receive_every_event_as_json() {
    let (url, seen) = listener(0);
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("events.jsonl");
    let script = dir.path().join("hook.sh");
    std::fs::write(&script, format!("#!/bin/sh\ncat >> {}\n", rec.display())).unwrap();
    std::process::Command::new("chmod")
        .args(["+x", script.to_str().unwrap()])
        .status()
        .unwrap();
    let mut cfg = MitigateConfig {
        enabled: true,
        dry_run: false,
        ttl_secs: 60,
        ..Default::default()
    };
    cfg.bgp.enabled = true;
    cfg.bgp.gobgp = "true".into();
    cfg.bgp.flowspec = false;
    cfg.webhook.enabled = true;
    cfg.webhook.url = url;
    cfg.exec.enabled = true;
    cfg.exec.command = vec![script.display().to_string()];
    let mut m = Mitigations::from_config(&cfg, Arc::new(OsSys)).unwrap();
    let mut out = Vec::new();
    m.alert(&alert(), &mut out);
    m.tick(T0 + 61 * NANOS_PER_SEC, &mut out);
    let lines: Vec<String> = std::fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let posted: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    let eve: Vec<String> = out.iter().map(|e| e.json.clone()).collect();
    assert_eq!(lines, eve);
    assert_eq!(posted, eve);
    let j: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(j["mitigation"]["action"], "withdraw");
    assert_eq!(j["mitigation"]["victim"], "10.0.0.5");
}
