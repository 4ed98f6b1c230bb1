//! Property tests: arbitrary and mutated bytes never panic the readers, always
//! terminate, and every packet handed out stays within the input.

mod common;

use common::*;
use proptest::prelude::*;

/// Read until end or error; each packet consumes at least 12 input bytes, so
/// more than `len / 12 + 1` packets would mean a loop.
fn exercise(data: &[u8], plain_len: usize) {
    let Ok(mut s) = open_bytes(data) else { return };
    let limit = plain_len / 12 + 2;
    let mut n = 0;
    let mut bytes = 0usize;
    loop {
        if n % 3 == 0 {
            match s.peek_ts() {
                Ok(Some(_)) | Ok(None) => {}
                Err(e) => {
                    assert!(!e.to_string().contains('\n'));
                    break;
                }
            }
        }
        match s.next_packet() {
            Ok(Some(p)) => {
                bytes += p.data.len();
                n += 1;
                assert!(n <= limit, "more packets than the input can hold");
            }
            Ok(None) => {
                assert!(s.next_packet().map(|p| p.is_none()).unwrap_or(true));
                break;
            }
            Err(e) => {
                assert!(e.to_string().starts_with("test.pcap: "));
                break;
            }
        }
    }
    assert!(bytes <= plain_len);
    for w in s.take_warnings() {
        assert!(w.starts_with("test.pcap: "));
    }
    let _ = s.progress();
}

fn prefixes() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        pcap_header(false, false, 1),
        pcap_header(true, true, 101),
        shb(false, &[]),
        [shb(false, &[]), idb(false, 1, 0, &[])].concat(),
        [shb(true, &[]), idb(true, 113, 64, &opt(true, 9, &[0x85]))].concat(),
    ]
}

fn valid_files() -> Vec<Vec<u8>> {
    let mut p = pcap_header(false, false, 1);
    for i in 0..5u32 {
        p.extend(pcap_record(false, i, i, 70, &[i as u8; 70]));
    }
    let mut ng = [
        shb(false, &[]),
        idb(false, 1, 0, &[]),
        idb(false, 101, 0, &opt(false, 9, &[9])),
    ]
    .concat();
    ng.extend(epb(false, 1, 5, 20, &[1; 20]));
    ng.extend(spb(false, 30, &[2; 30]));
    ng.extend(pb(false, 0, 9, 8, &[3; 8]));
    ng.extend(shb(true, &[]));
    ng.extend(idb(true, 1, 0, &opt(true, 14, &[0xff; 8])));
    ng.extend(epb(true, 0, u64::MAX, 4, &[4; 4]));
    vec![p, ng]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_after_a_header(pre in 0usize..6, tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let data = [prefixes()[pre].clone(), tail].concat();
        exercise(&data, data.len());
    }

    #[test]
    fn mutated_valid_files(which in 0usize..2, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        let mut data = valid_files()[which].clone();
        for (at, v) in flips {
            let i = at % data.len();
            data[i] = v;
        }
        data.truncate(cut % (data.len() + 1));
        exercise(&data, data.len());
    }

    #[test]
    fn gzip_wrapped(pre in 0usize..6, tail in proptest::collection::vec(any::<u8>(), 0..300), flip in proptest::option::of((any::<usize>(), any::<u8>()))) {
        let plain = [prefixes()[pre].clone(), tail].concat();
        let mut gz = gzip(&plain);
        if let Some((at, v)) = flip {
            let i = at % gz.len();
            gz[i] = v;
        }
        // A flipped byte can only change the decompressed content, not
        // lengthen it beyond what deflate can express; bound generously.
        exercise(&gz, plain.len().max(gz.len()) * 1100);
    }
}

#[test]
fn pure_noise_never_panics() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..400 {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        exercise(&data, data.len());
    }
}
