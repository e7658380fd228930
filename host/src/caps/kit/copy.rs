//! Copying a file while hashing it: the one loop behind every capability
//! that moves bytes between host files (files `read` and `write`, a blob
//! taken over from a file). Memory stays at one buffer whatever the size.

use std::io::{ErrorKind, Read, Write};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::bindings::types::Error as CapError;

/// The copy buffer.
const CHUNK: usize = 1 << 20;

/// What a finished copy saw.
pub struct Hashed {
    /// Bytes copied.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of every byte copied.
    pub sha256: String,
}

/// Why a copy stopped; the caller words it for its own call.
pub enum CopyError {
    /// Reading the source failed.
    Read(std::io::Error),
    /// Writing the destination failed.
    Write(std::io::Error),
    /// The deadline passed after this many bytes.
    Deadline(u64),
    /// The caller's per-chunk check refused (e.g. the disk budget).
    Refused(CapError),
}

/// Copies `from` into `to` until the end of `from`, hashing as it goes.
/// `each` sees every chunk's length before the chunk is written, so a
/// budget is charged before the bytes land; the deadline is checked
/// between chunks. `to` is flushed at the end.
pub fn hashing(
    from: &mut impl Read,
    to: &mut impl Write,
    deadline: Option<Instant>,
    mut each: impl FnMut(u64) -> Result<(), CapError>,
) -> Result<Hashed, CopyError> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(CopyError::Deadline(bytes));
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        each(n as u64).map_err(CopyError::Refused)?;
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        bytes += n as u64;
    }
    to.flush().map_err(CopyError::Write)?;
    Ok(Hashed {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn copies_every_byte_and_hashes_them() {
        let data: Vec<u8> = (0..3 * CHUNK + 7).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let mut seen = 0;
        let done = hashing(&mut data.as_slice(), &mut out, None, |n| {
            seen += n;
            Ok(())
        })
        .ok()
        .unwrap();
        assert_eq!(out, data);
        assert_eq!((done.bytes, seen), (data.len() as u64, data.len() as u64));
        assert_eq!(done.sha256, hex::encode(Sha256::digest(&data)));
    }

    #[test]
    fn a_refusing_check_stops_before_the_chunk_is_written() {
        let data = vec![1u8; 10];
        let mut out = Vec::new();
        let stopped = hashing(&mut data.as_slice(), &mut out, None, |_| {
            Err(CapError::InvalidArgument("over budget".into()))
        });
        assert!(matches!(stopped, Err(CopyError::Refused(_))));
        assert!(out.is_empty());
    }

    #[test]
    fn a_passed_deadline_copies_nothing() {
        let data = vec![1u8; 10];
        let mut out = Vec::new();
        let past = Instant::now() - Duration::from_secs(1);
        assert!(matches!(
            hashing(&mut data.as_slice(), &mut out, Some(past), |_| Ok(())),
            Err(CopyError::Deadline(0))
        ));
        assert!(out.is_empty());
    }
}
