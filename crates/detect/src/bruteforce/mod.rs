//! repeated login attempts against one service.
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the bruteforce detector (`[detect.bruteforce]`).
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

pub struct Bruteforce {
    #[allow(dead_code)]
    cfg: Config,
}

impl Bruteforce {
    pub fn new(cfg: &Config) -> Self {
        Bruteforce { cfg: cfg.clone() }
    }
}

impl Detector for Bruteforce {
    fn name(&self) -> &'static str {
        "bruteforce"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
