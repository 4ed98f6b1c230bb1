//! XDP backend (cargo feature `xdp`): `bpf/vigil_xdp.c`, built by build.rs
//! with `clang -target bpf`, loaded and attached with aya (pure Rust, no
//! libbpf at run time). Blocked sources go into LPM tries (`BLOCK4`,
//! `BLOCK6`), per-victim limits into hash maps (`LIMIT4`, `LIMIT6`, a token
//! bucket the program refills), so a flood is dropped in the driver before
//! the kernel allocates anything for it.
//!
//! The program is loaded on the first action (a dry run never loads it) and
//! detached when the backend is dropped: the maps die with it, so nothing
//! outlives the sensor. Written in C rather than aya-ebpf because building
//! Rust for the BPF target needs bpf-linker, which Debian does not ship;
//! clang does.

use std::collections::HashMap as StdMap;
use std::net::IpAddr;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{HashMap, MapData, PerCpuArray};
use aya::programs::{Xdp as XdpProgram, XdpFlags};
use aya::Ebpf;

use crate::action::{Action, Backend, Flood, Kind};
use crate::config::XdpConfig;
use crate::{Error, Mitigator};

/// Aligned: the ELF parser reads headers in place.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vigil_xdp.o"));

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Command(format!("xdp {what}"), e.to_string())
}

pub struct Xdp {
    cfg: XdpConfig,
    bpf: Option<Ebpf>,
    refs: StdMap<IpAddr, u32>,
    /// The attach mode used ("driver" or "skb").
    pub mode: &'static str,
}

impl Xdp {
    pub fn new(cfg: &XdpConfig) -> Self {
        Xdp {
            cfg: cfg.clone(),
            bpf: None,
            refs: StdMap::new(),
            mode: "",
        }
    }

    /// Loads the program and attaches it to the configured interface.
    ///
    /// # Errors
    /// No interface, no privilege, a kernel without BPF or XDP.
    pub fn load(&mut self) -> Result<(), Error> {
        if self.bpf.is_some() {
            return Ok(());
        }
        if self.cfg.interface.is_empty() {
            return Err(Error::Config("[mitigate.xdp] interface is empty".into()));
        }
        let mut bpf = Ebpf::load(OBJECT).map_err(|e| err("load", e))?;
        let prog: &mut XdpProgram = bpf
            .program_mut("vigil_xdp")
            .ok_or_else(|| err("load", "no program vigil_xdp"))?
            .try_into()
            .map_err(|e| err("load", e))?;
        prog.load().map_err(|e| err("load", e))?;
        let iface = self.cfg.interface.clone();
        if !self.cfg.skb_mode && prog.attach(&iface, XdpFlags::DRV_MODE).is_ok() {
            self.mode = "driver";
        } else {
            prog.attach(&iface, XdpFlags::SKB_MODE)
                .map_err(|e| err(&format!("attach {iface}"), e))?;
            self.mode = "skb";
        }
        self.bpf = Some(bpf);
        Ok(())
    }

    fn bpf(&mut self) -> Result<&mut Ebpf, Error> {
        self.load()?;
        Ok(self.bpf.as_mut().expect("loaded"))
    }

    /// Packets dropped as blocked sources, dropped over a victim's limit,
    /// and passed (summed over CPUs).
    ///
    /// # Errors
    /// The program is not loaded.
    pub fn stats(&mut self) -> Result<[u64; 3], Error> {
        let bpf = self
            .bpf
            .as_mut()
            .ok_or_else(|| err("stats", "not loaded"))?;
        let m: PerCpuArray<&mut MapData, u64> =
            PerCpuArray::try_from(bpf.map_mut("STATS").ok_or_else(|| err("stats", "no map"))?)
                .map_err(|e| err("stats", e))?;
        let mut out = [0u64; 3];
        for (i, o) in out.iter_mut().enumerate() {
            let v = m.get(&(i as u32), 0).map_err(|e| err("stats", e))?;
            *o = v.iter().sum();
        }
        Ok(out)
    }

