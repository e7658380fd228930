//! `drhost resume RUN`: go on with a recovery whose drhost died (SIGKILL,
//! a reboot) from its journal, making no change twice.
//!
//! [`prepare`] reads the dead run's journal and turns it into the options
//! of a new run of the same plugin: the same file (refused when its digest
//! differs), the same parameters, config and approvals, and the journal's
//! changes and answers as a replay log ([`crate::caps::kit::replay`]). The
//! new run has a journal of its own whose `run-start` says `resumes`; the
//! dead run's journal is left as it is (its hash chain stays intact).
//!
//! A run can be resumed when its journal is intact, has no `run-end`, and
//! no drhost writes it any more; or when it was itself a resume that
//! stopped at a divergence (nothing was changed past it). A run that
//! another run already resumed is refused, naming that run: resume the
//! newest of the chain instead, so no change is made twice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::RunOptions;
use crate::caps::kit::replay::{self, JournaledCall, OnDivergence, Resumed};
use crate::error::{Error, Result};
use crate::history::{self, parse_event};
use crate::journal::{self, chain};

/// What `drhost resume` was asked to do; the rest comes from the journal.
#[derive(Debug, Clone, Default)]
pub struct ResumeRequest {
    /// The run: its id, an unambiguous prefix, `latest`, or its journal's path.
    pub run: String,
    /// Where the journals are (`--journal-dir`).
    pub journal_dir: Option<PathBuf>,
    /// `--plugin`: the plugin file, when it moved since (its digest must match).
    pub plugin: Option<PathBuf>,
    /// `--config`: the configuration, instead of the one the run read.
    pub config: Option<PathBuf>,
    /// `--diverged`: what to do when the plugin asks for a change the
    /// journal does not have (`None`: ask at a terminal, else stop).
    pub on_divergence: Option<OnDivergence>,
    /// The options `drhost run` also takes (`--yes` and `--approve` add to
    /// the approvals the dead run had).
    pub options: RunOptions,
}

/// What a resumed run took from the dead run's journal, for its report.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    /// The run it went on from.
    pub from: String,
    /// Changes and answers answered from that run's journal (not made again).
    pub answered: usize,
    /// Journaled changes the plugin did not ask for again.
    pub not_asked: usize,
    /// Whether it stopped at a divergence (then that run can be resumed again).
    pub stopped: bool,
}

impl Tally {
    /// The tally of `resumed` at the run's end.
    pub fn of(resumed: &Resumed) -> Tally {
        let (answered, not_asked) = resumed.tally();
        Tally {
            from: resumed.from.clone(),
            answered,
            not_asked,
            stopped: resumed.stopped().is_some(),
        }
    }
}

/// Refuses to resume with a plugin file other than the one that ran.
pub(super) fn same_plugin(resumed: &Resumed, path: &Path, digest: &str) -> Result<()> {
    if digest == resumed.digest {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} is not the plugin run {} ran: its digest is {digest}, the journal's is {}. A resume runs the same plugin or nothing: put that file back (or name it with --plugin PATH), or start a new run",
        path.display(),
        resumed.from,
        resumed.digest
    )))
}

/// The options of the run that resumes `request.run` (see the module's
/// documentation for what can be resumed).
pub fn prepare(request: ResumeRequest) -> Result<RunOptions> {
    let dir = history::locate(request.journal_dir.as_deref(), request.config.as_deref())?.path;
    let path = history::find_run(&dir, &request.run)?;
    let text = std::fs::read(&path).map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let dead = DeadRun::read(&path, &text)?;
    dead.check_resumable(&path)?;
    if let Some(later) = later_resume(path.parent().unwrap_or(&dir), &dead.id) {
        return Err(Error::Refused(later));
    }
    let mut opts = request.options;
    opts.plugin = match request.plugin {
        Some(plugin) => plugin,
        None => dead.path_at("plugin", &dead.start["plugin"]["path"])?,
    };
    opts.config = match request.config {
        Some(config) => Some(config),
        None if dead.start["config"].is_null() => None,
        None => Some(dead.path_at("config", &dead.start["config"])?),
    };
    opts.params = dead.start["params"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["value"].as_str()?.to_string())))
        .collect();
    let approvals = &dead.start["approvals"];
    opts.yes |= approvals["yes"].as_bool() == Some(true);
    for id in approvals["approve"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !opts.approve.iter().any(|a| a == id) {
            opts.approve.push(id.to_string());
        }
    }
    opts.journal_dir = Some(path.parent().unwrap_or(&dir).to_owned());
    opts.plan = false;
    let digest = dead.start["plugin"]["digest"].as_str().ok_or_else(|| {
        Error::Usage(format!(
            "run {} stopped before it read its plugin, so nothing was done: run the plugin again (drhost run)",
            dead.id
        ))
    })?;
    let on_divergence = request.on_divergence.unwrap_or(OnDivergence::Ask);
    opts.resume = Some(Arc::new(Resumed::new(
        dead.id.clone(),
        digest.to_string(),
        dead.calls,
        on_divergence,
    )));
    Ok(opts)
}

