//! A plugin file: its bytes, digest, and what kind of WebAssembly it is; the
//! contract version it was built against; and calling its `describe`.
//!
//! Everything here happens before any grant exists: it reads and checks, and
//! `describe` runs with no grants at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Store;

use crate::bindings::types::{Failure, Manifest, Outcome, Param};
use crate::bindings::{self, CONTRACT_PACKAGE, CONTRACT_VERSION, SUPPORTED};
use crate::caps::confirm::ConfirmPolicy;
use crate::caps::kit::disk::DiskBudget;
use crate::config::PluginGrants;
use crate::console::Console;
use crate::engine::{first_line, Runtime};
use crate::error::{Error, Result};
use crate::file_stamp;
use crate::journal::Journal;
use crate::sandbox::{new_store, Limits, RunContext, RunState};

/// How long `describe` may take.
pub const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// What `describe` may write: nothing, it has no directory (it only has
/// to return a manifest).
pub const DESCRIBE_DISK: u64 = 0;

/// A plugin file read from disk.
pub struct PluginFile {
    /// The path it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// sha256 of the bytes, lowercase hex.
    pub digest: String,
    /// What its signatures sign ([`crate::trust::signature::content_hash_of`]),
    /// computed beside `digest`; `None` when the bytes do not parse.
    pub(crate) content_hash: Option<Vec<u8>>,
}

impl PluginFile {
    /// Reads a plugin file and computes its digest.
    pub fn read(path: &Path) -> Result<PluginFile> {
        let bytes = std::fs::read(path).map_err(|e| unreadable(path, &e))?;
        Ok(PluginFile::from_bytes(path.to_owned(), bytes))
    }

    /// [`PluginFile::read`] for a run with the compile cache `cache_dir`:
    /// the hashes of a file unchanged since they were computed are
    /// remembered there by the file's stamp ([`crate::file_stamp`]), so a
    /// large plugin is read but not hashed again. Without a cache (or when
    /// the file changes while it is read) everything is hashed.
    pub fn read_remembered(path: &Path, cache_dir: Option<&Path>) -> Result<PluginFile> {
        let Some(cache_dir) = cache_dir.filter(|dir| crate::private_dir::check(dir).is_ok()) else {
            return PluginFile::read(path);
        };
        let unreadable = |e: std::io::Error| unreadable(path, &e);
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let before = file_stamp::Stamp::of(&file.metadata().map_err(unreadable)?);
        let mut bytes = Vec::with_capacity(usize::try_from(before.size()).unwrap_or(0));
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(unreadable)?;
        let after = file_stamp::Stamp::of(&file.metadata().map_err(unreadable)?);
        if before != after || after.size() != bytes.len() as u64 {
            return Ok(PluginFile::from_bytes(path.to_owned(), bytes));
        }
        if let Some(hashes) = file_stamp::recall(cache_dir, &after) {
            return Ok(PluginFile {
                path: path.to_owned(),
                bytes,
                digest: hashes.digest,
                content_hash: hashes.content_hash,
            });
        }
        let plugin = PluginFile::from_bytes(path.to_owned(), bytes);
        let hashes = file_stamp::Hashes {
            digest: plugin.digest.clone(),
            content_hash: plugin.content_hash.clone(),
        };
        file_stamp::remember(cache_dir, &after, &hashes);
        Ok(plugin)
    }

    /// The digest as every output writes it: `sha256:<hex>`.
    pub fn typed_digest(&self) -> String {
        format!("sha256:{}", self.digest)
    }