    fn block(&mut self, ip: IpAddr, add: bool) -> Result<(), Error> {
        let bpf = self.bpf()?;
        match ip {
            IpAddr::V4(a) => {
                let mut t: LpmTrie<&mut MapData, [u8; 4], u32> =
                    LpmTrie::try_from(bpf.map_mut("BLOCK4").ok_or_else(|| err("map", "BLOCK4"))?)
                        .map_err(|e| err("map", e))?;
                let k = Key::new(32, a.octets());
                if add {
                    t.insert(&k, 1, 0).map_err(|e| err("block", e))
                } else {
                    t.remove(&k).or(Ok(()))
                }
            }
            IpAddr::V6(a) => {
                let mut t: LpmTrie<&mut MapData, [u8; 16], u32> =
                    LpmTrie::try_from(bpf.map_mut("BLOCK6").ok_or_else(|| err("map", "BLOCK6"))?)
                        .map_err(|e| err("map", e))?;
                let k = Key::new(128, a.octets());
                if add {
                    t.insert(&k, 1, 0).map_err(|e| err("block", e))
                } else {
                    t.remove(&k).or(Ok(()))
                }
            }
        }
    }

    fn limit(&mut self, a: &Action, add: bool) -> Result<(), Error> {
        let proto = match a.flood {
            Flood::Syn | Flood::Http | Flood::Slowloris => 6,
            Flood::Udp | Flood::Amplification => 17,
            Flood::Icmp => {
                if a.victim.is_ipv4() {
                    1
                } else {
                    58
                }
            }
            Flood::Other => a.proto.unwrap_or(0) as u64,
        };
        let rate = a.rate_pps.unwrap_or(self.cfg.victim_pps);
        let burst = self.cfg.burst.max(1);
        // rate, burst, proto, tokens (full bucket, scaled by 1e9), last
        let value: [u64; 5] = [rate, burst, proto, burst * 1_000_000_000, 0];
        let bpf = self.bpf()?;
        match a.victim {
            IpAddr::V4(v) => {
                let mut key = [0u8; 8];
                key[..4].copy_from_slice(&32u32.to_ne_bytes());
                key[4..].copy_from_slice(&v.octets());
                let mut m: HashMap<&mut MapData, [u8; 8], [u64; 5]> =
                    HashMap::try_from(bpf.map_mut("LIMIT4").ok_or_else(|| err("map", "LIMIT4"))?)
                        .map_err(|e| err("map", e))?;
                if add {
                    m.insert(key, value, 0).map_err(|e| err("limit", e))
                } else {
                    m.remove(&key).or(Ok(()))
                }
            }
            IpAddr::V6(v) => {
                let mut key = [0u8; 20];
                key[..4].copy_from_slice(&128u32.to_ne_bytes());
                key[4..].copy_from_slice(&v.octets());
                let mut m: HashMap<&mut MapData, [u8; 20], [u64; 5]> =
                    HashMap::try_from(bpf.map_mut("LIMIT6").ok_or_else(|| err("map", "LIMIT6"))?)
                        .map_err(|e| err("map", e))?;
                if add {
                    m.insert(key, value, 0).map_err(|e| err("limit", e))
                } else {
                    m.remove(&key).or(Ok(()))
                }
            }
        }
    }
}

impl Mitigator for Xdp {
    fn backend(&self) -> Backend {
        Backend::Xdp
    }

    fn announce(&mut self, a: &Action) -> Result<(), Error> {
        match a.kind {
            Kind::RateLimit => self.limit(a, true),
            Kind::DropSources => {
                for ip in &a.sources {
                    if !self.refs.contains_key(ip) {
                        self.block(*ip, true)?;
                    }
                    *self.refs.entry(*ip).or_insert(0) += 1;
                }
                Ok(())
            }
            _ => Err(Error::Unsupported(a.kind.slug(), "xdp")),
        }
    }

    fn update(&mut self, old: &Action, new: &Action) -> Result<(), Error> {
        if new.kind == Kind::DropSources {
            let mut n = new.clone();
            n.sources.retain(|s| !old.sources.contains(s));
            self.announce(&n)?;
            let mut o = old.clone();
            o.sources.retain(|s| !new.sources.contains(s));
            return self.withdraw(&o);
        }
        self.withdraw(old)?;
        self.announce(new)
    }

    fn withdraw(&mut self, a: &Action) -> Result<(), Error> {
        if self.bpf.is_none() {
            // not loaded in this process: nothing of ours is attached
            return Ok(());
        }
        match a.kind {
            Kind::RateLimit => self.limit(a, false),
            Kind::DropSources => {
                for ip in &a.sources {
                    match self.refs.get_mut(ip) {
                        Some(n) if *n > 1 => *n -= 1,
                        _ => {
                            self.refs.remove(ip);
                            self.block(*ip, false)?;
                        }
                    }
                }
                Ok(())
            }
            _ => Err(Error::Unsupported(a.kind.slug(), "xdp")),
        }
    }
}
