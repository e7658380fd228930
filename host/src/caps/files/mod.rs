//! `files`: files inside host directories the operator names by label
//! (`[targets.files.<label>]`), for certificates, keys and similar restored
//! material; `[[plugins.<id>.files]]` grants path globs inside one
//! directory with `read` (list, stat, read) and `write` (write, remove).
//!
//! What it refuses, whatever the grant:
//! - a path that is not relative, `/`-separated plain names (no `..`, `.`,
//!   empty name, NUL or control character): `invalid-argument`, before any
//!   grant or file is looked at;
//! - a symbolic link anywhere on the way or at the path: the directory is
//!   opened once, without following a link, when the plugin opens the
//!   label, and every name below it with `openat(…, O_NOFOLLOW)`
//!   (`nofollow.rs`). A link is `conflict`: nothing is read, written or
//!   removed through it, and a write never replaces one. `stat` and `list`
//!   report a link as `symlink` without entering it;
//! - setuid, setgid and sticky bits on a written file.
//!
//! A write is atomic (a temporary file beside the path, synced, renamed
//! over it, the directory synced: `write.rs`); missing parent directories
//! are made 0o700. Reads go into a blob and writes come from one, streamed
//! a chunk at a time; both count against the run's disk budget (a written
//! file stays counted). Every call is journaled with its target, path,
//! size, mode and the SHA-256 of what was read or written — never the
//! content.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use crate::bindings::types::Access;
use crate::caps::kit::gate::{Gate, TargetTable};
use crate::config::PluginGrants;

mod client;
pub(crate) mod grant;
mod host;
mod list;
mod nofollow;
pub(crate) mod path;
mod read;
mod write;

pub use grant::{allows_path, covers, denial, grant_lines, FilesAccess, FilesGrant, FilesTarget};
pub use list::{MAX_DEPTH, MAX_LIST_ENTRIES, MAX_WALK_ENTRIES};
pub use write::WRITABLE_MODE_BITS;

/// The directory of one label, held in the run's resource table: opened
/// once (no link followed at its last name) and walked from for every call.
pub struct Directory {
    label: String,
    /// The target's directory as configured, for the journal.
    path: PathBuf,
    root: Arc<OwnedFd>,
}

/// `[targets.files.LABEL]`.
pub(crate) const TARGETS: TargetTable = TargetTable {
    capability: "files",
    title: "files",
    keys: "path = \"/ABSOLUTE/DIRECTORY\"",
};

/// `files` needs: a target label; `write` and `admin` ask for write.
pub(crate) const GATE: Gate = Gate {
    capability: "files",
    covers,
    advice: need_lines,
    changes: |grants| crate::caps::kit::gate::changed_targets(&grants.files, &[FilesAccess::Write]),
};

/// The TOML that would cover a `files` need: the grant, and the target
/// when it is not configured.
fn need_lines(grants: &PluginGrants, id: &str, label: &str, access: Access) -> String {
    let access = grant::need_access(access);
    TARGETS.with_table(grant_lines(id, label, "PATH/*", access), &grants.files_targets, label)
}
