//! `service-recover`: runbook scenario 4, application service failure.
//!
//! Find the failing services (container not running, Docker health
//! `unhealthy`, or the HTTP health endpoint on the published port not 200),
//! diagnose each (error-looking log lines, exit code, OOM kill, memory limit,
//! dependency reachability from inside the container), restart and verify;
//! when restarts do not make it healthy, roll back (tag the previous image
//! as the one the service runs, recreate the container from it) and verify
//! again. Healthy services are never touched. Every wait for health ends
//! before the run's deadline: a service still starting then is reported,
//! not escalated to a rollback.

use std::time::{Duration, Instant};

use drhost_sdk::docker::{self, ContainerInfo};
use drhost_sdk::prelude::*;

struct ServiceRecover;

/// Log lines that usually explain a crash.
const SUSPICIOUS: &[&str] = &[
    "database",
    "connection",
    "connect",
    "postgres",
    "redis",
    "refused",
    "timeout",
    "error",
    "panic",
    "fatal",
    "killed",
    "memory",
];

struct Settings {
    services: String,
    health_port: String,
    health_path: String,
    rollback_image: String,
    attempts: u32,
    wait: Duration,
    dependencies: Vec<(String, String)>,
    log_lines: u32,
}

/// Why a service is failing, or `None` when it is healthy.
fn problem(info: &ContainerInfo, s: &Settings) -> Option<String> {
    if !info.running {
        let why = if info.oom_killed {
            ", OOM-killed".to_string()
        } else {
            String::new()
        };
        return Some(format!("{} (exit code {}{why})", info.state, info.exit_code));
    }
    if info.health.as_deref() == Some("unhealthy") {
        return Some("Docker health check: unhealthy".into());
    }
    let url = published_url(info, &s.health_port, &s.health_path)?;
    match http::get(&url, Some(2000)) {
        Ok(r) if r.status == 200 => None,
        Ok(r) => Some(format!(
            "{url} answered {}: {}",
            r.status,
            r.body.trim().chars().take(200).collect::<String>()
        )),
        Err(e) => Some(format!("{url}: {}", e.describe())),
    }
}

/// Polls until the service is healthy (`None`) or the wait is over (why it
/// is not). Gives up early when the container stops running after having
/// been given a moment to start. A wait the run's deadline cut short is a
/// failure: the service may only be slow, so nothing further is tried.
fn wait_healthy(name: &str, s: &Settings, step: &str) -> Result<Option<String>, Failure> {
    let wait = Wait::up_to(s.wait);
    loop {
        let info = docker::inspect_container(name).map_err(|e| Failure::from(e).in_step(step))?;
        let Some(why) = problem(&info, s) else {
            return Ok(None);
        };
        if !info.running && wait.waited() > Duration::from_millis(500) {
            return Ok(Some(why));
        }
        if !wait.over() {
            wait.sleep(Duration::from_millis(100));
            continue;
        }
        if wait.cut_short() {
            return Err(fail(format!(
                "{name} is not healthy after {}: {why}; nothing further was tried",
                wait.waited_text()
            ))
            .in_step(step)
            .hint("run service-recover again (with a longer --timeout) once it has had time to start"));
        }
        return Ok(Some(why));
    }
}

/// Diagnosis notes: exit state, memory, suspicious log lines, dependencies.
fn diagnose(name: &str, info: &ContainerInfo, s: &Settings) -> Result<Vec<String>, Failure> {
    let step = Step::start(format!("diagnose {name}"));
    let mut notes = Vec::new();
    notes.push(format!(
        "state {} (exit code {}, restarts {}, started {}), image {}",
        info.state, info.exit_code, info.restart_count, info.started_at, info.image
    ));
    if !info.error.is_empty() {
        notes.push(format!("engine error: {}", info.error));
    }
    let limit = if info.memory_limit == 0 {
        "no memory limit".to_string()
    } else {
        format!("memory limit {} MiB", info.memory_limit >> 20)
    };
    notes.push(if info.oom_killed {
        format!("OOM-killed; {limit}")
    } else {
        limit
    });
    if info.running {
        if let Ok(stats) = docker::container_stats(name) {
            notes.push(format!(
                "cpu {:.1}%, memory {} MiB",
                stats.cpu_percent,
                stats.memory_usage >> 20
            ));
        }
    }
    let logs = docker::container_logs(name, Some(s.log_lines), None, Some(64 * 1024))
        .map_err(|e| Failure::from(e).in_step(step.name()))?;
    let suspicious: Vec<&String> = logs
        .lines
        .iter()
        .filter(|l| {
            let lower = l.to_lowercase();
            SUSPICIOUS.iter().any(|w| lower.contains(w))
        })
        .collect();
    for line in suspicious.iter().rev().take(5).rev() {
        notes.push(format!("log: {}", line.trim()));
    }
    if suspicious.is_empty() {
        notes.push(format!(
            "no error-looking lines in the last {} log lines",
            logs.lines.len()
        ));
    }
    if info.running {
        for (host, port) in &s.dependencies {
            let reached = docker_exec(name, &["nc", "-z", "-w", "2", host, port], 5000);
            notes.push(match reached {
                Ok(r) if r.exit_code == Some(0) => format!("dependency {host}:{port} reachable"),
                Ok(r) => format!(
                    "dependency {host}:{port} NOT reachable (nc {}) {}",
                    exit_text(r.exit_code),
                    r.stderr.trim()
                ),
                Err(e) => format!("dependency {host}:{port} not checked: {}", e.describe()),
            });
        }
    } else if !s.dependencies.is_empty() {
        notes.push("dependencies not checked: the container is not running".into());
    }
    for note in &notes {
        step.note(note);
    }
    step.ok();
    Ok(notes)
}

