//! `db-poke`: performs the one `postgres` / `s3` operation named by `op`
//! and reports its results, or the typed error's kind and message, as
//! facts — so tests can check what the capabilities do and what a grant
//! allows at the call.
//!
//! Ops: `query` (`sql` on `target`), `info`, `create-database`, `dump`
//! (pg_dump of `target`, put as `key`), `restore` (s3 get of `key`, then
//! pg_restore into `target` with the restore parameters; with `remake`, of
//! a copy the plugin re-assembles with `blob.from-bytes`), `s3-get` (`key`,
//! checked against `sha256` when given),
//! `s3-put` (`text` as `key`), `s3-copy` (get `key`, put it as `dest`),
//! `s3-list` (`prefix`), `hoard` (open `count` connections to `target` and
//! hold them all, as a plugin that means to starve the database would).

use drhost_sdk::blob::Blob;
use drhost_sdk::postgres::{self, Database, RestoreOptions};
use drhost_sdk::prelude::*;
use drhost_sdk::s3::Bucket;

struct DbPoke;

/// A failed call, reported as facts: which call, its kind and message.
fn refused(call: &str, e: Error) -> Outcome {
    outcome("refused")
        .fact("failed-call", call)
        .fact("error-kind", e.kind())
        .fact("error", e.message())
}

/// Runs `call`, turning its error into a [`refused`] outcome.
fn attempt<T>(name: &str, call: impl FnOnce() -> Result<T, Error>) -> Result<T, Outcome> {
    call().map_err(|e| refused(name, e))
}

