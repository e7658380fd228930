//! `drhost report` in Markdown (the default): the report as a document to
//! paste into an incident ticket or a post-mortem.
//!
//! Every text from the journal goes through [`md`]: it is already clean of
//! control characters and newlines ([`super::super::clip`]), and every
//! character Markdown gives a meaning to inline — emphasis, links, images,
//! raw HTML, table cells, entities — is backslash-escaped, so a plugin's
//! step name can neither draw a link nor break a table. No journal text
//! ever starts a line (each follows a fixed label or a table pipe), so it
//! cannot start a heading, a list or a code block either.

use std::fmt::Write;

use super::super::{human_duration, list::status_text, wall_clock};
use super::{offset_text, IncidentReport};
use crate::journal::chain::State;

/// What the post-mortem fills in.
const TO_BE_WRITTEN: &str = "_To be written in the post-mortem._";

/// Characters escaped with a backslash ([CommonMark allows it for any
/// ASCII punctuation](https://spec.commonmark.org/0.31.2/#backslash-escapes)).
const SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '<', '>', '#', '+', '!', '|', '~', '&', '$',
];

/// `text` (already cleaned) safe inline in Markdown, table cells included.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            // Never expected after cleaning; kept out all the same.
            '\n' | '\r' => out.push(' '),
            c if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `report` as a Markdown document.
pub fn render(report: &IncidentReport) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_report(&mut out, report);
    out
}

