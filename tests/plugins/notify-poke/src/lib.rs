//! `notify-poke`: posts one notice (`title`, `text` or `text-bytes` bytes of
//! `x`, `severity`) to channel `target`, then goes on: a refused or failed
//! post is reported as `error-kind` / `error` facts and the run still ends
//! well (fact `continued`) — what a recovery does with a dead channel. With
//! `on-error=fail` the error fails the run instead (exit 1).

use drhost_sdk::notify::{self, Notice, Severity};
use drhost_sdk::prelude::*;

struct NotifyPoke;

impl Plugin for NotifyPoke {
    fn describe() -> Manifest {
        manifest(
            "notify-poke",
            env!("CARGO_PKG_VERSION"),
            "Posts the notice it is told to (tests only)",
        )
        .param("target", "the notify channel label", Some("ops"))
        .param("title", "the notice's title", Some("Database maintenance mode on"))
        .param("text", "the notice's text", Some("The primary is being restored."))
        .param("text-bytes", "when not 0, the text is this many bytes of `x`", Some("0"))
        .param("severity", "info | warning | critical | resolved", Some("info"))
        .param("on-error", "report (facts, exit 0) or fail (exit 1)", Some("report"))
        .need("notify", "ops", Access::Write, "tells the people following the incident")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let severity = match params.get("severity")? {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            "resolved" => Severity::Resolved,
            other => return Err(fail(format!("unknown severity `{other}`"))),
        };
        let text = match params.parse::<usize>("text-bytes")? {
            0 => params.get("text")?.to_string(),
            n => "x".repeat(n),
        };
        let notice = Notice {
            title: params.get("title")?.to_string(),
            text,
            severity,
        };
        let step = Step::start("tell the channel");
        let posted = notify::post(params.get("target")?, &notice);
        step.ok();
        let out = match posted {
            Ok(()) => outcome("posted"),
            Err(e) if params.get("on-error")? == "fail" => return Err(e.into()),
            Err(e) => {
                warn(format!("the notice was not posted: {}", e.message()));
                outcome("not posted").fact("error-kind", e.kind()).fact("error", e.message())
            }
        };
        // The recovery goes on whatever the channel did.
        let step = Step::start("carry on with the recovery");
        step.ok();
        Ok(out.fact("continued", "true"))
    }
}

export_plugin!(NotifyPoke);
