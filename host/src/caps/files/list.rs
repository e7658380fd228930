//! `list`: a walk of a target's directory, depth first, never entering a
//! link (a link is listed as `symlink`, like anything else the grants let
//! the plugin read) and never entering a directory that neither the
//! plugin's glob nor a granted glob can reach.
//!
//! What is returned is what the glob matches *and* a `read` grant allows:
//! an ungranted path never appears, not even as a count. The walk is
//! bounded: at most [`MAX_LIST_ENTRIES`] entries returned,
//! [`MAX_WALK_ENTRIES`] names looked at and [`MAX_DEPTH`] directories
//! deep; past any of them the call fails whole (`invalid-argument`)
//! rather than return part of the answer.

use std::os::fd::OwnedFd;
use std::time::Instant;

use globset::GlobMatcher;
use rustix::fs::{Dir, FileType, Mode};
use rustix::io::Errno;

use super::nofollow::{entry, lstat, Place, DIR_FLAGS};
use crate::bindings::drhost::runbook::files::Entry;
use crate::bindings::types::Error as CapError;

/// Most entries one `list` returns.
pub const MAX_LIST_ENTRIES: usize = 10_000;
/// Most names one `list` looks at, matching or not.
pub const MAX_WALK_ENTRIES: usize = 100_000;
/// Deepest directory a `list` enters.
pub const MAX_DEPTH: usize = 128;

/// The globs a listing answers to: the plugin's, and the granted ones.
pub(super) struct Filter<'a> {
    /// The plugin's glob as written (for the walk's pruning).
    pub glob: &'a str,
    /// The plugin's glob, compiled.
    pub wanted: GlobMatcher,
    /// The `read` globs of the target, as written.
    pub granted: Vec<&'a str>,
    /// The same, compiled.
    pub allowed: Vec<GlobMatcher>,
}

impl Filter<'_> {
    fn shows(&self, path: &str) -> bool {
        self.wanted.is_match(path) && self.allowed.iter().any(|g| g.is_match(path))
    }

    fn enters(&self, dir: &str) -> bool {
        super::grant::may_hold(std::iter::once(self.glob), dir)
            && super::grant::may_hold(self.granted.iter().copied(), dir)
    }
}

/// The entries under `root` that `filter` shows, sorted by path.
pub(super) fn list(root: &OwnedFd, filter: &Filter, place: &Place, deadline: Instant) -> Result<Vec<Entry>, CapError> {
    let too_many = |what: String| {
        CapError::InvalidArgument(format!(
            "files list of `{}` on target `{}`: {what}; list a narrower glob",
            place.path, place.label
        ))
    };
    let top = rustix::fs::openat(root, ".", DIR_FLAGS, Mode::empty()).map_err(|e| place.os("opening", ".", e))?;
    let mut stack = vec![(Dir::new(top).map_err(|e| place.os("listing", ".", e))?, String::new())];
    let mut found = Vec::new();
    let mut looked = 0usize;
    while let Some((dir, prefix)) = stack.last_mut() {
        let Some(item) = dir.read() else {
            stack.pop();
            continue;
        };
        let item = item.map_err(|e| unreadable(filter, prefix, place, e))?;
        let name = item.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        looked += 1;
        if looked > MAX_WALK_ENTRIES {
            return Err(too_many(format!(
                "the walk looked at more than {MAX_WALK_ENTRIES} names"
            )));
        }
        if looked.is_multiple_of(1024) && Instant::now() >= deadline {
            return Err(CapError::Timeout(format!(
                "files list of `{}` on target `{}`: the run's deadline passed during the walk",
                place.path, place.label
            )));
        }
        // A name that is not UTF-8 cannot be named back by the plugin: skipped.
        let Ok(name) = std::str::from_utf8(name) else { continue };
        let path = format!("{prefix}{name}");
        let fd = dir.fd().map_err(|e| place.os("listing", prefix, e))?;
        let stat = match lstat(fd, name) {
            Ok(stat) => stat,
            // Removed while the walk ran.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(unreadable(filter, &path, place, e)),
        };
        if filter.shows(&path) {
            if found.len() == MAX_LIST_ENTRIES {
                return Err(too_many(format!("more than {MAX_LIST_ENTRIES} entries match")));
            }
            found.push(entry(path.clone(), &stat));
        }
        let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
        if !is_dir || !filter.enters(&path) {
            continue;
        }
        let child = match rustix::fs::openat(fd, name, DIR_FLAGS, Mode::empty()) {
            Ok(child) => child,
            // Removed, or replaced by a link, while the walk ran: not entered.
            Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => continue,
            Err(e) => return Err(unreadable(filter, &path, place, e)),
        };
        if stack.len() >= MAX_DEPTH {
            return Err(too_many(format!("the directories go deeper than {MAX_DEPTH} levels")));
        }
        let child = Dir::new(child).map_err(|e| unreadable(filter, &path, place, e))?;
        stack.push((child, format!("{path}/")));
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// A directory the walk could not read: named only when the plugin may
/// read that path, so an error never shows an ungranted name.
fn unreadable(filter: &Filter, path: &str, place: &Place, e: Errno) -> CapError {
    let path = path.trim_end_matches('/');
    let named = if filter.allowed.iter().any(|g| g.is_match(path)) {
        format!("`{path}`")
    } else {
        "a directory the grant does not show".to_string()
    };
    let reason = crate::config::os_reason(&std::io::Error::from(e));
    CapError::Failed(format!(
        "files list of `{}` on target `{}`: cannot read {named}: {reason}",
        place.path, place.label
    ))
}
