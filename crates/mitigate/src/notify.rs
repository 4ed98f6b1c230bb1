//! Notifiers: every mitigation event, of any backend, handed on as JSON.
//! `webhook` POSTs it (ureq: small, blocking, no async runtime; the default
//! build speaks plain HTTP only, so no TLS stack is compiled in) with
//! retries and exponential backoff; `exec` runs a command with the JSON on
//! stdin (through the [`Sys`] seam).

use std::sync::Arc;
use std::time::Duration;

use crate::action::{Action, Backend};
use crate::config::{ExecConfig, WebhookConfig};
use crate::sys::Sys;
use crate::{Error, Mitigator};

pub struct Webhook {
    cfg: WebhookConfig,
    agent: ureq::Agent,
    /// Attempts that failed and were retried (all runs of this process).
    pub retried: u64,
}

impl Webhook {
    pub fn new(cfg: &WebhookConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(cfg.timeout_ms.max(1)))
            .build();
        Webhook {
            cfg: cfg.clone(),
            agent,
            retried: 0,
        }
    }

    /// POSTs `json`, retrying `retries` times with doubling delays.
    ///
    /// # Errors
    /// [`Error::Webhook`] with the last failure once every attempt failed.
    pub fn post(&mut self, json: &str) -> Result<(), Error> {
        let mut delay = self.cfg.backoff_ms;
        let mut last = String::new();
        for attempt in 0..=self.cfg.retries {
            if attempt > 0 {
                self.retried += 1;
                std::thread::sleep(Duration::from_millis(delay));
                delay = delay.saturating_mul(2);
            }
            match self
                .agent
                .post(&self.cfg.url)
                .set("Content-Type", "application/json")
                .send_string(json)
            {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Webhook(
            self.cfg.url.clone(),
            self.cfg.retries + 1,
            last,
        ))
    }
}

impl Mitigator for Webhook {
    fn backend(&self) -> Backend {
        Backend::Webhook
    }
    fn notifier(&self) -> bool {
        true
    }
    fn announce(&mut self, _a: &Action) -> Result<(), Error> {
        Ok(())
    }
    fn withdraw(&mut self, _a: &Action) -> Result<(), Error> {
        Ok(())
    }
    fn notify(&mut self, event: &str) -> Result<(), Error> {
        self.post(event)
    }
}

pub struct Exec {
    cfg: ExecConfig,
    sys: Arc<dyn Sys>,
}

impl Exec {
    /// # Errors
    /// An empty command.
    pub fn new(cfg: &ExecConfig, sys: Arc<dyn Sys>) -> Result<Self, Error> {
        if cfg.command.is_empty() {
            return Err(Error::Config("[mitigate.exec] command is empty".into()));
        }
        Ok(Exec {
            cfg: cfg.clone(),
            sys,
        })
    }
}

impl Mitigator for Exec {
    fn backend(&self) -> Backend {
        Backend::Exec
    }
    fn notifier(&self) -> bool {
        true
    }
    fn announce(&mut self, _a: &Action) -> Result<(), Error> {
        Ok(())
    }
    fn withdraw(&mut self, _a: &Action) -> Result<(), Error> {
        Ok(())
    }
    fn notify(&mut self, event: &str) -> Result<(), Error> {
        let mut line = event.to_string();
        line.push('\n');
        self.sys
            .run(
                &self.cfg.command[0],
                &self.cfg.command[1..],
                Some(line.as_bytes()),
            )
            .map(|_| ())
    }
}
