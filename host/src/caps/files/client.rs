//! The `files` capability's checks and calls: opening a label's directory,
//! the path and grant check every call makes first, and the filesystem
//! work (`read.rs`, `write.rs`, `list.rs` over `nofollow.rs`) run off the
//! async threads.

use std::sync::Arc;

use rustix::io::Errno;

use super::grant::{allows_path, denial, grant_lines, granted_globs};
use super::list::Filter;
use super::nofollow::{blocking, entry, lstat, walk, Place};
use super::path::RelPath;
use super::read::Copied;
use super::write::{check_mode, Source, Written};
use super::{Directory, FilesAccess, TARGETS};
use crate::bindings::drhost::runbook::files::Entry;
use crate::bindings::types::Error as CapError;
use crate::caps::blob::Blob;
use crate::caps::kit::gate::require;
use crate::caps::kit::pattern::grant_glob;
use crate::caps::kit::text::not_granted;
use crate::sandbox::RunContext;

/// Opens the directory of `label`, when a grant names it.
pub(super) fn open(ctx: &RunContext, label: &str) -> Result<Directory, CapError> {
    let refusal = || {
        let grant = grant_lines(&ctx.plugin_id, label, "PATH/*", FilesAccess::Read);
        not_granted(&format!("files target `{label}`"), &ctx.plugin_id, &grant)
    };
    let target = TARGETS.granted(&ctx.grants.files, &ctx.grants.files_targets, label, refusal)?;
    let shown = target.path.display();
    let root = super::nofollow::open_root(&target.path).map_err(|e| match e {
        Errno::NOENT => CapError::NotFound(format!(
            "files target `{label}`: the directory {shown} does not exist; the operator creates it or corrects [targets.files.{label}] path"
        )),
        Errno::LOOP | Errno::NOTDIR => {
            let what = match std::fs::symlink_metadata(&target.path) {
                Ok(meta) if meta.file_type().is_symlink() => "a symbolic link, which drhost does not follow",
                _ => "not a directory",
            };
            CapError::Unavailable(format!(
                "files target `{label}`: {shown} is {what}; the operator names the real directory in [targets.files.{label}] path"
            ))
        }
        e => CapError::Unavailable(format!(
            "files target `{label}`: cannot open {shown}: {}",
            crate::config::os_reason(&std::io::Error::from(e))
        )),
    })?;
    Ok(Directory {
        label: label.to_string(),
        path: target.path.clone(),
        root: Arc::new(root),
    })
}

/// `path` as a checked relative path that the grants let the plugin use
/// with `access`: `invalid-argument` when it is not a plain relative path,
/// `access-denied` (with the TOML) when no grant covers it.
pub(super) fn check(
    ctx: &RunContext,
    dir: &Directory,
    what: &str,
    path: &str,
    access: FilesAccess,
) -> Result<RelPath, CapError> {
    let label = &dir.label;
    let checked = RelPath::parse(path).map_err(|flaw| {
        CapError::InvalidArgument(format!(
            "files {what} of `{path}` on target `{label}` is refused: {flaw}"
        ))
    })?;
    require(allows_path(&ctx.grants.files, label, checked.as_str(), access), || {
        denial(&ctx.plugin_id, label, what, path, access)
    })?;
    Ok(checked)
}

/// `mode` when a write may give it.
pub(super) fn check_write_mode(dir: &Directory, path: &str, mode: u32) -> Result<u32, CapError> {
    check_mode(mode).map_err(|why| {
        CapError::InvalidArgument(format!(
            "files write of `{path}` on target `{}` is refused: {why}",
            dir.label
        ))
    })
}

