//! The backups `db-backup` writes, as the plugins that restore them read
//! them: `<prefix>backup_<YYYYMMDD_HHMMSS>.dump` (and `backup_latest.dump`)
//! in an S3 bucket, with `sha256` and `rows-<table>` metadata. Finding the
//! newest one (however many there are), downloading it into the host
//! checked against its checksum, and the row counts it recorded. Shared by
//! `db-restore` (restores it into the live database) and `backup-verify`
//! (restores it into a scratch database); changes nothing itself.

use drhost_sdk::prelude::*;
use drhost_sdk::s3::{Bucket, ObjectHead};

/// Metadata keys `db-backup` writes: the dump's checksum, and one row count per table.
pub const SHA256_KEY: &str = "sha256";
/// The prefix of a `rows-<table>` metadata key.
pub const ROWS_PREFIX: &str = "rows-";
/// Metadata `db-backup` writes naming the tables it could not count.
pub const UNVERIFIED_KEY: &str = "unverified-rows";

/// `YYYYMMDD_HHMMSS` stamped backups sort by key; `backup_latest` is the
/// fallback when there is none.
pub fn choose_latest(keys: &[String], prefix: &str) -> Option<String> {
    let stamped = keys
        .iter()
        .filter(|k| {
            k.strip_prefix(prefix)
                .and_then(|name| name.strip_prefix("backup_"))
                .and_then(|rest| rest.strip_suffix(".dump"))
                .is_some_and(|stamp| stamp.len() == 15 && stamp.as_bytes()[8] == b'_')
        })
        .max();
    let latest = format!("{prefix}backup_latest.dump");
    stamped.cloned().or_else(|| keys.contains(&latest).then_some(latest))
}

/// A table name from `rows-<table>` metadata, only when it is a plain
/// identifier (it is put into SQL).
pub fn table_of(key: &str) -> Option<&str> {
    let table = key.strip_prefix(ROWS_PREFIX)?;
    let plain = !table.is_empty()
        && table
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !table.starts_with(|c: char| c.is_ascii_digit());
    plain.then_some(table)
}

/// The value of metadata `key` of a backup.
pub fn metadata<'a>(head: &'a ObjectHead, key: &str) -> Option<&'a str> {
    head.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Months looked back through when a prefix holds more keys than one
/// listing may (three years of backups).
const MONTHS_BACK: u32 = 36;

/// The newest backup under `prefix` (see [`choose_latest`]). A prefix
/// with more keys than one listing may return (the host refuses such a
/// listing whole, `invalid-argument`) is narrowed by the stamp in the keys:
/// month by month from this one back, and a month with too many by day,
/// newest first, so the newest backup is found however many there are.
pub fn newest_backup(bucket: &Bucket, prefix: &str, step: &Step) -> Result<Option<String>, Error> {
    let why = match bucket.list(prefix) {
        Ok(objects) => {
            let keys: Vec<String> = objects.into_iter().map(|o| o.key).collect();
            step.note(format!("{} objects under {prefix}", keys.len()));
            return Ok(choose_latest(&keys, prefix));
        }
        Err(Error::InvalidArgument(why)) => why,
        Err(other) => return Err(other),
    };
    step.note(format!("{why}; looking month by month, newest first"));
    let now = drhost_sdk::utc_stamp(drhost_sdk::unix_now());
    for month in months_back(&now[..6], MONTHS_BACK) {
        let newest = match stamped_under(bucket, prefix, &month)? {
            Some(found) => found,
            None => {
                // Too many in one month: by day, newest first.
                let mut found = None;
                for day in (1..=31).rev() {
                    let date = format!("{month}{day:02}");
                    match stamped_under(bucket, prefix, &date)? {
                        Some(None) => continue,
                        Some(key) => {
                            found = key;
                            break;
                        }
                        None => {
                            return Err(Error::InvalidArgument(format!(
                                "more backups stamped {date} under {prefix} than one listing may hold: name the one to restore with --param backup=KEY"
                            )))
                        }
                    }
                }
                found
            }
        };
        if let Some(key) = newest {
            step.note(format!("newest backup found under {prefix}backup_{month}"));
            return Ok(Some(key));
        }
    }
    Ok(Some(format!("{prefix}backup_latest.dump")))
}

