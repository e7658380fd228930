//! What the `drhost` commands print (the run report, verdicts, the run
//! history). Results go to stdout (the run report
//! whether the plugin recovered or failed, `--json`, verdicts, listings);
//! progress, warnings and drhost's own errors (`drhost: …`) to stderr. What
//! a plugin said (summary, facts, step, hint, version) goes through
//! [`plugin_text`] before it reaches the terminal. Marks are coloured on a
//! terminal only and ASCII outside a UTF-8 locale ([`Style`]). Nothing here
//! decides an exit code.

use std::time::Duration;

use serde::Serialize;

use drhost::console::{plugin_text, style, Style};
use drhost::error::ErrorReport;
use drhost::run::{RunReport, Status};

/// The version of every JSON object drhost prints (its `schema` field):
/// raised when a field changes meaning or goes away, not when one is added.
pub const JSON_SCHEMA: u32 = 1;

/// A JSON output: `schema` first, then the object's own fields.
#[derive(Serialize)]
struct Versioned<'a, T: Serialize> {
    schema: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// An object with the `error` that ended the command (`null` if none).
#[derive(Serialize)]
pub struct WithError<T: Serialize> {
    #[serde(flatten)]
    body: T,
    error: Option<ErrorReport>,
}

impl<T: Serialize> WithError<T> {
    /// `body` with `error` (the refusal of a verdict, say).
    pub fn new(body: T, error: Option<&drhost::Error>) -> WithError<T> {
        WithError {
            body,
            error: error.map(ErrorReport::of),
        }
    }
}

/// An object with only the `error` that ended the command.
#[derive(Serialize)]
struct Failed {
    error: ErrorReport,
}

/// One plugin's result in `inspect --json` / `verify --json`: its object,
/// or the path and the error that stopped it.
#[derive(Serialize)]
#[serde(untagged)]
pub enum PluginResult<T: Serialize> {
    /// The plugin's object (report or verdict).
    Done(T),
    /// It could not be inspected or verified.
    Failed {
        /// The file named.
        path: std::path::PathBuf,
        /// Why.
        error: ErrorReport,
    },
}

impl<T: Serialize> PluginResult<T> {
    /// The result for `path` that failed with `error`.
    pub fn failed(path: &std::path::Path, error: &drhost::Error) -> PluginResult<T> {
        PluginResult::Failed {
            path: path.to_owned(),
            error: ErrorReport::of(error),
        }
    }
}

