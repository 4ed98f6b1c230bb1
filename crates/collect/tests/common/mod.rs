//! Helpers shared by the collector's integration tests: reading the UDP
//! datagrams out of a capture with vigil's own readers, running tshark.
#![allow(dead_code)]

pub mod softflowd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_core::Nanos;
use vigil_wire::{Decoded, Decoder};

/// The shared corpus (`../shared/corpus` beside the project).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// One UDP datagram of a capture: (sender, capture time, payload).
pub type Datagram = (SocketAddr, Nanos, Vec<u8>);

/// Every UDP payload of `path`, in capture order.
pub fn datagrams(path: &Path) -> Vec<Datagram> {
    let mut src = vigil_capture::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = Decoder::default();
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().expect("readable capture") {
        if let Decoded::Ip { info, payload } = dec.decode(p.linktype, p.ts, p.orig_len, p.data) {
            if info.proto == 17 {
                out.push((
                    SocketAddr::new(info.src.to_ip(), info.sport),
                    info.ts,
                    payload.to_vec(),
                ));
            }
        }
    }
    out
}

/// tshark's fields (`-T fields -E occurrence=a`), one line per frame, each
/// field's occurrences split on '|'. `extra` goes before the fields
/// (e.g. `-2`, `-d udp.port==9990,cflow`).
pub fn tshark(path: &Path, extra: &[&str], fields: &[&str]) -> Vec<Vec<Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args(extra).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    cmd.args([
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-E",
        "separator=\t",
    ]);
    let out = cmd.output().expect("tshark runs (apt-get install tshark)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            l.split('\t')
                .map(|f| {
                    f.split('|')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// All occurrences of field `i` over all frames.
pub fn column(rows: &[Vec<Vec<String>>], i: usize) -> Vec<String> {
    rows.iter()
        .flat_map(|r| r.get(i).cloned().unwrap_or_default())
        .collect()
}

pub fn nums(v: &[String]) -> Vec<u64> {
    v.iter()
        .map(|x| x.parse().unwrap_or_else(|_| panic!("number: {x}")))
        .collect()
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
