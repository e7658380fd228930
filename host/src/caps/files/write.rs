//! `write` and `remove`: the only calls that change a target.
//!
//! A write is atomic: the blob's host file is copied (chunk by chunk,
//! hashed) into a new temporary file beside the path, created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` in the directory reached by the no-follow
//! walk; the copy is checked against the blob's size and SHA-256, given the
//! mode, synced, and renamed over the path; then the directory is synced.
//! Whatever fails on the way, the temporary file is removed and the path
//! keeps its old content. A file that is replaced keeps its owner and group
//! when drhost may set them.
//!
//! What is at the path decides: nothing (the rename refuses to replace
//! anything that appears meanwhile, where the filesystem supports it), a
//! regular file (replaced), anything else — a symbolic link, a directory,
//! a pipe — a `conflict`, untouched. A link swapped in between that look
//! and the rename would itself be replaced: `rename` never writes through
//! a link.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rustix::fs::{AtFlags, Gid, Mode, OFlags, RenameFlags, Stat, Uid};
use rustix::io::Errno;

use super::nofollow::{entry, is_file, lstat, not_a_file, walk, Place};
use super::path::RelPath;
use crate::bindings::drhost::runbook::files::Entry;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::copy::{self, CopyError, Hashed};
use crate::caps::kit::disk::Charge;

/// Permission bits a write may give; setuid, setgid and sticky are refused
/// (restored certificates and configuration never need them, and a plugin
/// must not be able to make a privileged program).
pub const WRITABLE_MODE_BITS: u32 = 0o777;

/// The blob a write copies: its host file, size and SHA-256.
pub(super) struct Source<'a> {
    pub file: &'a Path,
    pub size: u64,
    pub sha256: &'a str,
}

/// What a write did.
pub(super) struct Written {
    /// The file as it now is.
    pub entry: Entry,
    /// SHA-256 of what was written (the blob's).
    pub sha256: String,
    /// Whether a file was replaced.
    pub replaced: bool,
    /// Directories made on the way.
    pub made_dirs: u32,
}

crate::caps::kit::replay::replay_record! {
    Written { entry, sha256, replaced, made_dirs }
}

/// `mode` when a write may give it, else why not.
pub(super) fn check_mode(mode: u32) -> Result<u32, String> {
    if mode & !0o7777 != 0 {
        return Err(format!(
            "mode {mode:#o} has bits beyond the permission bits (0o7777); pass e.g. 0o600"
        ));
    }
    if mode & !WRITABLE_MODE_BITS != 0 {
        return Err(format!(
            "mode {mode:#o} sets setuid, setgid or sticky, which drhost never gives a written file; pass e.g. 0o600 or 0o644"
        ));
    }
    Ok(mode)
}

/// Writes `source` to `path` under `root` with permission bits `mode`
/// (already checked), atomically, within `charge` and before `deadline`.
pub(super) fn write(
    root: &OwnedFd,
    path: &RelPath,
    place: &Place,
    source: Source,
    mode: u32,
    mut charge: Charge,
    deadline: Instant,
) -> Result<Written, CapError> {
    let (dirs, name) = path.split();
    // Charged before anything is touched: what a run writes to targets
    // counts against its disk budget like its blobs, and stays counted.
    charge.add(source.size)?;
    let (parent, made_dirs) = walk(root, &dirs, true, place)?;
    let existing = match lstat(&parent, name) {
        Ok(stat) if is_file(&stat) => Some(stat),
        Ok(stat) => return Err(not_a_file(place, path.as_str(), &stat)),
        Err(Errno::NOENT) => None,
        Err(e) => return Err(place.os("looking at", path.as_str(), e)),
    };
    let (mut temp, fd) = Temp::create(&parent, place)?;
    let sha256 = copy(&source, &fd, &temp.name, place, deadline)?;
    if let Some(old) = &existing {
        keep_owner(&fd, old);
    }
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| place.os("setting the mode of", &temp.name, e))?;
    rustix::fs::fsync(&fd).map_err(|e| place.os("syncing", &temp.name, e))?;
    let renamed = match existing {
        None => match rustix::fs::renameat_with(&parent, &temp.name, &parent, name, RenameFlags::NOREPLACE) {
            // A filesystem without RENAME_NOREPLACE.
            Err(Errno::INVAL) => rustix::fs::renameat(&parent, &temp.name, &parent, name),
            other => other,
        },
        Some(_) => rustix::fs::renameat(&parent, &temp.name, &parent, name),
    };
    renamed.map_err(|e| place.os("writing", path.as_str(), e))?;
    temp.renamed = true;
    rustix::fs::fsync(&parent).map_err(|e| place.os("syncing the directory of", path.as_str(), e))?;
    let now = rustix::fs::fstat(&fd).map_err(|e| place.os("reading back", path.as_str(), e))?;
    charge.keep();
    Ok(Written {
        entry: entry(path.as_str().to_string(), &now),
        sha256,
        replaced: existing.is_some(),
        made_dirs,
    })
}

