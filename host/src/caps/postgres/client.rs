//! The `postgres` capability's checks and client calls: connecting with the
//! target's TLS and credentials, reads in a read-only transaction that is
//! always rolled back, writes, and the `pg_dump` / `pg_restore` runs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Socket;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::metered::{Meter, Metered, Wire, WIRE_CAP};
use super::rows::{self, Stopped};
use super::tools::{self, dbname_arg};
use super::{
    allows, allows_database, allows_plugin_blobs, check_read_statement, database_denial, denial, plugin_blob_denial,
    Database, PgAccess, PostgresTarget,
};
use crate::bindings::drhost::runbook::postgres::{RestoreOptions, RestoreReport, Rows, TargetInfo};
use crate::bindings::types::Error as CapError;
use crate::caps::blob::{Blob, Origin};
use crate::caps::kit::gate::require;
use crate::sandbox::RunContext;

/// Longest a statement may take (never beyond the deadline).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a connection may take to open (never beyond the deadline).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The database `create-database` connects to.
const MAINTENANCE_DATABASE: &str = "postgres";
/// Most `pg_restore --jobs` a plugin may ask for.
const MAX_JOBS: u32 = 32;
/// Longest a cancel request for a query stopped early may take.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn check(ctx: &RunContext, label: &str, what: &str, access: PgAccess) -> Result<(), CapError> {
    require(allows(&ctx.grants.postgres, label, access), || {
        denial(&ctx.plugin_id, label, what, access)
    })
}

/// Whether a blob of `origin` may be restored into target `label`: one the
/// plugin made needs the grant's `restore_from_plugin_blobs`.
pub(crate) fn check_restorable(ctx: &RunContext, label: &str, origin: &Origin) -> Result<(), CapError> {
    let opted_in = allows_plugin_blobs(&ctx.grants.postgres, label);
    crate::caps::blob::check_restorable(origin, opted_in, || plugin_blob_denial(&ctx.plugin_id, label))
}

/// The configured target `label`, when some grant names it.
fn target<'a>(ctx: &'a RunContext, label: &str, what: &str) -> Result<&'a PostgresTarget, CapError> {
    let refusal = || denial(&ctx.plugin_id, label, what, PgAccess::Read);
    super::TARGETS.granted(&ctx.grants.postgres, &ctx.grants.postgres_targets, label, refusal)
}

/// The database of target `label`, for the journal (none when unknown).
pub(crate) fn own_database(ctx: &RunContext, label: &str) -> Option<String> {
    ctx.grants.postgres_targets.get(label).map(|t| t.url.dbname.clone())
}

/// Opens target `label`'s database. A plugin granted `read` but not
/// `write` logs in as the target's `read_user` when one is configured.
pub(crate) async fn open(ctx: &RunContext, label: &str) -> Result<Database, CapError> {
    let target = target(ctx, label, "open")?;
    let login = if allows(&ctx.grants.postgres, label, PgAccess::Write) {
        Login::Owner
    } else {
        Login::Reader
    };
    let slot = ctx.connections.take(&format!("postgres `{label}`"))?;
    let meter = Meter::new();
    let mut config = target.url.config.clone();
    config.dbname(&target.url.dbname);
    let limit = ctx.time_left_within(CONNECT_TIMEOUT);
    let client = connect_target(
        label,
        target,
        config,
        login,
        &ctx.grants.secret_vaults,
        limit,
        Some(meter.clone()),
    )
    .await?;
    Ok(Database {
        label: label.to_string(),
        client,
        meter,
        _slot: slot,
    })
}

/// Connects to `dbname` on target `label`'s server with its credentials;
/// over TLS (see [`tls_connector`]) when its URL says `sslmode=require`.
async fn connect(
    ctx: &RunContext,
    label: &str,
    target: &PostgresTarget,
    dbname: &str,
) -> Result<tokio_postgres::Client, CapError> {
    connect_as(ctx, label, target, dbname, Login::Owner).await
}

/// Which of a target's roles a connection logs in as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Login {
    /// The URL's user, with `password`.
    Owner,
    /// `read_user` with `read_password` when configured, else the owner.
    Reader,
}

async fn connect_as(
    ctx: &RunContext,
    label: &str,
    target: &PostgresTarget,
    dbname: &str,
    login: Login,
) -> Result<tokio_postgres::Client, CapError> {
    let mut config = target.url.config.clone();
    config.dbname(dbname);
    let limit = ctx.time_left_within(CONNECT_TIMEOUT);
    connect_target(label, target, config, login, &ctx.grants.secret_vaults, limit, None).await
}

