//! `blob`: bulk data kept by the host in the run's private directory (never
//! the guest's scratch). The guest holds a handle and reads bounded ranges.
//!
//! Every blob is charged to the run's disk budget
//! ([`crate::caps::kit::disk`]) before it is written, by whichever call makes
//! it, and released when the guest drops it.
//!
//! Every blob records its [`Origin`]: read by the host from a granted
//! source, or made by the plugin (`from-bytes`). Restores refuse the latter
//! unless the operator opted in (see `origin.rs`).

mod origin;

pub(crate) use origin::{check_restorable, plugin_blob_denial};
pub use origin::{Origin, MARK_KEY, MARK_PLUGIN};

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::component::Resource;

use crate::bindings::drhost::runbook::blob::{Host, HostBlob};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::copy::{self, CopyError};
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

/// Largest range one `read` returns.
const READ_CAP: u32 = 1 << 20;
/// Largest blob `from-bytes` accepts.
const FROM_BYTES_CAP: usize = 16 << 20;

/// A host-side file with its size and checksum.
pub struct Blob {
    path: PathBuf,
    size: u64,
    sha256: String,
    origin: Origin,
}

impl Blob {
    /// Writes `data`, which the plugin supplied, into a new file under
    /// `dir` (origin [`Origin::Plugin`]).
    pub fn create(dir: &std::path::Path, data: &[u8]) -> std::io::Result<Blob> {
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::Builder::new().prefix("blob-").tempfile_in(dir)?;
        file.write_all(data)?;
        let (_, path) = file.keep().map_err(|e| e.error)?;
        Ok(Blob {
            path,
            size: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
            origin: Origin::Plugin,
        })
    }

    /// Takes over an existing host-side file (e.g. a `pg_dump` output in the
    /// run's blob directory), reading it once for its size and SHA-256. The
    /// file is removed when the guest drops the blob.
    pub fn from_file(path: PathBuf, origin: Origin) -> std::io::Result<Blob> {
        let mut file = std::fs::File::open(&path)?;
        let hashed = copy::hashing(&mut file, &mut std::io::sink(), None, |_| Ok(())).map_err(|e| match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
            CopyError::Deadline(_) | CopyError::Refused(_) => std::io::Error::other("the copy stopped"),
        })?;
        Ok(Blob {
            path,
            size: hashed.bytes,
            sha256: hashed.sha256,
            origin,
        })
    }

    /// Takes over a host-side file whose size and SHA-256 the caller
    /// measured while writing it (e.g. an S3 download), so it is not read
    /// again. The file is removed when the guest drops the blob.
    pub fn from_parts(path: PathBuf, size: u64, sha256: String, origin: Origin) -> Blob {
        Blob {
            path,
            size,
            sha256,
            origin,
        }
    }

    /// The host-side file (never shown to the guest).
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// SHA-256 of the content, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Where the content came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

impl Host for RunState {}

impl HostBlob for RunState {
    async fn size(&mut self, blob: Resource<Blob>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&blob)?.size)
    }

    async fn sha256(&mut self, blob: Resource<Blob>) -> wasmtime::Result<String> {
        Ok(self.table.get(&blob)?.sha256.clone())
    }

    async fn read(&mut self, blob: Resource<Blob>, offset: u64, len: u32) -> Answer<Vec<u8>> {
        let blob = self.table.get(&blob)?;
        if offset > blob.size {
            return Err(
                CapError::InvalidArgument(format!("offset {offset} is beyond the blob's {} bytes", blob.size)).into(),
            );
        }
        let len = len.min(READ_CAP) as u64;
        let len = len.min(blob.size - offset) as usize;
        let read = (|| {
            let mut file = std::fs::File::open(&blob.path)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut buf = vec![0; len];
            file.read_exact(&mut buf)?;
            Ok::<_, std::io::Error>(buf)
        })();
        Ok(read.map_err(|e| CapError::Failed(format!("reading blob: {e}")))?)
    }

    async fn from_bytes(&mut self, data: Vec<u8>) -> Answer<Resource<Blob>> {
        if data.len() > FROM_BYTES_CAP {
            return Err(CapError::InvalidArgument(format!(
                "blob of {} bytes is over the {FROM_BYTES_CAP}-byte limit of from-bytes",
                data.len()
            ))
            .into());
        }
        let mut charge = self.ctx.disk.charge("blob from-bytes");
        charge.add(data.len() as u64)?;
        let blob =
            Blob::create(self.ctx.blob_dir()?, &data).map_err(|e| CapError::Failed(format!("storing blob: {e}")))?;
        charge.keep();
        Ok(self.table.push(blob)?)
    }

    async fn drop(&mut self, blob: Resource<Blob>) -> wasmtime::Result<()> {
        let blob = self.table.delete(blob)?;
        let _ = std::fs::remove_file(&blob.path);
        self.ctx.disk.release(blob.size);
        Ok(())
    }
}
