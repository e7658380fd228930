//! What the `drhost` commands print: the run report, the trust verdict, JSON
//! on stdout. What a plugin said (summary, facts, step, hint, version) goes
//! through [`plugin_text`] before it reaches the terminal. Nothing here
//! decides an exit code.

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

/// A plugin that could not be inspected or verified, as one element of a
/// `--json` array: its path and the error (kind, message, exit code).
pub fn error_json(path: &std::path::Path, error: &drhost::Error) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "error": {
            "kind": error.kind(),
            "message": error.to_string(),
            "exit_code": error.exit_code(),
        },
    })
}

/// `drhost check`'s findings: `--json` prints the problems as an array on
/// stdout; else "config OK" on stdout, or each problem (and the TOML that
/// fixes it) on stderr, then how many.
pub fn print_check(report: &drhost::check::CheckReport, json: bool) {
    if json {
        print_json(&report.problems);
        return;
    }
    if report.problems.is_empty() {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        println!(
            "config OK: {} granted, {}",
            plural(report.plugins, "plugin"),
            plural(report.targets, "target")
        );
        if report.plugin_dirs.is_empty() {
            println!("  plugin ids not checked: no ./plugins directory (pass --plugins DIR)");
        } else {
            let dirs: Vec<String> = report.plugin_dirs.iter().map(|d| d.display().to_string()).collect();
            println!("  plugin ids and params checked against {}", dirs.join(", "));
        }
        return;
    }
    for problem in &report.problems {
        eprintln!("drhost: {}", shown(&problem.to_string()));
        if let Some(fix) = &problem.fix {
            for line in fix.lines() {
                eprintln!("    {}", plugin_text(line));
            }
        }
    }
    let n = report.problems.len();
    eprintln!(
        "drhost: {}: {n} problem{} found; nothing was run",
        report.config.display(),
        if n == 1 { "" } else { "s" }
    );
}

/// `drhost list`: a JSON array, or one line per plugin (id, version,
/// trust, scenario) under a header.
pub fn print_list(listed: &[drhost::list::ListedPlugin], json: bool) {
    if json {
        print_json(&listed);
        return;
    }
    println!("{:<18} {:<9} {:<32} RUNBOOK SCENARIO", "PLUGIN", "VERSION", "TRUST");
    for plugin in listed {
        let file = plugin.path.display().to_string();
        if let Some(error) = &plugin.error {
            println!("{file:<18} {:<9} {}", "?", shown(error));
            continue;
        }
        let trust = match &plugin.refused_because {
            None => format!("signed by {}", plugin.signers.join(", ")),
            Some(why) => format!("REFUSED: {why}"),
        };
        println!(
            "{:<18} {:<9} {:<32} {}",
            plugin.id.as_deref().unwrap_or(&file),
            plugin_text(plugin.version.as_deref().unwrap_or("?")),
            plugin_text(&trust),
            plugin.scenario.as_deref().unwrap_or("—")
        );
    }
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
