//! `db-outage`: runbook scenario 1, option A — the database is down and we
//! wait for it.
//!
//! 1. diagnose as the runbook does ([`diagnose`]): the provider's status
//!    page, `SELECT 1`, the backends' log lines about the database; when the
//!    database answers there is nothing to do — unless an earlier run left
//!    the proxy in maintenance mode, which is then switched back (step 4);
//! 2. maintenance mode: copy the maintenance site over the proxy's active
//!    site, `nginx -t`, `nginx -s reload`, and check the proxy now answers
//!    503 with the maintenance page (when `nginx -t` fails, the normal site
//!    is copied back and nothing is reloaded: the run fails, the proxy
//!    serving what it served);
//! 3. poll the database every `interval` until it answers, for at most
//!    `wait`, and never past the run's deadline (less a margin) — when the
//!    wait ends the proxy stays in maintenance mode (the safe state) and the
//!    run fails saying so, before the sandbox would stop it;
//! 4. switch back: copy the saved site over the active one, `nginx -t`,
//!    reload, and check the proxy's health URL answers 200 again.

use std::time::{Duration, Instant};

use drhost_sdk::docker;
use drhost_sdk::prelude::*;

const DATABASE: &str = "primary";
/// How long nginx may take to serve the switched site.
const PROXY_SETTLE: Duration = Duration::from_secs(10);
/// What the maintenance page says (lab/stack/nginx/maintenance.html).
const MAINTENANCE_MARKER: &str = "maintenance";

struct DbOutage;

struct Settings {
    proxy: String,
    active_site: String,
    maintenance_site: String,
    saved_site: String,
    proxy_port: String,
    health_path: String,
    interval: Duration,
    wait: Duration,
    diagnosis: database_diagnosis::Settings,
}

impl Settings {
    fn read(params: &Params) -> Result<Settings, Failure> {
        Ok(Settings {
            proxy: params.get("proxy")?.to_string(),
            active_site: params.get("active-site")?.to_string(),
            maintenance_site: params.get("maintenance-site")?.to_string(),
            saved_site: params.get("saved-site")?.to_string(),
            proxy_port: params.get("proxy-port")?.to_string(),
            health_path: params.get("health-path")?.to_string(),
            interval: params.duration("interval")?.max(Duration::from_millis(100)),
            wait: params.duration("wait")?,
            diagnosis: database_diagnosis::Settings::read(params)?,
        })
    }
}

/// `Ok` when the database answers `SELECT 1`; otherwise why not.
fn database_answers() -> Result<(), Error> {
    database_diagnosis::database_answers(DATABASE)
}

/// Runs `argv` in the proxy; a non-zero exit is a failure naming the
/// command, with what it said on one line.
fn in_proxy(s: &Settings, argv: &[&str], step: &Step) -> Result<(), Failure> {
    let done = docker_exec(&s.proxy, argv, 15_000).map_err(|e| Failure::from(e).in_step(step.name()))?;
    if done.exit_code != Some(0) {
        let output = format!("{}{}", done.stdout, done.stderr);
        let said: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        return Err(fail(format!(
            "`{}` in {} {}: {}",
            argv.join(" "),
            s.proxy,
            exit_text(done.exit_code),
            said.join("; ")
        ))
        .in_step(step.name()));
    }
    step.note(format!("{}: ok", argv.join(" ")));
    Ok(())
}

