//! Live packet capture: an AF_PACKET socket with a TPACKET_V3 receive ring,
//! optionally in a `PACKET_FANOUT` group so several workers share one
//! interface.
//!
//! Why TPACKET_V3: the kernel fills whole blocks (default 1 MiB) with
//! variable-size frames and hands a block over at once (when full, or when
//! its retire timeout passes), so user space pays one `poll` per block, not
//! per packet, and a frame costs only its own size in the ring. Packets are
//! borrowed straight out of the shared mapping: no copy, no allocation, no
//! syscall per packet. The one exception is a frame whose VLAN tag the
//! kernel moved into the ring header (VLAN offload): the tag is written back
//! into a scratch copy so the decoder sees the frame as it was on the wire.
//!
//! Fanout uses `PACKET_FANOUT_HASH` with `PACKET_FANOUT_FLAG_DEFRAG`: the
//! kernel's flow hash keeps both directions of a flow, and every fragment of
//! a datagram, on one socket, so each worker's IP reassembly stays whole.
//!
//! Kernel drops are read with `PACKET_STATISTICS` (which resets on read; the
//! ring accumulates them) and are reported, never hidden.
//!
//! All `unsafe` code of vigil's live path is in this file, next to the
//! system calls it needs; each block says why it is sound.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Errors opening or reading a ring.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("interface {0:?}: no such interface")]
    NoInterface(String),
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("ring config: {0}")]
    Config(String),
}

fn sys(what: &'static str) -> LiveError {
    LiveError::Sys {
        what,
        source: io::Error::last_os_error(),
    }
}

/// Settings of one ring (`[[run.af_packet]]` in the config file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// Interface name, e.g. "eth0".
    pub interface: String,
    /// Bytes per block: a multiple of the page size; 1 MiB holds ~700
    /// full-size frames, or many more small ones.
    pub block_size: u32,
    /// Blocks in the ring: the ring's memory is `block_size * block_count`
    /// per worker; this is what absorbs a burst while a worker is busy.
    pub block_count: u32,
    /// The kernel hands a partly filled block over after this many
    /// milliseconds, which bounds the latency at low rates.
    pub block_timeout_ms: u32,
    /// Fanout group id shared by the workers of one interface (`None`: the
    /// socket sees every packet of the interface alone).
    pub fanout_group: Option<u16>,
    /// Put the interface in promiscuous mode while the socket is open.
    pub promiscuous: bool,
    /// Also capture packets this host sends (`false` sets
    /// `PACKET_IGNORE_OUTGOING`).
    pub outgoing: bool,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            interface: String::new(),
            block_size: 1 << 20,
            block_count: 64,
            block_timeout_ms: 10,
            fanout_group: None,
            promiscuous: true,
            outgoing: true,
        }
    }
}

/// Kernel counters of a ring, cumulative since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets the kernel passed to the socket (including the dropped ones).
    pub packets: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was frozen (all blocks owned by user space).
    pub freeze_count: u64,
}

/// One captured frame, borrowed from the ring (or the VLAN scratch buffer).
#[derive(Debug)]
pub struct Packet<'a> {
    /// Kernel receive time, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes (starting at the Ethernet header).
    pub data: &'a [u8],
}

/// Linux constants not all libc versions export under the same path.
mod k {
    pub const TPACKET_V3: libc::c_int = 2;
    pub const PACKET_RX_RING: libc::c_int = 5;
    pub const PACKET_STATISTICS: libc::c_int = 6;
    pub const PACKET_VERSION: libc::c_int = 10;
    pub const PACKET_FANOUT: libc::c_int = 18;
    pub const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
    pub const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
    pub const PACKET_MR_PROMISC: libc::c_ushort = 1;
    pub const PACKET_FANOUT_HASH: u32 = 0;
    pub const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
    pub const PACKET_FANOUT_FLAG_IGNORE_OUTGOING: u32 = 0x4000;
    pub const TP_STATUS_KERNEL: u32 = 0;
    pub const TP_STATUS_USER: u32 = 1;
    pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
    pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
    pub const ETH_P_ALL: u16 = 0x0003;

    /// `struct tpacket_req3`.
    #[repr(C)]
    pub struct TpacketReq3 {
        pub block_size: u32,
        pub block_nr: u32,
        pub frame_size: u32,
        pub frame_nr: u32,
        pub retire_blk_tov: u32,
        pub sizeof_priv: u32,
        pub feature_req_word: u32,
    }

