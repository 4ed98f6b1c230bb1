//! Property tests: arbitrary bytes never panic on any link type; arbitrary
//! fragment sequences keep held memory under the cap and account every frame.

mod common;

use common::*;
use proptest::prelude::*;
use vigil_wire::{linktype, Decoded, Decoder, DecoderConfig};

fn check(d: &Decoder) {
    let c = d.counters();
    assert_eq!(c.ip + c.arp + c.non_ip + c.frag_held + c.bad, c.frames);
    assert_eq!(
        c.frag_frames,
        c.reassembled_frames + c.frag_dropped_frames + d.held_frames()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_any_link(
        lt in prop::sample::select(linktype::ALL.to_vec()),
        data in prop::collection::vec(any::<u8>(), 0..200),
        extra in 0u32..2000,
    ) {
        let mut d = Decoder::default();
        let wire = data.len() as u32 + extra;
        if let Decoded::Ip { info, payload } = d.decode(lt, 0, wire, &data) {
            prop_assert!(payload.len() <= data.len());
            prop_assert_eq!(info.payload_len as usize, payload.len());
        }
        check(&d);
    }

    /// Mostly-valid headers with random tails reach the deeper layers.
    #[test]
    fn mutated_good_frames(
        which in 0usize..3,
        flips in prop::collection::vec((0usize..120, any::<u8>()), 0..6),
        cut in 0usize..130,
    ) {
        let mut f = match which {
            0 => syn_frame(),
            1 => eth(0x86dd, &ipv6(0, A6, B6, &[&ext(44, 0)[..], &frag6(17, 8, true, 1), &[0u8; 40]].concat())),
            _ => eth_vlan(&[(0x88a8, 3)], 0x0800, &V4::new(17).build(&udp(1, 2, &[0; 60]))),
        };
        for (i, b) in flips {
            if i < f.len() {
                f[i] = b;
            }
        }
        f.truncate(cut);
        let mut d = Decoder::default();
        let _ = d.decode(linktype::ETHERNET, 0, cut as u32, &f);
        d.expire(u64::MAX);
        check(&d);
        prop_assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn fragment_sequences_stay_bounded(
        frags in prop::collection::vec(
            (0u16..4, 0usize..9000, 1usize..1500, any::<bool>(), 0u64..5, any::<u8>(), any::<bool>()),
            1..200,
        ),
    ) {
        let cfg = DecoderConfig {
            max_trains: 3,
            max_held_bytes: 20_000,
            max_frags_per_datagram: 50,
            ..DecoderConfig::default()
        };
        let mut d = Decoder::new(cfg);
        let mut ts = 0u64;
        for (id, off, len, mf, dt, fill, v6) in frags {
            ts += dt * 4_000_000_000;
            let off = off & !7;
            let f = if v6 {
                let mut rest = frag6(17, off, mf, u32::from(id));
                rest.extend(std::iter::repeat_n(fill, len));
                ipv6(44, A6, B6, &rest)
            } else {
                let mut v = V4::new(17);
                v.ident = id;
                v.offset = off;
                v.mf = mf;
                v.build(&vec![fill; len])
            };
            let _ = d.decode(linktype::RAW, ts, f.len() as u32, &f);
            prop_assert!(d.held_bytes() <= cfg.max_held_bytes);
            prop_assert!(d.held_trains() <= cfg.max_trains);
            check(&d);
        }
        d.expire(u64::MAX);
        prop_assert_eq!(d.held_bytes(), 0);
        prop_assert_eq!(d.held_frames(), 0);
        check(&d);
    }
}