/// Makes `site` the proxy's active site and reloads nginx (after `nginx -t`).
///
/// When `nginx -t` refuses the configuration, `previous` (the site that
/// was active) is copied back and nginx is not reloaded: it goes on serving
/// what it served, and its files say so again, so no later reload (by
/// anyone, or a restart of the container) loads half a switch.
fn switch_site(s: &Settings, site: &str, previous: &str, step: &Step) -> Result<(), Failure> {
    in_proxy(s, &["cp", site, &s.active_site], step)?;
    if let Err(mut refused) = in_proxy(s, &["nginx", "-t"], step) {
        refused.summary = match in_proxy(s, &["cp", previous, &s.active_site], step) {
            Ok(()) => format!(
                "{}; put {previous} back as {} and did not reload: nginx still serves its previous configuration",
                refused.summary, s.active_site
            ),
            Err(again) => format!(
                "{}; putting {previous} back as {} failed too ({}): {} holds {site}, which nginx has not loaded",
                refused.summary, s.active_site, again.summary, s.active_site
            ),
        };
        return Err(refused
            .hint("fix what `nginx -t` names in the proxy's configuration, then run db-outage again")
            .fact("rolled-back-to", previous));
    }
    in_proxy(s, &["nginx", "-s", "reload"], step)
}

/// Polls the proxy's URL until `ok` accepts its answer (nginx reloads
/// asynchronously), for at most ten seconds (less near the run's deadline).
fn wait_for_proxy(url: &str, ok: impl Fn(&http::Response) -> bool, step: &Step) -> Result<http::Response, Failure> {
    let wait = Wait::up_to(PROXY_SETTLE);
    loop {
        let answer = http::get(url, Some(2000));
        match answer {
            Ok(r) if ok(&r) => return Ok(r),
            _ if !wait.over() => wait.sleep(Duration::from_millis(100)),
            Ok(r) => {
                return Err(fail(format!(
                    "{url} answered {}: {}",
                    r.status,
                    r.body.trim().chars().take(200).collect::<String>()
                ))
                .in_step(step.name()))
            }
            Err(e) => return Err(Failure::from(e).in_step(step.name())),
        }
    }
}

/// Puts the normal site back and checks the proxy's health URL answers 200.
fn switch_back(s: &Settings, url: &str) -> Result<(), Failure> {
    let step = Step::start(format!("switch {} back to the normal site", s.proxy));
    switch_site(s, &s.saved_site, &s.maintenance_site, &step)?;
    let answer = wait_for_proxy(url, |r| r.status == 200, &step)?;
    step.note(format!("{url} answered {}", answer.status));
    step.ok();
    Ok(())
}

/// The database answers: nothing to do, unless an earlier run gave up
/// waiting and left the proxy in maintenance mode — then finish its job.
fn finish_if_left_in_maintenance(s: &Settings, url: &str) -> Result<Outcome, Failure> {
    let step = Step::start(format!("check what {} serves", s.proxy));
    let serving = http::get(url, Some(2000)).map_err(|e| Failure::from(e).in_step(step.name()))?;
    step.note(format!("{url} answered {}", serving.status));
    step.ok();
    if !is_maintenance(&serving) {
        return Ok(
            outcome("the database answers: maintenance mode is not needed, nothing was changed")
                .fact("maintenance", "not-needed"),
        );
    }
    switch_back(s, url)?;
    Ok(outcome(format!(
        "the database answers and {} was still in maintenance mode: switched back to the normal site",
        s.proxy
    ))
    .fact("maintenance", "done"))
}

fn is_maintenance(r: &http::Response) -> bool {
    r.status == 503 && r.body.to_lowercase().contains(MAINTENANCE_MARKER)
}

