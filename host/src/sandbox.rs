//! The per-run sandbox: what one plugin instance can see and how far it can go.
//!
//! Built up from nothing, like `WasiCtxBuilder`: no inherited env, args,
//! stdin, sockets or files; in a run, one fresh scratch directory preopened
//! as `/scratch` (`describe` gets no directory at all); stdout/stderr captured and capped; one memory cap over every linear
//! memory; a wall-clock deadline and the disk budget (blobs and scratch,
//! see [`crate::caps::kit::disk`]) enforced at each epoch tick. Grants
//! reach capabilities only through [`RunContext`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::caps::confirm::{Asked, ConfirmPolicy, Signer};
use crate::caps::kit::capped::Capped;
use crate::caps::kit::disk::DiskBudget;
use crate::config::PluginGrants;
use crate::console::Console;
use crate::engine::Runtime;
use crate::journal::Journal;

/// Handles a plugin may hold at once: steps, blobs, connections, secrets,
/// WASI streams and files. Past it the call traps and the run stops (exit 4).
pub const MAX_LIVE_RESOURCES: usize = 10_000;

/// Where the scratch directory appears inside the guest.
pub const SCRATCH_GUEST_PATH: &str = "/scratch";
/// Guest stdout/stderr kept per stream; the rest is dropped (and noted).
pub const GUEST_OUTPUT_CAP: usize = 64 * 1024;

/// The host directories of one plugin instance: a private root (0700,
/// created by this process, removed on drop) holding `scratch`, preopened
/// for the guest, and `blobs`, which the guest can never name. Nothing the
/// host writes for itself lives under `scratch`, so a link the guest makes
/// there can never steer a host write (issue: `inspect` of a hostile plugin
/// wrote through a link in its own scratch).
pub struct RunDirs {
    root: tempfile::TempDir,
    scratch: PathBuf,
    blobs: PathBuf,
}

impl RunDirs {
    /// Creates a fresh private root under the system temp directory, named
    /// `PREFIX…`, with an empty `scratch/` inside. `blobs/` is only named:
    /// whatever stores the first blob creates it (inside the private root),
    /// so a run that keeps no blob creates and removes one directory less —
    /// on a file system mounted with `discard`, each removal waits for the
    /// device (~2 ms measured here).
    pub fn create(prefix: &str) -> Result<RunDirs, crate::Error> {
        let root = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(|e| crate::Error::Internal(format!("cannot create a private run directory: {e}")))?;
        let scratch = root.path().join("scratch");
        let blobs = root.path().join("blobs");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&scratch)
            .map_err(|e| crate::Error::Internal(format!("cannot create {}: {e}", scratch.display())))?;
        Ok(RunDirs { root, scratch, blobs })
    }

    /// The guest's scratch directory (preopened as [`SCRATCH_GUEST_PATH`]).
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The host-only blob directory.
    pub fn blobs(&self) -> &Path {
        &self.blobs
    }

    /// The private root holding both.
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

/// The plugin's steps as the host saw them: which are still open (oldest
/// first), which one last ended failed, and every ended step in order (the
/// first [`STEPS_KEPT`]). The host reads it when a run fails without naming
/// its step, is stopped mid-step by the sandbox, and for the report's steps.
#[derive(Debug, Default)]
pub struct StepTrail {
    open: Vec<(String, Instant)>,
    last_failed: Option<String>,
    ended: Vec<EndedStep>,
    /// Ended steps past [`STEPS_KEPT`], counted only.
    not_kept: usize,
}

/// Ended steps a [`StepTrail`] keeps for the report; the rest are counted.
pub const STEPS_KEPT: usize = 1000;

/// A step that ended: its name, whether it succeeded, how long it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedStep {
    /// The step's name.
    pub name: String,
    /// Whether it ended well.
    pub ok: bool,
    /// How long it ran.
    pub ran: Duration,
}

impl StepTrail {
    /// A step began.
    pub fn started(&mut self, name: &str) {
        self.open.push((name.to_string(), Instant::now()));
    }

    /// A step ended (the innermost open one of that name) after `ran`.
    pub fn ended(&mut self, name: &str, ok: bool, ran: Duration) {
        if let Some(i) = self.open.iter().rposition(|(n, _)| n == name) {
            self.open.remove(i);
        }
        if !ok {
            self.last_failed = Some(name.to_string());
        }
        self.keep(EndedStep {
            name: name.to_string(),
            ok,
            ran,
        });
    }

    fn keep(&mut self, step: EndedStep) {
        if self.ended.len() < STEPS_KEPT {
            self.ended.push(step);
        } else {
            self.not_kept += 1;
        }
    }

