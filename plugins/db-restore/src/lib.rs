//! `db-restore`: runbook scenario 1, option B — restore from backup.
//!
//! 0. diagnose as the runbook does, changing nothing (the provider's status
//!    page, `SELECT 1`, the backends' log lines about the database; see
//!    `database-diagnosis`): evidence for the operator, as facts;
//! 1. find the backup in the `backups` bucket: the newest
//!    `<prefix>backup_<stamp>.dump` (else `<prefix>backup_latest.dump`), or
//!    the one named by `--param backup=`;
//! 2. download it into the host (the dump never enters the plugin), checked
//!    against its `sha256` metadata, and check it is a `pg_dump -Fc` archive;
//! 3. ask, then create the database if it is gone and `pg_restore --clean
//!    --if-exists --no-owner --no-privileges` into it;
//! 4. verify: `SELECT 1`, and every table's row count against the backup's
//!    `rows-<table>` metadata (written by `db-backup`);
//! 5. update the application's credentials in Vault (checked, with the
//!    backends, before anything changes): `database_url` is
//!    composed in the host from the target's address and the password
//!    handle read from Vault — the plugin never sees the password;
//! 6. restart the backends and wait for their health endpoints.

use std::time::{Duration, Instant};

use backup_catalog::{download, find_backup, metadata, table_of, SHA256_KEY, UNVERIFIED_KEY};
use drhost_sdk::postgres::{self, Database, RestoreOptions, TargetInfo};
use drhost_sdk::prelude::*;
use drhost_sdk::s3::{Bucket, ObjectHead};
use drhost_sdk::secret::{ComposePart, Secret};
use drhost_sdk::vault::{FieldValue, Store};
use drhost_sdk::{confirm, docker};

const DATABASE: &str = "primary";
const BUCKET: &str = "backups";
const VAULT: &str = "main";

struct DbRestore;

/// The operator's choices, read once.
struct Settings {
    backup: Option<String>,
    prefix: String,
    jobs: u32,
    credentials_path: String,
    app_path: String,
    services: String,
    health_port: String,
    health_path: String,
    wait: Duration,
    diagnosis: database_diagnosis::Settings,
}

impl Settings {
    fn read(params: &Params) -> Result<Settings, Failure> {
        Ok(Settings {
            backup: params.optional("backup")?.filter(|b| *b != "latest").map(String::from),
            prefix: params.get("prefix")?.to_string(),
            jobs: params.parse("jobs")?,
            credentials_path: params.get("credentials-path")?.to_string(),
            app_path: params.get("app-path")?.to_string(),
            services: params.get("services")?.to_string(),
            health_port: params.get("health-port")?.to_string(),
            health_path: params.get("health-path")?.to_string(),
            wait: params.duration("wait")?,
            diagnosis: database_diagnosis::Settings::read(params)?,
        })
    }
}

/// Step 3: the database exists (created when gone), then `pg_restore`.
fn restore(blob: &drhost_sdk::blob::Blob, target: &TargetInfo, s: &Settings) -> Result<u64, Failure> {
    let step = Step::start(format!("create database {} if missing", target.database));
    let created = postgres::create_database(DATABASE).map_err(|e| Failure::from(e).in_step(step.name()))?;
    step.note(if created { "created" } else { "exists" });
    step.ok();

    let step = Step::start(format!(
        "pg_restore --clean --if-exists --no-owner --no-privileges into {}",
        target.database
    ));
    let options = RestoreOptions {
        clean: true,
        if_exists: true,
        no_owner: true,
        no_privileges: true,
        jobs: s.jobs,
        database: None,
    };
    let report = postgres::restore(DATABASE, blob, &options).map_err(|e| Failure::from(e).in_step(step.name()))?;
    for w in &report.warnings {
        step.note(format!("pg_restore: {w}"));
    }
    step.note(format!("{} ms", report.duration_ms));
    step.ok();
    Ok(report.duration_ms)
}

