//! Run history: `drhost runs` lists the journals in the journal directory
//! ([`list`]), `drhost show` renders one as a timeline ([`timeline`]),
//! once or following it while it is written ([`show`]), and `drhost
//! report` turns one into a post-incident report ([`report`]).
//!
//! Evidence is the journal, so this module only reads journals: it never
//! writes, moves or deletes one. Nor does it trust them: any string in a
//! journal may come from a plugin (or from whoever wrote a file into the
//! directory), so everything it formats for the terminal goes through
//! [`crate::console::plugin_text`], and a file that is not a journal is
//! skipped with a warning, never a panic. This file owns where journals
//! are, which file `RUN` names, and how one journal line is read.

pub mod list;
pub mod report;
pub mod show;
pub mod timeline;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::config::{self, Config};
use crate::console::plugin_text;
use crate::error::{Error, Result};

pub use list::{list, Listing, RunSummary, Skipped, LIST_SCHEMA};
pub use report::{IncidentReport, REPORT_SCHEMA};
pub use show::{show, Line, ShowOptions};
pub use timeline::Timeline;

/// The journal directory `drhost runs` and `drhost show` read.
#[derive(Debug, Clone)]
pub struct JournalDir {
    /// The directory.
    pub path: PathBuf,
    /// Set when the configuration could not be read: the directory is then
    /// the flag's or the default, as it is for `drhost run`.
    pub warning: Option<String>,
    /// The configuration read on the way (`None` when none was found or it
    /// could not be read, or `--journal-dir` made reading it unneeded), and
    /// where it is: `journal verify` finds the trust file through it.
    pub config: Option<(PathBuf, Config)>,
}

/// Where the journals are, resolved as `drhost run` resolves it (through
/// [`crate::journal::resolve_dir`]): `journal_dir` (`--journal-dir`), else
/// `[run] journal_dir` of the configuration (`--config`, `$DRHOST_CONFIG`,
/// `./drhost.toml`), else the default. A configuration that cannot be read
/// is a warning, not an error: `drhost run` would have journaled to the
/// default directory then too.
pub fn locate(journal_dir: Option<&Path>, config_file: Option<&Path>) -> Result<JournalDir> {
    if journal_dir.is_some() {
        return Ok(JournalDir {
            path: crate::journal::resolve_dir(journal_dir, None)?,
            warning: None,
            config: None,
        });
    }
    let config_path = config::locate(config_file);
    match config_path.as_deref().map(Config::load).transpose() {
        Ok(config) => Ok(JournalDir {
            path: crate::journal::resolve_dir(None, config.as_ref())?,
            warning: None,
            config: config_path.zip(config),
        }),
        Err(error) => {
            let path = crate::journal::resolve_dir(None, None)?;
            let warning = format!(
                "{error}; reading the default journal directory {} (where `drhost run` journals with this configuration)",
                path.display()
            );
            Ok(JournalDir {
                path,
                warning: Some(warning),
                config: None,
            })
        }
    }
}

/// The journal file `run` names in `dir`: `latest` (the run that started
/// last), a journal file's path, a run id, or a unique prefix of one. An
/// unknown or ambiguous `run` is a usage error naming `drhost runs`.
pub fn find_run(dir: &Path, run: &str) -> Result<PathBuf> {
    if run == "latest" {
        return list::newest(dir)?.ok_or_else(|| {
            Error::Usage(format!(
                "there are no runs in {} yet: `drhost runs` lists the runs it finds (choose the directory with --journal-dir or [run] journal_dir)",
                dir.display()
            ))
        });
    }
    let as_path = Path::new(run);
    if run.contains('/') || run.ends_with(".jsonl") {
        if as_path.is_file() {
            return Ok(as_path.to_owned());
        }
        if run.contains('/') {
            return Err(Error::Usage(format!(
                "no journal file {run}: pass a journal's path, a run id or `latest` (`drhost runs` lists the runs)"
            )));
        }
    }
    let id = run.strip_suffix(".jsonl").unwrap_or(run);
    let exact = dir.join(format!("{id}.jsonl"));
    if exact.is_file() {
        return Ok(exact);
    }
    let mut matches: Vec<String> = journal_files(dir)
        .into_iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .filter(|stem| stem.starts_with(id))
        .collect();
    matches.sort();
    match matches.len() {
        1 => Ok(dir.join(format!("{}.jsonl", matches[0]))),
        0 => Err(Error::Usage(format!(
            "no run `{}` in {}: `drhost runs` lists the recent runs (pass a run id, a unique prefix of one, a journal file or `latest`)",
            plugin_text(run),
            dir.display()
        ))),
        n => Err(Error::Usage(format!(
            "`{}` is the start of {n} runs in {} ({}{}): give more of the run id (`drhost runs` lists them)",
            plugin_text(run),
            dir.display(),
            matches.iter().take(3).map(|m| plugin_text(m).into_owned()).collect::<Vec<_>>().join(", "),
            if n > 3 { ", …" } else { "" }
        ))),
    }
}

