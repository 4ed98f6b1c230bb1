//! an inside host reaching many inside hosts on admin ports.
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the lateral detector (`[detect.lateral]`).
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

pub struct Lateral {
    #[allow(dead_code)]
    cfg: Config,
}

impl Lateral {
    pub fn new(cfg: &Config) -> Self {
        Lateral { cfg: cfg.clone() }
    }
}

impl Detector for Lateral {
    fn name(&self) -> &'static str {
        "lateral"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