/// The newest stamped backup whose stamp starts with `stamp_prefix`:
/// `Some(found)` when the listing fit (`found` is `None` if it had none),
/// `None` when it held too many keys itself.
fn stamped_under(bucket: &Bucket, prefix: &str, stamp_prefix: &str) -> Result<Option<Option<String>>, Error> {
    match bucket.list(&format!("{prefix}backup_{stamp_prefix}")) {
        Ok(objects) => {
            let keys: Vec<String> = objects.into_iter().map(|o| o.key).collect();
            let latest = format!("{prefix}backup_latest.dump");
            Ok(Some(choose_latest(&keys, prefix).filter(|k| *k != latest)))
        }
        Err(Error::InvalidArgument(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// `count` months as `YYYYMM`, from `yyyymm` back.
pub fn months_back(yyyymm: &str, count: u32) -> Vec<String> {
    let (mut year, mut month): (u32, u32) = (yyyymm[..4].parse().unwrap_or(1970), yyyymm[4..6].parse().unwrap_or(1));
    let mut months = Vec::new();
    for _ in 0..count {
        months.push(format!("{year:04}{month:02}"));
        if month == 1 {
            (year, month) = (year.saturating_sub(1), 12);
        } else {
            month -= 1;
        }
    }
    months
}

/// Which backup, and its metadata: `backup` (a key, or a name under
/// `prefix`), else the newest under `prefix`, in bucket `label`.
pub fn find_backup(bucket: &Bucket, label: &str, backup: Option<&str>, prefix: &str) -> Result<ObjectHead, Failure> {
    let step = Step::start(format!("find the backup in s3 `{label}` under {prefix}"));
    let key = match backup {
        Some(name) if name.contains('/') => name.to_string(),
        Some(name) => format!("{prefix}{name}"),
        None => newest_backup(bucket, prefix, &step)
            .map_err(|e| Failure::from(e).in_step(step.name()))?
            .ok_or_else(|| {
                fail(format!("no backup found under {prefix} in s3 target `{label}`"))
                    .in_step(step.name())
                    .hint("run db-backup first, or name one with --param backup=KEY")
            })?,
    };
    let head = bucket.head(&key).map_err(|e| match e {
        Error::NotFound(_) => fail(format!("backup {key} does not exist in s3 target `{label}`"))
            .in_step(step.name())
            .hint(format!(
                "list the backups under {prefix} and pass one with --param backup=KEY"
            )),
        other => Failure::from(other).in_step(step.name()),
    })?;
    step.note(format!(
        "{key}: {} bytes, modified {}",
        head.info.size, head.info.last_modified
    ));
    step.ok();
    Ok(head)
}

/// Downloads the backup into the host, checked against its `sha256`
/// metadata, and checks it is a `pg_dump -Fc` archive; the dump stays in
/// the host (the plugin holds a blob handle).
pub fn download(bucket: &Bucket, head: &ObjectHead) -> Result<drhost_sdk::blob::Blob, Failure> {
    let key = &head.info.key;
    let step = Step::start(format!("download {key} and verify it"));
    let expected = metadata(head, SHA256_KEY);
    let blob = bucket
        .get(key, expected)
        .map_err(|e| Failure::from(e).in_step(step.name()))?;
    let magic = blob.read(0, 5).map_err(|e| Failure::from(e).in_step(step.name()))?;
    if magic != b"PGDMP" {
        return Err(fail(format!("{key} is not a pg_dump custom-format archive"))
            .in_step(step.name())
            .hint("only dumps made with pg_dump -Fc restore (db-backup makes them)"));
    }
    match expected {
        Some(sha) => step.note(format!("{} bytes, sha256 {sha} verified", blob.size())),
        None => {
            warn(format!(
                "{key} has no sha256 metadata: its integrity cannot be verified"
            ));
            step.note(format!(
                "{} bytes, sha256 {} (no checksum to verify)",
                blob.size(),
                blob.sha256()
            ));
        }
    }
    step.ok();
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_stamped_backup_wins_then_backup_latest() {
        let keys: Vec<String> = [
            "supabase/backup_20260101_000000.dump",
            "supabase/backup_20261127_071500.dump",
            "supabase/backup_latest.dump",
            "supabase/notes.txt",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            choose_latest(&keys, "supabase/").as_deref(),
            Some("supabase/backup_20261127_071500.dump")
        );
        let only_latest = vec!["supabase/backup_latest.dump".to_string()];
        assert_eq!(
            choose_latest(&only_latest, "supabase/").as_deref(),
            Some("supabase/backup_latest.dump")
        );
        assert_eq!(choose_latest(&[], "supabase/"), None);
    }

    #[test]
    fn months_go_back_across_years() {
        assert_eq!(months_back("202602", 3), ["202602", "202601", "202512"]);
    }

    #[test]
    fn only_plain_table_names_reach_sql() {
        assert_eq!(table_of("rows-users"), Some("users"));
        assert_eq!(table_of("rows-x\"; drop"), None);
        assert_eq!(table_of("sha256"), None);
    }
}