fn write_report(out: &mut String, r: &IncidentReport) -> std::fmt::Result {
    let plugin = match (&r.plugin.id, &r.plugin.version) {
        (Some(id), Some(version)) => format!("{} {}", md(id), md(version)),
        (Some(id), None) => md(id),
        _ => "a plugin that was not identified".into(),
    };
    writeln!(
        out,
        "# Post-incident report: {plugin} — {}",
        md(&status_text(&r.ending.status))
    )?;
    writeln!(out)?;
    match r.integrity.state {
        State::Broken => writeln!(
            out,
            "> **WARNING: NOT TRUSTWORTHY.** The journal's hash chain is broken{}: {}. Lines were changed, removed or reordered after drhost wrote them, so what follows is what the file says now, not necessarily what happened. `drhost journal verify` checks it.\n",
            r.integrity
                .broken_line
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default(),
            md(r.integrity.reason.as_deref().unwrap_or("the chain does not hold"))
        )?,
        State::Incomplete => writeln!(
            out,
            "> **Note: the journal is incomplete** ({}). The report covers what was journaled.\n",
            md(r.integrity.reason.as_deref().unwrap_or("no run-end"))
        )?,
        State::Ok => {}
    }
    writeln!(out, "- **Run:** {}", md(&r.run_id))?;
    let exit = r.ending.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
    writeln!(out, "- **Status:** {}{exit}", md(&status_text(&r.ending.status)))?;
    if let Some(summary) = &r.ending.summary {
        writeln!(out, "- **Summary:** {}", md(summary))?;
    }
    writeln!(out, "- **Time to recovery:** {}", recovery_text(r))?;
    writeln!(out)?;

    writeln!(out, "## What happened\n")?;
    writeln!(out, "| | |\n|---|---|")?;
    let row = |out: &mut String, name: &str, value: String| writeln!(out, "| {name} | {value} |");
    row(out, "Plugin", plugin.clone())?;
    row(out, "Digest", opt(&r.plugin.digest))?;
    let signers = if r.plugin.signers.is_empty() {
        "nobody (unsigned)".to_string()
    } else {
        r.plugin.signers.iter().map(|s| md(s)).collect::<Vec<_>>().join(", ")
    };
    let trust = r
        .plugin
        .trust
        .as_deref()
        .map(|t| format!(" ({})", md(t)))
        .unwrap_or_default();
    row(out, "Signed by", format!("{signers}{trust}"))?;
    row(out, "Plugin file", opt(&r.plugin.path))?;
    row(out, "Mode", opt(&r.plugin.mode))?;
    let params = if r.plugin.params.is_empty() {
        "none".to_string()
    } else {
        r.plugin
            .params
            .iter()
            .map(|p| {
                let source = p.source.as_deref().map(|s| format!(" ({})", md(s))).unwrap_or_default();
                format!("{}={}{source}", md(&p.name), md(&p.value))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    row(out, "Parameters", params)?;
    row(out, "Operator", operator_text(r))?;
    row(out, "Host", opt(&r.operator.host))?;
    row(out, "Configuration", opt(&r.plugin.config))?;
    row(out, "drhost", opt(&r.plugin.drhost))?;
    writeln!(out)?;

    writeln!(out, "## When\n")?;
    writeln!(out, "| | Time (UTC) | Since the run started |\n|---|---|---|")?;
    let detected_note = format!("({})", md(&r.times.detected_from));
    writeln!(
        out,
        "| Detected | {} | {detected_note} |",
        time_text(r.times.detected.as_deref())
    )?;
    writeln!(
        out,
        "| Started | {} | {} |",
        time_text(r.times.started.as_deref()),
        offset_text(0.0)
    )?;
    writeln!(
        out,
        "| Ended | {} | {} |",
        time_text(r.times.ended.as_deref()),
        r.times.wall_ms.map(offset_text).unwrap_or_else(|| "?".into())
    )?;
    writeln!(out)?;
    if let Some(ms) = r.times.wall_ms {
        writeln!(out, "Run wall time: {}\n", human_duration(ms))?;
    }

    writeln!(out, "## How it was resolved\n")?;
    writeln!(out, "### Steps\n")?;
    if r.steps.is_empty() {
        writeln!(out, "The plugin reported no steps.\n")?;
    } else {
        writeln!(
            out,
            "| # | Step | Started | Duration | Result | Notes |\n|---|---|---|---|---|---|"
        )?;
        for (n, step) in r.steps.iter().enumerate() {
            let result = match (step.ok, &step.reason) {
                (Some(true), _) => "ok".to_string(),
                (Some(false), Some(reason)) => format!("FAILED: {}", md(reason)),
                (Some(false), None) => "FAILED".to_string(),
                (None, _) => "never ended".to_string(),
            };
            let notes: Vec<String> = step.notes.iter().map(|n| md(n)).collect();
            writeln!(
                out,
                "| {} | {}{} | {} | {} | {result} | {} |",
                n + 1,
                "↳ ".repeat(step.depth),
                md(&step.name),
                offset_text(step.start_ms),
                step.duration_ms.map(human_duration).unwrap_or_else(|| "-".into()),
                notes.join(" · ")
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "### Changes made\n")?;
    if r.changes.is_empty() {
        writeln!(out, "No call that changes anything was made.\n")?;
    } else {
        writeln!(out, "| At | Change | Took | Outcome |\n|---|---|---|---|")?;
        for change in &r.changes {
            let outcome = if change.planned {
                "planned, not done".to_string()
            } else {
                md(&change.outcome)
            };
            writeln!(
                out,
                "| {} | {} | {} | {outcome} |",
                offset_text(change.at_ms),
                md(&change.what),
                human_duration(change.duration_ms)
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "### Approvals\n")?;
    if r.approvals.is_empty() {
        writeln!(out, "The plugin asked no question.\n")?;
    } else {
        writeln!(out, "| At | Question | Id | Answer | By |\n|---|---|---|---|---|")?;
        for approval in &r.approvals {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                offset_text(approval.at_ms),
                md(&approval.question),
                opt(&approval.id),
                md(&approval.answer),
                opt(&approval.by)
            )?;
        }
        writeln!(out)?;
    }

    writeln!(out, "## Time to recovery and data loss\n")?;
    writeln!(out, "- **Time to recovery:** {}", recovery_text(r))?;
    if r.data_loss.is_empty() {
        writeln!(out, "- **Data loss (RPO):** not measured by this run")?;
    } else {
        for fact in &r.data_loss {
            writeln!(out, "- **Data loss (RPO):** {} = {}", md(&fact.name), md(&fact.value))?;
        }
    }
    writeln!(out)?;

    writeln!(out, "## What failed\n")?;
    if r.ending.recovered && r.failures.is_empty() {
        writeln!(out, "Nothing failed.\n")?;
    } else {
        if !r.ending.recovered {
            let step = r
                .ending
                .failed_step
                .as_deref()
                .map(|s| format!(" in step {}", md(s)))
                .unwrap_or_default();
            writeln!(
                out,
                "- **{}{step}:** {}",
                md(&status_text(&r.ending.status)),
                md(r.ending.summary.as_deref().unwrap_or("(no summary)"))
            )?;
        }
        for failure in &r.failures {
            writeln!(
                out,
                "- {} {}: {}",
                offset_text(failure.at_ms),
                md(&failure.what),
                md(&failure.reason)
            )?;
        }
        writeln!(out)?;
    }
    if let Some(hint) = &r.ending.hint {
        writeln!(out, "**Hint:** {}\n", md(hint))?;
    }

    writeln!(out, "## Facts\n")?;
    if r.facts.is_empty() {
        writeln!(out, "The plugin reported no facts.\n")?;
    } else {
        writeln!(out, "| Fact | Value |\n|---|---|")?;
        for fact in &r.facts {
            writeln!(out, "| {} | {} |", md(&fact.name), md(&fact.value))?;
        }
        writeln!(out)?;
    }

    writeln!(out, "## Follow-ups\n")?;
    if r.follow_ups.is_empty() {
        writeln!(out, "None.\n")?;
    } else {
        for follow_up in &r.follow_ups {
            let why = if follow_up.why.is_empty() {
                String::new()
            } else {
                format!(" — {}", md(&follow_up.why))
            };
            writeln!(out, "- [ ] {}{why}", md(&follow_up.action))?;
        }
        writeln!(out)?;
    }

    writeln!(out, "## Root cause\n\n{TO_BE_WRITTEN}\n")?;
    writeln!(out, "## Action items\n\n{TO_BE_WRITTEN}\n")?;

    if !r.notes.is_empty() {
        writeln!(out, "## About this journal\n")?;
        for note in &r.notes {
            writeln!(out, "- {}", md(note))?;
        }
        writeln!(out)?;
    }
    let head = match &r.integrity.head {
        Some(head) => format!("intact, head {}", md(head)),
        None => md(&format!("{:?}", r.integrity.state).to_lowercase()),
    };
    writeln!(
        out,
        "---\n\nBuilt by drhost report from the journal {} alone (hash chain: {head}).",
        md(&r.journal.display().to_string())
    )
}

/// `value`, escaped, or `not journaled`.
fn opt(value: &Option<String>) -> String {
    value.as_deref().map(md).unwrap_or_else(|| "not journaled".into())
}

/// An RFC 3339 time as `2026-11-30 12:56:31`, or `?`.
fn time_text(time: Option<&str>) -> String {
    time.map(|t| md(&wall_clock(t))).unwrap_or_else(|| "?".into())
}

/// The time to recovery and where it comes from, or why there is none.
fn recovery_text(r: &IncidentReport) -> String {
    match &r.time_to_recovery {
        Some(recovery) => format!("{} (from the {})", md(&recovery.text), md(&recovery.source)),
        None => match r.times.wall_ms {
            Some(ms) => format!("not recovered (the run ended after {})", human_duration(ms)),
            None => "not recovered".into(),
        },
    }
}

/// The user, with uid and sudo user, or `not journaled`.
fn operator_text(r: &IncidentReport) -> String {
    let o = &r.operator;
    let Some(user) = &o.user else {
        return "not journaled".into();
    };
    let mut text = md(user);
    if let Some(uid) = o.uid {
        text.push_str(&format!(" (uid {uid})"));
    }
    if let Some(sudo) = &o.sudo_user {
        text.push_str(&format!(", through sudo by {}", md(sudo)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_specials_are_escaped_so_no_link_html_or_cell_break_survives() {
        let hostile = "<script>alert(1)</script> [x](javascript:alert(1)) | a | b *bold* `code` &amp;";
        let safe = md(hostile);
        // `\<` is a literal `<`: no other `<` may be left.
        assert!(!safe.replace("\\<", "").contains('<'), "{safe}");
        assert!(safe.starts_with("\\<script\\>alert\\(1\\)"), "{safe}");
        assert!(!safe.contains("](javascript:"), "{safe}");
        assert!(!safe.contains(" | "), "{safe}");
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("x\ny"), "x y");
    }
}