    /// A plugin already in memory (e.g. pulled from a registry); `path` is
    /// where it is shown as coming from.
    ///
    /// Verifying a plugin takes two SHA-256 passes over it (the file's
    /// digest, which the lock pins and the cache is keyed by, and the
    /// content hash its signatures sign); they run on two threads at once,
    /// which halves the wait for a large (e.g. 18 MB Python) plugin.
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> PluginFile {
        let (digest, content_hash) = if bytes.len() < (1 << 20) {
            (
                hex::encode(Sha256::digest(&bytes)),
                crate::trust::signature::content_hash_of(&bytes),
            )
        } else {
            std::thread::scope(|scope| {
                let content = scope.spawn(|| crate::trust::signature::content_hash_of(&bytes));
                let digest = hex::encode(Sha256::digest(&bytes));
                let content = content
                    .join()
                    .unwrap_or_else(|_| crate::trust::signature::content_hash_of(&bytes));
                (digest, content)
            })
        };
        PluginFile {
            path,
            bytes,
            digest,
            content_hash,
        }
    }

    /// Refuses anything that is not a WebAssembly component, naming what it is.
    pub fn check_is_component(&self) -> Result<()> {
        let name = self.path.display();
        if wasmparser::Parser::is_component(&self.bytes) {
            Ok(())
        } else if wasmparser::Parser::is_core_wasm(&self.bytes) {
            Err(Error::Refused(format!(
                "{name} is a core WebAssembly module, not a component: build the plugin for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
            )))
        } else {
            Err(Error::Refused(format!(
                "{name} is not WebAssembly (no `\\0asm` header): pass a plugin built with `cargo build --target wasm32-wasip2`"
            )))
        }
    }
}

/// Why the plugin file at `path` cannot be read.
fn unreadable(path: &Path, e: &std::io::Error) -> Error {
    Error::PluginFile {
        path: path.to_owned(),
        reason: crate::config::os_reason(e),
    }
}

/// The plugin files `paths` name: a file as given, a directory as every
/// `*.wasm` directly in it, sorted. A directory with none is a usage error.
pub fn plugin_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| Error::PluginFile {
            path: path.clone(),
            reason: crate::config::os_reason(&e),
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds no *.wasm plugin: name plugin files, or the directory `make build` or `drhost pull` wrote them to",
                path.display()
            )));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// What a compiled component imports and exports, and which contract it uses.
pub struct Shape {
    /// Every import name, e.g. `drhost:runbook/shell@0.1.0`.
    pub imports: Vec<String>,
    /// The contract version found in its `drhost:runbook` imports.
    pub contract: Option<String>,
}

/// Checks that `component` is a plugin of a contract version this host
/// supports, and that it imports nothing drhost does not provide.
pub fn check_shape(runtime: &Runtime, component: &Component, path: &Path) -> Result<Shape> {
    let ty = component.component_type();
    let engine = runtime.engine();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let contract = contract_of_imports(&imports).map_err(|why| Error::Refused(format!("{} {why}", path.display())))?;
    if !(exports.iter().any(|e| e == "describe") && exports.iter().any(|e| e == "run")) {
        let found = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(Error::Refused(format!(
            "{} is not a drhost plugin: it exports {found}, not `describe` and `run` (world {CONTRACT_PACKAGE}/plugin@{CONTRACT_VERSION})",
            path.display()
        )));
    }
    Ok(Shape { imports, contract })
}

/// The one contract version a plugin's import names are built against
/// (`None` when it imports no `drhost:runbook` interface), or why they are
/// refused, as words to follow the plugin's path: an unsupported version,
/// an import drhost does not provide, or imports from two contract lines
/// (0.1.x and 0.2.x) — the host instantiates a plugin as one version, and
/// each line has its own types, so a mix is never linked half one way.
fn contract_of_imports(imports: &[String]) -> std::result::Result<Option<String>, String> {
    let mut contract: Option<(&str, &str)> = None;
    for name in imports {
        if let Some(rest) = name.strip_prefix(&format!("{CONTRACT_PACKAGE}/")) {
            let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("unversioned");
            if !is_supported(version) {
                return Err(format!(
                    "was built against {CONTRACT_PACKAGE}@{version}, but this drhost supports {CONTRACT_PACKAGE}@{}: rebuild the plugin against {CONTRACT_VERSION} or use a drhost that supports {version}",
                    supported_text()
                ));
            }
            match contract {
                None => contract = Some((version, name)),
                Some((first, first_name)) if line_of(first) != line_of(version) => {
                    return Err(format!(
                        "imports two contract versions, `{first_name}` and `{name}`: a plugin is built against one; rebuild it with one SDK (one wit/ folder), against {CONTRACT_PACKAGE}@{CONTRACT_VERSION}"
                    ));
                }
                Some(_) => {}
            }
        } else if !name.starts_with("wasi:") {
            return Err(format!(
                "imports `{name}`, which drhost does not provide: a plugin may import only {CONTRACT_PACKAGE} and wasi interfaces"
            ));
        }
    }
    Ok(contract.map(|(version, _)| version.to_string()))
}

