//! Feed arbitrary bytes (plain or gzip, pcap or pcapng) through
//! `vigil_capture::open_reader` and drain the source: it must never panic,
//! hang, or hand out a packet larger than the input or the caplen cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut src) = vigil_capture::open_reader("fuzz", r, Some(data.len() as u64)) else {
        return;
    };
    let mut n = 0u64;
    loop {
        if n % 2 == 0 && src.peek_ts().is_err() {
            break;
        }
        match src.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= vigil_capture::MAX_CAPLEN);
                n += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = src.take_warnings();
    let _ = src.progress();
});
