//! The HTML form: one self-contained page (inline CSS, inline SVG chart, no
//! script, no external fetch), readable on screen and printed.

use std::fmt::Write;

use crate::{bytes_text, esc, ts, Report, Timeline};

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 10px;border-bottom:2px solid #d0d7de;padding-bottom:4px}
h3{font-size:17px;margin:0 0 6px}
.meta{color:#57606a;font-size:13px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;margin:12px 0}
.headline li{font-size:16px;margin:4px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;color:#fff;margin-right:4px}
.cover{background:#b42318}
.sev1{border-left:6px solid #b42318}.sev2{border-left:6px solid #dd7a00}.sev3{border-left:6px solid #8c959f}
.facts th{width:180px}
svg text{font-size:11px;fill:#57606a}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px;vertical-align:middle}
";

/// Colour of a category's markers and badges.
pub fn color(category: &str) -> &'static str {
    match category {
        "dos" => "#d62728",
        "scan" => "#ff7f0e",
        "bruteforce" => "#9467bd",
        "exfiltration" => "#e0218a",
        "beaconing" => "#8c564b",
        "dns-tunnel" => "#17becf",
        "lateral-movement" => "#2ca02c",
        _ => "#57606a",
    }
}

fn badge(cat: &str) -> String {
    format!(
        "<span class=\"badge\" style=\"background:{}\">{}</span>",
        color(cat),
        esc(cat)
    )
}

fn axis_rate(v: f64) -> String {
    let units = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    let mut v = v;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.0} {}", units[u])
}

/// The traffic chart: bits per second over capture time, alerts marked.
fn chart(t: &Timeline) -> String {
    let (w, h) = (1000.0f64, 280.0f64);
    let (l, r, top, bot) = (70.0, 15.0, 15.0, 40.0);
    let pw = w - l - r;
    let ph = h - top - bot;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"timeline\" role=\"img\" aria-label=\"Traffic over time with alerts\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    let _ = write!(
        s,
        "<rect x=\"{l}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"#ffffff\" stroke=\"#d0d7de\"/>"
    );
    if t.points.is_empty() {
        s.push_str(
            "<text x=\"500\" y=\"140\" text-anchor=\"middle\">no traffic recorded</text></svg>",
        );
        return s;
    }
    let width_ns = (t.width_s * 1e9) as i64;
    let t0 = t.points[0].0;
    let t1 = t.points.last().map_or(t0 + 1, |p| p.0 + width_ns);
    let span = (t1 - t0).max(1) as f64;
    let rate = |bytes: i64| bytes as f64 * 8.0 / t.width_s.max(1e-9);
    let max = t.points.iter().map(|p| rate(p.2)).fold(1.0f64, f64::max);
    let x = |ns: i64| l + (ns - t0) as f64 / span * pw;
    let y = |v: f64| top + ph - v / max * ph;
    // grid and y labels
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            "<line x1=\"{l}\" y1=\"{yy:.1}\" x2=\"{}\" y2=\"{yy:.1}\" stroke=\"#eaeef2\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            l + pw,
            l - 6.0,
            yy + 4.0,
            axis_rate(v)
        );
    }
    // x labels: start, middle, end
    for (k, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
        let ns = t0 + (span * k) as i64;
        let label = ts(ns);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            x(ns),
            top + ph + 16.0,
            esc(label.get(..19).unwrap_or(&label)).replace('T', " ")
        );
    }
    // the traffic area (step per bucket)
    let mut d = format!("M{:.1},{:.1}", x(t0), y(0.0));
    for p in &t.points {
        let v = rate(p.2);
        let _ = write!(
            d,
            " L{:.1},{:.1} L{:.1},{:.1}",
            x(p.0),
            y(v),
            x(p.0 + width_ns),
            y(v)
        );
    }
    let _ = write!(d, " L{:.1},{:.1} Z", x(t1), y(0.0));
    let _ = write!(
        s,
        "<path id=\"traffic\" d=\"{d}\" fill=\"#1f77b4\" fill-opacity=\"0.35\" stroke=\"#1f77b4\" stroke-width=\"1.2\"/>"
    );
    // alert markers
    for (at, cat, sig) in &t.alerts {
        let xx = x(*at).clamp(l, l + pw);
        let c = color(cat);
        let _ = write!(
            s,
            "<g class=\"alert-marker\" data-category=\"{}\"><title>{} {}: {}</title><line x1=\"{xx:.1}\" y1=\"{top}\" x2=\"{xx:.1}\" y2=\"{}\" stroke=\"{c}\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/><circle cx=\"{xx:.1}\" cy=\"{}\" r=\"6\" fill=\"{c}\"/></g>",
            esc(cat),
            esc(&ts(*at)),
            esc(cat),
            esc(sig),
            top + ph,
            top + 7.0,
        );
    }
    s.push_str("</svg>");
    let mut cats: Vec<&str> = t.alerts.iter().map(|a| a.1.as_str()).collect();
    cats.sort_unstable();
    cats.dedup();
    s.push_str(
        "<div class=\"legend\"><span><i style=\"background:#1f77b4\"></i>traffic (bit/s)</span>",
    );
    for c in cats {
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{} alert</span>",
            color(c),
            esc(c)
        );
    }
    s.push_str("</div>");
    s
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        esc(&v.join(", "))
    }
}

