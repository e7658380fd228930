//! `full-restart`: the runbook's quick reference "full restart"
//! (`docker-compose -f docker-compose.phase2.yml down`, then `up -d`).
//!
//! Records what runs (`ps`), asks the operator, takes the whole compose
//! project down (containers and networks; named volumes are kept), brings
//! every service up again (`up -d`, in the file's dependency order) and
//! waits until every service is healthy — every container running and its
//! Docker health check `healthy` when it has one. When the stack does not
//! come back within `wait`, the run says exactly which services are still
//! down in a table and as follow-ups (exit 5), rather than stopping at the
//! first error. Images are rebuilt (the runbook's "with rebuild") only
//! when the operator's compose target says `build = true`: the compose
//! capability's `up` is then `up -d --build`, else `up -d --no-build`.
//! Whether a build runs the project's Dockerfiles on this host is the
//! operator's decision, so the plugin has no parameter for it.
//!
//! The grants declare the compose target as changed (`down:` and `up:`),
//! so a run-level lock on changed targets covers it.

use std::time::{Duration, Instant};

use drhost_sdk::compose::{Project, ServiceState};
use drhost_sdk::prelude::*;
use drhost_sdk::{confirm, Table};

struct FullRestart;

/// Why `service` is not healthy in `states`, or `None` when it is.
fn down_why(service: &str, states: &[ServiceState]) -> Option<String> {
    let mine: Vec<&ServiceState> = states.iter().filter(|s| s.service == service).collect();
    if mine.is_empty() {
        return Some("no container".into());
    }
    for s in mine {
        if s.state != "running" {
            let code = s.exit_code.map(|c| format!(" with code {c}")).unwrap_or_default();
            return Some(format!("{}{code}", s.state));
        }
        match s.health.as_deref() {
            None | Some("healthy") => {}
            Some(h) => return Some(format!("running, health check {h}")),
        }
    }
    None
}

fn state_table(title: &str, states: &[ServiceState]) -> Table {
    let mut t = table(title, &["SERVICE", "CONTAINER", "STATE", "HEALTH", "EXIT CODE"]);
    for s in states {
        t = t.row(&[
            s.service.clone(),
            s.container.clone(),
            s.state.clone(),
            s.health.clone().unwrap_or_else(|| "-".into()),
            s.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
        ]);
    }
    t
}

/// Adds each service of `states` once, in order, to `order`.
fn add_services(order: &mut Vec<String>, states: &[ServiceState]) {
    for s in states {
        if !order.contains(&s.service) {
            order.push(s.service.clone());
        }
    }
}

