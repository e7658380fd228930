//! `drhost report DRILL`: the report of one drill, built from the drill's
//! journal alone (`<journal dir>/drills/ID.jsonl`): when the fault was
//! injected and by which run, the `before` run and the recovery run, each
//! probe's health over time as bands, RTO and RPO beside their targets, and
//! the verdict — the figures exactly as the drill's `run-end` recorded them
//! (nothing is measured again here).
//!
//! [`read`] turns the journal into a [`DrillEvidence`] (what `--json`
//! writes), [`document`] into the sections every format writes, and
//! [`super::drill_chart`] draws the timeline. Every text from the journal
//! is cleaned with [`clip`] when it is read, and escaped by each writer.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::super::{clip, human_duration, parse_event};
use super::model::{Block, Cell, Column, Document, Field, Notice, Piece, Section, Severity, Table, Text};
use super::{drill_chart, html, markdown, offset_text, Format, Integrity, MESSAGE_CHARS, NAME_CHARS};
use crate::error::{Error, Result};
use crate::journal::chain;

/// The `schema` of `drhost report DRILL --json`.
pub const DRILL_REPORT_SCHEMA: u32 = 1;

/// The evidence of one drill, as its journal holds it. Times are in ms
/// since the drill's probes started (the journal's `at_ms`).
#[derive(Debug, Clone, Serialize)]
pub struct DrillEvidence {
    /// [`DRILL_REPORT_SCHEMA`].
    pub schema: u32,
    /// Always `drill`.
    pub kind: &'static str,
    /// The drill's run id.
    pub run_id: String,
    /// The journal the report was built from.
    pub journal: PathBuf,
    /// Whether the journal can be believed (its hash chain).
    pub integrity: Integrity,
    /// The drill's name (`[drills.NAME]`).
    pub drill: String,
    /// When it started (RFC 3339).
    pub started: Option<String>,
    /// The machine it ran on.
    pub host: Option<String>,
    /// `passed`, `missed`, `failed`; `no-run-end` when the journal has none.
    pub status: String,
    /// The drill's exit code.
    pub exit_code: Option<i64>,
    /// Its one-line verdict.
    pub summary: Option<String>,
    /// RTO: its target and what was measured.
    pub rto: Objective,
    /// RPO: its target and what was measured.
    pub rpo: Objective,
    /// Acknowledged writes lost, over every write probe.
    pub lost_writes: Option<u64>,
    /// When the fault run started (`fault-start`), in ms.
    pub fault_ms: Option<f64>,
    /// The fault's wall-clock time (RFC 3339).
    pub fault_at: Option<String>,
    /// The drill defines no fault (its `run-start` names none): it breaks
    /// nothing, and its RTO runs from the recovery's start.
    pub no_fault: bool,
    /// When every probe was healthy for good: the fault (without one, the
    /// recovery's start) plus the RTO, in ms.
    pub recovered_ms: Option<f64>,
    /// The plugin runs, in the order they ran.
    pub runs: Vec<PhaseRun>,
    /// Each probe, with its health over time.
    pub probes: Vec<ProbeTrack>,
    /// The last time the journal speaks of, in ms (the chart's end).
    pub span_ms: f64,
    /// What the reader should know (the drill's notes, lines left out).
    pub notes: Vec<String>,
}

/// A target and what the drill measured against it (`run-end`'s figures).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Objective {
    /// The target, in ms.
    pub target_ms: Option<f64>,
    /// What was measured, in ms.
    pub measured_ms: Option<f64>,
    /// Met, missed, or not measured (`None`).
    pub met: Option<bool>,
    /// Why it was not measured.
    pub unmeasured: Option<String>,
}

/// One plugin run of the drill.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRun {
    /// `before`, `fault` or `recovery`.
    pub role: &'static str,
    /// The plugin file.
    pub plugin: Option<String>,
    /// When it started, in ms.
    pub start_ms: f64,
    /// When it ended, in ms (none: it never ended, or an older journal).
    pub end_ms: Option<f64>,
    /// Its run id.
    pub run_id: Option<String>,
    /// Its own journal.
    pub journal: Option<String>,
    /// How it ended (`recovered`, `failed`, …).
    pub status: Option<String>,
    /// Its exit code.
    pub exit_code: Option<i64>,
    /// Its wall time.
    pub wall_ms: Option<f64>,
    /// Its summary.
    pub summary: Option<String>,
}

