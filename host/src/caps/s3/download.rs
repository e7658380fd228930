//! A download written to a blob: an object's body streamed into a new
//! file of the run's blob directory, hashed as chunks arrive, then checked
//! against the size the service announced and the SHA-256 that was
//! expected (by the plugin, or recorded in the object's metadata).
//!
//! Memory stays at about one write buffer whatever the object's size. A
//! download that fails any check is removed: nothing half-checked is kept.
//!
//! A small object read as a secret ([`read_secret`]) is checked the same
//! way, but kept in memory that is wiped when dropped, never on disk.

use std::path::Path;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use crate::bindings::types::Error as CapError;
use crate::caps::blob::{Blob, Origin};
use crate::caps::kit::disk::Charge;

/// The write buffer of a download.
const DOWNLOAD_BUFFER: usize = 1 << 20;

/// What a download's SHA-256 was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verified {
    /// The plugin's `expect-sha256`.
    Expected,
    /// The object's `sha256` user metadata.
    Metadata,
    /// Nothing to check against (the size was still checked).
    None,
}

crate::caps::kit::replay::not_replayed!(Verified);

impl Verified {
    /// The journal's name.
    pub(super) fn name(self) -> &'static str {
        match self {
            Verified::Expected => "expected",
            Verified::Metadata => "metadata",
            Verified::None => "none",
        }
    }
}

/// `text` as a SHA-256 in lowercase hex, if it is one.
pub(super) fn sha256_hex(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    (text.len() == 64 && text.bytes().all(|c| c.is_ascii_hexdigit())).then_some(text)
}

/// Streams `body` into a new file in `dir`, hashing it as chunks
/// arrive and charging each to the disk budget before it is written, then
/// checks the byte count against `length` and the SHA-256 against `check`.
/// On any failure the file is removed (and its charge given back); an
/// announced `length` the budget cannot hold is refused before any byte.
/// `origin` names the object the blob holds, given how it was verified.
pub(super) async fn save(
    mut body: ByteStream,
    dir: &Path,
    length: Option<u64>,
    check: Option<(String, Verified)>,
    what: &str,
    mut charge: Charge,
    origin: impl FnOnce(Verified) -> Origin,
) -> Result<(Blob, Verified), CapError> {
    if let Some(length) = length {
        charge.expect(length)?;
    }
    let failed = |doing: &str, e: std::io::Error| CapError::Failed(format!("{what}: {doing} the blob file: {e}"));
    std::fs::create_dir_all(dir).map_err(|e| failed("creating the directory of", e))?;
    // The file is removed when `temp` is dropped, unless kept at the end.
    let (file, temp) = tempfile::Builder::new()
        .prefix("s3-get-")
        .tempfile_in(dir)
        .map_err(|e| failed("creating", e))?
        .into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(DOWNLOAD_BUFFER, tokio::fs::File::from_std(file));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    loop {
        let chunk = body.try_next().await.map_err(|e| {
            CapError::Unavailable(format!(
                "{what}: the download broke off after {size} bytes: {}",
                DisplayErrorContext(&e)
            ))
        })?;
        let Some(chunk) = chunk else { break };
        charge.add(chunk.len() as u64)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(|e| failed("writing", e))?;
    }
    out.flush().await.map_err(|e| failed("writing", e))?;
    drop(out);
    let sha256 = hex::encode(hasher.finalize());
    let verified = verify(what, length, size, &sha256, check, Shown::Hashes)?;
    let path = temp.keep().map_err(|e| failed("keeping", e.error))?;
    charge.keep();
    Ok((Blob::from_parts(path, size, sha256, origin(verified)), verified))
}

/// Largest object `get-secret` reads.
pub(super) const MAX_SECRET_OBJECT: u64 = 64 << 10;

