//! `drhost schedule`: the runbook's testing schedule, from the drill
//! definitions and the drill journals on disk (nothing else keeps state),
//! and which drills are due (`drhost drill --due`).
//!
//! Time comes from [`now`]: the system clock, or `DRHOST_NOW` — an RFC 3339
//! time read only by `drhost drill` and `drhost schedule`, for tests of the
//! schedule (never set it in production: drills would be journaled at that
//! time).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::DRILLS_DIR;
use crate::config::Config;
use crate::console::plugin_text;
use crate::error::Error;
use crate::history::human_duration;

/// The environment variable that sets the drill clock, for tests.
pub const CLOCK_ENV: &str = "DRHOST_NOW";

/// The drill clock: `DRHOST_NOW` when set (an RFC 3339 time, for tests),
/// else the system's time.
pub fn now() -> Result<SystemTime, Error> {
    match std::env::var(CLOCK_ENV) {
        Ok(text) => humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
            Error::Usage(format!(
                "{CLOCK_ENV}={text} is not a time ({e}): write e.g. 2026-12-01T05:00:00Z, or unset it (it is for tests)"
            ))
        }),
        Err(_) => Ok(SystemTime::now()),
    }
}

/// One row of the schedule.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRow {
    /// The drill's name.
    pub test: String,
    /// Its description.
    pub description: Option<String>,
    /// `every`, as written back (e.g. `30days`); `None`: run by hand only.
    pub frequency: Option<String>,
    /// When it last ran (RFC 3339).
    pub last_run: Option<String>,
    /// How it ended: `passed`, `missed`, `failed` (or `no-run-end`: it was cut short).
    pub result: Option<String>,
    /// The RTO it measured, in ms.
    pub rto_ms: Option<u64>,
    /// The RPO it measured, in ms.
    pub rpo_ms: Option<u64>,
    /// The last run's journal.
    pub journal: Option<PathBuf>,
    /// When it is due next (RFC 3339); `None` when it has no frequency.
    pub next_run: Option<String>,
    /// Whether it is due now: never run, its last run did not pass, or its next run has come.
    pub due: bool,
    /// Due because its next run has passed (or it never ran).
    pub overdue: bool,
}

/// The last drill of one name, as its journal says.
struct LastDrill {
    at: SystemTime,
    at_text: String,
    result: String,
    rto_ms: Option<u64>,
    rpo_ms: Option<u64>,
    journal: PathBuf,
}

/// The schedule of every drill `config` defines, at time `now`, from the
/// journals under `journal_dir`.
pub fn schedule(config: &Config, journal_dir: &Path, now: SystemTime) -> Vec<ScheduleRow> {
    let drills = read_drills(&journal_dir.join(DRILLS_DIR));
    config
        .drills
        .iter()
        .map(|(name, def)| {
            let last = drills
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, d)| d)
                .max_by_key(|d| d.at);
            let next = match (def.every, last) {
                (Some(every), Some(last)) => Some(last.at + every),
                (Some(_), None) => Some(now),
                (None, _) => None,
            };
            let failed = last.is_some_and(|l| l.result != "passed");
            let overdue = next.is_some_and(|n| n <= now);
            ScheduleRow {
                test: name.clone(),
                description: def.description.clone(),
                frequency: def.every.map(|d| humantime::format_duration(d).to_string()),
                last_run: last.map(|l| l.at_text.clone()),
                result: last.map(|l| l.result.clone()),
                rto_ms: last.and_then(|l| l.rto_ms),
                rpo_ms: last.and_then(|l| l.rpo_ms),
                journal: last.map(|l| l.journal.clone()),
                next_run: next.map(|n| humantime::format_rfc3339_seconds(n).to_string()),
                due: def.every.is_some() && (overdue || failed),
                overdue,
            }
        })
        .collect()
}

/// The drills due at `now`, in the order the schedule lists them.
pub fn due(rows: &[ScheduleRow]) -> Vec<String> {
    rows.iter().filter(|r| r.due).map(|r| r.test.clone()).collect()
}

/// Every drill journal in `dir`: its drill's name and how it ended.
fn read_drills(dir: &Path) -> Vec<(String, LastDrill)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut drills = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let Some(start) = lines.next().and_then(|l| crate::history::parse_event(l).ok()) else {
            continue;
        };
        if start["event"] != "run-start" || start["kind"] != "drill" {
            continue;
        }
        let (Some(name), Some(at_text)) = (start["drill"].as_str(), start["at"].as_str()) else {
            continue;
        };
        let Ok(at) = humantime::parse_rfc3339_weak(at_text) else {
            continue;
        };
        let end = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| crate::history::parse_event(l).ok())
            .filter(|e| e["event"] == "run-end");
        let (result, rto_ms, rpo_ms) = match &end {
            Some(end) => (
                end["status"].as_str().unwrap_or("unknown").to_string(),
                end["drill"]["rto"]["measured_ms"].as_u64(),
                end["drill"]["rpo"]["measured_ms"].as_u64(),
            ),
            None if crate::journal::writer_alive(&path) == Some(true) => ("running".to_string(), None, None),
            None => ("no-run-end".to_string(), None, None),
        };
        drills.push((
            name.to_string(),
            LastDrill {
                at,
                at_text: at_text.to_string(),
                result,
                rto_ms,
                rpo_ms,
                journal: path,
            },
        ));
    }
    drills
}

