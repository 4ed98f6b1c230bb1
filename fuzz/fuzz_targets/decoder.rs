//! Fuzzes `vigil_wire::Decoder`: the first byte picks a supported link type,
//! the rest is split into frames (2-byte big-endian length prefixes, the last
//! frame takes what is left) fed through one decoder so fragment reassembly
//! sees sequences; `expire` runs midway and at the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_wire::{linktype, Decoded, Decoder, DecoderConfig};

fuzz_target!(|input: &[u8]| {
    let Some((&sel, mut rest)) = input.split_first() else {
        return;
    };
    let lt = linktype::ALL[usize::from(sel) % linktype::ALL.len()];
    let cfg = DecoderConfig {
        max_trains: 8,
        max_held_bytes: 64 * 1024,
        max_frags_per_datagram: 64,
        ..DecoderConfig::default()
    };
    let mut d = Decoder::new(cfg);
    let mut ts = 0u64;
    let mut n = 0u32;
    while !rest.is_empty() {
        let frame = if rest.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let body = &rest[2..];
            let len = len.min(body.len());
            let (f, r) = body.split_at(len);
            rest = r;
            f
        } else {
            std::mem::take(&mut rest)
        };
        // Odd frames claim a longer wire length (snaplen cut).
        let wire = frame.len() as u32 + if n % 2 == 1 { 100 } else { 0 };
        if let Decoded::Ip { info, payload } = d.decode(lt, ts, wire, frame) {
            assert_eq!(info.payload_len as usize, payload.len());
        }
        assert!(d.held_bytes() <= cfg.max_held_bytes);
        n += 1;
        ts += 1_000_000_000;
        if n % 8 == 0 {
            d.expire(ts);
        }
    }
    d.expire(u64::MAX);
    assert_eq!(d.held_bytes(), 0);
    let c = d.counters();
    assert_eq!(c.ip + c.arp + c.non_ip + c.frag_held + c.bad, c.frames);
    assert_eq!(c.frag_frames, c.reassembled_frames + c.frag_dropped_frames);
    let _ = d.anomalies().count();
});
