//! nftables backend: everything lives in one table, `inet vigil`, which
//! vigil creates (afresh on first use) and owns; no other table is ever
//! read for changes or touched.
//!
//! ```text
//! table inet vigil {
//!   set drop4 { type ipv4_addr; }   set drop6 { type ipv6_addr; }
//!   chain pre { type filter hook prerouting priority raw; policy accept;
//!     ip saddr @drop4 counter drop          # few real attackers
//!     ip6 saddr @drop6 counter drop
//!     ip daddr V <flood match> limit rate over N/second burst B packets
//!         counter drop comment "vigil:ID"  # one per rate-limit action
//!   }
//! }
//! ```
//!
//! Hooked at prerouting, priority raw: a flood is dropped before conntrack
//! spends memory on it, for the router's own addresses and forwarded
//! traffic alike. Changes go through `nft -f -` (one atomic transaction
//! each); a rule is found again for withdrawal by its comment in
//! `nft -j list chain` (handles do not survive a restart, comments do).
//! Two drop-source actions may name the same source: it is removed from
//! the set when the last of them goes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::action::{Action, Backend, Flood, Kind};
use crate::config::NftConfig;
use crate::sys::Sys;
use crate::{Error, Mitigator};

pub const TABLE: &str = "vigil";

pub struct Nft {
    cfg: NftConfig,
    sys: Arc<dyn Sys>,
    ready: bool,
    /// Drop-set members → actions naming them.
    refs: HashMap<IpAddr, u32>,
}

impl Nft {
    pub fn new(cfg: &NftConfig, sys: Arc<dyn Sys>) -> Self {
        Nft {
            cfg: cfg.clone(),
            sys,
            ready: false,
            refs: HashMap::new(),
        }
    }

    fn apply(&self, script: &str) -> Result<(), Error> {
        self.sys
            .run(
                &self.cfg.nft,
                &["-f".into(), "-".into()],
                Some(script.as_bytes()),
            )
            .map(|_| ())
    }

    /// Creates the table afresh (dropping whatever a previous run left in
    /// it): `add` then `delete` then the full definition, in one
    /// transaction, so it works whether the table existed or not.
    ///
    /// # Errors
    /// nft failed (not installed, no privilege).
    pub fn setup(&mut self) -> Result<(), Error> {
        let script = format!(
            "add table inet {TABLE}\ndelete table inet {TABLE}\n\
             table inet {TABLE} {{\n\
             \tset drop4 {{ type ipv4_addr; }}\n\
             \tset drop6 {{ type ipv6_addr; }}\n\
             \tchain pre {{\n\
             \t\ttype filter hook prerouting priority raw; policy accept;\n\
             \t\tip saddr @drop4 counter drop comment \"vigil:drop4\"\n\
             \t\tip6 saddr @drop6 counter drop comment \"vigil:drop6\"\n\
             \t}}\n}}\n"
        );
        self.apply(&script)?;
        self.ready = true;
        self.refs.clear();
        Ok(())
    }

    /// Removes the table (and every vigil rule with it).
    ///
    /// # Errors
    /// nft failed.
    pub fn teardown(&mut self) -> Result<(), Error> {
        self.apply(&format!(
            "add table inet {TABLE}\ndelete table inet {TABLE}\n"
        ))?;
        self.ready = false;
        self.refs.clear();
        Ok(())
    }

    fn ensure(&mut self) -> Result<(), Error> {
        if !self.ready {
            self.setup()?;
        }
        Ok(())
    }

    /// The rule text of a rate-limit action.
    pub fn rule(&self, a: &Action) -> String {
        let (fam, icmp) = if a.victim.is_ipv4() {
            ("ip", "icmp")
        } else {
            ("ip6", "icmpv6")
        };
        let shape = match a.flood {
            Flood::Syn => "tcp flags & (syn|ack) == syn".to_string(),
            Flood::Udp => "meta l4proto udp".to_string(),
            Flood::Icmp => format!("meta l4proto {icmp}"),
            Flood::Amplification => {
                let ports: Vec<String> = a.src_ports.iter().map(u16::to_string).collect();
                if ports.is_empty() {
                    "meta l4proto udp".to_string()
                } else {
                    format!("udp sport {{ {} }}", ports.join(", "))
                }
            }
            Flood::Http | Flood::Slowloris => match a.dest_port {
                Some(p) => format!("tcp dport {p} tcp flags & (syn|ack) == syn"),
                None => "tcp flags & (syn|ack) == syn".to_string(),
            },
            Flood::Other => match a.proto {
                Some(p) => format!("meta l4proto {p}"),
                None => String::new(),
            },
        };
        format!(
            "{fam} daddr {} {shape} limit rate over {}/second burst {} packets counter drop comment \"vigil:{}\"",
            a.victim,
            a.rate_pps.unwrap_or(self.cfg.victim_pps),
            self.cfg.burst,
            a.id
        )
    }

