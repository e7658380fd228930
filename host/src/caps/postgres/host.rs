//! The `postgres` interface: one small function per WIT function; the checks
//! and the real client calls are in the inner `operations` module.

use std::time::Instant;

use serde_json::json;
use wasmtime::component::Resource;

use super::{Database, PgAccess};
use crate::bindings::drhost::runbook::postgres::{Host, HostDatabase, Rows};
use crate::bindings::types::Error as CapError;
use crate::caps::blob::Blob;
use crate::caps::journal_call;
use crate::sandbox::RunState;

impl Host for RunState {}

impl HostDatabase for RunState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<Database>, CapError>> {
        let started = Instant::now();
        let result = operations::open(&self.ctx, &label).await;
        journal_call(
            self,
            "postgres.open",
            json!({ "target": label }),
            started,
            &result,
            |_| json!({}),
        );
        Ok(match result {
            Ok(db) => Ok(self.table.push(db)?),
            Err(e) => Err(e),
        })
    }

    async fn query(
        &mut self,
        db: Resource<Database>,
        sql: String,
        params: Vec<String>,
    ) -> wasmtime::Result<Result<Rows, CapError>> {
        let started = Instant::now();
        let label = self.table.get(&db)?.label.clone();
        // Parameter values are not journaled: they may be data.
        let args = json!({ "target": label, "sql": sql, "params": params.len() });
        let result = match operations::check(&self.ctx, &label, "query", PgAccess::Read) {
            Ok(()) => operations::query(&self.ctx, &self.table.get(&db)?.client, &label, &sql, &params).await,
            Err(e) => Err(e),
        };
        journal_call(
            self,
            "postgres.query",
            args,
            started,
            &result,
            |r| json!({ "rows": r.rows.len() }),
        );
        Ok(result)
    }

    async fn execute(
        &mut self,
        db: Resource<Database>,
        sql: String,
        params: Vec<String>,
    ) -> wasmtime::Result<Result<u64, CapError>> {
        let started = Instant::now();
        let label = self.table.get(&db)?.label.clone();
        let args = json!({ "target": label, "sql": sql, "params": params.len() });
        let result = match operations::check(&self.ctx, &label, "execute", PgAccess::Write) {
            Ok(()) => operations::execute(&self.ctx, &self.table.get(&db)?.client, &label, &sql, &params).await,
            Err(e) => Err(e),
        };
        journal_call(
            self,
            "postgres.execute",
            args,
            started,
            &result,
            |n| json!({ "rows": n }),
        );
        Ok(result)
    }

    async fn dump(&mut self, db: Resource<Database>) -> wasmtime::Result<Result<Resource<Blob>, CapError>> {
        let started = Instant::now();
        let label = self.table.get(&db)?.label.clone();
        let result = match operations::check(&self.ctx, &label, "dump", PgAccess::Dump) {
            Ok(()) => operations::dump(&self.ctx, &label).await,
            Err(e) => Err(e),
        };
        journal_call(
            self,
            "postgres.dump",
            json!({ "target": label, "format": "custom" }),
            started,
            &result,
            |b| json!({ "size": b.size(), "sha256": b.sha256() }),
        );
        Ok(match result {
            Ok(blob) => Ok(self.table.push(blob)?),
            Err(e) => Err(e),
        })
    }

    async fn drop(&mut self, db: Resource<Database>) -> wasmtime::Result<()> {
        self.table.delete(db)?;
        Ok(())
    }
}

mod operations {
    use std::time::{Duration, Instant};

    use tokio_postgres::types::{FromSql, ToSql, Type};

    use super::super::{allows, denial, Database, PgAccess, PostgresTarget};
    use crate::bindings::drhost::runbook::postgres::Rows;
    use crate::bindings::types::Error as CapError;
    use crate::caps::blob::Blob;
    use crate::sandbox::RunContext;

    /// Longest a connect or a statement may take (never beyond the deadline).
    const CALL_TIMEOUT: Duration = Duration::from_secs(60);

    fn remaining(ctx: &RunContext, cap: Duration) -> Duration {
        ctx.deadline.saturating_duration_since(Instant::now()).min(cap)
    }

    pub(super) fn check(ctx: &RunContext, label: &str, what: &str, access: PgAccess) -> Result<(), CapError> {
        if allows(&ctx.grants.postgres, label, access) {
            Ok(())
        } else {
            Err(CapError::AccessDenied(denial(&ctx.plugin_id, label, what, access)))
        }
    }

