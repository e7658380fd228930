//! `read`: a file of a target copied into a new blob, chunk by chunk, each
//! charged to the run's disk budget before it is written and hashed as it
//! goes. Memory stays at one buffer whatever the file's size; a copy that
//! fails keeps nothing.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Instant;

use rustix::fs::{Mode, OFlags};

use super::nofollow::{is_file, lstat, not_a_file, walk, Place};
use super::path::RelPath;
use crate::bindings::types::Error as CapError;
use crate::caps::blob::{Blob, Origin};
use crate::caps::kit::copy::{self, CopyError};
use crate::caps::kit::disk::Charge;

/// How a file is opened for reading: never through a link, and without
/// waiting on a named pipe that nobody writes (it is refused right after).
const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// What a read kept: the blob, and the file's permission bits.
pub(super) struct Copied {
    pub blob: Blob,
    pub mode: u32,
}

crate::caps::kit::replay::not_replayed!(Copied);

/// Copies the regular file at `path` under `root` into a new blob in
/// `blob_dir`, within `charge` and before `deadline`.
pub(super) fn read(
    root: &OwnedFd,
    path: &RelPath,
    place: &Place,
    blob_dir: &Path,
    mut charge: Charge,
    deadline: Instant,
) -> Result<Copied, CapError> {
    let (dirs, name) = path.split();
    let (parent, _) = walk(root, &dirs, false, place)?;
    let seen = lstat(&parent, name).map_err(|e| place.os("reading", path.as_str(), e))?;
    if !is_file(&seen) {
        return Err(not_a_file(place, path.as_str(), &seen));
    }
    let fd = rustix::fs::openat(&parent, name, READ_FLAGS, Mode::empty())
        .map_err(|e| place.os("opening", path.as_str(), e))?;
    let opened = rustix::fs::fstat(&fd).map_err(|e| place.os("reading", path.as_str(), e))?;
    if !is_file(&opened) || (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino) {
        return Err(place.conflict(format!("`{}` changed while drhost opened it", path.as_str())));
    }
    let size = u64::try_from(opened.st_size).unwrap_or(0);
    charge.expect(size)?;
    let failed = |doing: &str, e: std::io::Error| place.failed(format!("{doing} the blob file: {e}"));
    std::fs::create_dir_all(blob_dir).map_err(|e| failed("creating the directory of", e))?;
    // Removed when `temp` is dropped, unless kept at the end.
    let (mut out, temp) = tempfile::Builder::new()
        .prefix("files-read-")
        .tempfile_in(blob_dir)
        .map_err(|e| failed("creating", e))?
        .into_parts();
    let mut file = std::fs::File::from(fd);
    let copied = copy::hashing(&mut file, &mut out, Some(deadline), |n| charge.add(n)).map_err(|e| match e {
        CopyError::Read(e) => place.failed(format!("reading `{}`: {e}", path.as_str())),
        CopyError::Write(e) => failed("writing", e),
        CopyError::Deadline(done) => place.timeout(done),
        CopyError::Refused(e) => e,
    })?;
    drop(out);
    let kept = temp.keep().map_err(|e| failed("keeping", e.error))?;
    charge.keep();
    Ok(Copied {
        blob: Blob::from_parts(
            kept,
            copied.bytes,
            copied.sha256,
            Origin::File {
                target: place.label.to_string(),
                path: path.as_str().to_string(),
            },
        ),
        mode: opened.st_mode & 0o7777,
    })
}
