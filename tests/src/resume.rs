//! Killing drhost in the middle of a recovery (SIGKILL, as a crash or a
//! reboot would) at a chosen point, and resuming the run (`drhost resume`).
//!
//! A kill point is "right after the journal holds the n-th `call` event of
//! a given call": the call was made and journaled, and the plugin may have
//! gone a little further (reads) before the signal lands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cli::{journal_in, read_journal, Outcome, Run};

/// A run killed mid-way.
#[derive(Debug)]
pub struct Killed {
    /// Its run id.
    pub run_id: String,
    /// Its journal.
    pub journal: PathBuf,
    /// What it printed before it died.
    pub outcome: Outcome,
}

/// Where drhost is killed: after the `nth` (from 1) journaled `call`.
#[derive(Debug, Clone, Copy)]
pub struct KillPoint {
    /// e.g. `postgres.restore`.
    pub call: &'static str,
    /// Which of them (1 for the first).
    pub nth: usize,
}

impl std::fmt::Display for KillPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "after {} #{}", self.call, self.nth)
    }
}

/// Starts `run` with its journals in `dir` and SIGKILLs drhost as soon as
/// its journal holds the call at `point`. Panics when the run ends first.
pub fn kill_at(run: Run, dir: &Path, point: KillPoint) -> Killed {
    let mut running = run.journal_dir(dir).spawn();
    if !running.wait_for_call(point.call, point.nth, Duration::from_secs(180)) {
        let out = running.wait();
        panic!("the run ended before {point}: {}\n{}", out.stdout, out.stderr);
    }
    // SAFETY: kill(2) on the child's pid, which has not been reaped.
    unsafe {
        libc::kill(running.id() as libc::pid_t, libc::SIGKILL);
    }
    let outcome = running.wait();
    assert_eq!(outcome.code, -1, "drhost was not killed ({point}): {}", outcome.stderr);
    let journal = journal_in(dir).expect("the killed run's journal");
    let events = read_journal(&journal);
    assert!(
        !events.iter().any(|e| e["event"] == "run-end"),
        "{point}: the run ended before it was killed"
    );
    let run_id = events[0]["run"].as_str().unwrap().to_string();
    Killed {
        run_id,
        journal,
        outcome,
    }
}

/// `drhost resume RUN --journal-dir DIR --json --quiet` and what else `more` adds.
pub fn resume(dir: &Path, run_id: &str, more: impl FnOnce(Run) -> Run) -> Outcome {
    more(Run::cli(["resume", run_id]).journal_dir(dir).json().quiet()).exec()
}

/// The journal of a `--json` run or resume, from its report.
pub fn journal_of(out: &Outcome) -> Vec<Value> {
    let path = out.json()["journal"]
        .as_str()
        .unwrap_or_else(|| panic!("no journal in the report: {}\n{}", out.stdout, out.stderr))
        .to_string();
    read_journal(Path::new(&path))
}

/// The `call` events for `call` that were made: not answered from a dead
/// run's journal, not planned, not stopped by the host before they were
/// made (a trap: a divergence, the disk budget).
pub fn made<'a>(journal: &'a [Value], call: &str) -> Vec<&'a Value> {
    journal
        .iter()
        .filter(|e| e["event"] == "call" && e["call"] == call && e["replayed_from"].is_null())
        .filter(|e| !matches!(e["outcome"]["error"]["kind"].as_str(), Some("planned" | "trap")))
        .collect()
}