/// A version's semver-compatible line: `0.1` for `0.1.2` (for 0.x the
/// minor breaks), `1` for `1.4.0`.
fn line_of(version: &str) -> &str {
    let mut parts = version.splitn(3, '.');
    let major = parts.next().unwrap_or_default();
    match (major, parts.next()) {
        ("0", Some(minor)) => &version[..major.len() + 1 + minor.len()],
        _ => major,
    }
}

/// For one of [`SUPPORTED`]: the same major.minor and a patch level we
/// have (semver for 0.x).
fn is_supported(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??, parts.next()??))
    };
    SUPPORTED.iter().any(|ours| match (parse(version), parse(ours)) {
        (Some((a, b, c)), Some((x, y, z))) => a == x && b == y && c <= z,
        _ => false,
    })
}

/// The supported versions as the operator reads them: `0.1.2 or 0.2.0`.
fn supported_text() -> String {
    SUPPORTED.join(" or ")
}

/// Instantiates the plugin with no grants at all and calls `describe`,
/// with no directory: no scratch preopened, no blob directory (a blob is
/// refused), so nothing a plugin does while describing itself outlives the
/// call or reaches the run — and no directory is made or removed (each
/// removal waits for the device on a file system mounted with `discard`).
pub async fn describe(runtime: &Runtime, component: &Component, journal: Arc<Journal>) -> Result<Manifest> {
    let ctx = Arc::new(RunContext {
        plugin_id: "?".into(),
        grants: PluginGrants::default(),
        journal,
        console: Console::new(true),
        scratch: None,
        blob_dir: None,
        deadline: Instant::now() + DESCRIBE_TIMEOUT,
        confirm: ConfirmPolicy::Nobody,
        plugin_version: String::new(),
        signer: Default::default(),
        asked: Default::default(),
        steps: Default::default(),
        disk: DiskBudget::without_scratch(DESCRIBE_DISK),
        config_file: None,
        plan: None,
        connections: Default::default(),
        notices: None,
        fence: None,
        resumed: None,
    });
    let limits = Limits {
        timeout: DESCRIBE_TIMEOUT,
        memory: 64 << 20,
        disk: DESCRIBE_DISK,
    };
    let mut store = new_store(runtime, ctx, limits)?;
    let plugin = instantiate(runtime, component, &mut store).await?;
    let call = plugin.call_describe(&mut store);
    match tokio::time::timeout(DESCRIBE_TIMEOUT + Duration::from_millis(500), call).await {
        Ok(Ok(manifest)) => {
            validate_manifest(&manifest)?;
            Ok(manifest)
        }
        Ok(Err(trap)) => Err(crate::run::sandbox_error(&trap, &store, "describe", limits)),
        Err(_) => Err(Error::Sandbox(format!(
            "`describe` did not return within {}s",
            DESCRIBE_TIMEOUT.as_secs()
        ))),
    }
}

/// A plugin instantiated against the contract version it was built for.
pub enum Instance {
    /// `drhost:runbook@0.2.x`, the latest.
    Latest(bindings::Plugin),
    /// `drhost:runbook@0.1.x`, through [`bindings::v0_1`].
    V0_1(bindings::v0_1::Plugin),
}