    fn target<'a>(ctx: &'a RunContext, label: &str) -> Result<&'a PostgresTarget, CapError> {
        if !ctx.grants.postgres.iter().any(|g| g.target == label) {
            return Err(CapError::AccessDenied(denial(
                &ctx.plugin_id,
                label,
                "open",
                PgAccess::Read,
            )));
        }
        ctx.grants.postgres_targets.get(label).ok_or_else(|| {
            CapError::NotFound(format!(
                "no Postgres target `{label}`: add [targets.postgres.{label}] with url = \"postgresql://user@host:port/db\" to drhost.toml"
            ))
        })
    }

    pub(super) async fn open(ctx: &RunContext, label: &str) -> Result<Database, CapError> {
        let target = target(ctx, label)?;
        let mut config = target.url.config.clone();
        if let Some(secret) = &target.password {
            config.password(secret.resolve().map_err(CapError::Unavailable)?);
        }
        let limit = remaining(ctx, Duration::from_secs(10));
        let connected = tokio::time::timeout(limit, config.connect(tokio_postgres::NoTls)).await;
        let (client, connection) = match connected {
            Err(_) => {
                return Err(CapError::Timeout(format!(
                    "connecting to Postgres target `{label}` took over {limit:?}"
                )))
            }
            Ok(Err(e)) => return Err(classify(label, e)),
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Database {
            label: label.to_string(),
            client,
        })
    }

    fn classify(label: &str, e: tokio_postgres::Error) -> CapError {
        if let Some(db) = e.as_db_error() {
            return CapError::Failed(format!(
                "Postgres target `{label}`: {} ({})",
                db.message(),
                db.code().code()
            ));
        }
        if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
            return CapError::Unavailable(format!("Postgres target `{label}` is unreachable: {e}"));
        }
        CapError::Failed(format!("Postgres target `{label}`: {e}"))
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
        let limit = remaining(ctx, CALL_TIMEOUT);
        match tokio::time::timeout(limit, fut).await {
            Err(_) => Err(CapError::Timeout(format!(
                "postgres {what} on `{label}` took over {limit:?}"
            ))),
            Ok(r) => r.map_err(|e| classify(label, e)),
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

    pub(super) async fn query(
        ctx: &RunContext,
        client: &tokio_postgres::Client,
        label: &str,
        sql: &str,
        params: &[String],
    ) -> Result<Rows, CapError> {
        let stmt = prepare(ctx, client, sql, params, label).await?;
        let rows = bounded(ctx, "query", client.query(&stmt, &params_ref(params)), label).await?;
        let columns = stmt.columns().iter().map(|c| c.name().to_string()).collect::<Vec<_>>();
        let rows = rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<_, Option<AsText>>(i).ok().flatten().map(|t| t.0))
                    .collect()
            })
            .collect();
        Ok(Rows { columns, rows })
    }

    pub(super) async fn execute(
        ctx: &RunContext,
        client: &tokio_postgres::Client,
        label: &str,
        sql: &str,
        params: &[String],
    ) -> Result<u64, CapError> {
        let stmt = prepare(ctx, client, sql, params, label).await?;
        bounded(ctx, "execute", client.execute(&stmt, &params_ref(params)), label).await
    }

    /// Runs `pg_dump -Fc` into a new file in the run's blob directory. The
    /// password goes to the child only, through `PGPASSWORD`.
    pub(super) async fn dump(ctx: &RunContext, label: &str) -> Result<Blob, CapError> {
        let target = target(ctx, label)?;
        std::fs::create_dir_all(&ctx.blob_dir).map_err(|e| CapError::Failed(format!("blob directory: {e}")))?;
        let file = tempfile::Builder::new()
            .prefix("pg_dump-")
            .suffix(".dump")
            .tempfile_in(&ctx.blob_dir)
            .map_err(|e| CapError::Failed(format!("creating the dump file: {e}")))?;
        let (_, path) = file
            .keep()
            .map_err(|e| CapError::Failed(format!("creating the dump file: {e}")))?;
        let url = &target.url;
        let mut cmd = tokio::process::Command::new("pg_dump");
        cmd.arg("-Fc")
            .arg("--no-password")
            .arg("-h")
            .arg(&url.host)
            .arg("-p")
            .arg(url.port.to_string())
            .arg("-U")
            .arg(&url.user)
            .arg("-d")
            .arg(&url.dbname)
            .arg("-f")
            .arg(&path)
            .env_remove("PGPASSWORD")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(secret) = &target.password {
            cmd.env("PGPASSWORD", secret.resolve().map_err(CapError::Unavailable)?);
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(CapError::Unavailable(format!("cannot start pg_dump: {e}")));
            }
        };
        let limit = ctx.deadline.saturating_duration_since(Instant::now());
        let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                let _ = std::fs::remove_file(&path);
                return Err(CapError::Failed(format!("pg_dump: {e}")));
            }
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                return Err(CapError::Timeout(format!(
                    "pg_dump of `{label}` did not finish before the run's deadline"
                )));
            }
        };
        if !output.status.success() {
            let _ = std::fs::remove_file(&path);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let text = stderr.lines().last().unwrap_or("").trim().to_string();
            let kind = if text.contains("connection") || text.contains("could not connect") {
                CapError::Unavailable
            } else {
                CapError::Failed
            };
            return Err(kind(format!("pg_dump of `{label}` failed ({}): {text}", output.status)));
        }
        let path2 = path.clone();
        tokio::task::spawn_blocking(move || Blob::from_file(path2))
            .await
            .map_err(|e| CapError::Failed(format!("checksum task: {e}")))?
            .map_err(|e| {
                let _ = std::fs::remove_file(&path);
                CapError::Failed(format!("reading the dump: {e}"))
            })
    }

    /// Any column value as text: common types formatted, the rest as hex.
    struct AsText(String);

    impl<'a> FromSql<'a> for AsText {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
            let text = match *ty {
                Type::BOOL => bool::from_sql(ty, raw)?.to_string(),
                Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
                Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
                Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
                Type::OID => u32::from_sql(ty, raw)?.to_string(),
                Type::FLOAT4 => f32::from_sql(ty, raw)?.to_string(),
                Type::FLOAT8 => f64::from_sql(ty, raw)?.to_string(),
                Type::JSONB if raw.first() == Some(&1) => String::from_utf8_lossy(&raw[1..]).into_owned(),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN | Type::XML => {
                    String::from_utf8_lossy(raw).into_owned()
                }
                _ => format!("\\x{}", hex::encode(raw)),
            };
            Ok(AsText(text))
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }
}
