//! `drhost run`: load, verify, check grants, run under limits, journal, report.
//!
//! The order is fixed and every exit path writes `run-end`: config → plugin
//! file → component check → contract check → `describe` (no grants) →
//! `run-start` (with the effective parameters) → parameters → grants vs
//! needs → `run` (granted, limited) → `run-end`. Errors before the journal
//! exists are returned without one.
//!
//! What a run ended as is in `report.rs`; why the sandbox stopped a plugin,
//! in words, in `stopped.rs`.

pub mod lock;
pub mod resume;
mod shared_lock;
pub use shared_lock::SharedLock;
mod notices;
mod report;
mod reported;
mod stopped;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::bindings::types::{Failure, Manifest, Outcome};
use crate::caps::confirm::{Approvals, Asked, ConfirmPolicy, Signer};
use crate::caps::kit::disk::DiskBudget;
pub use crate::caps::kit::disk::DEFAULT_DISK;
use crate::caps::notify::{RunEvent, RunNotices};
use crate::config::{self, Config, PluginGrants};
use crate::console::{Console, Style};
use crate::engine::{default_cache_dir, CacheUse, Runtime};
use crate::error::{Error, EXIT_FOLLOW_UP, EXIT_OK, EXIT_PLUGIN_FAILED, EXIT_USAGE};
use crate::journal::{self, Journal};
use crate::params::{self, EffectiveParam};
use crate::plugin::{self, PluginFile};
use crate::policy;
use crate::sandbox::{new_store, Limits, RunContext, RunDirs, RunState, StepTrail};
use crate::trust;

pub use report::{PlanReport, PluginIdentity, ReportedFact, RunReport, Started, Status, StepReport};
pub use reported::{ReportedFollowUp, ReportedTable};
pub(crate) use stopped::sandbox_error;
use stopped::{deadline_error, disk_error};

/// The default deadline: the runbook's 15-minute RTO.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The default memory cap (all of a plugin's linear memories together).
pub const DEFAULT_MEMORY: u64 = 256 << 20;

