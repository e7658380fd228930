//! `drhost report RUN` through the real binary: real runs (`hello`, a
//! failing fixture, the lab's `restart-all` on a compose project of the
//! test's own, a hostile fixture) are journaled, then reported in
//! Markdown, HTML and JSON, and the report is checked against the journal
//! itself: the same status, times, step durations, changes, approvals and
//! time to recovery. The HTML is rendered in a real headless Chromium
//! (Debian's `chromium`, installed by the lab's packages.sh): its DOM must
//! hold the SVG timeline with one bar per step, and its screenshot must be
//! a PNG. A journal whose hash chain was broken is reported as not
//! trustworthy, at the top.

use drhost_tests::cli::HELLO_GRANTS;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use drhost::history::human_duration;
use drhost_tests::cli::{read_journal, Outcome, Run};
use drhost_tests::compose::Stack;
use drhost_tests::tmp::TmpDir;
use serde_json::Value;

/// The sections every Markdown report has, in order.
const SECTIONS: [&str; 13] = [
    "# Post-incident report: ",
    "## What happened",
    "## When",
    "## How it was resolved",
    "### Steps",
    "### Changes made",
    "### Approvals",
    "## Time to recovery and data loss",
    "## What failed",
    "## Facts",
    "## Follow-ups",
    "## Root cause",
    "## Action items",
];

/// `drhost report RUN ARGS… --journal-dir DIR`.
fn report(run: &str, args: &[&str], dir: &Path) -> Outcome {
    let mut argv = vec!["report", run];
    argv.extend_from_slice(args);
    let out = Run::cli(argv).arg("--journal-dir").arg(dir).exec();
    assert_eq!(out.code, 0, "drhost report {run} {args:?}: {}", out.stderr);
    out
}

/// The report of `run` in `dir` as JSON.
fn report_json(run: &str, dir: &Path) -> Value {
    let out = report(run, &["--json"], dir);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
}

/// Milliseconds between two journal times.
fn ms_between(from: &Value, to: &Value) -> f64 {
    let t = |v: &Value| drhost::history::event_time(&serde_json::json!({ "ts": v })).unwrap();
    t(to).duration_since(t(from)).unwrap().as_secs_f64() * 1000.0
}

/// The journal's events named `name`.
fn events<'a>(journal: &'a [Value], name: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == name).collect()
}

/// Asserts the report's run, times, status and steps are the journal's.
fn assert_matches_journal(report: &Value, journal: &[Value]) {
    let (start, end) = (&journal[0], journal.last().unwrap());
    assert_eq!(start["event"], "run-start");
    assert_eq!(end["event"], "run-end");
    assert_eq!(report["schema"], 1);
    assert_eq!(report["run_id"], start["run"]);
    assert_eq!(report["times"]["started"], start["ts"]);
    assert_eq!(report["times"]["detected"], start["ts"], "detected is the run's start");
    assert_eq!(report["times"]["detected_from"], "run start");
    assert_eq!(report["times"]["ended"], end["ts"]);
    assert_eq!(report["times"]["wall_ms"].as_f64(), end["wall_ms"].as_f64());
    assert_eq!(report["ending"]["status"], end["status"]);
    assert_eq!(report["ending"]["exit_code"], end["exit_code"]);
    assert_eq!(report["plugin"]["id"], start["plugin"]["id"]);
    assert_eq!(report["plugin"]["version"], start["plugin"]["version"]);
    assert_eq!(report["plugin"]["digest"], start["plugin"]["digest"]);
    assert_eq!(report["plugin"]["signers"], start["plugin"]["signers"]);
    assert_eq!(report["operator"]["host"], start["host"]);
    assert_eq!(report["operator"]["user"], start["operator"]["user"]);
    assert_eq!(report["integrity"]["state"], "ok");
    assert_eq!(report["integrity"]["trustworthy"], true);
    assert_eq!(report["integrity"]["head"], end["head"]);

    // Each step: its start since the run's start, and step-end's duration.
    let starts = events(journal, "step-start");
    let ends = events(journal, "step-end");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), starts.len(), "{steps:#?}");
    for (step, started) in steps.iter().zip(&starts) {
        assert_eq!(step["name"], started["step"]);
        // The same instant, up to float rounding (the host sums in another order).
        let (at, between) = (
            step["start_ms"].as_f64().unwrap(),
            ms_between(&start["ts"], &started["ts"]),
        );
        assert!((at - between).abs() < 1e-6, "{}: {at} vs {between}", started["step"]);
        let ended = ends
            .iter()
            .find(|e| e["step"] == started["step"])
            .unwrap_or_else(|| panic!("no step-end for {}", started["step"]));
        assert_eq!(
            step["duration_ms"].as_f64(),
            ended["duration_ms"].as_f64(),
            "{}",
            started["step"]
        );
        assert_eq!(step["ok"], ended["ok"]);
    }
}