/// One probe: its health as bands over time and its result.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeTrack {
    /// `http:URL`, `redis:LABEL` or `postgres:LABEL`.
    pub probe: String,
    /// Its health, from its first sample to the end of probing.
    pub bands: Vec<Band>,
    /// Samples taken.
    pub samples: Option<u64>,
    /// Samples that failed.
    pub failed: Option<u64>,
    /// When it was healthy for good, in ms after the fault.
    pub healthy_after_ms: Option<f64>,
    /// For a write probe: acknowledged writes.
    pub acknowledged: Option<u64>,
    /// For a write probe: acknowledged writes lost.
    pub lost: Option<u64>,
    /// For a write probe: the data-loss window, in ms.
    pub window_ms: Option<f64>,
}

/// A stretch of time a probe was healthy, or not.
#[derive(Debug, Clone, Serialize)]
pub struct Band {
    /// From, in ms.
    pub from_ms: f64,
    /// To, in ms (the next change, or the end of probing).
    pub to_ms: f64,
    /// Healthy or not.
    pub ok: bool,
    /// Why it failed (the first failure of the band).
    pub detail: Option<String>,
}

/// One journaled health change of a probe: when, healthy or not, why not.
type HealthChange = (f64, bool, Option<String>);

/// Whether the journal at `path` is a drill's (its `run-start` says
/// `kind: drill`). Unreadable files are not.
pub fn is_drill_journal(path: &Path) -> bool {
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut first = String::new();
    if std::io::BufReader::new(file).read_line(&mut first).is_err() {
        return false;
    }
    parse_event(&first).is_ok_and(|e| e["event"] == "run-start" && e["kind"] == "drill")
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str().map(|s| clip(s, max))
}

fn ms(v: &Value) -> Option<f64> {
    v.as_f64()
}

impl Objective {
    fn from(v: &Value) -> Objective {
        Objective {
            target_ms: ms(&v["target_ms"]),
            measured_ms: ms(&v["measured_ms"]),
            met: v["met"].as_bool(),
            unmeasured: text(&v["unmeasured"], MESSAGE_CHARS),
        }
    }
}

