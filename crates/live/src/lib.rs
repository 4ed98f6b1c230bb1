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
//! Fanout uses `PACKET_FANOUT_HASH`: the kernel's flow hash is symmetric, so
//! both directions of a flow go to one socket, and it leaves ports out for
//! IP fragments, so every fragment of a datagram (hashed on addresses and
//! protocol) goes to one socket too and each worker's IP reassembly stays
//! whole. `PACKET_FANOUT_FLAG_DEFRAG` is not used: it would have the kernel
//! reassemble before capture, and the frames counted would no longer be the
//! frames on the wire (as `vigil analyze` counts them in a capture file).
//!
//! Kernel drops are read with `PACKET_STATISTICS` (which resets on read; the
//! ring accumulates them) and are reported, never hidden.
//!
//! All `unsafe` code of vigil's live path is in this file, next to the
//! system calls it needs; each block says why it is sound. The block walk
//! itself ([`parse_frame`], [`parse_block`]) is safe code over the block's
//! bytes, property-tested and fuzzed (`fuzz/fuzz_targets/live_block.rs`).
//!
//! Crates considered: `af_packet` (TPACKET_V3 and fanout, but GPL-3.0, which
//! this Apache-2.0 project cannot take), `pnet_datalink` (a socket read per
//! packet, no mmap ring or fanout), `netring` (TPACKET_V3 and AF_XDP, young,
//! and a larger API than the ~300 lines of `libc` calls needed here). The
//! kernel structures are read at fixed offsets rather than through `libc`'s
//! definitions, whose module paths moved between `libc` releases.

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
            let mut flags = k::PACKET_FANOUT_HASH;
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
                if pfd.revents & libc::POLLERR != 0 {
                    // e.g. ENETDOWN: the interface went away under us
                    if let Some(e) = self.take_error() {
                        return Err(LiveError::Sys {
                            what: "capture socket",
                            source: e,
                        });
                    }
                }
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
            offset: Some(first as usize),
        }))
    }

    /// The socket's pending error (SO_ERROR), if any.
    fn take_error(&self) -> Option<io::Error> {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` is a writable c_int and `len` its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0 && err != 0).then(|| io::Error::from_raw_os_error(err))
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
    offset: Option<usize>,
}

/// One frame header of a TPACKET_V3 block, parsed from the block's bytes by
/// [`parse_frame`] (safe code, property-tested and fuzzed on arbitrary
/// bytes: a corrupt block ends early, it never reads out of bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHdr {
    /// Kernel receive time, ns since the epoch.
    pub ts: u64,
    /// Length on the wire.
    pub orig_len: u32,
    /// Where the captured bytes start in the block, and how many.
    pub data_start: usize,
    pub data_len: usize,
    /// An 802.1Q/802.1ad tag the kernel took out of the frame: (TPID, TCI).
    pub vlan: Option<(u16, u16)>,
    /// Offset of the next frame in the block, if any.
    pub next: Option<usize>,
}

/// Size of `struct tpacket3_hdr` as far as it is read.
const FRAME_HDR: usize = 48;
/// Size of `struct tpacket_block_desc`.
const BLOCK_HDR: usize = 48;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

/// Parses the frame header at `offset` of `block`. `None` when the header
/// or its data would lie outside the block.
pub fn parse_frame(block: &[u8], offset: usize) -> Option<FrameHdr> {
    let h = block.get(offset..offset.checked_add(FRAME_HDR)?)?;
    let next = u32_at(h, k::PKT_NEXT) as usize;
    let snap = u32_at(h, k::PKT_SNAPLEN) as usize;
    let status = u32_at(h, k::PKT_STATUS);
    let mac = u16_at(h, k::PKT_MAC) as usize;
    let data_start = offset.checked_add(mac)?;
    if data_start.checked_add(snap)? > block.len() {
        return None;
    }
    let vlan = (status & k::TP_STATUS_VLAN_VALID != 0).then(|| {
        let tpid = u16_at(h, k::PKT_VLAN_TPID);
        let tpid = if status & k::TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
            tpid
        } else {
            0x8100
        };
        (tpid, u32_at(h, k::PKT_VLAN_TCI) as u16)
    });
    Some(FrameHdr {
        ts: (u32_at(h, k::PKT_SEC) as u64) * 1_000_000_000 + u32_at(h, k::PKT_NSEC) as u64,
        orig_len: u32_at(h, k::PKT_LEN),
        data_start,
        data_len: snap,
        vlan,
        next: (next != 0).then(|| offset.checked_add(next)).flatten(),
    })
}

/// The frames of a whole block (header included), as the ring walks them:
/// packet count and first offset from the block header, then each frame's
/// next offset. Used by the tests and the fuzz target.
pub fn parse_block(block: &[u8]) -> Vec<FrameHdr> {
    let mut out = Vec::new();
    if block.len() < BLOCK_HDR {
        return out;
    }
    let mut left = u32_at(block, k::BLK_NUM_PKTS);
    let mut at = Some(u32_at(block, k::BLK_FIRST_PKT) as usize);
    while left > 0 {
        let Some(f) = at.and_then(|o| parse_frame(block, o)) else {
            break;
        };
        out.push(f);
        at = f.next;
        left -= 1;
    }
    out
}

/// Writes `data` into `scratch` with the tag put back after the two MAC
/// addresses (as it was on the wire). Frames shorter than 12 bytes are
/// copied unchanged.
pub fn restore_vlan(data: &[u8], (tpid, tci): (u16, u16), scratch: &mut Vec<u8>) {
    scratch.clear();
    if data.len() < 12 {
        scratch.extend_from_slice(data);
        return;
    }
    scratch.extend_from_slice(&data[..12]);
    scratch.extend_from_slice(&tpid.to_be_bytes());
    scratch.extend_from_slice(&tci.to_be_bytes());
    scratch.extend_from_slice(&data[12..]);
}

impl Block<'_> {
    /// The next packet of the block, `None` at its end (or at a corrupt
    /// frame header, which ends the block).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Packet<'_>> {
        if self.left == 0 {
            return None;
        }
        let offset = self.offset?;
        // SAFETY: the block belongs to user space until `self` is dropped
        // (TP_STATUS_USER, acquired in `next_block`): the kernel does not
        // write it meanwhile, and the slice lives no longer than the borrow
        // of `self`, so it is gone before `drop` hands the block back.
        let block: &[u8] = unsafe {
            std::slice::from_raw_parts(self.ring.block_ptr(self.index), self.ring.block_size)
        };
        let Some(f) = parse_frame(block, offset) else {
            self.left = 0;
            return None;
        };
        self.left -= 1;
        self.offset = f.next;
        let data = &block[f.data_start..f.data_start + f.data_len];
        match f.vlan {
            Some(tag) if data.len() >= 12 => {
                restore_vlan(data, tag, &mut self.ring.scratch);
                Some(Packet {
                    ts: f.ts,
                    orig_len: f.orig_len.saturating_add(4),
                    data: &self.ring.scratch,
                })
            }
            _ => Some(Packet {
                ts: f.ts,
                orig_len: f.orig_len,
                data,
            }),
        }
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

/// Asks for a receive buffer of `bytes` on a UDP socket (flow-export
/// collectors: bursts of datagrams wait there). Tries `SO_RCVBUFFORCE`
/// (CAP_NET_ADMIN, beyond `net.core.rmem_max`) first, then `SO_RCVBUF`;
/// returns the size the kernel granted (it doubles the request for its
/// bookkeeping).
///
/// # Errors
/// Neither option could be set.
pub fn set_recv_buffer(sock: &std::net::UdpSocket, bytes: usize) -> io::Result<usize> {
    let fd = sock.as_raw_fd();
    let v = bytes.min(i32::MAX as usize) as libc::c_int;
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &v).is_err() {
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &v)?;
    }
    let mut got: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `got` is a writable c_int and `len` its size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got.max(0) as usize)
}

/// Datagrams the kernel dropped for a bound UDP socket because its receive
/// buffer was full: the `drops` column of `/proc/net/udp` (or `udp6`) for
/// the socket's inode. `None` when the socket is not found there.
pub fn udp_drops(sock: &std::net::UdpSocket) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd()))
        .ok()?
        .ino();
    let table = if sock.local_addr().ok()?.is_ipv6() {
        "/proc/net/udp6"
    } else {
        "/proc/net/udp"
    };
    udp_drops_in(&std::fs::read_to_string(table).ok()?, inode)
}

/// The `drops` column of the row whose inode is `inode` in a
/// `/proc/net/udp`-format table.
pub fn udp_drops_in(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 13 && f[9].parse::<u64>().ok()? == inode).then(|| f[12].parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A block as the kernel lays it out: header, then frames 16-aligned.
    type TestFrame<'a> = (&'a [u8], Option<(u16, u16)>);

    fn block(frames: &[TestFrame]) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK_HDR];
        b[k::BLK_NUM_PKTS..k::BLK_NUM_PKTS + 4]
            .copy_from_slice(&(frames.len() as u32).to_ne_bytes());
        b[k::BLK_FIRST_PKT..k::BLK_FIRST_PKT + 4]
            .copy_from_slice(&(BLOCK_HDR as u32).to_ne_bytes());
        for (i, (data, vlan)) in frames.iter().enumerate() {
            let at = b.len();
            let mac = FRAME_HDR + 2; // as the kernel: some padding before the frame
            let size = (mac + data.len()).next_multiple_of(16);
            b.resize(at + size, 0);
            let h = &mut b[at..];
            let last = i + 1 == frames.len();
            h[0..4].copy_from_slice(&(if last { 0 } else { size as u32 }).to_ne_bytes());
            h[4..8].copy_from_slice(&1_700_000_000u32.to_ne_bytes());
            h[8..12].copy_from_slice(&(i as u32).to_ne_bytes());
            h[12..16].copy_from_slice(&(data.len() as u32).to_ne_bytes());
            h[16..20].copy_from_slice(&(data.len() as u32 + 100).to_ne_bytes());
            let mut status = k::TP_STATUS_USER;
            if let Some((tpid, tci)) = vlan {
                status |= k::TP_STATUS_VLAN_VALID | k::TP_STATUS_VLAN_TPID_VALID;
                h[32..36].copy_from_slice(&(*tci as u32).to_ne_bytes());
                h[36..38].copy_from_slice(&tpid.to_ne_bytes());
            }
            h[20..24].copy_from_slice(&status.to_ne_bytes());
            h[24..26].copy_from_slice(&(mac as u16).to_ne_bytes());
            h[mac..mac + data.len()].copy_from_slice(data);
        }
        b
    }

    #[test]
    fn block_frames_and_vlan_restore() {
        let eth: Vec<u8> = (0..60u8).collect();
        let b = block(&[
            (&eth, None),
            (&eth[..20], Some((0x88a8, 0x0123))),
            (&[], None),
        ]);
        let f = parse_block(&b);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].ts, 1_700_000_000 * 1_000_000_000);
        assert_eq!(f[1].ts, 1_700_000_000 * 1_000_000_000 + 1);
        assert_eq!(f[0].orig_len, 160);
        assert_eq!(
            &b[f[0].data_start..f[0].data_start + f[0].data_len],
            &eth[..]
        );
        assert_eq!(f[1].vlan, Some((0x88a8, 0x0123)));
        assert_eq!(f[2].data_len, 0);
        assert_eq!(f[2].next, None);
        let mut s = Vec::new();
        restore_vlan(&eth[..20], f[1].vlan.unwrap(), &mut s);
        assert_eq!(&s[..12], &eth[..12]);
        assert_eq!(&s[12..16], &[0x88, 0xa8, 0x01, 0x23]);
        assert_eq!(&s[16..], &eth[12..20]);
    }

    #[test]
    fn corrupt_offsets_end_the_block() {
        let eth = [7u8; 40];
        let mut b = block(&[(&eth, None), (&eth, None)]);
        // first frame's data length beyond the block
        b[BLOCK_HDR + 12..BLOCK_HDR + 16].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_block(&b).is_empty());
        // a packet count larger than the frames present
        let mut b = block(&[(&eth, None)]);
        b[k::BLK_NUM_PKTS..k::BLK_NUM_PKTS + 4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(parse_block(&b).len(), 1);
    }

    proptest! {
        #[test]
        fn arbitrary_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            for f in parse_block(&bytes) {
                prop_assert!(f.data_start + f.data_len <= bytes.len());
                let mut s = Vec::new();
                if let Some(tag) = f.vlan {
                    restore_vlan(&bytes[f.data_start..f.data_start + f.data_len], tag, &mut s);
                }
            }
        }
    }

    #[test]
    fn udp_drops_of_a_real_socket() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(udp_drops(&s), Some(0));
        let got = set_recv_buffer(&s, 1 << 20).unwrap();
        assert!(got >= 100_000, "{got}");
        let row = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                   1: 0100007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n";
        assert_eq!(udp_drops_in(row, 4242), Some(17));
        assert_eq!(udp_drops_in(row, 1), None);
    }

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