/// Connects to target `label` as its owner, outside any plugin's run, with
/// `application_name` set: the session `drhost run` holds its shared lock on
/// (see `run::shared_lock`).
pub(crate) async fn connect_for_host(
    label: &str,
    target: &PostgresTarget,
    vaults: &std::collections::BTreeMap<String, crate::caps::vault::VaultTarget>,
    application_name: &str,
) -> Result<tokio_postgres::Client, CapError> {
    let mut config = target.url.config.clone();
    config.application_name(application_name);
    connect_target(label, target, config, Login::Owner, vaults, CONNECT_TIMEOUT, None).await
}

/// Connects with `config` (the target's URL, maybe changed) as `login`,
/// within `limit`; over a socket metered by `meter` when given (a
/// plugin's session, see [`super::metered`]).
async fn connect_target(
    label: &str,
    target: &PostgresTarget,
    mut config: tokio_postgres::Config,
    login: Login,
    vaults: &std::collections::BTreeMap<String, crate::caps::vault::VaultTarget>,
    limit: Duration,
    meter: Option<Arc<Meter>>,
) -> Result<tokio_postgres::Client, CapError> {
    let mut password = target.password.as_ref();
    if let (Login::Reader, Some(reader)) = (login, &target.read_user) {
        config.user(reader);
        password = target.read_password.as_ref();
    }
    if let Some(secret) = password {
        config.password(secret.resolve(vaults).await.map_err(CapError::Unavailable)?);
    }
    if let Some(meter) = meter {
        return match tokio::time::timeout(limit, connect_metered(label, target, &config, meter)).await {
            Err(_) => Err(CapError::Timeout(format!(
                "connecting to Postgres target `{label}` took over {limit:?}"
            ))),
            Ok(connected) => connected,
        };
    }
    let connected = if target.url.tls {
        let tls = tls_connector(label, target)?;
        tokio::time::timeout(limit, connect_with(&config, tls)).await
    } else {
        tokio::time::timeout(limit, connect_with(&config, tokio_postgres::NoTls)).await
    };
    match connected {
        Err(_) => Err(CapError::Timeout(format!(
            "connecting to Postgres target `{label}` took over {limit:?}"
        ))),
        Ok(Err(e)) => Err(classify(label, target, e)),
        Ok(Ok(client)) => Ok(client),
    }
}

/// A session over a socket metered by `meter` (see [`super::metered`]),
/// with the target's TLS when its URL asks for it.
async fn connect_metered(
    label: &str,
    target: &PostgresTarget,
    config: &tokio_postgres::Config,
    meter: Arc<Meter>,
) -> Result<tokio_postgres::Client, CapError> {
    let wire = open_wire(config).await.map_err(|e| {
        CapError::Unavailable(format!(
            "Postgres target `{label}` at {}:{} is unreachable: {}",
            target.url.host,
            target.url.port,
            crate::caps::kit::text::root_cause(&e)
        ))
    })?;
    let wire = Metered::new(wire, meter);
    let connected = if target.url.tls {
        let mut tls = tls_connector(label, target)?;
        let connect = MakeTlsConnect::<Metered>::make_tls_connect(&mut tls, &target.url.host).map_err(|e| {
            CapError::Failed(format!(
                "TLS setup for Postgres target `{label}` (host {}): {e}",
                target.url.host
            ))
        })?;
        config.connect_raw(wire, connect).await.map(|(client, connection)| {
            tokio::spawn(connection);
            client
        })
    } else {
        config
            .connect_raw(wire, tokio_postgres::NoTls)
            .await
            .map(|(client, connection)| {
                tokio::spawn(connection);
                client
            })
    };
    connected.map_err(|e| classify(label, target, e))
}

/// The socket to the server `config` names first: TCP, or the unix
/// socket `<dir>/.s.PGSQL.<port>` for a directory host.
async fn open_wire(config: &tokio_postgres::Config) -> std::io::Result<Box<dyn Wire>> {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream))
        }
        Some(tokio_postgres::config::Host::Unix(dir)) => Ok(Box::new(
            tokio::net::UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await?,
        )),
        None => Err(std::io::Error::other("the URL names no host")),
    }
}