/// Reads `body` (at most [`MAX_SECRET_OBJECT`] bytes, UTF-8) into wiped
/// memory, then checks it like [`save`]. Larger objects are
/// `invalid-argument` (before any byte is read when `length` says so);
/// errors never quote the content.
pub(super) async fn read_secret(
    mut body: ByteStream,
    length: Option<u64>,
    check: Option<(String, Verified)>,
    what: &str,
) -> Result<(Zeroizing<String>, Verified), CapError> {
    let too_large = || {
        CapError::InvalidArgument(format!(
            "{what}: the object is larger than {} KiB, the most a secret may hold; use `get` for data",
            MAX_SECRET_OBJECT >> 10
        ))
    };
    if length.is_some_and(|n| n > MAX_SECRET_OBJECT) {
        return Err(too_large());
    }
    // Sized once, so no partial copy is left behind in a reallocated buffer.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_SECRET_OBJECT as usize));
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| {
        CapError::Unavailable(format!(
            "{what}: the download broke off after {} bytes: {}",
            bytes.len(),
            DisplayErrorContext(&e)
        ))
    })? {
        if (bytes.len() + chunk.len()) as u64 > MAX_SECRET_OBJECT {
            return Err(too_large());
        }
        hasher.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    let sha256 = hex::encode(hasher.finalize());
    let verified = verify(what, length, bytes.len() as u64, &sha256, check, Shown::Nothing)?;
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok((Zeroizing::new(text), verified)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(CapError::InvalidArgument(format!(
                "{what}: the object is not UTF-8 text; a secret holds text (store binary keys base64-encoded)"
            )))
        }
    }
}

/// What a SHA-256 mismatch shows: both hashes for data, neither for a
/// secret (the hash of a secret says something about it).
#[derive(Clone, Copy)]
enum Shown {
    Hashes,
    Nothing,
}

