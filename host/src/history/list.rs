//! `drhost runs`: one line per journal in the journal directory, newest
//! first. A journal's first lines say what ran and when (`run-start`), its
//! last line how it ended (`run-end`); only those are read, so listing a
//! directory of long journals stays fast. A run without `run-end` is
//! `running` while its drhost still holds the journal
//! ([`crate::journal::writer_alive`]), else it ended without one. A file
//! that is not a journal is reported in [`Listing::skipped`], never listed.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::{clip, dir_files, head_lines, human_duration, parse_event, wall_clock};
use crate::error::{Error, Result};

/// The `schema` of each object `drhost runs --json` prints; raised when a
/// field changes meaning or goes away (new fields keep it).
pub const LIST_SCHEMA: u32 = 1;

/// Bytes read from the start of a journal to find its `run-start`.
const HEAD_BYTES: u64 = 1 << 20;
/// Bytes read from the end of a journal to find its last event.
const TAIL_BYTES: u64 = 64 << 10;

/// Fact names plugins use for time-to-recovery, preferred first; the
/// `-ms` ones are milliseconds.
const RECOVERY_FACTS: &[&str] = &["time-to-recovery", "rto", "time-to-recovery-ms", "rto-ms"];

/// One run, as `drhost runs` lists it (and `--json` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// [`LIST_SCHEMA`].
    pub schema: u32,
    /// The run id.
    pub run_id: String,
    /// The journal file.
    pub journal: PathBuf,
    /// When the run started (`run-start`'s `ts`, RFC 3339, UTC).
    pub started: String,
    /// When its journal ends: `run-end`'s `ts`, else its last event's.
    pub ended: Option<String>,
    /// The plugin's id, as its `describe` said (none when refused before).
    pub plugin: Option<String>,
    /// The plugin's version, as its `describe` said.
    pub version: Option<String>,
    /// The plugin file the run was given.
    pub plugin_path: Option<String>,
    /// `run-end`'s status (`recovered`, `failed`, `refused`,
    /// `sandbox-limit`, `interrupted`, `usage`, …); `running` while drhost
    /// still writes the journal; `no-run-end` when it stopped without one.
    pub status: String,
    /// `run-end`'s exit code.
    pub exit_code: Option<i64>,
    /// `run-end`'s wall time; while running, the time so far; without
    /// `run-end`, the time to the journal's last event.
    pub duration_ms: Option<u64>,
    /// `run-end`'s one-line summary.
    pub summary: Option<String>,
    /// The step the run failed in.
    pub failed_step: Option<String>,
    /// The plugin's time-to-recovery fact (`time-to-recovery`, `rto`, or
    /// their `-ms` forms), when it reported one.
    pub time_to_recovery: Option<String>,
    /// When the run started, for sorting.
    #[serde(skip)]
    started_at: SystemTime,
}

/// A file in the journal directory that is not a journal.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// What `drhost runs` found.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The runs to show, newest first.
    pub runs: Vec<RunSummary>,
    /// Runs that matched but were left out by the limit.
    pub more: usize,
    /// Files that are not journals.
    pub skipped: Vec<Skipped>,
}

/// The runs in `dir`, newest first: at most `limit` (0: all), only those of
/// plugin id `plugin` when given. A missing directory has no runs; an
/// unreadable one is an error.
pub fn list(dir: &Path, limit: usize, plugin: Option<&str>) -> Result<Listing> {
    if let Err(e) = std::fs::read_dir(dir) {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Ok(Listing {
                runs: Vec::new(),
                more: 0,
                skipped: Vec::new(),
            });
        }
        return Err(Error::Usage(format!(
            "cannot read the journal directory {}: {e}",
            dir.display()
        )));
    }
    let (mut heads, skipped) = heads(dir);
    heads.retain(|h| plugin.is_none_or(|p| h.plugin.as_deref() == Some(p)));
    heads.sort_by(|a, b| (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)));
    let shown = if limit == 0 {
        heads.len()
    } else {
        limit.min(heads.len())
    };
    let more = heads.len() - shown;
    heads.truncate(shown);
    let now = SystemTime::now();
    let (mut runs, mut skipped) = (Vec::new(), skipped);
    for head in heads {
        match with_end(head, now) {
            Ok(run) => runs.push(run),
            Err(skip) => skipped.push(skip),
        }
    }
    Ok(Listing { runs, more, skipped })
}

