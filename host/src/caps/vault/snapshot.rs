//! Raft snapshots: `GET sys/storage/raft/snapshot` streamed into a blob,
//! and a blob streamed back as the body of `POST sys/storage/raft/snapshot`
//! (or `snapshot-force`). Neither holds a snapshot in memory.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_LENGTH;
use reqwest::Method;
use tokio::io::AsyncWriteExt;

use super::http::{bounded, from_reqwest, request, send};
use super::Store;
use crate::bindings::types::Error as CapError;
use crate::caps::blob::{Blob, Origin};
use crate::caps::kit::disk::{Charge, DiskBudget};

/// Streams `GET sys/storage/raft/snapshot` into a new file in
/// `blob_dir` (removed again if anything fails), chunk by chunk, each
/// charged to the run's disk budget before it is written.
pub(crate) async fn snapshot_save(
    store: &Store,
    blob_dir: &Path,
    disk: &Arc<DiskBudget>,
    limit: Duration,
) -> Result<Blob, CapError> {
    let what = "raft snapshot save";
    let mut charge = disk.charge(&format!("vault {what} on target `{}`", store.label));
    let failed = |e: std::io::Error| CapError::Failed(format!("vault {what}: the snapshot file: {e}"));
    std::fs::create_dir_all(blob_dir).map_err(failed)?;
    let file = tempfile::Builder::new()
        .prefix("vault-snapshot-")
        .suffix(".snap")
        .tempfile_in(blob_dir)
        .map_err(failed)?;
    let out = tokio::fs::File::from_std(file.as_file().try_clone().map_err(failed)?);
    let url = format!("{}/v1/sys/storage/raft/snapshot", store.address);
    let request = request(store, Method::GET, &url)?;
    let size = bounded(store, what, limit, download(store, what, request, out, &mut charge)).await?;
    if size == 0 {
        return Err(CapError::Failed(format!(
            "vault {what} on target `{}`: Vault sent an empty snapshot",
            store.label
        )));
    }
    let (_, path) = file.keep().map_err(|e| failed(e.error))?;
    let origin = Origin::VaultSnapshot {
        target: store.label.clone(),
    };
    let from_file = tokio::task::spawn_blocking(move || Blob::from_file(path, origin)).await;
    let blob = from_file
        .map_err(|e| CapError::Failed(format!("vault {what}: checksum task: {e}")))?
        .map_err(failed)?;
    charge.keep();
    Ok(blob)
}

/// Copies the reply's body into `out`, charging each chunk before it is
/// written; returns the bytes written.
async fn download(
    store: &Store,
    what: &str,
    request: reqwest::RequestBuilder,
    mut out: tokio::fs::File,
    charge: &mut Charge,
) -> Result<u64, CapError> {
    let mut reply = send(store, what, request).await?;
    if let Some(length) = reply.content_length() {
        charge.expect(length)?;
    }
    let write_failed = |e: std::io::Error| CapError::Failed(format!("vault {what}: writing the snapshot file: {e}"));
    let mut size = 0;
    while let Some(chunk) = reply.chunk().await.map_err(|e| from_reqwest(store, what, e))? {
        charge.add(chunk.len() as u64)?;
        out.write_all(&chunk).await.map_err(write_failed)?;
        size += chunk.len() as u64;
    }
    out.flush().await.map_err(write_failed)?;
    Ok(size)
}

/// Streams the blob's file as the body of `POST sys/storage/raft/snapshot`
/// (or `snapshot-force`, for a snapshot of another cluster). A server that
/// was never initialised is first initialised with a throwaway key share
/// (see `fresh.rs`; it needs `force`, the snapshot being of another
/// cluster). Returns whether that happened.
pub(crate) async fn snapshot_restore(
    store: &Store,
    file: &Path,
    size: u64,
    force: bool,
    limit: Duration,
) -> Result<bool, CapError> {
    let endpoint = if force { "snapshot-force" } else { "snapshot" };
    let what = format!("raft {endpoint} restore");
    let deadline = std::time::Instant::now() + limit;
    bounded(store, &what, limit, async {
        let fresh = !super::unseal::seal_status(store, limit).await?.initialized;
        if fresh && !force {
            return Err(CapError::InvalidArgument(format!(
                "vault {what} on target `{}`: Vault at {} was never initialised, so any snapshot is another cluster's: restore with force",
                store.label, store.address
            )));
        }
        let throwaway = if fresh {
            Some(super::fresh::prepare(store, deadline).await?)
        } else {
            None
        };
        let sender = throwaway.as_ref().unwrap_or(store);
        let body = tokio::fs::File::open(file)
            .await
            .map_err(|e| CapError::Failed(format!("vault {what}: reading the blob: {e}")))?;
        let url = format!("{}/v1/sys/storage/raft/{endpoint}", store.address);
        let request = request(sender, Method::POST, &url)?
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::from(body));
        send(sender, &what, request).await.map(|_| fresh)
    })
    .await
}
