//! Step 1, assess the damage: changes nothing. What exists on this host
//! (the project's containers, the certificates, the swarm and its Docker
//! secret), whether Docker, Vault, the database and Redis answer, which
//! backups S3 holds and how old each is — one table and facts. The
//! backups the restore needs are downloaded into the host here, each
//! checked against its `sha256` metadata: a missing or corrupted one stops
//! the run before anything changes.

use drhost_sdk::blob::Blob;
use drhost_sdk::compose::Project;
use drhost_sdk::files::{Directory, Kind};
use drhost_sdk::postgres::Database;
use drhost_sdk::prelude::*;
use drhost_sdk::redis::Connection;
use drhost_sdk::s3::{Bucket, ObjectHead};
use drhost_sdk::vault::Store;
use drhost_sdk::Table;

use crate::{Settings, BUCKET, CERTIFICATES, DATABASE, DOCKER_SECRET, INFRASTRUCTURE, REDIS, VAULT};

const STEP: &str = "assess: what exists, what answers, which backups";

/// One certificate file to restore: its path in the directory, its
/// permission bits, its verified content.
pub(crate) struct CertificateBackup {
    pub path: String,
    pub mode: u32,
    pub blob: Blob,
}

/// What the assessment found.
pub(crate) struct Found {
    pub table: Table,
    pub facts: Vec<(String, String)>,
    pub snapshot: Blob,
    pub certificates: Vec<CertificateBackup>,
    /// The project's containers that were running before the run.
    pub running_before: Vec<String>,
}

/// Seconds since the Unix epoch of an RFC 3339 UTC time
/// (`2026-12-01T04:08:44Z`, fractions ignored); None when it is not one.
pub(crate) fn unix_seconds(rfc3339: &str) -> Option<i64> {
    let b = rfc3339.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |from: usize, to: usize| rfc3339.get(from..to)?.parse::<i64>().ok();
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hh, mm, ss) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// How old an object modified at `modified` is, as text and in seconds.
fn age(modified: &str) -> (String, Option<i64>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match unix_seconds(modified) {
        Some(then) => {
            let secs = (now - then).max(0);
            (duration_text(std::time::Duration::from_secs(secs as u64)), Some(secs))
        }
        None => ("unknown".into(), None),
    }
}

fn sha256_of(head: &ObjectHead) -> Option<&str> {
    head.metadata
        .iter()
        .find(|(k, _)| k == "sha256")
        .map(|(_, v)| v.as_str())
}

/// Downloads `head`'s object into the host, checked against its `sha256`
/// metadata (an object without one is refused: it cannot be verified).
fn verified(bucket: &Bucket, head: &ObjectHead) -> Result<Blob, Failure> {
    let key = &head.info.key;
    let Some(sha256) = sha256_of(head) else {
        return Err(fail(format!(
            "backup {key} in s3 `{BUCKET}` has no sha256 metadata, so it cannot be verified; nothing was changed"
        ))
        .in_step(STEP)
        .hint("make the backups with infra-backup, which records each one's sha256"));
    };
    bucket.get(key, Some(sha256)).map_err(|e| {
        fail(format!(
            "backup {key} in s3 `{BUCKET}` failed verification, nothing was changed: {}",
            e.message()
        ))
        .in_step(STEP)
        .hint("run infra-backup again, or restore the object from the bucket's versions")
    })
}