    /// `struct tpacket_stats_v3`.
    #[repr(C)]
    #[derive(Default)]
    pub struct TpacketStatsV3 {
        pub packets: u32,
        pub drops: u32,
        pub freeze_q_cnt: u32,
    }

    /// `struct packet_mreq`.
    #[repr(C)]
    pub struct PacketMreq {
        pub ifindex: libc::c_int,
        pub type_: libc::c_ushort,
        pub alen: libc::c_ushort,
        pub address: [u8; 8],
    }

    // Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then
    // `struct tpacket_hdr_v1`).
    pub const BLK_STATUS: usize = 8;
    pub const BLK_NUM_PKTS: usize = 12;
    pub const BLK_FIRST_PKT: usize = 16;
    // Offsets in `struct tpacket3_hdr`.
    pub const PKT_NEXT: usize = 0;
    pub const PKT_SEC: usize = 4;
    pub const PKT_NSEC: usize = 8;
    pub const PKT_SNAPLEN: usize = 12;
    pub const PKT_LEN: usize = 16;
    pub const PKT_STATUS: usize = 20;
    pub const PKT_MAC: usize = 24;
    pub const PKT_VLAN_TCI: usize = 32;
    pub const PKT_VLAN_TPID: usize = 36;
}

/// An open TPACKET_V3 receive ring.
pub struct Ring {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next_block: usize,
    stats: KernelStats,
    /// Frames with a VLAN tag put back (see the module docs).
    scratch: Vec<u8>,
}

// SAFETY: the mapping is owned by this value alone (no aliasing `Ring`), and
// the kernel side of the ring is synchronised through each block's status
// word; moving the owner to another thread is fine.
unsafe impl Send for Ring {}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live, initialised `T` of the given size for
    // the duration of the call; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The index of an interface, or an error naming it.
///
/// # Errors
/// [`LiveError::NoInterface`] when the name is unknown (in this namespace).
pub fn if_index(name: &str) -> Result<u32, LiveError> {
    let c = CString::new(name).map_err(|_| LiveError::NoInterface(name.into()))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(LiveError::NoInterface(name.into()))
    } else {
        Ok(i)
    }
}

