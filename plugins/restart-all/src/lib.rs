//! `restart-all`: the runbook's quick reference "restart all services"
//! (`docker-compose -f docker-compose.phase2.yml restart`), one service
//! at a time.
//!
//! Lists the compose project's services with `ps`, which gives them in the
//! compose file's dependency order (a service after the ones it
//! `depends_on`: the order `config --services` prints; the capability
//! exposes no dependency graph, so independent services keep compose's
//! order), asks the operator, then restarts each service and waits until
//! it is healthy — every container running, its Docker health check
//! `healthy` when it has one, and its HTTP probe (`probes`) answering 200
//! when one is given — before the next. The table says how long each took
//! to be healthy. A service that does not come back within `wait` fails
//! the run naming it; the services after it are not restarted.

use std::time::{Duration, Instant};

use drhost_sdk::compose::{Project, ServiceState};
use drhost_sdk::prelude::*;
use drhost_sdk::{confirm, Table};

struct RestartAll;

/// Why the service's containers are not healthy yet, or `None` when they are.
fn unhealthy(service: &str, states: &[ServiceState], probe: Option<&str>) -> Option<String> {
    let mine: Vec<&ServiceState> = states.iter().filter(|s| s.service == service).collect();
    if mine.is_empty() {
        return Some("no container".into());
    }
    for s in &mine {
        if s.state != "running" {
            let code = s.exit_code.map(|c| format!(" with code {c}")).unwrap_or_default();
            return Some(format!("{} is {}{code}", s.container, s.state));
        }
        match s.health.as_deref() {
            None | Some("healthy") => {}
            Some(h) => return Some(format!("{} health check: {h}", s.container)),
        }
    }
    let url = probe?;
    match http::get(url, Some(2000)) {
        Ok(r) if r.status == 200 => None,
        Ok(r) => Some(format!("{url} answered {}", r.status)),
        Err(e) => Some(format!("{url}: {}", e.describe())),
    }
}

/// `SERVICE=URL,…` → the probe for each service.
fn probes(text: &str) -> Result<Vec<(String, String)>, Failure> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((s, url)) if !s.is_empty() && (url.starts_with("http://") || url.starts_with("https://")) => {
                Ok((s.trim().to_string(), url.trim().to_string()))
            }
            _ => Err(fail(format!("probe `{p}` is not SERVICE=URL"))
                .hint("pass --param probes=backend=http://127.0.0.1:8000/health,web=http://127.0.0.1:8080/")),
        })
        .collect()
}

/// One row of the table.
struct Row {
    service: String,
    containers: String,
    result: String,
    took: String,
}

fn rows_table(rows: &[Row]) -> Table {
    let mut t = table(
        "restart in dependency order",
        &["#", "SERVICE", "CONTAINERS", "RESULT", "TIME TO HEALTHY"],
    );
    for (i, r) in rows.iter().enumerate() {
        t = t.row(&[
            (i + 1).to_string(),
            r.service.clone(),
            r.containers.clone(),
            r.result.clone(),
            r.took.clone(),
        ]);
    }
    t
}

fn containers_of(service: &str, states: &[ServiceState]) -> String {
    let names: Vec<&str> = states
        .iter()
        .filter(|s| s.service == service)
        .map(|s| s.container.as_str())
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(", ")
    }
}

