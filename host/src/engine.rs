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
use crate::file_stamp::{write_atomically, Stamp};
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
            if let Some(component) = self.load_verified(path) {
                return Ok((component, CacheUse::Hit));
            }
            if path.exists() {
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

    /// The cached compilation at `path`, when it is a regular file of this
    /// user (not a link) whose checksum is the one recorded beside it when
    /// it was written ([`Checksum`]). The file is checked and then mapped
    /// through the same open file (`/proc/self/fd/N`), so what is mapped is
    /// what was checked, without reading 35 MB (a Python plugin) into memory
    /// twice; and wasmtime maps the plugin's memory image copy-on-write from
    /// that file instead of building it in anonymous memory.
    ///
    /// The sum file's second line, when there is one, is the compilation's
    /// [stamp](crate::file_stamp) when it was last checked: a file with that
    /// very stamp has not changed since, and is not checked again (35 MB of
    /// SHA-256 on every run of a Python plugin otherwise).
    fn load_verified(&self, path: &Path) -> Option<Component> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let recorded = std::fs::read_to_string(sum_path(path)).ok()?;
        let mut lines = recorded.lines();
        let expected = lines.next()?.to_string();
        let checked_stamp = lines.next().and_then(Stamp::parse);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || !crate::private_dir::owned_privately(&meta) {
            return None;
        }
        let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if !by_fd.exists() {
            // No /proc: read the bytes once, check them, load from memory.
            let bytes = read_all(&file, meta.len()).ok()?;
            if !Checksum::of_bytes(&bytes).matches(&expected) {
                return None;
            }
            // SAFETY: as below; these are the very bytes just checked.
            return unsafe { Component::deserialize(&self.engine, &bytes) }.ok();
        }
        let stamp = Stamp::of(&meta);
        if checked_stamp != Some(stamp) {
            if !Checksum::of_file(&file, meta.len())?.matches(&expected) {
                return None;
            }
            if stamp.settled(std::time::SystemTime::now()) {
                let _ = write_atomically(&sum_path(path), format!("{expected}\n{}\n", stamp.line()).as_bytes());
            }
        }
        // SAFETY: the file was written by `Component::serialize` of this
        // engine configuration (the name carries the compatibility hash) into
        // a private directory of this user, only this user may write it, and
        // it still has the checksum recorded beside it when it was written.
        // `/proc/self/fd/N` reopens the inode just checked, even if the name
        // was replaced in between.
        let component = unsafe { Component::deserialize_file(&self.engine, &by_fd) }.ok();
        drop(file);
        component
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

fn read_all(mut file: &std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// What the file beside a cached compilation records: a SHA-256 tree over
/// [`Checksum::CHUNK`]-byte chunks (`sha256-tree-4MiB:<hex>`: the SHA-256 of
/// the length and every chunk's SHA-256), so that a large compilation is
/// checked on every core at once — a Python plugin's 35 MB in half the time
/// of one SHA-256 on two cores. A file written by an older drhost (a plain
/// SHA-256) does not match: that plugin is compiled once more.
#[derive(Debug, PartialEq, Eq)]
struct Checksum(String);

impl Checksum {
    const CHUNK: usize = 4 << 20;
    const PREFIX: &'static str = "sha256-tree-4MiB:";

    fn of_bytes(bytes: &[u8]) -> Checksum {
        let chunks: Vec<[u8; 32]> = bytes
            .chunks(Self::CHUNK)
            .map(|c| sha2::Sha256::digest(c).into())
            .collect();
        Self::root(bytes.len() as u64, &chunks)
    }

    /// The checksum of an open file of `len` bytes, its chunks read and
    /// hashed by up to two threads; `None` if it cannot be read whole.
    fn of_file(file: &std::fs::File, len: u64) -> Option<Checksum> {
        use std::os::unix::fs::FileExt;
        let len_usize = usize::try_from(len).ok()?;
        let count = len_usize.div_ceil(Self::CHUNK);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 2)
            .min(count.max(1));
        let hash_chunks = |first: usize| -> Option<Vec<(usize, [u8; 32])>> {
            let mut buf = vec![0u8; Self::CHUNK];
            let mut out = Vec::new();
            for index in (first..count).step_by(threads) {
                let start = index * Self::CHUNK;
                let size = Self::CHUNK.min(len_usize - start);
                file.read_exact_at(&mut buf[..size], start as u64).ok()?;
                out.push((index, sha2::Sha256::digest(&buf[..size]).into()));
            }
            Some(out)
        };
        let mut found: Vec<(usize, [u8; 32])> = std::thread::scope(|scope| {
            let others: Vec<_> = (1..threads).map(|t| scope.spawn(move || hash_chunks(t))).collect();
            let mut found = hash_chunks(0)?;
            for other in others {
                found.extend(other.join().ok()??);
            }
            Some(found)
        })?;
        // The file must end where its length said.
        let mut probe = [0u8; 1];
        if file.read_at(&mut probe, len).ok()? != 0 {
            return None;
        }
        found.sort_by_key(|(index, _)| *index);
        let chunks: Vec<[u8; 32]> = found.into_iter().map(|(_, digest)| digest).collect();
        Some(Self::root(len, &chunks))
    }

    fn root(len: u64, chunks: &[[u8; 32]]) -> Checksum {
        let mut root = sha2::Sha256::new();
        root.update(len.to_le_bytes());
        for chunk in chunks {
            root.update(chunk);
        }
        Checksum(format!("{}{}", Self::PREFIX, hex::encode(root.finalize())))
    }

    fn matches(&self, recorded: &str) -> bool {
        self.0 == recorded.trim()
    }
}

fn store_atomically(path: &Path, component: &Component) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let bytes = component.serialize().map_err(|e| e.to_string())?;
    let sum = Checksum::of_bytes(&bytes).0;
    // The sum first: a compilation never stands without the sum that vouches for it.
    write_atomically(&sum_path(path), sum.as_bytes())?;
    write_atomically(path, &bytes)?;
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

#[cfg(test)]
mod tests {
    use super::Checksum;

    #[test]
    fn a_file_is_checked_in_chunks_as_its_bytes_were_summed() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, Checksum::CHUNK, 2 * Checksum::CHUNK + 17] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("c{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let sum = Checksum::of_bytes(&bytes);
            assert_eq!(Checksum::of_file(&file, len as u64), Some(Checksum(sum.0.clone())));
            assert!(sum.matches(&format!("{}\n", sum.0)));
            if len > 0 {
                let mut changed = bytes.clone();
                changed[len / 2] ^= 1;
                assert!(!Checksum::of_bytes(&changed).matches(&sum.0));
                // A file longer or shorter than it claims is not whole.
                assert_eq!(Checksum::of_file(&file, len as u64 - 1), None);
                assert_eq!(Checksum::of_file(&file, len as u64 + 1), None);
            }
        }
        // An old plain SHA-256 never matches: the plugin is compiled again.
        let old = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"x"));
        assert!(!Checksum::of_bytes(b"x").matches(&old));
    }
}
