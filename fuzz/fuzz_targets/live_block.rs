//! A TPACKET_V3 block as `vigil run` walks it: arbitrary bytes as block
//! memory must never make the walk read outside the block or panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    for f in vigil_live::parse_block(data) {
        let d = &data[f.data_start..f.data_start + f.data_len];
        if let Some(tag) = f.vlan {
            vigil_live::restore_vlan(d, tag, &mut scratch);
        }
    }
});