/// The journal of the run that started last in `dir` (for `show latest`).
pub fn newest(dir: &Path) -> Result<Option<PathBuf>> {
    Ok(list(dir, 0, None)?.runs.into_iter().next().map(|r| r.journal))
}

/// The journal `latest` means when drills count too (`drhost report
/// latest`): the run in `dir` or the drill in `drills` that started last —
/// but a drill's own plugin runs (before, fault, recovery) start while it
/// runs, after it, so a run that started within the newest drill's span is
/// taken as that drill.
pub fn newest_with_drills(dir: &Path, drills: &Path) -> Result<Option<PathBuf>> {
    let run = list(dir, 1, None)?.runs.into_iter().next();
    let drill = list(drills, 1, None)?.runs.into_iter().next();
    Ok(match (run, drill) {
        (Some(run), Some(drill)) => {
            let until = drill.started_at + std::time::Duration::from_millis(drill.duration_ms.unwrap_or(0));
            if run.started_at <= until {
                Some(drill.journal)
            } else {
                Some(run.journal)
            }
        }
        (run, drill) => run.or(drill).map(|r| r.journal),
    })
}

/// What the first lines of every file in `dir` say, and the files that are
/// not journals.
fn heads(dir: &Path) -> (Vec<RunSummary>, Vec<Skipped>) {
    let (mut heads, mut skipped) = (Vec::new(), Vec::new());
    for path in dir_files(dir) {
        if path.extension().is_none_or(|e| e != "jsonl") {
            skipped.push(Skipped {
                path,
                reason: "not a journal (journals are RUN-ID.jsonl)".into(),
            });
            continue;
        }
        match head(&path) {
            Ok(head) => heads.push(head),
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    (heads, skipped)
}

/// A run as its `run-start` describes it; the end is filled in by [`with_end`].
fn head(path: &Path) -> std::result::Result<RunSummary, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let lines = head_lines(&file, HEAD_BYTES).map_err(|e| format!("cannot read it: {e}"))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if lines.is_empty() {
        // drhost creates the journal before it compiles and asks `describe`,
        // and writes `run-start` after: a run that is starting.
        if crate::journal::writer_alive(path) == Some(true) {
            let started_at = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .unwrap_or_else(|_| SystemTime::now());
            let mut run = summary(stem, path, started_at);
            run.status = "running".into();
            return Ok(run);
        }
        return Err("empty or unfinished first line, and no drhost is writing it".into());
    }
    let mut start = None;
    for (n, line) in lines.iter().enumerate() {
        let event = parse_event(line).map_err(|e| format!("not a drhost journal (line {}: {e})", n + 1))?;
        if event["event"] == "run-start" {
            start = Some(event);
            break;
        }
    }
    let start = start.ok_or("no run-start in its first MiB")?;
    let started_at = super::event_time(&start).ok_or("run-start has no time")?;
    let run_id = start["run"].as_str().map(str::to_owned).unwrap_or(stem);
    let mut run = summary(run_id, path, started_at);
    run.started = start["ts"].as_str().unwrap_or_default().to_owned();
    run.plugin = start["plugin"]["id"].as_str().map(str::to_owned);
    run.version = start["plugin"]["version"].as_str().map(str::to_owned);
    run.plugin_path = start["plugin"]["path"].as_str().map(str::to_owned);
    Ok(run)
}

/// An empty summary of run `run_id`, journaled in `path`, started at `started_at`.
fn summary(run_id: String, path: &Path, started_at: SystemTime) -> RunSummary {
    RunSummary {
        schema: LIST_SCHEMA,
        run_id,
        journal: path.to_owned(),
        started: humantime::format_rfc3339_millis(started_at).to_string(),
        ended: None,
        plugin: None,
        version: None,
        plugin_path: None,
        status: String::new(),
        exit_code: None,
        duration_ms: None,
        summary: None,
        failed_step: None,
        time_to_recovery: None,
        started_at,
    }
}

/// Fills in how the run ended from the journal's last event. The writer is
/// asked before the last event is read again, so a run that ends between
/// the two reads is seen ended, never crashed.
fn with_end(mut run: RunSummary, now: SystemTime) -> std::result::Result<RunSummary, Skipped> {
    let skip = |reason: String| Skipped {
        path: run.journal.clone(),
        reason,
    };
    if run.status == "running" {
        run.duration_ms = Some(ms_between(run.started_at, now));
        return Ok(run);
    }
    let mut last = last_event(&run.journal).map_err(skip)?;
    if last["event"] != "run-end" {
        let alive = crate::journal::writer_alive(&run.journal) == Some(true);
        if !alive {
            last = last_event(&run.journal).map_err(skip)?;
        }
        if last["event"] != "run-end" {
            run.status = if alive { "running" } else { "no-run-end" }.into();
            let until = if alive { Some(now) } else { super::event_time(&last) };
            run.duration_ms = until.map(|t| ms_between(run.started_at, t));
            run.ended = (!alive).then(|| last["ts"].as_str().unwrap_or_default().to_owned());
            return Ok(run);
        }
    }
    run.status = last["status"].as_str().unwrap_or("unknown").to_owned();
    run.exit_code = last["exit_code"].as_i64();
    run.duration_ms = last["wall_ms"].as_u64();
    run.ended = last["ts"].as_str().map(str::to_owned);
    run.summary = last["summary"].as_str().map(str::to_owned);
    run.failed_step = last["failed_step"].as_str().map(str::to_owned);
    run.time_to_recovery = recovery_fact(&last["facts"]);
    Ok(run)
}

fn ms_between(from: SystemTime, to: SystemTime) -> u64 {
    to.duration_since(from).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A time-to-recovery the plugin reported as a fact.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryFact {
    /// The fact's name (one of [`RECOVERY_FACTS`]).
    pub name: &'static str,
    /// Its value as the plugin wrote it.
    pub value: String,
    /// Its value in milliseconds, when it is a number (`-ms` facts) or a
    /// duration such as `39s`.
    pub ms: Option<f64>,
}

impl RecoveryFact {
    /// The value for people: a `-ms` number as a duration, else as written.
    pub fn text(&self) -> String {
        match self.ms {
            Some(ms) if self.name.ends_with("-ms") => human_duration(ms),
            _ => self.value.clone(),
        }
    }
}

/// The plugin's time-to-recovery among run-end's `facts` (the first of
/// [`RECOVERY_FACTS`] it reported).
pub fn recovery(facts: &Value) -> Option<RecoveryFact> {
    let facts = facts.as_array()?;
    RECOVERY_FACTS.iter().find_map(|name| {
        let value = facts.iter().find(|f| f["name"] == *name)?["value"].as_str()?;
        let ms = if name.ends_with("-ms") {
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
        } else {
            humantime::parse_duration(value.trim())
                .ok()
                .map(|d| d.as_secs_f64() * 1000.0)
        };
        Some(RecoveryFact {
            name,
            value: value.to_owned(),
            ms,
        })
    })
}

/// The plugin's time-to-recovery among `facts`, for people.
fn recovery_fact(facts: &Value) -> Option<String> {
    recovery(facts).map(|fact| fact.text())
}

/// The last complete event of the journal at `path`.
fn last_event(path: &Path) -> std::result::Result<Value, String> {
    let unreadable = |e: std::io::Error| format!("cannot read it: {e}");
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    let mut from = len.saturating_sub(TAIL_BYTES);
    loop {
        file.seek(SeekFrom::Start(from)).map_err(unreadable)?;
        let mut text = Vec::new();
        (&mut file)
            .take(len - from)
            .read_to_end(&mut text)
            .map_err(unreadable)?;
        // Drop a last line still being written, then find where the last complete one starts.
        let end = text.iter().rposition(|b| *b == b'\n').unwrap_or(0);
        let start = text[..end].iter().rposition(|b| *b == b'\n').map(|i| i + 1);
        match start {
            Some(start) => return line_event(&text[start..end]),
            None if from == 0 => return line_event(&text[..end]),
            // The last line is longer than what was read: read it all.
            None => from = 0,
        }
    }
}

fn line_event(line: &[u8]) -> std::result::Result<Value, String> {
    parse_event(&String::from_utf8_lossy(line)).map_err(|e| format!("its last line is not a journal event ({e})"))
}

/// The listing as a table for people: one run a line, newest first.
pub fn table(runs: &[RunSummary]) -> String {
    let header = ["STARTED (UTC)", "RUN", "PLUGIN", "STATUS", "DURATION", "RECOVERY"];
    let rows: Vec<[String; 6]> = runs
        .iter()
        .map(|r| {
            let plugin = match (&r.plugin, &r.plugin_path) {
                (Some(id), _) => format!("{} {}", clip(id, 40), clip(r.version.as_deref().unwrap_or(""), 20)),
                (None, Some(path)) => format!("({})", clip(path, 40)),
                (None, None) => "(starting)".into(),
            };
            [
                wall_clock(&r.started),
                clip(&r.run_id, 60),
                plugin.trim_end().to_owned(),
                status_text(&r.status),
                match (r.duration_ms, r.status.as_str()) {
                    (None, _) => "-".into(),
                    (Some(ms), "running") => format!("{} so far", human_duration(ms as f64)),
                    (Some(ms), "no-run-end") => format!("≥ {}", human_duration(ms as f64)),
                    (Some(ms), _) => human_duration(ms as f64),
                },
                r.time_to_recovery.as_deref().map_or("-".into(), |t| clip(t, 30)),
            ]
        })
        .collect();
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    crate::console::style::columns(&header.map(String::from), &rows)
}

/// A status as `drhost runs` shows it.
pub fn status_text(status: &str) -> String {
    match status {
        "no-run-end" => "ended without run-end (crashed?)".into(),
        "follow-up" => "recovered, follow-up required".into(),
        other => clip(other, 30),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const START: &str =
        r#"{"ts":"2026-11-30T10:00:00.000Z","run":"r1","event":"run-start","plugin":{"id":"hello","version":"0.1.0"}}"#;

    #[test]
    fn runs_are_listed_newest_first_with_their_end_and_foreign_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let end = r#"{"ts":"2026-11-30T10:00:02.000Z","run":"r1","event":"run-end","status":"recovered","exit_code":0,"wall_ms":2000,"facts":[{"name":"rto-ms","value":"1500"}]}"#;
        write(dir.path(), "r1.jsonl", &format!("{START}\n{end}\n"));
        let later = START.replace("10:00:00", "11:00:00").replace("\"r1\"", "\"r2\"");
        // No run-end and nobody writing it: the drhost that wrote it died.
        write(
            dir.path(),
            "r2.jsonl",
            &format!("{later}\n{}\n", later.replace("run-start", "log")),
        );
        write(dir.path(), "junk.jsonl", "\u{0}\u{1}binary\n");
        write(dir.path(), "notes.txt", "hello");
        write(dir.path(), "empty.jsonl", "");

        let listing = list(dir.path(), 20, None).unwrap();
        let ids: Vec<_> = listing.runs.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["r2", "r1"]);
        assert_eq!(listing.runs[0].status, "no-run-end");
        assert_eq!(listing.runs[1].status, "recovered");
        assert_eq!(listing.runs[1].duration_ms, Some(2000));
        assert_eq!(listing.runs[1].time_to_recovery.as_deref(), Some("1.5 s"));
        let mut skipped: Vec<_> = listing
            .skipped
            .iter()
            .map(|s| s.path.file_name().unwrap().to_str().unwrap())
            .collect();
        skipped.sort();
        assert_eq!(skipped, ["empty.jsonl", "junk.jsonl", "notes.txt"]);

        let limited = list(dir.path(), 1, None).unwrap();
        assert_eq!((limited.runs.len(), limited.more), (1, 1));
        assert!(list(dir.path(), 0, Some("other")).unwrap().runs.is_empty());
        let table = table(&listing.runs);
        assert!(table.contains("ended without run-end (crashed?)"), "{table}");
        assert!(
            table.lines().nth(2).unwrap().starts_with("2026-11-30 10:00:00  r1"),
            "{table}"
        );
        assert!(list(&dir.path().join("missing"), 20, None).unwrap().runs.is_empty());
    }

    #[test]
    fn a_last_line_longer_than_the_tail_is_read_whole_and_a_torn_one_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!(
            r#"{{"ts":"2026-11-30T10:00:02.000Z","run":"r1","event":"run-end","status":"failed","summary":"{}"}}"#,
            "x".repeat(TAIL_BYTES as usize * 2)
        );
        let path = write(dir.path(), "r1.jsonl", &format!("{START}\n{long}\n{{\"ts\":\"2026"));
        assert_eq!(last_event(&path).unwrap()["status"], "failed");
    }
}
