//! Report renderings: console, Markdown, JSON, and a self-contained HTML page with inline SVG charts (no network).

use std::fmt::Write as _;

use super::{Report, UNKNOWN_FLAG};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text for a terminal.
    Console,
    /// Markdown tables, for pasting into an issue or a wiki.
    Markdown,
    /// The report as data (the same as `--json`).
    Json,
    /// One self-contained HTML file.
    Html,
}

/// Renders a report.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Console => console(r),
        Format::Markdown => markdown(r),
        Format::Json => serde_json::to_string_pretty(r).expect("a report always serialises") + "\n",
        Format::Html => html(r),
    }
}

fn flag(ok: bool) -> &'static str {
    if ok { "OK" } else { "X" }
}

fn weight(w: Option<f64>) -> String {
    w.map_or_else(|| "-".to_string(), |w| format!("{:.2}%", w * 100.0))
}

fn summary_rows(r: &Report) -> Vec<(&'static str, usize)> {
    let s = &r.summary;
    vec![
        ("ETFs", s.total_etfs),
        ("Stocks (distinct symbols)", s.total_unique_symbols),
        ("Sectors", s.total_sectors),
        ("Themes", s.total_themes),
        ("Universes", s.total_universes),
        ("Total relationships", s.total_relationships),
        ("  ETF -> stock", s.etf_relationships),
        ("  stock -> sector", s.sector_relationships),
        ("  stock -> theme", s.theme_relationships),
        ("  stock -> universe", s.universe_relationships),
    ]
}

fn quality_rows(r: &Report) -> Vec<(String, String, bool)> {
    let q = &r.data_quality;
    vec![
        ("ETF coverage (ETFs with holdings)".into(), format!("{:.2}%", q.etf_coverage), q.etf_coverage >= 100.0),
        (
            format!("Sector coverage ({} stocks unknown)", q.unknown_stocks),
            format!("{:.2}%", q.sector_coverage),
            q.unknown_stocks < UNKNOWN_FLAG,
        ),
        (
            format!("Bidirectional integrity ({} members without a symbols row and one sector)", q.orphans),
            format!("{:.2}%", q.bidirectional_integrity),
            q.orphans == 0,
        ),
        ("Theme coverage (classified stocks in a theme)".into(), format!("{:.2}%", q.theme_coverage), true),
    ]
}

fn console(r: &Report) -> String {
    let mut o = String::new();
    let line = "=".repeat(72);
    let _ = writeln!(
        o,
        "{line}\nRELATIONSHIP BREAKDOWN REPORT\nGenerated: {} UTC   Environment: {}\n{line}",
        r.generated_at.format("%Y-%m-%d %H:%M:%S"),
        r.environment
    );
    let _ = writeln!(o, "\nSUMMARY");
    for (k, v) in summary_rows(r) {
        let _ = writeln!(o, "  {k:<28} {v:>8}");
    }
    let _ = writeln!(o, "\nSECTOR DISTRIBUTION");
    for s in &r.sector_distribution {
        let mark = if s.sector == "unknown" && s.stock_count > UNKNOWN_FLAG { "  [X]" } else { "" };
        let _ = writeln!(o, "  {:<28} {:>8}  {:>6.2}%{mark}", s.sector, s.stock_count, s.percentage);
    }
    let _ = writeln!(o, "\nTHEME COVERAGE");
    for t in &r.theme_coverage {
        let _ = writeln!(o, "  {:<28} {:>8}  {:>6.2}%", t.theme, t.member_count, t.percentage);
    }
    let _ = writeln!(o, "\nDATA QUALITY METRICS");
    for (k, v, ok) in quality_rows(r) {
        let _ = writeln!(o, "  [{:<2}] {k:<70} {v:>8}", flag(ok));
    }
    if let Some(etfs) = &r.etfs {
        let _ = writeln!(o, "\nDETAIL VIEW - ETFS");
        for e in etfs {
            let meta = e.metadata_count.map_or_else(|| "-".into(), |n| n.to_string());
            let _ = writeln!(o, "  {} ({} holdings; metadata says {meta})", e.symbol, e.actual_count);
            let top: Vec<String> = e.top_10.iter().map(|(t, w)| format!("{t} {}", weight(*w))).collect();
            let _ = writeln!(o, "    top 10 by weight: {}", top.join(", "));
        }
    }
    if let Some(us) = &r.universes {
        let _ = writeln!(o, "\nDETAIL VIEW - UNIVERSES");
        for u in us {
            let _ = writeln!(o, "  {:<20} {:>6}  {}", u.name, u.member_count, u.description.as_deref().unwrap_or(""));
        }
    }
    let _ = writeln!(o, "\nLOAD ACTIVITY (per day, UTC)");
    for d in &r.activity {
        let _ = writeln!(
            o,
            "  {}  {:>3} applied  {:>3} failed  +{} -{} ~{}",
            d.day, d.applied, d.failed, d.added, d.removed, d.changed
        );
    }
    if let Some(points) = &r.coverage_over_time {
        let _ = writeln!(o, "\nSECTOR COVERAGE OVER TIME");
        for p in points {
            let _ = writeln!(o, "  {}  {:>6.2}% of {} classified stocks", p.day, p.coverage, p.classified);
        }
    }
    let _ = writeln!(o, "\nLAST LOAD PER SOURCE");
    for l in &r.last_loads {
        let _ = writeln!(
            o,
            "  run {:<5} {:<10} {:<12} {}  {}",
            l.run_id,
            l.kind,
            l.status,
            l.at.format("%Y-%m-%d %H:%M"),
            l.source
        );
    }
    o
}

fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Relationship Breakdown Report\n\nGenerated {} UTC, environment `{}`.\n",
        r.generated_at.format("%Y-%m-%d %H:%M:%S"),
        r.environment
    );
    let _ = writeln!(o, "## Summary\n\n| | count |\n|---|---:|");
    for (k, v) in summary_rows(r) {
        let _ = writeln!(o, "| {} | {v} |", k.trim().replace("->", "→"));
    }
    let _ = writeln!(o, "\n## Sector Distribution\n\n| sector | stocks | % |\n|---|---:|---:|");
    for s in &r.sector_distribution {
        let _ = writeln!(o, "| {} | {} | {:.2} |", s.sector, s.stock_count, s.percentage);
    }
    let _ = writeln!(o, "\n## Theme Coverage\n\n| theme | members | % of classified stocks |\n|---|---:|---:|");
    for t in &r.theme_coverage {
        let _ = writeln!(o, "| {} | {} | {:.2} |", t.theme, t.member_count, t.percentage);
    }
    let _ = writeln!(o, "\n## Data Quality Metrics\n\n| metric | value | |\n|---|---:|:---:|");
    for (k, v, ok) in quality_rows(r) {
        let _ = writeln!(o, "| {k} | {v} | {} |", if ok { "✅" } else { "❌" });
    }
    if let Some(etfs) = &r.etfs {
        let _ = writeln!(o, "\n## Detail View - ETFs");
        for e in etfs {
            let meta = e.metadata_count.map_or_else(|| "-".into(), |n| n.to_string());
            let _ = writeln!(
                o,
                "\n### {}\n\n{} holdings (metadata: {meta}). Top 10 by weight:\n",
                e.symbol, e.actual_count
            );
            for (t, w) in &e.top_10 {
                let _ = writeln!(o, "- {t} {}", weight(*w));
            }
        }
    }
    if let Some(us) = &r.universes {
        let _ = writeln!(o, "\n## Detail View - Universes\n\n| universe | members | description |\n|---|---:|---|");
        for u in us {
            let _ = writeln!(o, "| {} | {} | {} |", u.name, u.member_count, u.description.as_deref().unwrap_or(""));
        }
    }
    let _ = writeln!(
        o,
        "\n## Load Activity\n\n| day (UTC) | applied | failed | added | removed | changed |\n|---|---:|---:|---:|---:|---:|"
    );
    for d in &r.activity {
        let _ =
            writeln!(o, "| {} | {} | {} | {} | {} | {} |", d.day, d.applied, d.failed, d.added, d.removed, d.changed);
    }
    if let Some(points) = &r.coverage_over_time {
        let _ =
            writeln!(o, "\n## Sector Coverage Over Time\n\n| day (UTC) | coverage % | classified |\n|---|---:|---:|");
        for p in points {
            let _ = writeln!(o, "| {} | {:.2} | {} |", p.day, p.coverage, p.classified);
        }
    }
    let _ =
        writeln!(o, "\n## Last Load per Source\n\n| run | kind | status | at (UTC) | source |\n|---:|---|---|---|---|");
    for l in &r.last_loads {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            l.run_id,
            l.kind,
            l.status,
            l.at.format("%Y-%m-%d %H:%M"),
            l.source.replace('|', "\\|")
        );
    }
    o
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG: (label, value, text beside the bar) per bar; labels are escaped.
pub(crate) fn bar_chart(label: &str, bars: &[(String, f64, String)]) -> String {
    let (row, label_w, bar_w) = (22.0, 190.0, 360.0);
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1.0);
    let h = row * bars.len() as f64 + 10.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{h}" role="img" aria-label="{}">"#,
        esc(label)
    );
    for (i, (label, v, text)) in bars.iter().enumerate() {
        let y = i as f64 * row + 5.0;
        let w = (v / max * bar_w).max(1.0);
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty}" text-anchor="end" font-size="12">{label}</text><rect x="{x}" y="{y}" width="{w:.1}" height="16" fill="#3b6ea5"/><text x="{vx:.1}" y="{ty}" font-size="12">{text}</text>"##,
            tx = label_w - 6.0,
            ty = y + 12.5,
            x = label_w,
            vx = label_w + w + 6.0,
            label = esc(label),
            text = esc(text),
        );
    }
    s + "</svg>"
}

