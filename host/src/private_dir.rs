//! Where drhost keeps its own state (journals, the compile cache, the trust
//! file and lock), and the check that keeps it private.
//!
//! Every such directory is the user's: created 0700, and refused when it is
//! a link, owned by someone else, or writable by group or others — a
//! journal there could be rewritten, a cached compilation replaced by native
//! code of someone else's choosing. Nothing ever falls back to a shared
//! directory such as `/tmp` when `HOME` is unset.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// `$XDG_VAR`, else `$HOME/HOME_RELATIVE`; `None` when neither is set.
pub fn user_base(xdg_var: &str, home_relative: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(xdg_var).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| PathBuf::from(home).join(home_relative))
}

/// Creates `dir` (and its parents) with mode 0700 when missing, then checks
/// that `dir` itself is private: a real directory (not a link), owned by
/// this process's user, not writable by group or others.
pub fn ensure(dir: &Path) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    check(dir)
}

/// Checks that an existing `dir` is private (see [`ensure`]).
pub fn check(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory (a link is not accepted)", dir.display()));
    }
    if meta.uid() != my_uid() {
        return Err(format!(
            "{} belongs to uid {}, not to this user (uid {}); use a directory of your own",
            dir.display(),
            meta.uid(),
            my_uid()
        ));
    }
    if !owned_privately(&meta) {
        return Err(format!(
            "{} is writable by group or others (mode {:o}); run `chmod go-w {}` or use a private directory",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        ));
    }
    Ok(())
}

/// Whether a file or directory belongs to this user and nobody else may
/// write it (no group or other write bit).
pub fn owned_privately(meta: &std::fs::Metadata) -> bool {
    meta.uid() == my_uid() && meta.mode() & 0o022 == 0
}

fn my_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_directories_are_made_and_shared_ones_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        super::ensure(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(super::ensure(&dir).unwrap_err().contains("writable by group or others"));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path().join("a"), &link).unwrap();
        assert!(super::check(&link).unwrap_err().contains("not a directory"));
    }
}
