//! Where the trust file and the lock file are: a flag, else `[trust]` in
//! drhost.toml, else `$DRHOST_TRUST` / `$DRHOST_LOCK`, else the user's
//! config directory. It finds and reads the files; it judges nothing.

use std::path::{Path, PathBuf};

use super::lock::Lock;
use super::trust_file::TrustFile;
use crate::config::Config;
use crate::error::Error;

/// Environment variable naming the trust file when drhost.toml has no `[trust] file`.
pub const TRUST_ENV: &str = "DRHOST_TRUST";
/// Environment variable naming the lock file when drhost.toml has no `[trust] lock`.
pub const LOCK_ENV: &str = "DRHOST_LOCK";

/// Where the trust and lock files are.
#[derive(Debug, Clone, Default)]
pub struct TrustPaths {
    /// The trust file; `None` when none is configured and the default is absent.
    pub trust: Option<PathBuf>,
    /// The lock file; `None` when none is configured and the default is absent.
    pub lock: Option<PathBuf>,
}

impl TrustPaths {
    /// Flags, else `[trust]` in drhost.toml (relative to it), else
    /// `$DRHOST_TRUST` / `$DRHOST_LOCK`, else
    /// `$XDG_CONFIG_HOME/drhost/{trust.toml,drhost.lock}` when they exist.
    pub fn locate(
        trust_flag: Option<&Path>,
        lock_flag: Option<&Path>,
        config: &Config,
        config_path: Option<&Path>,
    ) -> TrustPaths {
        let base = config_path.and_then(Path::parent).unwrap_or(Path::new(""));
        let pick = |flag: Option<&Path>, configured: Option<&PathBuf>, env: &str, default_name: &str| {
            flag.map(Path::to_path_buf)
                .or_else(|| configured.map(|p| base.join(p)))
                .or_else(|| std::env::var_os(env).filter(|v| !v.is_empty()).map(PathBuf::from))
                .or_else(|| {
                    config_home()
                        .map(|h| h.join("drhost").join(default_name))
                        .filter(|p| p.exists())
                })
        };
        TrustPaths {
            trust: pick(trust_flag, config.trust.file.as_ref(), TRUST_ENV, "trust.toml"),
            lock: pick(lock_flag, config.trust.lock.as_ref(), LOCK_ENV, "drhost.lock"),
        }
    }

    /// Where a new lock goes when none is configured; an error naming the
    /// fix when there is no lock and no `HOME` to put one in.
    pub fn lock_or_default(&self) -> Result<PathBuf, Error> {
        self.lock
            .clone()
            .or_else(|| config_home().map(|h| h.join("drhost").join("drhost.lock")))
            .ok_or_else(|| Error::Usage("no lock file is configured and neither HOME nor XDG_CONFIG_HOME is set: pass --lock FILE (or [trust] lock in drhost.toml)".into()))
    }

    /// Reads the trust file (none configured: trusts nothing).
    pub fn load_trust(&self) -> Result<TrustFile, Error> {
        self.trust
            .as_deref()
            .map(TrustFile::load)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Reads the lock (none configured or absent: pins nothing).
    pub fn load_lock(&self) -> Result<Lock, Error> {
        self.lock
            .as_deref()
            .map(Lock::load)
            .transpose()
            .map(Option::unwrap_or_default)
    }
}

/// `$XDG_CONFIG_HOME`, else `~/.config`; never a shared directory.
fn config_home() -> Option<PathBuf> {
    crate::private_dir::user_base("XDG_CONFIG_HOME", ".config")
}
