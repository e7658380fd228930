//! Host probes: run by drhost itself, independent of any plugin, every
//! [`TICK`] from before a drill's fault until it is judged. One file per
//! kind of probe (`http.rs`, `redis.rs`, `postgres.rs`), each with the same
//! shape: `attempt` (one sample; the write it acknowledged, if it writes)
//! and, for write probes, `read_back` after recovery.
//!
//! Probes only ever touch their own key or table. A probe's health changes
//! are journaled as they happen (`probe` events), its samples kept for
//! [`super::judge`].

mod http;
mod postgres;
mod redis;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use super::definition::ProbeTargets;
use super::judge::{self, Loss, Sample, Write};
use crate::config::Config;
use crate::error::Error;
use crate::journal::Journal;

pub use postgres::HEARTBEAT_TABLE;

/// How often each probe samples, and the longest one attempt may take.
pub const TICK: Duration = Duration::from_millis(200);

enum Checker {
    Http(http::HttpProbe),
    Redis(Box<redis::RedisProbe>),
    Postgres(Box<postgres::PostgresProbe>),
}

impl Checker {
    async fn attempt(&mut self) -> Result<Option<i64>, String> {
        match self {
            Checker::Http(p) => p.attempt().await,
            Checker::Redis(p) => p.attempt().await,
            Checker::Postgres(p) => p.attempt().await,
        }
    }

    /// Which of the acknowledged writes are lost (`None` for a probe that does not write).
    async fn lost(&mut self, acked: &[Write]) -> Option<Result<Vec<bool>, String>> {
        match self {
            Checker::Http(_) => None,
            Checker::Redis(p) => Some(p.read_back().await.map(|last| judge::lost_increments(acked, last))),
            Checker::Postgres(p) => Some(
                p.read_back()
                    .await
                    .map(|kept| acked.iter().map(|w| !kept.contains(&w.id)).collect()),
            ),
        }
    }
}

/// What one probe saw, shared between its task and the drill.
struct Seen {
    name: String,
    samples: Mutex<Vec<Sample>>,
    writes: Mutex<Vec<Write>>,
}

/// The probes of one drill, running.
pub struct ProbeSet {
    epoch: Instant,
    seen: Vec<Arc<Seen>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Checker>>,
}

/// One probe's result, as the drill's journal keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// `http:URL`, `redis:LABEL` or `postgres:LABEL`.
    pub probe: String,
    /// Samples taken.
    pub samples: usize,
    /// Samples that failed.
    pub failed: usize,
    /// Whether it failed at least once after the fault.
    pub saw_fault: bool,
    /// When it became healthy for good, in ms after the fault (`None`: it did not).
    pub healthy_after_ms: Option<u64>,
    /// For a write probe: what it lost.
    pub loss: Option<Loss>,
    /// A write probe whose read-back failed: why (then nothing is measured).
    pub read_back_error: Option<String>,
}

impl ProbeSet {
    /// Sets up every probe of `targets` (resolving labels in `config`,
    /// resetting the write probes' own key and table) and starts sampling.
    /// `drill` names the Redis key, `run` the Postgres rows.
    pub async fn start(
        targets: &ProbeTargets,
        config: &Config,
        drill: &str,
        run: &str,
        journal: Arc<Journal>,
    ) -> Result<ProbeSet, Error> {
        let refuse = |probe: &str, why: String| {
            Error::Usage(format!(
                "drill `{drill}`: the probe {probe} cannot start: {why}; fix [drills.{drill}.probes] or the target"
            ))
        };
        let mut checkers = Vec::new();
        for url in &targets.http {
            let name = format!("http:{url}");
            let probe = http::HttpProbe::new(url, TICK).map_err(|e| refuse(&name, e))?;
            checkers.push((name, Checker::Http(probe)));
        }
        for label in &targets.redis {
            let name = format!("redis:{label}");
            let target = config
                .targets
                .redis
                .get(label)
                .ok_or_else(|| refuse(&name, format!("drhost.toml defines no [targets.redis.{label}]")))?;
            let key = format!("drhost:drill:{drill}");
            let mut probe = redis::RedisProbe::new(label, target, &config.targets.vault, key, TICK)
                .await
                .map_err(|e| refuse(&name, e))?;
            probe.reset().await.map_err(|e| refuse(&name, e))?;
            checkers.push((name, Checker::Redis(Box::new(probe))));
        }
        for label in &targets.postgres {
            let name = format!("postgres:{label}");
            let target = config
                .targets
                .postgres
                .get(label)
                .ok_or_else(|| refuse(&name, format!("drhost.toml defines no [targets.postgres.{label}]")))?;
            let mut probe = postgres::PostgresProbe::new(label, target, &config.targets.vault, run, TICK);
            probe.prepare().await.map_err(|e| refuse(&name, e))?;
            checkers.push((name, Checker::Postgres(Box::new(probe))));
        }
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let mut set = ProbeSet {
            epoch,
            seen: Vec::new(),
            stop: stop.clone(),
            tasks: Vec::new(),
        };
        for (name, checker) in checkers {
            let seen = Arc::new(Seen {
                name,
                samples: Mutex::new(Vec::new()),
                writes: Mutex::new(Vec::new()),
            });
            set.seen.push(seen.clone());
            let task = tokio::spawn(sample(checker, seen, epoch, stop.clone(), journal.clone()));
            set.tasks.push(task);
        }
        Ok(set)
    }