/// Connects and drives the connection in its own task.
async fn connect_with<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> Result<tokio_postgres::Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// rustls (ring) trusting the target's `ca_file`, else Mozilla's roots.
/// rustls always checks that the certificate chains to a root *and*
/// names the host (DNS name or IP address), like libpq's `verify-full`.
fn tls_connector(label: &str, target: &PostgresTarget) -> Result<MakeRustlsConnect, CapError> {
    let roots = match &target.ca_file {
        Some(path) => crate::caps::kit::tls::ca_roots(path).map_err(|e| {
            CapError::Failed(format!(
                "Postgres target `{label}`: cannot read ca_file {} ({e}); fix ca_file in [targets.postgres.{label}]",
                path.display()
            ))
        })?,
        None => webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| CapError::Failed(format!("TLS setup for Postgres target `{label}`: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn classify(label: &str, target: &PostgresTarget, e: tokio_postgres::Error) -> CapError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &SqlState::READ_ONLY_SQL_TRANSACTION {
            return CapError::AccessDenied(format!(
                "Postgres target `{label}`: `query` is read-only and the statement writes ({}); writes go through `execute`, which needs `write` access on the target",
                db.message()
            ));
        }
        return CapError::Failed(format!(
            "Postgres target `{label}`: {} ({})",
            db.message(),
            db.code().code()
        ));
    }
    if let Some(tls) = rustls_error(&e) {
        let roots = match &target.ca_file {
            Some(path) => format!("the CA in ca_file {}", path.display()),
            None => "the public roots (set ca_file for a private CA)".to_string(),
        };
        return CapError::Failed(format!(
            "Postgres target `{label}`: the server's TLS certificate was refused ({tls}); it must be signed by {roots} and name host {}",
            target.url.host
        ));
    }
    if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
        return CapError::Unavailable(format!(
            "Postgres target `{label}` at {}:{} is unreachable: {}",
            target.url.host,
            target.url.port,
            crate::caps::kit::text::root_cause(&e)
        ));
    }
    CapError::Failed(format!("Postgres target `{label}`: {e}"))
}

