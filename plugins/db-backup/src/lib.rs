//! `db-backup`: the runbook's quick reference "database backup" — `pg_dump
//! -Fc` of the `primary` database (run by the host, streamed to a host-side
//! file), uploaded to the `backups` bucket as
//! `<prefix>backup_<YYYYMMDD_HHMMSS>.dump` (UTC) with `sha256` and
//! `rows-<table>` metadata (every table of the public schema), then again as
//! `<prefix>backup_latest.dump`.
//! The dump never enters the plugin: it holds a blob handle.

use drhost_sdk::postgres::Database;
use drhost_sdk::prelude::*;
use drhost_sdk::s3::Bucket;

const DATABASE: &str = "primary";
const BUCKET: &str = "backups";

struct DbBackup;

/// `YYYYMMDD_HHMMSS` in UTC from seconds since the Unix epoch.
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}_{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Exact row counts of every table in the `public` schema, by name. Names
/// come back from `quote_ident` already safe to put into SQL.
fn count_rows(db: &Database) -> Result<Vec<(String, String)>, Error> {
    let tables = db.query(
        "SELECT tablename, quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        &[],
    )?;
    let mut counts = Vec::new();
    for row in &tables.rows {
        let (Some(Some(name)), Some(Some(quoted))) = (row.first(), row.get(1)) else {
            continue;
        };
        let rows = db.query(&format!("SELECT count(*) FROM public.{quoted}"), &[])?;
        let n = rows
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        counts.push((name.clone(), n));
    }
    Ok(counts)
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
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = format!("{prefix}backup_{}.dump", utc_stamp(now));
        let latest = format!("{prefix}backup_latest.dump");

        let step = Step::start(format!("connect to postgres `{DATABASE}`"));
        let db = Database::open(DATABASE).map_err(|e| Failure::from(e).in_step(step.name()))?;
        step.ok();

        let step = Step::start("count the rows of every table");
        let counts = count_rows(&db).map_err(|e| Failure::from(e).in_step(step.name()))?;
        for (table, rows) in &counts {
            step.note(format!("{table}: {rows}"));
        }
        step.ok();

        let step = Step::start("pg_dump -Fc");
        let blob = db.dump().map_err(|e| Failure::from(e).in_step(step.name()))?;
        let (size, sha256) = (blob.size(), blob.sha256());
        step.note(format!("{size} bytes, sha256 {sha256}"));
        step.ok();

        let mut metadata = vec![("sha256".to_string(), sha256.clone())];
        metadata.extend(
            counts
                .iter()
                .map(|(table, rows)| (format!("rows-{table}"), rows.clone())),
        );
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
        Ok(out.fact("duration-ms", started.elapsed().as_millis()))
    }
}

export_plugin!(DbBackup);

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(super::utc_stamp(0), "19700101_000000");
        assert_eq!(super::utc_stamp(1_709_210_096), "20240229_123456");
    }
}
