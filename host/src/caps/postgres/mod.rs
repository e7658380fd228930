//! `postgres`: queries, statements, `pg_dump`, `pg_restore` and database
//! creation by target label.
//!
//! The operator's `[targets.postgres.<label>]` says where a database is,
//! where its password is (`env:`/`file:`/`vault:`, read here and only here,
//! when connecting or starting a client tool) and, for TLS, which CA signs
//! the server (`ca_file`); `[[plugins.<id>.postgres]]` grants `read` (query,
//! info), `write` (execute), `dump`, `restore` (plus `databases` globs for
//! restoring elsewhere than the target's database) and `admin`
//! (create-database) per label. Every call is checked, bounded by the run's
//! deadline and journaled without credentials or parameter values; a
//! query's result is bounded too (`rows.rs`).
//!
//! A URL with `sslmode=require` connects over TLS (rustls) and verifies the
//! server's certificate and host name — stricter than libpq's `require`;
//! `pg_dump` / `pg_restore` get `PGSSLMODE=verify-full`. Any other
//! `sslmode` means plain TCP for every connection, the tools' included.

use crate::bindings::types::Access;
use crate::caps::kit::gate::{Gate, TargetTable};
use crate::config::PluginGrants;

mod client;
mod grant;
mod host;
mod metered;
mod rows;
mod tools;

pub(crate) use client::connect_for_host;
pub use metered::WIRE_CAP;
pub use rows::{MAX_QUERY_BYTES, MAX_QUERY_ROWS};

pub use grant::{
    allows, allows_database, allows_plugin_blobs, check_read_statement, covers, database_denial, denial, grant_lines,
    need_access, plugin_blob_denial, PgAccess, PgUrl, PostgresGrant, PostgresTarget,
};

/// An open connection to one database target, held in the run's resource table.
pub struct Database {
    label: String,
    client: tokio_postgres::Client,
    /// The allowance of its socket while a query runs (`metered.rs`).
    meter: std::sync::Arc<metered::Meter>,
    /// Its place among the run's open connections.
    _slot: crate::caps::kit::slots::Slot,
}

/// `[targets.postgres.LABEL]`.
pub(crate) const TARGETS: TargetTable = TargetTable {
    capability: "postgres",
    title: "Postgres",
    keys: "url = \"postgresql://USER@HOST:5432/DB\"\npassword = \"env:PGPASSWORD\"",
};

/// `postgres` needs: `LABEL`, `dump:LABEL`, `restore:LABEL`, `admin:LABEL`.
pub(crate) const GATE: Gate = Gate {
    capability: "postgres",
    covers,
    advice: need_lines,
    changes: |grants| {
        crate::caps::kit::gate::changed_targets(
            &grants.postgres,
            &[PgAccess::Write, PgAccess::Restore, PgAccess::Admin],
        )
    },
};

/// The TOML that would cover a `postgres` need: the grant, and the target
/// when it is not configured.
fn need_lines(grants: &PluginGrants, id: &str, target: &str, access: Access) -> String {
    let (label, access) = need_access(target, access);
    TARGETS.with_table(grant_lines(id, label, access), &grants.postgres_targets, label)
}
