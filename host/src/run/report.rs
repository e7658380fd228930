//! What a run ended as, for the console, `--json` and the exit code: the
//! [`RunReport`] and its parts. It describes; it does not run anything or
//! write the journal (that is [`super::run`]).

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::error::Error;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The plugin returned an outcome (exit 0).
    Recovered,
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
    /// sha256 of the file.
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
    /// Its value.
    pub value: String,
}

/// What happened, for the console, `--json`, and the exit code.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run id (also the journal's file name).
    pub run_id: String,
    /// The journal file, when one was written.
    pub journal: Option<PathBuf>,
    /// The plugin, as far as it was identified.
    pub plugin: Option<PluginIdentity>,
    /// How the run ended.
    pub status: Status,
    /// The process exit code.
    pub exit_code: i32,
    /// One line: the outcome's or failure's summary, or the error.
    pub summary: String,
    /// Facts the plugin reported with its outcome.
    pub facts: Vec<ReportedFact>,
    /// The step the plugin failed in, if it said.
    pub failed_step: Option<String>,
    /// What to do next, if the plugin said.
    pub hint: Option<String>,
    /// Wall time of the whole command in milliseconds.
    pub wall_ms: u64,
}

impl RunReport {
    /// The report of a run that ended in `error` (before, or instead of, an
    /// outcome): its status and exit code follow from the error's.
    pub(super) fn from_error(
        run_id: String,
        journal: Option<PathBuf>,
        plugin: Option<PluginIdentity>,
        error: &Error,
        started: Instant,
    ) -> RunReport {
        let status = match error.exit_code() {
            crate::error::EXIT_REFUSED => Status::Refused,
            crate::error::EXIT_SANDBOX => Status::SandboxLimit,
            crate::error::EXIT_INTERRUPTED => Status::Interrupted,
            _ => Status::Usage,
        };
        RunReport {
            run_id,
            journal,
            plugin,
            status,
            exit_code: error.exit_code(),
            summary: error.to_string(),
            facts: Vec::new(),
            failed_step: None,
            hint: None,
            wall_ms: started.elapsed().as_millis() as u64,
        }
    }
}