/// The journal `drhost report RUN` reads: a run as [`find_run`] finds it in
/// `dir`, else a drill's in `dir/drills`; `latest` is the run or drill that
/// started last, a drill's own plugin runs counting as the drill (see
/// [`list::newest_with_drills`]).
pub fn find_report(dir: &Path, run: &str) -> Result<PathBuf> {
    let drills = dir.join(crate::drill::DRILLS_DIR);
    if run == "latest" {
        return list::newest_with_drills(dir, &drills)?.ok_or_else(|| {
            Error::Usage(format!(
                "there are no runs or drills in {} yet: `drhost runs` lists the runs, `drhost schedule` the drills (choose the directory with --journal-dir or [run] journal_dir)",
                dir.display()
            ))
        });
    }
    find_run(dir, run).or_else(|error| find_run(&drills, run).map_err(|_| error))
}

/// The regular files in `dir` that are not hidden, in no particular order;
/// nothing when `dir` cannot be read.
fn dir_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect()
}

/// The `*.jsonl` files in `dir`.
pub(crate) fn journal_files(dir: &Path) -> Vec<PathBuf> {
    dir_files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect()
}

/// One journal line: a JSON object whose `event` and `ts` are strings, `ts`
/// an RFC 3339 time. The error says, in a few words, what it is instead.
pub fn parse_event(line: &str) -> std::result::Result<Value, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    if !value["event"].is_string() {
        return Err("no `event`".into());
    }
    match value["ts"].as_str().map(humantime::parse_rfc3339) {
        Some(Ok(_)) => Ok(value),
        _ => Err("no RFC 3339 `ts`".into()),
    }
}

/// When an event was written (its `ts`).
pub fn event_time(event: &Value) -> Option<SystemTime> {
    humantime::parse_rfc3339(event["ts"].as_str()?).ok()
}

/// A journal line that is not an event.
#[derive(Debug, Clone)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What it is instead (see [`parse_event`]).
    pub reason: String,
}

/// A journal read line by line (one line in memory at a time, however long
/// the journal): each complete line's number and its event, or what it is
/// instead. A last line without its newline is still being written and is
/// left out.
pub struct JournalLines {
    reader: BufReader<std::fs::File>,
    path: PathBuf,
    number: usize,
    line: Vec<u8>,
}

impl JournalLines {
    /// Opens the journal at `path`.
    pub fn open(path: &Path) -> Result<JournalLines> {
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, e))?;
        Ok(JournalLines {
            reader: BufReader::new(file),
            path: path.to_owned(),
            number: 0,
            line: Vec::new(),
        })
    }
}

impl Iterator for JournalLines {
    type Item = Result<(usize, std::result::Result<Value, BadLine>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.line.clear();
        match self.reader.read_until(b'\n', &mut self.line) {
            Err(e) => Some(Err(unreadable(&self.path, e))),
            Ok(_) if self.line.last() != Some(&b'\n') => None,
            Ok(_) => {
                self.number += 1;
                let line = self.number;
                let event =
                    parse_event(&String::from_utf8_lossy(&self.line)).map_err(|reason| BadLine { line, reason });
                Some(Ok((line, event)))
            }
        }
    }
}

fn unreadable(path: &Path, e: std::io::Error) -> Error {
    Error::Usage(format!("cannot read the journal {}: {e}", path.display()))
}

/// The complete lines (each ending in a newline) at the start of `file`,
/// reading at most `limit` bytes.
fn head_lines(file: &std::fs::File, limit: u64) -> std::io::Result<Vec<String>> {
    let mut text = Vec::new();
    file.take(limit).read_to_end(&mut text)?;
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    Ok(String::from_utf8_lossy(&text[..complete])
        .lines()
        .map(str::to_owned)
        .collect())
}

/// A duration for people: `7 ms` under 0.1 s, `2.4 s` under a minute,
/// `3m 05s` under an hour, else `1h 02m`.
pub fn human_duration(ms: f64) -> String {
    let ms = ms.max(0.0);
    if ms < 1.0 {
        format!("{ms:.1} ms")
    } else if ms < 100.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        let s = (ms / 1000.0).round() as u64;
        if s < 3600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
        }
    }
}

/// `ts` as `2026-11-30 12:56:31` (UTC), or as written when it is not a time.
pub fn wall_clock(ts: &str) -> String {
    match humantime::parse_rfc3339(ts) {
        Ok(time) => humantime::format_rfc3339_seconds(time)
            .to_string()
            .trim_end_matches('Z')
            .replace('T', " "),
        Err(_) => plugin_text(ts).into_owned(),
    }
}

