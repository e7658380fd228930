//! The wasmtime engine and the on-disk cache of compiled plugins.
//!
//! One engine per process, configured for the component model, async host
//! calls and epoch interruption (a ticker thread advances the epoch every
//! [`EPOCH_TICK`]). Compiled components are cached under
//! `<cache>/<digest>-<engine hash>.cwasm`, so a second run of the same plugin
//! loads in about a millisecond instead of compiling.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::error::{Error, Result};
use crate::sandbox::RunState;

/// How often the epoch advances; the deadline is checked at this grain.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine, the linker with every capability, and the compile cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<RunState>,
    cache_dir: Option<PathBuf>,
}

impl Runtime {
    /// Builds the engine and linker and starts the epoch ticker.
    /// `cache_dir = None` disables the compile cache.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine =
            Engine::new(&config).map_err(|e| Error::Internal(format!("cannot start the wasm engine: {e:#}")))?;
        let mut linker = Linker::new(&engine);
        // Plugins built against an older 0.1.x contract link to this one.
        linker.allow_shadowing(false);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| crate::caps::add_to_linker(&mut linker))
            .map_err(|e| Error::Internal(format!("cannot link host capabilities: {e:#}")))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("drhost-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Runtime {
            engine,
            linker,
            cache_dir,
        })
    }

    /// Whether compilations are cached on disk.
    pub fn caches(&self) -> bool {
        self.cache_dir.is_some()
    }

    /// Where compilations are cached, if they are.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker holding WASI (no ambient authority) and every capability.
    pub fn linker(&self) -> &Linker<RunState> {
        &self.linker
    }

    /// Compiles `bytes` (a component whose sha256 is `digest`), or loads the
    /// cached compilation. Returns the component and whether it was cached.
    pub fn load(&self, bytes: &[u8], digest: &str) -> Result<(Component, bool)> {
        let (component, cache) = self.load_announced(bytes, digest, |_| {})?;
        Ok((component, cache == CacheUse::Hit))
    }

    /// [`Runtime::load`], calling `compiling` just before a compilation
    /// starts (a cache miss: seconds for a large plugin), with whether the
    /// result will be cached; and saying what the cache did.
    pub fn load_announced(
        &self,
        bytes: &[u8],
        digest: &str,
        compiling: impl FnOnce(bool),
    ) -> Result<(Component, CacheUse)> {
        let cached = self.cache_path(digest);
        if let Some(path) = &cached {
            if let Some(compiled) = read_verified(path) {
                // SAFETY: these bytes were written by `Component::serialize` of
                // this engine configuration (the name carries the compatibility
                // hash) into a private directory of this user, and they still
                // have the SHA-256 recorded beside them when they were written.
                if let Ok(component) = unsafe { Component::deserialize(&self.engine, &compiled) } {
                    return Ok((component, CacheUse::Hit));
                }
                let _ = std::fs::remove_file(path);
            }
        }
        compiling(cached.is_some());
        let component = Component::new(&self.engine, bytes).map_err(|e| {
            Error::Refused(format!(
                "the plugin is not a valid component: {}",
                first_line(&format!("{e:#}"))
            ))
        })?;
        let cache = match cached {
            None if self.cache_dir.is_none() => CacheUse::NotStored("the compile cache is off".into()),
            None => CacheUse::NotStored("the cache directory is not private".into()),
            Some(path) => match store_atomically(&path, &component) {
                Ok(()) => CacheUse::Stored,
                Err(e) => CacheUse::NotStored(format!("cannot write {}: {e}", path.display())),
            },
        };
        Ok((component, cache))
    }

    /// Where the compilation of `digest` is cached; `None` without a cache,
    /// or when the cache directory is not private (said once on stderr: a
    /// directory others can write could hand this process native code).
    fn cache_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        if let Err(why) = crate::private_dir::ensure(dir) {
            eprintln!("drhost: warning: not using the compile cache: {why}");
            return None;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(dir.join(format!("{digest}-{:016x}.cwasm", hasher.finish())))
    }
}

/// What the compile cache did for one [`Runtime::load_announced`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheUse {
    /// A verified cached compilation was loaded: no compiling.
    Hit,
    /// Compiled now, and stored for the next run.
    Stored,
    /// Compiled now, not stored: why.
    NotStored(String),
}

/// The file beside a cached compilation that holds its SHA-256.
fn sum_path(path: &Path) -> PathBuf {
    path.with_extension("cwasm.sha256")
}

/// A cached compilation's bytes, when the file is a regular file of this
/// user (not a link) and its SHA-256 is the one recorded beside it.
fn read_verified(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let expected = std::fs::read_to_string(sum_path(path)).ok()?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !crate::private_dir::owned_privately(&meta) {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).ok()?;
    (hex::encode(sha2::Sha256::digest(&bytes)) == expected.trim()).then_some(bytes)
}

fn store_atomically(path: &Path, component: &Component) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = path.parent().ok_or("cache path has no parent")?;
    let bytes = component.serialize().map_err(|e| e.to_string())?;
    let sum = hex::encode(sha2::Sha256::digest(&bytes));
    // The sum first: a compilation never stands without the sum that vouches for it.
    for (target, content) in [(sum_path(path), sum.as_bytes()), (path.to_owned(), &bytes[..])] {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, content)?;
        tmp.persist(target)?;
    }
    Ok(())
}

/// `$XDG_CACHE_HOME/drhost/components`, else `~/.cache/drhost/components`;
/// `None` (no compile cache) when neither variable is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    crate::private_dir::user_base("XDG_CACHE_HOME", ".cache").map(|base| base.join("drhost").join("components"))
}

pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
