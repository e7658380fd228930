//! Temporary directories and files the tests make: configs, journals, keys,
//! scratch files. Each is removed when its owner is dropped (also while a
//! failed test unwinds), so a test run leaves nothing in the temp directory.
//!
//! `DRHOST_KEEP_TMP=1` keeps them instead, to look at what a failed test
//! left behind (its config, its journal): each kept path is printed on
//! stderr, which the test harness shows for failed tests.

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// Whether `DRHOST_KEEP_TMP=1` asks to keep temporary directories.
pub fn keep_tmp() -> bool {
    std::env::var_os("DRHOST_KEEP_TMP").is_some_and(|v| v == "1")
}

/// A fresh directory in the temp directory, removed on drop (see the
/// module's documentation for `DRHOST_KEEP_TMP`).
#[derive(Debug)]
pub struct TmpDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TmpDir {
    /// A new directory named `<prefix><random>`.
    pub fn new(prefix: &str) -> TmpDir {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot make a temporary directory {prefix}…: {e}"));
        TmpDir {
            path: dir.path().to_path_buf(),
            dir: Some(dir),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Writes `contents` to `name` in the directory and hands the directory
    /// to the returned file, which removes it on drop.
    pub fn into_file(self, name: &str, contents: impl AsRef<[u8]>) -> TmpFile {
        let path = self.write(name, contents);
        TmpFile { path, _dir: self }
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if keep_tmp() {
                eprintln!("DRHOST_KEEP_TMP=1: kept {}", dir.keep().display());
            }
            // Otherwise `dir` is dropped here, removing the directory.
        }
    }
}

impl Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TmpDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<OsStr> for TmpDir {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}

/// A file in a [`TmpDir`] of its own, removed with it on drop. Derefs to its
/// path, so it goes wherever a `&Path` does.
#[derive(Debug)]
pub struct TmpFile {
    path: PathBuf,
    _dir: TmpDir,
}

impl TmpFile {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Deref for TmpFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TmpFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<OsStr> for TmpFile {
    fn as_ref(&self) -> &OsStr {
        self.path.as_os_str()
    }
}
