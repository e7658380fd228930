//! What a run ended as, for the console, `--json` and the exit code: the
//! [`RunReport`] and its parts. It describes; it does not run anything or
//! write the journal (that is [`super::run`]).

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::reported::{ReportedFollowUp, ReportedTable};
use crate::error::{Error, ErrorReport};
use crate::sandbox::StepTrail;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The plugin returned an outcome (exit 0).
    Recovered,
    /// The plugin returned an outcome with follow-ups the operator must
    /// still do (exit 5).
    FollowUp,
    /// The plugin returned a failure (exit 1).
    Failed,
    /// Usage or configuration error (exit 2).
    Usage,
    /// Refused before running (exit 3).
    Refused,
    /// Stopped by the sandbox (exit 4).
    SandboxLimit,
    /// Interrupted by the operator: SIGINT or SIGTERM (exit 130).
    Interrupted,
}

/// The plugin as identified by its digest and `describe`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginIdentity {
    /// Path it was loaded from.
    pub path: PathBuf,
    /// sha256 of the file, `sha256:<hex>`.
    pub digest: String,
    /// From `describe`.
    pub id: Option<String>,
    /// From `describe`.
    pub version: Option<String>,
    /// The contract version it was built against.
    pub contract: Option<String>,
}

/// One fact from the plugin's outcome, e.g. `rows-restored` = `1204`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedFact {
    /// The fact's name.
    pub name: String,
    /// Its value, exactly as the plugin reported it (always a string).
    pub value: String,
    /// The value as a JSON number, when it is one (`1204`, `-3`, `0.25`,
    /// `1e3`; not `007`, ` 12`, `12ms`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<serde_json::Number>,
}

impl ReportedFact {
    /// A fact, typed as a number too when its text is one.
    pub fn new(name: String, value: String) -> ReportedFact {
        let number = (value.trim() == value)
            .then(|| serde_json::from_str::<serde_json::Number>(&value).ok())
            .flatten();
        ReportedFact { name, value, number }
    }
}

/// What a plan-mode run would have changed, in order.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Each change (the first 1000), as `call arg=value …` with the
    /// journal's redactions.
    pub changes: Vec<String>,
    /// How many changes there were in all.
    pub total: usize,
}

/// One step of the run, as the host saw it end.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The step's name.
    pub name: String,
    /// Whether it ended well (a step the sandbox stopped did not).
    pub ok: bool,
    /// How long it ran, in milliseconds.
    pub duration_ms: u64,
}

/// When a run started, by the wall clock (for the report) and by the
/// monotonic one (for its duration).
#[derive(Debug, Clone, Copy)]
pub struct Started {
    at: SystemTime,
    instant: Instant,
}

impl Started {
    /// Now.
    pub fn now() -> Started {
        Started {
            at: SystemTime::now(),
            instant: Instant::now(),
        }
    }

    /// The monotonic start, for deadlines and durations.
    pub fn instant(&self) -> Instant {
        self.instant
    }
}