    fn elements(&self, ips: &[IpAddr], add: bool) -> String {
        let mut s = String::new();
        for (set, v4) in [("drop4", true), ("drop6", false)] {
            let xs: Vec<String> = ips
                .iter()
                .filter(|ip| ip.is_ipv4() == v4)
                .map(IpAddr::to_string)
                .collect();
            if !xs.is_empty() {
                let verb = if add { "add" } else { "delete" };
                s.push_str(&format!(
                    "{verb} element inet {TABLE} {set} {{ {} }}\n",
                    xs.join(", ")
                ));
            }
        }
        s
    }

    fn add_sources(&mut self, ips: &[IpAddr]) -> Result<(), Error> {
        let fresh: Vec<IpAddr> = ips
            .iter()
            .filter(|ip| !self.refs.contains_key(ip))
            .copied()
            .collect();
        if !fresh.is_empty() {
            self.apply(&self.elements(&fresh, true))?;
        }
        for ip in ips {
            *self.refs.entry(*ip).or_insert(0) += 1;
        }
        Ok(())
    }

    fn remove_sources(&mut self, ips: &[IpAddr]) -> Result<(), Error> {
        let mut gone = Vec::new();
        for ip in ips {
            match self.refs.get_mut(ip) {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    self.refs.remove(ip);
                    gone.push(*ip);
                }
                // not ours in this run (a previous run's state): remove it
                None => gone.push(*ip),
            }
        }
        if gone.is_empty() {
            return Ok(());
        }
        self.apply(&self.elements(&gone, false))
    }

    /// The handle of the rule carrying `vigil:ID`, if present.
    ///
    /// # Errors
    /// nft failed or printed something that is not its JSON.
    pub fn find_rule(&self, id: &str) -> Result<Option<u64>, Error> {
        let out = self.sys.run(
            &self.cfg.nft,
            &[
                "-j".into(),
                "list".into(),
                "chain".into(),
                "inet".into(),
                TABLE.into(),
                "pre".into(),
            ],
            None,
        )?;
        let v: serde_json::Value = serde_json::from_str(&out)
            .map_err(|e| Error::Command("nft -j list chain".into(), e.to_string()))?;
        let want = format!("vigil:{id}");
        let rules = v["nftables"].as_array().cloned().unwrap_or_default();
        Ok(rules.iter().find_map(|r| {
            let r = r.get("rule")?;
            (r.get("comment")?.as_str()? == want).then(|| r.get("handle")?.as_u64())?
        }))
    }
}

impl Mitigator for Nft {
    fn backend(&self) -> Backend {
        Backend::Nftables
    }

    fn announce(&mut self, a: &Action) -> Result<(), Error> {
        self.ensure()?;
        match a.kind {
            Kind::RateLimit => self.apply(&format!("add rule inet {TABLE} pre {}\n", self.rule(a))),
            Kind::DropSources => self.add_sources(&a.sources),
            _ => Err(Error::Unsupported(a.kind.slug(), "nftables")),
        }
    }

    fn update(&mut self, old: &Action, new: &Action) -> Result<(), Error> {
        self.ensure()?;
        if new.kind == Kind::DropSources {
            let added: Vec<IpAddr> = new
                .sources
                .iter()
                .filter(|s| !old.sources.contains(s))
                .copied()
                .collect();
            let removed: Vec<IpAddr> = old
                .sources
                .iter()
                .filter(|s| !new.sources.contains(s))
                .copied()
                .collect();
            self.add_sources(&added)?;
            return self.remove_sources(&removed);
        }
        self.withdraw(old)?;
        self.announce(new)
    }

    fn withdraw(&mut self, a: &Action) -> Result<(), Error> {
        match a.kind {
            Kind::RateLimit => match self.find_rule(&a.id) {
                Ok(Some(h)) => self.apply(&format!("delete rule inet {TABLE} pre handle {h}\n")),
                Ok(None) => Ok(()),
                // no table: nothing of ours is left
                Err(e) if e.to_string().contains("No such file") => Ok(()),
                Err(e) => Err(e),
            },
            Kind::DropSources => match self.remove_sources(&a.sources) {
                Err(e) if e.to_string().contains("No such file") => Ok(()),
                r => r,
            },
            _ => Err(Error::Unsupported(a.kind.slug(), "nftables")),
        }
    }
}