/// The table `drhost schedule` prints.
pub fn render(rows: &[ScheduleRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<10} {:<20} {:<11} {:>9} {:>9}  Next Run",
        "Test", "Frequency", "Last Run", "Result", "RTO", "RPO"
    );
    let day = |t: &Option<String>| {
        t.as_deref()
            .map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
            .unwrap_or_else(|| "never".to_string())
    };
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |m| human_duration(m as f64));
    for row in rows {
        let next = match (&row.next_run, row.last_run.is_some()) {
            (None, _) => "by hand".to_string(),
            (Some(_), false) => "now (never run) — OVERDUE".to_string(),
            (Some(_), true) if row.overdue => format!("{} — OVERDUE", day(&row.next_run)),
            (Some(_), true) if row.due => format!("now (last run {}) — DUE", row.result.as_deref().unwrap_or("?")),
            (Some(_), true) => day(&row.next_run),
        };
        let _ = writeln!(
            out,
            "{:<24} {:<10} {:<20} {:<11} {:>9} {:>9}  {}",
            plugin_text(&row.test),
            row.frequency.as_deref().unwrap_or("-"),
            day(&row.last_run),
            row.result.as_deref().unwrap_or("-"),
            ms(row.rto_ms),
            ms(row.rpo_ms),
            next
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("drhost.toml"), text).expect("config")
    }

    fn write_drill(dir: &Path, id: &str, name: &str, at: &str, status: &str) {
        std::fs::create_dir_all(dir.join(DRILLS_DIR)).unwrap();
        let start =
            serde_json::json!({"ts": at, "run": id, "event": "run-start", "kind": "drill", "drill": name, "at": at});
        let end = serde_json::json!({"ts": at, "run": id, "event": "run-end", "status": status,
            "drill": {"rto": {"measured_ms": 4200}, "rpo": {"measured_ms": 0}}});
        std::fs::write(
            dir.join(DRILLS_DIR).join(format!("{id}.jsonl")),
            format!("{start}\n{end}\n"),
        )
        .unwrap();
    }

    const TWO: &str = "[drills.monthly]\nfault = \"f.wasm\"\nrecovery = \"r.wasm\"\nevery = \"30d\"\nprobes.http = [\"http://127.0.0.1:1/\"]\n\n[drills.manual]\nfault = \"f.wasm\"\nrecovery = \"r.wasm\"\nprobes.http = [\"http://127.0.0.1:1/\"]\n";

    #[test]
    fn last_and_next_come_from_the_newest_drill_journal() {
        let dir = tempfile::tempdir().unwrap();
        write_drill(dir.path(), "a", "monthly", "2026-01-01T00:00:00Z", "passed");
        write_drill(dir.path(), "b", "monthly", "2026-02-01T00:00:00Z", "passed");
        let now = humantime::parse_rfc3339("2026-02-10T00:00:00Z").unwrap();
        let rows = schedule(&config(TWO), dir.path(), now);
        let manual = &rows[0];
        assert_eq!(
            (manual.test.as_str(), manual.due, manual.next_run.as_deref()),
            ("manual", false, None)
        );
        let monthly = &rows[1];
        assert_eq!(monthly.last_run.as_deref(), Some("2026-02-01T00:00:00Z"));
        assert_eq!(monthly.next_run.as_deref(), Some("2026-03-03T00:00:00Z"));
        assert_eq!((monthly.due, monthly.rto_ms), (false, Some(4200)));
        assert!(due(&rows).is_empty());
        let later = now + Duration::from_secs(30 * 86400);
        let rows = schedule(&config(TWO), dir.path(), later);
        assert!(rows[1].overdue && rows[1].due);
        assert_eq!(due(&rows), vec!["monthly"]);
        assert!(render(&rows).contains("OVERDUE"), "{}", render(&rows));
    }

    #[test]
    fn a_drill_never_run_or_last_missed_is_due() {
        let dir = tempfile::tempdir().unwrap();
        let now = humantime::parse_rfc3339("2026-02-10T00:00:00Z").unwrap();
        assert_eq!(due(&schedule(&config(TWO), dir.path(), now)), vec!["monthly"]);
        write_drill(dir.path(), "a", "monthly", "2026-02-09T00:00:00Z", "missed");
        let rows = schedule(&config(TWO), dir.path(), now);
        assert!(rows[1].due && !rows[1].overdue);
        assert!(render(&rows).contains("DUE"));
    }
}
