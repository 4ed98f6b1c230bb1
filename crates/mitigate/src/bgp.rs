//! BGP backend: remotely triggered blackhole routes (the victim's /32 or
//! /128 with community 65535:666, RFC 7999) and FlowSpec rules (RFC 8955)
//! announced through GoBGP.
//!
//! GoBGP rather than BIRD2: it is in Debian (`gobgpd`), speaks FlowSpec for
//! IPv4 and IPv6, and routes are added and removed one by one with its CLI
//! (`gobgp global rib add|del`) against a running daemon: no config file to
//! rewrite and reload, so announcing never disturbs the other sessions. The
//! daemon (its peers, policies, next hop) is the operator's; vigil only
//! adds and removes its own routes in the global RIB.

use std::sync::Arc;

use crate::action::{host_len, Action, Backend, Flood, Kind};
use crate::config::BgpConfig;
use crate::sys::Sys;
use crate::{Error, Mitigator};

pub struct Bgp {
    cfg: BgpConfig,
    sys: Arc<dyn Sys>,
}

impl Bgp {
    pub fn new(cfg: &BgpConfig, sys: Arc<dyn Sys>) -> Self {
        Bgp {
            cfg: cfg.clone(),
            sys,
        }
    }

    /// The gobgp arguments announcing (`add`) or withdrawing (`del`) `a`.
    pub fn args(&self, a: &Action, verb: &str) -> Result<Vec<String>, Error> {
        let v4 = a.victim.is_ipv4();
        let prefix = format!("{}/{}", a.victim, host_len(a.victim));
        let mut args: Vec<String> = self.cfg.gobgp_args.clone();
        args.extend(["global", "rib", "-a"].map(String::from));
        match a.kind {
            Kind::Blackhole => {
                args.push(if v4 { "ipv4" } else { "ipv6" }.into());
                args.push(verb.into());
                args.push(prefix);
                if verb == "add" {
                    args.push("community".into());
                    args.push(self.cfg.community.clone());
                }
            }
            Kind::Flowspec => {
                args.push(if v4 { "ipv4-flowspec" } else { "ipv6-flowspec" }.into());
                args.push(verb.into());
                args.push("match".into());
                args.push("destination".into());
                args.push(prefix);
                let icmp = if v4 { "icmp" } else { "ipv6-icmp" };
                let (proto, extra): (Option<&str>, Vec<String>) = match a.flood {
                    Flood::Syn => (Some("tcp"), vec!["tcp-flags".into(), "=S".into()]),
                    Flood::Udp => (Some("udp"), vec![]),
                    Flood::Icmp => (Some(icmp), vec![]),
                    Flood::Amplification => {
                        let ports: Vec<String> =
                            a.src_ports.iter().map(|p| format!("=={p}")).collect();
                        if ports.is_empty() {
                            (Some("udp"), vec![])
                        } else {
                            (Some("udp"), vec!["source-port".into(), ports.join("|")])
                        }
                    }
                    Flood::Http | Flood::Slowloris => (
                        Some("tcp"),
                        a.dest_port
                            .map(|p| vec!["destination-port".into(), format!("=={p}")])
                            .unwrap_or_default(),
                    ),
                    Flood::Other => (None, vec![]),
                };
                if let Some(p) = proto {
                    args.push("protocol".into());
                    args.push(p.into());
                }
                args.extend(extra);
                args.push("then".into());
                if self.cfg.flowspec_rate_bytes == 0 {
                    args.push("discard".into());
                } else {
                    args.push("rate-limit".into());
                    args.push(self.cfg.flowspec_rate_bytes.to_string());
                }
            }
            _ => return Err(Error::Unsupported(a.kind.slug(), "bgp")),
        }
        Ok(args)
    }
}

impl Mitigator for Bgp {
    fn backend(&self) -> Backend {
        Backend::Bgp
    }
    fn announce(&mut self, a: &Action) -> Result<(), Error> {
        let args = self.args(a, "add")?;
        self.sys.run(&self.cfg.gobgp, &args, None).map(|_| ())
    }
    fn withdraw(&mut self, a: &Action) -> Result<(), Error> {
        let args = self.args(a, "del")?;
        match self.sys.run(&self.cfg.gobgp, &args, None) {
            // already gone (daemon restarted): withdrawn all the same
            Err(e) if e.to_string().contains("not in table") => Ok(()),
            r => r.map(|_| ()),
        }
    }
}
