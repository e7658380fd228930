//! `drhost prepare`: warm the compile cache ahead of an incident. Each
//! plugin is verified as `run` would (a component, a trusted signature, the
//! file the lock pins, a contract this host implements) and compiled into
//! the cache through the engine's own cache ([`Runtime::load_announced`]),
//! so the first `run` at 3 a.m. starts in milliseconds. It runs no plugin
//! code and writes no journal.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::engine::{CacheUse, Runtime};
use crate::error::{Error, Result};
use crate::plugin::{self, PluginFile};
use crate::trust::{self, lock::Lock, trust_file::TrustFile};

/// One plugin, prepared.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The plugin file.
    pub path: PathBuf,
    /// Its signed id and version, e.g. `db-restore 1.2.0`.
    pub name: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
    /// Whether it was compiled now (`false`: it already was, in the cache).
    pub compiled: bool,
    /// How long it took.
    pub took: Duration,
}

/// What every plugin is checked against: the trust file and the lock.
pub struct Checks<'a> {
    /// The keys that may vouch for plugins.
    pub trust: &'a TrustFile,
    /// The pinned digests.
    pub lock: &'a Lock,
    /// Where the lock is, for messages.
    pub lock_path: Option<&'a Path>,
}

/// Verifies `path` as `run` would and makes sure its compilation is in the
/// runtime's cache. Refusals are the ones `run` would give (exit 3).
pub fn prepare(runtime: &Runtime, path: &Path, checks: &Checks<'_>) -> Result<Prepared> {
    let began = Instant::now();
    let file = PluginFile::read_remembered(path, runtime.cache_dir())?;
    file.check_is_component()?;
    let (verdict, refusal) = trust::assess(&file, checks.trust, checks.lock, checks.lock_path, false);
    if let Some(refusal) = refusal {
        return Err(refusal.into());
    }
    let (component, cache) = runtime.load_announced(&file.bytes, &file.digest, |_| {})?;
    plugin::check_shape(runtime, &component, path)?;
    let compiled = match cache {
        CacheUse::Hit => false,
        CacheUse::Stored => true,
        CacheUse::NotStored(why) => {
            return Err(Error::Usage(format!(
                "{} compiles, but its compilation was not cached: {why} (choose a private --cache-dir)",
                path.display()
            )))
        }
    };
    let name = verdict
        .identity
        .as_ref()
        .map(|i| format!("{} {}", i.id, crate::console::plugin_text(&i.version)))
        .unwrap_or_else(|| "plugin".to_string());
    Ok(Prepared {
        path: path.to_owned(),
        name,
        digest: verdict.digest,
        compiled,
        took: began.elapsed(),
    })
}
