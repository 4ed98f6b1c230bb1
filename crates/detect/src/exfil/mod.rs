//! unusual volume leaving an inside host.
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the exfil detector (`[detect.exfil]`).
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

pub struct Exfil {
    #[allow(dead_code)]
    cfg: Config,
}

impl Exfil {
    pub fn new(cfg: &Config) -> Self {
        Exfil { cfg: cfg.clone() }
    }
}

impl Detector for Exfil {
    fn name(&self) -> &'static str {
        "exfil"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
