//! `drhost.lock`: which exact plugin file each plugin id is pinned to.
//!
//! ```toml
//! [plugins.hello]
//! version = "0.1.0"
//! digest = "sha256:…"
//! source = "oci://127.0.0.1:27500/drhost/hello@sha256:…"
//! signers = ["lab-dev"]
//! ```
//!
//! This module reads, compares and rewrites the lock; it never verifies a
//! signature (callers pass only verified plugins to [`Lock::pin`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TrustError;
use crate::error::Error;

/// A parsed lock file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Pins per plugin id.
    #[serde(default)]
    pub plugins: BTreeMap<String, LockEntry>,
}

/// One pinned plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// Its version.
    pub version: String,
    /// sha256 of the plugin file, `sha256:<hex>`.
    pub digest: String,
    /// Where it came from (`oci://…@sha256:…`, or a file path).
    pub source: String,
    /// The trusted key ids that signed it.
    pub signers: Vec<String>,
}

/// How a plugin compares with its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockCheck {
    /// Not pinned (no lock file, or no entry for the id).
    Unpinned,
    /// Exactly the pinned file.
    Matches,
    /// An older version than the pin.
    Downgrade(LockEntry),
    /// Another file than the pin, not older.
    Differs(LockEntry),
}

impl Lock {
    /// Reads a lock file; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lock, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => crate::config::parse_toml(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(Error::Config {
                path: path.to_owned(),
                line: 0,
                column: 0,
                message: format!("cannot read the lock file: {e}"),
            }),
        }
    }

    /// Writes the lock (atomically), creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), TrustError> {
        let io = |e: String| TrustError::Io {
            path: path.to_owned(),
            reason: e,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
        }
        let body = toml::to_string_pretty(self).map_err(|e| io(e.to_string()))?;
        let text = format!("# drhost.lock: the exact plugin files this host runs. Written by `drhost pull` and `drhost lock`.\n\n{body}");
        super::signature::write_atomically(path, text.as_bytes())
    }

    /// Compares plugin `id` at `version` with digest `digest` against its pin.
    pub fn check(&self, id: &str, version: &str, digest: &str) -> LockCheck {
        match self.plugins.get(id) {
            None => LockCheck::Unpinned,
            Some(pin) if pin.digest == digest => LockCheck::Matches,
            Some(pin) if is_older(version, &pin.version) => LockCheck::Downgrade(pin.clone()),
            Some(pin) => LockCheck::Differs(pin.clone()),
        }
    }

    /// Pins `id` to `entry`, replacing any previous pin.
    pub fn pin(&mut self, id: &str, entry: LockEntry) {
        self.plugins.insert(id.to_string(), entry);
    }
}

/// Where the lock of a directory bundle lives.
pub fn bundle_lock(dir: &Path) -> PathBuf {
    dir.join("drhost.lock")
}

/// `a < b` by semver precedence (numeric major.minor.patch; a pre-release is
/// older than its release). A version that does not parse is older than one
/// that does (it cannot prove it is newer, so replacing a pinned release with
/// it needs `--allow-downgrade`); two unparsable versions are never "older".
pub fn is_older(a: &str, b: &str) -> bool {
    fn parse(v: &str) -> Option<((u64, u64, u64), bool)> {
        let v = v.trim().trim_start_matches('v');
        let (core, pre) = match v.split_once('-') {
            Some((c, _)) => (c, true),
            None => (v.split('+').next().unwrap_or(v), false),
        };
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        Some(((parts.next()??, parts.next()??, parts.next()??), pre))
    }
    match (parse(a), parse(b)) {
        (Some((ca, pa)), Some((cb, pb))) => ca < cb || (ca == cb && pa && !pb),
        (None, Some(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_semver() {
        assert!(is_older("0.1.0", "0.2.0"));
        assert!(is_older("0.9.9", "0.10.0"));
        assert!(is_older("1.0.0-rc1", "1.0.0"));
        assert!(!is_older("1.0.0", "1.0.0"));
        assert!(!is_older("2.0.0", "1.9.0"));
        assert!(is_older("junk", "1.0.0"));
        assert!(is_older("", "0.1.0"));
        assert!(!is_older("1.0.0", "junk"));
        assert!(!is_older("junk", "other"));
    }

    #[test]
    fn check_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drhost.lock");
        let mut lock = Lock::load(&path).unwrap();
        assert_eq!(lock.check("hello", "0.1.0", "sha256:aa"), LockCheck::Unpinned);
        let entry = LockEntry {
            version: "0.2.0".into(),
            digest: "sha256:aa".into(),
            source: "x".into(),
            signers: vec!["k".into()],
        };
        lock.pin("hello", entry.clone());
        lock.save(&path).unwrap();
        let lock = Lock::load(&path).unwrap();
        assert_eq!(lock.check("hello", "0.2.0", "sha256:aa"), LockCheck::Matches);
        assert_eq!(
            lock.check("hello", "0.1.0", "sha256:bb"),
            LockCheck::Downgrade(entry.clone())
        );
        assert_eq!(lock.check("hello", "0.2.0", "sha256:bb"), LockCheck::Differs(entry));
    }
}
