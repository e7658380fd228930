//! `drhost drill NAME`: inject a fault with a fault plugin, recover with a
//! recovery plugin, and judge the recovery by what the host's own probes
//! saw — never by what the plugin under test reports.
//!
//! The order is fixed: config → every plugin checked (signature, grants)
//! before anything starts → drill journal (`<journal dir>/drills/`) →
//! probes start → baseline (every probe healthy) → the `before` run, when
//! the drill has one (e.g. a backup), and the baseline again → fault run →
//! recovery run → probes until every one is healthy for `sustain` (or
//! `settle` passes) → read-back of the write probes → verdict → notice to
//! `[run.notify]` (when configured) → `run-end`.
//! The plugin runs are ordinary `drhost run`s with their own journals, which
//! the drill's journal names.
//!
//! Two variants: a drill without a fault breaks nothing (a restore test):
//! its RTO runs from the recovery's start to its successful end with every
//! probe healthy. A drill with `recovery_after` starts the recovery that
//! long after the fault, while the fault plugin still runs (a lasting
//! outage that ends by itself, as a provider's does).
//!
//! The definitions are in `definition.rs`, the probes in `probe/`, the
//! arithmetic in `judge.rs`, the table in `table.rs`, the testing schedule
//! in `schedule.rs`.

pub mod definition;
pub mod judge;
pub mod probe;
pub mod schedule;
pub mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::config::{self, Config};
use crate::error::{Error, EXIT_FOLLOW_UP, EXIT_OK, EXIT_PLUGIN_FAILED, EXIT_TARGET_MISSED};
use crate::journal::{self, Journal};
use crate::run::{RunOptions, RunReport};
use definition::DrillDefinition;
use probe::{ProbeResult, ProbeSet, TICK};

/// Where drill journals are, under the journal directory.
pub const DRILLS_DIR: &str = "drills";

