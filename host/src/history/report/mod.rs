//! `drhost report RUN`: the post-incident report of one run, built from its
//! journal alone — what ran, who ran it and where, when, how it went (the
//! steps with their durations, every change-making call, every approval
//! and who gave it), the time to recovery, data-loss facts, what failed,
//! the follow-ups, and empty "Root cause" and "Action items" sections for
//! the post-mortem.
//!
//! This file reads the journal into an [`IncidentReport`]; [`json`] writes
//! it as it is, and [`model`] turns it into the sections of a document,
//! which [`markdown`] and [`html`] (with its timeline [`chart`]) write, one
//! module per format. The journal's lines are read with
//! [`super::parse_event`] (the one journal-line parser) and its hash chain
//! checked with [`crate::journal::chain::verify`]: a broken chain is said
//! at the top of the report, never rendered as if nothing happened.
//!
//! Nothing in a journal is trusted: every text taken from it is cleaned
//! here, once, by [`clip`] (control characters, newlines and bidirectional
//! overrides escaped, long texts cut), and each renderer escapes it again
//! for its own format. The report never reads anything but the journal.

pub mod chart;
pub mod drill;
pub mod drill_chart;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::{clip, event_time, list, parse_event};
use crate::caps::kit::plan;
use crate::error::{Error, Result};
use crate::journal::chain;

/// The `schema` of `drhost report --json`; raised when a field changes
/// meaning or goes away (new fields keep it).
pub const REPORT_SCHEMA: u32 = 1;

/// Characters of a name (step, fact, parameter) kept.
pub(crate) const NAME_CHARS: usize = 200;
/// Characters of a message (summary, reason, question, value) kept.
pub(crate) const MESSAGE_CHARS: usize = 500;

/// Step notes kept per step; the rest are counted.
pub const NOTES_PER_STEP: usize = 20;

/// Fact names a plugin reports data loss (RPO) under, by prefix or part.
const DATA_LOSS_FACTS: &[&str] = &["rpo", "lost-writes", "data-loss", "lost-"];

/// The fact that says when the incident was detected (RFC 3339), when a
/// plugin or a drill knows it; without it, detection is the run's start.
const DETECTED_FACT: &str = "detected-at";

/// The formats `drhost report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Markdown (the default).
    #[default]
    Markdown,
    /// One self-contained HTML page with an SVG timeline.
    Html,
    /// One JSON object ([`REPORT_SCHEMA`]).
    Json,
}

/// The post-incident report of one run, as read from its journal. Every
/// string in it is cleaned for any output ([`clip`]); renderers escape
/// them for their format.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    /// [`REPORT_SCHEMA`].
    pub schema: u32,
    /// The run id.
    pub run_id: String,
    /// The journal the report was built from.
    pub journal: PathBuf,
    /// Whether the journal can be believed (its hash chain).
    pub integrity: Integrity,
    /// What ran.
    pub plugin: PluginRun,
    /// Who ran it, and where.
    pub operator: Operator,
    /// When.
    pub times: Times,
    /// How the run ended.
    pub ending: Ending,
    /// The time to recovery: the plugin's fact, else the run's wall time
    /// when it recovered; none when it did not recover.
    pub time_to_recovery: Option<Recovery>,
    /// Facts about data loss (RPO) the plugin reported.
    pub data_loss: Vec<Fact>,
    /// The plugin's steps, in the order they started.
    pub steps: Vec<StepSpan>,
    /// Every call that changes something (or would have, in a plan).
    pub changes: Vec<Change>,
    /// Every question the plugin asked, and who answered it.
    pub approvals: Vec<Approval>,
    /// What failed: failed steps and failed changes.
    pub failures: Vec<Failure>,
    /// Every fact the plugin reported.
    pub facts: Vec<Fact>,
    /// What is left for people to do.
    pub follow_ups: Vec<FollowUp>,
    /// What the reader should know about the journal itself (lines that
    /// are not events, events not journaled, a forced exit).
    pub notes: Vec<String>,
}