    /// Ends every open step as failed (the sandbox stopped the plugin, which
    /// can no longer end them) and returns them, innermost first, with how
    /// long each had run. The innermost stays the one to blame.
    pub fn close_open(&mut self) -> Vec<(String, Duration)> {
        let closed: Vec<(String, Duration)> = self.open.iter().rev().map(|(n, t)| (n.clone(), t.elapsed())).collect();
        if let Some((innermost, _)) = closed.first() {
            self.last_failed = Some(innermost.clone());
        }
        self.open.clear();
        for (name, ran) in &closed {
            self.keep(EndedStep {
                name: name.clone(),
                ok: false,
                ran: *ran,
            });
        }
        closed
    }

    /// The ended steps kept, in the order they ended, and how many more
    /// ended than were kept.
    pub fn ended_steps(&self) -> (&[EndedStep], usize) {
        (&self.ended, self.not_kept)
    }

    /// The innermost step still open, with how long it has run.
    pub fn innermost_open(&self) -> Option<(&str, Duration)> {
        self.open.last().map(|(n, t)| (n.as_str(), t.elapsed()))
    }

    /// The step to blame for a failure: the innermost open one, else the
    /// last that ended failed.
    pub fn blamed(&self) -> Option<String> {
        self.innermost_open()
            .map(|(n, _)| n.to_string())
            .or_else(|| self.last_failed.clone())
    }
}

/// Everything a run's capabilities share: who runs, what is granted, where
/// things go. Immutable once the run starts.
pub struct RunContext {
    /// The plugin's id from `describe` ("?" before it is known).
    pub plugin_id: String,
    /// The operator's grants for this plugin (empty for `describe`).
    pub grants: PluginGrants,
    /// Where every event goes.
    pub journal: Arc<Journal>,
    /// Where progress is drawn.
    pub console: Console,
    /// The host directory preopened as [`SCRATCH_GUEST_PATH`]; none in
    /// `describe`, whose guest sees no file system at all.
    pub scratch: Option<PathBuf>,
    /// A host-only directory for blobs (never visible to the guest); none in
    /// `describe`, which keeps no blob (see [`RunContext::blob_dir`]).
    pub blob_dir: Option<PathBuf>,
    /// When the run must be over.
    pub deadline: Instant,
    /// How `confirm.ask` is answered.
    pub confirm: ConfirmPolicy,
    /// The plugin's version from `describe`, shown with every question.
    pub plugin_version: String,
    /// Who signed the plugin, shown with every question (and required by
    /// the config's approvals).
    pub signer: Signer,
    /// The questions asked so far, for the report.
    pub asked: Arc<Asked>,
    /// The plugin's steps, as `progress` reports them.
    pub steps: Arc<Mutex<StepTrail>>,
    /// What blobs and the scratch directory may take together.
    pub disk: Arc<DiskBudget>,
    /// The operator's config file, named in refusals shown to the operator
    /// (the plugin's copy of a refusal says `drhost.toml`).
    pub config_file: Option<PathBuf>,
    /// Plan mode (`drhost run --plan`): the changes recorded instead of
    /// made; `None` in a live run.
    pub plan: Option<Arc<Mutex<crate::caps::kit::call::Plan>>>,
    /// The Postgres sessions and Redis links the plugin holds open.
    pub connections: crate::caps::kit::slots::ConnectionSlots,
    /// drhost's own notices about the run (`[run.notify]`); none in
    /// `describe`, in a plan, or without the setting.
    pub notices: Option<Arc<crate::caps::notify::RunNotices>>,
    /// Closed when the run loses its shared lock: no change passes it
    /// after that ([`crate::caps::kit::fence`]); none without one.
    pub fence: Option<Arc<crate::caps::kit::fence::Fence>>,
    /// The dead run `drhost resume` goes on from: its changes are answered
    /// from its journal ([`crate::caps::kit::replay`]); none otherwise.
    pub resumed: Option<Arc<crate::caps::kit::replay::Resumed>>,
}

impl RunContext {
    /// How long the run may still take: what every call's own timeout is
    /// capped by.
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// [`RunContext::time_left`], but at most `cap`.
    pub fn time_left_within(&self, cap: Duration) -> Duration {
        self.time_left().min(cap)
    }

    /// Where this run's blobs go; refused in `describe`, which has no
    /// directory (a blob made there would outlive nothing useful).
    pub fn blob_dir(&self) -> Result<&Path, crate::bindings::types::Error> {
        self.blob_dir.as_deref().ok_or_else(|| {
            crate::bindings::types::Error::AccessDenied(
                "blobs exist only in `run`: `describe` has no blob directory (no grant changes that)".into(),
            )
        })
    }
}

/// Limits for one instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time for the whole run.
    pub timeout: Duration,
    /// Bytes of all the plugin's linear memories together.
    pub memory: u64,
    /// Bytes of blobs and scratch together.
    pub disk: u64,
}