/// Step 4: the database answers and holds what the backup held.
fn verify_database(head: &ObjectHead) -> Result<Vec<(String, String)>, Failure> {
    let step = Step::start("verify: SELECT 1 and row counts against the backup");
    let db = Database::open(DATABASE).map_err(|e| Failure::from(e).in_step(step.name()))?;
    db.query("SELECT 1", &[])
        .map_err(|e| Failure::from(e).in_step(step.name()))?;
    let mut counts = Vec::new();
    for (key, expected) in &head.metadata {
        let Some(table) = table_of(key) else { continue };
        let rows = db
            .query(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .map_err(|e| Failure::from(e).in_step(step.name()))?;
        let got = rows
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        if &got != expected {
            return Err(fail(format!(
                "table {table} has {got} rows after the restore; the backup recorded {expected}"
            ))
            .in_step(step.name())
            .hint("the restore is incomplete: check the journal's pg_restore warnings, then re-run db-restore"));
        }
        step.note(format!("{table}: {got} rows"));
        counts.push((table.to_string(), got));
    }
    if let Some(tables) = metadata(head, UNVERIFIED_KEY) {
        step.note(format!(
            "not checked (written to while db-backup ran pg_dump, so the backup recorded no count): {tables}"
        ));
    }
    if counts.is_empty() {
        warn("the backup has no rows-<table> metadata: only SELECT 1 was verified");
    }
    step.ok();
    Ok(counts)
}

/// Before anything changes: Vault answers and holds the password (read as
/// a handle), and the backends to restart are there. Failing here leaves
/// the database untouched.
fn preflight(s: &Settings) -> Result<(Store, Secret, Vec<String>), Failure> {
    let step = Step::start(format!("preflight: vault `{VAULT}` and the backends"));
    let fail_here = |e: Error| Failure::from(e).in_step(step.name());
    let store = Store::open(VAULT).map_err(fail_here)?;
    let password = store
        .read(&s.credentials_path)
        .map_err(fail_here)?
        .into_iter()
        .find(|(name, _)| name == "password")
        .map(|(_, secret)| secret)
        .ok_or_else(|| {
            fail(format!("{} has no `password` field", s.credentials_path))
                .in_step(step.name())
                .hint("store the database password there: vault kv patch <path> password=...")
        })?;
    step.note(format!("{}#password: {}", s.credentials_path, password.origin()));
    let backends: Vec<String> = docker::list_containers(&containers_named(&s.services))
        .map_err(fail_here)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    step.note(format!("backends: {}", backends.join(", ")));
    step.ok();
    Ok((store, password, backends))
}

/// Step 5: the application's `database_url` in Vault, composed in the host
/// around the password handle. Returns the new version.
fn update_vault(store: &Store, password: &Secret, target: &TargetInfo, s: &Settings) -> Result<u64, Failure> {
    let step = Step::start(format!("update {} in vault `{VAULT}`", s.app_path));
    let fail_here = |e: Error| Failure::from(e).in_step(step.name());
    let tls = if target.tls { "?sslmode=require" } else { "" };
    let head = format!("postgresql://{}:", target.user);
    let tail = format!("@{}:{}/{}{tls}", target.host, target.port, target.database);
    let url = Secret::compose(&[
        ComposePart::Text(head),
        ComposePart::UrlEncoded(password),
        ComposePart::Text(tail),
    ])
    .map_err(fail_here)?;
    // Patch keeps the application's other settings; a path that does not
    // exist yet is created, as `vault kv put` would.
    let fields = [("database_url".to_string(), FieldValue::Secret(&url))];
    let version = match store.patch(&s.app_path, &fields) {
        Err(Error::NotFound(_)) => store.write(&s.app_path, &fields),
        other => other,
    }
    .map_err(fail_here)?;
    step.note(format!(
        "database_url now points at {}:{}/{} (version {version})",
        target.host, target.port, target.database
    ));
    step.ok();
    Ok(version)
}

/// Step 6: restart the backends so they reconnect, and wait for health.
fn restart_backends(names: &[String], s: &Settings) -> Result<(), Failure> {
    let step = Step::start(format!("restart {}", s.services));
    let fail_here = |e: Error| Failure::from(e).in_step(step.name());
    for name in names {
        docker::restart_container(name, Some(10)).map_err(fail_here)?;
        step.note(format!("{name} restarted"));
    }
    step.ok();

    let step = Step::start("verify: backends' health endpoints answer 200");
    let wait = Wait::up_to(s.wait);
    for name in names {
        let info = docker::inspect_container(name).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let url = published_url(&info, &s.health_port, &s.health_path)
            .ok_or_else(|| fail(format!("{name} publishes no host port for {}", s.health_port)).in_step(step.name()))?;
        loop {
            let answer = http::get(&url, Some(2000));
            if matches!(&answer, Ok(r) if r.status == 200) {
                step.note(format!("{name}: {url} 200"));
                break;
            }
            if wait.over() {
                let why = match answer {
                    Ok(r) => format!("answered {}", r.status),
                    Err(e) => e.describe(),
                };
                return Err(fail(format!(
                    "{name} is not healthy {} after the restart: {url} {why}",
                    wait.waited_text()
                ))
                .in_step(step.name())
                .hint("the database is restored and Vault updated; run service-recover for this backend"));
            }
            wait.sleep(Duration::from_millis(250));
        }
    }
    step.ok();
    Ok(())
}

impl Plugin for DbRestore {
    fn describe() -> Manifest {
        let own = manifest(
            "db-restore",
            env!("CARGO_PKG_VERSION"),
            "Runbook scenario 1 option B: restores the primary database from the latest (or a named) S3 backup, verified, then updates the application's database_url in Vault and restarts the backends",
        )
        .param("backup", "`latest`, or the backup's key (or name under the prefix)", Some("latest"))
        .param("prefix", "where the backups are in the bucket", Some("supabase/"))
        .param("jobs", "pg_restore parallel jobs", Some("2"))
        .param("credentials-path", "Vault KV path holding the database `password`", Some("secret/toolboxai/postgres"))
        .param("app-path", "Vault KV path of the application's settings; its database_url is updated", Some("secret/toolboxai/supabase"))
        .param("services", "glob over the backend containers to restart", Some("toolboxai-backend*"))
        .param("health-port", "container port whose published host port serves the health endpoint", Some("8000/tcp"))
        .param("health-path", "HTTP path that answers 200 when a backend is healthy", Some("/health"))
        .param("wait", "how long the backends may take to turn healthy", Some("60s"))
        .need("s3", BUCKET, Access::Read, "lists the backups and downloads one")
        .need("postgres", DATABASE, Access::Read, "verifies the restore: SELECT 1 and row counts")
        .need("postgres", &format!("admin:{DATABASE}"), Access::Admin, "creates the database when it is gone")
        .need("postgres", &format!("restore:{DATABASE}"), Access::Admin, "runs pg_restore --clean into it")
        .need("vault", VAULT, Access::Read, "reads the database password as a handle (never its value)")
        .need("vault", VAULT, Access::Write, "updates the application's database_url")
        .need("docker", "toolboxai-backend*", Access::Write, "restarts the backends")
        .need("http", "127.0.0.1:*", Access::Read, "checks the backends' health endpoints");
        database_diagnosis::declare(own).build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let started = Instant::now();
        let s = Settings::read(&params)?;
        let found = database_diagnosis::diagnose(&s.diagnosis, DATABASE);
        restore_from_backup(&s, started)
            .map(|o| found.on_outcome(o))
            .map_err(|f| found.on_failure(f))
    }
}

/// Steps 1–6, after the diagnosis.
fn restore_from_backup(s: &Settings, started: Instant) -> Result<Outcome, Failure> {
    let target = postgres::info(DATABASE)?;
    let bucket = Bucket::open(BUCKET)?;

    let head = find_backup(&bucket, BUCKET, s.backup.as_deref(), &s.prefix)?;
    let (store, password, backends) = preflight(s)?;
    let blob = download(&bucket, &head)?;
    let key = head.info.key.clone();

    let question = format!(
        "Restore {key} ({} bytes, {}) into database {} on {}:{}? Existing objects in it are dropped and recreated (--clean).",
        head.info.size, head.info.last_modified, target.database, target.host, target.port
    );
    if !confirm::ask(&question)? {
        return Err(fail("the operator declined the restore; nothing was changed").in_step("confirm restore"));
    }
    let restore_ms = restore(&blob, &target, s)?;
    let counts = verify_database(&head)?;
    let version = update_vault(&store, &password, &target, s)?;
    restart_backends(&backends, s)?;

    let mut out = outcome(format!(
        "restored {key} into {} ({} tables verified), updated {} (version {version}), restarted {} backends",
        target.database,
        counts.len(),
        s.app_path,
        backends.len()
    ))
    .fact("backup", &key)
    .fact("size", blob.size())
    .fact("sha256", blob.sha256())
    .fact(
        "verified",
        if metadata(&head, SHA256_KEY).is_some() {
            "sha256"
        } else {
            "none"
        },
    )
    .fact("restore-ms", restore_ms)
    .fact("vault-version", version)
    .fact("backends", backends.join(","));
    for (table, rows) in &counts {
        out = out.fact(&format!("rows-{table}"), rows);
    }
    Ok(out.fact("time-to-recovery-ms", started.elapsed().as_millis()))
}

export_plugin!(DbRestore);