/// The journal's hash chain, as `drhost journal verify` judges it.
#[derive(Debug, Clone, Serialize)]
pub struct Integrity {
    /// `ok`, `incomplete` (no run-end) or `broken` (lines changed, removed
    /// or reordered).
    pub state: chain::State,
    /// False when the chain is broken: the report shows what the file says
    /// now, which is not what drhost wrote.
    pub trustworthy: bool,
    /// run-end's `head` (the whole chain's hash), when intact.
    pub head: Option<String>,
    /// The first line that does not follow the one before.
    pub broken_line: Option<usize>,
    /// Why it is broken or incomplete.
    pub reason: Option<String>,
}

/// What ran: the plugin as `run-start` recorded it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PluginRun {
    /// The plugin's id (none when it was refused before `describe`).
    pub id: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// The file's digest (`sha256:…`).
    pub digest: Option<String>,
    /// The keys that signed it (trusted signers).
    pub signers: Vec<String>,
    /// The trust verdict (`trusted`, `overridden`, …).
    pub trust: Option<String>,
    /// The plugin file the run was given.
    pub path: Option<String>,
    /// The contract version it was built for.
    pub contract: Option<String>,
    /// `live`, or `plan` (`--plan`: nothing was changed).
    pub mode: Option<String>,
    /// The parameters it got, with where each came from.
    pub params: Vec<Param>,
    /// The configuration file of the grants.
    pub config: Option<String>,
    /// The drhost version that ran it.
    pub drhost: Option<String>,
}

/// One parameter the plugin got.
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// `param` (`--param`), `config`, `default`; none in older journals.
    pub source: Option<String>,
}

/// Who ran the recovery and on which machine (`run-start`'s `operator`
/// and `host`; absent in journals written before drhost recorded them).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Operator {
    /// The user drhost ran as.
    pub user: Option<String>,
    /// Its uid.
    pub uid: Option<u64>,
    /// The user who ran it through sudo.
    pub sudo_user: Option<String>,
    /// The machine's name.
    pub host: Option<String>,
}

/// When things happened (RFC 3339, UTC).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Times {
    /// When the incident was detected.
    pub detected: Option<String>,
    /// Where `detected` comes from: `run start`, or `fact detected-at`.
    pub detected_from: String,
    /// When the run started (`run-start`).
    pub started: Option<String>,
    /// When it ended (`run-end`, else the journal's last event).
    pub ended: Option<String>,
    /// The run's wall time (`run-end`'s `wall_ms`).
    pub wall_ms: Option<f64>,
}

/// How the run ended (`run-end`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ending {
    /// `recovered`, `follow-up`, `failed`, `refused`, `sandbox-limit`,
    /// `interrupted`, …; `no-run-end` when the journal has none.
    pub status: String,
    /// Whether it recovered (`recovered` or `follow-up`).
    pub recovered: bool,
    /// The exit code.
    pub exit_code: Option<i64>,
    /// The one-line summary.
    pub summary: Option<String>,
    /// The step it failed in.
    pub failed_step: Option<String>,
    /// The plugin's or drhost's hint for what to do next.
    pub hint: Option<String>,
}

/// The time to recovery.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// In milliseconds, when known as a number.
    pub ms: Option<f64>,
    /// For people (`4.2 s`, or the fact as written).
    pub text: String,
    /// Where it comes from: `fact time-to-recovery-ms`, or `run wall time`.
    pub source: String,
}

/// One step of the plugin, as a span of time.
#[derive(Debug, Clone, Serialize)]
pub struct StepSpan {
    /// The step's name.
    pub name: String,
    /// How deep it is nested (0: top level).
    pub depth: usize,
    /// When it started, in ms since the run started.
    pub start_ms: f64,
    /// How long it took (`step-end`'s `duration_ms`); none when it never ended.
    pub duration_ms: Option<f64>,
    /// Whether it succeeded; none when it never ended.
    pub ok: Option<bool>,
    /// Why it failed.
    pub reason: Option<String>,
    /// What the plugin noted in it (at most [`NOTES_PER_STEP`]).
    pub notes: Vec<String>,
}