/// The evidence of the drill journal at `path`.
pub fn read(path: &Path) -> Result<DrillEvidence> {
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
                    "{} is not a drhost journal (line 1: {reason})",
                    path.display()
                )))
            }
            Err(reason) => notes.push(format!(
                "journal line {} is not an event ({reason}); left out",
                index + 1
            )),
        }
    }
    let start = events
        .first()
        .filter(|e| e["event"] == "run-start" && e["kind"] == "drill")
        .ok_or_else(|| {
            Error::Usage(format!(
                "{} is not a drill's journal (its first event is not a drill's run-start)",
                path.display()
            ))
        })?
        .clone();
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
    let targets = &start["targets"];
    let mut evidence = DrillEvidence {
        schema: DRILL_REPORT_SCHEMA,
        kind: "drill",
        run_id: clip(&run_id, NAME_CHARS),
        journal: path.to_owned(),
        integrity,
        drill: text(&start["drill"], NAME_CHARS).unwrap_or_default(),
        started: text(&start["at"], NAME_CHARS),
        host: text(&start["host"], NAME_CHARS),
        status: "no-run-end".into(),
        exit_code: None,
        summary: None,
        rto: Objective {
            target_ms: ms(&targets["rto_ms"]),
            ..Objective::default()
        },
        rpo: Objective {
            target_ms: ms(&targets["rpo_ms"]),
            ..Objective::default()
        },
        lost_writes: None,
        fault_ms: None,
        fault_at: None,
        no_fault: false,
        recovered_ms: None,
        runs: Vec::new(),
        probes: Vec::new(),
        span_ms: 0.0,
        notes,
    };
    // Health changes per probe, in order.
    let mut changes: Vec<(String, Vec<HealthChange>)> = Vec::new();
    let mut probes_end: Option<f64> = None;
    let mut end: Option<&Value> = None;
    // Without a fault, the RTO's zero: the recovery's start less how long
    // after that zero it started (its `started_after_fault_ms`).
    let mut zero_without_fault: Option<f64> = None;
    for event in &events {
        let at = ms(&event["at_ms"]);
        if let Some(at) = at {
            evidence.span_ms = evidence.span_ms.max(at);
        }
        match event["event"].as_str().unwrap_or_default() {
            "probe" => {
                let name = clip(event["probe"].as_str().unwrap_or("?"), NAME_CHARS);
                let change = (
                    at.unwrap_or(0.0),
                    event["ok"].as_bool().unwrap_or(false),
                    text(&event["detail"], MESSAGE_CHARS),
                );
                match changes.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, list)) => list.push(change),
                    None => changes.push((name, vec![change])),
                }
            }
            "probes-end" => probes_end = at,
            kind @ ("before-start" | "fault-start" | "recovery-start") => {
                let role = match kind {
                    "before-start" => "before",
                    "fault-start" => "fault",
                    _ => "recovery",
                };
                if role == "fault" {
                    evidence.fault_ms = at;
                    evidence.fault_at = text(&event["ts"], NAME_CHARS);
                }
                evidence.runs.push(PhaseRun {
                    role,
                    plugin: event["plugin"].as_str().map(|p| clip(p, MESSAGE_CHARS)),
                    start_ms: at.unwrap_or(0.0),
                    end_ms: None,
                    run_id: None,
                    journal: None,
                    status: None,
                    exit_code: None,
                    wall_ms: None,
                    summary: None,
                });
            }
            kind @ ("before-end" | "fault-end" | "recovery-end") => {
                let role = kind.trim_end_matches("-end");
                let run = &event["plugin_run"];
                if let Some(phase) = evidence.runs.iter_mut().rev().find(|r| r.role == role) {
                    phase.end_ms = at.or_else(|| ms(&run["wall_ms"]).map(|w| phase.start_ms + w));
                    phase.run_id = text(&run["run_id"], NAME_CHARS);
                    phase.journal = text(&run["journal"], MESSAGE_CHARS);
                    phase.status = text(&run["status"], NAME_CHARS);
                    phase.exit_code = run["exit_code"].as_i64();
                    phase.wall_ms = ms(&run["wall_ms"]);
                    phase.summary = text(&run["summary"], MESSAGE_CHARS);
                    if let Some(end) = phase.end_ms {
                        evidence.span_ms = evidence.span_ms.max(end);
                    }
                    if role == "recovery" {
                        zero_without_fault = Some(phase.start_ms - ms(&run["started_after_fault_ms"]).unwrap_or(0.0));
                    }
                }
            }
            "run-end" => end = Some(event),
            _ => {}
        }
    }
    let end_of_probing = probes_end.unwrap_or(evidence.span_ms);
    evidence.span_ms = evidence.span_ms.max(end_of_probing);
    let results: Vec<Value> = end
        .and_then(|e| e["drill"]["probes"].as_array().cloned())
        .unwrap_or_default();
    for (name, list) in changes {
        let bands = list
            .iter()
            .enumerate()
            .map(|(i, (from, ok, detail))| Band {
                from_ms: *from,
                to_ms: list.get(i + 1).map_or(end_of_probing.max(*from), |next| next.0),
                ok: *ok,
                detail: detail.clone(),
            })
            .collect();
        let result = results.iter().find(|r| r["probe"].as_str() == Some(name.as_str()));
        let field = |key: &str| result.map(|r| &r[key]).unwrap_or(&Value::Null);
        let loss = field("loss");
        evidence.probes.push(ProbeTrack {
            probe: name,
            bands,
            samples: field("samples").as_u64(),
            failed: field("failed").as_u64(),
            healthy_after_ms: ms(field("healthy_after_ms")),
            acknowledged: loss["acknowledged"].as_u64(),
            lost: loss["lost"].as_u64(),
            window_ms: ms(&loss["window_ms"]),
        });
    }
    if let Some(end) = end {
        evidence.status = text(&end["status"], NAME_CHARS).unwrap_or_else(|| "unknown".into());
        evidence.exit_code = end["exit_code"].as_i64();
        evidence.summary = text(&end["summary"], MESSAGE_CHARS);
        let drill = &end["drill"];
        evidence.rto = Objective::from(&drill["rto"]);
        evidence.rpo = Objective::from(&drill["rpo"]);
        evidence.lost_writes = drill["lost_writes"].as_u64();
        for note in drill["notes"].as_array().into_iter().flatten() {
            if let Some(note) = text(note, MESSAGE_CHARS) {
                evidence.notes.push(note);
            }
        }
    } else {
        evidence
            .notes
            .push("the journal has no run-end: the drill was cut short, and nothing was judged".into());
    }
    evidence.no_fault = evidence.fault_ms.is_none() && start["fault"].is_null();
    let zero = match evidence.no_fault {
        true => zero_without_fault,
        false => evidence.fault_ms,
    };
    if let (Some(zero), Some(rto)) = (zero, evidence.rto.measured_ms) {
        evidence.recovered_ms = Some(zero + rto);
    }
    Ok(evidence)
}

