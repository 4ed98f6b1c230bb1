//! The Markdown form: the same content as the HTML page, for tickets and
//! chat. The chart becomes a small table of the busiest buckets.

use std::fmt::Write;

use crate::{bytes_text, ts, Report};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        cell(&v.join(", "))
    }
}

pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", r.title);
    let _ = writeln!(
        s,
        "Run {} of `{}` ({}) over {}; home networks {}; generated {} by vigil {}.\n",
        r.run.id,
        r.store,
        r.run.status,
        r.run.inputs.join(", "),
        r.run.home_net.join(", "),
        r.generated_at,
        r.run.version
    );
    let sm = &r.summary;
    s.push_str("## Summary\n\n");
    for h in &sm.headline {
        let _ = writeln!(s, "- {h}");
    }
    s.push_str("\n| | |\n|---|---|\n");
    let _ = writeln!(
        s,
        "| When | alerts from {} to {} |",
        sm.first_alert.as_deref().unwrap_or("-"),
        sm.last_alert.as_deref().unwrap_or("-")
    );
    let _ = writeln!(s, "| Inside hosts involved | {} |", list(&sm.hosts));
    let _ = writeln!(s, "| Outside addresses | {} |", list(&sm.attackers));
    let _ = writeln!(
        s,
        "| Data that left | {} to {} |",
        bytes_text(sm.bytes_out),
        list(&sm.bytes_out_to)
    );
    let _ = writeln!(s, "| Names seen | {} |", list(&sm.names));
    let _ = writeln!(
        s,
        "| Alerts / incidents | {} / {} |\n",
        sm.alerts, sm.incidents
    );

    s.push_str("## Traffic timeline\n\nBusiest moments (bits per second per bucket):\n\n| bucket start | Mbit/s | alerts in it |\n|---|---:|---|\n");
    let w = (r.timeline.width_s * 1e9) as i64;
    let mut busiest: Vec<_> = r.timeline.points.iter().collect();
    busiest.sort_by_key(|p| std::cmp::Reverse(p.2));
    let mut top: Vec<_> = busiest.into_iter().take(10).collect();
    top.sort_by_key(|p| p.0);
    for p in top {
        let n = r
            .timeline
            .alerts
            .iter()
            .filter(|a| a.0 >= p.0 && a.0 < p.0 + w)
            .count();
        let _ = writeln!(
            s,
            "| {} | {:.2} | {} |",
            ts(p.0),
            p.2 as f64 * 8.0 / r.timeline.width_s.max(1e-9) / 1e6,
            n
        );
    }
    s.push_str("\n## Incidents, most important first\n\n");
    if r.incidents.is_empty() {
        s.push_str("No incident.\n");
    }
    for i in &r.incidents {
        let inc = &i.incident;
        let _ = writeln!(
            s,
            "### #{} {}{}\n",
            inc.rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            cell(&inc.summary),
            if inc.under_flood_cover && !inc.summary.contains("cover") {
                " — under cover of a flood"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "- Incident id: `{}`; categories: {}",
            inc.id,
            inc.categories.join(", ")
        );
        let _ = writeln!(s, "- When: {} to {}", i.first, i.last);
        let _ = writeln!(
            s,
            "- Inside hosts: {}; outside: {}",
            list(&inc.hosts),
            list(&inc.attackers)
        );
        if !inc.attackers.is_empty() && !inc.hosts.is_empty() {
            let _ = writeln!(
                s,
                "- Sent by the hosts to them: {}",
                bytes_text(i.bytes_out)
            );
        }
        if !i.names.is_empty() {
            let names: Vec<String> = i
                .names
                .iter()
                .map(|n| format!("{} ({})", n.name, n.kind))
                .collect();
            let _ = writeln!(s, "- Names seen: {}", list(&names));
        }
        if let Some(e) = &i.excerpt {
            let _ = writeln!(
                s,
                "- Packet excerpt: `{}` ({} packets{}), sha256 `{}`",
                e.path,
                e.packets,
                if e.truncated {
                    ", cut by the disk budget"
                } else {
                    ""
                },
                e.sha256
            );
        }
        if !i.alerts.is_empty() {
            s.push_str(
                "\n| time | category | source | destination | signature |\n|---|---|---|---|---|\n",
            );
            for a in &i.alerts {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {}{} | {} |",
                    ts(a.ts_ns),
                    a.category,
                    a.src_ip.as_deref().unwrap_or(""),
                    a.dest_ip.as_deref().unwrap_or(""),
                    a.dest_port.map(|p| format!(":{p}")).unwrap_or_default(),
                    cell(&a.signature)
                );
            }
        }
        if !i.actions.is_empty() {
            s.push_str("\nRecommended actions:\n\n");
            for (n, a) in i.actions.iter().enumerate() {
                let _ = writeln!(s, "{}. {a}", n + 1);
            }
        }
        s.push('\n');
    }
    s.push_str("## Evidence and how to verify it\n\n");
    if !r.evidence.excerpts.is_empty() {
        s.push_str("| incident | file | packets | sha256 |\n|---|---|---:|---|\n");
        for e in &r.evidence.excerpts {
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} | `{}` |",
                e.incident_id, e.path, e.packets, e.sha256
            );
        }
        s.push('\n');
    }
    for (n, h) in r.evidence.how_to_verify.iter().enumerate() {
        let _ = writeln!(s, "{}. {h}", n + 1);
    }
    s
}