/// The store data of one plugin instance.
pub struct RunState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) ctx: Arc<RunContext>,
    memory: MemoryCap,
    /// What each capability keeps for the run (a client, a counter), one
    /// value per type: see [`RunState::kept`].
    kept: HashMap<TypeId, Box<dyn Any + Send>>,
    /// Captured guest stdout.
    pub stdout: BoundedOutput,
    /// Captured guest stderr.
    pub stderr: BoundedOutput,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RunState {
    /// What a capability keeps for the whole run, of its own type `T` (a
    /// client connected on first use, a counter): `T::default()` the first
    /// time. Each capability names its own type, so none sees another's.
    pub(crate) fn kept<T: Default + Send + 'static>(&mut self) -> &mut T {
        self.kept
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut()
            .expect("kept values are stored under their own type")
    }

    /// The memory limit this instance hit, if it hit one.
    pub fn memory_limit_hit(&self) -> Option<(u64, usize)> {
        self.memory.hit.map(|desired| (self.memory.limit, desired))
    }
}

/// Builds a store for one instance of a plugin.
pub fn new_store(runtime: &Runtime, ctx: Arc<RunContext>, limits: Limits) -> Result<Store<RunState>, crate::Error> {
    let stdout = BoundedOutput::new(GUEST_OUTPUT_CAP);
    let stderr = BoundedOutput::new(GUEST_OUTPUT_CAP);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    if let Some(scratch) = &ctx.scratch {
        wasi.preopened_dir(scratch, SCRATCH_GUEST_PATH, wasmtime_wasi::FsPerms::ReadWrite)
            .map_err(|e| {
                crate::Error::Internal(format!("cannot open the scratch directory {}: {e}", scratch.display()))
            })?;
    }
    let deadline = ctx.deadline;
    let disk = ctx.disk.clone();
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_LIVE_RESOURCES);
    let state = RunState {
        wasi: wasi.build(),
        table,
        ctx,
        memory: MemoryCap {
            limit: limits.memory,
            used: 0,
            hit: None,
        },
        kept: HashMap::new(),
        stdout,
        stderr,
    };
    let mut store = Store::new(runtime.engine(), state);
    store.limiter(|state| &mut state.memory);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(DeadlineExceeded))
        } else if let Some(over) = disk.exceeded() {
            Err(wasmtime::Error::new(over))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(store)
}

/// The trap raised when the run's wall-clock deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("the run's deadline passed")]
pub struct DeadlineExceeded;

/// The trap raised when the plugin's memories would grow past the cap.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes reached (the plugin's memories would take {desired})")]
pub struct MemoryLimitReached {
    limit: u64,
    desired: usize,
}

/// The plugin's memory budget: the sum over every linear memory of the
/// instance (a component has several core instances, each may have its
/// own), so the cap is per plugin, not per memory; and bounds on how many
/// instances, memories and tables it may create.
struct MemoryCap {
    limit: u64,
    /// Bytes of every linear memory together.
    used: u64,
    hit: Option<usize>,
}

/// Core instances, linear memories and tables one plugin may create; a
/// Rust plugin uses a handful, a Python one a few dozen.
const MAX_INSTANCES: usize = 200;
const MAX_MEMORIES: usize = 100;
const MAX_TABLES: usize = 200;
/// Elements of all tables of one plugin.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current as u64).saturating_add(desired as u64);
        if total > self.limit {
            self.hit = Some(desired);
            return Err(wasmtime::Error::new(MemoryLimitReached {
                limit: self.limit,
                desired: usize::try_from(total).unwrap_or(usize::MAX),
            }));
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// A capped, shared buffer for guest stdout or stderr: writes past the cap
/// are accepted and dropped, so a noisy guest neither fails nor fills memory.
#[derive(Clone)]
pub struct BoundedOutput {
    inner: Arc<Mutex<Capped>>,
}

impl BoundedOutput {
    fn new(cap: usize) -> Self {
        BoundedOutput {
            inner: Arc::new(Mutex::new(Capped::new(cap))),
        }
    }

    /// What the guest wrote (lossy UTF-8) and whether some was dropped.
    pub fn contents(&self) -> (String, bool) {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (String::from_utf8_lossy(guard.bytes()).into_owned(), guard.was_cut())
    }
}

impl IsTerminal for BoundedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for BoundedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_counts_every_memory_of_the_plugin() {
        let mut cap = MemoryCap {
            limit: 100,
            used: 0,
            hit: None,
        };
        assert!(cap.memory_growing(0, 60, None).unwrap());
        assert!(cap.memory_growing(60, 70, None).unwrap()); // the same memory grows: 70 in all
        assert!(cap.memory_growing(0, 30, None).unwrap()); // a second memory: 100 in all
        assert!(cap.memory_growing(0, 1, None).is_err()); // a third byte too many
        assert_eq!(cap.hit, Some(1));
    }
}
