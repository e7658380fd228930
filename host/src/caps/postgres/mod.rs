//! `postgres`: queries, statements and `pg_dump` by target label.
//!
//! The operator's `[targets.postgres.<label>]` says where a database is and
//! where its password is (`env:`/`file:`, read here and only here, when
//! connecting or dumping); `[[plugins.<id>.postgres]]` grants `read`
//! (query), `write` (execute) and `dump` per label. Every call is checked,
//! bounded by the run's deadline and journaled without credentials or
//! parameter values. Connections are plain TCP (no TLS yet: a URL asking for
//! `sslmode=require` is refused).

mod grant;
mod host;

pub use grant::{allows, covers, denial, grant_lines, PgAccess, PostgresGrant, PostgresTarget};

/// An open connection to one database target, held in the run's resource table.
pub struct Database {
    label: String,
    client: tokio_postgres::Client,
}