impl Ring {
    /// Opens the socket, sets up and maps the ring, binds it to the
    /// interface and joins the fanout group.
    ///
    /// # Errors
    /// An unknown interface, a block size that is not a multiple of the page
    /// size, or a failing system call (most often: not root / no
    /// CAP_NET_RAW), named in the error.
    pub fn open(cfg: &RingConfig) -> Result<Ring, LiveError> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
        if cfg.block_size < page || !cfg.block_size.is_multiple_of(page) {
            return Err(LiveError::Config(format!(
                "block_size {} must be a multiple of the page size {page}",
                cfg.block_size
            )));
        }
        if cfg.block_count == 0 {
            return Err(LiveError::Config("block_count must be at least 1".into()));
        }
        let ifindex = if_index(&cfg.interface)?;
        let proto_be = k::ETH_P_ALL.to_be();
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto_be as libc::c_int) };
        if raw < 0 {
            return Err(sys("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        setsockopt(s, libc::SOL_PACKET, k::PACKET_VERSION, &k::TPACKET_V3).map_err(|e| {
            LiveError::Sys {
                what: "PACKET_VERSION TPACKET_V3",
                source: e,
            }
        })?;
        if !cfg.outgoing {
            let one: libc::c_int = 1;
            setsockopt(s, libc::SOL_PACKET, k::PACKET_IGNORE_OUTGOING, &one).map_err(|e| {
                LiveError::Sys {
                    what: "PACKET_IGNORE_OUTGOING",
                    source: e,
                }
            })?;
        }
        // frame_size only matters for the frame count the kernel checks;
        // V3 packs variable-size frames.
        let frame_size = 2048u32;
        let req = k::TpacketReq3 {
            block_size: cfg.block_size,
            block_nr: cfg.block_count,
            frame_size,
            frame_nr: (cfg.block_size / frame_size) * cfg.block_count,
            retire_blk_tov: cfg.block_timeout_ms.max(1),
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        setsockopt(s, libc::SOL_PACKET, k::PACKET_RX_RING, &req).map_err(|e| LiveError::Sys {
            what: "PACKET_RX_RING",
            source: e,
        })?;
        let map_len = cfg.block_size as usize * cfg.block_count as usize;
        // SAFETY: maps the ring the kernel just allocated for this socket;
        // the result is checked against MAP_FAILED.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                s,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(sys("mmap(ring)"));
        }
        let mut ring = Ring {
            fd,
            map: map.cast(),
            map_len,
            block_size: cfg.block_size as usize,
            block_count: cfg.block_count as usize,
            next_block: 0,
            stats: KernelStats::default(),
            scratch: Vec::with_capacity(1 << 16),
        };
        // SAFETY: zeroed sockaddr_ll is a valid value; fields set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto_be;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and its size is passed.
        let r = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(sys("bind(interface)"));
        }
        if cfg.promiscuous {
            let mreq = k::PacketMreq {
                ifindex: ifindex as i32,
                type_: k::PACKET_MR_PROMISC,
                alen: 0,
                address: [0; 8],
            };
            setsockopt(s, libc::SOL_PACKET, k::PACKET_ADD_MEMBERSHIP, &mreq).map_err(|e| {
                LiveError::Sys {
                    what: "PACKET_ADD_MEMBERSHIP promisc",
                    source: e,
                }
            })?;
        }
        if let Some(group) = cfg.fanout_group {
            // in a fanout group the group's hook decides about outgoing
            // packets, not the socket's PACKET_IGNORE_OUTGOING
            let mut flags = k::PACKET_FANOUT_HASH | k::PACKET_FANOUT_FLAG_DEFRAG;
            if !cfg.outgoing {
                flags |= k::PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
            }
            let arg: u32 = group as u32 | (flags << 16);
            setsockopt(s, libc::SOL_PACKET, k::PACKET_FANOUT, &arg).map_err(|e| {
                LiveError::Sys {
                    what: "PACKET_FANOUT",
                    source: e,
                }
            })?;
        }
        // Start from a clean counter (packets seen before the bind).
        let _ = ring.stats();
        ring.stats = KernelStats::default();
        Ok(ring)
    }

    fn block_ptr(&self, i: usize) -> *mut u8 {
        // SAFETY (of the arithmetic): i < block_count, so the offset stays
        // inside the mapping.
        unsafe { self.map.add(i * self.block_size) }
    }

    fn block_status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the status word is a naturally aligned u32 inside the
        // mapping (blocks are page aligned), shared with the kernel; it is
        // only ever accessed atomically from user space.
        unsafe { &*(self.block_ptr(i).add(k::BLK_STATUS) as *const AtomicU32) }
    }

    /// Waits up to `timeout` for the next block the kernel filled.
    /// `Ok(None)` when none came in time (or a signal interrupted the wait).
    ///
    /// # Errors
    /// A failing `poll` (other than EINTR).
    pub fn next_block(&mut self, timeout: Duration) -> Result<Option<Block<'_>>, LiveError> {
        let i = self.next_block;
        if self.block_status(i).load(Ordering::Acquire) & k::TP_STATUS_USER == 0 {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe {
                libc::poll(
                    &mut pfd,
                    1,
                    timeout.as_millis().min(i32::MAX as u128) as i32,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(None);
                }
                return Err(LiveError::Sys {
                    what: "poll(ring)",
                    source: e,
                });
            }
            if self.block_status(i).load(Ordering::Acquire) & k::TP_STATUS_USER == 0 {
                return Ok(None);
            }
        }
        let base = self.block_ptr(i);
        // SAFETY: the block belongs to user space (TP_STATUS_USER, acquire
        // above) until `Block` is dropped; its header fields are in bounds.
        let (num, first) = unsafe {
            (
                (base.add(k::BLK_NUM_PKTS) as *const u32).read(),
                (base.add(k::BLK_FIRST_PKT) as *const u32).read(),
            )
        };
        self.next_block = (i + 1) % self.block_count;
        Ok(Some(Block {
            ring: self,
            index: i,
            left: num,
            offset: first as usize,
        }))
    }

    /// Kernel counters since the ring was opened (reading them is one
    /// `getsockopt`: call it once a second, not per packet).
    ///
    /// # Errors
    /// A failing `getsockopt`.
    pub fn stats(&mut self) -> Result<KernelStats, LiveError> {
        let mut st = k::TpacketStatsV3::default();
        let mut len = std::mem::size_of::<k::TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `st` is a writable TpacketStatsV3 and `len` its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                k::PACKET_STATISTICS,
                (&mut st as *mut k::TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(sys("getsockopt(PACKET_STATISTICS)"));
        }
        // The kernel's tp_packets includes the drops; it resets on read.
        self.stats.packets += st.packets as u64;
        self.stats.drops += st.drops as u64;
        self.stats.freeze_count += st.freeze_q_cnt as u64;
        Ok(self.stats)
    }

    /// Bytes of ring memory mapped.
    pub fn memory(&self) -> usize {
        self.map_len
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; no `Block`
        // borrowing it can outlive `self`.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}

/// A block of packets owned by user space; dropping it hands the block back
/// to the kernel.
pub struct Block<'r> {
    ring: &'r mut Ring,
    index: usize,
    left: u32,
    offset: usize,
}