/// What `drhost run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The plugin file.
    pub plugin: PathBuf,
    /// `--param name=value`, in order.
    pub params: Vec<(String, String)>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--timeout`, overriding `[run] timeout`.
    pub timeout: Option<Duration>,
    /// `--memory`, overriding `[run] memory`.
    pub memory: Option<u64>,
    /// `--disk`, overriding `[run] disk`.
    pub disk: Option<u64>,
    /// `--journal-dir`, overriding `[run] journal_dir`.
    pub journal_dir: Option<PathBuf>,
    /// `--cache-dir`, overriding `[run] cache_dir`.
    pub cache_dir: Option<PathBuf>,
    /// `--yes`: approve every confirmation.
    pub yes: bool,
    /// `--approve ID`: approve exactly these questions (see [`crate::caps::confirm`]).
    pub approve: Vec<String>,
    /// `--plan`: make no change; record what would change.
    pub plan: bool,
    /// Draw no progress on stderr.
    pub quiet: bool,
    /// `--allow-unsigned`: run a plugin without a trusted signature (loud, journaled).
    pub allow_unsigned: bool,
    /// `--allow-downgrade`: run an older version than the lock pins.
    pub allow_downgrade: bool,
    /// `--trust`, overriding `[trust] file`.
    pub trust: Option<PathBuf>,
    /// `--lock`, overriding `[trust] lock`.
    pub lock: Option<PathBuf>,
    /// `--wait`: how long to wait for another run's lock on a target
    /// (`None`: refuse at once).
    pub wait: Option<Duration>,
    /// `drhost resume`: the dead run this one goes on from (see [`resume`]).
    pub resume: Option<Arc<crate::caps::kit::replay::Resumed>>,
}

/// Runs a plugin. Never panics; every outcome is a report with an exit code.
/// A run that ends in a usage or configuration error (exit 2: nothing ran)
/// leaves no journal.
pub async fn run(opts: RunOptions) -> RunReport {
    let started = Started::now();
    let run_id = journal::new_run_id(&opts.plugin);
    let config_path = config::locate(opts.config.as_deref());
    let config = config_path.as_deref().map(Config::load).transpose();
    let config_read = config.as_ref().ok().and_then(Option::as_ref);
    let journal_dir = match journal::resolve_dir(opts.journal_dir.as_deref(), config_read) {
        Ok(dir) => dir,
        Err(error) => return RunReport::from_error(run_id, None, None, &error, &started),
    };
    let journal = match Journal::create(&journal_dir, &run_id) {
        Ok(journal) => Arc::new(journal),
        Err(error) => return RunReport::from_error(run_id, None, None, &error, &started),
    };
    let mut attempt = Attempt {
        opts: &opts,
        journal: journal.clone(),
        config_path,
        identity: None,
        trust: None,
        compile_cache: "off",
        steps: Default::default(),
        interrupted_by: None,
        started_recorded: false,
        plan: opts.plan.then(Default::default),
        locks: None,
        asked: Default::default(),
        config_approve: Vec::new(),
        notices: None,
    };
    let ended = match config {
        Ok(config) => attempt.run(config.unwrap_or_default()).await,
        Err(error) => Err(error),
    };
    if !attempt.started_recorded {
        attempt.record_start(None, None, None);
    }
    let identity = attempt.identity.clone();
    let journal_path = journal.path().map(ToOwned::to_owned);
    let report = match ended {
        Ok(Ok(outcome)) => {
            let follow_ups = reported::follow_ups(outcome.follow_ups);
            let ended = if follow_ups.is_empty() {
                (Status::Recovered, EXIT_OK)
            } else {
                (Status::FollowUp, EXIT_FOLLOW_UP)
            };
            let mut report = RunReport::new(run_id, journal_path, identity, ended, outcome.summary, &started);
            report.facts = reported::facts(outcome.facts);
            report.tables = reported::tables(outcome.tables);
            report.follow_ups = follow_ups;
            report
        }
        Ok(Err(failure)) => {
            let mut report = RunReport::new(
                run_id,
                journal_path,
                identity,
                (Status::Failed, EXIT_PLUGIN_FAILED),
                failure.summary,
                &started,
            );
            // A plugin that does not name its step is blamed for the one the
            // host saw open, or failed last.
            report.failed_step = failure.step.or_else(|| attempt.blamed_step());
            report.hint = failure.hint;
            report.facts = reported::facts(failure.facts);
            report.tables = reported::tables(failure.tables);
            report
        }
        Err(error) => {
            let mut report = RunReport::from_error(run_id, journal_path, identity, &error, &started);
            if matches!(report.status, Status::SandboxLimit | Status::Interrupted) {
                report.failed_step = attempt.blamed_step();
            }
            report
        }
    };
    let mut report = report.with_steps(&attempt.steps.lock().unwrap_or_else(|p| p.into_inner()));
    report.confirms = attempt.asked.all();
    report.resumed = opts.resume.as_deref().map(resume::Tally::of);
    if let Some(plan) = &attempt.plan {
        let plan = plan.lock().unwrap_or_else(|p| p.into_inner());
        report.plan = Some(PlanReport {
            changes: plan.changes.clone(),
            total: plan.total,
        });
    }
    if let Some(notices) = attempt.notices.take() {
        notices.post(RunEvent::End, notices::ended(&report));
        notices.finish().await;
    }
    if report.exit_code == EXIT_USAGE {
        journal.discard();
        report.journal = None;
        return report;
    }
    journal.record(
        "run-end",
        json!({
            "status": report.status,
            "exit_code": report.exit_code,
            "summary": report.summary,
            "facts": report.facts,
            "tables": report.tables,
            "follow_ups": report.follow_ups,
            "plan": report.plan,
            "failed_step": report.failed_step,
            "hint": report.hint,
            "wall_ms": report.wall_ms,
            "resumed": report.resumed,
        }),
    );
    report.journal_head = journal.head();
    // Held through run-end, released before the report is printed.
    if let Some(locks) = attempt.locks.take() {
        locks.release();
    }
    report
}

impl Attempt<'_> {
    fn blamed_step(&self) -> Option<String> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).blamed()
    }
}

struct Attempt<'a> {
    opts: &'a RunOptions,
    journal: Arc<Journal>,
    config_path: Option<PathBuf>,
    identity: Option<PluginIdentity>,
    trust: Option<trust::Verdict>,
    /// `hit` (a verified cached compilation), `miss` (compiled now) or `off`.
    compile_cache: &'static str,
    /// The plugin's steps, as the host saw them.
    steps: Arc<Mutex<StepTrail>>,
    /// The signal that interrupted the run, if one did.
    interrupted_by: Option<&'static str>,
    started_recorded: bool,
    /// Plan mode: the changes recorded instead of made.
    plan: Option<Arc<Mutex<crate::caps::kit::call::Plan>>>,
    /// The targets this run holds (none in plan mode).
    locks: Option<Arc<lock::Locks>>,
    /// The questions the plugin asked.
    asked: Arc<Asked>,
    /// `[run] approve` of the config read, for `run-start`.
    config_approve: Vec<String>,
    /// drhost's own notices about this run (`[run.notify]`, live runs).
    notices: Option<Arc<RunNotices>>,
}

impl Attempt<'_> {
    fn record_start(
        &mut self,
        manifest: Option<&Manifest>,
        grants: Option<&PluginGrants>,
        effective: Option<&[EffectiveParam]>,
    ) {
        self.started_recorded = true;
        let identity = self.identity.as_ref();
        self.journal.record(
            "run-start",
            json!({
                "drhost": env!("CARGO_PKG_VERSION"),
                "mode": if self.opts.plan { "plan" } else { "live" },
                "plugin": {
                    "path": self.opts.plugin,
                    "digest": identity.map(|i| &i.digest),
                    "id": manifest.map(|m| &m.id),
                    "version": manifest.map(|m| &m.version),
                    "contract": identity.and_then(|i| i.contract.as_ref()),
                    "signers": self.trust.as_ref().map(|t| &t.signers),
                },
                "trust": self.trust,
                // Who ran it, where: for the post-incident report (`drhost report`).
                "operator": operator(),
                "host": lock::hostname(),
                "compile_cache": self.compile_cache,
                "config": self.config_path,
                // Where relative paths (plugin, config) were read from: `drhost resume` reads them again.
                "cwd": std::env::current_dir().ok(),
                "resumes": self.opts.resume.as_ref().map(|r| json!({ "run": r.from, "calls": r.calls.len() })),
                "params": self.opts.params.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
                // What the plugin gets: --param > [plugins.<id>.params] > its default.
                "effective_params": effective,
                "grants": grants,
                // Who may answer the plugin's questions without asking anyone.
                "approvals": {
                    "yes": self.opts.yes,
                    "approve": self.opts.approve,
                    "config": self.config_approve,
                },
            }),
        );
    }

    async fn run(&mut self, config: Config) -> Result<Result<Outcome, Failure>, Error> {
        let opts = self.opts;
        self.config_approve = config.run.approve.iter().map(|p| p.as_str().to_string()).collect();
        let cache_dir = opts
            .cache_dir
            .clone()
            .or(config.run.cache_dir.clone())
            .or_else(default_cache_dir);
        let file = PluginFile::read_remembered(&opts.plugin, cache_dir.as_deref())?;
        self.identity = Some(PluginIdentity {
            path: opts.plugin.clone(),
            digest: file.typed_digest(),
            id: None,
            version: None,
            contract: None,
        });
        if let Some(resumed) = &opts.resume {
            resume::same_plugin(resumed, &opts.plugin, &file.typed_digest())?;
        }
        file.check_is_component()?;
        let trust_paths = trust::TrustPaths::locate(
            opts.trust.as_deref(),
            opts.lock.as_deref(),
            &config,
            self.config_path.as_deref(),
        );
        let verdict = self.trust.insert(trust::check_for_run(
            &file,
            &trust_paths,
            opts.allow_unsigned,
            opts.allow_downgrade,
        )?);
        if verdict.overridden.is_some() {
            eprintln!("{}", trust::override_warning(verdict));
        }

        let runtime = Runtime::new(cache_dir)?;
        let (component, cache) = runtime.load_announced(&file.bytes, &file.digest, |caching| {
            if !opts.quiet {
                eprintln!("{}", compiling_line(&opts.plugin, caching, Style::stderr()));
            }
        })?;
        self.compile_cache = match (cache, runtime.caches()) {
            (CacheUse::Hit, _) => "hit",
            (_, true) => "miss",
            (_, false) => "off",
        };
        let shape = plugin::check_shape(&runtime, &component, &opts.plugin)?;
        if let Some(identity) = self.identity.as_mut() {
            identity.contract = shape.contract.clone();
        }

        let manifest = plugin::describe(&runtime, &component, self.journal.clone()).await?;
        if let Some(identity) = self.identity.as_mut() {
            identity.id = Some(manifest.id.clone());
            identity.version = Some(manifest.version.clone());
        }
        let grants = config.grants_for(&manifest.id);
        if let Some(verdict) = self.trust.as_mut() {
            let described = trust::identity_of(&manifest, shape.contract.as_deref());
            trust::check_describe(verdict, &described, &trust_paths.load_lock()?, opts.allow_downgrade)?;
        }
        let config_file = self
            .config_path
            .as_deref()
            .map_or_else(|| config::DEFAULT_CONFIG_FILE.to_string(), |p| p.display().to_string());
        let params = params::resolve(
            &manifest.id,
            &manifest.params,
            &opts.params,
            &grants.params,
            &config_file,
        );
        self.record_start(Some(&manifest), Some(&grants), params.as_deref().ok());
        if !opts.plan {
            self.notices = RunNotices::new(
                config.run.notify.as_ref(),
                &config.targets.notify,
                &config.targets.vault,
                self.journal.clone(),
            );
        }
        if let Some(notices) = &self.notices {
            notices.set_plugin(&manifest.id);
            notices.post(
                RunEvent::Start,
                notices::started(&manifest, self.journal.run_id(), self.journal.path()),
            );
        }
        // A misspelt parameter is fixed before grants are: it is what was typed.
        let params = params::to_wit(&params?);

        let missing = policy::missing_grants(&manifest.id, &manifest.needs, &grants);
        if !missing.is_empty() {
            return Err(Error::Refused(policy::refusal(
                &manifest.id,
                self.config_path.as_deref(),
                &missing,
            )));
        }
        // Listened for from here on, so a Ctrl-C while waiting for a lock or
        // while the plugin is instantiated ends the run through run-end too.
        let mut interrupted = Box::pin(operator_interrupt()?);
        if !opts.plan {
            let shared = match &config.run.shared_lock {
                Some(shared) => Some(
                    shared_lock::SharedLock::resolve(&shared.postgres, &config.targets.postgres, &config.targets.vault)
                        .map_err(Error::Refused)?,
                ),
                None => None,
            };
            self.take_locks(&grants, shared.as_ref(), &mut interrupted).await?;
        }

        let limits = Limits {
            timeout: opts.timeout.or(config.run.timeout).unwrap_or(DEFAULT_TIMEOUT),
            memory: opts.memory.or(config.run.memory).unwrap_or(DEFAULT_MEMORY),
            disk: opts.disk.or(config.run.disk).unwrap_or(DEFAULT_DISK),
        };
        let deadline = Instant::now() + limits.timeout;
        let dirs = RunDirs::create("drhost-run-")?;
        let console = Console::new(opts.quiet);
        let ctx = Arc::new(RunContext {
            plugin_id: manifest.id.clone(),
            grants,
            journal: self.journal.clone(),
            console: console.clone(),
            scratch: Some(dirs.scratch().to_owned()),
            blob_dir: Some(dirs.blobs().to_owned()),
            deadline,
            confirm: ConfirmPolicy::Run(Approvals {
                yes: opts.yes,
                ids: opts.approve.clone(),
                config: config.run.approve.clone(),
                config_file: self.config_path.clone(),
            }),
            plugin_version: manifest.version.clone(),
            signer: match self.trust.as_ref() {
                Some(verdict) if verdict.verdict == "trusted" => Signer::Keys(verdict.signers.clone()),
                _ => Signer::Unsigned,
            },
            asked: self.asked.clone(),
            steps: self.steps.clone(),
            disk: DiskBudget::new(limits.disk, dirs.scratch()),
            config_file: self.config_path.clone(),
            plan: self.plan.clone(),
            connections: Default::default(),
            notices: self.notices.clone(),
            fence: self.locks.as_ref().and_then(|locks| locks.fence(&self.journal)),
            resumed: opts.resume.clone(),
        });
        let disk = ctx.disk.clone();
        let _watch = disk.watch();
        let mut store = new_store(&runtime, ctx, limits)?;
        let instance = plugin::instantiate(&runtime, &component, &mut store).await?;
        let grace = Duration::from_millis(500);
        let result = tokio::select! {
            ended = tokio::time::timeout_at((deadline + grace).into(), instance.call_run(&mut store, &params)) => Some(ended),
            signal = &mut interrupted => {
                self.interrupted_by = Some(signal);
                force_on_second_signal(self.journal.clone(), self.locks.clone(), &console)?;
                None
            }
        };
        console.settle();
        record_guest_output(&self.journal, store.data());
        // What the plugin left in scratch counts too, however it ended.
        disk.measure_scratch();
        let resume_stopped = opts.resume.as_ref().and_then(|r| r.stopped());
        let stopped = match result {
            Some(Ok(Err(_))) if resume_stopped.is_some() => Error::Refused(resume_stopped.unwrap_or_default()),
            Some(Ok(Ok(_))) if disk.exceeded().is_some() => disk_error(&manifest.id, disk.exceeded()),
            Some(Ok(Ok(ended))) => return Ok(ended),
            Some(Ok(Err(trap))) => sandbox_error(&trap, &store, &manifest.id, limits),
            Some(Err(_)) => deadline_error(&manifest.id, limits.timeout),
            None => Error::Interrupted(format!(
                "run of plugin `{}` interrupted by {}: the plugin was stopped; what it had done is in the journal",
                manifest.id,
                self.interrupted_by.unwrap_or("a signal")
            )),
        };
        Err(self.close_open_steps(stopped))
    }
}

impl Attempt<'_> {
    /// Locks the targets the grants let the plugin change (see [`lock`]),
    /// waiting up to `--wait` for another run's, and journals a `lock`
    /// event. A held target is refused (exit 3) before the plugin starts;
    /// Ctrl-C while waiting ends the run as interrupted.
    async fn take_locks(
        &mut self,
        grants: &PluginGrants,
        shared: Option<&shared_lock::SharedLock>,
        interrupted: &mut (impl std::future::Future<Output = &'static str> + Unpin),
    ) -> Result<(), Error> {
        let targets = lock::targets(grants);
        if targets.is_empty() {
            return Ok(());
        }
        let Some(journal_dir) = self.journal.path().and_then(|p| p.parent()) else {
            return Ok(());
        };
        let dir = lock::dir_for(journal_dir);
        let started = Instant::now();
        let quiet = self.opts.quiet;
        let wait = self.opts.wait;
        let waiting = |holder: &lock::Holder| {
            if !quiet {
                eprintln!(
                    "waiting up to {} for `{}`, held by {}",
                    humantime::format_duration(wait.unwrap_or_default()),
                    crate::console::plugin_text(&holder.target),
                    holder.describe()
                );
            }
        };
        let locks = tokio::select! {
            locks = lock::take(&dir, &targets, self.journal.run_id(), shared, wait, waiting) => locks?,
            signal = interrupted => {
                self.interrupted_by = Some(signal);
                return Err(Error::Interrupted(format!(
                    "interrupted by {signal} while waiting for another run's lock; the plugin did not start"
                )));
            }
        };
        self.journal.record(
            "lock",
            json!({
                "targets": locks.targets,
                "dir": dir,
                "waited_ms": started.elapsed().as_secs_f64() * 1000.0,
                "took_over": locks.took_over,
                "shared": shared.map(|s| json!({ "postgres": s.label })),
            }),
        );
        self.locks = Some(Arc::new(locks));
        Ok(())
    }

    /// After the sandbox stopped the plugin: every step it left open ends
    /// failed in the journal (the plugin can no longer end them), and the
    /// message names the innermost one and how long it had run.
    fn close_open_steps(&self, stopped: Error) -> Error {
        let open = self.steps.lock().unwrap_or_else(|p| p.into_inner()).close_open();
        let Some((innermost, ran)) = open.first().cloned() else {
            return stopped;
        };
        for (name, elapsed) in &open {
            self.journal.record(
                "step-end",
                json!({
                    "step": name,
                    "ok": false,
                    "duration_ms": elapsed.as_secs_f64() * 1000.0,
                    "reason": match self.interrupted_by {
                        Some(signal) => format!("interrupted by {signal}"),
                        None => "the sandbox stopped the plugin".to_string(),
                    },
                }),
            );
        }
        let in_step = format!(
            "; it was in step `{}`, running for {}",
            crate::console::plugin_text(&innermost),
            crate::console::style::duration(ran)
        );
        match stopped {
            Error::Sandbox(message) => Error::Sandbox(format!("{message}{in_step}")),
            Error::Interrupted(message) => Error::Interrupted(format!("{message}{in_step}")),
            other => other,
        }
    }
}

/// The user this drhost runs as (from the password database, else
/// `$USER`), its uid, and `$SUDO_USER` when it was started through sudo:
/// who ran the recovery, as the journal keeps it.
fn operator() -> serde_json::Value {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let user = user_name(uid).or_else(|| std::env::var("USER").ok());
    json!({ "user": user, "uid": uid, "sudo_user": std::env::var("SUDO_USER").ok() })
}

/// The name of `uid` in the password database.
fn user_name(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero passwd is a valid value to be overwritten.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf's length is passed;
    // on success pw_name points into buf, which outlives its use here.
    let code = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if code != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r wrote a NUL-terminated name into buf.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The line said before a plugin is compiled (a cache miss: seconds for a
/// large plugin, tens of seconds for a Python one), so the wait is not silence.
pub fn compiling_line(plugin: &std::path::Path, caching: bool, style: Style) -> String {
    let name = plugin.file_name().unwrap_or(plugin.as_os_str()).to_string_lossy();
    let when = if caching {
        "first run only"
    } else {
        "the compile cache is off: every run"
    };
    format!("compiling {name} ({when}){}", style.more())
}

/// After the first interrupt the plugin is being stopped and the journal
/// closed, which takes a moment; a second Ctrl-C (or SIGTERM) forces the
/// exit at once, journaling that it did.
fn force_on_second_signal(
    journal: Arc<Journal>,
    locks: Option<Arc<lock::Locks>>,
    console: &Console,
) -> Result<(), Error> {
    let second = operator_interrupt()?;
    console.notice("stopping the plugin and closing the journal (Ctrl-C again to force)");
    tokio::spawn(async move {
        let signal = second.await;
        journal.record(
            "forced",
            json!({ "signal": signal, "message": "the operator forced the exit before the run ended" }),
        );
        if let Some(locks) = locks {
            locks.release();
        }
        std::process::exit(crate::error::EXIT_INTERRUPTED);
    });
    Ok(())
}

/// Resolves with the signal's name when the operator interrupts the run
/// (SIGINT: Ctrl-C; SIGTERM: a supervisor or `kill`). While it is pending,
/// the signals no longer end the process at once: the run ends through
/// `run-end` instead. A second Ctrl-C still reaches the handler only once
/// the plugin has stopped, which takes at most one epoch tick.
fn operator_interrupt() -> Result<impl std::future::Future<Output = &'static str>, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen =
        |kind: SignalKind| signal(kind).map_err(|e| Error::Internal(format!("cannot listen for interrupts: {e}")));
    let (mut int, mut term) = (listen(SignalKind::interrupt())?, listen(SignalKind::terminate())?);
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "SIGINT (Ctrl-C)",
            _ = term.recv() => "SIGTERM",
        }
    })
}

fn record_guest_output(journal: &Journal, state: &RunState) {
    for (stream, output) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
        let (text, truncated) = output.contents();
        if !text.is_empty() {
            journal.record(
                "guest-output",
                json!({ "stream": stream, "text": text, "truncated": truncated }),
            );
        }
    }
}