/// One call that changes something.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// When it ended, in ms since the run started.
    pub at_ms: f64,
    /// The capability call (`docker.restart-container`).
    pub call: String,
    /// The call with its (journaled, already redacted) arguments.
    pub what: String,
    /// How long it took.
    pub duration_ms: f64,
    /// Whether it succeeded.
    pub ok: bool,
    /// `ok`, or `KIND: message`.
    pub outcome: String,
    /// Recorded, not made (`--plan`).
    pub planned: bool,
}

/// One question the plugin asked (`confirm.ask`).
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    /// When it was answered, in ms since the run started.
    pub at_ms: f64,
    /// The question's id (`<plugin-id>:<8 hex>`).
    pub id: Option<String>,
    /// The question.
    pub question: String,
    /// Whether it was approved; none when there was no answer.
    pub approved: Option<bool>,
    /// Who answered (`--yes`, `--approve`, `operator`, `config FILE`, `plan`).
    pub by: Option<String>,
    /// `approved`, `declined`, or why there was no answer.
    pub answer: String,
}

/// Something that failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// When, in ms since the run started.
    pub at_ms: f64,
    /// What failed: `step NAME`, or a call.
    pub what: String,
    /// Why.
    pub reason: String,
}

/// A fact the plugin reported.
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Something left for people to do.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUp {
    /// What to do.
    pub action: String,
    /// Why.
    pub why: String,
}

/// The report of the journal at `path`. A file whose first line is not a
/// journal event is a usage error, as it is for `drhost show`.
pub fn read(path: &Path) -> Result<IncidentReport> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Usage(format!("cannot read the journal {}: {e}", path.display())))?;
    let verdict = chain::verify(&bytes);
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut events = Vec::new();
    let mut notes = Vec::new();
    for (index, line) in bytes[..complete].split_inclusive(|b| *b == b'\n').enumerate() {
        match parse_event(&String::from_utf8_lossy(line)) {
            Ok(event) => events.push(event),
            Err(reason) if index == 0 => {
                return Err(Error::Usage(format!(
                    "{} is not a drhost journal (line 1: {reason}): `drhost runs` lists the runs",
                    path.display()
                )))
            }
            Err(reason) => notes.push(format!(
                "journal line {} is not an event ({reason}); left out",
                index + 1
            )),
        }
    }
    if events.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no complete journal line yet: wait for the run to start (`drhost show --follow RUN`)",
            path.display()
        )));
    }
    let mut report = Builder::new(path, verdict, notes).build(&events);
    report.notes.dedup();
    Ok(report)
}

/// `report` in `format`.
pub fn render(report: &IncidentReport, format: Format) -> String {
    match format {
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Json => json::render(report),
    }
}

