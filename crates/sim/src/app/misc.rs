//! Small UDP protocols of background traffic: NTP and SNMP.

use crate::rng::Rng;

/// Seconds between 1900 (NTP era 0) and 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

fn ntp_ts(unix_nanos: u64) -> [u8; 8] {
    let secs = unix_nanos / 1_000_000_000 + NTP_UNIX_OFFSET;
    let frac = ((unix_nanos % 1_000_000_000) << 32) / 1_000_000_000;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(secs as u32).to_be_bytes());
    b[4..].copy_from_slice(&(frac as u32).to_be_bytes());
    b
}

/// An NTPv4 client request (mode 3) sent at `now` with poll exponent `poll`.
pub fn ntp_request(rng: &mut Rng, now: u64, poll: u8) -> Vec<u8> {
    let mut p = vec![0x23, 0, poll, 0xe9];
    p.extend_from_slice(&[0; 12]);
    p.extend_from_slice(&[0; 24]);
    let mut t = ntp_ts(now);
    t[7] = rng.u16() as u8;
    p.extend_from_slice(&t);
    p
}

/// The server's answer (mode 4, stratum 2) to a request sent at `sent`.
pub fn ntp_response(rng: &mut Rng, request: &[u8], now: u64) -> Vec<u8> {
    let mut p = vec![0x24, 2, request[2], 0xe7];
    p.extend_from_slice(&[0, 0, 0, 0x2a, 0, 0, 0, 0x3c]);
    p.extend_from_slice(&[0xc0, 0, 2, rng.u16() as u8]);
    p.extend_from_slice(&ntp_ts(now.saturating_sub(40_000_000_000)));
    p.extend_from_slice(&request[40..48]);
    p.extend_from_slice(&ntp_ts(now));
    p.extend_from_slice(&ntp_ts(now + 20_000));
    p
}

fn ber(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 128 {
        out.push(content.len() as u8);
    } else {
        out.extend_from_slice(&[0x81, content.len() as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn ber_int(v: u32) -> Vec<u8> {
    let mut b = v.to_be_bytes().to_vec();
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    if b[0] & 0x80 != 0 {
        b.insert(0, 0);
    }
    ber(0x02, &b)
}

/// sysUpTime.0, ifInOctets.1, ifOutOctets.1.
const OIDS: [&[u8]; 3] = [
    &[0x2b, 6, 1, 2, 1, 1, 3, 0],
    &[0x2b, 6, 1, 2, 1, 2, 2, 1, 10, 1],
    &[0x2b, 6, 1, 2, 1, 2, 2, 1, 16, 1],
];

/// An SNMPv2c GetRequest (or, with `values`, the GetResponse) for uptime and
/// interface counters.
pub fn snmp(community: &str, request_id: u32, values: Option<[u32; 3]>) -> Vec<u8> {
    let mut binds = Vec::new();
    for (i, oid) in OIDS.iter().enumerate() {
        let value = match values {
            Some(v) => {
                let tag = if i == 0 { 0x43 } else { 0x41 };
                let mut b = ber_int(v[i]);
                b[0] = tag;
                b
            }
            None => vec![0x05, 0],
        };
        binds.extend_from_slice(&ber(0x30, &[ber(0x06, oid), value].concat()));
    }
    let pdu_tag = if values.is_some() { 0xa2 } else { 0xa0 };
    let pdu = ber(
        pdu_tag,
        &[
            ber_int(request_id),
            ber_int(0),
            ber_int(0),
            ber(0x30, &binds),
        ]
        .concat(),
    );
    ber(
        0x30,
        &[ber_int(1), ber(0x04, community.as_bytes()), pdu].concat(),
    )
}
