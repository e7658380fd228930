//! `status`: the runbook's quick reference "check all service health" —
//! every granted container's state and Docker health, the HTTP health
//! endpoint on each published port, the Redis master and its Sentinels, and
//! the database's `SELECT version()` (the quick reference's "test the
//! database"), as one table (one row per check, printed once; its rows are in `--json`).
//! Changes nothing.
//! Exit 0 when everything is healthy; otherwise a failure naming the
//! unhealthy checks that carries the same table and the counts.

use drhost_sdk::docker::{self, ContainerInfo};
use drhost_sdk::postgres::Database;
use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Address, Connection, Sentinel};

struct Status;

/// One check: what was checked, on what, what it found.
struct Row {
    /// `container`, `sentinels`, `redis master` or `database`.
    check: &'static str,
    /// The container, the master name, or the node's address.
    target: String,
    state: String,
    /// Docker health, Sentinel agreement, the master's replicas.
    health: String,
    /// HTTP probes, the agreed master, the replication offset.
    detail: String,
    healthy: bool,
}

impl Row {
    /// A check that could not be made: the error's kind as its state, its
    /// message (cut) as the detail.
    fn unreachable(check: &'static str, target: String, error: &Error) -> Row {
        Row {
            check,
            target,
            state: error.kind().into(),
            health: "-".into(),
            detail: error.message().chars().take(120).collect(),
            healthy: false,
        }
    }

    /// The table's cells: OK, CHECK, TARGET, STATE, HEALTH, DETAIL.
    fn cells(&self) -> [&str; 6] {
        [
            if self.healthy { "yes" } else { "NO" },
            self.check,
            &self.target,
            &self.state,
            &self.health,
            &self.detail,
        ]
    }
}

fn check(info: &ContainerInfo, path: &str) -> Row {
    let mut healthy = info.running && info.health.as_deref() != Some("unhealthy");
    let mut probes = Vec::new();
    if info.running {
        for port in info
            .ports
            .iter()
            .filter(|p| p.container_port.ends_with("/tcp") && !p.host_port.is_empty())
        {
            let Some(url) = published_url(info, &port.container_port, path) else {
                continue;
            };
            match http::get(&url, Some(3000)) {
                Ok(r) => {
                    healthy &= r.status == 200;
                    probes.push(format!("{url} {}", r.status));
                }
                Err(e) => {
                    healthy = false;
                    probes.push(format!("{url} {}", e.kind()));
                }
            }
        }
    }
    let state = if info.running {
        info.state.clone()
    } else {
        format!("{} (exit code {})", info.state, info.exit_code)
    };
    Row {
        check: "container",
        target: info.name.clone(),
        state,
        health: info.health.clone().unwrap_or_else(|| "-".into()),
        detail: if probes.is_empty() {
            "-".into()
        } else {
            probes.join(", ")
        },
        healthy,
    }
}

fn addr(a: &Address) -> String {
    format!("{}:{}", a.host, a.port)
}

/// The Redis rows: the master (through the Sentinels' view) and the
/// Sentinels' agreement. Read-only: PING, INFO replication, SENTINEL queries.
fn redis_rows(label: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let sentinel = match Sentinel::open(label) {
        Ok(s) => s,
        Err(e) => {
            rows.push(Row::unreachable("sentinels", format!("target {label}"), &e));
            return rows;
        }
    };
    let name = sentinel.master_name();
    let members = sentinel.members().len();
    let answers = sentinel.master_address(&name, None).unwrap_or_default();
    let seen: Vec<String> = answers
        .iter()
        .filter_map(|a| a.answer.as_ref().ok().and_then(|m| m.as_ref()).map(addr))
        .collect();
    let agreed = seen.first().filter(|first| seen.iter().all(|s| s == *first)).cloned();
    let majority = members / 2 + 1;
    rows.push(Row {
        check: "sentinels",
        target: name.clone(),
        state: format!("{}/{members} answer", seen.len()),
        health: match &agreed {
            Some(_) => "agree".into(),
            None => "disagree".into(),
        },
        detail: agreed
            .clone()
            .map_or_else(|| seen.join(" / "), |a| format!("master {a}")),
        healthy: agreed.is_some() && seen.len() >= majority,
    });
    let master = match Connection::open_master(label) {
        Ok(conn) => conn,
        Err(e) => {
            rows.push(Row::unreachable("redis master", name, &e));
            return rows;
        }
    };
    let row = match (master.ping(), master.replication()) {
        (Ok(_), Ok(info)) => {
            let online = info.replicas.iter().filter(|r| r.state == "online").count();
            Row {
                check: "redis master",
                target: addr(&master.address()),
                state: format!("role {}", info.role),
                health: format!("{online} replica(s) online"),
                detail: format!("offset {}", info.master_repl_offset),
                healthy: info.role == "master",
            }
        }
        (Err(e), _) | (_, Err(e)) => Row::unreachable("redis master", addr(&master.address()), &e),
    };
    rows.push(row);
    rows
}