/// Step 1. Fails (changing nothing) when a backup is missing or corrupted.
pub(crate) fn assess(project: &Project, s: &Settings) -> Result<Found, Failure> {
    let step = Step::start(STEP);
    let mut t = table("damage assessment", &["WHAT", "STATE", "DETAIL"]);
    let mut facts: Vec<(String, String)> = Vec::new();
    let row = |t: Table, what: &str, state: &str, detail: String| t.row(&[what.to_string(), state.to_string(), detail]);

    // What exists, what answers.
    let mut running_before = Vec::new();
    t = match project.ps() {
        Ok(states) => {
            running_before = states
                .iter()
                .filter(|c| c.state == "running")
                .map(|c| c.container.clone())
                .collect();
            let running = running_before.len();
            facts.push(("containers-running-before".into(), running.to_string()));
            row(
                t,
                "containers",
                &format!("{running}/{} running", states.len()),
                format!("compose target `{}`", s.target),
            )
        }
        Err(e) => row(t, "containers", "unknown", e.message().to_string()),
    };
    t = match Directory::open(INFRASTRUCTURE).and_then(|d| d.list(&format!("{CERTIFICATES}/**"))) {
        Ok(entries) => {
            let files = entries.iter().filter(|e| e.kind == Kind::File).count();
            facts.push(("certificates-before".into(), files.to_string()));
            row(
                t,
                "certificates",
                &format!("{files} file(s)"),
                format!("{CERTIFICATES}/ of files target `{INFRASTRUCTURE}`"),
            )
        }
        Err(e) => row(t, "certificates", "missing", e.message().to_string()),
    };
    t = match docker::swarm_inspect() {
        Ok(Some(swarm)) => row(t, "docker swarm", "manager", format!("node {}", swarm.node_id)),
        Ok(None) => row(t, "docker swarm", "none", "docker swarm init needed".into()),
        Err(e) => row(t, "docker", "does not answer", e.message().to_string()),
    };
    t = match docker::list_secrets() {
        Ok(list) if list.iter().any(|x| x.name == DOCKER_SECRET) => {
            row(t, "docker secret", "exists", DOCKER_SECRET.into())
        }
        Ok(_) => row(t, "docker secret", "missing", DOCKER_SECRET.into()),
        Err(e) => row(t, "docker secret", "unknown", e.message().to_string()),
    };
    t = match Store::open(VAULT).and_then(|v| v.seal_status()) {
        Ok(st) => row(
            t,
            "vault",
            "answers",
            format!("initialised {}, sealed {}", st.initialized, st.sealed),
        ),
        Err(e) => row(t, "vault", "does not answer", e.message().to_string()),
    };
    t = match Database::open(DATABASE).and_then(|db| db.query("SELECT 1", &[])) {
        Ok(_) => row(t, "database", "answers", "SELECT 1".into()),
        Err(e) => row(t, "database", "does not answer", e.message().to_string()),
    };
    t = match Connection::open_master(REDIS).and_then(|c| c.ping()) {
        Ok(_) => row(t, "redis", "answers", "PING".into()),
        Err(e) => row(t, "redis", "does not answer", e.message().to_string()),
    };

    // The backups, and how old each is.
    let bucket = Bucket::open(BUCKET).map_err(|e| Failure::from(e).in_step(STEP))?;
    let missing = |what: &str, key: &str, t: Table| {
        fail(format!(
            "no {what} backup: s3 `{BUCKET}` has no {key}; nothing was changed"
        ))
        .in_step(STEP)
        .hint("run infra-backup where the infrastructure still runs (or restore the bucket), then run infra-restore again")
        .table(t)
    };
    let snapshot_head = match bucket.head(&s.snapshot_key) {
        Ok(head) => head,
        Err(Error::NotFound(_)) => {
            let t = row(t, "backup: vault snapshot", "missing", s.snapshot_key.clone());
            return Err(missing("Vault snapshot", &s.snapshot_key, t));
        }
        Err(e) => return Err(Failure::from(e).in_step(STEP).table(t)),
    };
    let (snapshot_age, snapshot_secs) = age(&snapshot_head.info.last_modified);
    t = row(
        t,
        "backup: vault snapshot",
        &format!("{snapshot_age} old"),
        format!("{} ({} bytes)", s.snapshot_key, snapshot_head.info.size),
    );
    if let Some(secs) = snapshot_secs {
        facts.push(("backup-vault-snapshot-age-s".into(), secs.to_string()));
    }
    let objects = bucket
        .list(&s.certificates_prefix)
        .map_err(|e| Failure::from(e).in_step(STEP))?;
    if objects.is_empty() {
        let t = row(t, "backup: certificates", "missing", s.certificates_prefix.clone());
        return Err(missing(
            "certificates",
            &format!("object under {}", s.certificates_prefix),
            t,
        ));
    }
    let newest = objects
        .iter()
        .map(|o| o.last_modified.as_str())
        .max()
        .unwrap_or_default();
    let (certs_age, certs_secs) = age(newest);
    t = row(
        t,
        "backup: certificates",
        &format!("{certs_age} old"),
        format!("{} object(s) under {}", objects.len(), s.certificates_prefix),
    );
    if let Some(secs) = certs_secs {
        facts.push(("backup-certificates-age-s".into(), secs.to_string()));
    }
    t = match bucket.list(&s.database_prefix) {
        Ok(dumps) => match dumps
            .iter()
            .filter(|o| o.key.ends_with(".dump"))
            .max_by(|a, b| a.last_modified.cmp(&b.last_modified))
        {
            Some(newest) => {
                let (text, secs) = age(&newest.last_modified);
                if let Some(secs) = secs {
                    facts.push(("backup-database-age-s".into(), secs.to_string()));
                }
                row(t, "backup: database", &format!("{text} old"), newest.key.clone())
            }
            None => row(
                t,
                "backup: database",
                "none",
                format!(
                    "no dump under {} (the database survives this scenario)",
                    s.database_prefix
                ),
            ),
        },
        Err(e) => row(t, "backup: database", "unknown", e.message().to_string()),
    };

    // Download and verify everything the restore uses, before any change.
    let snapshot = verified(&bucket, &snapshot_head).map_err(|f| f.table(t.clone()))?;
    let mut certificates = Vec::new();
    for object in &objects {
        let Some(path) = object
            .key
            .strip_prefix(&s.certificates_prefix)
            .filter(|p| !p.is_empty() && !p.ends_with('/'))
        else {
            continue;
        };
        let head = bucket.head(&object.key).map_err(|e| Failure::from(e).in_step(STEP))?;
        let mode = head
            .metadata
            .iter()
            .find(|(k, _)| k == "mode")
            .and_then(|(_, v)| u32::from_str_radix(v, 8).ok())
            .unwrap_or(0o644);
        let blob = verified(&bucket, &head).map_err(|f| f.table(t.clone()))?;
        certificates.push(CertificateBackup {
            path: path.to_string(),
            mode,
            blob,
        });
    }
    step.note(format!(
        "backups verified: {} ({} bytes) and {} certificate file(s)",
        s.snapshot_key,
        snapshot.size(),
        certificates.len()
    ));
    step.ok();
    Ok(Found {
        table: t,
        facts,
        snapshot,
        certificates,
        running_before,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(super::unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(super::unix_seconds("2024-02-29T12:34:56.789Z"), Some(1_709_210_096));
        assert_eq!(super::unix_seconds("yesterday"), None);
    }
}
