//! data carried in DNS names and answers.
//!
//! (stub: registered, does nothing yet)

use serde::{Deserialize, Serialize};

use crate::{Ctx, Detector, Out};

/// Settings of the dnstunnel detector (`[detect.dnstunnel]`).
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

pub struct DnsTunnel {
    #[allow(dead_code)]
    cfg: Config,
}

impl DnsTunnel {
    pub fn new(cfg: &Config) -> Self {
        DnsTunnel { cfg: cfg.clone() }
    }
}

impl Detector for DnsTunnel {
    fn name(&self) -> &'static str {
        "dnstunnel"
    }
    fn on_packet(&mut self, _c: &Ctx, _out: &mut Out) {}
}
