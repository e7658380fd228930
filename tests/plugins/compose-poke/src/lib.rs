//! `compose-poke`: opens compose target `target` and makes the calls named
//! by `ops` (comma-separated: `ps`, `up`, `restart`, `down`,
//! `down-volumes`, `logs`) in order, with the services in `services`
//! (comma-separated; empty: all) or, for `logs`, `service` and `tail`. Each
//! call's result is a fact named after the op (`#2`, `#3`… when repeated):
//! `ok: SERVICE=STATE,…` (containers as `ps` reports them), `ok: N lines`
//! followed by the lines, or the typed error as `KIND: message`, with its
//! kind alone in `OP-kind` — so tests can check what a grant allows at the
//! call, whatever `describe` declared. With `strict=true` the first error
//! fails the run.

use drhost_sdk::compose::{Project, ServiceState};
use drhost_sdk::prelude::*;

struct ComposePoke;

/// Containers as `service=state` (with `:health` and `(exit code)` when known).
fn states(list: Vec<ServiceState>) -> String {
    list.iter()
        .map(|s| {
            let mut text = format!("{}={}", s.service, s.state);
            if let Some(health) = &s.health {
                text.push_str(&format!(":{health}"));
            }
            if let Some(code) = s.exit_code {
                text.push_str(&format!("({code})"));
            }
            text
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Plugin for ComposePoke {
    fn describe() -> Manifest {
        manifest(
            "compose-poke",
            env!("CARGO_PKG_VERSION"),
            "Makes the compose calls it is told to (tests only)",
        )
        .param("target", "the compose target label", Some("app"))
        .param(
            "ops",
            "ps | up | restart | down | down-volumes | logs, comma-separated",
            Some("ps"),
        )
        .param(
            "services",
            "services for up and restart, comma-separated (empty: all)",
            Some(""),
        )
        .param("service", "the service whose logs to read", Some(""))
        .param("tail", "how many log lines", Some("10"))
        .param("strict", "true: the first error fails the run", Some("false"))
        .need(
            "compose",
            "restart:app",
            Access::Write,
            "restarts the application's services",
        )
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let strict = params.get("strict")? == "true";
        let services: Vec<String> = params
            .get("services")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let project = match Project::open(params.get("target")?) {
            Ok(p) => p,
            Err(e) if strict => return Err(fail(e.describe())),
            Err(e) => {
                return Ok(outcome("not opened")
                    .fact("open-kind", e.kind())
                    .fact("open", e.describe()))
            }
        };
        let mut result = outcome("poked");
        let mut seen: Vec<String> = Vec::new();
        for op in params.get("ops")?.split(',').filter(|op| !op.is_empty()) {
            let step = Step::start(op.to_string());
            let said = match op {
                "ps" => project.ps().map(states),
                "up" => project.up(&services).map(states),
                "restart" => project.restart(&services).map(states),
                "down" => project.down(false).map(|_| "down".to_string()),
                "down-volumes" => project.down(true).map(|_| "down -v".to_string()),
                "logs" => project
                    .logs(params.get("service")?, params.parse("tail")?)
                    .map(|lines| format!("{} lines\n{}", lines.len(), lines.join("\n"))),
                other => return Err(fail(format!("unknown op `{other}`"))),
            };
            let count = seen.iter().filter(|s| *s == op).count();
            seen.push(op.to_string());
            let name = if count == 0 {
                op.to_string()
            } else {
                format!("{op}#{}", count + 1)
            };
            match said {
                Ok(text) => {
                    step.ok();
                    result = result.fact(&name, format!("ok: {text}"));
                }
                Err(e) if strict => {
                    step.fail();
                    return Err(fail(e.describe()).in_step(op));
                }
                Err(e) => {
                    step.note(e.describe());
                    step.ok();
                    result = result.fact(&format!("{name}-kind"), e.kind()).fact(&name, e.describe());
                }
            }
        }
        Ok(result)
    }
}

export_plugin!(ComposePoke);
