//! port scans, host sweeps (TCP, UDP, ICMP, ARP).
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the scan detector (`[detect.scan]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run this detector.
    pub enabled: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { enabled: true }
    }
}

pub struct Scan {
    #[allow(dead_code)]
    cfg: Config,
}

impl Scan {
    pub fn new(cfg: &Config) -> Self {
        Scan { cfg: cfg.clone() }
    }
}

impl Detector for Scan {
    fn name(&self) -> &'static str {
        "scan"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
