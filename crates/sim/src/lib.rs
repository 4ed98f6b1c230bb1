//! `vigil-sim`: a scenario generator that writes realistic captures with
//! ground truth.
//!
//! Detectors are only as good as the captures they are measured on, and the
//! public corpus has one capture per attack shape. This crate generates as
//! many variations as needed: each scenario is randomised by seed (addresses,
//! ports, counts, rates, timings with jitter, the base epoch) so a detector
//! cannot overfit one generator, and every capture carries benign background
//! traffic (web/TLS browsing with DNS, NTP, SSH admin sessions, downloads)
//! besides its attack.
//!
//! What it promises:
//! - `DIR/NAME.pcap`: a classic pcap (µs, Ethernet), frames in time order,
//!   valid IPv4/TCP/UDP/ICMP checksums, frames padded to 60 bytes.
//! - `DIR/NAME.pcap.truth.json`: the eval format of `shared/eval/README.md`;
//!   each event's `start`/`end` are the exact (µs) capture times of the first
//!   and last packet of its attack traffic. Benign scenarios have no events.
//! - The same name, seed and scale give byte-identical files.
//!
//! The building blocks (pcap writer, frame builders, TCP connection builder,
//! application payloads, the timeline) are public for other crates' tests.
#![forbid(unsafe_code)]

pub mod app;
mod background;
pub mod conn;
mod ctx;
pub mod net;
pub mod packet;
pub mod pcap;
pub mod rng;
mod scenarios;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use ctx::format_rfc3339;

/// A scenario the generator knows.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioInfo {
    /// Name used on the command line and for the output files.
    pub name: &'static str,
    /// One line on what the capture holds.
    pub summary: &'static str,
    /// Home networks (pass them as `--home-net`); also in the truth file.
    pub home_nets: &'static [&'static str],
}

/// Every scenario, in a stable order.
pub fn scenarios() -> &'static [ScenarioInfo] {
    scenarios::INFOS
}

/// Generation options.
#[derive(Clone, Copy, Debug)]
pub struct SimOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Size factor: 1.0 is the default size; tests use small scales (0.05).
    /// Counts and byte sizes scale; each attack keeps a minimum size so it
    /// still shows its shape.
    pub scale: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            scale: 1.0,
        }
    }
}

/// Why a capture could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No scenario of that name (see [`scenarios`]).
    #[error("unknown scenario {0:?} (known: {1})")]
    UnknownScenario(String, String),
    /// Scale not a positive finite number (or absurdly large).
    #[error("scale must be a finite number in (0, 20], got {0}")]
    BadScale(f64),
    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A scenario produced no packet for one of its events (a generator bug).
    #[error("scenario {0}: event {1} has no packets")]
    EmptyEvent(String, String),
}

/// Generates scenario `name` into `DIR/NAME.pcap` and
/// `DIR/NAME.pcap.truth.json` (creating `dir` if needed); returns the capture
/// path.
pub fn generate(name: &str, dir: &Path, opts: &SimOptions) -> Result<PathBuf, SimError> {
    if !opts.scale.is_finite() || opts.scale <= 0.0 || opts.scale > 20.0 {
        return Err(SimError::BadScale(opts.scale));
    }
    let (info, run) = scenarios::lookup(name).ok_or_else(|| {
        let known: Vec<&str> = scenarios::INFOS.iter().map(|s| s.name).collect();
        SimError::UnknownScenario(name.to_string(), known.join(", "))
    })?;
    std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut cx = ctx::Ctx::new(info, opts);
    run(&mut cx);
    let pcap = dir.join(format!("{name}.pcap"));
    cx.finish(&pcap)?;
    Ok(pcap)
}