/// What happened to one failing service.
struct Recovery {
    name: String,
    action: String,
    /// Plan mode recorded the change instead of making it.
    planned: bool,
}

fn recover(name: &str, why: &str, info: &ContainerInfo, s: &Settings) -> Result<Recovery, Failure> {
    warn(format!("{name} is failing: {why}"));
    let diagnosis = diagnose(name, info, s)?;

    let mut last = why.to_string();
    for attempt in 1..=s.attempts {
        let label = format!("restart {name} (attempt {attempt}/{})", s.attempts);
        let step = Step::start(&label);
        match docker::restart_container(name, Some(10)) {
            Ok(()) => {}
            Err(Error::Planned(what)) => {
                // Plan mode: recorded, not done; nothing to wait for.
                step.note(format!("plan: {what}"));
                step.ok();
                return Ok(Recovery {
                    name: name.into(),
                    action: "restart planned".into(),
                    planned: true,
                });
            }
            Err(e @ (Error::AccessDenied(_) | Error::Unavailable(_))) => return Err(Failure::from(e).in_step(&label)),
            Err(e) => {
                step.note(format!("restart failed: {}", e.describe()));
                last = e.describe();
                step.fail();
                continue;
            }
        }
        match wait_healthy(name, s, &label)? {
            None => {
                step.note("healthy");
                step.ok();
                return Ok(Recovery {
                    name: name.into(),
                    action: format!("restarted (attempt {attempt})"),
                    planned: false,
                });
            }
            Some(why) => {
                step.note(format!("still failing: {why}"));
                last = why;
                step.fail();
            }
        }
    }

    let current = docker::inspect_container(name).map_err(Failure::from)?.image;
    let label = format!("roll back {name} to {}", s.rollback_image);
    let step = Step::start(&label);
    let in_step = |e: Error| Failure::from(e).in_step(&label);
    if current != s.rollback_image {
        docker::tag_image(&s.rollback_image, &current).map_err(in_step)?;
        step.note(format!("tagged {} as {current}", s.rollback_image));
    }
    let new = docker::recreate_with_image(name, &current, Some(10)).map_err(in_step)?;
    step.note(format!("recreated {name} from {current} ({})", new.image_id));
    if let Some(why) = wait_healthy(name, s, &label)? {
        step.note(format!("still failing: {why}"));
        step.fail();
        return Err(fail(format!(
            "{name} is still failing after {} restart(s) and a rollback to {}: {why} (before: {last})",
            s.attempts, s.rollback_image
        ))
        .in_step(&label)
        .hint(format!(
            "diagnosis: {}; check its dependencies and `docker logs {name}`, then escalate",
            diagnosis.join("; ")
        )));
    }
    step.note("healthy");
    step.ok();
    Ok(Recovery {
        name: name.into(),
        action: format!(
            "rolled back to {} after {} failed restart(s)",
            s.rollback_image, s.attempts
        ),
        planned: false,
    })
}

fn settings(params: &Params) -> Result<Settings, Failure> {
    let dependencies = params
        .get("dependencies")?
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok((h.to_string(), p.to_string())),
            _ => Err(fail(format!("dependency `{d}` is not HOST:PORT"))
                .hint("pass --param dependencies=redis-master:6380,db:5432")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Settings {
        services: params.get("services")?.to_string(),
        health_port: params.get("health-port")?.to_string(),
        health_path: params.get("health-path")?.to_string(),
        rollback_image: params.get("rollback-image")?.to_string(),
        attempts: params.parse("attempts")?,
        wait: Duration::from_secs_f64(params.parse::<f64>("wait-seconds")?.max(0.5)),
        dependencies,
        log_lines: params.parse("log-lines")?,
    })
}