/// The rustls error under a failed TLS handshake, if that is what failed.
fn rustls_error(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let io = std::error::Error::source(e)?.downcast_ref::<std::io::Error>()?;
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

fn params_ref(params: &[String]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

async fn bounded<T>(
    ctx: &RunContext,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    label: &str,
) -> Result<T, CapError> {
    let limit = ctx.time_left_within(CALL_TIMEOUT);
    match tokio::time::timeout(limit, fut).await {
        Err(_) => Err(CapError::Timeout(format!(
            "postgres {what} on `{label}` took over {}",
            crate::console::style::duration(limit)
        ))),
        Ok(r) => r.map_err(|e| classify_for(ctx, label, e)),
    }
}

/// [`classify`] for target `label` of this run.
fn classify_for(ctx: &RunContext, label: &str, e: tokio_postgres::Error) -> CapError {
    match ctx.grants.postgres_targets.get(label) {
        Some(target) => classify(label, target, e),
        None => CapError::Failed(format!("Postgres target `{label}`: {e}")),
    }
}

async fn prepare(
    ctx: &RunContext,
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[String],
    label: &str,
) -> Result<tokio_postgres::Statement, CapError> {
    let types = vec![Type::TEXT; params.len()];
    bounded(ctx, "prepare", client.prepare_typed(sql, &types), label).await
}

pub(crate) async fn query(ctx: &RunContext, db: &Database, sql: &str, params: &[String]) -> Result<Rows, CapError> {
    let (client, label, meter) = (&db.client, db.label.as_str(), &db.meter);
    if meter.tripped() {
        return Err(over_the_wire_cap(label));
    }
    // `read` is enforced by the server: the statement runs inside a
    // read-only transaction that is always rolled back. The `SELECT 1`
    // takes the transaction's first snapshot, after which Postgres
    // refuses `SET TRANSACTION READ WRITE`; the extended protocol
    // allows one statement only, so nothing can follow a `COMMIT`.
    check_read_statement(sql).map_err(|why| CapError::AccessDenied(format!("Postgres target `{label}`: {why}")))?;
    bounded(ctx, "query", client.batch_execute(READ_ONLY_BEGIN), label).await?;
    meter.arm(WIRE_CAP);
    let result = read_only_query(ctx, client, label, sql, params).await;
    meter.disarm();
    if meter.tripped() {
        return Err(over_the_wire_cap(label));
    }
    let rollback = bounded(ctx, "query", client.batch_execute("ROLLBACK"), label).await;
    let rows = result?;
    rollback?;
    Ok(rows)
}

/// A query whose result went past [`WIRE_CAP`] on the socket: the session
/// was closed there, before the host held the result.
fn over_the_wire_cap(label: &str) -> CapError {
    CapError::InvalidArgument(format!(
        "postgres query on `{label}`: the server sent more than {} MiB for it, drhost's cap per query (a single huge value counts whole); nothing was returned and this session is closed: open a new one, and select less (left(col, N), length(col), LIMIT), or move bulk data with dump",
        WIRE_CAP >> 20
    ))
}

/// Opens the read-only transaction of a `query`.
const READ_ONLY_BEGIN: &str = "BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT 1";

/// Runs the statement and reads its rows as a stream, within the caps of
/// [`rows`]; a query stopped at a cap or at the deadline is cancelled on
/// the server, so the `ROLLBACK` after it need not wait for the rest.
async fn read_only_query(
    ctx: &RunContext,
    client: &tokio_postgres::Client,
    label: &str,
    sql: &str,
    params: &[String],
) -> Result<Rows, CapError> {
    let stmt = prepare(ctx, client, sql, params, label).await?;
    let limit = ctx.time_left_within(CALL_TIMEOUT);
    let stream = bounded(ctx, "query", client.query_raw(&stmt, params.iter()), label).await?;
    let stopped = match tokio::time::timeout(limit, rows::collect(stream, label)).await {
        Ok(Ok(rows)) => {
            let columns = stmt.columns().iter().map(|c| c.name().to_string()).collect();
            return Ok(Rows { columns, rows });
        }
        Ok(Err(Stopped::Server(e))) => return Err(classify_for(ctx, label, e)),
        Ok(Err(Stopped::Capped(e))) => e,
        Err(_) => CapError::Timeout(format!("postgres query on `{label}` took over {limit:?}")),
    };
    cancel(ctx, client, label).await;
    Err(stopped)
}

/// Asks the server to stop the statement running on `client` (best effort,
/// over a connection of its own with the target's TLS, within a few seconds).
async fn cancel(ctx: &RunContext, client: &tokio_postgres::Client, label: &str) {
    let Some(target) = ctx.grants.postgres_targets.get(label) else {
        return;
    };
    let token = client.cancel_token();
    let limit = ctx.time_left_within(CANCEL_TIMEOUT);
    if target.url.tls {
        if let Ok(tls) = tls_connector(label, target) {
            let _ = tokio::time::timeout(limit, token.cancel_query(tls)).await;
        }
    } else {
        let _ = tokio::time::timeout(limit, token.cancel_query(tokio_postgres::NoTls)).await;
    }
}

pub(crate) async fn execute(
    ctx: &RunContext,
    client: &tokio_postgres::Client,
    label: &str,
    sql: &str,
    params: &[String],
) -> Result<u64, CapError> {
    let stmt = prepare(ctx, client, sql, params, label).await?;
    bounded(ctx, "execute", client.execute(&stmt, &params_ref(params)), label).await
}

/// Where target `label` is, from the configuration alone.
pub(crate) fn info(ctx: &RunContext, label: &str) -> Result<TargetInfo, CapError> {
    let url = &target(ctx, label, "info")?.url;
    Ok(TargetInfo {
        host: url.host.clone(),
        port: url.port,
        user: url.user.clone(),
        database: url.dbname.clone(),
        tls: url.tls,
    })
}

/// `name` as an SQL identifier, always quoted (`"a""b"` for `a"b`).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates target `label`'s database through the server's `postgres`
/// database unless it exists; true when it created it.
pub(crate) async fn create_database(ctx: &RunContext, label: &str) -> Result<bool, CapError> {
    let target = target(ctx, label, "create-database")?;
    let name = &target.url.dbname;
    let client = connect(ctx, label, target, MAINTENANCE_DATABASE).await?;
    let exists = "SELECT 1 FROM pg_database WHERE datname = $1";
    if bounded(ctx, "create-database", client.query_opt(exists, &[name]), label)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let create = format!("CREATE DATABASE {}", quote_ident(name));
    let limit = ctx.time_left_within(CALL_TIMEOUT);
    match tokio::time::timeout(limit, client.batch_execute(&create)).await {
        Err(_) => Err(CapError::Timeout(format!(
            "postgres create-database on `{label}` took over {limit:?}"
        ))),
        Ok(Ok(())) => Ok(true),
        // Created by someone else between the check and here.
        Ok(Err(e)) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(false),
        Ok(Err(e)) => Err(classify(label, target, e)),
    }
}

/// Runs `pg_dump -Fc` into a new file in the run's blob directory; the
/// tool cannot write more than is left of the run's disk budget.
pub(crate) async fn dump(ctx: &RunContext, label: &str) -> Result<Blob, CapError> {
    let target = target(ctx, label, "dump")?;
    let what = format!("pg_dump of target `{label}`");
    let mut charge = ctx.disk.charge(&what);
    charge.expect(1)?;
    let allowance = charge.left();
    let blob_dir = ctx.blob_dir()?;
    std::fs::create_dir_all(blob_dir).map_err(|e| CapError::Failed(format!("blob directory: {e}")))?;
    // Removed when dropped, unless kept after a successful dump.
    let file = tempfile::Builder::new()
        .prefix("pg_dump-")
        .suffix(".dump")
        .tempfile_in(blob_dir)
        .map_err(|e| CapError::Failed(format!("creating the dump file: {e}")))?
        .into_temp_path();
    let mut cmd = tools::command(ctx, target, "pg_dump").await?;
    crate::caps::kit::process::file_size_limit(&mut cmd, allowance);
    cmd.arg("-Fc")
        .arg("-d")
        .arg(dbname_arg(&target.url.dbname))
        .arg("-f")
        .arg(&*file);
    let ran = tools::run(ctx, cmd, &what).await;
    let written = std::fs::metadata(&*file).map(|m| m.len()).unwrap_or(0);
    if let Err(error) = ran {
        // Stopped at the file size limit: say so, not only the tool's words.
        let over_budget = written >= allowance;
        return Err(if over_budget {
            charge.expect(written.saturating_add(1)).err().unwrap_or(error)
        } else {
            error
        });
    }
    charge.add(written)?;
    let path = file
        .keep()
        .map_err(|e| CapError::Failed(format!("keeping the dump file: {e}")))?;
    let path2 = path.clone();
    let origin = Origin::PostgresDump {
        target: label.to_string(),
    };
    let blob = tokio::task::spawn_blocking(move || Blob::from_file(path2, origin))
        .await
        .map_err(|e| CapError::Failed(format!("checksum task: {e}")))?
        .map_err(|e| {
            let _ = std::fs::remove_file(&path);
            CapError::Failed(format!("reading the dump: {e}"))
        })?;
    charge.keep();
    Ok(blob)
}

/// Runs `pg_restore` on the blob's file (`path`) into target `label`'s
/// database or `options.database` (which, when another, a grant must
/// list in `databases`).
pub(crate) async fn restore(
    ctx: &RunContext,
    label: &str,
    path: &Path,
    options: &RestoreOptions,
) -> Result<RestoreReport, CapError> {
    let target = target(ctx, label, "restore")?;
    let database = options.database.as_deref().unwrap_or(&target.url.dbname);
    if database != target.url.dbname.as_str() && !allows_database(&ctx.grants.postgres, label, database) {
        return Err(CapError::AccessDenied(database_denial(&ctx.plugin_id, label, database)));
    }
    if database.is_empty() || database.contains('\0') {
        return Err(CapError::InvalidArgument(format!(
            "restore-options.database {database:?} is not a database name"
        )));
    }
    if options.if_exists && !options.clean {
        return Err(CapError::InvalidArgument(
            "restore-options.if-exists needs clean (pg_restore --if-exists works with --clean only)".into(),
        ));
    }
    if options.jobs > MAX_JOBS {
        return Err(CapError::InvalidArgument(format!(
            "restore-options.jobs is {}; at most {MAX_JOBS}",
            options.jobs
        )));
    }
    let mut cmd = tools::command(ctx, target, "pg_restore").await?;
    cmd.arg("-d").arg(dbname_arg(database));
    for (on, flag) in [
        (options.clean, "--clean"),
        (options.if_exists, "--if-exists"),
        (options.no_owner, "--no-owner"),
        (options.no_privileges, "--no-privileges"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    if options.jobs > 1 {
        cmd.arg("--jobs").arg(options.jobs.to_string());
    }
    cmd.arg(path);
    let started = Instant::now();
    let what = format!("pg_restore into database `{database}` of target `{label}`");
    let log = tools::run(ctx, cmd, &what).await?;
    Ok(RestoreReport {
        database: database.to_string(),
        duration_ms: started.elapsed().as_millis() as u64,
        warnings: log.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(quote_ident("toolboxai"), "\"toolboxai\"");
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(
            quote_ident("a\"; DROP DATABASE x; --"),
            "\"a\"\"; DROP DATABASE x; --\""
        );
    }
}
