//! `backup-verify`: proves the backups restore ("a backup you have not
//! restored is not a backup"), without touching the live database.
//!
//! 1. check target `scratch` is another database than target `primary`
//!    (refused when both name the same database on the same server);
//! 2. find the backup in the `backups` bucket: the newest under `prefix`,
//!    or the one named by `--param backup=` (as `db-restore` does);
//! 3. download it into the host, checked against its `sha256` metadata;
//! 4. create the scratch database when it is missing, and `pg_restore
//!    --clean --if-exists --no-owner --no-privileges` into it;
//! 5. verify: every table's row count in the scratch database equals the
//!    count the source had when `db-backup` dumped it (its `rows-<table>`
//!    metadata); the source's counts now are read too (read-only) and
//!    reported beside them, as evidence, not judged — the live database
//!    moves on after a backup.
//!
//! It writes only to the scratch database, which stays for inspection; the
//! next run restores over it. Its grants say so: `restore` and `admin` on
//! `scratch`, `read` on `primary` and on the bucket.

use backup_catalog::{download, find_backup, metadata, table_of, UNVERIFIED_KEY};
use drhost_sdk::postgres::{self, Database, RestoreOptions, TargetInfo};
use drhost_sdk::prelude::*;
use drhost_sdk::s3::{Bucket, ObjectHead};

/// The live database the backups are of (read only).
const SOURCE: &str = "primary";
/// The database restored into.
const SCRATCH: &str = "scratch";
const BUCKET: &str = "backups";

struct BackupVerify;

/// Step 1: the scratch database is not the source.
fn check_targets() -> Result<(TargetInfo, TargetInfo), Failure> {
    let step = Step::start(format!("check `{SCRATCH}` is not `{SOURCE}`"));
    let here = |e: Error| Failure::from(e).in_step(step.name());
    let source = postgres::info(SOURCE).map_err(here)?;
    let scratch = postgres::info(SCRATCH).map_err(here)?;
    let same_server = source.host.eq_ignore_ascii_case(&scratch.host) && source.port == scratch.port;
    if same_server && source.database == scratch.database {
        return Err(fail(format!(
            "targets `{SCRATCH}` and `{SOURCE}` are both database {} on {}:{}: restoring would overwrite the live database",
            scratch.database, scratch.host, scratch.port
        ))
        .in_step(step.name())
        .hint(format!(
            "point [targets.postgres.{SCRATCH}] at a database of its own, e.g. …/{}_scratch",
            source.database
        )));
    }
    step.note(format!(
        "{SOURCE}: {} on {}:{}; {SCRATCH}: {} on {}:{}",
        source.database, source.host, source.port, scratch.database, scratch.host, scratch.port
    ));
    step.ok();
    Ok((source, scratch))
}

/// Step 4: the scratch database exists, then `pg_restore` into it.
fn restore(blob: &drhost_sdk::blob::Blob, scratch: &TargetInfo, jobs: u32) -> Result<u64, Failure> {
    let step = Step::start(format!("create scratch database {} if missing", scratch.database));
    let created = postgres::create_database(SCRATCH).map_err(|e| Failure::from(e).in_step(step.name()))?;
    step.note(if created {
        "created"
    } else {
        "exists: restored over (--clean)"
    });
    step.ok();

    let step = Step::start(format!(
        "pg_restore --clean --if-exists --no-owner --no-privileges into {}",
        scratch.database
    ));
    let options = RestoreOptions {
        clean: true,
        if_exists: true,
        no_owner: true,
        no_privileges: true,
        jobs,
        database: None,
    };
    let report = postgres::restore(SCRATCH, blob, &options).map_err(|e| Failure::from(e).in_step(step.name()))?;
    for w in &report.warnings {
        step.note(format!("pg_restore: {w}"));
    }
    step.note(format!("{} ms", report.duration_ms));
    step.ok();
    Ok(report.duration_ms)
}

/// `SELECT count(*)` of `table` (a plain identifier, see [`table_of`]).
fn count(db: &Database, table: &str) -> Result<String, Error> {
    let rows = db.query(&format!("SELECT count(*) FROM public.\"{table}\""), &[])?;
    Ok(rows
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default())
}

/// One table's counts: the backup's (the source's at the dump), the
/// scratch database's after the restore, the source's now.
struct Counted {
    table: String,
    backup: String,
    scratch: String,
    source_now: Option<String>,
}