/// Copies the blob's file into `temp`, hashing it; checks it against the
/// blob's size and SHA-256.
fn copy(source: &Source, fd: &OwnedFd, temp: &str, place: &Place, deadline: Instant) -> Result<String, CapError> {
    let failed = |e: std::io::Error| place.failed(format!("reading the blob: {e}"));
    let mut from = std::fs::File::open(source.file).map_err(failed)?;
    let mut to = std::fs::File::from(fd.try_clone().map_err(|e| place.failed(format!("copying: {e}")))?);
    let Hashed { bytes: copied, sha256 } =
        copy::hashing(&mut from, &mut to, Some(deadline), |_| Ok(())).map_err(|e| match e {
            CopyError::Read(e) => failed(e),
            CopyError::Write(e) => place.failed(format!("writing `{temp}`: {e}")),
            CopyError::Deadline(done) => place.timeout(done),
            CopyError::Refused(e) => e,
        })?;
    if copied != source.size || sha256 != source.sha256 {
        return Err(place.failed(format!(
            "the blob changed while it was copied ({copied} bytes, SHA-256 {sha256}; expected {} bytes, {}); nothing was written",
            source.size, source.sha256
        )));
    }
    Ok(sha256)
}

/// Gives the new file the owner and group of the file it replaces, when
/// drhost may (as root, or when they are its own); otherwise it keeps
/// drhost's.
fn keep_owner(fd: &OwnedFd, old: &Stat) {
    if old.st_uid == u32::MAX || old.st_gid == u32::MAX {
        return;
    }
    let _ = rustix::fs::fchown(fd, Some(Uid::from_raw(old.st_uid)), Some(Gid::from_raw(old.st_gid)));
}

/// Removes the regular file at `path` under `root`; false when there was
/// nothing (nor any directory on the way) to remove.
pub(super) fn remove(root: &OwnedFd, path: &RelPath, place: &Place) -> Result<bool, CapError> {
    let (dirs, name) = path.split();
    let parent = match walk(root, &dirs, false, place) {
        Ok((parent, _)) => parent,
        Err(CapError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    match lstat(&parent, name) {
        Ok(stat) if is_file(&stat) => {}
        Ok(stat) => return Err(not_a_file(place, path.as_str(), &stat)),
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(place.os("looking at", path.as_str(), e)),
    }
    // `unlinkat` removes the name itself, never what a link points to.
    match rustix::fs::unlinkat(&parent, name, AtFlags::empty()) {
        Ok(()) => {}
        Err(Errno::NOENT) => return Ok(false),
        Err(e) => return Err(place.os("removing", path.as_str(), e)),
    }
    rustix::fs::fsync(&parent).map_err(|e| place.os("syncing the directory of", path.as_str(), e))?;
    Ok(true)
}

/// The name of a temporary file being written beside the path; the file
/// is removed on drop unless it was renamed into place.
struct Temp<'a> {
    dir: &'a OwnedFd,
    name: String,
    renamed: bool,
}

impl<'a> Temp<'a> {
    /// A new, empty 0o600 file with a name nobody else uses, in `dir`, and
    /// its descriptor.
    fn create(dir: &'a OwnedFd, place: &Place) -> Result<(Temp<'a>, OwnedFd), CapError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut attempt = 0;
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!(".drhost-{}-{nanos:x}-{n}.tmp", std::process::id());
            match rustix::fs::openat(dir, name.as_str(), flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => {
                    let temp = Temp {
                        dir,
                        name,
                        renamed: false,
                    };
                    return Ok((temp, fd));
                }
                Err(Errno::EXIST) if attempt < 8 => attempt += 1,
                Err(e) => return Err(place.os("creating a temporary file beside", place.path, e)),
            }
        }
    }
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = rustix::fs::unlinkat(self.dir, self.name.as_str(), AtFlags::empty());
        }
    }
}
