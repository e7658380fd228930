//! `drhost report --html`: the report as one self-contained HTML page —
//! inline CSS, an inline SVG timeline ([`super::chart`]), no script, no
//! external URL — that opens offline in any browser and can be attached
//! to a ticket as one file. It writes the [`Document`] [`super::model`]
//! builds, with the timeline where the document has it.
//!
//! Every text from the journal goes through [`esc`] (`& < > " '`), in
//! element content and in attributes alike (attributes are always
//! quoted). The page also carries a Content-Security-Policy that allows
//! no script and no fetch at all, so even a mistake here could not run
//! a plugin's text as code.

use super::model::{Block, Cell, Document, Field, Piece, Section, Severity, Table, Text};
use super::{chart, model, IncidentReport};

/// No script, no network, no frames: styles and images inline only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The page's style.
const STYLE: &str = "
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2329; margin: 2em auto; max-width: 1000px; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #d5dbe1; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .3em .6em; border-bottom: 1px solid #e4e8ec; }
th { background: #f3f5f7; font-weight: 600; } td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.warning { background: #fde8e8; border: 2px solid #c62828; color: #7f1010; padding: .8em 1em; font-weight: 600; }
.note { background: #fff6dc; border: 1px solid #d6a400; padding: .6em 1em; }
.status-ok { color: #1b7a2f; font-weight: 600; } .status-bad { color: #c62828; font-weight: 600; }
.postmortem { color: #6b7680; font-style: italic; border: 1px dashed #b8c0c8; padding: 1em; }
.chart { overflow-x: auto; } svg.timeline { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
svg .grid { stroke: #e4e8ec; } svg .tick, svg .axis-label, svg .marker-label { fill: #6b7680; } svg .label { fill: #1d2329; }
svg .step.ok { fill: #2e9e48; } svg .step.failed { fill: #d32f2f; } svg .step.open { fill: #9aa5b0; }
svg line.marker { stroke-width: 1.5; stroke-dasharray: 4 3; } svg .marker.start { stroke: #1565c0; } svg .marker.end { stroke: #37474f; }
svg .marker.failure { fill: #d32f2f; } svg .marker.approval { fill: #f9a825; stroke: #7a5200; } svg .marker.approval.refused { fill: #fff; stroke: #c62828; }
svg .run.before { fill: #1565c0; } svg .run.fault { fill: #ef6c00; } svg .run.recovery { fill: #00897b; }
svg .band.healthy { fill: #2e9e48; } svg .band.failing { fill: #d32f2f; }
svg line.marker.fault { stroke: #d32f2f; } svg line.marker.recovery, svg line.marker.recovery-end { stroke: #1565c0; } svg line.marker.recovered { stroke: #1b7a2f; }
svg .marker-label.fault { fill: #d32f2f; } svg .marker-label.recovered { fill: #1b7a2f; }
.legend span { display: inline-block; margin-right: 1.2em; } .swatch { display: inline-block; width: .9em; height: .9em; vertical-align: -1px; margin-right: .3em; border-radius: 2px; }
footer { margin-top: 2em; color: #6b7680; font-size: .9em; word-break: break-all; }
";

/// `text` safe in HTML element content and in quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The timeline's legend.
const LEGEND: &str = r#"<p class="legend"><span><i class="swatch" style="background:#2e9e48"></i>step ok</span><span><i class="swatch" style="background:#d32f2f"></i>step failed</span><span><i class="swatch" style="background:#9aa5b0"></i>never ended</span><span>◆ failure</span><span>● approval</span><span>┆ run start / end</span></p>"#;

/// `report` as one HTML page.
pub fn render(report: &IncidentReport) -> String {
    write(&model::document(report), &chart::svg(report))
}

/// The drill timeline's legend.
pub const DRILL_LEGEND: &str = r#"<p class="legend"><span><i class="swatch" style="background:#2e9e48"></i>probe healthy</span><span><i class="swatch" style="background:#d32f2f"></i>probe failing</span><span><i class="swatch" style="background:#6a1b9a"></i>data-loss window (RPO)</span><span><i class="swatch" style="background:#1565c0"></i>before run</span><span><i class="swatch" style="background:#ef6c00"></i>fault run</span><span><i class="swatch" style="background:#00897b"></i>recovery run</span><span>┆ fault / recovery start (and, without a fault, its end) / healthy for good (RTO)</span></p>"#;

/// `document` as one HTML page, with `timeline` (an SVG) where the
/// document has its [`Block::Timeline`], under the steps' legend.
pub fn write(document: &Document, timeline: &str) -> String {
    write_with_legend(document, timeline, LEGEND)
}

/// [`write`] with the timeline's `legend` (HTML, drhost's own).
pub fn write_with_legend(document: &Document, timeline: &str, legend: &str) -> String {
    let title = plain(&document.title);
    let mut out = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
"#
    );
    if let Some(notice) = &document.integrity {
        let class = match notice.severity {
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        out.push_str(&format!(
            "<p class=\"{class}\" id=\"integrity\">{}</p>\n",
            inline(&notice.text)
        ));
    }
    out.push_str(&format!("<h1>{}</h1>\n", inline(&document.title)));
    fields(&mut out, Some("summary"), &document.summary);
    for section in &document.sections {
        write_section(&mut out, section, timeline, legend);
    }
    out.push_str(&format!(
        "<footer>{}</footer>\n</body>\n</html>\n",
        inline(&document.footer)
    ));
    out
}

fn write_section(out: &mut String, section: &Section, timeline: &str, legend: &str) {
    let level = section.level;
    out.push_str(&format!("<h{level}>{}</h{level}>\n", section.heading));
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", inline(text))),
            Block::Fields(list) => fields(out, None, list),
            Block::Table(table) => write_table(out, table),
            Block::List { class, items } => list(out, *class, "", items),
            Block::Checklist(items) => list(out, Some("follow-ups"), "☐ ", items),
            Block::Timeline => out.push_str(&format!("<div class=\"chart\">{timeline}</div>\n{legend}\n")),
            Block::ToBeWritten { id } => out.push_str(&format!(
                "<div class=\"postmortem\" id=\"{id}\">To be written in the post-mortem.</div>\n"
            )),
        }
    }
}

/// ` class="NAME"`, or nothing.
fn class_attribute(class: Option<&str>) -> String {
    class.map(|c| format!(" class=\"{c}\"")).unwrap_or_default()
}

/// A two-column table: labels and values.
fn fields(out: &mut String, class: Option<&str>, fields: &[Field]) {
    out.push_str(&format!("<table{}>\n", class_attribute(class)));
    for field in fields {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            field.label,
            inline(&field.value)
        ));
    }
    out.push_str("</table>\n");
}

fn list(out: &mut String, class: Option<&str>, mark: &str, items: &[Text]) {
    out.push_str(&format!("<ul{}>\n", class_attribute(class)));
    for item in items {
        out.push_str(&format!("<li>{mark}{}</li>\n", inline(item)));
    }
    out.push_str("</ul>\n");
}

fn write_table(out: &mut String, table: &Table) {
    out.push_str(&format!("<table{}>\n", class_attribute(table.class)));
    if table.columns.iter().any(|c| !c.name.is_empty()) {
        out.push_str("<tr>");
        for column in &table.columns {
            out.push_str(&format!("<th>{}</th>", column.name));
        }
        out.push_str("</tr>\n");
    }
    for row in &table.rows {
        out.push_str("<tr>");
        for (column, cell) in table.columns.iter().zip(row) {
            let cell = inline(cell);
            match column.kind {
                Cell::Label => out.push_str(&format!("<th>{cell}</th>")),
                Cell::Text => out.push_str(&format!("<td>{cell}</td>")),
                Cell::Number => out.push_str(&format!("<td class=\"num\">{cell}</td>")),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// `text` as HTML: journal texts escaped ([`esc`]).
fn inline(text: &Text) -> String {
    let mut out = String::new();
    for piece in &text.0 {
        match piece {
            Piece::Own(words) => out.push_str(words),
            Piece::Journal(text) => out.push_str(&esc(text)),
            Piece::Strong(text) => out.push_str(&format!("<strong>{}</strong>", inline(text))),
            Piece::Code(command) => out.push_str(&format!("<code>{command}</code>")),
            Piece::Verdict { text, good } => {
                let class = if *good { "status-ok" } else { "status-bad" };
                out.push_str(&format!("<span class=\"{class}\">{}</span>", esc(text)));
            }
            Piece::Break => out.push_str("<br>"),
        }
    }
    out
}

/// `text` without markup (for the page's `<title>`): journal texts
/// escaped ([`esc`]).
fn plain(text: &Text) -> String {
    let mut out = String::new();
    for piece in &text.0 {
        match piece {
            Piece::Own(words) => out.push_str(words),
            Piece::Code(words) => out.push_str(words),
            Piece::Journal(text) | Piece::Verdict { text, .. } => out.push_str(&esc(text)),
            Piece::Strong(text) => out.push_str(&plain(text)),
            Piece::Break => out.push(' '),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_specials_are_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