    /// Milliseconds since the probes started.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The probes failing in their latest sample, with why.
    pub fn failing(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|seen| {
                let samples = lock(&seen.samples);
                match samples.last() {
                    Some(s) if s.ok => None,
                    Some(s) => Some(format!("{} ({})", seen.name, s.detail.as_deref().unwrap_or("failed"))),
                    None => Some(format!("{} (no sample yet)", seen.name)),
                }
            })
            .collect()
    }

    /// Whether every probe has been healthy for good since some time after
    /// `fault_ms`, for at least `sustain`.
    pub fn recovered(&self, fault_ms: u64, sustain: Duration) -> bool {
        let sustain_ms = sustain.as_millis() as u64;
        self.seen
            .iter()
            .all(|seen| judge::healthy_from(&lock(&seen.samples), fault_ms, sustain_ms).is_some())
    }

    /// Stops sampling, reads the write probes back, and judges each probe.
    pub async fn finish(mut self, fault_ms: u64, sustain: Duration) -> Vec<ProbeResult> {
        self.stop.store(true, Ordering::SeqCst);
        let sustain_ms = sustain.as_millis() as u64;
        let mut results = Vec::new();
        for (seen, task) in self.seen.iter().zip(self.tasks.drain(..)) {
            let samples = lock(&seen.samples).clone();
            let writes = lock(&seen.writes).clone();
            let mut result = ProbeResult {
                probe: seen.name.clone(),
                samples: samples.len(),
                failed: samples.iter().filter(|s| !s.ok).count(),
                saw_fault: judge::saw_fault(&samples, fault_ms),
                healthy_after_ms: judge::healthy_from(&samples, fault_ms, sustain_ms).map(|t| t - fault_ms),
                loss: None,
                read_back_error: None,
            };
            match task.await {
                Ok(mut checker) => match checker.lost(&writes).await {
                    Some(Ok(lost)) => result.loss = Some(judge::loss(&writes, &lost)),
                    Some(Err(why)) => result.read_back_error = Some(why),
                    None => {}
                },
                Err(e) => result.read_back_error = Some(format!("the probe stopped: {e}")),
            }
            results.push(result);
        }
        results
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A probe's loop: one attempt per tick until stopped; a change of health
/// is journaled.
async fn sample(
    mut checker: Checker,
    seen: Arc<Seen>,
    epoch: Instant,
    stop: Arc<AtomicBool>,
    journal: Arc<Journal>,
) -> Checker {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_ok: Option<bool> = None;
    while !stop.load(Ordering::SeqCst) {
        ticks.tick().await;
        let at_ms = epoch.elapsed().as_millis() as u64;
        let outcome = match tokio::time::timeout(TICK, checker.attempt()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {} ms", TICK.as_millis())),
        };
        let ok = outcome.is_ok();
        if was_ok != Some(ok) {
            journal.record(
                "probe",
                json!({
                    "probe": seen.name,
                    "ok": ok,
                    "at_ms": at_ms,
                    "detail": outcome.as_ref().err(),
                }),
            );
            was_ok = Some(ok);
        }
        if let Ok(Some(id)) = outcome {
            lock(&seen.writes).push(Write { at_ms, id });
        }
        lock(&seen.samples).push(Sample {
            at_ms,
            ok,
            detail: outcome.err(),
        });
    }
    checker
}
