//! `drhost report --html`: the report as one self-contained HTML page —
//! inline CSS, an inline SVG timeline ([`super::chart`]), no script, no
//! external URL — that opens offline in any browser and can be attached
//! to a ticket as one file.
//!
//! Every text from the journal goes through [`esc`] (`& < > " '`), in
//! element content and in attributes alike (attributes are always
//! quoted). The page also carries a Content-Security-Policy that allows
//! no script and no fetch at all, so even a mistake here could not run
//! a plugin's text as code.

use std::fmt::Write;

use super::super::{human_duration, list::status_text, wall_clock};
use super::{chart, offset_text, IncidentReport};
use crate::journal::chain::State;

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

/// `report` as one HTML page.
pub fn render(report: &IncidentReport) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_page(&mut out, report);
    out
}

fn write_page(out: &mut String, r: &IncidentReport) -> std::fmt::Result {
    let plugin = match (&r.plugin.id, &r.plugin.version) {
        (Some(id), Some(version)) => format!("{} {}", esc(id), esc(version)),
        (Some(id), None) => esc(id),
        _ => "a plugin that was not identified".into(),
    };
    let status = esc(&status_text(&r.ending.status));
    let status_class = if r.ending.recovered { "status-ok" } else { "status-bad" };
    writeln!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Post-incident report: {plugin} — {status}</title>
<style>{STYLE}</style>
</head>
<body>"#
    )?;
    match r.integrity.state {
        State::Broken => writeln!(
            out,
            r#"<p class="warning" id="integrity">WARNING: NOT TRUSTWORTHY. The journal's hash chain is broken{}: {}. Lines were changed, removed or reordered after drhost wrote them, so what follows is what the file says now, not necessarily what happened. <code>drhost journal verify</code> checks it.</p>"#,
            r.integrity
                .broken_line
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default(),
            esc(r.integrity.reason.as_deref().unwrap_or("the chain does not hold"))
        )?,
        State::Incomplete => writeln!(
            out,
            r#"<p class="note" id="integrity">The journal is incomplete ({}). The report covers what was journaled.</p>"#,
            esc(r.integrity.reason.as_deref().unwrap_or("no run-end"))
        )?,
        State::Ok => {}
    }
    writeln!(
        out,
        r#"<h1>Post-incident report: {plugin} — <span class="{status_class}">{status}</span></h1>"#
    )?;
    writeln!(out, "<table class=\"summary\">")?;
    row(out, "Run", &esc(&r.run_id))?;
    let exit = r.ending.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
    row(
        out,
        "Status",
        &format!(r#"<span class="{status_class}">{status}</span>{exit}"#),
    )?;
    if let Some(summary) = &r.ending.summary {
        row(out, "Summary", &esc(summary))?;
    }
    row(out, "Time to recovery", &recovery_html(r))?;
    writeln!(out, "</table>")?;

    writeln!(out, "<h2>Timeline</h2>\n<div class=\"chart\">{}</div>", chart::svg(r))?;
    writeln!(
        out,
        r#"<p class="legend"><span><i class="swatch" style="background:#2e9e48"></i>step ok</span><span><i class="swatch" style="background:#d32f2f"></i>step failed</span><span><i class="swatch" style="background:#9aa5b0"></i>never ended</span><span>◆ failure</span><span>● approval</span><span>┆ run start / end</span></p>"#
    )?;

    writeln!(out, "<h2>What happened</h2>\n<table>")?;
    row(out, "Plugin", &plugin)?;
    row(out, "Digest", &opt(&r.plugin.digest))?;
    let signers = if r.plugin.signers.is_empty() {
        "nobody (unsigned)".to_string()
    } else {
        r.plugin.signers.iter().map(|s| esc(s)).collect::<Vec<_>>().join(", ")
    };
    let trust = r
        .plugin
        .trust
        .as_deref()
        .map(|t| format!(" ({})", esc(t)))
        .unwrap_or_default();
    row(out, "Signed by", &format!("{signers}{trust}"))?;
    row(out, "Plugin file", &opt(&r.plugin.path))?;
    row(out, "Mode", &opt(&r.plugin.mode))?;
    let params = if r.plugin.params.is_empty() {
        "none".to_string()
    } else {
        r.plugin
            .params
            .iter()
            .map(|p| {
                let source = p
                    .source
                    .as_deref()
                    .map(|s| format!(" ({})", esc(s)))
                    .unwrap_or_default();
                format!("{}={}{source}", esc(&p.name), esc(&p.value))
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    row(out, "Parameters", &params)?;
    let operator = match &r.operator.user {
        Some(user) => {
            let uid = r.operator.uid.map(|u| format!(" (uid {u})")).unwrap_or_default();
            let sudo = r
                .operator
                .sudo_user
                .as_deref()
                .map(|s| format!(", through sudo by {}", esc(s)))
                .unwrap_or_default();
            format!("{}{uid}{sudo}", esc(user))
        }
        None => "not journaled".into(),
    };
    row(out, "Operator", &operator)?;
    row(out, "Host", &opt(&r.operator.host))?;
    row(out, "Configuration", &opt(&r.plugin.config))?;
    row(out, "drhost", &opt(&r.plugin.drhost))?;
    writeln!(out, "</table>")?;

    writeln!(
        out,
        "<h2>When</h2>\n<table>\n<tr><th></th><th>Time (UTC)</th><th>Since the run started</th></tr>"
    )?;
    let time = |t: Option<&str>| t.map(|t| esc(&wall_clock(t))).unwrap_or_else(|| "?".into());
    writeln!(
        out,
        "<tr><th>Detected</th><td>{}</td><td>({})</td></tr>",
        time(r.times.detected.as_deref()),
        esc(&r.times.detected_from)
    )?;
    writeln!(
        out,
        "<tr><th>Started</th><td>{}</td><td class=\"num\">{}</td></tr>",
        time(r.times.started.as_deref()),
        offset_text(0.0)
    )?;
    writeln!(
        out,
        "<tr><th>Ended</th><td>{}</td><td class=\"num\">{}</td></tr>",
        time(r.times.ended.as_deref()),
        r.times.wall_ms.map(offset_text).unwrap_or_else(|| "?".into())
    )?;
    writeln!(out, "</table>")?;
    if let Some(ms) = r.times.wall_ms {
        writeln!(out, "<p>Run wall time: {}</p>", human_duration(ms))?;
    }

    writeln!(out, "<h2>How it was resolved</h2>\n<h3>Steps</h3>")?;
    if r.steps.is_empty() {
        writeln!(out, "<p>The plugin reported no steps.</p>")?;
    } else {
        writeln!(
            out,
            "<table class=\"steps\">\n<tr><th>#</th><th>Step</th><th>Started</th><th>Duration</th><th>Result</th><th>Notes</th></tr>"
        )?;
        for (n, step) in r.steps.iter().enumerate() {
            let result = match (step.ok, &step.reason) {
                (Some(true), _) => "ok".to_string(),
                (Some(false), Some(reason)) => format!("<span class=\"status-bad\">FAILED</span>: {}", esc(reason)),
                (Some(false), None) => "<span class=\"status-bad\">FAILED</span>".to_string(),
                (None, _) => "never ended".to_string(),
            };
            let notes: Vec<String> = step.notes.iter().map(|n| esc(n)).collect();
            writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{result}</td><td>{}</td></tr>",
                n + 1,
                "↳ ".repeat(step.depth),
                esc(&step.name),
                offset_text(step.start_ms),
                step.duration_ms.map(human_duration).unwrap_or_else(|| "-".into()),
                notes.join("<br>")
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "<h3>Changes made</h3>")?;
    if r.changes.is_empty() {
        writeln!(out, "<p>No call that changes anything was made.</p>")?;
    } else {
        writeln!(
            out,
            "<table class=\"changes\">\n<tr><th>At</th><th>Change</th><th>Took</th><th>Outcome</th></tr>"
        )?;
        for change in &r.changes {
            let outcome = if change.planned {
                "planned, not done".to_string()
            } else {
                esc(&change.outcome)
            };
            writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{outcome}</td></tr>",
                offset_text(change.at_ms),
                esc(&change.what),
                human_duration(change.duration_ms)
            )?;
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "<h3>Approvals</h3>")?;
    if r.approvals.is_empty() {
        writeln!(out, "<p>The plugin asked no question.</p>")?;
    } else {
        writeln!(
            out,
            "<table class=\"approvals\">\n<tr><th>At</th><th>Question</th><th>Id</th><th>Answer</th><th>By</th></tr>"
        )?;
        for approval in &r.approvals {
            writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                offset_text(approval.at_ms),
                esc(&approval.question),
                opt(&approval.id),
                esc(&approval.answer),
                opt(&approval.by)
            )?;
        }
        writeln!(out, "</table>")?;
    }

    writeln!(out, "<h2>Time to recovery and data loss</h2>\n<table>")?;
    row(out, "Time to recovery", &recovery_html(r))?;
    if r.data_loss.is_empty() {
        row(out, "Data loss (RPO)", "not measured by this run")?;
    }
    for fact in &r.data_loss {
        row(
            out,
            "Data loss (RPO)",
            &format!("{} = {}", esc(&fact.name), esc(&fact.value)),
        )?;
    }
    writeln!(out, "</table>")?;

    writeln!(out, "<h2>What failed</h2>")?;
    if r.ending.recovered && r.failures.is_empty() {
        writeln!(out, "<p>Nothing failed.</p>")?;
    } else {
        writeln!(out, "<ul class=\"failures\">")?;
        if !r.ending.recovered {
            let step = r
                .ending
                .failed_step
                .as_deref()
                .map(|s| format!(" in step {}", esc(s)))
                .unwrap_or_default();
            writeln!(
                out,
                "<li><strong>{status}{step}:</strong> {}</li>",
                esc(r.ending.summary.as_deref().unwrap_or("(no summary)"))
            )?;
        }
        for failure in &r.failures {
            writeln!(
                out,
                "<li>{} {}: {}</li>",
                offset_text(failure.at_ms),
                esc(&failure.what),
                esc(&failure.reason)
            )?;
        }
        writeln!(out, "</ul>")?;
    }
    if let Some(hint) = &r.ending.hint {
        writeln!(out, "<p><strong>Hint:</strong> {}</p>", esc(hint))?;
    }

    writeln!(out, "<h2>Facts</h2>")?;
    if r.facts.is_empty() {
        writeln!(out, "<p>The plugin reported no facts.</p>")?;
    } else {
        writeln!(out, "<table class=\"facts\">\n<tr><th>Fact</th><th>Value</th></tr>")?;
        for fact in &r.facts {
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&fact.name),
                esc(&fact.value)
            )?;
        }
        writeln!(out, "</table>")?;
    }

    writeln!(out, "<h2>Follow-ups</h2>")?;
    if r.follow_ups.is_empty() {
        writeln!(out, "<p>None.</p>")?;
    } else {
        writeln!(out, "<ul class=\"follow-ups\">")?;
        for follow_up in &r.follow_ups {
            let why = if follow_up.why.is_empty() {
                String::new()
            } else {
                format!(" — {}", esc(&follow_up.why))
            };
            writeln!(out, "<li>☐ {}{why}</li>", esc(&follow_up.action))?;
        }
        writeln!(out, "</ul>")?;
    }

    writeln!(
        out,
        "<h2>Root cause</h2>\n<div class=\"postmortem\" id=\"root-cause\">To be written in the post-mortem.</div>"
    )?;
    writeln!(
        out,
        "<h2>Action items</h2>\n<div class=\"postmortem\" id=\"action-items\">To be written in the post-mortem.</div>"
    )?;
    if !r.notes.is_empty() {
        writeln!(out, "<h2>About this journal</h2>\n<ul>")?;
        for note in &r.notes {
            writeln!(out, "<li>{}</li>", esc(note))?;
        }
        writeln!(out, "</ul>")?;
    }
    let head = match &r.integrity.head {
        Some(head) => format!("intact, head {}", esc(head)),
        None => esc(&format!("{:?}", r.integrity.state).to_lowercase()),
    };
    writeln!(
        out,
        "<footer>Built by drhost report from the journal {} alone (hash chain: {head}).</footer>\n</body>\n</html>",
        esc(&r.journal.display().to_string())
    )
}

/// One `<tr>` of a two-column table: a label and HTML already escaped.
fn row(out: &mut String, name: &str, html: &str) -> std::fmt::Result {
    writeln!(out, "<tr><th>{name}</th><td>{html}</td></tr>")
}

/// `value`, escaped, or `not journaled`.
fn opt(value: &Option<String>) -> String {
    value.as_deref().map(esc).unwrap_or_else(|| "not journaled".into())
}

/// The time to recovery and where it comes from, or why there is none.
fn recovery_html(r: &IncidentReport) -> String {
    match &r.time_to_recovery {
        Some(recovery) => format!("{} (from the {})", esc(&recovery.text), esc(&recovery.source)),
        None => match r.times.wall_ms {
            Some(ms) => format!("not recovered (the run ended after {})", human_duration(ms)),
            None => "not recovered".into(),
        },
    }
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
