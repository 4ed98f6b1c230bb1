//! A test rig shared by the detectors' tests: feeds one detector packets in
//! time order and ticks it every second of capture time, as the engine does.

use vigil_core::{proto, Addr, FlowCtx, Nanos, PacketInfo, NANOS_PER_SEC};

use crate::{Ctx, Detector, Out};

pub const SEC: Nanos = NANOS_PER_SEC;
pub const T0: Nanos = 1_700_000_000 * SEC;

/// An inside address (10.0.0.0/8); the rig treats 10/8 as home.
pub fn home(i: u32) -> Addr {
    Addr::v4((0x0A00_0000u32 | (i & 0xff_ffff)).to_be_bytes())
}

/// An outside address (192.0.0.0/2).
pub fn outside(i: u32) -> Addr {
    Addr::v4((0xC000_0000u32 | (i & 0x3fff_ffff)).to_be_bytes())
}

pub struct Rig<D: Detector> {
    pub d: D,
    pub out: Out,
    next_tick: Nanos,
}

impl<D: Detector> Rig<D> {
    pub fn with(d: D) -> Self {
        Rig {
            d,
            out: Vec::new(),
            next_tick: T0 + SEC,
        }
    }
    pub fn advance(&mut self, ts: Nanos) {
        while ts >= self.next_tick {
            self.d.on_tick(self.next_tick, &mut self.out);
            self.next_tick += SEC;
        }
    }
    pub fn pkt(&mut self, p: PacketInfo, f: FlowCtx) {
        self.advance(p.ts);
        let c = Ctx {
            p: &p,
            flow: &f,
            src_home: p.src.bytes[0] == 10,
            dst_home: p.dst.bytes[0] == 10,
        };
        self.d.on_packet(&c, &mut self.out);
    }
}

/// A header-only TCP segment (60-byte frame).
pub fn tcp(ts: Nanos, src: Addr, dst: Addr, sport: u16, dport: u16, flags: u8) -> PacketInfo {
    PacketInfo {
        ts,
        src,
        dst,
        proto: proto::TCP,
        sport,
        dport,
        tcp_flags: flags,
        frames: 1,
        wire_len: 60,
        ip_len: 40,
        ..Default::default()
    }
}
