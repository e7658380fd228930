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

/// The plugin files named by `args`: files as given, directories as every
/// `*.wasm` directly in them (sorted). A directory without one is an error.
pub fn plugin_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let entries = std::fs::read_dir(arg).map_err(|e| {
            Error::Usage(format!(
                "cannot list {}: {}",
                arg.display(),
                crate::config::os_reason(&e)
            ))
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds no *.wasm plugin: name plugin files or a directory of them",
                arg.display()
            )));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
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
    let file = PluginFile::read(path)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_means_its_wasm_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.wasm", "a.wasm", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.wasm")).unwrap();
        let files = plugin_files(&[dir.path().to_owned(), PathBuf::from("x.wasm")]).unwrap();
        assert_eq!(
            files,
            [
                dir.path().join("a.wasm"),
                dir.path().join("b.wasm"),
                PathBuf::from("x.wasm")
            ]
        );
        let empty = tempfile::tempdir().unwrap();
        let err = plugin_files(&[empty.path().to_owned()]).unwrap_err();
        assert!(err.to_string().contains("holds no *.wasm plugin"), "{err}");
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }
}