/// A run's journal, read for resuming.
struct DeadRun {
    id: String,
    start: Value,
    end: Option<Value>,
    calls: Vec<JournaledCall>,
}

impl DeadRun {
    fn read(path: &Path, text: &[u8]) -> Result<DeadRun> {
        let verdict = chain::verify(text);
        if verdict.state == chain::State::Broken {
            return Err(Error::Refused(format!(
                "the journal {} is not intact at line {} ({}): a resume answers changes from it, so it must be trusted. Nothing was run; `drhost journal verify` shows the break",
                path.display(),
                verdict.broken_line.unwrap_or(0),
                verdict.reason.as_deref().unwrap_or("its hash chain is broken")
            )));
        }
        // What the chain holds: a line cut by the crash is not read.
        let text = String::from_utf8_lossy(text);
        let mut start = None;
        let mut end = None;
        let mut calls = Vec::new();
        for (index, line) in text.lines().take(verdict.events).enumerate() {
            let event = parse_event(line).map_err(|why| {
                Error::Usage(format!(
                    "{} line {}: {why}; it is not a drhost journal",
                    path.display(),
                    index + 1
                ))
            })?;
            match event["event"].as_str() {
                Some("run-start") => start = Some(event),
                Some("run-end") => end = Some(event),
                Some("call") => {
                    let call = event["call"].as_str().unwrap_or_default();
                    let planned = event["outcome"]["error"]["kind"] == "planned";
                    if replay::replayed(call, &event["args"]) && !planned {
                        calls.push(JournaledCall {
                            line: index + 1,
                            call: call.to_string(),
                            args: event["args"].clone(),
                            outcome: event["outcome"].clone(),
                            result: event.get("result").cloned(),
                        });
                    }
                }
                _ => {}
            }
        }
        let start = start.ok_or_else(|| {
            Error::Usage(format!(
                "{} has no run-start: it is not a run's journal",
                path.display()
            ))
        })?;
        Ok(DeadRun {
            id: start["run"].as_str().unwrap_or_default().to_string(),
            start,
            end,
            calls,
        })
    }

    fn check_resumable(&self, path: &Path) -> Result<()> {
        let id = &self.id;
        if self.start["kind"] == "drill" {
            return Err(Error::Usage(format!(
                "{id} is a drill: a drill is run again (drhost drill), not resumed"
            )));
        }
        if self.start["mode"] == "plan" {
            return Err(Error::Usage(format!(
                "{id} was a plan (--plan), which changes nothing: run it again"
            )));
        }
        if let Some(end) = &self.end {
            if end["resumed"]["stopped"] != true {
                return Err(Error::Usage(format!(
                    "run {id} ended ({}): there is nothing to resume. `drhost show {id}` shows what it did; run the plugin again for a new recovery",
                    end["status"].as_str().unwrap_or("unknown")
                )));
            }
        }
        if journal::writer_alive(path) == Some(true) {
            return Err(Error::Refused(format!(
                "run {id} is still running: a drhost process holds its journal. Wait for it, or stop it (Ctrl-C) before resuming"
            )));
        }
        Ok(())
    }

    /// A path the run named (`what`), as it named it, relative to the
    /// directory it ran in.
    fn path_at(&self, what: &str, named: &Value) -> Result<PathBuf> {
        let named = named
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| Error::Usage(format!("run {}'s journal names no {what} file", self.id)))?;
        let path = match self.start["cwd"].as_str() {
            Some(cwd) if named.is_relative() => Path::new(cwd).join(&named),
            _ => named,
        };
        if !path.exists() {
            return Err(Error::Usage(format!(
                "the {what} file run {} read, {}, is not there any more: name it with --{what} PATH",
                self.id,
                path.display()
            )));
        }
        Ok(path)
    }
}

