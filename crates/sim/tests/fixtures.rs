//! `flood-upload`'s flow counters against a recount, determinism, option
//! checks, and (when tshark is installed) dissector cleanliness.

mod common;

use std::net::IpAddr;
use std::process::Command;

use common::{check_frame, read_pcap, scratch};
use serde_json::Value;
use vigil_sim::{generate, SimError, SimOptions};

#[test]
fn flood_upload_flow_counters_match_a_recount() {
    for seed in [1u64, 7, 42] {
        let dir = scratch(&format!("flows-{seed}"));
        let pcap = generate("flood-upload", &dir, &SimOptions { seed, scale: 0.05 }).unwrap();
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("flood-upload.pcap.truth.json")).unwrap(),
        )
        .unwrap();
        let flows = truth["flows"].as_array().unwrap();
        assert_eq!(flows.len(), 1);
        let f = &flows[0];
        let src: IpAddr = f["src_ip"].as_str().unwrap().parse().unwrap();
        let dst: IpAddr = f["dest_ip"].as_str().unwrap().parse().unwrap();
        let sp = f["src_port"].as_u64().unwrap() as u16;
        let dp = f["dest_port"].as_u64().unwrap() as u16;
        assert_eq!(f["proto"], "TCP");
        let (mut ps, mut pc, mut bs, mut bc) = (0u64, 0u64, 0u64, 0u64);
        let mut payload = 0u64;
        let mut syns = 0;
        let recs = read_pcap(&pcap);
        for r in &recs {
            let p = check_frame(&r.data);
            if p.proto != 6 {
                continue;
            }
            if (p.src, p.sport, p.dst, p.dport) == (src, sp, dst, dp) {
                ps += 1;
                bs += r.orig as u64;
                let total = u16::from_be_bytes([r.data[16], r.data[17]]) as u64;
                let doff = (r.data[46] >> 4) as u64 * 4;
                payload += total - 20 - doff;
            } else if (p.src, p.sport, p.dst, p.dport) == (dst, dp, src, sp) {
                pc += 1;
                bc += r.orig as u64;
            } else if p.dport == 80 || p.dport == 443 {
                syns += 1;
            }
        }
        assert_eq!(ps, f["pkts_toserver"].as_u64().unwrap());
        assert_eq!(pc, f["pkts_toclient"].as_u64().unwrap());
        assert_eq!(bs, f["bytes_toserver"].as_u64().unwrap());
        assert_eq!(bc, f["bytes_toclient"].as_u64().unwrap());
        // the flood dwarfs everything
        assert!(
            syns as f64 > 0.5 * recs.len() as f64,
            "flood is {syns} of {}",
            recs.len()
        );
        // the upload carries exactly the announced payload
        let bytes = truth["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["category"] == "exfiltration")
            .unwrap()["bytes"]
            .as_u64()
            .unwrap();
        assert_eq!(bytes, 1_000_000);
        assert_eq!(
            payload, bytes,
            "client payload is exactly the announced size"
        );
        assert!(bs > bytes);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = scratch("det-a");
    let b = scratch("det-b");
    let c = scratch("det-c");
    let o = SimOptions {
        seed: 9,
        scale: 0.05,
    };
    let pa = generate("beaconing", &a, &o).unwrap();
    let pb = generate("beaconing", &b, &o).unwrap();
    let pc = generate(
        "beaconing",
        &c,
        &SimOptions {
            seed: 10,
            scale: 0.05,
        },
    )
    .unwrap();
    assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
    assert_ne!(std::fs::read(&pa).unwrap(), std::fs::read(&pc).unwrap());
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).ok();
    }
}

#[test]
fn rejects_unknown_names_and_bad_scales() {
    let d = scratch("errors");
    assert!(matches!(
        generate("nope", &d, &SimOptions::default()),
        Err(SimError::UnknownScenario(..))
    ));
    for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            generate("syn-flood", &d, &SimOptions { seed: 1, scale }),
            Err(SimError::BadScale(_))
        ));
    }
    std::fs::remove_dir_all(d).ok();
}

#[test]
fn tshark_finds_no_errors() {
    if Command::new("tshark").arg("-v").output().is_err() {
        println!("tshark not installed: skipping dissector check");
        return;
    }
    let dir = scratch("tshark");
    for name in [
        "flood-upload",
        "ssh-bruteforce",
        "dns-tunnel",
        "db-bruteforce",
        "kerberos-bruteforce",
        "lateral-movement",
        "http-login-bruteforce",
    ] {
        let pcap = generate(
            name,
            &dir,
            &SimOptions {
                seed: 3,
                scale: 0.05,
            },
        )
        .unwrap();
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-q", "-z", "expert,error"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains("Errors ("),
            "{name}: tshark expert errors:\n{text}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