/// A message that may quote plugin text, line by line through
/// [`plugin_text`]: the host's own line breaks stay, nothing else can move
/// the cursor or colour the screen.
pub fn shown(text: &str) -> String {
    text.lines()
        .map(|l| plugin_text(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// drhost's own error on stderr: `drhost: MESSAGE`.
pub fn print_error(error: &drhost::Error) {
    eprintln!("{} {}", Style::stderr().error("drhost:"), shown(&error.to_string()));
}

/// `value` as pretty JSON on stdout, with the `schema` version first.
pub fn print_json(value: &impl Serialize) {
    let versioned = Versioned {
        schema: JSON_SCHEMA,
        body: value,
    };
    println!("{}", serde_json::to_string_pretty(&versioned).unwrap_or_default());
}

/// `items` as a pretty JSON array on stdout, each element an object with its
/// own `schema` version first (a version field cannot wrap a list).
pub fn print_json_each<T: Serialize>(items: impl IntoIterator<Item = T>) {
    let items: Vec<T> = items.into_iter().collect();
    let versioned: Vec<Versioned<'_, T>> = items
        .iter()
        .map(|body| Versioned {
            schema: JSON_SCHEMA,
            body,
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&versioned).unwrap_or_default());
}

/// A command's failure as JSON on stdout: `{"schema": 1, "error": {kind, exit_code, message}}`.
pub fn print_json_error(error: &drhost::Error) {
    print_json(&Failed {
        error: ErrorReport::of(error),
    });
}

/// `inspect --json` / `verify --json`: for one plugin file, its object (or
/// `{"schema", "error"}` when it failed, as any command's failure); for
/// several files or a directory, an array of them, a plugin that failed as
/// `{"schema", "path", "error"}`.
pub fn print_plugin_results<T: Serialize>(results: &[PluginResult<T>], one_file: bool) {
    if !one_file {
        print_json_each(results);
        return;
    }
    match results.first() {
        Some(PluginResult::Done(value)) => print_json(value),
        Some(PluginResult::Failed { error, .. }) => print_json(&Failed { error: error.clone() }),
        None => {}
    }
}

/// `drhost check`'s findings: `--json` prints the problems as an array on
/// stdout; else "config OK" on stdout, or each problem (and the TOML that
/// fixes it) on stderr, then how many.
pub fn print_check(report: &drhost::check::CheckReport, json: bool) {
    if json {
        print_json_each(&report.problems);
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
        print_json_each(listed);
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
    let out = Style::stdout();
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
        let mark = if s.standing == "trusted" {
            out.ok()
        } else {
            out.failed()
        };
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

/// One line for a prepared plugin (stdout), or for one that could not be (stderr).
pub fn print_prepared(prepared: &Result<drhost::prepare::Prepared, (std::path::PathBuf, drhost::Error)>) {
    match prepared {
        Ok(p) => {
            let did = if p.compiled {
                format!("compiled ({})", style::duration(p.took))
            } else {
                "already compiled".to_string()
            };
            println!(
                "{} {}  {}  {}  {did}",
                Style::stdout().ok(),
                p.path.display(),
                p.name,
                p.digest
            );
        }
        Err((path, error)) => eprintln!(
            "{} {}: {}",
            Style::stderr().failed(),
            path.display(),
            shown(&error.to_string())
        ),
    }
}

/// A run's report. `--json`: the JSON object on stdout. Otherwise, when the
/// plugin ended (recovered or failed): the outcome or the failure, its facts
/// or hint, and the journal, all on stdout; when drhost stopped or refused
/// the run: the error and the journal on stderr.
///
/// A plugin summary quoting a denial's advice is cut before the TOML: the
/// host's own denial line, printed as the call was refused (unless -q,
/// `progress_shown` false), is the copy to trust.
pub fn print_report(report: &RunReport, json: bool, progress_shown: bool) {
    if json {
        print_json(report);
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
    let summary = plugin_text(&drhost::caps::kit::text::without_grant_advice(
        &report.summary,
        progress_shown,
    ))
    .into_owned();
    let took = style::duration(Duration::from_millis(report.wall_ms));
    let out = Style::stdout();
    let journal = report.journal.as_ref().map(|j| format!("  journal: {}", j.display()));
    match report.status {
        Status::Recovered | Status::FollowUp => {
            println!("{} {name}: {summary} ({took})", out.ok());
            print_facts_and_tables(report);
            print_plan(report, &out);
            print_follow_ups(report, &out);
            journal.iter().for_each(|j| println!("{j}"));
        }
        Status::Failed => {
            let step = report
                .failed_step
                .as_deref()
                .map(|s| format!(" in step `{}`", plugin_text(s)))
                .unwrap_or_default();
            println!("{} {name} failed{step}: {summary} ({took})", out.failed());
            print_facts_and_tables(report);
            print_plan(report, &out);
            if let Some(hint) = &report.hint {
                println!("  hint: {}", plugin_text(hint));
            }
            journal.iter().for_each(|j| println!("{j}"));
        }
        _ => {
            let err = Style::stderr();
            eprintln!("{} {}", err.error("drhost:"), shown(&report.summary));
            // Stopped mid-run: what had been done, at a glance (the progress
            // above may have scrolled away, or -q hid it).
            if !report.steps.is_empty() {
                let steps: Vec<String> = report
                    .steps
                    .iter()
                    .map(|s| {
                        let mark = if s.ok { err.ok() } else { err.failed() };
                        let took = style::duration(Duration::from_millis(s.duration_ms));
                        format!("{mark} {} ({took})", plugin_text(&s.name))
                    })
                    .collect();
                let more = match report.steps_not_listed {
                    0 => String::new(),
                    n => format!(", and {n} more"),
                };
                eprintln!("  steps: {}{more}", steps.join(", "));
            }
            journal.iter().for_each(|j| eprintln!("{j}"));
        }
    }
}

/// The plugin's facts, then each table under its title (plugin text).
fn print_facts_and_tables(report: &RunReport) {
    for fact in &report.facts {
        println!("    {}: {}", plugin_text(&fact.name), plugin_text(&fact.value));
    }
    for table in &report.tables {
        println!();
        println!("  {}", plugin_text(&table.title));
        let clean = |cells: &[String]| cells.iter().map(|c| plugin_text(c).into_owned()).collect::<Vec<_>>();
        let rows: Vec<Vec<String>> = table.rows.iter().map(|r| clean(r)).collect();
        for line in style::columns(&clean(&table.columns), &rows).lines() {
            println!("    {line}");
        }
        if table.rows_not_listed > 0 {
            println!(
                "    ({} more rows in the journal's plugin output were not kept)",
                table.rows_not_listed
            );
        }
    }
}

/// Plan mode: the changes the run would have made, in order, then each
/// question the plan answered, with its id and who would answer it live.
fn print_plan(report: &RunReport, out: &Style) {
    let Some(plan) = &report.plan else { return };
    println!();
    if plan.total == 0 {
        println!("{}", out.warning("PLAN: no change would be made (nothing was changed)"));
    } else {
        println!(
            "{}",
            out.warning(&format!("PLAN: {} change(s) would be made (none was):", plan.total))
        );
        for (n, change) in plan.changes.iter().enumerate() {
            println!("  {}. {}", n + 1, plugin_text(change));
        }
        if plan.total > plan.changes.len() {
            println!(
                "  {} and {} more in the journal",
                out.more(),
                plan.total - plan.changes.len()
            );
        }
    }
    if !report.confirms.is_empty() {
        println!(
            "{}",
            out.warning(&format!(
                "PLAN: {} question(s) answered yes by the plan; in a live run:",
                report.confirms.len()
            ))
        );
        for confirm in &report.confirms {
            // The id is the host's (a plugin id and hex); the question is the plugin's.
            println!(
                "  [{}] {} {} {}",
                confirm.id,
                plugin_text(&confirm.question),
                out.arrow(),
                plugin_text(confirm.live.as_deref().unwrap_or("?"))
            );
        }
    }
}

/// What the operator must still do, last and prominently: a run with
/// follow-ups is not over when drhost exits.
fn print_follow_ups(report: &RunReport, out: &Style) {
    if report.follow_ups.is_empty() {
        return;
    }
    println!();
    println!(
        "{}",
        out.warning("FOLLOW-UP REQUIRED: recovered, but not finished until you:")
    );
    for (n, follow_up) in report.follow_ups.iter().enumerate() {
        println!("  {}. {}", n + 1, plugin_text(&follow_up.action));
        if !follow_up.why.is_empty() {
            println!("     why: {}", plugin_text(&follow_up.why));
        }
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
            "{} and {} more files in {} that are not journals",
            Style::stderr().more(),
            skipped.len() - SKIPPED_SHOWN,
            dir.display()
        ));
    }
    if json {
        // An array: each run carries its own `schema` (a flattened version
        // field cannot wrap a list).
        println!("{}", serde_json::to_string_pretty(&listing.runs).unwrap_or_default());
    } else if listing.runs.is_empty() {
        let of = plugin
            .map(|p| format!(" of plugin `{}`", plugin_text(p)))
            .unwrap_or_default();
        eprintln!("no runs{of} in {}", dir.display());
    } else {
        print!(
            "{}",
            Style::stdout().plain(&drhost::history::list::table(&listing.runs))
        );
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
        drhost::history::Line::Out(text) => println!("{}", Style::stdout().plain(&text)),
        drhost::history::Line::Warn(text) => warn(&text),
    }
}

/// `drhost journal verify` for people: one line saying how the chain
/// checked out (`ok: N events, head H`, `incomplete: …`, `broken at line N: …`).
/// The head signature's line under `journal verify`'s verdict.
pub fn print_head_signature(check: &drhost::journal::head_signature::SignatureCheck) {
    use drhost::journal::head_signature::SignatureCheck;
    match check {
        SignatureCheck::Unsigned => println!("signature: none (`drhost journal sign RUN --key KEY` adds one)"),
        SignatureCheck::Valid {
            key_id,
            trusted_as: Some(trusted),
            signed_at,
        } => println!("signature: valid, by trusted key `{trusted}` (signed as `{key_id}` at {signed_at})"),
        SignatureCheck::Valid {
            key_id,
            trusted_as: None,
            signed_at,
        } => println!(
            "signature: valid, but by key `{key_id}`, which the trust file does not hold (signed at {signed_at}): trust it only if you know that key"
        ),
        SignatureCheck::Invalid { reason } => println!("signature: INVALID: {reason}"),
    }
}

pub fn print_chain(path: &std::path::Path, verdict: &drhost::journal::chain::Verdict) {
    use drhost::journal::chain::State;
    let reason = verdict.reason.as_deref().unwrap_or_default();
    match verdict.state {
        State::Ok => println!(
            "ok: {} events, head {} ({})",
            verdict.events,
            verdict.head.as_deref().unwrap_or_default(),
            path.display()
        ),
        State::Incomplete => println!(
            "incomplete: chain intact through line {}; {reason} ({})",
            verdict.intact_through,
            path.display()
        ),
        State::Broken => println!(
            "broken at line {}: {reason} ({})",
            verdict.broken_line.unwrap_or_default(),
            path.display()
        ),
    }
}