/// A copy of `blob` that the plugin makes itself: its bytes read into
/// memory and handed back with `blob.from-bytes` (as a plugin restoring a
/// dump it decrypted or re-assembled would).
fn remade(blob: &Blob) -> Result<Blob, Error> {
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < blob.size() {
        let chunk = blob.read(bytes.len() as u64, 1 << 20)?;
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    Blob::from_bytes(&bytes)
}

fn flag(params: &Params, name: &str) -> Result<bool, Failure> {
    params.parse(name)
}

fn get(params: &Params) -> Result<Result<Blob, Outcome>, Failure> {
    let bucket = params.get("bucket")?;
    let key = params.get("key")?;
    let expect = params.optional("sha256")?;
    Ok(attempt("s3.open", || Bucket::open(bucket)).and_then(|b| attempt("s3.get", || b.get(key, expect))))
}

fn run_op(params: &Params) -> Result<Result<Outcome, Outcome>, Failure> {
    let target = params.get("target")?;
    let op = params.get("op")?;
    Ok(match op {
        "query" => attempt("postgres.open", || Database::open(target))
            .and_then(|db| attempt("postgres.query", || db.query(params.get("sql").unwrap_or(""), &[])))
            .map(|rows| {
                let first = rows.rows.first().and_then(|r| r.first().cloned().flatten());
                outcome("queried")
                    .fact("rows", rows.rows.len())
                    .fact("value", first.unwrap_or_else(|| "NULL".into()))
            }),
        "info" => attempt("postgres.info", || postgres::info(target)).map(|i| {
            outcome("described")
                .fact("host", i.host)
                .fact("port", i.port)
                .fact("user", i.user)
                .fact("database", i.database)
                .fact("tls", i.tls)
        }),
        "create-database" => attempt("postgres.create-database", || postgres::create_database(target))
            .map(|created| outcome("created").fact("created", created)),
        "dump" => attempt("postgres.open", || Database::open(target))
            .and_then(|db| attempt("postgres.dump", || db.dump()))
            .and_then(|blob| put(params, params.get("key").unwrap_or(""), &blob)),
        "restore" => {
            let options = RestoreOptions {
                clean: flag(params, "clean")?,
                if_exists: flag(params, "if-exists")?,
                no_owner: flag(params, "no-owner")?,
                no_privileges: flag(params, "no-privileges")?,
                jobs: params.parse("jobs")?,
                database: params.optional("database")?.map(String::from),
            };
            let remake = flag(params, "remake")?;
            get(params)?
                .and_then(|blob| match remake {
                    true => attempt("blob.from-bytes", || remade(&blob)),
                    false => Ok(blob),
                })
                .and_then(|blob| attempt("postgres.restore", || postgres::restore(target, &blob, &options)))
                .map(|r| {
                    outcome("restored")
                        .fact("database", r.database)
                        .fact("duration-ms", r.duration_ms)
                        .fact("warnings", r.warnings.len())
                        .fact("warning-lines", r.warnings.join("\n"))
                })
        }
        "s3-get" => get(params)?.map(|blob| outcome("got").fact("size", blob.size()).fact("sha256", blob.sha256())),
        "s3-put" => attempt("blob.from-bytes", || {
            Blob::from_bytes(params.get("text").unwrap_or("").as_bytes())
        })
        .and_then(|blob| put(params, params.get("key").unwrap_or(""), &blob)),
        "s3-copy" => {
            let remake = flag(params, "remake")?;
            get(params)?
                .and_then(|blob| match remake {
                    true => attempt("blob.from-bytes", || remade(&blob)),
                    false => Ok(blob),
                })
                .and_then(|blob| put(params, params.get("dest").unwrap_or(""), &blob))
        }
        "s3-list" => attempt("s3.open", || Bucket::open(params.get("bucket").unwrap_or("")))
            .and_then(|b| attempt("s3.list", || b.list(params.get("prefix").unwrap_or(""))))
            .map(|objects| {
                let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
                outcome("listed").fact("count", keys.len()).fact("keys", keys.join(","))
            }),
        "hoard" => {
            let count: usize = params.parse("count")?;
            let mut held = Vec::new();
            let mut refusal = None;
            for _ in 0..count {
                match Database::open(target) {
                    Ok(db) => held.push(db),
                    Err(e) => {
                        refusal = Some(e);
                        break;
                    }
                }
            }
            // Every handle is still held while the host is asked once more.
            let still = held.iter().filter(|db| db.query("SELECT 1", &[]).is_ok()).count();
            let report = outcome("hoarded").fact("opened", held.len()).fact("answering", still);
            Ok(match refusal {
                Some(e) => report.fact("error-kind", e.kind()).fact("error", e.message()),
                None => report,
            })
        }
        other => return Err(fail(format!("unknown op `{other}`"))),
    })
}

/// Puts `blob` as `key` with its SHA-256 as `sha256` metadata.
fn put(params: &Params, key: &str, blob: &Blob) -> Result<Outcome, Outcome> {
    let bucket = attempt("s3.open", || Bucket::open(params.get("bucket").unwrap_or("")))?;
    let metadata = [("sha256".to_string(), blob.sha256())];
    let info = attempt("s3.put", || bucket.put(key, blob, &metadata))?;
    Ok(outcome("put")
        .fact("etag", info.etag)
        .fact("size", info.size)
        .fact("sha256", blob.sha256()))
}

impl Plugin for DbPoke {
    fn describe() -> Manifest {
        manifest(
            "db-poke",
            env!("CARGO_PKG_VERSION"),
            "Makes the postgres or s3 call it is told to (tests only)",
        )
        .param(
            "op",
            "query | info | create-database | dump | restore | s3-get | s3-put | s3-copy | s3-list | hoard",
            Some("info"),
        )
        .param("target", "the Postgres target label", Some("primary"))
        .param("bucket", "the S3 target label", Some("backups"))
        .param("sql", "query: the statement", Some("SELECT 1"))
        .param(
            "key",
            "s3-get, s3-put, s3-copy, dump, restore: the object key",
            Some(""),
        )
        .param(
            "sha256",
            "s3-get, s3-copy, restore: the expected SHA-256 (empty: none)",
            Some(""),
        )
        .param("dest", "s3-copy: the key to put the copy at", Some(""))
        .param("text", "s3-put: the object's content", Some("hello"))
        .param("prefix", "s3-list: the key prefix", Some(""))
        .param("count", "hoard: how many connections to open and hold", Some("40"))
        .param("clean", "restore: --clean", Some("false"))
        .param("if-exists", "restore: --if-exists", Some("false"))
        .param("no-owner", "restore: --no-owner", Some("false"))
        .param("no-privileges", "restore: --no-privileges", Some("false"))
        .param("jobs", "restore: --jobs", Some("0"))
        .param("database", "restore: another database (empty: the target's)", Some(""))
        .param(
            "remake",
            "restore, s3-copy: restore (put) a copy made with blob.from-bytes instead of the downloaded blob",
            Some("false"),
        )
        .need("postgres", "primary", Access::Read, "pokes the database")
        .need("s3", "backups", Access::Read, "pokes the bucket")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let op = params.get("op")?.to_string();
        let step = Step::start(format!("db-poke {op}"));
        let result = run_op(&params)?;
        step.ok();
        Ok(result.unwrap_or_else(|refused| refused))
    }
}

export_plugin!(DbPoke);
