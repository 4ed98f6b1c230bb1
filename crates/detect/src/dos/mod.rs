//! floods and slow attacks against a home host (SYN/UDP/ICMP floods, reflection/amplification, HTTP floods, slowloris).
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the dos detector (`[detect.dos]`).
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

pub struct Dos {
    #[allow(dead_code)]
    cfg: Config,
}

impl Dos {
    pub fn new(cfg: &Config) -> Self {
        Dos { cfg: cfg.clone() }
    }
}

impl Detector for Dos {
    fn name(&self) -> &'static str {
        "dos"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
