//! Capture time: nanoseconds since the Unix epoch, and its EVE rendering.

/// Nanoseconds since 1970-01-01T00:00:00Z, capture time.
pub type Nanos = u64;
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Days since the epoch to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats capture time as EVE does: `2011-04-17T10:00:06.250000+0000`
/// (microseconds, UTC).
pub fn format_eve_ts(ts: Nanos) -> String {
    let mut s = String::with_capacity(31);
    push_eve_ts(&mut s, ts);
    s
}

/// Appends capture time in EVE's format to `out`, without allocating (EVE
/// writes three per flow record).
pub fn push_eve_ts(out: &mut String, ts: Nanos) {
    let secs = ts / NANOS_PER_SEC;
    let micros = (ts % NANOS_PER_SEC) / 1_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    digits(out, y.clamp(0, 9999) as u64, 4, '-');
    digits(out, m as u64, 2, '-');
    digits(out, d as u64, 2, 'T');
    digits(out, rem / 3600, 2, ':');
    digits(out, (rem / 60) % 60, 2, ':');
    digits(out, rem % 60, 2, '.');
    digits(out, micros, 6, '+');
    out.push_str("0000");
}

/// `n` decimal digits of `v` (zero-padded), then `sep`.
fn digits(out: &mut String, v: u64, n: u32, sep: char) {
    let mut p = 10u64.pow(n - 1);
    for _ in 0..n {
        out.push((b'0' + ((v / p) % 10) as u8) as char);
        p /= 10;
    }
    out.push(sep);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_eve_ts(0), "1970-01-01T00:00:00.000000+0000");
        // 2011-04-17T10:00:06.25Z
        assert_eq!(
            format_eve_ts(1_303_034_406_250_000_000),
            "2011-04-17T10:00:06.250000+0000"
        );
        // leap day
        assert_eq!(
            format_eve_ts(951_782_400 * NANOS_PER_SEC),
            "2000-02-29T00:00:00.000000+0000"
        );
    }
}