/// What `drhost drill` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct DrillOptions {
    /// The drill: `[drills.<name>]`.
    pub name: String,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--journal-dir`, overriding `[run] journal_dir`.
    pub journal_dir: Option<PathBuf>,
    /// `--cache-dir`, overriding `[run] cache_dir`.
    pub cache_dir: Option<PathBuf>,
    /// `--yes`: approve every confirmation of both plugins.
    pub yes: bool,
    /// Draw no progress on stderr.
    pub quiet: bool,
}

/// How a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrillStatus {
    /// Recovered within every target.
    Passed,
    /// Recovered (or not), measured, and a target was missed.
    Missed,
    /// The drill could not be carried out: unhealthy before the fault, the
    /// fault plugin failed, or the recovery plugin failed.
    Failed,
}

/// One of the two plugin runs of a drill.
#[derive(Debug, Clone, Serialize)]
pub struct PluginRun {
    /// The plugin file.
    pub plugin: PathBuf,
    /// Its run id.
    pub run_id: String,
    /// Its own journal.
    pub journal: Option<PathBuf>,
    /// Its status (`recovered`, `failed`, `refused`, …).
    pub status: String,
    /// Its exit code.
    pub exit_code: i32,
    /// Its summary.
    pub summary: String,
    /// Its wall time.
    pub wall_ms: u64,
    /// When it started, in ms after the fault started (0 for the fault
    /// itself and for the `before` run, which precedes it).
    pub started_after_fault_ms: u64,
}

impl PluginRun {
    fn from_report(plugin: &Path, report: &RunReport, started_after_fault_ms: u64) -> PluginRun {
        PluginRun {
            plugin: plugin.to_owned(),
            run_id: report.run_id.clone(),
            journal: report.journal.clone(),
            status: serde_json::to_value(report.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            exit_code: report.exit_code,
            summary: report.summary.clone(),
            wall_ms: report.wall_ms,
            started_after_fault_ms,
        }
    }
}

/// A target and what the drill measured against it.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// The target, in ms.
    pub target_ms: u64,
    /// What was measured, in ms (`None`: not measured).
    pub measured_ms: Option<u64>,
    /// Met, missed, or `None` when nothing measures it (no write probe for RPO).
    pub met: Option<bool>,
    /// Why it is not measured, when it should be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmeasured: Option<String>,
}

/// The result of one drill, as printed and as its journal's `run-end` keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// The drill's name.
    pub drill: String,
    /// The drill's run id.
    pub run_id: String,
    /// The drill's journal.
    pub journal: Option<PathBuf>,
    /// When it started (by the drill clock: see [`schedule::now`]).
    pub started: String,
    /// How it ended.
    pub status: DrillStatus,
    /// Its exit code.
    pub exit_code: i32,
    /// One line: the verdict, naming any missed target.
    pub summary: String,
    /// RTO: fault start → every probe healthy for good.
    pub rto: Measured,
    /// RPO: the longest data-loss window of the write probes.
    pub rpo: Measured,
    /// Acknowledged writes lost, over every write probe (`None`: no write probe measured).
    pub lost_writes: Option<usize>,
    /// The `before` plugin's run (e.g. the backup a database drill restores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<PluginRun>,
    /// The fault plugin's run (`None`: it did not run, or the drill has none).
    pub fault: Option<PluginRun>,
    /// The drill defines no fault: it breaks nothing (a restore test).
    #[serde(skip)]
    pub no_fault: bool,
    /// The recovery plugin's run.
    pub recovery: Option<PluginRun>,
    /// Each probe's result.
    pub probes: Vec<ProbeResult>,
    /// Things the reader should know (e.g. no probe saw the fault).
    pub notes: Vec<String>,
    /// The drill's wall time.
    pub wall_ms: u64,
}

impl DrillReport {
    /// The table printed for the operator.
    pub fn table(&self) -> String {
        table::render(self)
    }
}

/// Reads the configuration a drill needs: `--config`, `$DRHOST_CONFIG` or ./drhost.toml.
pub fn load_config(flag: Option<&Path>) -> Result<(Config, PathBuf), Error> {
    let path = config::locate(flag).ok_or_else(|| {
        Error::Usage(
            "drills are defined in drhost.toml as [drills.NAME]: pass --config FILE (or set DRHOST_CONFIG)".into(),
        )
    })?;
    Ok((Config::load(&path)?, path))
}

/// The definition of drill `name`, or an error naming the defined ones.
pub fn definition<'a>(config: &'a Config, path: &Path, name: &str) -> Result<&'a DrillDefinition, Error> {
    config.drills.get(name).ok_or_else(|| {
        let known: Vec<&str> = config.drills.keys().map(String::as_str).collect();
        Error::Usage(if known.is_empty() {
            format!(
                "{} defines no drills: add a [drills.{name}] table (fault, recovery, probes; see `drhost drill --help`)",
                path.display()
            )
        } else {
            format!(
                "{} defines no drill `{name}`: it defines {} (`drhost schedule` lists them)",
                path.display(),
                known.join(", ")
            )
        })
    })
}

/// Runs drill `opts.name`. Errors before the drill journal exists (no such
/// drill, a plugin refused) are returned; once it exists, every outcome is
/// a report whose journal ends with `run-end`.
pub async fn drill(opts: &DrillOptions) -> Result<DrillReport, Error> {
    let (config, config_path) = load_config(opts.config.as_deref())?;
    let name = opts.name.as_str();
    let def = definition(&config, &config_path, name)?;
    if def.probes.is_empty() {
        return Err(Error::Usage(format!(
            "drill `{name}` has no probes, so it would measure nothing: add [drills.{name}.probes] with http, redis or postgres"
        )));
    }
    let fault_path = def
        .fault
        .as_deref()
        .map(|p| DrillDefinition::plugin_path(p, Some(&config_path)));
    let recovery_path = DrillDefinition::plugin_path(&def.recovery, Some(&config_path));
    let before_path = def
        .before
        .as_deref()
        .map(|p| DrillDefinition::plugin_path(p, Some(&config_path)));
    let cache_dir = opts
        .cache_dir
        .clone()
        .or(config.run.cache_dir.clone())
        .or_else(crate::engine::default_cache_dir);
    for (role, path) in def.plugins() {
        let path = DrillDefinition::plugin_path(path, Some(&config_path));
        preflight(name, role, &path, &config, &config_path, cache_dir.clone()).await?;
    }

    let journal_dir = journal::resolve_dir(opts.journal_dir.as_deref(), Some(&config))?;
    let run_id = journal::new_run_id(Path::new(&format!("drill-{name}")));
    let journal = Arc::new(Journal::create(&journal_dir.join(DRILLS_DIR), &run_id)?);
    let started = humantime::format_rfc3339_millis(schedule::now()?).to_string();
    let wall = std::time::Instant::now();
    journal.record(
        "run-start",
        json!({
            "drhost": env!("CARGO_PKG_VERSION"),
            "kind": "drill",
            "drill": name,
            "at": started,
            "host": crate::run::lock::hostname(),
            "config": config_path,
            "before": before_path.as_ref().map(|p| json!({ "plugin": p, "params": def.before_params })),
            "fault": fault_path.as_ref().map(|p| json!({ "plugin": p, "params": def.fault_params })),
            "recovery_after_ms": def.recovery_after.map(|d| d.as_millis() as u64),
            "recovery": { "plugin": recovery_path, "params": def.recovery_params },
            "probes": { "http": def.probes.http, "redis": def.probes.redis, "postgres": def.probes.postgres },
            "targets": { "rto_ms": def.rto().as_millis() as u64, "rpo_ms": def.rpo().as_millis() as u64 },
            "every": def.every.map(|d| humantime::format_duration(d).to_string()),
        }),
    );
    let mut report = DrillReport {
        drill: name.to_string(),
        run_id: run_id.clone(),
        journal: journal.path().map(ToOwned::to_owned),
        started,
        status: DrillStatus::Failed,
        exit_code: EXIT_PLUGIN_FAILED,
        summary: String::new(),
        rto: Measured {
            target_ms: def.rto().as_millis() as u64,
            measured_ms: None,
            met: None,
            unmeasured: None,
        },
        rpo: Measured {
            target_ms: def.rpo().as_millis() as u64,
            measured_ms: None,
            met: None,
            unmeasured: None,
        },
        lost_writes: None,
        before: None,
        fault: None,
        no_fault: fault_path.is_none(),
        recovery: None,
        probes: Vec::new(),
        notes: Vec::new(),
        wall_ms: 0,
    };
    let run = Exercise {
        opts,
        def,
        config_path: &config_path,
        journal_dir: &journal_dir,
        cache_dir,
        journal: journal.clone(),
    };
    let plugins = Plugins {
        before: before_path.as_deref(),
        fault: fault_path.as_deref(),
        recovery: &recovery_path,
    };
    let ended = run.carry_out(&config, &plugins, &mut report).await;
    if let Err(error) = ended {
        report.status = DrillStatus::Failed;
        report.exit_code = error.exit_code();
        report.summary = format!("drill `{name}` failed: {error}");
    }
    report.wall_ms = wall.elapsed().as_millis() as u64;
    notify_verdict(&config, def, &report, journal.clone()).await;
    journal.record(
        "run-end",
        json!({
            "status": report.status,
            "exit_code": report.exit_code,
            "summary": report.summary,
            "drill": report,
            "wall_ms": report.wall_ms,
        }),
    );
    Ok(report)
}

/// Refuses a drill whose plugin would be refused: untrusted, or missing a
/// grant. Checked for both plugins before any probe or fault starts.
async fn preflight(
    drill: &str,
    role: &str,
    path: &Path,
    config: &Config,
    config_path: &Path,
    cache_dir: Option<PathBuf>,
) -> Result<(), Error> {
    let in_drill = |e: Error| match e {
        Error::Refused(why) => Error::Refused(format!("drill `{drill}`: the {role} plugin is refused: {why}")),
        other => other,
    };
    let file = crate::plugin::PluginFile::read(path)?;
    file.check_is_component()?;
    let trust_paths = crate::trust::TrustPaths::locate(None, None, config, Some(config_path));
    crate::trust::check_for_run(&file, &trust_paths, false, false).map_err(in_drill)?;
    let report = crate::inspect::inspect_file(&file, cache_dir)
        .await?
        .against(config, config_path);
    match report.advice {
        Some(advice) => Err(in_drill(Error::Refused(advice))),
        None => Ok(()),
    }
}

/// The plugin files of one drill, resolved.
struct Plugins<'a> {
    before: Option<&'a Path>,
    fault: Option<&'a Path>,
    recovery: &'a Path,
}

/// Posts the drill's verdict to the channels of `[run.notify]` (when it is
/// configured and asks for `drill`), journaled as `host-notice` before the
/// `run-end`; waits for the post as a run's end does (at most 11 s). A dead
/// channel never changes the verdict.
async fn notify_verdict(config: &Config, def: &DrillDefinition, report: &DrillReport, journal: Arc<Journal>) {
    let Some(notices) = crate::caps::notify::RunNotices::new(
        config.run.notify.as_ref(),
        &config.targets.notify,
        &config.targets.vault,
        journal,
    ) else {
        return;
    };
    notices.set_plugin(&format!("drill-{}", report.drill));
    notices.post(crate::caps::notify::RunEvent::Drill, verdict_notice(def, report));
    notices.finish().await;
}

/// The drill's verdict as a notice: scenario, RTO and RPO against their
/// targets, met or missed, and the command that writes its report.
fn verdict_notice(def: &DrillDefinition, report: &DrillReport) -> crate::caps::notify::HostNotice {
    use crate::bindings::drhost::runbook::notify::Severity;
    let ms = |ms: u64| crate::history::human_duration(ms as f64);
    let figure = |what: &str, m: &Measured| {
        let verdict = match m.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        match (m.measured_ms, &m.unmeasured) {
            (Some(v), _) => format!("{what} {} (target {}): {verdict}", ms(v), ms(m.target_ms)),
            (None, Some(why)) => format!("{what} not measured (target {}): {verdict}: {why}", ms(m.target_ms)),
            (None, None) => format!("{what} not measured (target {}): no write probe", ms(m.target_ms)),
        }
    };
    let (how, severity) = match report.status {
        DrillStatus::Passed => ("passed", Severity::Resolved),
        DrillStatus::Missed => ("missed a target", Severity::Warning),
        DrillStatus::Failed => ("failed", Severity::Critical),
    };
    let mut text = String::new();
    if let Some(scenario) = &def.description {
        text.push_str(&format!("Scenario: {}\n", crate::console::plugin_text(scenario)));
    }
    text.push_str(&format!(
        "{}\n{}\n{}",
        figure("RTO", &report.rto),
        figure("RPO", &report.rpo),
        crate::console::plugin_text(&report.summary)
    ));
    if let Some(lost) = report.lost_writes {
        text.push_str(&format!("\nAcknowledged writes lost: {lost}."));
    }
    text.push_str(&format!("\nReport: drhost report {}", report.run_id));
    crate::caps::notify::HostNotice {
        title: format!("drhost drill {}: {how}", report.drill),
        text,
        severity,
    }
}

/// One drill being carried out.
struct Exercise<'a> {
    opts: &'a DrillOptions,
    def: &'a DrillDefinition,
    config_path: &'a Path,
    journal_dir: &'a Path,
    cache_dir: Option<PathBuf>,
    journal: Arc<Journal>,
}

impl Exercise<'_> {
    fn say(&self, line: String) {
        if !self.opts.quiet {
            eprintln!("drill {}: {line}", self.opts.name);
        }
    }

    /// A plugin run, as `drhost run` would do it, its journal beside the others.
    async fn run_plugin(&self, plugin: &Path, params: &std::collections::BTreeMap<String, String>) -> RunReport {
        crate::run::run(RunOptions {
            plugin: plugin.to_owned(),
            params: params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            config: Some(self.config_path.to_owned()),
            journal_dir: Some(self.journal_dir.to_owned()),
            cache_dir: self.cache_dir.clone(),
            yes: self.opts.yes,
            quiet: self.opts.quiet,
            ..Default::default()
        })
        .await
    }

    /// Stops the probes (journaled as `probes-end`, the end of every
    /// probe's last band in `drhost report`) and judges them.
    async fn finish_probes(&self, probes: ProbeSet, fault_ms: u64, sustain: Duration) -> Vec<ProbeResult> {
        self.journal.record("probes-end", json!({ "at_ms": probes.now_ms() }));
        probes.finish(fault_ms, sustain).await
    }

    /// Probes for `baseline`; the probes failing at its end, with why.
    async fn baseline(&self, probes: &ProbeSet, baseline: Duration, what: &str) -> Vec<String> {
        self.say(format!("probing for {} {what}", humantime::format_duration(baseline)));
        tokio::time::sleep(baseline).await;
        probes.failing()
    }

    async fn carry_out(&self, config: &Config, plugins: &Plugins<'_>, report: &mut DrillReport) -> Result<(), Error> {
        let (fault_path, recovery_path) = (plugins.fault, plugins.recovery);
        let name = &self.opts.name;
        let def = self.def;
        let probes = ProbeSet::start(&def.probes, config, name, &report.run_id, self.journal.clone()).await?;
        let baseline = def.baseline.unwrap_or(definition::DEFAULT_BASELINE).max(TICK * 2);
        let first = if plugins.before.is_some() {
            "before the `before` run"
        } else {
            "before the fault"
        };
        let failing = self.baseline(&probes, baseline, first).await;
        if !failing.is_empty() {
            report.probes = self.finish_probes(probes, u64::MAX, Duration::ZERO).await;
            report.summary = format!(
                "drill `{name}` injected nothing: not healthy before the fault ({}); repair that first",
                failing.join(", ")
            );
            return Ok(());
        }

        if let Some(before_path) = plugins.before {
            self.journal.record(
                "before-start",
                json!({ "at_ms": probes.now_ms(), "plugin": before_path }),
            );
            self.say(format!("before the fault: {}", before_path.display()));
            let before = self.run_plugin(before_path, &def.before_params).await;
            let before_run = PluginRun::from_report(before_path, &before, 0);
            self.journal.record(
                "before-end",
                json!({ "at_ms": probes.now_ms(), "plugin_run": before_run }),
            );
            report.before = Some(before_run);
            if before.exit_code != EXIT_OK {
                report.probes = self.finish_probes(probes, u64::MAX, Duration::ZERO).await;
                report.exit_code = before.exit_code;
                report.summary = format!(
                    "drill `{name}` injected nothing: the `before` plugin failed (exit {}): {}",
                    before.exit_code, before.summary
                );
                return Ok(());
            }
            let failing = self.baseline(&probes, baseline, "before the fault").await;
            if !failing.is_empty() {
                report.probes = self.finish_probes(probes, u64::MAX, Duration::ZERO).await;
                report.summary = format!(
                    "drill `{name}` injected nothing: not healthy after the `before` run ({}); repair that first",
                    failing.join(", ")
                );
                return Ok(());
            }
        }

        let fault_ms = probes.now_ms();
        let recovery = match fault_path {
            None => {
                self.say("no fault: the recovery runs against the healthy system".into());
                self.recover(recovery_path, &probes, fault_ms, report).await
            }
            Some(fault_path) => {
                self.journal
                    .record("fault-start", json!({ "at_ms": fault_ms, "plugin": fault_path }));
                self.say(format!("fault: {}", fault_path.display()));
                let fault = self.run_plugin(fault_path, &def.fault_params);
                let (fault, recovery) = match def.recovery_after {
                    None => (fault.await, None),
                    Some(after) => {
                        // A lasting fault: the recovery starts `after` into it,
                        // unless the fault plugin has ended (failed) by then.
                        tokio::pin!(fault);
                        tokio::select! {
                            ended = &mut fault => (ended, None),
                            _ = tokio::time::sleep(after) => {
                                let journal = self.journal.clone();
                                let fault_run = async {
                                    let ended = fault.await;
                                    let run = PluginRun::from_report(fault_path, &ended, 0);
                                    journal.record("fault-end", json!({ "at_ms": probes.now_ms(), "plugin_run": run }));
                                    ended
                                };
                                let (fault, recovery) = tokio::join!(
                                    fault_run,
                                    self.recover(recovery_path, &probes, fault_ms, report)
                                );
                                (fault, Some(recovery))
                            }
                        }
                    }
                };
                let fault_run = PluginRun::from_report(fault_path, &fault, 0);
                if recovery.is_none() {
                    self.journal.record(
                        "fault-end",
                        json!({ "at_ms": probes.now_ms(), "plugin_run": fault_run }),
                    );
                }
                report.fault = Some(fault_run);
                if fault.exit_code != EXIT_OK {
                    report.probes = self.finish_probes(probes, fault_ms, Duration::ZERO).await;
                    report.exit_code = fault.exit_code;
                    report.summary = format!(
                        "drill `{name}`: the fault plugin did not inject its fault (exit {}): {}{}",
                        fault.exit_code,
                        fault.summary,
                        if recovery.is_some() {
                            " (the recovery ran all the same: it had started before the fault plugin ended)"
                        } else {
                            ""
                        }
                    );
                    return Ok(());
                }
                match recovery {
                    Some(recovery) => recovery,
                    None => self.recover(recovery_path, &probes, fault_ms, report).await,
                }
            }
        };

        let sustain = def.sustain.unwrap_or(definition::DEFAULT_SUSTAIN);
        let settle = def.settle.unwrap_or(definition::DEFAULT_SETTLE);
        self.say(format!(
            "waiting up to {} for every probe to stay healthy for {}",
            humantime::format_duration(settle),
            humantime::format_duration(sustain)
        ));
        let until = tokio::time::Instant::now() + settle;
        while !probes.recovered(fault_ms, sustain) && tokio::time::Instant::now() < until {
            tokio::time::sleep(TICK).await;
        }
        report.probes = self.finish_probes(probes, fault_ms, sustain).await;
        judge_report(report, &recovery, settle, fault_path.is_none());
        Ok(())
    }

    /// The recovery run, journaled (`recovery-start`, `recovery-end`) with
    /// its start in ms after the fault's (`fault_ms`).
    async fn recover(
        &self,
        recovery_path: &Path,
        probes: &ProbeSet,
        fault_ms: u64,
        report: &mut DrillReport,
    ) -> RunReport {
        let recovery_at = probes.now_ms() - fault_ms;
        self.journal.record(
            "recovery-start",
            json!({ "at_ms": fault_ms + recovery_at, "plugin": recovery_path }),
        );
        self.say(format!("recovery: {}", recovery_path.display()));
        let recovery = self.run_plugin(recovery_path, &self.def.recovery_params).await;
        let recovery_run = PluginRun::from_report(recovery_path, &recovery, recovery_at);
        self.journal.record(
            "recovery-end",
            json!({ "at_ms": probes.now_ms(), "plugin_run": recovery_run }),
        );
        report.recovery = Some(recovery_run);
        recovery
    }
}

/// The verdict from the probes' results and the recovery run. Without a
/// fault (`no_fault`), nothing was broken: the RTO is the time from the
/// recovery's start to its end (the host's clock, not the plugin's word),
/// or later when a probe was not healthy for good until then.
fn judge_report(report: &mut DrillReport, recovery: &RunReport, settle: Duration, no_fault: bool) {
    let name = report.drill.clone();
    let healthy: Option<Vec<u64>> = report.probes.iter().map(|p| p.healthy_after_ms).collect();
    match healthy {
        Some(after) => {
            let probes_healthy = after.into_iter().max().unwrap_or(0);
            let rto = if no_fault {
                let recovered = report
                    .recovery
                    .as_ref()
                    .map_or(0, |r| r.started_after_fault_ms + r.wall_ms);
                probes_healthy.max(recovered)
            } else {
                probes_healthy
            };
            report.rto.measured_ms = Some(rto);
            report.rto.met = Some(rto <= report.rto.target_ms);
        }
        None => {
            let still: Vec<&str> = report
                .probes
                .iter()
                .filter(|p| p.healthy_after_ms.is_none())
                .map(|p| p.probe.as_str())
                .collect();
            report.rto.met = Some(false);
            report.rto.unmeasured = Some(format!(
                "not healthy for good within {} of the recovery: {}",
                humantime::format_duration(settle),
                still.join(", ")
            ));
        }
    }
    if no_fault {
        report.notes.push("no fault: nothing was broken; the RTO is the time from the recovery's start to its end with every probe healthy, and a probe that failed meanwhile means the recovery hurt the live service".into());
    } else if !report.probes.iter().any(|p| p.saw_fault) {
        report.notes.push("no probe saw the fault: the measured RTO is 0 because nothing probed went down; probe what the fault breaks".into());
    }
    let writers: Vec<&ProbeResult> = report
        .probes
        .iter()
        .filter(|p| p.loss.is_some() || p.read_back_error.is_some())
        .collect();
    if !writers.is_empty() {
        let unread: Vec<String> = writers
            .iter()
            .filter_map(|p| p.read_back_error.as_ref().map(|why| format!("{}: {why}", p.probe)))
            .collect();
        if unread.is_empty() {
            let window = writers
                .iter()
                .filter_map(|p| p.loss.as_ref())
                .map(|l| l.window_ms)
                .max()
                .unwrap_or(0);
            report.rpo.measured_ms = Some(window);
            report.rpo.met = Some(window <= report.rpo.target_ms);
            report.lost_writes = Some(writers.iter().filter_map(|p| p.loss.as_ref()).map(|l| l.lost).sum());
        } else {
            report.rpo.met = Some(false);
            report.rpo.unmeasured = Some(format!(
                "the write probes could not be read back ({})",
                unread.join("; ")
            ));
        }
    }

    let ms = |ms: u64| crate::history::human_duration(ms as f64);
    let mut missed = Vec::new();
    if report.rto.met == Some(false) {
        missed.push(match (report.rto.measured_ms, &report.rto.unmeasured) {
            (Some(m), _) => format!("RTO {} > target {}", ms(m), ms(report.rto.target_ms)),
            (None, why) => format!(
                "RTO target {} ({})",
                ms(report.rto.target_ms),
                why.as_deref().unwrap_or("not measured")
            ),
        });
    }
    if report.rpo.met == Some(false) {
        missed.push(match (report.rpo.measured_ms, &report.rpo.unmeasured) {
            (Some(m), _) => format!(
                "RPO {} > target {} ({} acknowledged writes lost)",
                ms(m),
                ms(report.rpo.target_ms),
                report.lost_writes.unwrap_or(0)
            ),
            (None, why) => format!(
                "RPO target {} ({})",
                ms(report.rpo.target_ms),
                why.as_deref().unwrap_or("not measured")
            ),
        });
    }
    let hurt: Vec<&str> = report
        .probes
        .iter()
        .filter(|p| no_fault && p.saw_fault)
        .map(|p| p.probe.as_str())
        .collect();
    if !hurt.is_empty() {
        missed.push(format!(
            "the live service untouched (it failed during a drill with no fault: {})",
            hurt.join(", ")
        ));
    }
    let recovered = matches!(recovery.exit_code, EXIT_OK | EXIT_FOLLOW_UP);
    if !recovered {
        report.status = DrillStatus::Failed;
        report.exit_code = recovery.exit_code;
        report.summary = format!(
            "drill `{name}` failed: the recovery plugin ended with exit {}: {}{}",
            recovery.exit_code,
            recovery.summary,
            if missed.is_empty() {
                String::new()
            } else {
                format!("; missed {}", missed.join(", "))
            }
        );
    } else if !missed.is_empty() {
        report.status = DrillStatus::Missed;
        report.exit_code = EXIT_TARGET_MISSED;
        report.summary = format!("drill `{name}` missed {}", missed.join(", "));
    } else {
        report.status = DrillStatus::Passed;
        report.exit_code = EXIT_OK;
        let rpo = match report.rpo.measured_ms {
            Some(m) => format!(", RPO {} ≤ {}", ms(m), ms(report.rpo.target_ms)),
            None => ", RPO not measured (no write probe)".to_string(),
        };
        report.summary = format!(
            "drill `{name}` passed: RTO {} ≤ {}{rpo}",
            ms(report.rto.measured_ms.unwrap_or(0)),
            ms(report.rto.target_ms)
        );
    }
}
