//! `vigil query`: rows from the store, filtered, as a table, JSON or CSV.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use vigil_store::{Filter, Store};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum What {
    Alerts,
    Incidents,
    Flows,
    Runs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// One JSON array of objects.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// What to list.
    #[arg(value_enum, default_value = "alerts")]
    pub what: What,
    /// The store written by `vigil analyze --store`.
    #[arg(long, value_name = "FILE.db")]
    pub store: PathBuf,
    /// An address on either side (alerts, flows) or among an incident's
    /// hosts and attackers.
    #[arg(long, value_parser = parse_ip)]
    pub ip: Option<String>,
    /// From this capture time: RFC 3339 (2024-05-01T10:00:00Z) or Unix
    /// seconds.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<i64>,
    /// Up to this capture time (same forms as --since).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<i64>,
    /// Category: dos, scan, bruteforce, exfiltration, beaconing, dns-tunnel,
    /// lateral-movement.
    #[arg(long)]
    pub category: Option<String>,
    /// Alerts of this incident, or flows between its hosts and attackers.
    #[arg(long)]
    pub incident: Option<u64>,
    /// Only this run (`vigil query runs` lists them); default: all runs.
    #[arg(long)]
    pub run: Option<i64>,
    #[arg(long)]
    pub limit: Option<u64>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// An address as the store writes it (so `2001:DB8::01` finds `2001:db8::1`).
fn parse_ip(s: &str) -> Result<String, String> {
    s.trim()
        .parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .map_err(|_| format!("{s:?}: not an IP address"))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (UTC `Z` or an offset; fractions up to ns) or Unix seconds, to
/// ns since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?}: not a time (use 2024-05-01T10:00:00Z or Unix seconds)");
    if let Some(secs) = s
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && x.abs() < 9.2e9)
    {
        return Ok((secs * 1e9).round() as i64);
    }
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return Err(bad());
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    let mut frac_ns = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(bad());
        }
        let mut padded = digits.clone();
        padded.truncate(9);
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().map_err(|_| bad())?;
        rest = &r[digits.len()..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        o if (o.len() == 6 && o.as_bytes()[3] == b':' || o.len() == 5)
            && (o.starts_with('+') || o.starts_with('-')) =>
        {
            let m = o.len() - 2;
            let (Some(oh), Some(om)) = (
                o.get(1..3).and_then(|x| x.parse::<i64>().ok()),
                o.get(m..).and_then(|x| x.parse::<i64>().ok()),
            ) else {
                return Err(bad());
            };
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(bad()),
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    // nanoseconds in an i64 end in 2262
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_ns))
        .ok_or_else(|| format!("{s:?}: out of range (years 1678 to 2262)"))
}