/// The user this test runs as, as the password database names it.
fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Markdown's table rows: lines starting with `|`.
fn table_rows(markdown: &str) -> Vec<&str> {
    markdown.lines().filter(|l| l.starts_with('|')).collect()
}

/// How many cell separators a Markdown table row has (pipes not escaped).
fn cells(row: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

#[test]
fn a_recovered_runs_report_has_every_section_and_the_journals_numbers() {
    let dir = TmpDir::new("drhost-report-");
    let hello = Run::plugin("hello").config_toml(HELLO_GRANTS).journal_dir(&dir).exec();
    assert_eq!(hello.code, 0, "{}", hello.stderr);
    let journal = read_journal(&hello.journal_path().unwrap());
    let end = journal.last().unwrap();

    let json = report_json("latest", &dir);
    assert_matches_journal(&json, &journal);
    assert_eq!(json["ending"]["recovered"], true);
    assert_eq!(json["operator"]["user"], whoami());
    assert_eq!(json["operator"]["uid"], unsafe { libc::getuid() });
    // hello reports no time-to-recovery fact: the run's wall time is it.
    assert_eq!(json["time_to_recovery"]["ms"].as_f64(), end["wall_ms"].as_f64());
    assert_eq!(json["time_to_recovery"]["source"], "run wall time");
    // Its one change: the echo, journaled as shell.run.
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["call"], "shell.run");
    assert_eq!(changes[0]["ok"], true);
    let echo = events(&journal, "call")
        .into_iter()
        .find(|c| c["call"] == "shell.run")
        .unwrap();
    assert_eq!(changes[0]["duration_ms"].as_f64(), echo["duration_ms"].as_f64());
    assert_eq!(json["approvals"].as_array().unwrap().len(), 0);
    assert_eq!(json["failures"].as_array().unwrap().len(), 0);
    assert_eq!(json["facts"], end["facts"]);

    let md = report("latest", &[], &dir).stdout;
    let mut from = 0;
    for section in SECTIONS {
        let at = md[from..]
            .find(section)
            .unwrap_or_else(|| panic!("`{section}` missing (or out of order) in:\n{md}"));
        from += at + section.len();
    }
    assert!(!md.contains("NOT TRUSTWORTHY"), "{md}");
    for step in json["steps"].as_array().unwrap() {
        let took = human_duration(step["duration_ms"].as_f64().unwrap());
        let row = md
            .lines()
            .find(|l| l.contains(&format!(" {} |", step["name"].as_str().unwrap())))
            .unwrap_or_else(|| panic!("no row for {} in:\n{md}", step["name"]));
        assert!(row.contains(&format!("| {took} | ok |")), "{row}");
    }
    let wall = human_duration(end["wall_ms"].as_f64().unwrap());
    assert!(
        md.contains(&format!("- **Time to recovery:** {wall} (from the run wall time)")),
        "{md}"
    );
    assert!(md.contains("- **Status:** recovered (exit 0)"), "{md}");
    assert!(md.contains(&format!("| Operator | {}", whoami())), "{md}");
    assert!(md.contains("Nothing failed."), "{md}");
    assert!(
        md.contains("## Root cause\n\n_To be written in the post-mortem._"),
        "{md}"
    );
    assert!(
        md.contains("## Action items\n\n_To be written in the post-mortem._"),
        "{md}"
    );
    for row in table_rows(&md) {
        assert!(row.ends_with('|'), "{row}");
    }

    // --out writes the same report to a private file; stdout stays empty.
    let file = dir.join("incident.md");
    let written = report("latest", &["--out", file.to_str().unwrap()], &dir);
    assert_eq!(written.stdout, "");
    assert!(written.stderr.contains("report written to"), "{}", written.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), md);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_failed_runs_report_says_what_failed_and_that_it_did_not_recover() {
    let dir = TmpDir::new("drhost-report-");
    let failed = Run::fixture("misbehave")
        .param("mode", "step-dropped")
        .journal_dir(&dir)
        .exec();
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let journal = read_journal(&failed.journal_path().unwrap());
    let json = report_json("latest", &dir);
    assert_matches_journal(&json, &journal);
    assert_eq!(json["ending"]["recovered"], false);
    assert_eq!(json["ending"]["failed_step"], "never finished");
    assert_eq!(json["time_to_recovery"], Value::Null);
    let failures = json["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["what"], "step never finished");

    let md = report("latest", &[], &dir).stdout;
    let wall = human_duration(journal.last().unwrap()["wall_ms"].as_f64().unwrap());
    assert!(
        md.contains(&format!(
            "- **Time to recovery:** not recovered (the run ended after {wall})"
        )),
        "{md}"
    );
    assert!(
        md.contains("- **failed in step never finished:** left a step open"),
        "{md}"
    );
    assert!(md.contains("step never finished: the plugin dropped the step"), "{md}");
    assert!(md.contains("| FAILED: the plugin dropped the step"), "{md}");
}

#[test]
fn a_lab_recovery_report_lists_every_change_and_approval_and_its_time_to_recovery() {
    let stack = Stack::with_yaml("drhost-report", STACK);
    stack.up();
    stack.wait_healthy(&["db", "api"], Duration::from_secs(60));
    let dir = TmpDir::new("drhost-report-");
    let config = format!(
        "{}\n[[plugins.restart-all.compose]]\ntarget = \"toolboxai\"\naccess = [\"read\", \"restart\"]\n",
        stack.target_toml("toolboxai")
    );
    let out = Run::plugin("restart-all")
        .config_toml(&config)
        .env("DOCKER_HOST", stack.docker_host())
        .journal_dir(&dir)
        .yes()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let journal = read_journal(&out.journal_path().unwrap());
    let json = report_json("latest", &dir);
    assert_matches_journal(&json, &journal);

    // The time to recovery is the plugin's fact, to the millisecond.
    let facts = journal.last().unwrap()["facts"].as_array().unwrap();
    let ttr = facts.iter().find(|f| f["name"] == "time-to-recovery-ms").unwrap();
    let ttr_ms: f64 = ttr["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(json["time_to_recovery"]["ms"].as_f64().unwrap(), ttr_ms);
    assert_eq!(json["time_to_recovery"]["source"], "fact time-to-recovery-ms");

    // Every compose.restart, in order, as a change that succeeded.
    let restarts: Vec<&Value> = events(&journal, "call")
        .into_iter()
        .filter(|c| c["call"] == "compose.restart")
        .collect();
    assert_eq!(restarts.len(), 2, "db and api");
    let changes: Vec<&Value> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["call"] == "compose.restart")
        .collect();
    assert_eq!(changes.len(), restarts.len(), "{:#?}", json["changes"]);
    for (change, call) in changes.iter().zip(&restarts) {
        assert_eq!(change["duration_ms"].as_f64(), call["duration_ms"].as_f64());
        // The same instant, up to float rounding (sums in another order).
        let (at, between) = (
            change["at_ms"].as_f64().unwrap(),
            ms_between(&journal[0]["ts"], &call["ts"]),
        );
        assert!((at - between).abs() < 1e-6, "{at} vs {between}");
        assert_eq!(change["ok"], true);
    }
    // The question, its id, and who approved it.
    let asked = events(&journal, "call")
        .into_iter()
        .find(|c| c["call"] == "confirm.ask")
        .unwrap();
    let approvals = json["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["id"], asked["args"]["id"]);
    assert_eq!(approvals[0]["question"], asked["args"]["question"]);
    assert_eq!(approvals[0]["approved"], true);
    assert_eq!(approvals[0]["by"], "--yes");

    let md = report("latest", &[], &dir).stdout;
    assert!(
        md.contains(&format!(
            "- **Time to recovery:** {} (from the fact time-to-recovery-ms)",
            human_duration(ttr_ms)
        )),
        "{md}"
    );
    let approval_row = md
        .lines()
        .find(|l| l.contains(asked["args"]["id"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("no approval row in:\n{md}"));
    assert!(approval_row.contains("| approved | --yes |"), "{approval_row}");
    let restart_rows = md.lines().filter(|l| l.contains("compose.restart")).count();
    assert_eq!(restart_rows, 2, "{md}");

    let html = report("latest", &["--html"], &dir).stdout;
    let dom = chromium_dom(&dir, &html);
    assert_eq!(
        dom.matches("<rect class=\"step ok\"").count(),
        journal.iter().filter(|e| e["event"] == "step-start").count(),
        "one green bar per step:\n{dom}"
    );
}

/// A compose project of two services (db → api), enough for restart-all.
const STACK: &str = r#"
version: "3.9"
services:
  api:
    image: toolboxai/backend:latest
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 100000"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, timeout: 2s, retries: 3}
    stop_signal: SIGKILL
    depends_on: [db]
  db:
    image: toolboxai/backend:latest
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 100000"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, timeout: 2s, retries: 3}
    stop_signal: SIGKILL
"#;

/// What a hostile plugin put in its texts (tests/plugins/noisy,
/// mode=markup) that must reach no output as it was: control characters,
/// a bidirectional override, and a newline that would start a heading.
const LIVE: [&str; 5] = ["\u{1b}", "\r", "\u{9b}", "\u{202e}", "\n# forged heading"];

#[test]
fn a_plugins_markup_is_never_live_in_any_format() {
    for (end, yes) in [("ok", true), ("fail", false)] {
        let dir = TmpDir::new("drhost-report-");
        let mut run = Run::fixture("noisy")
            .param("mode", "markup")
            .param("end", end)
            .journal_dir(&dir);
        if yes {
            run = run.yes();
        }
        let out = run.exec();
        assert_eq!(out.code, if yes { 5 } else { 1 }, "{}", out.stderr);
        let raw = out.journal_text();
        assert!(
            raw.contains("<script>alert(1)</script>"),
            "the journal keeps the plugin's text"
        );
        assert!(raw.contains("](javascript:alert(1))"));

        let md = report("latest", &[], &dir).stdout;
        let html = report("latest", &["--html"], &dir).stdout;
        let json = report("latest", &["--json"], &dir).stdout;
        for (format, text) in [("markdown", &md), ("html", &html), ("json", &json)] {
            for live in LIVE {
                assert!(!text.contains(live), "{format} has {live:?} live:\n{text}");
            }
        }
        // Markdown: the text is there, escaped (`\<` is a literal `<`, `\]\(`
        // no link); no table row gained a cell.
        let unescaped = md.replace("\\<", "").replace("\\]", "");
        for live in ["<script", "](javascript:", "<"] {
            assert!(!unescaped.contains(live), "markdown has {live:?} live:\n{md}");
        }
        assert!(md.contains("\\<script\\>alert\\(1\\)\\</script\\>"), "{md}");
        assert!(md.contains("\\[click\\]\\(javascript:alert\\(1\\)\\)"), "{md}");
        assert!(md.contains("\\| x \\| y \\|"), "{md}");
        assert!(!md.lines().any(|l| l.starts_with("# forged")), "{md}");
        let mut tables: Vec<(usize, usize)> = Vec::new(); // (cells of the header, row count)
        for line in md.lines() {
            if !line.starts_with('|') {
                tables.push((0, 0));
                continue;
            }
            let n = cells(line);
            match tables.last_mut() {
                Some((header, rows)) if *header > 0 => {
                    assert_eq!(n, *header, "a row with other cells than its header: {line}");
                    *rows += 1;
                }
                _ => tables.push((n, 1)),
            }
        }
        // HTML: escaped, and no link, script or event handler anywhere.
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        let lower = html.to_lowercase();
        for never in [
            "<script",
            "href",
            "src=",
            "onerror",
            "onload",
            "javascript:alert(1))\">",
        ] {
            assert!(!lower.contains(never), "html has {never}");
        }
        // JSON: the texts are there, cleaned of control characters.
        let report: Value = serde_json::from_str(&json).unwrap();
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3, "{steps:#?}");
        assert!(
            steps[0]["name"].as_str().unwrap().contains("\\u{1b}[31mred"),
            "{steps:#?}"
        );
        assert!(steps[1]["notes"][0].as_str().unwrap().starts_with("note <script>"));
        assert_eq!(steps[2]["ok"], false);
        assert_eq!(
            report["approvals"][0]["approved"],
            if yes { Value::Bool(true) } else { Value::Null }
        );
        let change = &report["changes"][0];
        assert_eq!(change["call"], "shell.run");
        assert_eq!(change["ok"], false, "refused: noisy has no grant");

        // The browser's DOM: escaped text, no script element, one bar per step.
        let dom = chromium_dom(&dir, &html);
        assert!(!dom.to_lowercase().contains("<script"), "{dom}");
        assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{dom}");
        assert_eq!(dom.matches("<rect class=\"step ").count(), 3, "{dom}");
        assert_eq!(dom.matches("<rect class=\"step failed\"").count(), 1, "{dom}");
        assert!(dom.contains("class=\"marker failure\""), "{dom}");
        if yes {
            assert!(dom.contains("<circle class=\"marker approval\""), "{dom}");
        }
    }
}

#[test]
fn the_html_page_renders_in_headless_chromium_with_a_timeline_and_a_screenshot() {
    let dir = TmpDir::new("drhost-report-");
    let hello = Run::plugin("hello").config_toml(HELLO_GRANTS).journal_dir(&dir).exec();
    assert_eq!(hello.code, 0, "{}", hello.stderr);
    let journal = read_journal(&hello.journal_path().unwrap());
    let file = dir.join("incident.html");
    report("latest", &["--html", "--out", file.to_str().unwrap()], &dir);
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for external in ["http://", "https://", "<link", "<script", "@import", "url("] {
        let count = html.matches(external).count();
        // The SVG namespace is a name, not a fetch.
        let allowed = if external == "http://" { 1 } else { 0 };
        assert_eq!(count, allowed, "{external} in the page:\n{html}");
    }

    let dom = chromium_dom(&dir, &html);
    assert!(dom.contains("<svg class=\"timeline\""), "{dom}");
    let steps = events(&journal, "step-start").len();
    assert!(steps >= 1);
    assert_eq!(dom.matches("<rect class=\"step ok\"").count(), steps, "{dom}");
    assert!(dom.contains("class=\"marker start\""), "{dom}");
    assert!(dom.contains("class=\"marker end\""), "{dom}");
    assert!(dom.contains("<h2>Root cause</h2>"), "{dom}");

    let png = dir.join("incident.png");
    let shot = chromium(
        &dir,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1100,1400",
            &format!("file://{}", file.display()),
        ],
    );
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot {}: {e}", png.display()));
    assert!(
        bytes.len() > 10_000,
        "a screenshot of a whole page: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
}

#[test]
fn a_journal_with_a_broken_hash_chain_is_reported_as_not_trustworthy() {
    let dir = TmpDir::new("drhost-report-");
    let hello = Run::plugin("hello").config_toml(HELLO_GRANTS).journal_dir(&dir).exec();
    assert_eq!(hello.code, 0, "{}", hello.stderr);
    let path = hello.journal_path().unwrap();
    // Someone makes the step look faster and the run look cleaner.
    let text = std::fs::read_to_string(&path).unwrap();
    let forged = text.replacen("\"say hello\"", "\"say hi!!!\"", 1);
    assert_ne!(forged, text);
    std::fs::write(&path, forged).unwrap();
    let verify = Run::cli(["journal", "verify", "latest"])
        .arg("--journal-dir")
        .arg(&dir)
        .exec();
    assert_eq!(verify.code, 3, "{}", verify.stdout);

    let md = report("latest", &[], &dir);
    let first = md.stdout.lines().filter(|l| !l.is_empty()).nth(1).unwrap();
    assert!(first.starts_with("> **WARNING: NOT TRUSTWORTHY.**"), "{}", md.stdout);
    assert!(first.contains("hash chain is broken at line"), "{first}");
    assert!(md.stderr.contains("is not trustworthy"), "{}", md.stderr);
    let html = report("latest", &["--html"], &dir).stdout;
    let body = &html[html.find("<body>").unwrap()..];
    assert!(
        body.trim_start_matches("<body>")
            .trim_start()
            .starts_with("<p class=\"warning\""),
        "{body}"
    );
    let json = report_json("latest", &dir);
    assert_eq!(json["integrity"]["state"], "broken");
    assert_eq!(json["integrity"]["trustworthy"], false);
    assert!(json["integrity"]["broken_line"].as_u64().unwrap() >= 2);
}

#[test]
fn an_unknown_run_is_a_usage_error_naming_drhost_runs() {
    let dir = TmpDir::new("drhost-report-");
    let out = Run::cli(["report", "nope"]).arg("--journal-dir").arg(&*dir).exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.message_lines().len(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("`drhost runs`"), "{}", out.stderr);
    let both = Run::cli(["report", "latest", "--html", "--json"])
        .arg("--journal-dir")
        .arg(&*dir)
        .exec();
    assert_eq!(both.code, 2, "{}", both.stderr);
}

fn chromium(dir: &Path, args: &[&str]) -> std::process::Output {
    drhost_tests::chromium::run(dir, args)
}

fn chromium_dom(dir: &Path, html: &str) -> String {
    drhost_tests::chromium::dom(dir, html)
}