/// The `lstat` of `path`.
pub(super) async fn stat(dir: &Directory, path: RelPath) -> Result<Entry, CapError> {
    let (root, label) = (dir.root.clone(), dir.label.clone());
    blocking(move || {
        let place = Place {
            what: "stat",
            label: &label,
            path: path.as_str(),
        };
        let (dirs, name) = path.split();
        let (parent, _) = walk(&root, &dirs, false, &place)?;
        let stat = lstat(&parent, name).map_err(|e| place.os("looking at", path.as_str(), e))?;
        Ok(entry(path.as_str().to_string(), &stat))
    })
    .await
}

/// `path` copied into a new blob.
pub(super) async fn read(ctx: &RunContext, dir: &Directory, path: RelPath) -> Result<Copied, CapError> {
    let (root, label) = (dir.root.clone(), dir.label.clone());
    let charge = ctx
        .disk
        .charge(&format!("files read of `{}` on target `{label}`", path.as_str()));
    let (blob_dir, deadline) = (ctx.blob_dir()?.to_owned(), ctx.deadline);
    blocking(move || {
        let place = Place {
            what: "read",
            label: &label,
            path: path.as_str(),
        };
        super::read::read(&root, &path, &place, &blob_dir, charge, deadline)
    })
    .await
}

/// `blob` written to `path` with `mode`.
pub(super) async fn write(
    ctx: &RunContext,
    dir: &Directory,
    path: RelPath,
    blob: &Blob,
    mode: u32,
) -> Result<Written, CapError> {
    let (root, label) = (dir.root.clone(), dir.label.clone());
    let charge = ctx
        .disk
        .charge(&format!("files write of `{}` on target `{label}`", path.as_str()));
    let (file, size, sha256) = (blob.path().to_owned(), blob.size(), blob.sha256().to_string());
    let deadline = ctx.deadline;
    blocking(move || {
        let place = Place {
            what: "write",
            label: &label,
            path: path.as_str(),
        };
        let source = Source {
            file: &file,
            size,
            sha256: &sha256,
        };
        super::write::write(&root, &path, &place, source, mode, charge, deadline)
    })
    .await
}

/// Removes the file at `path`; false when there was none.
pub(super) async fn remove(dir: &Directory, path: RelPath) -> Result<bool, CapError> {
    let (root, label) = (dir.root.clone(), dir.label.clone());
    blocking(move || {
        let place = Place {
            what: "remove",
            label: &label,
            path: path.as_str(),
        };
        super::write::remove(&root, &path, &place)
    })
    .await
}

/// The entries `glob` matches that the grants let the plugin read.
pub(super) async fn list(ctx: &RunContext, dir: &Directory, glob: &str) -> Result<Vec<Entry>, CapError> {
    let label = dir.label.clone();
    let refused =
        |why: &str| CapError::InvalidArgument(format!("files list of `{glob}` on target `{label}` is refused: {why}"));
    if glob.starts_with('/') || glob.contains('\0') {
        return Err(refused(
            "the glob is matched against relative paths (e.g. \"certs/*.pem\" or \"**\")",
        ));
    }
    let wanted = grant_glob(glob).ok_or_else(|| refused("it is not a valid glob"))?;
    let granted: Vec<String> = granted_globs(&ctx.grants.files, &label, FilesAccess::Read)
        .map(str::to_string)
        .collect();
    require(!granted.is_empty(), || {
        let subject = format!("files list on target `{label}` needs `read` access to some paths, which");
        let grant = grant_lines(&ctx.plugin_id, &label, glob, FilesAccess::Read);
        not_granted(&subject, &ctx.plugin_id, &grant)
    })?;
    let (root, glob, deadline) = (dir.root.clone(), glob.to_string(), ctx.deadline);
    blocking(move || {
        let filter = Filter {
            glob: &glob,
            wanted,
            granted: granted.iter().map(String::as_str).collect(),
            allowed: granted.iter().filter_map(|g| grant_glob(g)).collect(),
        };
        let place = Place {
            what: "list",
            label: &label,
            path: &glob,
        };
        super::list::list(&root, &filter, &place, deadline)
    })
    .await
}