/// Step 5: the scratch database holds what the source held at the backup.
fn verify(head: &ObjectHead) -> Result<Vec<Counted>, Failure> {
    let step = Step::start("verify: every table's rows in the scratch database against the source's at the backup");
    let here = |e: Error| Failure::from(e).in_step(step.name());
    let scratch = Database::open(SCRATCH).map_err(here)?;
    let source = Database::open(SOURCE).map_err(here)?;
    let mut counted = Vec::new();
    for (key, expected) in &head.metadata {
        let Some(table) = table_of(key) else { continue };
        let got = count(&scratch, table).map_err(here)?;
        let source_now = match count(&source, table) {
            Ok(n) => Some(n),
            Err(e) => {
                step.note(format!(
                    "{table}: the source's count now could not be read: {}",
                    e.describe()
                ));
                None
            }
        };
        counted.push(Counted {
            table: table.to_string(),
            backup: expected.clone(),
            scratch: got,
            source_now,
        });
    }
    if counted.is_empty() {
        return Err(fail(format!(
            "backup {} has no rows-<table> metadata: there is nothing to check the restore against",
            head.info.key
        ))
        .in_step(step.name())
        .hint("take the backup with db-backup (it records every table's row count), then verify that one"));
    }
    let wrong: Vec<String> = counted
        .iter()
        .filter(|c| c.scratch != c.backup)
        .map(|c| {
            format!(
                "{}: {} rows restored, {} in the source at the backup",
                c.table, c.scratch, c.backup
            )
        })
        .collect();
    for c in &counted {
        let now = match &c.source_now {
            Some(n) if *n == c.backup => String::new(),
            Some(n) => format!(" (the source has {n} now: written since the backup)"),
            None => String::new(),
        };
        step.note(format!("{}: {} rows, as at the backup{now}", c.table, c.scratch));
    }
    if let Some(tables) = metadata(head, UNVERIFIED_KEY) {
        step.note(format!(
            "not checked (written to while db-backup ran pg_dump, so the backup recorded no count): {tables}"
        ));
    }
    if !wrong.is_empty() {
        return Err(fail(format!(
            "the backup does not restore what the source held: {}",
            wrong.join("; ")
        ))
        .in_step(step.name())
        .hint("the backup is incomplete or damaged: check the journal's pg_restore warnings, and take a new backup (db-backup) before relying on it"));
    }
    step.ok();
    Ok(counted)
}

impl Plugin for BackupVerify {
    fn describe() -> Manifest {
        manifest(
            "backup-verify",
            env!("CARGO_PKG_VERSION"),
            "Proves the backups restore: restores the latest (or a named) S3 backup into a scratch database, never the live one, and checks every table's row count against the source's at the backup",
        )
        .param("backup", "`latest`, or the backup's key (or name under the prefix)", Some("latest"))
        .param("prefix", "where the backups are in the bucket", Some("supabase/"))
        .param("jobs", "pg_restore parallel jobs", Some("2"))
        .need("s3", BUCKET, Access::Read, "lists the backups and downloads one")
        .need("postgres", SOURCE, Access::Read, "learns where the live database is, and counts its rows now (read only)")
        .need("postgres", SCRATCH, Access::Read, "counts the restored rows")
        .need("postgres", &format!("admin:{SCRATCH}"), Access::Admin, "creates the scratch database when it is missing")
        .need("postgres", &format!("restore:{SCRATCH}"), Access::Admin, "runs pg_restore --clean into the scratch database")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let started = std::time::Instant::now();
        let backup = params.optional("backup")?.filter(|b| *b != "latest").map(String::from);
        let prefix = params.get("prefix")?.to_string();
        let jobs: u32 = params.parse("jobs")?;

        let (source, scratch) = check_targets()?;
        let bucket = Bucket::open(BUCKET)?;
        let head = find_backup(&bucket, BUCKET, backup.as_deref(), &prefix)?;
        let blob = download(&bucket, &head)?;
        let restore_ms = restore(&blob, &scratch, jobs)?;
        let counted = verify(&head)?;

        let key = &head.info.key;
        let mut out = outcome(format!(
            "{key} restores: {} tables in scratch database {} hold the rows {} had at the backup",
            counted.len(),
            scratch.database,
            source.database
        ))
        .fact("backup", key)
        .fact("backup-modified", &head.info.last_modified)
        .fact("size", blob.size())
        .fact("sha256", blob.sha256())
        .fact("scratch-database", &scratch.database)
        .fact("source-database", &source.database)
        .fact("tables-verified", counted.len())
        .fact("restore-ms", restore_ms);
        for c in &counted {
            out = out.fact(&format!("rows-{}", c.table), &c.scratch);
            if let Some(now) = &c.source_now {
                out = out.fact(&format!("source-rows-{}", c.table), now);
            }
        }
        Ok(out.fact("duration-ms", started.elapsed().as_millis()))
    }
}

export_plugin!(BackupVerify);