/// The whole page.
pub fn html(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body><main>",
        esc(&r.title)
    );
    let _ = write!(
        s,
        "<h1>{}</h1><div class=\"meta\">Run {} of <code>{}</code> ({}) over {} — home networks {} — generated {} by vigil {}</div>",
        esc(&r.title),
        r.run.id,
        esc(&r.store),
        esc(&r.run.status),
        esc(&r.run.inputs.join(", ")),
        esc(&r.run.home_net.join(", ")),
        esc(&r.generated_at),
        esc(&r.run.version)
    );
    let sm = &r.summary;
    s.push_str("<h2 id=\"summary\">Summary</h2><div class=\"card\"><ul class=\"headline\">");
    for h in &sm.headline {
        let _ = write!(s, "<li>{}</li>", esc(h));
    }
    s.push_str("</ul><table class=\"facts\">");
    let mut fact = |k: &str, v: String| {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
    };
    fact(
        "When",
        format!(
            "alerts from {} to {} (capture {} to {})",
            esc(sm.first_alert.as_deref().unwrap_or("-")),
            esc(sm.last_alert.as_deref().unwrap_or("-")),
            esc(sm.capture_first.as_deref().unwrap_or("-")),
            esc(sm.capture_last.as_deref().unwrap_or("-"))
        ),
    );
    fact("Inside hosts involved", list(&sm.hosts));
    fact("Outside addresses", list(&sm.attackers));
    fact(
        "Data that left",
        format!(
            "{} to {}",
            esc(&bytes_text(sm.bytes_out)),
            list(&sm.bytes_out_to)
        ),
    );
    fact("Names seen", list(&sm.names));
    fact(
        "Alerts / incidents",
        format!("{} / {}", sm.alerts, sm.incidents),
    );
    s.push_str("</table></div>");

    s.push_str("<h2 id=\"timeline-h\">Traffic timeline</h2><div class=\"card\">");
    s.push_str(&chart(&r.timeline));
    let _ = write!(
        s,
        "<div class=\"meta\">Bits per second per {:.0}-second bucket (flows spread over their lifetime), every alert marked.</div></div>",
        r.timeline.width_s
    );

    s.push_str("<h2 id=\"incidents\">Incidents, most important first</h2>");
    if r.incidents.is_empty() {
        s.push_str("<div class=\"card\">No incident.</div>");
    }
    for i in &r.incidents {
        let inc = &i.incident;
        let _ = write!(
            s,
            "<div class=\"card incident sev{}\" id=\"incident-{}\"><h3>#{} {}</h3><div>",
            inc.severity.clamp(1, 3),
            inc.id,
            inc.rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            esc(&inc.summary)
        );
        if inc.under_flood_cover {
            s.push_str("<span class=\"badge cover\">under cover of a flood</span>");
        }
        for c in &inc.categories {
            s.push_str(&badge(c));
        }
        let _ = write!(
            s,
            "</div><table class=\"facts\"><tr><th>Incident id</th><td><code>{}</code></td></tr><tr><th>When</th><td>{} to {}</td></tr><tr><th>Inside hosts</th><td>{}</td></tr><tr><th>Outside addresses</th><td>{}</td></tr>",
            inc.id,
            esc(&i.first),
            esc(&i.last),
            list(&inc.hosts),
            list(&inc.attackers),
        );
        // bytes out only mean something between inside hosts and outside peers
        if !inc.attackers.is_empty() && !inc.hosts.is_empty() {
            let _ = write!(
                s,
                "<tr><th>Sent by the hosts to them</th><td>{}</td></tr>",
                esc(&bytes_text(i.bytes_out))
            );
        }
        let _ = write!(
            s,
            "<tr><th>Alerts</th><td>{} (severity {})</td></tr>",
            i.alerts_total, inc.severity
        );
        if !i.names.is_empty() {
            let names: Vec<String> = i
                .names
                .iter()
                .map(|n| format!("{} ({}, {}×)", n.name, n.kind, n.count))
                .collect();
            let _ = write!(s, "<tr><th>Names seen</th><td>{}</td></tr>", list(&names));
        }
        if let Some(e) = &i.excerpt {
            let _ = write!(
                s,
                "<tr><th>Packet excerpt</th><td><code>{}</code>, {} packets{}<br>sha256 <code>{}</code></td></tr>",
                esc(&e.path),
                e.packets,
                if e.truncated { " (cut by the disk budget)" } else { "" },
                esc(&e.sha256)
            );
        }
        s.push_str("</table>");
        if !i.alerts.is_empty() {
            s.push_str("<table><tr><th>time</th><th>category</th><th>source</th><th>destination</th><th>signature</th></tr>");
            for a in &i.alerts {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
                    esc(&ts(a.ts_ns)),
                    esc(&a.category),
                    esc(a.src_ip.as_deref().unwrap_or("")),
                    esc(a.dest_ip.as_deref().unwrap_or("")),
                    a.dest_port.map(|p| format!(":{p}")).unwrap_or_default(),
                    esc(&a.signature)
                );
            }
            s.push_str("</table>");
        }
        if !i.actions.is_empty() {
            s.push_str("<p><b>Recommended actions</b></p><ol>");
            for a in &i.actions {
                let _ = write!(s, "<li>{}</li>", esc(a));
            }
            s.push_str("</ol>");
        }
        s.push_str("</div>");
    }

    s.push_str("<h2 id=\"evidence\">Evidence and how to verify it</h2><div class=\"card\">");
    if !r.evidence.excerpts.is_empty() {
        s.push_str("<table><tr><th>incident</th><th>file</th><th class=\"num\">packets</th><th class=\"num\">bytes</th><th>sha256</th></tr>");
        for e in &r.evidence.excerpts {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
                e.incident_id,
                esc(&e.path),
                e.packets,
                e.bytes,
                esc(&e.sha256)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("<ol>");
    for h in &r.evidence.how_to_verify {
        let _ = write!(s, "<li>{}</li>", esc(h));
    }
    s.push_str("</ol></div></main></body></html>\n");
    s
}
