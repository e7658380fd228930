//! `fault-database-outage`: a drill's fault for runbook scenario 1 option A
//! (the database is down; we wait for the provider). For `duration` the
//! primary database refuses every connection, superusers' too, as during a
//! provider outage, and then accepts them again by itself — the drill
//! starts the recovery under test (`db-outage`) while it lasts
//! (`recovery_after` in `[drills.<name>]`).
//!
//! Through target `primary-server` (the same server's maintenance
//! database, since a database cannot lock itself out): `ALTER DATABASE …
//! WITH ALLOW_CONNECTIONS false`, then every open session of the database
//! ended (`pg_terminate_backend`); after `duration`, `ALTER DATABASE …
//! WITH ALLOW_CONNECTIONS true`. The wait ends before the run's deadline,
//! and connections are allowed again however the wait ends.
//!
//! Undo, had the plugin been killed mid-outage: `ALTER DATABASE <db> WITH
//! ALLOW_CONNECTIONS true` on the server's `postgres` database.

use std::time::Duration;

use drhost_sdk::postgres::{self, Database};
use drhost_sdk::prelude::*;

struct FaultDatabaseOutage;

/// The database taken down, by label.
const DATABASE: &str = "primary";
/// The same server's maintenance database (`postgres`), by label.
const SERVER: &str = "primary-server";

/// Databases never taken down, whatever the targets say.
const SYSTEM_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];

/// `name` as an SQL identifier, always quoted (`"a""b"` for `a"b`).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether the server lets anyone connect to `name` now.
fn allows_connections(server: &Database, name: &str) -> Result<bool, Error> {
    let rows = server.query(
        "SELECT datallowconn FROM pg_database WHERE datname = $1",
        &[name.to_string()],
    )?;
    match rows.rows.first().and_then(|r| r.first().cloned().flatten()) {
        Some(allowed) => Ok(allowed == "t" || allowed == "true"),
        None => Err(Error::NotFound(format!("database {name} does not exist"))),
    }
}

/// Sets `ALLOW_CONNECTIONS` of `name` and checks the server says so.
fn set_allow(server: &Database, name: &str, allow: bool) -> Result<(), Error> {
    server.execute(
        &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}", quote_ident(name)),
        &[],
    )?;
    if allows_connections(server, name)? != allow {
        return Err(Error::Failed(format!(
            "database {name}: ALLOW_CONNECTIONS {allow} did not take effect"
        )));
    }
    Ok(())
}

/// The database and its server, refused unless they are one server and an
/// application database.
fn checked_targets() -> Result<(String, String), Failure> {
    let step = Step::start("check the targets");
    let here = |e: Error| Failure::from(e).in_step(step.name());
    let target = postgres::info(DATABASE).map_err(here)?;
    let server = postgres::info(SERVER).map_err(here)?;
    if (server.host.as_str(), server.port) != (target.host.as_str(), target.port) {
        return Err(fail(format!(
            "target `{SERVER}` is {}:{}, not the server of `{DATABASE}` ({}:{}): refusing to take anything down",
            server.host, server.port, target.host, target.port
        ))
        .in_step(step.name())
        .hint(format!(
            "point [targets.postgres.{SERVER}] at the maintenance database of {DATABASE}'s server (…/postgres)"
        )));
    }
    if SYSTEM_DATABASES.contains(&target.database.as_str()) || target.database == server.database {
        return Err(fail(format!(
            "refusing to take `{}` down: it is a system or maintenance database",
            target.database
        ))
        .in_step(step.name())
        .hint(format!("target `{DATABASE}` must name the application's database")));
    }
    step.ok();
    Ok((target.database, format!("{}:{}", target.host, target.port)))
}

impl Plugin for FaultDatabaseOutage {
    fn describe() -> Manifest {
        manifest(
            "fault-database-outage",
            env!("CARGO_PKG_VERSION"),
            "Drill fault: the primary database refuses every connection for `duration` (ALTER DATABASE … ALLOW_CONNECTIONS false, sessions ended), then accepts them again by itself",
        )
        .param("duration", "how long the database refuses connections", Some("20s"))
        .need("postgres", DATABASE, Access::Read, "learns which database to take down (its name and server; no connection)")
        .need("postgres", SERVER, Access::Read, "checks the database accepts connections before, not during, and again after")
        .need("postgres", SERVER, Access::Write, "ALTER DATABASE … ALLOW_CONNECTIONS, and ends the database's sessions")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let duration = params.duration("duration")?;
        let (name, at) = checked_targets()?;

        let step = Step::start(format!("take database {name} down"));
        let here = |e: Error| Failure::from(e).in_step(step.name());
        let server = Database::open(SERVER).map_err(here)?;
        if !allows_connections(&server, &name).map_err(here)? {
            return Err(fail(format!(
                "database {name} on {at} already refuses connections: an earlier outage was not undone"
            ))
            .in_step(step.name())
            .hint(format!(
                "undo it first: ALTER DATABASE {} WITH ALLOW_CONNECTIONS true (on the server's postgres database)",
                quote_ident(&name)
            )));
        }
        set_allow(&server, &name, false).map_err(here)?;
        let ended = server
            .query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                std::slice::from_ref(&name),
            )
            .map_err(here)?
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        step.note(format!("{name} refuses connections; {ended} open sessions ended"));
        step.ok();

        let wait = Wait::up_to(duration);
        let step = Step::start(format!("outage: {}", wait.plan_text()));
        while !wait.over() {
            wait.sleep(Duration::from_millis(500).min(duration));
        }
        step.note(format!("down for {}", wait.waited_text()));
        step.ok();

        let step = Step::start(format!("bring database {name} back"));
        set_allow(&server, &name, true).map_err(|e| {
            Failure::from(e).in_step(step.name()).hint(format!(
                "undo it by hand: ALTER DATABASE {} WITH ALLOW_CONNECTIONS true (on the server's postgres database)",
                quote_ident(&name)
            ))
        })?;
        step.note(format!("{name} accepts connections again"));
        step.ok();
        Ok(outcome(format!(
            "database {name} on {at} refused every connection for {}, then accepted them again",
            wait.waited_text()
        ))
        .fact("database", &name)
        .fact("server", &at)
        .fact("sessions-ended", ended)
        .fact("outage-ms", wait.waited().as_millis()))
    }
}

export_plugin!(FaultDatabaseOutage);

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(super::quote_ident("toolboxai"), "\"toolboxai\"");
        assert_eq!(super::quote_ident("a\"; DROP"), "\"a\"\"; DROP\"");
    }
}