impl Plugin for ServiceRecover {
    fn describe() -> Manifest {
        manifest("service-recover", env!("CARGO_PKG_VERSION"), "Runbook scenario 4: finds failing backend containers, diagnoses them, restarts them and rolls back to the previous image when a restart is not enough")
            .param("services", "glob over the container names to check", Some("toolboxai-backend*"))
            .param("health-port", "container port whose published host port serves the health endpoint", Some("8000/tcp"))
            .param("health-path", "HTTP path that answers 200 when the service is healthy", Some("/health"))
            .param("rollback-image", "image to roll back to: it is tagged as the image the service runs, then the container is recreated", Some("toolboxai/backend:previous"))
            .param("attempts", "restarts to try before rolling back", Some("1"))
            .param("wait-seconds", "how long to wait for a service to turn healthy after each action", Some("20"))
            .param("dependencies", "HOST:PORT list checked with `nc -z` from inside a running failing container, e.g. redis-master:6380", Some(""))
            .param("log-lines", "log lines to read when diagnosing", Some("100"))
            .need("docker", "toolboxai-backend*", Access::Write, "inspects, reads logs of, restarts and recreates the failing backends")
            .need("docker", "image:toolboxai/backend:*", Access::Write, "re-tags the previous image for a rollback")
            .need("http", "127.0.0.1:*", Access::Read, "probes each backend's health endpoint on its published port")
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let started = Instant::now();
        let s = settings(&params)?;

        let step = Step::start(format!("find failing services ({})", s.services));
        let containers = docker::list_containers(&containers_named(&s.services))
            .map_err(|e| Failure::from(e).in_step(step.name()))?;
        if containers.is_empty() {
            step.fail();
            return Err(
                fail(format!("no container matches `{}` (or none is granted)", s.services))
                    .in_step("find failing services")
                    .hint("check --param services and the plugin's [[plugins.service-recover.docker]] grant"),
            );
        }
        let mut failing = Vec::new();
        for c in &containers {
            let info = docker::inspect_container(&c.name).map_err(|e| Failure::from(e).in_step(step.name()))?;
            match problem(&info, &s) {
                Some(why) => {
                    step.note(format!("{}: FAILING: {why}", c.name));
                    failing.push((c.name.clone(), why, info));
                }
                None => step.note(format!("{}: healthy", c.name)),
            }
        }
        step.ok();
        let checked = containers.len();
        if failing.is_empty() {
            return Ok(outcome(format!(
                "all {checked} services matching `{}` are healthy; nothing to recover",
                s.services
            ))
            .fact("checked", checked)
            .fact("failing", 0));
        }

        let mut recovered = Vec::new();
        for (name, why, info) in &failing {
            recovered.push(recover(name, why, info, &s)?);
        }
        if recovered.iter().any(|r| r.planned) {
            return Ok(outcome(format!(
                "plan: {} failing; would restart {}",
                failing.len(),
                recovered.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
            .fact("checked", checked)
            .fact("failing", failing.len()));
        }

        let step = Step::start("verify every service");
        let mut still = Vec::new();
        for c in &containers {
            let info = docker::inspect_container(&c.name).map_err(|e| Failure::from(e).in_step(step.name()))?;
            if let Some(why) = problem(&info, &s) {
                still.push(format!("{}: {why}", c.name));
            }
        }
        if !still.is_empty() {
            step.fail();
            return Err(fail(format!(
                "recovered {} service(s) but {} failing now: {}",
                recovered.len(),
                still.len(),
                still.join("; ")
            ))
            .in_step("verify every service")
            .hint("run service-recover again, or check the shared dependencies (database, Redis)"));
        }
        step.ok();
        let ttr = started.elapsed();
        let names: Vec<&str> = recovered.iter().map(|r| r.name.as_str()).collect();
        let mut result = outcome(format!(
            "recovered {} in {}: {}",
            names.join(", "),
            duration_text(ttr),
            recovered
                .iter()
                .map(|r| format!("{} {}", r.name, r.action))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .fact("checked", checked)
        .fact("failing", failing.len())
        .fact("recovered", names.join(","))
        .fact("time-to-recovery-ms", ttr.as_millis());
        for r in &recovered {
            result = result.fact(&format!("action:{}", r.name), &r.action);
        }
        Ok(result)
    }
}

export_plugin!(ServiceRecover);