impl Block<'_> {
    /// The next packet of the block, `None` at its end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Packet<'_>> {
        if self.left == 0 {
            return None;
        }
        let bs = self.ring.block_size;
        // the header must lie inside the block; a corrupt offset ends it
        if self.offset.checked_add(48).is_none_or(|e| e > bs) {
            self.left = 0;
            return None;
        }
        let base = self.ring.block_ptr(self.index);
        // SAFETY: the block is ours (see `next_block`), the header lies
        // inside it (checked above), reads are unaligned-safe.
        let h = unsafe { base.add(self.offset) };
        let rd = |off: usize| -> u32 {
            // SAFETY: off < 48, inside the header checked above.
            unsafe { (h.add(off) as *const u32).read_unaligned() }
        };
        let next = rd(k::PKT_NEXT) as usize;
        let sec = rd(k::PKT_SEC) as u64;
        let nsec = rd(k::PKT_NSEC) as u64;
        let snap = rd(k::PKT_SNAPLEN) as usize;
        let len = rd(k::PKT_LEN);
        let status = rd(k::PKT_STATUS);
        // SAFETY: inside the header.
        let mac = unsafe { (h.add(k::PKT_MAC) as *const u16).read_unaligned() } as usize;
        let tci = rd(k::PKT_VLAN_TCI) as u16;
        // SAFETY: inside the header.
        let tpid = unsafe { (h.add(k::PKT_VLAN_TPID) as *const u16).read_unaligned() };
        let start = self.offset + mac;
        let data_ok = start.checked_add(snap).is_some_and(|e| e <= bs);
        self.left -= 1;
        let cur = self.offset;
        self.offset = if next == 0 { bs } else { cur + next };
        if !data_ok {
            self.left = 0;
            return None;
        }
        // SAFETY: [start, start+snap) lies inside the block (checked), which
        // stays ours while `self` borrows the ring.
        let data = unsafe { std::slice::from_raw_parts(base.add(start), snap) };
        let ts = sec * 1_000_000_000 + nsec;
        if status & k::TP_STATUS_VLAN_VALID != 0 && data.len() >= 12 {
            // put the offloaded 802.1Q tag back after the MAC addresses
            let tpid = if status & k::TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                tpid
            } else {
                0x8100
            };
            let s = &mut self.ring.scratch;
            s.clear();
            s.extend_from_slice(&data[..12]);
            s.extend_from_slice(&tpid.to_be_bytes());
            s.extend_from_slice(&tci.to_be_bytes());
            s.extend_from_slice(&data[12..]);
            return Some(Packet {
                ts,
                orig_len: len + 4,
                data: &self.ring.scratch,
            });
        }
        Some(Packet {
            ts,
            orig_len: len,
            data,
        })
    }

    /// Packets left in the block.
    pub fn remaining(&self) -> u32 {
        self.left
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        self.ring
            .block_status(self.index)
            .store(k::TP_STATUS_KERNEL, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_interface_is_named() {
        let e = Ring::open(&RingConfig {
            interface: "vigil-no-such0".into(),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("vigil-no-such0"), "{e}");
    }

    #[test]
    fn bad_block_size_is_refused() {
        let e = Ring::open(&RingConfig {
            interface: "lo".into(),
            block_size: 1000,
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(matches!(e, LiveError::Config(_)), "{e}");
    }
}
