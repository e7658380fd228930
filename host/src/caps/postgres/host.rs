//! The `postgres` interface as the plugin sees it: one short function per
//! WIT function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the checks and the real client
//! calls are in `client.rs`.

use serde_json::json;
use wasmtime::component::Resource;

use super::client;
use super::{Database, PgAccess};
use crate::bindings::drhost::runbook::postgres::{Host, HostDatabase, RestoreOptions, RestoreReport, Rows, TargetInfo};
use crate::caps::blob::Blob;
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn info(&mut self, label: String) -> Answer<TargetInfo> {
        let ctx = self.ctx.clone();
        let summary = |i: &TargetInfo| json!({ "host": i.host, "port": i.port, "database": i.database, "tls": i.tls });
        ctx.audited("postgres.info", json!({ "target": label }), summary, async {
            Ok(client::info(&ctx, &label)?)
        })
        .await
    }

    async fn create_database(&mut self, label: String) -> Answer<bool> {
        let ctx = self.ctx.clone();
        let args = json!({ "target": label, "database": client::own_database(&ctx, &label) });
        let summary = |created: &bool| json!({ "created": created });
        ctx.audited_checked(
            "postgres.create-database",
            args,
            summary,
            async {
                client::check(&ctx, &label, "create-database", PgAccess::Admin)?;
                Ok(())
            },
            |()| async { Ok(client::create_database(&ctx, &label).await?) },
        )
        .await
    }

    async fn restore(&mut self, label: String, data: Resource<Blob>, options: RestoreOptions) -> Answer<RestoreReport> {
        let ctx = self.ctx.clone();
        let blob = self.table.get(&data)?;
        let (path, origin) = (blob.path().to_owned(), blob.origin().clone());
        let database = options.database.clone().or_else(|| client::own_database(&ctx, &label));
        let args = json!({
            "target": label,
            "database": database,
            "size": blob.size(),
            "sha256": blob.sha256(),
            "origin": blob.origin().journal(),
            "options": {
                "clean": options.clean,
                "if_exists": options.if_exists,
                "no_owner": options.no_owner,
                "no_privileges": options.no_privileges,
                "jobs": options.jobs,
            },
        });
        let summary = |r: &RestoreReport| json!({ "database": r.database, "duration_ms": r.duration_ms, "warnings": r.warnings.len() });
        ctx.audited_checked(
            "postgres.restore",
            args,
            summary,
            async {
                client::check(&ctx, &label, "restore", PgAccess::Restore)?;
                client::check_restorable(&ctx, &label, &origin)
            },
            |()| async { Ok(client::restore(&ctx, &label, &path, &options).await?) },
        )
        .await
    }
}

impl HostDatabase for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Database>> {
        let ctx = self.ctx.clone();
        let db = ctx
            .audited("postgres.open", json!({ "target": label }), |_| json!({}), async {
                Ok(client::open(&ctx, &label).await?)
            })
            .await?;
        Ok(self.table.push(db)?)
    }

    async fn query(&mut self, db: Resource<Database>, sql: String, params: Vec<String>) -> Answer<Rows> {
        let ctx = self.ctx.clone();
        let db = self.table.get(&db)?;
        // Parameter values are not journaled: they may be data.
        let args = json!({ "target": db.label, "sql": sql, "params": params.len() });
        let summary = |r: &Rows| json!({ "rows": r.rows.len() });
        ctx.audited("postgres.query", args, summary, async {
            client::check(&ctx, &db.label, "query", PgAccess::Read)?;
            Ok(client::query(&ctx, db, &sql, &params).await?)
        })
        .await
    }

    async fn execute(&mut self, db: Resource<Database>, sql: String, params: Vec<String>) -> Answer<u64> {
        let ctx = self.ctx.clone();
        let db = self.table.get(&db)?;
        let args = json!({ "target": db.label, "sql": sql, "params": params.len() });
        ctx.audited_checked(
            "postgres.execute",
            args,
            |n| json!({ "rows": n }),
            async {
                client::check(&ctx, &db.label, "execute", PgAccess::Write)?;
                Ok(())
            },
            |()| async { Ok(client::execute(&ctx, &db.client, &db.label, &sql, &params).await?) },
        )
        .await
    }

    async fn dump(&mut self, db: Resource<Database>) -> Answer<Resource<Blob>> {
        let ctx = self.ctx.clone();
        let label = self.table.get(&db)?.label.clone();
        let args = json!({ "target": label, "format": "custom" });
        let summary = |b: &Blob| json!({ "size": b.size(), "sha256": b.sha256() });
        let blob = ctx
            .audited("postgres.dump", args, summary, async {
                client::check(&ctx, &label, "dump", PgAccess::Dump)?;
                Ok(client::dump(&ctx, &label).await?)
            })
            .await?;
        Ok(self.table.push(blob)?)
    }

    async fn drop(&mut self, db: Resource<Database>) -> wasmtime::Result<()> {
        self.table.delete(db)?;
        Ok(())
    }
}