impl Instance {
    /// Calls `describe`; a 0.1 manifest is converted to the latest.
    pub async fn call_describe(&self, store: &mut Store<RunState>) -> wasmtime::Result<Manifest> {
        use bindings::v0_1::Conv;
        match self {
            Instance::Latest(plugin) => plugin.call_describe(store).await,
            Instance::V0_1(plugin) => Ok(plugin.call_describe(store).await?.conv()),
        }
    }

    /// Calls `run`; a 0.1 outcome or failure is converted to the latest.
    pub async fn call_run(
        &self,
        store: &mut Store<RunState>,
        params: &[Param],
    ) -> wasmtime::Result<std::result::Result<Outcome, Failure>> {
        use bindings::v0_1::Conv;
        match self {
            Instance::Latest(plugin) => plugin.call_run(store, params).await,
            Instance::V0_1(plugin) => {
                let params: Vec<_> = params.iter().cloned().map(Conv::conv).collect();
                Ok(plugin
                    .call_run(store, &params)
                    .await?
                    .map(Conv::conv)
                    .map_err(Conv::conv))
            }
        }
    }
}

/// The contract version of a plugin's `drhost:runbook` imports, if any.
fn contract_of(runtime: &Runtime, component: &Component) -> Option<String> {
    let engine = runtime.engine();
    component.component_type().imports(engine).find_map(|(name, _)| {
        let rest = name.strip_prefix(CONTRACT_PACKAGE)?.strip_prefix('/')?;
        Some(rest.split_once('@').map_or("unversioned", |(_, v)| v).to_string())
    })
}

/// Instantiates `component` into `store` against the host's linker, as the
/// contract version it imports (a plugin that imports no capability is
/// tried as the latest, then as 0.1).
pub async fn instantiate(runtime: &Runtime, component: &Component, store: &mut Store<RunState>) -> Result<Instance> {
    let linker = runtime.linker();
    let version = contract_of(runtime, component);
    let is_0_1 = version.as_deref().is_some_and(|v| v.starts_with("0.1."));
    let mut instantiated = if is_0_1 {
        bindings::v0_1::Plugin::instantiate_async(&mut *store, component, linker)
            .await
            .map(Instance::V0_1)
    } else {
        bindings::Plugin::instantiate_async(&mut *store, component, linker)
            .await
            .map(Instance::Latest)
    };
    if instantiated.is_err() && version.is_none() {
        if let Ok(old) = bindings::v0_1::Plugin::instantiate_async(&mut *store, component, linker).await {
            instantiated = Ok(Instance::V0_1(old));
        }
    }
    let shown = version.unwrap_or_else(|| CONTRACT_VERSION.to_string());
    instantiated.map_err(|e| {
        // A memory the plugin starts with can already be over the cap: that
        // is a limit to raise (exit 4), not an incompatible plugin.
        if let Some((limit, _)) = store.data().memory_limit_hit() {
            return Error::Sandbox(format!(
                "the plugin needs more memory than the limit of {} MiB just to start (raise it with --memory or [run] memory)",
                limit >> 20
            ));
        }
        Error::Refused(format!(
            "the plugin does not fit the {CONTRACT_PACKAGE}@{shown} contract: {}",
            first_line(&format!("{e:#}"))
        ))
    })
}

