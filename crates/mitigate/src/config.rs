//! `[mitigate]`: every setting of the mitigation engine, with its default
//! and the reason for it. Unknown keys are errors (a typo in a safety
//! setting must never be silently ignored).

use serde::{Deserialize, Serialize};

/// Settings of the mitigation engine (`[mitigate]` in the config file).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MitigateConfig {
    /// Run the mitigation engine at all. Default false.
    pub enabled: bool,
    /// Plan and log actions (EVE `mitigation` events, evidence log) without
    /// applying any of them. Default true: applying is an explicit choice.
    pub dry_run: bool,
    /// Where active mitigations are kept (JSON, written atomically after
    /// every change). On start, whatever a previous run left there is
    /// withdrawn. Empty: no state file (nothing survives a restart).
    pub state_file: String,
    /// Seconds (capture time) a mitigation lives after the last alert that
    /// asked for it (default 300). Alert updates come every 60 s while an
    /// attack lasts, so five missed updates are needed to withdraw.
    pub ttl_secs: u64,
    /// Most mitigations active at once over all backends (default 64);
    /// refusals are counted and logged.
    pub max_active: usize,
    /// Prefixes never acted on: neither dropped as a source nor limited,
    /// blackholed or filtered as a victim (your resolvers, peers, monitoring).
    pub allowlist: Vec<String>,
    /// A flood from at most this many distinct sources is from "few real
    /// attackers": their addresses go into a drop set (default 8). Above it
    /// the sources are taken as spoofed and only per-victim limits apply.
    pub few_sources: u32,
    /// Per home network: which backends act for victims inside it. Empty:
    /// every enabled backend acts for every home network.
    pub networks: Vec<NetworkPolicy>,
    pub nftables: NftConfig,
    pub bgp: BgpConfig,
    pub webhook: WebhookConfig,
    pub exec: ExecConfig,
    pub xdp: XdpConfig,
}

impl Default for MitigateConfig {
    fn default() -> Self {
        MitigateConfig {
            enabled: false,
            dry_run: true,
            state_file: String::new(),
            ttl_secs: 300,
            max_active: 64,
            allowlist: Vec::new(),
            few_sources: 8,
            networks: Vec::new(),
            nftables: NftConfig::default(),
            bgp: BgpConfig::default(),
            webhook: WebhookConfig::default(),
            exec: ExecConfig::default(),
            xdp: XdpConfig::default(),
        }
    }
}

/// Which backends act for victims in some prefixes (`[[mitigate.networks]]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPolicy {
    /// Prefixes, e.g. `["203.0.113.0/24"]`.
    pub prefixes: Vec<String>,
    /// Backends, of `nftables`, `bgp`, `xdp`.
    pub backends: Vec<crate::Backend>,
}

/// The nftables backend: a table `inet vigil` that vigil creates and owns.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NftConfig {
    pub enabled: bool,
    /// The nft binary (default "nft").
    pub nft: String,
    /// Most active nftables mitigations (default 32).
    pub max_active: usize,
    /// Packets per second a victim still gets of the flood's kind under a
    /// per-victim limit (default 1000): enough for its real clients to
    /// keep reaching it, far below a flood.
    pub victim_pps: u64,
    /// Burst allowed above `victim_pps`, in packets (default 200).
    pub burst: u64,
}

impl Default for NftConfig {
    fn default() -> Self {
        NftConfig {
            enabled: false,
            nft: "nft".into(),
            max_active: 32,
            victim_pps: 1000,
            burst: 200,
        }
    }
}

/// The BGP backend: RTBH and FlowSpec routes announced through a running
/// GoBGP daemon, driven with its `gobgp` CLI.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BgpConfig {
    pub enabled: bool,
    /// The gobgp CLI (default "gobgp").
    pub gobgp: String,
    /// Extra arguments before the command, e.g. `["-p", "50051"]` for the
    /// daemon's gRPC port.
    pub gobgp_args: Vec<String>,
    /// Most active BGP mitigations (default 16): each blackhole takes a
    /// victim off the Internet, so the cap is low.
    pub max_active: usize,
    /// Announce a remotely triggered blackhole /32 (/128) for the victim
    /// (default true when the backend is enabled).
    pub blackhole: bool,
    /// The blackhole community (default "65535:666", RFC 7999).
    pub community: String,
    /// Announce a FlowSpec rule for the flood's shape (default true).
    pub flowspec: bool,
    /// FlowSpec action: 0 discards, any other value rate-limits to that
    /// many bytes per second (default 0).
    pub flowspec_rate_bytes: u64,
}

impl Default for BgpConfig {
    fn default() -> Self {
        BgpConfig {
            enabled: false,
            gobgp: "gobgp".into(),
            gobgp_args: Vec::new(),
            max_active: 16,
            blackhole: true,
            community: "65535:666".into(),
            flowspec: true,
            flowspec_rate_bytes: 0,
        }
    }
}

/// JSON POST of every mitigation event.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    pub enabled: bool,
    /// `http://host:port/path` (the default build speaks plain HTTP; put a
    /// local relay in front for HTTPS).
    pub url: String,
    /// Attempts after the first (default 3).
    pub retries: u32,
    /// First retry delay in milliseconds, doubled each time (default 200).
    pub backoff_ms: u64,
    /// Per-attempt timeout in milliseconds (default 2000).
    pub timeout_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            enabled: false,
            url: String::new(),
            retries: 3,
            backoff_ms: 200,
            timeout_ms: 2000,
        }
    }
}

/// Runs a command for every mitigation event, the event's JSON on stdin.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecConfig {
    pub enabled: bool,
    /// Program and arguments, e.g. `["/usr/local/bin/page-oncall"]`.
    pub command: Vec<String>,
}

/// The XDP backend (only in builds with the cargo feature `xdp`): an eBPF
/// program on the interface facing the attackers, dropping blocked
/// sources and limiting victims before the kernel allocates an skb.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct XdpConfig {
    pub enabled: bool,
    /// The interface the program is attached to (traffic arriving on it).
    pub interface: String,
    /// Attach in generic (skb) mode instead of the driver's native mode
    /// (default false; native is tried first and generic used if the
    /// driver has no XDP support).
    pub skb_mode: bool,
    /// Most active XDP mitigations (default 32).
    pub max_active: usize,
    /// Per-victim limit, packets per second (default 1000).
    pub victim_pps: u64,
    /// Burst above it, packets (default 200).
    pub burst: u64,
}

impl Default for XdpConfig {
    fn default() -> Self {
        XdpConfig {
            enabled: false,
            interface: String::new(),
            skb_mode: false,
            max_active: 32,
            victim_pps: 1000,
            burst: 200,
        }
    }
}