impl Plugin for DbOutage {
    fn describe() -> Manifest {
        let own = manifest(
            "db-outage",
            env!("CARGO_PKG_VERSION"),
            "Runbook scenario 1 option A: while the database is down, serves the maintenance page, polls the database until it is back (bounded), then switches the proxy back and verifies",
        )
        .param("proxy", "the nginx proxy container", Some("toolboxai-nginx-proxy"))
        .param("active-site", "the site nginx serves", Some("/etc/nginx/sites-enabled/default.conf"))
        .param("maintenance-site", "the maintenance site", Some("/etc/nginx/maintenance.conf"))
        .param("saved-site", "the normal site, put back afterwards", Some("/etc/nginx/sites-enabled/toolboxai.conf.backup"))
        .param("proxy-port", "the proxy's container port published on the host", Some("80/tcp"))
        .param("health-path", "the path that answers 200 through the proxy when the service is up", Some("/health"))
        .param("interval", "how often to test the database", Some("30s"))
        .param("wait", "how long to wait for the database before giving up (the proxy stays in maintenance mode); the wait always ends before the run's deadline (--timeout)", Some("15m"))
        .need("postgres", DATABASE, Access::Read, "tests the database with SELECT 1")
        .need("docker", "toolboxai-nginx-proxy", Access::Write, "switches the proxy's site and reloads nginx")
        .need("http", "127.0.0.1:*", Access::Read, "checks what the proxy serves");
        database_diagnosis::declare(own).build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let s = Settings::read(&params)?;
        let started = Instant::now();

        let info = docker::inspect_container(&s.proxy)?;
        let url = published_url(&info, &s.proxy_port, &s.health_path)
            .ok_or_else(|| fail(format!("{} publishes no host port for {}", s.proxy, s.proxy_port)))?;

        let found = database_diagnosis::diagnose(&s.diagnosis, DATABASE);
        if found.database.is_ok() {
            return finish_if_left_in_maintenance(&s, &url)
                .map(|o| found.on_outcome(o))
                .map_err(|f| found.on_failure(f));
        }
        self::run_outage(&s, &url, started)
            .map(|o| found.on_outcome(o))
            .map_err(|f| found.on_failure(f))
    }
}

/// Steps 2–4: maintenance mode, the bounded wait, the switch back.
fn run_outage(s: &Settings, url: &str, started: Instant) -> Result<Outcome, Failure> {
    let step = Step::start(format!("enable maintenance mode on {}", s.proxy));
    switch_site(s, &s.maintenance_site, &s.saved_site, &step)?;
    wait_for_proxy(url, is_maintenance, &step)?;
    step.note(format!("{url} serves the maintenance page (503)"));
    step.ok();
    let maintenance_since = Instant::now();

    // The wait ends before the run's deadline, with time left to say so:
    // the sandbox stopping the plugin mid-wait would leave no message.
    let wait = Wait::up_to(s.wait);
    let step = Step::start(format!(
        "wait for the database (every {}, {})",
        duration_text(s.interval),
        wait.plan_text()
    ));
    let mut attempts = 1u32;
    loop {
        wait.sleep(s.interval);
        attempts += 1;
        match database_answers() {
            Ok(()) => break,
            Err(e) if wait.over() => {
                let more = if wait.cut_short() {
                    "re-run db-outage with a longer --timeout to keep waiting"
                } else {
                    "re-run db-outage to keep waiting"
                };
                return Err(fail(format!(
                    "the database is still down after {} ({attempts} attempts; last: {}); the proxy stays in maintenance mode, serving the maintenance page",
                    wait.waited_text(),
                    e.describe()
                ))
                .in_step(step.name())
                .hint(format!(
                    "{more} (it switches the proxy back once the database answers), or restore from a backup with db-restore"
                ))
                .fact("maintenance", "on")
                .fact("attempts", attempts)
                .fact("waited-ms", wait.waited().as_millis()));
            }
            Err(e) if attempts.is_multiple_of(10) => step.note(format!("attempt {attempts}: {}", e.describe())),
            Err(_) => {}
        }
    }
    step.note(format!("answered after {attempts} attempts"));
    step.ok();

    switch_back(s, url)?;

    let maintenance = maintenance_since.elapsed();
    Ok(outcome(format!(
        "the database is back; {} served the maintenance page for {} and is back to normal",
        s.proxy,
        duration_text(maintenance)
    ))
    .fact("maintenance", "done")
    .fact("attempts", attempts)
    .fact("maintenance-ms", maintenance.as_millis())
    .fact("time-to-recovery-ms", started.elapsed().as_millis()))
}

export_plugin!(DbOutage);