/// Writes a rendered report to `file`, created or replaced with mode 0600
/// (a report holds what the journal holds, and journals are private).
pub fn save(text: &str, file: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| {
        Error::Usage(format!(
            "cannot write the report to {}: {e}; choose another --out FILE",
            file.display()
        ))
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .map_err(fail)?;
    out.write_all(text.as_bytes()).map_err(fail)
}

/// Reads events into a report.
struct Builder {
    report: IncidentReport,
    start: Option<SystemTime>,
    /// Indexes into `report.steps` of the steps still open, innermost last.
    open: Vec<usize>,
}

impl Builder {
    fn new(path: &Path, verdict: chain::Verdict, notes: Vec<String>) -> Builder {
        let run_id = verdict.run.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let integrity = Integrity {
            trustworthy: verdict.state != chain::State::Broken,
            state: verdict.state,
            head: verdict.head,
            broken_line: verdict.broken_line,
            reason: verdict.reason.map(|r| clip(&r, MESSAGE_CHARS)),
        };
        Builder {
            report: IncidentReport {
                schema: REPORT_SCHEMA,
                run_id: clip(&run_id, NAME_CHARS),
                journal: path.to_owned(),
                integrity,
                plugin: PluginRun::default(),
                operator: Operator::default(),
                times: Times {
                    detected_from: "run start".into(),
                    ..Times::default()
                },
                ending: Ending {
                    status: "no-run-end".into(),
                    ..Ending::default()
                },
                time_to_recovery: None,
                data_loss: Vec::new(),
                steps: Vec::new(),
                changes: Vec::new(),
                approvals: Vec::new(),
                failures: Vec::new(),
                facts: Vec::new(),
                follow_ups: Vec::new(),
                notes,
            },
            start: None,
            open: Vec::new(),
        }
    }

    fn build(mut self, events: &[Value]) -> IncidentReport {
        self.start = events
            .iter()
            .find(|e| e["event"] == "run-start")
            .or(events.first())
            .and_then(event_time);
        self.report.times.started = self.start.map(rfc3339);
        for event in events {
            match event["event"].as_str().unwrap_or_default() {
                "run-start" => self.run_start(event),
                "step-start" => self.step_start(event),
                "step-end" => self.step_end(event),
                "step-note" => self.step_note(event),
                "call" => self.call(event),
                "run-end" => self.run_end(event),
                "forced" => self
                    .report
                    .notes
                    .push("the operator forced drhost to exit before the run ended (a second Ctrl-C)".into()),
                "journal-truncated" => self
                    .report
                    .notes
                    .push("the journal reached its budget: later events were counted, not written".into()),
                _ => {}
            }
        }
        if self.report.times.detected.is_none() {
            self.report.times.detected = self.report.times.started.clone();
        }
        if self.report.times.ended.is_none() {
            self.report.times.ended = events.last().and_then(event_time).map(rfc3339);
            self.report.notes.push(
                "the journal has no run-end: the run is still going, or the drhost that wrote it stopped first (crashed, killed, or the machine went down)".into(),
            );
        }
        self.report
    }

    /// Milliseconds from the run's start to `event`.
    fn offset(&self, event: &Value) -> f64 {
        match (self.start, event_time(event)) {
            (Some(start), Some(at)) => at.duration_since(start).unwrap_or_default().as_secs_f64() * 1000.0,
            _ => 0.0,
        }
    }

    fn run_start(&mut self, event: &Value) {
        let plugin = &event["plugin"];
        let text = |v: &Value, max: usize| v.as_str().map(|s| clip(s, max));
        let params = match event["effective_params"].as_array() {
            Some(effective) => effective
                .iter()
                .map(|p| Param {
                    name: clip(p["name"].as_str().unwrap_or("?"), NAME_CHARS),
                    value: clip(&value_text(&p["value"]), MESSAGE_CHARS),
                    source: text(&p["source"], 40),
                })
                .collect(),
            None => event["params"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Param {
                    name: clip(p["name"].as_str().unwrap_or("?"), NAME_CHARS),
                    value: clip(&value_text(&p["value"]), MESSAGE_CHARS),
                    source: None,
                })
                .collect(),
        };
        self.report.plugin = PluginRun {
            id: text(&plugin["id"], NAME_CHARS),
            version: text(&plugin["version"], 60),
            digest: text(&plugin["digest"], 80),
            signers: plugin["signers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|s| clip(s, 80))
                .collect(),
            trust: text(&event["trust"]["verdict"], 40),
            path: text(&plugin["path"], MESSAGE_CHARS),
            contract: text(&plugin["contract"], 40),
            mode: text(&event["mode"], 20),
            params,
            config: text(&event["config"], MESSAGE_CHARS),
            drhost: text(&event["drhost"], 40),
        };
        let operator = &event["operator"];
        self.report.operator = Operator {
            user: text(&operator["user"], 80),
            uid: operator["uid"].as_u64(),
            sudo_user: text(&operator["sudo_user"], 80),
            host: text(&event["host"], 200),
        };
    }

    fn step_start(&mut self, event: &Value) {
        self.report.steps.push(StepSpan {
            name: clip(event["step"].as_str().unwrap_or("?"), NAME_CHARS),
            depth: self.open.len(),
            start_ms: self.offset(event),
            duration_ms: None,
            ok: None,
            reason: None,
            notes: Vec::new(),
        });
        self.open.push(self.report.steps.len() - 1);
    }

    fn step_note(&mut self, event: &Value) {
        let name = clip(event["step"].as_str().unwrap_or("?"), NAME_CHARS);
        let open = self.open.iter().rev().find(|i| self.report.steps[**i].name == name);
        let Some(step) = open.or(self.open.last()).map(|i| &mut self.report.steps[*i]) else {
            return;
        };
        match step.notes.len() {
            n if n < NOTES_PER_STEP => step
                .notes
                .push(clip(event["message"].as_str().unwrap_or(""), MESSAGE_CHARS)),
            n if n == NOTES_PER_STEP => step.notes.push("… more notes in the journal (`drhost show`)".into()),
            _ => {}
        }
    }

    fn step_end(&mut self, event: &Value) {
        let name = clip(event["step"].as_str().unwrap_or("?"), NAME_CHARS);
        // The innermost open step of that name; a step-end that matches
        // none (a journal cut or edited) is left out.
        let Some(at) = self.open.iter().rposition(|i| self.report.steps[*i].name == name) else {
            return;
        };
        let index = self.open.remove(at);
        let at_ms = self.offset(event);
        let step = &mut self.report.steps[index];
        step.duration_ms = Some(event["duration_ms"].as_f64().unwrap_or(at_ms - step.start_ms).max(0.0));
        step.ok = Some(event["ok"] == true);
        step.reason = event["reason"].as_str().map(|r| clip(r, MESSAGE_CHARS));
        if step.ok == Some(false) {
            let failure = Failure {
                at_ms,
                what: format!("step {}", step.name),
                reason: step.reason.clone().unwrap_or_else(|| "failed".into()),
            };
            self.report.failures.push(failure);
        }
    }

    fn call(&mut self, event: &Value) {
        let name = event["call"].as_str().unwrap_or("?");
        let args = &event["args"];
        let at_ms = self.offset(event);
        let error = event["outcome"].get("error");
        let failed = error.map(|e| {
            let message = e["message"].as_str().unwrap_or("").lines().next().unwrap_or("");
            clip(
                &format!("{}: {message}", e["kind"].as_str().unwrap_or("error")),
                MESSAGE_CHARS,
            )
        });
        if name == "confirm.ask" {
            let ok = &event["outcome"]["ok"];
            let approved = ok["approved"].as_bool();
            let answer = match (approved, &failed) {
                (Some(true), _) => "approved".to_string(),
                (Some(false), _) => "declined".to_string(),
                (None, Some(failed)) => format!("no answer ({failed})"),
                (None, None) => "no answer".to_string(),
            };
            self.report.approvals.push(Approval {
                at_ms,
                id: args["id"].as_str().map(|s| clip(s, 80)),
                question: clip(args["question"].as_str().unwrap_or("?"), MESSAGE_CHARS),
                approved,
                by: ok["by"].as_str().map(|s| clip(s, 200)),
                answer,
            });
            return;
        }
        if !plan::changes_state(name, args) {
            return;
        }
        let planned = error.is_some_and(|e| e["kind"] == "planned");
        let change = Change {
            at_ms,
            call: clip(name, NAME_CHARS),
            what: clip(&plan::describe(name, args), MESSAGE_CHARS),
            duration_ms: event["duration_ms"].as_f64().unwrap_or(0.0),
            ok: failed.is_none(),
            // Answered by `drhost resume` from the dead run's journal: made there, not here.
            outcome: match (event["replayed_from"].as_str(), &failed) {
                (Some(from), _) => clip(&format!("made by run {from}, not again"), MESSAGE_CHARS),
                (None, failed) => failed.clone().unwrap_or_else(|| "ok".into()),
            },
            planned,
        };
        if let (Some(reason), false) = (failed, planned || event["replayed_from"].is_string()) {
            self.report.failures.push(Failure {
                at_ms,
                what: change.what.clone(),
                reason,
            });
        }
        self.report.changes.push(change);
    }

    fn run_end(&mut self, event: &Value) {
        let text = |key: &str, max: usize| event[key].as_str().filter(|s| !s.is_empty()).map(|s| clip(s, max));
        let status = event["status"].as_str().unwrap_or("unknown");
        let recovered = matches!(status, "recovered" | "follow-up");
        self.report.ending = Ending {
            status: clip(status, 40),
            recovered,
            exit_code: event["exit_code"].as_i64(),
            summary: text("summary", MESSAGE_CHARS * 4),
            failed_step: text("failed_step", NAME_CHARS),
            hint: text("hint", MESSAGE_CHARS * 2),
        };
        self.report.times.ended = event_time(event).map(rfc3339);
        self.report.times.wall_ms = event["wall_ms"].as_f64();
        let facts: Vec<&Value> = event["facts"].as_array().into_iter().flatten().collect();
        for fact in &facts {
            let name = fact["name"].as_str().unwrap_or("?");
            let shown = Fact {
                name: clip(name, NAME_CHARS),
                value: clip(&value_text(&fact["value"]), MESSAGE_CHARS),
            };
            if DATA_LOSS_FACTS
                .iter()
                .any(|part| name.starts_with(part) || name.contains(part))
            {
                self.report.data_loss.push(shown.clone());
            }
            if name == DETECTED_FACT {
                if let Some(at) = fact["value"]
                    .as_str()
                    .and_then(|v| humantime::parse_rfc3339(v.trim()).ok())
                {
                    self.report.times.detected = Some(rfc3339(at));
                    self.report.times.detected_from = format!("fact {DETECTED_FACT}");
                }
            }
            self.report.facts.push(shown);
        }
        self.report.follow_ups = event["follow_ups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| FollowUp {
                action: clip(f["action"].as_str().unwrap_or("?"), MESSAGE_CHARS),
                why: clip(f["why"].as_str().unwrap_or(""), MESSAGE_CHARS),
            })
            .collect();
        self.report.time_to_recovery = match list::recovery(&event["facts"]) {
            Some(fact) => Some(Recovery {
                ms: fact.ms,
                text: clip(&fact.text(), 80),
                source: format!("fact {}", fact.name),
            }),
            None if recovered => self.report.times.wall_ms.map(|ms| Recovery {
                ms: Some(ms),
                text: super::human_duration(ms),
                source: "run wall time".into(),
            }),
            None => None,
        };
        if let Some(dropped) = event["journal_events_dropped"].as_u64() {
            self.report.notes.push(format!(
                "{dropped} events were not journaled (the journal reached its budget)"
            ));
        }
    }
}

impl IncidentReport {
    /// Where the run's time line ends, in ms since its start: run-end's
    /// wall time, else the last step's end (for the chart's axis).
    pub fn span_ms(&self) -> f64 {
        let ended = match (&self.times.started, &self.times.ended) {
            (Some(a), Some(b)) => match (humantime::parse_rfc3339(a), humantime::parse_rfc3339(b)) {
                (Ok(a), Ok(b)) => b.duration_since(a).unwrap_or_default().as_secs_f64() * 1000.0,
                _ => 0.0,
            },
            _ => 0.0,
        };
        let steps = self
            .steps
            .iter()
            .map(|s| s.start_ms + s.duration_ms.unwrap_or(0.0))
            .fold(0.0, f64::max);
        ended.max(steps).max(self.times.wall_ms.unwrap_or(0.0))
    }
}

/// A value as text: a string as is, anything else as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `time` as RFC 3339 with milliseconds, UTC.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// `ms` since the run started as `+MM:SS.mmm` (`+H:MM:SS` past an hour).
pub fn offset_text(ms: f64) -> String {
    let ms = ms.max(0.0).round() as u64;
    if ms >= 3_600_000 {
        format!("+{}:{:02}:{:02}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60)
    } else {
        format!("+{:02}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A journal written by [`crate::journal::Journal`] (so its chain
    /// holds) with these events after `run-start`; its path.
    pub(super) fn journal(dir: &Path, events: &[(&str, Value)]) -> PathBuf {
        let journal = crate::journal::Journal::create(dir, "r1").unwrap();
        journal.record(
            "run-start",
            json!({ "plugin": { "id": "p", "version": "1.0.0", "signers": ["ops"] }, "host": "ops1",
                    "operator": { "user": "alice", "uid": 1000, "sudo_user": null } }),
        );
        for (event, fields) in events {
            journal.record(event, fields.clone());
        }
        journal.path().unwrap().to_owned()
    }

    #[test]
    fn steps_nest_notes_follow_their_step_and_facts_give_recovery_detection_and_data_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal(
            dir.path(),
            &[
                ("step-start", json!({ "step": "outer" })),
                ("step-start", json!({ "step": "inner" })),
                ("step-note", json!({ "step": "inner", "message": "a\nb" })),
                (
                    "step-end",
                    json!({ "step": "inner", "ok": false, "duration_ms": 12.5, "reason": "down" }),
                ),
                (
                    "call",
                    json!({ "call": "confirm.ask", "args": { "id": "p:1a2b3c4d", "question": "go?" },
                                 "duration_ms": 1.0, "outcome": { "ok": { "approved": true, "by": "--yes" } } }),
                ),
                (
                    "call",
                    json!({ "call": "docker.restart-container", "args": { "name": "b2" },
                                 "duration_ms": 40.0, "outcome": { "ok": {} } }),
                ),
                (
                    "call",
                    json!({ "call": "docker.inspect-container", "args": { "name": "b2" },
                                 "duration_ms": 1.0, "outcome": { "ok": {} } }),
                ),
                ("step-end", json!({ "step": "outer", "ok": true, "duration_ms": 50.0 })),
                (
                    "run-end",
                    json!({ "status": "recovered", "exit_code": 0, "wall_ms": 60.0,
                                    "facts": [{ "name": "time-to-recovery-ms", "value": "4200" },
                                              { "name": "rpo-lost-writes", "value": "3" },
                                              { "name": "detected-at", "value": "2026-11-30T10:00:00Z" }] }),
                ),
            ],
        );
        let report = read(&path).unwrap();
        assert_eq!(report.integrity.state, chain::State::Ok);
        assert_eq!(report.operator.user.as_deref(), Some("alice"));
        let steps: Vec<(&str, usize, Option<f64>, Option<bool>)> = report
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.depth, s.duration_ms, s.ok))
            .collect();
        assert_eq!(
            steps,
            [
                ("outer", 0, Some(50.0), Some(true)),
                ("inner", 1, Some(12.5), Some(false))
            ]
        );
        assert_eq!(report.steps[1].notes, ["a\\nb"]);
        assert_eq!(report.failures.len(), 1);
        assert_eq!(report.approvals[0].by.as_deref(), Some("--yes"));
        assert_eq!(report.changes.len(), 1, "the inspect only looks");
        assert_eq!(report.changes[0].what, "docker.restart-container name=b2");
        let recovery = report.time_to_recovery.as_ref().unwrap();
        assert_eq!((recovery.ms, recovery.text.as_str()), (Some(4200.0), "4.2 s"));
        assert_eq!(report.data_loss.len(), 1);
        assert_eq!(report.times.detected.as_deref(), Some("2026-11-30T10:00:00.000Z"));
        assert_eq!(report.times.detected_from, "fact detected-at");
    }

    #[test]
    fn a_changed_line_makes_the_report_untrustworthy_and_a_missing_run_end_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal(dir.path(), &[("step-start", json!({ "step": "s" }))]);
        let report = read(&path).unwrap();
        assert_eq!(report.integrity.state, chain::State::Incomplete);
        assert!(report.integrity.trustworthy);
        assert!(
            report.notes.iter().any(|n| n.contains("no run-end")),
            "{:?}",
            report.notes
        );
        assert_eq!(report.steps[0].ok, None);

        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"alice\"", "\"mallory\"");
        std::fs::write(&path, text).unwrap();
        let report = read(&path).unwrap();
        assert_eq!(report.integrity.state, chain::State::Broken);
        assert!(!report.integrity.trustworthy);
        let markdown = render(&report, Format::Markdown);
        assert!(
            markdown
                .lines()
                .nth(2)
                .unwrap()
                .starts_with("> **WARNING: NOT TRUSTWORTHY.**"),
            "{markdown}"
        );
        assert!(render(&report, Format::Html).contains("<p class=\"warning\" id=\"integrity\">"));
    }
}
