//! What the `drhost` commands print: the run report, the trust verdict, the
//! run history, JSON on stdout. What a plugin said (summary, facts, step,
//! hint, version) goes through [`plugin_text`] before it reaches the
//! terminal. Nothing here decides an exit code.

use drhost::console::plugin_text;
use drhost::run::{RunReport, Status};

/// A message that may quote plugin text, line by line through
/// [`plugin_text`]: the host's own line breaks stay, nothing else can move
/// the cursor or colour the screen.
pub fn shown(text: &str) -> String {
    text.lines()
        .map(|l| plugin_text(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// `drhost verify`'s verdict for people: each signature, the lock, the conclusion.
pub fn print_verdict(verdict: &drhost::trust::Verdict) {
    println!("{}  {}", verdict.path.display(), verdict.digest);
    match &verdict.identity {
        Some(i) => println!(
            "  identity  {} {} (contract {})",
            i.id,
            i.version,
            i.contract.as_deref().unwrap_or("?")
        ),
        None => println!("  identity  (none signed)"),
    }
    if verdict.signatures.is_empty() {
        println!("  no signatures");
    }
    for s in &verdict.signatures {
        let mark = if s.standing == "trusted" { "✓" } else { "✗" };
        let id = s
            .signer
            .clone()
            .or_else(|| s.key_id.clone())
            .unwrap_or_else(|| "(no key id)".into());
        println!(
            "  {mark} {id:<20} {}{}",
            s.standing,
            s.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    println!("  lock      {}", verdict.lock);
    println!(
        "verdict: {}{}",
        verdict.verdict,
        if verdict.signers.is_empty() {
            String::new()
        } else {
            format!(" (signed by {})", verdict.signers.join(", "))
        }
    );
}

/// A run's report: JSON on stdout, else the outcome and its facts on stdout
/// or the failure on stderr, then where the journal is.
pub fn print_report(report: &RunReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
        return;
    }
    let name = report
        .plugin
        .as_ref()
        .and_then(|p| {
            Some(format!(
                "{} {}",
                p.id.as_ref()?,
                plugin_text(p.version.as_deref().unwrap_or(""))
            ))
        })
        .unwrap_or_else(|| "plugin".to_string());
    // Everything below but the name's id (validated) and the numbers is the plugin's text.
    let summary = plugin_text(&report.summary);
    let seconds = report.wall_ms as f64 / 1000.0;
    match report.status {
        Status::Recovered => {
            println!("✓ {name}: {summary} ({seconds:.1}s)");
            for fact in &report.facts {
                println!("    {}: {}", plugin_text(&fact.name), plugin_text(&fact.value));
            }
        }
        Status::Failed => {
            let step = report
                .failed_step
                .as_deref()
                .map(|s| format!(" in step `{}`", plugin_text(s)))
                .unwrap_or_default();
            eprintln!("✗ {name} failed{step}: {summary} ({seconds:.1}s)");
            if let Some(hint) = &report.hint {
                eprintln!("  hint: {}", plugin_text(hint));
            }
        }
        _ => eprintln!("drhost: {}", shown(&report.summary)),
    }
    if let Some(journal) = &report.journal {
        eprintln!("  journal: {}", journal.display());
    }
}

/// One warning line on stderr.
pub fn warn(text: &str) {
    eprintln!("drhost: warning: {}", plugin_text(text));
}

/// `drhost runs`: the table (or the JSON array) on stdout; on stderr, one
/// warning per file that is not a journal, and what the limit left out.
pub fn print_runs(listing: &drhost::history::Listing, dir: &std::path::Path, json: bool, plugin: Option<&str>) {
    let skipped = &listing.skipped;
    for skip in skipped.iter().take(SKIPPED_SHOWN) {
        warn(&format!("skipped {}: {}", skip.path.display(), skip.reason));
    }
    if skipped.len() > SKIPPED_SHOWN {
        warn(&format!(
            "… and {} more files in {} that are not journals",
            skipped.len() - SKIPPED_SHOWN,
            dir.display()
        ));
    }
    if json {
        print_json(&listing.runs);
    } else if listing.runs.is_empty() {
        let of = plugin
            .map(|p| format!(" of plugin `{}`", plugin_text(p)))
            .unwrap_or_default();
        eprintln!("no runs{of} in {}", dir.display());
    } else {
        print!("{}", drhost::history::list::table(&listing.runs));
    }
    if listing.more > 0 && !json {
        eprintln!(
            "({} older runs not shown; --limit N shows more, --limit 0 all)",
            listing.more
        );
    }
}

/// Warnings about files past this many are counted, not listed.
const SKIPPED_SHOWN: usize = 10;

/// One line of `drhost show`: the timeline or JSON on stdout, warnings on stderr.
pub fn print_show_line(line: drhost::history::Line) {
    match line {
        drhost::history::Line::Out(text) => println!("{text}"),
        drhost::history::Line::Warn(text) => warn(&text),
    }
}
