//! The walk every files call makes, one name at a time from the target's
//! directory, never following a symbolic link: the directory is opened once
//! (`O_DIRECTORY | O_NOFOLLOW`) when the plugin opens the label, and each
//! name on the way is opened relative to the one before with `openat(…,
//! O_NOFOLLOW)`. A link anywhere — on the way or at the path itself — is a
//! `conflict`, whatever the grant: nothing is read, written or removed
//! through it, and it is never replaced.
//!
//! This module owns the descriptors and the messages; it never checks a
//! grant (the caller has) and never resolves a path as text.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::bindings::drhost::runbook::files::{Entry, Kind};
use crate::bindings::types::Error as CapError;

/// How every directory on the way is opened: readable (listing, `fsync`),
/// a directory, never through a link.
pub(super) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What the host says about a link it met.
pub(super) const NO_LINKS: &str = "drhost never follows or replaces a symbolic link in a files target";

/// Directories made on the way to a write get these permission bits.
pub(super) const NEW_DIR_MODE: u32 = 0o700;

/// Opens a target's directory, not following a link at its last name.
pub(super) fn open_root(path: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(rustix::fs::CWD, path, DIR_FLAGS, Mode::empty())
}

/// One call on one path, for messages: `files write of `a/b` on target `certs``.
pub(super) struct Place<'a> {
    /// The call, e.g. `write`.
    pub what: &'a str,
    /// The target label.
    pub label: &'a str,
    /// The path the plugin named.
    pub path: &'a str,
}

impl Place<'_> {
    fn head(&self) -> String {
        format!("files {} of `{}` on target `{}`", self.what, self.path, self.label)
    }

    /// `conflict`: something is at the path that the call must not touch.
    pub(super) fn conflict(&self, detail: impl std::fmt::Display) -> CapError {
        CapError::Conflict(format!("{}: {detail}", self.head()))
    }

    /// `not-found`.
    pub(super) fn not_found(&self, detail: impl std::fmt::Display) -> CapError {
        CapError::NotFound(format!("{}: {detail}", self.head()))
    }

    /// `failed`.
    pub(super) fn failed(&self, detail: impl std::fmt::Display) -> CapError {
        CapError::Failed(format!("{}: {detail}", self.head()))
    }

    /// `timeout`: the run's deadline came first.
    pub(super) fn timeout(&self, done: u64) -> CapError {
        CapError::Timeout(format!(
            "{}: the run's deadline passed after {done} bytes; nothing was kept",
            self.head()
        ))
    }

    /// An OS error while `doing` something with `name` (a path inside the
    /// target), as the typed error that fits it.
    pub(super) fn os(&self, doing: &str, name: &str, e: Errno) -> CapError {
        let reason = crate::config::os_reason(&std::io::Error::from(e));
        match e {
            Errno::NOENT => self.not_found(format!("`{name}` does not exist")),
            Errno::LOOP => self.conflict(format!("`{name}` is a symbolic link; {NO_LINKS}")),
            Errno::NOTDIR => self.conflict(format!("`{name}` is not a directory")),
            Errno::EXIST => self.conflict(format!("`{name}` appeared while drhost was {doing} it")),
            Errno::ACCESS | Errno::PERM => self.failed(format!(
                "{doing} `{name}`: permission denied to drhost; the operator gives drhost's user access to the target's directory"
            )),
            _ => self.failed(format!("{doing} `{name}`: {reason}")),
        }
    }
}

/// A name's status without following a link (`lstat` relative to `dir`).
pub(super) fn lstat(dir: impl AsFd, name: &str) -> Result<Stat, Errno> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
}

/// What `stat` says a name is, in a sentence: "a symbolic link", "a directory"…
pub(super) fn kind_phrase(stat: &Stat) -> &'static str {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => "a file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a named pipe",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Unknown => "not a regular file",
    }
}

/// Whether `stat` is a regular file.
pub(super) fn is_file(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

/// The refusal for `name`, which is `stat` and not a regular file.
pub(super) fn not_a_file(place: &Place, name: &str, stat: &Stat) -> CapError {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Symlink => place.conflict(format!("`{name}` is a symbolic link; {NO_LINKS}")),
        _ => place.conflict(format!("`{name}` is {}, not a file", kind_phrase(stat))),
    }
}

/// The contract's entry for `path`, from its `stat`.
pub(super) fn entry(path: String, stat: &Stat) -> Entry {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Directory,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    };
    let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(stat.st_mtime).unwrap_or(0));
    Entry {
        path,
        kind,
        size: u64::try_from(stat.st_size).unwrap_or(0),
        mode: stat.st_mode & 0o7777,
        modified: humantime::format_rfc3339_seconds(modified).to_string(),
    }
}

