//! `status`: the runbook's quick reference "check all service health" —
//! every granted container's state and Docker health, the HTTP health
//! endpoint on each published port, and the Redis master and its Sentinels,
//! as one table. Changes nothing.
//! Exit 0 when everything is healthy; a failure listing the unhealthy ones
//! otherwise.

use drhost_sdk::docker::{self, ContainerInfo};
use drhost_sdk::prelude::*;
use drhost_sdk::redis::{Address, Connection, Sentinel};

struct Status;

struct Row {
    name: String,
    state: String,
    health: String,
    http: String,
    healthy: bool,
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
        format!("{} (exit {})", info.state, info.exit_code)
    };
    Row {
        name: info.name.clone(),
        state,
        health: info.health.clone().unwrap_or_else(|| "-".into()),
        http: if probes.is_empty() {
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
            rows.push(Row {
                name: format!("redis {label}"),
                state: e.kind().into(),
                health: "-".into(),
                http: "-".into(),
                healthy: false,
            });
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
        name: format!("sentinels {name}"),
        state: format!("{}/{members} answer", seen.len()),
        health: match &agreed {
            Some(_) => "agree".into(),
            None => "disagree".into(),
        },
        http: agreed
            .clone()
            .map_or_else(|| seen.join(" / "), |a| format!("master {a}")),
        healthy: agreed.is_some() && seen.len() >= majority,
    });
    let master = match Connection::open_master(label) {
        Ok(conn) => conn,
        Err(e) => {
            rows.push(Row {
                name: format!("redis master {name}"),
                state: e.kind().into(),
                health: "-".into(),
                http: "-".into(),
                healthy: false,
            });
            return rows;
        }
    };
    let row = match (master.ping(), master.replication()) {
        (Ok(_), Ok(info)) => {
            let online = info.replicas.iter().filter(|r| r.state == "online").count();
            Row {
                name: format!("redis master {}", addr(&master.address())),
                state: format!("role {}", info.role),
                health: format!("{online} replica(s)"),
                http: format!("offset {}", info.master_repl_offset),
                healthy: info.role == "master",
            }
        }
        (Err(e), _) | (_, Err(e)) => Row {
            name: format!("redis master {}", addr(&master.address())),
            state: e.kind().into(),
            health: "-".into(),
            http: "-".into(),
            healthy: false,
        },
    };
    rows.push(row);
    rows
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
            let row = check(&info, path);
            step.note(format!(
                "{}: {} | health {} | {}",
                row.name, row.state, row.health, row.http
            ));
            rows.push(row);
        }
        step.ok();
        let containers_checked = rows.len();
        if let Some(label) = params.optional("redis")? {
            let step = Step::start(format!("check redis {label}"));
            for row in redis_rows(label) {
                step.note(format!("{}: {} | {} | {}", row.name, row.state, row.health, row.http));
                rows.push(row);
            }
            step.ok();
        }

        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(9).max(9);
        let mut table = vec![format!("{:width$}  {:18}  {:9}  DETAIL", "CHECK", "STATE", "HEALTH")];
        for r in &rows {
            table.push(format!("{:width$}  {:18}  {:9}  {}", r.name, r.state, r.health, r.http));
        }
        info(format!("service health\n{}", table.join("\n")));

        let unhealthy: Vec<&Row> = rows.iter().filter(|r| !r.healthy).collect();
        if containers_checked == 0 {
            return Err(fail(format!("no container matches `{glob}` (or none is granted)"))
                .hint("check --param containers and the [[plugins.status.docker]] grant"));
        }
        if !unhealthy.is_empty() {
            return Err(fail(format!(
                "{} of {} unhealthy: {}",
                unhealthy.len(),
                rows.len(),
                unhealthy
                    .iter()
                    .map(|r| format!("{} ({}; {})", r.name, r.state, r.http))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .hint("run service-recover for failing backends; see the table above"));
        }
        let mut result = outcome(format!("all {} checks healthy", rows.len()))
            .fact("containers", containers_checked)
            .fact("unhealthy", 0);
        for r in &rows {
            result = result.fact(&r.name, format!("{} | health {} | {}", r.state, r.health, r.http));
        }
        Ok(result.fact("table", table.join("\n")))
    }
}

export_plugin!(Status);