/// A run in `dir` that resumed `run` and may have made a change of its
/// own (one that died, or made one live; a call the host stopped, a trap,
/// was not made): what to tell the operator instead of resuming `run`
/// again. A resume that was refused before its plugin ran, or stopped at a
/// divergence, made none and does not count.
fn later_resume(dir: &Path, run: &str) -> Option<String> {
    for path in history::journal_files(dir) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let events: Vec<Value> = text.lines().filter_map(|l| parse_event(l).ok()).collect();
        let Some(start) = events.first().filter(|e| e["resumes"]["run"] == run) else {
            continue;
        };
        let later = start["run"].as_str().unwrap_or("?");
        let end = events.iter().rev().find(|e| e["event"] == "run-end");
        let made_one = events.iter().any(|e| {
            e["event"] == "call"
                && e["replayed_from"].is_null()
                && !matches!(e["outcome"]["error"]["kind"].as_str(), Some("planned" | "trap"))
                && replay::replayed(e["call"].as_str().unwrap_or_default(), &e["args"])
        });
        let how = match end {
            Some(_) if !made_one => continue,
            Some(end) => format!("and ended {}", end["status"].as_str().unwrap_or("unknown")),
            None if journal::writer_alive(&path) == Some(true) => "and is still running".to_string(),
            None => "and died too".to_string(),
        };
        let next = match end {
            Some(_) => format!("`drhost show {later}` shows what it did"),
            None => format!("resume that one instead: drhost resume {later}"),
        };
        return Some(format!(
            "run {run} was already resumed by run {later} {how}, so resuming it again could make its changes twice; {next}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;
    use serde_json::json;

    fn dead_run(dir: &Path, id: &str, end: bool) -> PathBuf {
        let journal = Journal::create(dir, id).unwrap();
        journal.record(
            "run-start",
            json!({ "mode": "live", "plugin": { "path": "p.wasm", "digest": "sha256:ab" }, "params": [{ "name": "a", "value": "1" }] }),
        );
        journal.record(
            "call",
            json!({ "call": "docker.restart-container", "args": { "name": "b2" }, "outcome": { "ok": null }, "result": null }),
        );
        journal.record(
            "call",
            json!({ "call": "docker.inspect-container", "args": { "name": "b2" }, "outcome": { "ok": {} } }),
        );
        if end {
            journal.record("run-end", json!({ "status": "recovered" }));
        }
        journal.path().unwrap().to_owned()
    }

    #[test]
    fn a_dead_run_gives_its_changes_in_order_and_an_ended_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dead_run(dir.path(), "r1", false);
        let text = std::fs::read(&path).unwrap();
        let dead = DeadRun::read(&path, &text).unwrap();
        assert_eq!(dead.id, "r1");
        assert_eq!(dead.calls.len(), 1, "reads are not replayed: {:?}", dead.calls);
        assert_eq!(dead.calls[0].call, "docker.restart-container");
        assert_eq!(dead.calls[0].line, 2);
        dead.check_resumable(&path).unwrap();

        let ended = dead_run(dir.path(), "r2", true);
        let dead = DeadRun::read(&ended, &std::fs::read(&ended).unwrap()).unwrap();
        let refused = dead.check_resumable(&ended).unwrap_err().to_string();
        assert!(refused.contains("nothing to resume"), "{refused}");
    }

    #[test]
    fn a_changed_journal_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dead_run(dir.path(), "r1", false);
        // The quoted name only: a bare "b2" can also be part of a line's hash.
        let text = std::fs::read_to_string(&path).unwrap().replace("\"b2\"", "\"b3\"");
        let refused = DeadRun::read(&path, text.as_bytes()).err().unwrap().to_string();
        assert!(refused.contains("not intact at line 3"), "{refused}");
    }

    #[test]
    fn a_run_already_resumed_is_refused_unless_that_resume_made_no_change() {
        let dir = tempfile::tempdir().unwrap();
        dead_run(dir.path(), "r1", false);
        assert_eq!(later_resume(dir.path(), "r1"), None);
        let stopped = Journal::create(dir.path(), "r2").unwrap();
        stopped.record("run-start", json!({ "resumes": { "run": "r1" } }));
        stopped.record(
            "call",
            json!({ "call": "docker.restart-container", "args": { "name": "b2" }, "outcome": { "ok": null }, "replayed_from": "r1" }),
        );
        stopped.record(
            "run-end",
            json!({ "status": "refused", "resumed": { "stopped": true } }),
        );
        assert_eq!(later_resume(dir.path(), "r1"), None);
        let done = Journal::create(dir.path(), "r3").unwrap();
        done.record("run-start", json!({ "resumes": { "run": "r1" } }));
        done.record(
            "call",
            json!({ "call": "docker.restart-container", "args": { "name": "b3" }, "outcome": { "ok": null } }),
        );
        done.record("run-end", json!({ "status": "recovered" }));
        let refused = later_resume(dir.path(), "r1").unwrap();
        assert!(
            refused.contains("already resumed by run r3 and ended recovered"),
            "{refused}"
        );
    }
}