/// The journal's name for an entry's kind.
pub(super) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "file",
        Kind::Directory => "directory",
        Kind::Symlink => "symlink",
        Kind::Other => "other",
    }
}

/// The directory holding the last name of a path: the target's directory
/// `root`, then each of `dirs` opened without following a link. With
/// `create`, a missing directory is made (0o700, without following a link
/// either) and the count of those made is returned.
pub(super) fn walk(root: &OwnedFd, dirs: &[&str], create: bool, place: &Place) -> Result<(OwnedFd, u32), CapError> {
    let mut current =
        rustix::fs::openat(root, ".", DIR_FLAGS, Mode::empty()).map_err(|e| place.os("opening", ".", e))?;
    let mut made = 0;
    for (i, name) in dirs.iter().enumerate() {
        let so_far = dirs[..=i].join("/");
        let opened = match rustix::fs::openat(&current, *name, DIR_FLAGS, Mode::empty()) {
            Err(Errno::NOENT) if create => {
                make_dir(&current, name, &so_far, place)?;
                made += 1;
                rustix::fs::openat(&current, *name, DIR_FLAGS, Mode::empty())
            }
            other => other,
        };
        current = opened.map_err(|e| on_the_way(&current, name, &so_far, e, place))?;
    }
    Ok((current, made))
}

/// Makes directory `name` in `parent` with exactly [`NEW_DIR_MODE`] and
/// syncs `parent`. One that another process made meanwhile is used as is.
fn make_dir(parent: &OwnedFd, name: &str, so_far: &str, place: &Place) -> Result<(), CapError> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(NEW_DIR_MODE)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(place.os("making the directory", so_far, e)),
    }
    // The umask may have taken bits away; the made directory gets exactly 0o700.
    let made = rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty())
        .map_err(|e| on_the_way(parent, name, so_far, e, place))?;
    rustix::fs::fchmod(&made, Mode::from_raw_mode(NEW_DIR_MODE))
        .map_err(|e| place.os("setting the mode of", so_far, e))?;
    rustix::fs::fsync(parent).map_err(|e| place.os("syncing the directory holding", so_far, e))
}

/// Why `name` (at `so_far`) in `dir` could not be entered: a link or a
/// non-directory is a `conflict` naming what it is.
fn on_the_way(dir: &OwnedFd, name: &str, so_far: &str, e: Errno, place: &Place) -> CapError {
    match (e, lstat(dir, name)) {
        (Errno::LOOP | Errno::NOTDIR, Ok(stat))
            if !matches!(FileType::from_raw_mode(stat.st_mode), FileType::Directory) =>
        {
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Symlink => place.conflict(format!("`{so_far}` is a symbolic link; {NO_LINKS}")),
                _ => place.conflict(format!("`{so_far}` is {}, not a directory", kind_phrase(&stat))),
            }
        }
        _ => place.os("opening", so_far, e),
    }
}

/// Runs filesystem work off the async threads; a panic in it (a host bug)
/// is a `failed`, not a crash.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CapError> + Send + 'static,
) -> Result<T, CapError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(CapError::Failed(format!("files: the filesystem task ended: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> Place<'static> {
        Place {
            what: "read",
            label: "t",
            path: "a/b/c",
        }
    }

    #[test]
    fn a_link_on_the_way_is_a_conflict_and_nothing_is_made_beyond_it() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("a")).unwrap();
        let root = open_root(dir.path()).unwrap();
        let err = walk(&root, &["a", "b"], true, &place()).unwrap_err();
        assert!(
            matches!(&err, CapError::Conflict(m) if m.contains("`a` is a symbolic link")),
            "{err:?}"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn missing_directories_are_made_0700_when_asked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = open_root(dir.path()).unwrap();
        let err = walk(&root, &["x", "y"], false, &place()).unwrap_err();
        assert!(matches!(err, CapError::NotFound(_)), "{err:?}");
        let (_, made) = walk(&root, &["x", "y"], true, &place()).unwrap();
        assert_eq!(made, 2);
        let mode = std::fs::metadata(dir.path().join("x/y")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700);
        let (_, made) = walk(&root, &["x", "y"], true, &place()).unwrap();
        assert_eq!(made, 0);
        std::fs::write(dir.path().join("f"), b"").unwrap();
        let err = walk(&root, &["f", "y"], true, &place()).unwrap_err();
        assert!(
            matches!(&err, CapError::Conflict(m) if m.contains("`f` is a file, not a directory")),
            "{err:?}"
        );
    }

    #[test]
    fn a_target_that_is_itself_a_link_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        // Linux says ENOTDIR for O_DIRECTORY | O_NOFOLLOW on a link.
        assert!(matches!(open_root(&link), Err(Errno::NOTDIR | Errno::LOOP)));
    }
}
