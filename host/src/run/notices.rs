//! What drhost posts about a run to `[run.notify]` (see
//! [`crate::caps::notify::RunNotices`]): the words of the start and end
//! notices. The confirm notice is the `confirm` capability's.

use std::path::Path;

use super::report::{RunReport, Status};
use super::{lock, operator};
use crate::bindings::drhost::runbook::notify::Severity;
use crate::bindings::types::Manifest;
use crate::caps::notify::HostNotice;
use crate::console::plugin_text;

/// The run of `manifest` is about to start.
pub(super) fn started(manifest: &Manifest, run_id: &str, journal: Option<&Path>) -> HostNotice {
    let who = operator();
    let user = who["user"].as_str().unwrap_or("?");
    let journal = journal.map_or_else(|| "none".to_string(), |p| p.display().to_string());
    HostNotice {
        title: format!(
            "drhost: {} {} started",
            plugin_text(&manifest.id),
            plugin_text(&manifest.version)
        ),
        text: format!(
            "Run {run_id} started on {} by {user}.\nJournal: {journal}",
            lock::hostname()
        ),
        severity: Severity::Info,
    }
}

/// The run ended as `report` says.
pub(super) fn ended(report: &RunReport) -> HostNotice {
    let id = report
        .plugin
        .as_ref()
        .and_then(|p| p.id.as_deref())
        .map_or_else(|| "plugin".to_string(), |id| plugin_text(id).into_owned());
    let (how, severity) = match report.status {
        Status::Recovered => ("recovered", Severity::Resolved),
        Status::FollowUp => ("done, with follow-ups for the operator", Severity::Warning),
        Status::Failed => ("failed", Severity::Critical),
        Status::Usage => ("not started (usage)", Severity::Warning),
        Status::Refused => ("refused", Severity::Critical),
        Status::SandboxLimit => ("stopped by the sandbox", Severity::Critical),
        Status::Interrupted => ("interrupted by the operator", Severity::Critical),
    };
    let mut text = format!(
        "{}\nExit {} after {}.",
        plugin_text(&report.summary),
        report.exit_code,
        crate::console::style::duration(std::time::Duration::from_millis(report.wall_ms))
    );
    if let Some(step) = &report.failed_step {
        text.push_str(&format!("\nFailed step: {}.", plugin_text(step)));
    }
    if let Some(hint) = &report.hint {
        text.push_str(&format!("\nHint: {}", plugin_text(hint)));
    }
    text.push_str(&format!("\nReport: drhost report {}", report.run_id));
    HostNotice {
        title: format!("drhost: {id} {how}"),
        text,
        severity,
    }
}