impl Plugin for RestartAll {
    fn describe() -> Manifest {
        manifest("restart-all", env!("CARGO_PKG_VERSION"), "Quick reference 'restart all services': every service of the compose project restarted in dependency order, each verified healthy before the next, with its time to healthy")
            .param("target", "the compose target label ([targets.compose.LABEL])", Some("toolboxai"))
            .param("wait", "how long each service may take to be healthy after its restart", Some("60s"))
            .param("probes", "SERVICE=URL,… : an HTTP URL that must answer 200 too before the service counts as healthy (needs an [[plugins.restart-all.http]] grant for its host)", Some(""))
            .need("compose", "read:toolboxai", Access::Read, "lists the project's services and their health")
            .need("compose", "restart:toolboxai", Access::Write, "restarts each service")
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let label = params.get("target")?;
        let wait_for = params.duration("wait")?;
        let probes = probes(params.get("probes")?)?;
        let step = Step::start(format!("list the services of compose target {label}"));
        let project = Project::open(label).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let before = project.ps().map_err(|e| Failure::from(e).in_step(step.name()))?;
        let mut order: Vec<String> = Vec::new();
        for s in &before {
            if !order.contains(&s.service) {
                order.push(s.service.clone());
            }
        }
        if order.is_empty() {
            step.fail();
            return Err(fail(format!("compose target `{label}` has no containers to restart"))
                .in_step("list the services")
                .hint("bring the project up with full-restart (down, then up -d)"));
        }
        if let Some((s, _)) = probes.iter().find(|(s, _)| !order.contains(s)) {
            step.fail();
            return Err(fail(format!(
                "--param probes names `{s}`, which is not a service of compose target `{label}` ({})",
                order.join(", ")
            ))
            .in_step("list the services"));
        }
        step.note(format!("in dependency order: {}", order.join(", ")));
        step.ok();

        let question = format!(
            "Restart all {} services of compose target `{label}` one at a time ({}), waiting up to {} for each to be healthy?",
            order.len(),
            order.join(" → "),
            duration_text(wait_for)
        );
        if !confirm::ask(&question)? {
            return Err(fail("the operator declined the restart; nothing was changed").in_step("confirm restart"));
        }

        let started = Instant::now();
        let mut rows: Vec<Row> = Vec::new();
        let mut planned = false;
        for (i, service) in order.iter().enumerate() {
            let label_step = format!("restart {service}");
            let step = Step::start(&label_step);
            let probe = probes.iter().find(|(s, _)| s == service).map(|(_, u)| u.as_str());
            let began = Instant::now();
            let after = match project.restart(std::slice::from_ref(service)) {
                Ok(states) => states,
                Err(Error::Planned(what)) => {
                    step.note(format!("plan: {what}"));
                    step.ok();
                    planned = true;
                    rows.push(Row {
                        service: service.clone(),
                        containers: containers_of(service, &before),
                        result: "planned".into(),
                        took: "-".into(),
                    });
                    continue;
                }
                Err(e) => {
                    step.fail();
                    rows.push(Row {
                        service: service.clone(),
                        containers: containers_of(service, &before),
                        result: format!("restart failed: {}", e.kind()),
                        took: "-".into(),
                    });
                    rows.extend(not_restarted(&order[i + 1..], &before));
                    return Err(fail(format!("restarting `{service}` failed: {}", e.describe()))
                        .in_step(&label_step)
                        .hint(hint(service, &order[i + 1..]))
                        .table(rows_table(&rows)));
                }
            };
            let wait = Wait::up_to(wait_for);
            let mut states = after;
            let why = loop {
                match unhealthy(service, &states, probe) {
                    None => break None,
                    Some(why) if wait.over() => break Some(why),
                    Some(_) => {}
                }
                wait.sleep(Duration::from_millis(500));
                states = project.ps().map_err(|e| Failure::from(e).in_step(&label_step))?;
            };
            let containers = containers_of(service, &states);
            match why {
                None => {
                    let took = began.elapsed();
                    step.note(format!("healthy after {}", duration_text(took)));
                    step.ok();
                    rows.push(Row {
                        service: service.clone(),
                        containers,
                        result: "healthy".into(),
                        took: duration_text(took),
                    });
                }
                Some(why) => {
                    step.note(format!("not healthy after {}: {why}", wait.waited_text()));
                    step.fail();
                    rows.push(Row {
                        service: service.clone(),
                        containers,
                        result: format!("NOT healthy: {why}"),
                        took: format!("> {}", duration_text(began.elapsed())),
                    });
                    rows.extend(not_restarted(&order[i + 1..], &before));
                    return Err(fail(format!(
                        "service `{service}` did not come back healthy after its restart ({} waited): {why}",
                        wait.waited_text()
                    ))
                    .in_step(&label_step)
                    .hint(hint(service, &order[i + 1..]))
                    .fact("failed-service", service)
                    .fact("restarted", i + 1)
                    .table(rows_table(&rows)));
                }
            }
        }
        if planned {
            return Ok(
                outcome(format!("plan: would restart {} in this order", order.join(", ")))
                    .fact("order", order.join(","))
                    .table(rows_table(&rows)),
            );
        }
        let total = started.elapsed();
        let mut result = outcome(format!(
            "restarted all {} services of `{label}` in dependency order, each healthy, in {}",
            order.len(),
            duration_text(total)
        ))
        .fact("order", order.join(","))
        .fact("restarted", order.len())
        .fact("time-to-recovery-ms", total.as_millis());
        for r in &rows {
            result = result.fact(&format!("time-to-healthy:{}", r.service), &r.took);
        }
        Ok(result.table(rows_table(&rows)))
    }
}

fn not_restarted(rest: &[String], before: &[ServiceState]) -> Vec<Row> {
    rest.iter()
        .map(|s| Row {
            service: s.clone(),
            containers: containers_of(s, before),
            result: "not restarted".into(),
            took: "-".into(),
        })
        .collect()
}

fn hint(service: &str, rest: &[String]) -> String {
    let after = if rest.is_empty() {
        String::new()
    } else {
        format!("; {} were not restarted", rest.join(", "))
    };
    format!(
        "read its logs (the logs plugin with --param services={service}) and fix it, then run restart-all again{after}"
    )
}

export_plugin!(RestartAll);
