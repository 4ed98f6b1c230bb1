//! The TOML configuration file (`--config`), with `deny_unknown_fields` so a
//! typo is an error, not a silently ignored setting. Every field has a
//! default; `vigil config --print-default` prints them all.

use serde::{Deserialize, Serialize};
use vigil_flow::Timeouts;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Protected networks (HOME_NET), used when `--home-net` is not given.
    pub home_net: Vec<String>,
    pub flow: FlowSection,
    /// Detector settings (`[detect.dos]`, `[detect.scan]`, ...).
    pub detect: vigil_detect::DetectConfig,
    /// Alert correlation into incidents (`[correlate]`).
    pub correlate: vigil_correlate::CorrelateConfig,
    /// The live sensor (`vigil run`): sources and outputs (`[run]`).
    pub run: crate::run::RunConfig,
    /// Automatic mitigation of floods (`[mitigate]`): off and dry-run by
    /// default.
    pub mitigate: vigil_mitigate::MitigateConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSection {
    /// Memory bound of the flow table (`--flow-memory` overrides it).
    pub memory: String,
    /// Idle timeouts in seconds of capture time.
    pub timeouts: Timeouts,
}

impl Default for FlowSection {
    fn default() -> Self {
        FlowSection {
            memory: "256MiB".into(),
            timeouts: Timeouts::default(),
        }
    }
}

impl Config {
    /// Reads and checks a config file.
    ///
    /// # Errors
    /// Unreadable file, TOML syntax, unknown keys or wrong types; the message
    /// names the file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{}: {}", path.display(), e.to_string().replace('\n', " "))
        })
    }

    pub fn default_toml() -> String {
        format!(
            "# vigil configuration: every setting with its default.\n{}",
            toml::to_string_pretty(&Config::default()).expect("defaults serialise")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips_and_unknown_keys_fail() {
        let text = Config::default_toml();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, Config::default());
        assert!(toml::from_str::<Config>("[flow]\nmemroy = \"1G\"\n").is_err());
        let c: Config = toml::from_str("[flow.timeouts]\ntcp_new = 5\n").unwrap();
        assert_eq!(c.flow.timeouts.tcp_new, 5);
        assert_eq!(c.flow.timeouts.udp_new, Timeouts::default().udp_new);
    }
}