impl Plugin for FullRestart {
    fn describe() -> Manifest {
        manifest("full-restart", env!("CARGO_PKG_VERSION"), "Quick reference 'full restart': the compose project down, then up -d, every service verified; reports exactly what is still down")
            .param("target", "the compose target label ([targets.compose.LABEL])", Some("toolboxai"))
            .param("wait", "how long the services may take to be healthy after up", Some("120s"))
            .need("compose", "read:toolboxai", Access::Read, "records what runs before and verifies every service after")
            .need("compose", "down:toolboxai", Access::Admin, "takes the project's containers and networks down (volumes are kept)")
            .need("compose", "up:toolboxai", Access::Write, "brings every service up again")
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let label = params.get("target")?;
        let wait_for = params.duration("wait")?;

        let step = Step::start(format!("record what runs in compose target {label}"));
        let project = Project::open(label).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let before = project.ps().map_err(|e| Failure::from(e).in_step(step.name()))?;
        let mut services: Vec<String> = Vec::new();
        add_services(&mut services, &before);
        let running = before.iter().filter(|s| s.state == "running").count();
        step.note(format!("{} container(s), {running} running", before.len()));
        step.ok();

        let question = format!(
            "Take compose target `{label}` down ({} container(s): {}) and bring every service up again? Its services are unavailable meanwhile.",
            before.len(),
            if services.is_empty() { "none".to_string() } else { services.join(", ") }
        );
        if !confirm::ask(&question)? {
            return Err(
                fail("the operator declined the full restart; nothing was changed").in_step("confirm full restart")
            );
        }

        let started = Instant::now();
        let step = Step::start("down");
        match project.down(false) {
            Ok(()) => step.ok(),
            Err(Error::Planned(what)) => {
                step.note(format!("plan: {what}"));
                step.ok();
                return Ok(outcome(format!("plan: would take `{label}` down and up again"))
                    .fact("services", services.join(","))
                    .table(state_table("before", &before)));
            }
            Err(e) => {
                step.fail();
                return Err(Failure::from(e)
                    .in_step("down")
                    .hint("nothing was brought up again: check the engine, then run full-restart again")
                    .table(state_table("before", &before)));
            }
        }

        let step = Step::start("up -d");
        let up_error = match project.up(&[]) {
            Ok(states) => {
                add_services(&mut services, &states);
                step.ok();
                None
            }
            Err(e) => {
                step.note(e.describe());
                step.fail();
                Some(e)
            }
        };

        let wait = Wait::up_to(wait_for);
        let step = Step::start(format!("verify every service ({})", wait.plan_text()));
        let mut after = project.ps().map_err(|e| Failure::from(e).in_step(step.name()))?;
        add_services(&mut services, &after);
        loop {
            let down: Vec<&String> = services.iter().filter(|s| down_why(s, &after).is_some()).collect();
            // A container that exited for good will not come back by waiting.
            let hopeless = down.iter().all(|s| {
                after
                    .iter()
                    .any(|c| &c.service == *s && c.state != "running" && c.exit_code.is_some())
            });
            if down.is_empty() || wait.over() || (up_error.is_some() && hopeless) {
                break;
            }
            wait.sleep(Duration::from_secs(1));
            after = project.ps().map_err(|e| Failure::from(e).in_step(step.name()))?;
            add_services(&mut services, &after);
        }
        let still: Vec<(String, String)> = services
            .iter()
            .filter_map(|s| down_why(s, &after).map(|why| (s.clone(), why)))
            .collect();
        let took = started.elapsed();
        if still.is_empty() {
            step.note(format!("{} service(s) healthy", services.len()));
            step.ok();
            return Ok(outcome(format!(
                "`{label}` is back: all {} services up and healthy {} after down",
                services.len(),
                duration_text(took)
            ))
            .fact("services", services.join(","))
            .fact("healthy", services.len())
            .fact("still-down", 0)
            .fact("time-to-recovery-ms", took.as_millis())
            .table(state_table("after", &after)));
        }
        step.note(format!(
            "{} of {} still down after {}",
            still.len(),
            services.len(),
            wait.waited_text()
        ));
        step.fail();
        let mut down_table = table("still down", &["SERVICE", "WHY", "CONTAINER"]);
        for (service, why) in &still {
            let containers: Vec<&str> = after
                .iter()
                .filter(|c| &c.service == service)
                .map(|c| c.container.as_str())
                .collect();
            down_table = down_table.row(&[
                service.clone(),
                why.clone(),
                if containers.is_empty() {
                    "-".into()
                } else {
                    containers.join(", ")
                },
            ]);
        }
        let names: Vec<&str> = still.iter().map(|(s, _)| s.as_str()).collect();
        let mut result = outcome(format!(
            "`{label}` did not fully come back: {} of {} services still down ({})",
            still.len(),
            services.len(),
            names.join(", ")
        ))
        .fact("services", services.join(","))
        .fact("healthy", services.len() - still.len())
        .fact("still-down", names.join(","))
        .table(down_table)
        .table(state_table("after", &after));
        if let Some(e) = &up_error {
            result = result.fact("up-error", e.describe());
        }
        for (service, why) in &still {
            result = result.follow_up(
                format!(
                    "bring `{service}` up: read its logs (the logs plugin with --param services={service}), fix the cause, then run full-restart again"
                ),
                format!("after down and up -d it is {why}"),
            );
        }
        Ok(result)
    }
}

export_plugin!(FullRestart);
