//! Step 7, verify every service: every container of the project running,
//! `/health` 200 through the proxy, the database's `SELECT 1`, Redis
//! `PING` on the master, the Sentinels agreeing on one master. One table;
//! a failed check fails the run, naming it.

use std::time::Duration;

use drhost_sdk::compose::Project;
use drhost_sdk::postgres::Database;
use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Connection, Sentinel};
use drhost_sdk::Table;

use crate::{Settings, DATABASE, REDIS};

const STEP: &str = "verify all services";
const POLL: Duration = Duration::from_millis(250);

/// Step 7: the table of checks, or the first failing one.
pub(crate) fn verify(project: &Project, s: &Settings) -> Result<Table, Failure> {
    let step = Step::start(STEP);
    let mut t = table("verification", &["CHECK", "RESULT", "DETAIL"]);
    let failed = |what: String, t: &Table| {
        fail(what)
            .in_step(STEP)
            .hint("see the table and `drhost show latest`; rerun infra-restore once the cause is fixed (every step is idempotent)")
            .table(t.clone())
    };

    let states = project.ps().map_err(|e| crate::failed(STEP, e))?;
    let down: Vec<String> = states
        .iter()
        .filter(|c| c.state != "running")
        .map(|c| format!("{} ({})", c.service, c.state))
        .collect();
    t = t.row(&[
        "containers running".to_string(),
        format!("{}/{}", states.len() - down.len(), states.len()),
        down.join(", "),
    ]);
    if !down.is_empty() || states.is_empty() {
        return Err(failed(format!("not every container runs: {}", down.join(", ")), &t));
    }

    let wait = Wait::up_to(s.wait);
    let health = loop {
        match http_get(&s.health_url) {
            Ok(r) if r.status == 200 => break Ok(r.status),
            Ok(r) if wait.over() => break Err(format!("HTTP {}", r.status)),
            Err(e) if wait.over() => break Err(e.message().to_string()),
            _ => wait.sleep(POLL),
        }
    };
    match health {
        Ok(code) => t = t.row(&["health through the proxy", &code.to_string(), s.health_url.as_str()]),
        Err(why) => {
            t = t.row(&["health through the proxy", "failed", why.as_str()]);
            return Err(failed(format!("{} does not answer 200: {why}", s.health_url), &t));
        }
    }

    match Database::open(DATABASE).and_then(|db| db.query("SELECT 1", &[])) {
        Ok(_) => t = t.row(&["database SELECT 1", "ok", DATABASE]),
        Err(e) => {
            t = t.row(&["database SELECT 1", "failed", e.message()]);
            return Err(failed(
                format!("the database does not answer SELECT 1: {}", e.message()),
                &t,
            ));
        }
    }

    match Connection::open_master(REDIS).and_then(|c| c.ping().map(|ms| (c.address(), ms))) {
        Ok((a, _)) => {
            t = t.row(&[
                "redis PING".to_string(),
                "PONG".to_string(),
                format!("master {}:{}", a.host, a.port),
            ])
        }
        Err(e) => {
            t = t.row(&["redis PING", "failed", e.message()]);
            return Err(failed(
                format!("the Redis master does not answer PING: {}", e.message()),
                &t,
            ));
        }
    }

    let sentinel = Sentinel::open(REDIS).map_err(|e| Failure::from(e).in_step(STEP))?;
    let answers = sentinel
        .master_address(&sentinel.master_name(), None)
        .map_err(|e| Failure::from(e).in_step(STEP))?;
    let seen: Vec<String> = answers
        .iter()
        .filter_map(|a| a.answer.as_ref().ok().and_then(|m| m.as_ref()))
        .map(|m| format!("{}:{}", m.host, m.port))
        .collect();
    let members = sentinel.members().len();
    let agree = !seen.is_empty() && seen.iter().all(|m| *m == seen[0]) && seen.len() > members / 2;
    t = t.row(&[
        "sentinels agree".to_string(),
        format!("{}/{members}", seen.len()),
        seen.first().cloned().unwrap_or_default(),
    ]);
    if !agree {
        return Err(failed(
            format!("the Sentinels do not agree on a master: {}", seen.join(" / ")),
            &t,
        ));
    }
    step.note(format!("{} checks passed", t.rows.len()));
    step.ok();
    Ok(t)
}