/// Whether `id` is a valid plugin id: 1-64 lowercase ASCII letters, digits
/// and dashes, not starting with a dash. Ids become file names (`pull`
/// writes `<id>.wasm`), TOML keys and journal names, so every place that
/// takes an id from a plugin or a signed section checks it here.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn validate_manifest(manifest: &Manifest) -> Result<()> {
    if !is_valid_id(&manifest.id) {
        return Err(Error::Refused(format!(
            "the plugin's id `{}` is not valid: use 1-64 lowercase letters, digits and dashes",
            crate::console::plugin_text(&manifest.id)
        )));
    }
    if manifest.version.is_empty() {
        return Err(Error::Refused(format!("plugin `{}` reports no version", manifest.id)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_directory_means_its_wasm_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.wasm", "a.wasm", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.wasm")).unwrap();
        let files = super::plugin_files(&[dir.path().to_owned(), std::path::PathBuf::from("x.wasm")]).unwrap();
        assert_eq!(
            files,
            [
                dir.path().join("a.wasm"),
                dir.path().join("b.wasm"),
                std::path::PathBuf::from("x.wasm")
            ]
        );
        let empty = tempfile::tempdir().unwrap();
        let err = super::plugin_files(&[empty.path().to_owned()]).unwrap_err();
        assert!(err.to_string().contains("holds no *.wasm plugin"), "{err}");
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn ids_that_could_become_paths_are_invalid() {
        for ok in ["hello", "db-restore", "a1"] {
            assert!(super::is_valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "/etc/x",
            "A",
            "a b",
            "-rf",
            "a/b",
            "a.wasm",
            &"a".repeat(65),
        ] {
            assert!(!super::is_valid_id(bad), "{bad}");
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_contract_version_is_the_plugins() {
        let contract = |list: &[&str]| super::contract_of_imports(&names(list));
        assert_eq!(
            contract(&[
                "drhost:runbook/log@0.1.2",
                "wasi:io/poll@0.2.6",
                "drhost:runbook/vault@0.1.2"
            ]),
            Ok(Some("0.1.2".into()))
        );
        assert_eq!(
            contract(&["drhost:runbook/log@0.2.0", "drhost:runbook/secret@0.2.0"]),
            Ok(Some("0.2.0".into()))
        );
        // Patch levels of one line link to the same bindings.
        assert_eq!(
            contract(&["drhost:runbook/log@0.1.0", "drhost:runbook/shell@0.1.2"]),
            Ok(Some("0.1.0".into()))
        );
        assert_eq!(contract(&["wasi:cli/stdout@0.2.6"]), Ok(None));
    }

    #[test]
    fn imports_of_two_contract_lines_are_refused_naming_both() {
        let why = super::contract_of_imports(&names(&[
            "drhost:runbook/log@0.1.2",
            "wasi:io/poll@0.2.6",
            "drhost:runbook/secret@0.2.0",
        ]))
        .unwrap_err();
        assert!(
            why.starts_with(
                "imports two contract versions, `drhost:runbook/log@0.1.2` and `drhost:runbook/secret@0.2.0`"
            ),
            "{why}"
        );
        assert!(why.contains("rebuild it") && !why.contains('\n'), "{why}");
    }

    #[test]
    fn unknown_versions_and_foreign_imports_are_refused() {
        let why = super::contract_of_imports(&names(&["drhost:runbook/log@0.9.0"])).unwrap_err();
        assert!(
            why.contains("drhost:runbook@0.9.0") && why.contains("0.1.2 or 0.2.0"),
            "{why}"
        );
        let why = super::contract_of_imports(&names(&["evil:net/socket@1.0.0"])).unwrap_err();
        assert!(why.contains("`evil:net/socket@1.0.0`"), "{why}");
    }

    #[test]
    fn contract_lines() {
        assert_eq!(super::line_of("0.1.2"), "0.1");
        assert_eq!(super::line_of("0.2.0"), "0.2");
        assert_eq!(super::line_of("1.4.0"), "1");
        assert_eq!(super::line_of("junk"), "junk");
    }

    #[test]
    fn supported_versions() {
        assert!(super::is_supported("0.1.0"));
        assert!(super::is_supported("0.1.1"));
        assert!(super::is_supported("0.1.2"));
        assert!(!super::is_supported("0.1.3"));
        assert!(super::is_supported("0.2.0"));
        assert!(!super::is_supported("0.2.1"));
        assert!(!super::is_supported("0.3.0"));
        assert!(!super::is_supported("1.0.0"));
        assert!(!super::is_supported("junk"));
    }
}