/// The database row: the runbook's `psql "$SUPABASE_DATABASE_URL" -c
/// "SELECT version()"`, through the read-only grant.
fn database_row(label: &str) -> Row {
    let answer = Database::open(label).and_then(|db| db.query("SELECT version()", &[]));
    match answer {
        Ok(rows) => {
            let version = rows
                .rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .unwrap_or_default();
            // "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, …"
            let short = version
                .split(" on ")
                .next()
                .unwrap_or(&version)
                .chars()
                .take(60)
                .collect();
            Row {
                check: "database",
                target: label.to_string(),
                state: "answers".into(),
                health: "SELECT version()".into(),
                detail: short,
                healthy: true,
            }
        }
        Err(e) => Row::unreachable("database", label.to_string(), &e),
    }
}

impl Plugin for Status {
    fn describe() -> Manifest {
        manifest("status", env!("CARGO_PKG_VERSION"), "Quick reference: every container's state and health and each HTTP health endpoint, as one table; changes nothing")
            .param("containers", "glob over the container names to report", Some("toolboxai-*"))
            .param("health-path", "HTTP path probed on every published TCP port", Some("/health"))
            .need("docker", "toolboxai-*", Access::Read, "lists and inspects the stack's containers")
            .param("redis", "Redis target label whose master and Sentinels to report; empty skips Redis", Some("cache"))
            .need("http", "127.0.0.1:*", Access::Read, "probes the health endpoint on each published port")
            .need("redis", "cache", Access::Read, "reads the Redis master's replication state and the Sentinels' view")
            .param("database", "Postgres target label to test with SELECT version(); empty skips the database", Some("primary"))
            .need("postgres", "primary", Access::Read, "tests the database with SELECT version()")
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let glob = params.get("containers")?;
        let path = params.get("health-path")?;
        let step = Step::start(format!("check containers {glob}"));
        let containers =
            docker::list_containers(&containers_named(glob)).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let mut rows = Vec::new();
        for c in &containers {
            let info = docker::inspect_container(&c.name).map_err(|e| Failure::from(e).in_step(step.name()))?;
            rows.push(check(&info, path));
        }
        step.note(count(&rows));
        step.ok();
        let containers_checked = rows.len();
        if let Some(label) = params.optional("redis")? {
            let step = Step::start(format!("check redis {label}"));
            let redis = redis_rows(label);
            step.note(count(&redis));
            rows.extend(redis);
            step.ok();
        }
        if let Some(label) = params.optional("database")? {
            let step = Step::start(format!("check database {label}"));
            let row = database_row(label);
            step.note(format!("{}: {}", row.state, row.detail));
            rows.push(row);
            step.ok();
        }

        let mut table = table(
            "service health",
            &["OK", "CHECK", "TARGET", "STATE", "HEALTH", "DETAIL"],
        );
        for r in &rows {
            table = table.row(&r.cells());
        }
        let unhealthy: Vec<&Row> = rows.iter().filter(|r| !r.healthy).collect();
        let healthy = rows.len() - unhealthy.len();
        if containers_checked == 0 {
            return Err(fail(format!("no container matches `{glob}` (or none is granted)"))
                .hint("check --param containers and the [[plugins.status.docker]] grant")
                .fact("checks", rows.len())
                .fact("containers", 0)
                .table(table));
        }
        if !unhealthy.is_empty() {
            let names: Vec<String> = unhealthy.iter().map(|r| format!("{} {}", r.check, r.target)).collect();
            return Err(fail(format!(
                "{} of {} checks unhealthy: {}",
                unhealthy.len(),
                rows.len(),
                names.join(", ")
            ))
            .hint("the rows marked NO say why; run service-recover for failing containers, redis-failover for Redis, db-outage or db-restore for the database")
            .fact("checks", rows.len())
            .fact("containers", containers_checked)
            .fact("healthy", healthy)
            .fact("unhealthy", unhealthy.len())
            .table(table));
        }
        Ok(outcome(format!("all {} checks healthy", rows.len()))
            .fact("checks", rows.len())
            .fact("containers", containers_checked)
            .fact("healthy", healthy)
            .fact("unhealthy", 0)
            .table(table))
    }
}

/// `N checked, M unhealthy` for a step note (the rows go in the table).
fn count(rows: &[Row]) -> String {
    let bad = rows.iter().filter(|r| !r.healthy).count();
    format!("{} checked, {bad} unhealthy", rows.len())
}

export_plugin!(Status);