/// An RFC 3339 UTC timestamp with milliseconds, as the journal writes them.
fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// What happened, for the console, `--json`, and the exit code.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run id (also the journal's file name).
    pub run_id: String,
    /// The journal file, when one was written.
    pub journal: Option<PathBuf>,
    /// The journal's `head` (the hash of its whole chain, see
    /// `drhost journal verify`), when it ended with run-end.
    pub journal_head: Option<String>,
    /// The plugin, as far as it was identified.
    pub plugin: Option<PluginIdentity>,
    /// How the run ended.
    pub status: Status,
    /// The process exit code.
    pub exit_code: i32,
    /// One line: the outcome's or failure's summary, or the error.
    pub summary: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended (RFC 3339, UTC).
    pub ended_at: String,
    /// Wall time of the whole command in milliseconds.
    pub wall_ms: u64,
    /// The plugin's steps in the order they ended (the first 1000).
    pub steps: Vec<StepReport>,
    /// Steps that ended beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub steps_not_listed: usize,
    /// Facts the plugin reported with its outcome or failure.
    pub facts: Vec<ReportedFact>,
    /// Tables the plugin reported with its outcome or failure.
    pub tables: Vec<ReportedTable>,
    /// What the operator must still do by hand (status `follow-up`).
    pub follow_ups: Vec<ReportedFollowUp>,
    /// Plan mode (`--plan`): the changes recorded instead of made; absent
    /// (`null`) in a live run.
    pub plan: Option<PlanReport>,
    /// The questions the plugin asked (`confirm`), each with its id, the
    /// answer and who gave it (the first 100; the journal has them all).
    pub confirms: Vec<crate::caps::confirm::ConfirmReport>,
    /// The step the plugin failed in, if it said.
    pub failed_step: Option<String>,
    /// What to do next, if the plugin said.
    pub hint: Option<String>,
    /// Why the run did not recover (absent, `null`, when it did).
    pub error: Option<ErrorReport>,
    /// `drhost resume`: the run it went on from and what was answered from
    /// that run's journal; absent in a run started afresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed: Option<super::resume::Tally>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RunReport {
    /// A report of a run that started at `started` and ends now with
    /// `status` and `exit_code`; no facts, steps, step or hint yet.
    pub(super) fn new(
        run_id: String,
        journal: Option<PathBuf>,
        plugin: Option<PluginIdentity>,
        (status, exit_code): (Status, i32),
        summary: String,
        started: &Started,
    ) -> RunReport {
        RunReport {
            run_id,
            journal,
            journal_head: None,
            plugin,
            status,
            exit_code,
            error: crate::error::error_kind(exit_code).map(|_| ErrorReport::new(exit_code, summary.clone())),
            summary,
            started_at: rfc3339(started.at),
            ended_at: rfc3339(SystemTime::now()),
            wall_ms: started.instant.elapsed().as_millis() as u64,
            steps: Vec::new(),
            steps_not_listed: 0,
            facts: Vec::new(),
            tables: Vec::new(),
            follow_ups: Vec::new(),
            plan: None,
            confirms: Vec::new(),
            failed_step: None,
            hint: None,
            resumed: None,
        }
    }

    /// The report of a run that ended in `error` (before, or instead of, an
    /// outcome): its status and exit code follow from the error's.
    pub(super) fn from_error(
        run_id: String,
        journal: Option<PathBuf>,
        plugin: Option<PluginIdentity>,
        error: &Error,
        started: &Started,
    ) -> RunReport {
        let status = match error.exit_code() {
            crate::error::EXIT_REFUSED => Status::Refused,
            crate::error::EXIT_SANDBOX => Status::SandboxLimit,
            crate::error::EXIT_INTERRUPTED => Status::Interrupted,
            _ => Status::Usage,
        };
        let mut report = RunReport::new(
            run_id,
            journal,
            plugin,
            (status, error.exit_code()),
            error.to_string(),
            started,
        );
        report.error = Some(ErrorReport::of(error));
        report
    }

    /// Lists the steps the host saw end.
    pub(super) fn with_steps(mut self, trail: &StepTrail) -> RunReport {
        let (ended, not_kept) = trail.ended_steps();
        self.steps = ended
            .iter()
            .map(|s| StepReport {
                name: s.name.clone(),
                ok: s.ok,
                duration_ms: s.ran.as_millis() as u64,
            })
            .collect();
        self.steps_not_listed = not_kept;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::ReportedFact;

    #[test]
    fn facts_that_are_numbers_are_typed_as_numbers() {
        let number = |v: &str| ReportedFact::new("f".into(), v.into()).number.map(|n| n.to_string());
        assert_eq!(number("1204").as_deref(), Some("1204"));
        assert_eq!(number("-3").as_deref(), Some("-3"));
        assert_eq!(number("0.25").as_deref(), Some("0.25"));
        assert_eq!(number("1e3").as_deref(), Some("1000.0"));
        for text in ["007", " 12", "12 ", "12ms", "", "NaN", "0x10", "+1", "1.", "true"] {
            assert_eq!(number(text), None, "{text:?}");
        }
        let json = serde_json::to_value(ReportedFact::new("rows".into(), "42".into())).unwrap();
        assert_eq!(json, serde_json::json!({ "name": "rows", "value": "42", "number": 42 }));
    }
}
