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
        let cached = self.cache_path(digest);
        if let Some(path) = &cached {
            if path.exists() {
                // SAFETY: the file was written by `Component::serialize` of this
                // engine configuration (the name carries the compatibility hash)
                // into the operator's own cache directory.
                if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, path) } {
                    return Ok((component, true));
                }
                let _ = std::fs::remove_file(path);
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| {
            Error::Refused(format!(
                "the plugin is not a valid component: {}",
                first_line(&format!("{e:#}"))
            ))
        })?;
        if let Some(path) = cached {
            let _ = store_atomically(&path, &component);
        }
        Ok((component, false))
    }

    fn cache_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(dir.join(format!("{digest}-{:016x}.cwasm", hasher.finish())))
    }
}

fn store_atomically(path: &Path, component: &Component) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let dir = path.parent().ok_or("cache path has no parent")?;
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(|e| e.to_string())?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.persist(path)?;
    Ok(())
}

/// `$XDG_CACHE_HOME/drhost/components`, else `~/.cache/drhost/components`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/tmp".into())
                .join(".cache")
        });
    base.join("drhost").join("components")
}

pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
