//! `fault-drop-database`: a drill's fault for runbook scenario 1 option B
//! (database failure, restore from backup). It drops target `primary`'s
//! database with `DROP DATABASE … WITH (FORCE)` (open connections are
//! ended), through target `primary-server`: the same server's maintenance
//! database, since a database cannot drop itself. It checks the two targets
//! are one server, that the database is there before and gone after, and
//! changes nothing else.
//!
//! Undo: `db-restore` (the recovery under test), which creates the database
//! again and restores the latest backup into it. Everything written after
//! that backup is lost: that window is what the drill measures as RPO, so
//! take a backup (`db-backup`) before the fault — the lab's drill does, in
//! its `before` step.

use drhost_sdk::postgres::{self, Database};
use drhost_sdk::prelude::*;

struct FaultDropDatabase;

/// The database to drop, by label.
const DATABASE: &str = "primary";
/// The same server's maintenance database (`postgres`), by label.
const SERVER: &str = "primary-server";
const STEP: &str = "drop the database";

/// Databases never dropped, whatever the targets say.
const SYSTEM_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];

/// `name` as an SQL identifier, always quoted (`"a""b"` for `a"b`).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether the server holds a database called `name`.
fn exists(server: &Database, name: &str) -> Result<bool, Error> {
    let rows = server.query("SELECT 1 FROM pg_database WHERE datname = $1", &[name.to_string()])?;
    Ok(!rows.rows.is_empty())
}

impl Plugin for FaultDropDatabase {
    fn describe() -> Manifest {
        manifest(
            "fault-drop-database",
            env!("CARGO_PKG_VERSION"),
            "Drill fault: drops the primary database (DROP DATABASE WITH (FORCE)) through the same server's maintenance database (undo: run db-restore)",
        )
        .need("postgres", DATABASE, Access::Read, "learns which database to drop (its name and server; no connection)")
        .need("postgres", SERVER, Access::Read, "checks the database exists before and is gone after")
        .need("postgres", SERVER, Access::Write, "drops the database (DROP DATABASE … WITH (FORCE))")
        .build()
    }

    fn run(_params: Params) -> Result<Outcome, Failure> {
        let step = Step::start(STEP);
        let here = |e: Error| Failure::from(e).in_step(STEP);
        let target = postgres::info(DATABASE).map_err(here)?;
        let server_info = postgres::info(SERVER).map_err(here)?;
        let name = target.database.clone();
        if (server_info.host.as_str(), server_info.port) != (target.host.as_str(), target.port) {
            step.fail();
            return Err(fail(format!(
                "target `{SERVER}` is {}:{}, not the server of `{DATABASE}` ({}:{}): refusing to drop anything",
                server_info.host, server_info.port, target.host, target.port
            ))
            .in_step(STEP)
            .hint(format!(
                "point [targets.postgres.{SERVER}] at the maintenance database of {DATABASE}'s server (…/postgres)"
            )));
        }
        if SYSTEM_DATABASES.contains(&name.as_str()) || name == server_info.database {
            step.fail();
            return Err(fail(format!(
                "refusing to drop `{name}`: it is a system or maintenance database"
            ))
            .in_step(STEP)
            .hint(format!("target `{DATABASE}` must name the application's database")));
        }
        let server = Database::open(SERVER).map_err(here)?;
        if !exists(&server, &name).map_err(here)? {
            step.fail();
            return Err(fail(format!(
                "database {name} does not exist on {}:{}: there is nothing to drop",
                target.host, target.port
            ))
            .in_step(STEP)
            .hint("restore it first (db-restore), then run the drill on a healthy database"));
        }
        server
            .execute(&format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&name)), &[])
            .map_err(here)?;
        if exists(&server, &name).map_err(here)? {
            step.fail();
            return Err(fail(format!("database {name} is still there after DROP DATABASE")).in_step(STEP));
        }
        step.note(format!("dropped {name} on {}:{}", target.host, target.port));
        step.ok();
        Ok(outcome(format!(
            "dropped database {name} on {}:{}; undo: db-restore (restores the latest backup)",
            target.host, target.port
        ))
        .fact("database", &name)
        .fact("server", format!("{}:{}", target.host, target.port))
        .fact("dropped-at", drhost_sdk::utc_stamp(drhost_sdk::unix_now())))
    }
}

export_plugin!(FaultDropDatabase);

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(super::quote_ident("toolboxai"), "\"toolboxai\"");
        assert_eq!(super::quote_ident("a\"; DROP"), "\"a\"\"; DROP\"");
    }
}
