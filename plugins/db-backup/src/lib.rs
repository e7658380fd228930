//! `db-backup`: the runbook's quick reference "database backup" — `pg_dump
//! -Fc` of the `primary` database (run by the host, streamed to a host-side
//! file), uploaded to the `backups` bucket as
//! `<prefix>backup_<YYYYMMDD_HHMMSS>.dump` (UTC) with `sha256` and
//! `rows-<table>` metadata (every table of the public schema whose count is
//! the dump's: counted before and after `pg_dump`, a table written to in
//! between is named in `unverified-rows` instead), then again as
//! `<prefix>backup_latest.dump`.
//! The dump never enters the plugin: it holds a blob handle.

use drhost_sdk::postgres::Database;
use drhost_sdk::prelude::*;
use drhost_sdk::s3::Bucket;

const DATABASE: &str = "primary";
const BUCKET: &str = "backups";

struct DbBackup;

/// The metadata key naming the tables whose rows were written to while
/// `pg_dump` ran: their counts are not recorded (see [`stable_counts`]).
/// It does not start with `rows-`, so no table can be named by it.
const UNVERIFIED_KEY: &str = "unverified-rows";

/// Exact row counts of every table in the `public` schema, by name, taken
/// in one statement (one snapshot, so the tables agree with each other).
/// Names come back from `quote_ident` already safe to put into SQL.
fn count_rows(db: &Database) -> Result<Vec<(String, String)>, Error> {
    let tables = db.query(
        "SELECT tablename, quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        &[],
    )?;
    let named: Vec<(&String, &String)> = tables
        .rows
        .iter()
        .filter_map(|row| match (row.first(), row.get(1)) {
            (Some(Some(name)), Some(Some(quoted))) => Some((name, quoted)),
            _ => None,
        })
        .collect();
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = named
        .iter()
        .map(|(_, quoted)| format!("(SELECT count(*) FROM public.{quoted})"))
        .collect();
    let counted = db.query(&format!("SELECT {}", columns.join(", ")), &[])?;
    let row = counted.rows.first().cloned().unwrap_or_default();
    Ok(named
        .iter()
        .enumerate()
        .map(|(i, (name, _))| ((*name).clone(), row.get(i).cloned().flatten().unwrap_or_default()))
        .collect())
}

/// The counts that hold for the dump: `pg_dump` reads one snapshot taken
/// between the two counts, so a table whose count is the same before and
/// after it is recorded with that count, and a table written to in between
/// is left out (its count at the dump's snapshot is not known here) and
/// named in the second list. A table that appeared or vanished in between
/// counts as written to.
fn stable_counts(before: &[(String, String)], after: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let mut stable = Vec::new();
    let mut moved = Vec::new();
    for (table, rows) in before {
        match after.iter().find(|(t, _)| t == table) {
            Some((_, again)) if again == rows => stable.push((table.clone(), rows.clone())),
            _ => moved.push(table.clone()),
        }
    }
    moved.extend(
        after
            .iter()
            .filter(|(t, _)| !before.iter().any(|(b, _)| b == t))
            .map(|(t, _)| t.clone()),
    );
    (stable, moved)
}