/// `text` safe for the terminal ([`plugin_text`]) and at most `max`
/// characters, cut with `…`.
pub fn clip(text: &str, max: usize) -> String {
    let clean = plugin_text(text);
    if clean.chars().count() <= max {
        return clean.into_owned();
    }
    let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(0.42), "0.4 ms");
        assert_eq!(human_duration(7.6), "8 ms");
        assert_eq!(human_duration(2430.0), "2.4 s");
        assert_eq!(human_duration(185_000.0), "3m 05s");
        assert_eq!(human_duration(3_725_000.0), "1h 02m");
    }

    #[test]
    fn clip_escapes_then_cuts() {
        assert_eq!(clip("a\u{1b}[2Jb", 100), "a\\u{1b}[2Jb");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(wall_clock("2026-11-30T12:56:31.059Z"), "2026-11-30 12:56:31");
    }

    #[test]
    fn a_run_is_found_by_id_prefix_path_or_latest_and_an_unknown_one_names_drhost_runs() {
        let dir = tempfile::tempdir().unwrap();
        let start = |ts: &str, id: &str| {
            format!("{{\"ts\":\"{ts}\",\"run\":\"{id}\",\"event\":\"run-start\",\"plugin\":{{\"id\":\"hello\"}}}}\n")
        };
        for (ts, id) in [
            ("2026-11-30T10:00:00.000Z", "20261130T100000Z-hello-aaaa"),
            ("2026-11-30T11:00:00.000Z", "20261130T110000Z-hello-bbbb"),
        ] {
            std::fs::write(dir.path().join(format!("{id}.jsonl")), start(ts, id)).unwrap();
        }
        let found = |run: &str| find_run(dir.path(), run).map(|p| p.file_name().unwrap().to_owned());
        assert_eq!(
            found("20261130T100000Z-hello-aaaa").unwrap(),
            "20261130T100000Z-hello-aaaa.jsonl"
        );
        assert_eq!(found("20261130T11").unwrap(), "20261130T110000Z-hello-bbbb.jsonl");
        assert_eq!(found("latest").unwrap(), "20261130T110000Z-hello-bbbb.jsonl");
        let path = dir.path().join("20261130T100000Z-hello-aaaa.jsonl");
        assert_eq!(find_run(Path::new("/elsewhere"), path.to_str().unwrap()).unwrap(), path);

        let unknown = find_run(dir.path(), "nope").unwrap_err();
        assert_eq!(unknown.exit_code(), crate::error::EXIT_USAGE);
        assert!(unknown.to_string().contains("`drhost runs`"), "{unknown}");
        let ambiguous = find_run(dir.path(), "2026").unwrap_err();
        assert!(ambiguous.to_string().contains("start of 2 runs"), "{ambiguous}");
        let none = find_run(&dir.path().join("empty"), "latest").unwrap_err();
        assert!(none.to_string().contains("no runs"), "{none}");
    }

    #[test]
    fn latest_for_a_report_is_the_drill_whose_own_runs_came_after_it_and_a_later_run_after_that() {
        let dir = tempfile::tempdir().unwrap();
        let drills = dir.path().join(crate::drill::DRILLS_DIR);
        std::fs::create_dir_all(&drills).unwrap();
        let journal = |dir: &Path, id: &str, start: &str, end: &str, wall_ms: u64| {
            let text = format!(
                "{{\"ts\":\"{start}\",\"run\":\"{id}\",\"event\":\"run-start\",\"plugin\":{{\"id\":\"hello\"}}}}\n\
                 {{\"ts\":\"{end}\",\"run\":\"{id}\",\"event\":\"run-end\",\"status\":\"recovered\",\"exit_code\":0,\"wall_ms\":{wall_ms}}}\n"
            );
            std::fs::write(dir.join(format!("{id}.jsonl")), text).unwrap();
        };
        let name = |p: PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        // A drill from 10:00:00 to 10:01:00; its recovery run at 10:00:30.
        journal(
            &drills,
            "drill-a",
            "2026-11-30T10:00:00.000Z",
            "2026-11-30T10:01:00.000Z",
            60_000,
        );
        journal(
            dir.path(),
            "run-in-drill",
            "2026-11-30T10:00:30.000Z",
            "2026-11-30T10:00:50.000Z",
            20_000,
        );
        assert_eq!(name(find_report(dir.path(), "latest").unwrap()), "drill-a.jsonl");
        assert_eq!(
            name(find_run(dir.path(), "latest").unwrap()),
            "run-in-drill.jsonl",
            "`show latest` still means runs"
        );
        assert_eq!(name(find_report(dir.path(), "drill-a").unwrap()), "drill-a.jsonl");
        // A run of its own after the drill ended is the latest.
        journal(
            dir.path(),
            "run-after",
            "2026-11-30T10:05:00.000Z",
            "2026-11-30T10:05:01.000Z",
            1_000,
        );
        assert_eq!(name(find_report(dir.path(), "latest").unwrap()), "run-after.jsonl");
        // Only drills: the newest drill.
        let only = tempfile::tempdir().unwrap();
        let only_drills = only.path().join(crate::drill::DRILLS_DIR);
        std::fs::create_dir_all(&only_drills).unwrap();
        journal(
            &only_drills,
            "drill-b",
            "2026-11-30T10:00:00.000Z",
            "2026-11-30T10:01:00.000Z",
            60_000,
        );
        assert_eq!(name(find_report(only.path(), "latest").unwrap()), "drill-b.jsonl");
        let none = find_report(&dir.path().join("empty"), "latest").unwrap_err();
        assert!(none.to_string().contains("no runs or drills"), "{none}");
    }
}
