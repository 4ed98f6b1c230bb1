//! `vigil verify` on arbitrary bytes: never panics; whatever it accepts is a
//! chain whose every record re-hashes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = vigil_evidence::verify_bytes(data) {
        // an accepted file has one newline-terminated record per line
        assert_eq!(
            v.records as usize,
            data.iter().filter(|&&b| b == b'\n').count()
        );
    }
});