/// Checks a finished download of `size` bytes hashing to `sha256` against
/// its Content-Length (`length`) and the expected SHA-256 (`check`); says
/// how it was verified.
fn verify(
    what: &str,
    length: Option<u64>,
    size: u64,
    sha256: &str,
    check: Option<(String, Verified)>,
    shown: Shown,
) -> Result<Verified, CapError> {
    if let Some(expected) = length.filter(|&n| n != size) {
        return Err(CapError::Conflict(format!(
            "{what}: expected {expected} bytes (Content-Length), got {size}; nothing was kept"
        )));
    }
    match check {
        Some((expected, how)) if expected != sha256 => {
            let source = match how {
                Verified::Expected => "expect-sha256",
                _ => "the object's sha256 metadata",
            };
            Err(CapError::Conflict(match shown {
                Shown::Hashes => {
                    format!("{what}: SHA-256 mismatch: expected {expected} ({source}), got {sha256}; nothing was kept")
                }
                Shown::Nothing => {
                    format!("{what}: SHA-256 mismatch: the object does not match {source}; nothing was kept")
                }
            }))
        }
        Some((_, how)) => Ok(how),
        None => Ok(Verified::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::kit::disk::DiskBudget;

    const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    async fn save_hello(
        dir: &Path,
        length: Option<u64>,
        check: Option<(&str, Verified)>,
    ) -> Result<(Blob, Verified), CapError> {
        let budget = DiskBudget::new(1 << 20, &dir.join("scratch"));
        save_within(&budget, dir, length, check).await
    }

    async fn save_within(
        budget: &std::sync::Arc<DiskBudget>,
        dir: &Path,
        length: Option<u64>,
        check: Option<(&str, Verified)>,
    ) -> Result<(Blob, Verified), CapError> {
        let check = check.map(|(h, v)| (h.to_string(), v));
        let what = "s3 get of `k` on `b`";
        let charge = budget.charge(what);
        let origin = |_| Origin::Plugin;
        save(
            ByteStream::from_static(b"hello"),
            dir,
            length,
            check,
            what,
            charge,
            origin,
        )
        .await
    }

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    #[tokio::test]
    async fn a_download_is_kept_with_its_size_and_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let (blob, verified) = save_hello(dir.path(), Some(5), Some((HELLO_SHA, Verified::Metadata)))
            .await
            .unwrap();
        assert_eq!(
            (blob.size(), blob.sha256(), verified),
            (5, HELLO_SHA, Verified::Metadata)
        );
        assert_eq!(std::fs::read(blob.path()).unwrap(), b"hello");
        let (_, verified) = save_hello(dir.path(), None, None).await.unwrap();
        assert_eq!(verified, Verified::None);
    }

    #[tokio::test]
    async fn a_mismatch_is_a_conflict_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wrong = "0".repeat(64);
        let error = save_hello(dir.path(), Some(5), Some((&wrong, Verified::Expected)))
            .await
            .err()
            .unwrap();
        let CapError::Conflict(message) = error else {
            panic!("{error:?}")
        };
        assert!(
            message.contains(&format!("expected {wrong} (expect-sha256), got {HELLO_SHA}")),
            "{message}"
        );
        let error = save_hello(dir.path(), Some(6), None).await.err().unwrap();
        assert!(
            matches!(&error, CapError::Conflict(m) if m.contains("expected 6 bytes")),
            "{error:?}"
        );
        assert_eq!(files(dir.path()), 0);
    }

    #[tokio::test]
    async fn a_download_over_the_disk_budget_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let budget = DiskBudget::new(4, &dir.path().join("scratch"));
        for length in [Some(5), None] {
            let error = save_within(&budget, dir.path(), length, None).await.err().unwrap();
            assert!(
                matches!(&error, CapError::Failed(m) if m.contains("disk budget of 4 B would be exceeded")),
                "{error:?}"
            );
            assert_eq!((files(dir.path()), budget.left()), (0, 4));
        }
        let budget = DiskBudget::new(5, &dir.path().join("scratch"));
        let (blob, _) = save_within(&budget, dir.path(), Some(5), None).await.unwrap();
        assert_eq!((blob.size(), budget.left()), (5, 0), "a kept blob stays charged");
    }

    #[tokio::test]
    async fn a_secret_is_read_checked_and_capped() {
        let read = |body: Vec<u8>, length: Option<u64>, check: Option<(&str, Verified)>| {
            let check = check.map(|(h, v)| (h.to_string(), v));
            read_secret(ByteStream::from(body), length, check, "s3 get-secret of `k` on `b`")
        };
        let (value, verified) = read(b"hello".to_vec(), Some(5), Some((HELLO_SHA, Verified::Metadata)))
            .await
            .unwrap();
        assert_eq!((value.as_str(), verified), ("hello", Verified::Metadata));
        let wrong = "0".repeat(64);
        let err = read(b"hello".to_vec(), None, Some((&wrong, Verified::Expected)))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CapError::Conflict(m) if m.contains("expect-sha256") && !m.contains(HELLO_SHA) && !m.contains("hello")),
            "{err:?}"
        );
        let big = vec![b'a'; MAX_SECRET_OBJECT as usize + 1];
        for length in [Some(big.len() as u64), None] {
            let err = read(big.clone(), length, None).await.unwrap_err();
            assert!(
                matches!(&err, CapError::InvalidArgument(m) if m.contains("64 KiB")),
                "{err:?}"
            );
        }
        let (value, _) = read(vec![b'a'; MAX_SECRET_OBJECT as usize], None, None).await.unwrap();
        assert_eq!(value.len(), MAX_SECRET_OBJECT as usize);
        let err = read(vec![0xff, 0xfe], None, None).await.unwrap_err();
        assert!(
            matches!(&err, CapError::InvalidArgument(m) if m.contains("not UTF-8")),
            "{err:?}"
        );
    }

    #[test]
    fn expected_checksums_are_hex() {
        assert_eq!(sha256_hex(&HELLO_SHA.to_uppercase()).as_deref(), Some(HELLO_SHA));
        assert!(sha256_hex("abc").is_none());
        assert!(sha256_hex(&"g".repeat(64)).is_none());
    }
}
