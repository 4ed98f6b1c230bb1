//! Automatic, safe mitigation of floods: the planner turns dos alerts into
//! actions per home network, and backends carry them out.
//!
//! - [`plan`]: pure, capture-time driven decisions (allowlist, caps, TTL,
//!   re-arm); unit-tested without root.
//! - [`nft`]: drop sets and per-victim limits in a table `inet vigil` that
//!   vigil owns. [`bgp`]: RTBH /32 (community 65535:666) and FlowSpec
//!   through GoBGP. [`notify`]: webhook (JSON POST, retries) and exec (JSON
//!   on stdin).
//! - [`sys`]: the one seam through which backends run programs, replaced by
//!   a recorder in unit tests; the real backends are tested for real in
//!   network namespaces (`tests/`).
//! - [`engine`]: dry-run (the default), the state file (atomic JSON, so a
//!   restart withdraws what the last run installed), one EVE event per
//!   decision.
//!
//! - [`xdp`] (cargo feature `xdp`): an eBPF program (C, built with clang)
//!   with LPM tries of blocked sources and per-victim limits, loaded with
//!   aya. The default build needs only Rust.
#![forbid(unsafe_code)]

pub mod action;
pub mod bgp;
pub mod config;
pub mod engine;
pub mod nft;
pub mod notify;
pub mod plan;
pub mod state;
pub mod sys;
#[cfg(feature = "xdp")]
pub mod xdp;

pub use action::{Action, Backend, Flood, Kind};
pub use config::MitigateConfig;
pub use engine::{Event, Mitigations};
pub use plan::{Op, Planner};

/// What can go wrong in mitigation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("mitigate config: {0}")]
    Config(String),
    #[error("`{0}` failed: {1}")]
    Command(String, String),
    #[error("webhook {0}: {1} attempts failed, last: {2}")]
    Webhook(String, u32, String),
    #[error("state file {0}: {1}")]
    State(String, String),
    #[error("{0} is not something the {1} backend does")]
    Unsupported(&'static str, &'static str),
    #[error("no active mitigation {0}")]
    NoSuchAction(String),
}

/// A backend: carries out the actions of its own kind, or (a notifier)
/// is told every event.
pub trait Mitigator: Send {
    fn backend(&self) -> Backend;
    /// Told every event (webhook, exec) instead of carrying out actions.
    fn notifier(&self) -> bool {
        false
    }
    /// # Errors
    /// The backend could not install it.
    fn announce(&mut self, a: &Action) -> Result<(), Error>;
    /// The action changed (more sources): by default withdraw and announce.
    ///
    /// # Errors
    /// The backend could not change it.
    fn update(&mut self, old: &Action, new: &Action) -> Result<(), Error> {
        self.withdraw(old)?;
        self.announce(new)
    }
    /// # Errors
    /// The backend could not remove it.
    fn withdraw(&mut self, a: &Action) -> Result<(), Error>;
    /// # Errors
    /// The event could not be delivered.
    fn notify(&mut self, _event: &str) -> Result<(), Error> {
        Ok(())
    }
}