/// A line chart (0–100 %) as inline SVG: (label under the point, percent) per point; labels are escaped.
pub(crate) fn line_chart(label: &str, points: &[(String, f64)]) -> String {
    let (w, h, pad) = (640.0, 220.0, 40.0);
    let n = points.len().max(2) as f64 - 1.0;
    let xy = |i: usize, v: f64| (pad + i as f64 * (w - 2.0 * pad) / n, h - pad - v / 100.0 * (h - 2.0 * pad));
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(label)
    );
    for pct in [0.0, 50.0, 100.0] {
        let (_, y) = xy(0, pct);
        let _ = write!(
            s,
            r##"<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#ddd"/><text x="{tx}" y="{ty}" font-size="11" text-anchor="end">{pct}%</text>"##,
            x2 = w - pad,
            tx = pad - 4.0,
            ty = y + 4.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let (x, y) = xy(i, *v);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(s, r##"<polyline fill="none" stroke="#2f8f4e" stroke-width="2" points="{}"/>"##, path.join(" "));
    for (i, (label, v)) in points.iter().enumerate() {
        let (x, y) = xy(i, *v);
        let _ = write!(
            s,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#2f8f4e"><title>{} {v:.2}%</title></circle><text x="{x:.1}" y="{ly}" font-size="10" text-anchor="middle">{}</text>"##,
            esc(label),
            esc(label),
            ly = h - pad + 16.0
        );
    }
    s + "</svg>"
}

fn html(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Relationship Breakdown Report</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:980px}}table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}
td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}}td.n{{text-align:right}}.ok{{color:#2f8f4e}}.bad{{color:#b3261e}}
h1{{margin-bottom:.2rem}}.muted{{color:#666}}</style></head><body><h1>Relationship Breakdown Report</h1>
<p class="muted">Generated {} UTC &middot; environment {}</p>"#,
        r.generated_at.format("%Y-%m-%d %H:%M:%S"),
        r.environment
    );
    o.push_str("<h2>Summary</h2><table>");
    for (k, v) in summary_rows(r) {
        let _ = write!(o, "<tr><td>{}</td><td class=\"n\">{v}</td></tr>", esc(k.trim()));
    }
    o.push_str("</table><h2>Sector distribution</h2>");
    let bars: Vec<(String, f64, String)> = r
        .sector_distribution
        .iter()
        .map(|s| (s.sector.clone(), s.stock_count as f64, format!("{} ({:.1}%)", s.stock_count, s.percentage)))
        .collect();
    o.push_str(&bar_chart("sector distribution", &bars));
    o.push_str("<h2>Theme coverage</h2>");
    let themes: Vec<(String, f64, String)> = r
        .theme_coverage
        .iter()
        .map(|t| (t.theme.clone(), t.member_count as f64, format!("{} ({:.1}%)", t.member_count, t.percentage)))
        .collect();
    if themes.is_empty() {
        o.push_str("<p>No themes loaded.</p>");
    } else {
        o.push_str(&bar_chart("theme coverage", &themes));
    }
    o.push_str("<h2>Data quality</h2><table>");
    for (k, v, ok) in quality_rows(r) {
        let _ = write!(o, "<tr><td>{}</td><td class=\"n {}\">{v}</td></tr>", esc(&k), if ok { "ok" } else { "bad" });
    }
    o.push_str("</table>");
    if let Some(points) = &r.coverage_over_time {
        o.push_str("<h2>Sector coverage over time</h2>");
        let pts: Vec<(String, f64)> = points.iter().map(|p| (p.day.to_string(), p.coverage)).collect();
        o.push_str(&line_chart("sector coverage over time", &pts));
    }
    if let Some(etfs) = &r.etfs {
        o.push_str(
            "<h2>ETFs</h2><table><tr><th>ETF</th><th>holdings</th><th>metadata</th><th>top 10 by weight</th></tr>",
        );
        for e in etfs {
            let top: Vec<String> = e.top_10.iter().map(|(t, w)| format!("{} {}", esc(t), weight(*w))).collect();
            let meta = e.metadata_count.map_or_else(|| "-".into(), |n| n.to_string());
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{meta}</td><td>{}</td></tr>",
                esc(&e.symbol),
                e.actual_count,
                top.join(", ")
            );
        }
        o.push_str("</table>");
    }
    if let Some(us) = &r.universes {
        o.push_str("<h2>Universes</h2><table><tr><th>universe</th><th>members</th><th>description</th></tr>");
        for u in us {
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&u.name),
                u.member_count,
                esc(u.description.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</table>");
    }
    o.push_str("<h2>Load activity</h2><table><tr><th>day (UTC)</th><th>applied</th><th>failed</th><th>added</th><th>removed</th><th>changed</th></tr>");
    for d in &r.activity {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            d.day, d.applied, d.failed, d.added, d.removed, d.changed
        );
    }
    o.push_str("</table><h2>Last load per source</h2><table><tr><th>run</th><th>kind</th><th>status</th><th>at (UTC)</th><th>source</th></tr>");
    for l in &r.last_loads {
        let _ = write!(
            o,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.run_id,
            esc(&l.kind),
            esc(l.status.as_str()),
            l.at.format("%Y-%m-%d %H:%M"),
            esc(&l.source)
        );
    }
    o.push_str("</table></body></html>\n");
    o
}
