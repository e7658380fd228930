//! `infra-backup`: the backups runbook scenario 3 (complete infrastructure
//! loss) restores from, made the way `db-backup` makes the database's:
//!
//! 1. a raft snapshot of Vault target `vault` (taken by the host into a
//!    blob: the snapshot never enters the plugin) → S3 `backups` as
//!    `vault/vault-snapshot.snap`;
//! 2. every file of the runbook's `infrastructure/certificates/` (the
//!    directory `certificates` of files target `infrastructure`, read into
//!    host-side blobs: no key enters the plugin) → `certificates/<path>`,
//!    each with its permission bits as `mode`.
//!
//! Every object carries `sha256` metadata (what `infra-restore` verifies
//! before it changes anything); facts name each key, size and checksum.

use std::time::Instant;

use drhost_sdk::blob::Blob;
use drhost_sdk::files::{Directory, Kind};
use drhost_sdk::prelude::*;
use drhost_sdk::s3::Bucket;
use drhost_sdk::vault::Store;

const VAULT: &str = "vault";
/// The files target: the application's `infrastructure/` directory.
const INFRASTRUCTURE: &str = "infrastructure";
/// The certificates' directory inside it.
const CERTIFICATES: &str = "certificates";
const BUCKET: &str = "backups";

struct InfraBackup;

/// Uploads `blob` as `key` with its checksum (and `extra` metadata).
fn upload(bucket: &Bucket, key: &str, blob: &Blob, extra: &[(String, String)]) -> Result<(), Error> {
    let mut metadata = vec![("sha256".to_string(), blob.sha256())];
    metadata.extend_from_slice(extra);
    bucket.put(key, blob, &metadata).map(|_| ())
}

impl Plugin for InfraBackup {
    fn describe() -> Manifest {
        manifest(
            "infra-backup",
            env!("CARGO_PKG_VERSION"),
            "Runbook scenario 3 backups: Vault's raft snapshot and the certificates directory to S3, with sha256 metadata",
        )
        .param("snapshot-key", "the Vault snapshot's key in the bucket", Some("vault/vault-snapshot.snap"))
        .param("certificates-prefix", "the key prefix of the certificates", Some("certificates/"))
        .need("vault", &format!("snapshot:{VAULT}"), Access::Admin, "takes the raft snapshot")
        .need("files", INFRASTRUCTURE, Access::Read, "reads every certificate and key into the host")
        .need("s3", BUCKET, Access::Write, "uploads the snapshot and the certificates")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let started = Instant::now();
        let snapshot_key = params.get("snapshot-key")?.to_string();
        let prefix = params.get("certificates-prefix")?.to_string();
        let bucket = Bucket::open(BUCKET)?;

        let step = Step::start(format!("vault `{VAULT}`: raft snapshot → s3 {snapshot_key}"));
        let store = Store::open(VAULT).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let snapshot = store
            .snapshot_save()
            .map_err(|e| Failure::from(e).in_step(step.name()))?;
        upload(&bucket, &snapshot_key, &snapshot, &[]).map_err(|e| Failure::from(e).in_step(step.name()))?;
        step.note(format!("{} bytes, sha256 {}", snapshot.size(), snapshot.sha256()));
        step.ok();

        let step = Step::start(format!("files `{INFRASTRUCTURE}` {CERTIFICATES}/ → s3 {prefix}"));
        let dir = Directory::open(INFRASTRUCTURE).map_err(|e| Failure::from(e).in_step(step.name()))?;
        let entries = dir
            .list(&format!("{CERTIFICATES}/**"))
            .map_err(|e| Failure::from(e).in_step(step.name()))?;
        let files: Vec<_> = entries.iter().filter(|e| e.kind == Kind::File).collect();
        if files.is_empty() {
            return Err(fail(format!(
                "{CERTIFICATES}/ of files target `{INFRASTRUCTURE}` holds no file"
            ))
            .in_step(step.name())
            .hint("restore or generate the certificates first; an empty backup would restore nothing"));
        }
        let mut total = 0;
        let mut out = outcome("");
        for entry in &files {
            let blob = dir
                .read(&entry.path)
                .map_err(|e| Failure::from(e).in_step(step.name()))?;
            let relative = entry
                .path
                .strip_prefix(&format!("{CERTIFICATES}/"))
                .unwrap_or(&entry.path);
            let key = format!("{prefix}{relative}");
            let mode = vec![("mode".to_string(), format!("{:o}", entry.mode & 0o777))];
            upload(&bucket, &key, &blob, &mode).map_err(|e| Failure::from(e).in_step(step.name()))?;
            step.note(format!("{key}: {} bytes, mode {:o}", blob.size(), entry.mode & 0o777));
            total += blob.size();
            out = out.fact(&format!("sha256-{key}"), blob.sha256());
        }
        step.ok();

        out.summary = format!(
            "backed up Vault's raft snapshot ({} bytes) to {snapshot_key} and {} certificate file(s) ({total} bytes) under {prefix}",
            snapshot.size(),
            files.len()
        );
        Ok(out
            .fact("snapshot-key", &snapshot_key)
            .fact("snapshot-size", snapshot.size())
            .fact("snapshot-sha256", snapshot.sha256())
            .fact("certificates", files.len())
            .fact("certificates-bytes", total)
            .fact("duration-ms", started.elapsed().as_millis()))
    }
}

export_plugin!(InfraBackup);
