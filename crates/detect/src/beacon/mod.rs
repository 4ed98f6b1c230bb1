//! periodic command-and-control check-ins.
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the beacon detector (`[detect.beacon]`).
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

pub struct Beacon {
    #[allow(dead_code)]
    cfg: Config,
}

impl Beacon {
    pub fn new(cfg: &Config) -> Self {
        Beacon { cfg: cfg.clone() }
    }
}

impl Detector for Beacon {
    fn name(&self) -> &'static str {
        "beacon"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