pub fn ts(ns: i64) -> String {
    crate::eve::ts(ns.max(0) as u64)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Rows as (header, cells) for the table and CSV forms.
fn render<W: Write>(
    out: &mut W,
    format: Format,
    header: &[&str],
    rows: Vec<Vec<String>>,
    json: serde_json::Value,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &json)?;
            writeln!(out)
        }
        Format::Csv => {
            writeln!(out, "{}", header.join(","))?;
            for r in rows {
                let cells: Vec<String> = r.iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
            Ok(())
        }
        Format::Table => {
            let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
            for r in &rows {
                for (w, c) in width.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                let mut s = String::new();
                for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
                    if i + 1 == cells.len() {
                        s.push_str(c);
                    } else {
                        s.push_str(&format!("{c:<w$}  "));
                    }
                }
                s.trim_end().to_string()
            };
            writeln!(out, "{}", line(header.to_vec()))?;
            for r in &rows {
                writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
            }
            Ok(())
        }
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Runs the query and prints it.
///
/// # Errors
/// The store cannot be read, or stdout is gone (a broken pipe is not an
/// error: the caller exits 0).
pub fn run(a: &QueryArgs) -> anyhow::Result<()> {
    let st = Store::open_existing(&a.store)?;
    let f = Filter {
        run: a.run,
        ip: a.ip.clone(),
        since: a.since,
        until: a.until,
        category: a.category.clone(),
        incident: a.incident,
        limit: a.limit,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let res = match a.what {
        What::Alerts => {
            let rows = st.alerts(&f)?;
            let cells = rows
                .iter()
                .map(|r| {
                    vec![
                        ts(r.ts_ns),
                        r.category.clone(),
                        r.severity.to_string(),
                        opt(&r.src_ip),
                        opt(&r.dest_ip),
                        opt(&r.dest_port),
                        r.signature.clone(),
                    ]
                })
                .collect();
            let json = serde_json::Value::Array(
                rows.iter()
                    .map(|r| {
                        let mut v = to_json(r);
                        v["timestamp"] = ts(r.ts_ns).into();
                        v
                    })
                    .collect(),
            );
            render(
                &mut out,
                a.format,
                &[
                    "time",
                    "category",
                    "sev",
                    "src",
                    "dest",
                    "dport",
                    "signature",
                ],
                cells,
                json,
            )
        }
        What::Incidents => {
            let rows = st.incidents(&f)?;
            let cells = rows
                .iter()
                .map(|r| {
                    vec![
                        r.run_id.to_string(),
                        opt(&r.rank),
                        r.id.to_string(),
                        ts(r.first_ns),
                        ts(r.last_ns),
                        r.categories.join(","),
                        if r.under_flood_cover { "yes" } else { "" }.into(),
                        r.summary.clone(),
                    ]
                })
                .collect();
            let json = serde_json::Value::Array(
                rows.iter()
                    .map(|r| {
                        let mut v = to_json(r);
                        v["first"] = ts(r.first_ns).into();
                        v["last"] = ts(r.last_ns).into();
                        v
                    })
                    .collect(),
            );
            render(
                &mut out,
                a.format,
                &[
                    "run",
                    "rank",
                    "id",
                    "first",
                    "last",
                    "categories",
                    "flood_cover",
                    "summary",
                ],
                cells,
                json,
            )
        }
        What::Flows => {
            let rows = st.flows(&f)?;
            let cells = rows
                .iter()
                .map(|r| {
                    vec![
                        ts(r.start_ns),
                        ts(r.end_ns),
                        vigil_core::proto::name(r.proto)
                            .map(str::to_string)
                            .unwrap_or_else(|| r.proto.to_string()),
                        format!("{}:{}", r.src_ip, r.src_port),
                        format!("{}:{}", r.dest_ip, r.dest_port),
                        r.pkts_toserver.to_string(),
                        r.pkts_toclient.to_string(),
                        r.bytes_toserver.to_string(),
                        r.bytes_toclient.to_string(),
                        opt(&r.app_proto),
                    ]
                })
                .collect();
            let json = serde_json::Value::Array(rows.iter().map(to_json).collect());
            render(
                &mut out,
                a.format,
                &[
                    "start",
                    "end",
                    "proto",
                    "src",
                    "dest",
                    "pkts_out",
                    "pkts_in",
                    "bytes_out",
                    "bytes_in",
                    "app",
                ],
                cells,
                json,
            )
        }
        What::Runs => {
            let rows = st.runs()?;
            let cells = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.started_at.clone(),
                        r.status.clone(),
                        r.command.clone(),
                        r.inputs.join(" "),
                        opt(&r.packets),
                        opt(&r.flows),
                        opt(&r.alerts),
                    ]
                })
                .collect();
            let json = serde_json::Value::Array(rows.iter().map(to_json).collect());
            render(
                &mut out,
                a.format,
                &[
                    "run", "started", "status", "command", "inputs", "packets", "flows", "alerts",
                ],
                cells,
                json,
            )
        }
    };
    match res.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("0"), Ok(0));
        assert_eq!(parse_time("1.5"), Ok(1_500_000_000));
        assert_eq!(
            parse_time("2017-01-27T16:36:15.606552Z"),
            Ok(1_485_534_975_606_552_000)
        );
        assert_eq!(
            parse_time("2017-01-27T17:36:15+01:00"),
            Ok(1_485_534_975_000_000_000)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        // EVE's own form
        assert_eq!(
            parse_time("2017-01-27T16:36:15.606552+0000"),
            Ok(1_485_534_975_606_552_000)
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("NaN").is_err());
        assert!(parse_time("1e300").is_err());
        assert!(parse_time("2017-13-01T00:00:00Z").is_err());
        assert!(parse_time("2017-01-01T00:00:00.Z").is_err());
        // past what nanoseconds since 1970 hold in 64 bits
        assert!(parse_time("9999-01-01T00:00:00Z").is_err());
        // not a char boundary where an offset's digits would be
        assert!(parse_time("2017-01-01T00:00:00+0\u{e9}0").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_a_time_or_an_error(s in ".{0,40}") {
            let _ = parse_time(&s);
        }

        #[test]
        fn any_rfc3339_shaped_text_is_a_time_or_an_error(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:?[0-9]{2}|.{0,3})"
        ) {
            let _ = parse_time(&s);
        }
    }
}