/// `evidence` in `format`.
pub fn render(evidence: &DrillEvidence, format: Format) -> String {
    match format {
        Format::Markdown => markdown::write(&document(evidence)),
        Format::Html => html::write_with_legend(&document(evidence), &drill_chart::svg(evidence), html::DRILL_LEGEND),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(evidence).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

fn field(label: &'static str, value: Text) -> Field {
    Field { label, value }
}

fn duration(ms: Option<f64>) -> String {
    ms.map_or("-".to_string(), human_duration)
}

/// `RTO 38.2 s (target 15 min): met`.
fn objective(o: &Objective) -> Text {
    let verdict = match o.met {
        Some(true) => Piece::Verdict {
            text: "met".into(),
            good: true,
        },
        Some(false) => Piece::Verdict {
            text: "MISSED".into(),
            good: false,
        },
        None => Piece::Own("not measured".into()),
    };
    let mut out = Text::new()
        .own(match o.measured_ms {
            Some(m) => human_duration(m),
            None => "not measured".into(),
        })
        .own(format!(" (target {}): ", duration(o.target_ms)))
        .then(verdict);
    if let Some(why) = &o.unmeasured {
        out = out.own(" — ").journal(why);
    }
    out
}

fn cell(value: Option<String>) -> Text {
    match value {
        Some(v) => Text::new().journal(v),
        None => Text::new().own("-"),
    }
}

fn at(ms: f64) -> Text {
    Text::new().own(offset_text(ms))
}

/// The drill's report as sections.
pub fn document(e: &DrillEvidence) -> Document {
    let good = e.status == "passed";
    let verdict = || Piece::Verdict {
        text: e.status.clone(),
        good,
    };
    let exit = e.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
    let mut summary = vec![
        field("Drill", Text::new().journal(&e.drill)),
        field("Run", Text::new().journal(&e.run_id)),
        field("Verdict", Text::new().then(verdict()).own(exit)),
    ];
    if let Some(text) = &e.summary {
        summary.push(field("Summary", Text::new().journal(text)));
    }
    summary.push(field("RTO", objective(&e.rto)));
    let mut rpo = objective(&e.rpo);
    if let Some(lost) = e.lost_writes {
        rpo = rpo.own(format!("; {lost} acknowledged writes lost"));
    }
    summary.push(field("RPO", rpo));
    if let Some(at) = &e.fault_at {
        summary.push(field("Fault injected", Text::new().journal(at)));
    } else if e.no_fault {
        summary.push(field(
            "Fault",
            Text::new().own("none: this drill breaks nothing; the RTO runs from the recovery's start"),
        ));
    }
    if let Some(recovery) = e.runs.iter().find(|r| r.role == "recovery") {
        summary.push(field(
            "Recovery plugin wall time",
            Text::new().own(duration(recovery.wall_ms)),
        ));
    }
    if let Some(started) = &e.started {
        summary.push(field("Started", Text::new().journal(started)));
    }
    if let Some(host) = &e.host {
        summary.push(field("Host", Text::new().journal(host)));
    }

    let mut sections = Vec::new();
    sections.push(Section {
        heading: "Timeline",
        level: 2,
        blocks: vec![
            Block::Paragraph(Text::new().own(
                "Times are since the drill's probes started. Each probe's health is a band: healthy, or failing from its first failed sample to the next healthy one.",
            )),
            Block::Timeline,
            Block::Table(events_table(e)),
        ],
    });
    sections.push(Section {
        heading: "Plugin runs",
        level: 2,
        blocks: vec![Block::Table(runs_table(e))],
    });
    sections.push(Section {
        heading: "Probes",
        level: 2,
        blocks: vec![Block::Table(probes_table(e)), Block::Table(bands_table(e))],
    });
    if !e.notes.is_empty() {
        sections.push(Section {
            heading: "Notes",
            level: 2,
            blocks: vec![Block::List {
                class: Some("notes"),
                items: e.notes.iter().map(|n| Text::new().journal(n)).collect(),
            }],
        });
    }
    let integrity = match e.integrity.state {
        chain::State::Broken => Some(Notice {
            severity: Severity::Warning,
            text: Text::new()
                .own("WARNING: NOT TRUSTWORTHY — the journal's hash chain is broken")
                .own(
                    e.integrity
                        .broken_line
                        .map(|l| format!(" at line {l}"))
                        .unwrap_or_default(),
                )
                .own(": ")
                .journal(e.integrity.reason.clone().unwrap_or_default()),
        }),
        chain::State::Incomplete => Some(Notice {
            severity: Severity::Note,
            text: Text::new().own("The journal has no run-end: the drill did not finish, and was not judged."),
        }),
        _ => None,
    };
    let footer = Text::new()
        .own("Built by drhost report from the drill journal ")
        .journal(e.journal.display().to_string())
        .own(" alone (hash chain: ");
    let footer = match &e.integrity.head {
        Some(head) => footer.own("intact, head ").journal(head),
        None => footer.own(format!("{:?}", e.integrity.state).to_lowercase()),
    }
    .own(")");
    Document {
        title: Text::new()
            .own("Drill report: ")
            .journal(&e.drill)
            .own(" — ")
            .then(verdict()),
        integrity,
        summary,
        sections,
        footer,
    }
}

fn column(name: &'static str, kind: Cell) -> Column {
    Column { name, kind }
}

/// What happened when, in order.
fn events_table(e: &DrillEvidence) -> Table {
    let mut rows: Vec<(f64, Text)> = Vec::new();
    for run in &e.runs {
        let plugin = run.plugin.clone().unwrap_or_else(|| "?".into());
        rows.push((
            run.start_ms,
            Text::new().own(format!("{} run starts: ", run.role)).journal(plugin),
        ));
        if let Some(end) = run.end_ms {
            let status = run.status.clone().unwrap_or_else(|| "?".into());
            rows.push((
                end,
                Text::new()
                    .own(format!("{} run ends: ", run.role))
                    .journal(status)
                    .own(format!(" after {}", duration(run.wall_ms))),
            ));
        }
    }
    for probe in &e.probes {
        for band in &probe.bands {
            let mut what = Text::new()
                .journal(&probe.probe)
                .own(if band.ok { " healthy" } else { " FAILING" });
            if let Some(detail) = &band.detail {
                what = what.own(": ").journal(detail);
            }
            rows.push((band.from_ms, what));
        }
    }
    if let Some(recovered) = e.recovered_ms {
        rows.push((
            recovered,
            Text::new().own(format!(
                "every probe healthy for good (RTO {})",
                duration(e.rto.measured_ms)
            )),
        ));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    Table {
        class: Some("events"),
        columns: vec![column("at", Cell::Number), column("what", Cell::Text)],
        rows: rows.into_iter().map(|(t, what)| vec![at(t), what]).collect(),
    }
}

fn runs_table(e: &DrillEvidence) -> Table {
    Table {
        class: Some("runs"),
        columns: vec![
            column("role", Cell::Label),
            column("plugin", Cell::Text),
            column("started", Cell::Number),
            column("status", Cell::Text),
            column("exit", Cell::Number),
            column("wall time", Cell::Number),
            column("run", Cell::Text),
        ],
        rows: e
            .runs
            .iter()
            .map(|r| {
                vec![
                    Text::new().own(r.role),
                    cell(r.plugin.clone()),
                    at(r.start_ms),
                    cell(r.status.clone()),
                    Text::new().own(r.exit_code.map_or("-".into(), |c| c.to_string())),
                    Text::new().own(duration(r.wall_ms)),
                    cell(r.run_id.clone()),
                ]
            })
            .collect(),
    }
}

fn probes_table(e: &DrillEvidence) -> Table {
    Table {
        class: Some("probes"),
        columns: vec![
            column("probe", Cell::Label),
            column("samples", Cell::Number),
            column("failed", Cell::Number),
            column("healthy after the fault", Cell::Number),
            column("lost writes", Cell::Number),
            column("loss window", Cell::Number),
        ],
        rows: e
            .probes
            .iter()
            .map(|p| {
                let number = |n: Option<u64>| Text::new().own(n.map_or("-".into(), |n| n.to_string()));
                vec![
                    Text::new().journal(&p.probe),
                    number(p.samples),
                    number(p.failed),
                    Text::new().own(p.healthy_after_ms.map_or("never".into(), human_duration)),
                    Text::new().own(match (p.lost, p.acknowledged) {
                        (Some(lost), Some(acked)) => format!("{lost}/{acked}"),
                        _ => "-".into(),
                    }),
                    Text::new().own(duration(p.window_ms)),
                ]
            })
            .collect(),
    }
}

fn bands_table(e: &DrillEvidence) -> Table {
    Table {
        class: Some("bands"),
        columns: vec![
            column("probe", Cell::Label),
            column("from", Cell::Number),
            column("to", Cell::Number),
            column("health", Cell::Text),
        ],
        rows: e
            .probes
            .iter()
            .flat_map(|p| {
                p.bands.iter().map(move |b| {
                    let mut health = Text::new().then(Piece::Verdict {
                        text: if b.ok { "healthy" } else { "failing" }.into(),
                        good: b.ok,
                    });
                    if let Some(detail) = &b.detail {
                        health = health.own(": ").journal(detail);
                    }
                    vec![Text::new().journal(&p.probe), at(b.from_ms), at(b.to_ms), health]
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A drill journal written by [`crate::journal::Journal`]: a backend
    /// down from 1000 ms to 4000 ms, the fault at 900 ms.
    fn journal(dir: &Path) -> PathBuf {
        let j = crate::journal::Journal::create(dir, "drill-d-1").unwrap();
        j.record(
            "run-start",
            json!({ "kind": "drill", "drill": "d", "at": "2026-12-01T08:00:00.000Z", "host": "ops1",
                    "targets": { "rto_ms": 900_000, "rpo_ms": 300_000 } }),
        );
        j.record("probe", json!({ "probe": "http:u", "ok": true, "at_ms": 10 }));
        j.record("fault-start", json!({ "at_ms": 900, "plugin": "f.wasm" }));
        j.record(
            "probe",
            json!({ "probe": "http:u", "ok": false, "at_ms": 1000, "detail": "<refused>" }),
        );
        j.record(
            "fault-end",
            json!({ "at_ms": 1100, "plugin_run": { "run_id": "f-1", "status": "recovered", "exit_code": 0, "wall_ms": 200 } }),
        );
        j.record("recovery-start", json!({ "at_ms": 1100, "plugin": "r.wasm" }));
        j.record("probe", json!({ "probe": "http:u", "ok": true, "at_ms": 4000 }));
        j.record(
            "recovery-end",
            json!({ "at_ms": 4200, "plugin_run": { "run_id": "r-1", "status": "recovered", "exit_code": 0, "wall_ms": 3100 } }),
        );
        j.record("probes-end", json!({ "at_ms": 7200 }));
        j.record(
            "run-end",
            json!({ "status": "passed", "exit_code": 0, "summary": "drill `d` passed", "drill": {
                "rto": { "target_ms": 900_000, "measured_ms": 3100, "met": true },
                "rpo": { "target_ms": 300_000, "measured_ms": null, "met": null },
                "probes": [{ "probe": "http:u", "samples": 36, "failed": 15, "healthy_after_ms": 3100 }],
                "notes": [] } }),
        );
        j.path().unwrap().to_owned()
    }

    /// A drill journal without a fault, as `drhost drill` writes one: the
    /// recovery (a restore test) from 2000 ms to 5000 ms, 50 ms after the
    /// RTO's zero; every probe healthy for good 3200 ms after that zero.
    fn journal_without_fault(dir: &Path) -> PathBuf {
        let j = crate::journal::Journal::create(dir, "drill-r-1").unwrap();
        j.record(
            "run-start",
            json!({ "kind": "drill", "drill": "r", "at": "2026-12-01T08:00:00.000Z", "fault": null,
                    "recovery": { "plugin": "r.wasm" }, "targets": { "rto_ms": 900_000, "rpo_ms": 300_000 } }),
        );
        j.record("probe", json!({ "probe": "http:u", "ok": true, "at_ms": 10 }));
        j.record("recovery-start", json!({ "at_ms": 2000, "plugin": "r.wasm" }));
        j.record(
            "recovery-end",
            json!({ "at_ms": 5000, "plugin_run": { "run_id": "r-1", "status": "recovered", "exit_code": 0,
                    "wall_ms": 3000, "started_after_fault_ms": 50 } }),
        );
        j.record("probes-end", json!({ "at_ms": 8000 }));
        j.record(
            "run-end",
            json!({ "status": "passed", "exit_code": 0, "summary": "drill `r` passed", "drill": {
                "rto": { "target_ms": 900_000, "measured_ms": 3200, "met": true },
                "rpo": { "target_ms": 300_000, "measured_ms": null, "met": null },
                "fault": null,
                "probes": [{ "probe": "http:u", "samples": 40, "failed": 0, "healthy_after_ms": 0 }],
                "notes": ["no fault: nothing was broken"] } }),
        );
        j.path().unwrap().to_owned()
    }

    #[test]
    fn a_drill_without_a_fault_marks_the_recovery_start_end_and_the_rto() {
        let dir = std::env::temp_dir().join(format!("drhost-drill-report-nofault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = read(&journal_without_fault(&dir)).unwrap();
        assert!(e.no_fault);
        assert_eq!(e.fault_ms, None);
        // The RTO's zero is 50 ms before the recovery started.
        assert_eq!(e.recovered_ms, Some(1950.0 + 3200.0));

        let svg = drill_chart::svg(&e);
        let x_of = |class: &str| -> f64 {
            let at = svg
                .find(&format!("<line class=\"marker {class}\""))
                .unwrap_or_else(|| panic!("no {class} marker: {svg}"));
            let rest = &svg[at..];
            let x1 = rest.find("x1=\"").unwrap() + 4;
            rest[x1..x1 + rest[x1..].find('"').unwrap()].parse().unwrap()
        };
        assert!(!svg.contains("class=\"marker fault\""), "no fault, no fault marker");
        let (start, end, recovered) = (x_of("recovery"), x_of("recovery-end"), x_of("recovered"));
        assert!(start < end && end < recovered, "{start} < {end} < {recovered}");
        assert!(svg.contains("recovery ended at"), "{svg}");

        let markdown = render(&e, Format::Markdown);
        assert!(markdown.contains("none: this drill breaks nothing"), "{markdown}");
        assert!(
            markdown.contains("every probe healthy for good (RTO 3.2 s)"),
            "{markdown}"
        );

        // A drill with a fault has no recovery-end marker (its run bar says it).
        let with_fault = read(&journal(&dir)).unwrap();
        assert!(!with_fault.no_fault);
        let svg = drill_chart::svg(&with_fault);
        assert!(svg.contains("class=\"marker recovery\"") && !svg.contains("marker recovery-end"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_evidence_is_the_journals_figures_with_one_band_per_health_change() {
        let dir = std::env::temp_dir().join(format!("drhost-drill-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = journal(&dir);
        assert!(is_drill_journal(&path));
        let e = read(&path).unwrap();
        assert_eq!((e.drill.as_str(), e.status.as_str()), ("d", "passed"));
        assert_eq!((e.rto.measured_ms, e.rto.met), (Some(3100.0), Some(true)));
        assert_eq!((e.fault_ms, e.recovered_ms), (Some(900.0), Some(4000.0)));
        let bands: Vec<(f64, f64, bool)> = e.probes[0].bands.iter().map(|b| (b.from_ms, b.to_ms, b.ok)).collect();
        assert_eq!(
            bands,
            [(10.0, 1000.0, true), (1000.0, 4000.0, false), (4000.0, 7200.0, true)]
        );
        let roles: Vec<(&str, Option<f64>)> = e.runs.iter().map(|r| (r.role, r.end_ms)).collect();
        assert_eq!(roles, [("fault", Some(1100.0)), ("recovery", Some(4200.0))]);

        let html = render(&e, Format::Html);
        assert_eq!(html.matches("<rect class=\"band failing\"").count(), 1);
        assert_eq!(html.matches("<rect class=\"band healthy\"").count(), 2);
        assert!(html.contains("class=\"marker fault\"") && html.contains("class=\"marker recovered\""));
        assert!(
            html.contains("&lt;refused&gt;") && !html.contains("<refused>"),
            "journal text escaped"
        );
        let markdown = render(&e, Format::Markdown);
        assert!(markdown.starts_with("# Drill report: "), "{markdown}");
        assert!(markdown.contains("3.1 s (target 15m 00s)"), "{markdown}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