impl Plugin for DbBackup {
    fn describe() -> Manifest {
        manifest(
            "db-backup",
            env!("CARGO_PKG_VERSION"),
            "Backs up the primary database to S3: pg_dump (custom format) under a timestamped key with checksum and per-table row-count metadata, plus a backup_latest copy",
        )
        .param("prefix", "key prefix in the bucket", Some("supabase/"))
        .need("postgres", DATABASE, Access::Read, "counts every table's rows for the backup's metadata")
        .need("postgres", &format!("dump:{DATABASE}"), Access::Admin, "runs pg_dump (the `dump` grant)")
        .need("s3", BUCKET, Access::Write, "uploads the dump and the backup_latest copy")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let prefix = params.get("prefix")?.to_string();
        let started = std::time::Instant::now();
        let key = format!("{prefix}backup_{}.dump", drhost_sdk::utc_stamp(drhost_sdk::unix_now()));
        let latest = format!("{prefix}backup_latest.dump");

        let step = Step::start(format!("connect to postgres `{DATABASE}`"));
        let db = Database::open(DATABASE).map_err(|e| Failure::from(e).in_step(step.name()))?;
        step.ok();

        let step = Step::start("count the rows of every table");
        let before = count_rows(&db).map_err(|e| Failure::from(e).in_step(step.name()))?;
        for (table, rows) in &before {
            step.note(format!("{table}: {rows}"));
        }
        step.ok();

        let step = Step::start("pg_dump -Fc");
        let blob = db.dump().map_err(|e| Failure::from(e).in_step(step.name()))?;
        let (size, sha256) = (blob.size(), blob.sha256());
        step.note(format!("{size} bytes, sha256 {sha256}"));
        step.ok();

        // pg_dump's snapshot is somewhere between the two counts: only a
        // count that did not move is the dump's.
        let step = Step::start("count again: the counts the dump holds");
        let after = count_rows(&db).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let (counts, moved) = stable_counts(&before, &after);
        for table in &moved {
            let of = |list: &[(String, String)]| {
                list.iter()
                    .find(|(t, _)| t == table)
                    .map_or("no table".to_string(), |(_, n)| format!("{n} rows"))
            };
            step.note(format!(
                "{table}: {} before pg_dump, {} after: written to during the dump, so its count is not recorded",
                of(&before),
                of(&after)
            ));
        }
        if !moved.is_empty() {
            warn(format!(
                "{} table(s) changed while pg_dump ran ({}): the backup is consistent, but their row counts are not recorded, so db-restore cannot check them",
                moved.len(),
                moved.join(", ")
            ));
        }
        step.ok();

        let mut metadata = vec![("sha256".to_string(), sha256.clone())];
        metadata.extend(
            counts
                .iter()
                .map(|(table, rows)| (format!("rows-{table}"), rows.clone())),
        );
        if !moved.is_empty() {
            metadata.push((UNVERIFIED_KEY.to_string(), moved.join(",")));
        }
        let step = Step::start(format!("upload to s3 `{BUCKET}` as {key}"));
        let bucket = Bucket::open(BUCKET).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let put = bucket
            .put(&key, &blob, &metadata)
            .map_err(|e| Failure::from(e).in_step(step.name()))?;
        step.note(format!("etag {}", put.etag));
        step.ok();

        let step = Step::start(format!("update {latest}"));
        bucket
            .put(&latest, &blob, &metadata)
            .map_err(|e| Failure::from(e).in_step(step.name()))?;
        step.ok();

        let mut out = outcome(format!(
            "backed up `{DATABASE}` ({size} bytes, {} tables) to {key}",
            counts.len()
        ))
        .fact("key", &key)
        .fact("latest", &latest)
        .fact("size", size)
        .fact("sha256", &sha256);
        for (table, rows) in &counts {
            out = out.fact(&format!("rows-{table}"), rows);
        }
        if !moved.is_empty() {
            out = out.fact(UNVERIFIED_KEY, moved.join(","));
        }
        Ok(out.fact("duration-ms", started.elapsed().as_millis()))
    }
}

export_plugin!(DbBackup);

#[cfg(test)]
mod tests {
    #[test]
    fn only_counts_that_did_not_move_across_the_dump_are_recorded() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter().map(|(t, n)| (t.to_string(), n.to_string())).collect()
        };
        let before = pairs(&[("gone", "1"), ("projects", "100"), ("users", "250")]);
        let after = pairs(&[("new", "0"), ("projects", "100"), ("users", "253")]);
        let (stable, moved) = super::stable_counts(&before, &after);
        assert_eq!(stable, pairs(&[("projects", "100")]));
        assert_eq!(moved, ["gone", "users", "new"]);
    }
}
