//! The run's disk budget: what the host writes for the plugin (blobs:
//! downloads, dumps, snapshots, `from-bytes`) and what the plugin writes
//! into its scratch directory, together, at most the limit (`--disk`,
//! `[run] disk`, 8 GiB by default).
//!
//! Blobs are charged *before* their bytes are written ([`Charge::add`]): a
//! call that would go over fails with a typed error and keeps nothing. The
//! scratch directory is written by the guest through WASI, which has no
//! hook to refuse a write, so it is *measured* instead
//! ([`DiskBudget::measure_scratch`]): at every audited capability call, before
//! every blob-producing call, every [`WATCH_INTERVAL`] while the plugin runs
//! and when it ends. Once scratch and blobs together are over the limit the
//! run is stopped (a trap, exit 4) — at its next call or epoch tick.
//!
//! A program run through `shell.run` writes on the host while the call is
//! in progress, where neither hook reaches: it may make no file larger
//! than what is left of the budget when it starts (`RLIMIT_FSIZE`: the
//! write past it kills it with `SIGXFSZ`), and its working directory is
//! measured with the rest while it runs. Either way over, it is killed
//! with its process group and the run stopped the same way
//! ([`DiskBudget::stop_for_program`]).
//!
//! A file counts as its length, or the space it takes on disk if that is
//! more; the measurement stops counting (and the run stops) past
//! [`MAX_SCRATCH_ENTRIES`] files and directories, so one walk stays short.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::bindings::types::Error as CapError;

/// The default budget for blobs and scratch together.
pub const DEFAULT_DISK: u64 = 8 << 30;
/// Files and directories the scratch directory may hold.
pub const MAX_SCRATCH_ENTRIES: u64 = 100_000;
/// How often the scratch directory is measured while the plugin runs.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// One run's budget (shared by its capabilities and the watcher).
#[derive(Debug)]
pub struct DiskBudget {
    limit: u64,
    /// The directory measured as scratch; none in `describe`, which has none.
    scratch_dir: Option<PathBuf>,
    /// Bytes charged to blobs: live ones and those being written.
    blobs: AtomicU64,
    /// The scratch directory's size when last measured.
    scratch: AtomicU64,
    /// Set once scratch and blobs were measured over the limit.
    over: AtomicBool,
    /// What a program run through `shell.run` did that took the run over.
    program: std::sync::Mutex<Option<String>>,
}

/// The trap that stops a run whose scratch, or a program it ran, took it
/// over its disk budget.
#[derive(Debug, Clone)]
pub struct DiskBudgetExceeded {
    /// The budget.
    pub limit: u64,
    /// The scratch directory, measured.
    pub scratch: u64,
    /// Blobs, charged.
    pub blobs: u64,
    /// What a program run through `shell.run` did, when it went over.
    pub program: Option<String>,
}

impl std::fmt::Display for DiskBudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scratch = if self.scratch == u64::MAX {
            format!("more than {MAX_SCRATCH_ENTRIES} files")
        } else {
            size(self.scratch)
        };
        write!(
            f,
            "the run's disk budget of {} is used up: the plugin's scratch directory holds {scratch} and its blobs {}",
            size(self.limit),
            size(self.blobs)
        )?;
        match &self.program {
            Some(program) => write!(f, ", and {program}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DiskBudgetExceeded {}

impl DiskBudget {
    /// A budget of `limit` bytes for blobs plus `scratch_dir`.
    pub fn new(limit: u64, scratch_dir: &Path) -> Arc<DiskBudget> {
        Self::build(limit, Some(scratch_dir.to_owned()))
    }

    /// A budget of `limit` bytes with no scratch directory to measure
    /// (`describe`'s: it has no directory at all).
    pub fn without_scratch(limit: u64) -> Arc<DiskBudget> {
        Self::build(limit, None)
    }

    fn build(limit: u64, scratch_dir: Option<PathBuf>) -> Arc<DiskBudget> {
        Arc::new(DiskBudget {
            limit,
            scratch_dir,
            blobs: AtomicU64::new(0),
            scratch: AtomicU64::new(0),
            over: AtomicBool::new(false),
            program: std::sync::Mutex::new(None),
        })
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Measures the scratch directory now; marks the run over budget when
    /// scratch and blobs together exceed the limit. Returns the measurement.
    pub fn measure_scratch(&self) -> u64 {
        let used = self.scratch_dir.as_deref().map_or(0, scratch_usage);
        self.scratch.store(used, Ordering::SeqCst);
        if used.saturating_add(self.blobs.load(Ordering::SeqCst)) > self.limit {
            self.over.store(true, Ordering::SeqCst);
        }
        used
    }

    /// The trap to stop the run with, once it went over the budget.
    pub fn exceeded(&self) -> Option<DiskBudgetExceeded> {
        self.over.load(Ordering::SeqCst).then(|| DiskBudgetExceeded {
            limit: self.limit,
            scratch: self.scratch.load(Ordering::SeqCst),
            blobs: self.blobs.load(Ordering::SeqCst),
            program: self.program.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        })
    }

    /// Whether `more` bytes (what a running program's working directory
    /// holds, measured) on top of scratch and blobs would be over the limit.
    pub fn over_with(&self, more: u64) -> bool {
        more.saturating_add(self.scratch.load(Ordering::SeqCst))
            .saturating_add(self.blobs.load(Ordering::SeqCst))
            > self.limit
    }

    /// Marks the run over its budget because of a program run through
    /// `shell.run` (`what` it did, e.g. "`dd`, run through shell.run, wrote
    /// 3 MiB in its working directory and was killed"); returns the trap
    /// that stops the run.
    pub fn stop_for_program(&self, what: String) -> DiskBudgetExceeded {
        *self.program.lock().unwrap_or_else(|p| p.into_inner()) = Some(what);
        self.over.store(true, Ordering::SeqCst);
        self.exceeded().unwrap_or(DiskBudgetExceeded {
            limit: self.limit,
            scratch: self.scratch.load(Ordering::SeqCst),
            blobs: self.blobs.load(Ordering::SeqCst),
            program: None,
        })
    }

    /// Starts charging a blob for `what` (e.g. "s3 get of `k` on `b`"),
    /// after measuring the scratch directory afresh.
    pub fn charge(self: &Arc<Self>, what: &str) -> Charge {
        self.measure_scratch();
        Charge {
            budget: self.clone(),
            bytes: 0,
            what: what.to_string(),
        }
    }

    /// What a new blob may still take: the limit less scratch and blobs.
    pub fn left(&self) -> u64 {
        self.limit
            .saturating_sub(self.scratch.load(Ordering::SeqCst))
            .saturating_sub(self.blobs.load(Ordering::SeqCst))
    }

    /// A blob of `bytes` is gone (dropped by the plugin).
    pub fn release(&self, bytes: u64) {
        let _ = self
            .blobs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| Some(b.saturating_sub(bytes)));
    }

    /// Measures the scratch directory every [`WATCH_INTERVAL`] until the
    /// returned guard is dropped, so a plugin that writes without calling
    /// the host is still stopped (at its next epoch tick).
    pub fn watch(self: &Arc<Self>) -> Watch {
        let budget = self.clone();
        Watch(tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCH_INTERVAL).await;
                let measuring = budget.clone();
                if tokio::task::spawn_blocking(move || measuring.measure_scratch())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }))
    }
}

/// Stops [`DiskBudget::watch`] when dropped.
pub struct Watch(tokio::task::JoinHandle<()>);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The bytes of one blob being written, charged to the budget as they
/// come. Released when dropped unless the blob is kept ([`Charge::keep`]).
#[derive(Debug)]
pub struct Charge {
    budget: Arc<DiskBudget>,
    bytes: u64,
    what: String,
}

impl Charge {
    /// Charges `n` more bytes, or refuses (charging nothing) when they do
    /// not fit in what is left of the budget.
    pub fn add(&mut self, n: u64) -> Result<(), CapError> {
        let budget = &self.budget;
        let scratch = budget.scratch.load(Ordering::SeqCst);
        let fits = budget.blobs.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
            let total = b.checked_add(n)?;
            (total.saturating_add(scratch) <= budget.limit).then_some(total)
        });
        match fits {
            Ok(_) => {
                self.bytes += n;
                Ok(())
            }
            Err(blobs) => Err(self.refusal(scratch, blobs, n)),
        }
    }

    /// Refuses, before anything is written, `n` more bytes announced for
    /// this blob (a download's length) that cannot fit; charges nothing.
    pub fn expect(&self, n: u64) -> Result<(), CapError> {
        let budget = &self.budget;
        let (scratch, blobs) = (
            budget.scratch.load(Ordering::SeqCst),
            budget.blobs.load(Ordering::SeqCst),
        );
        if blobs.saturating_add(scratch).saturating_add(n) > budget.limit {
            return Err(self.refusal(scratch, blobs, n));
        }
        Ok(())
    }

    /// What the blob may still take.
    pub fn left(&self) -> u64 {
        self.budget.left()
    }

    /// The blob is kept: its bytes stay charged until it is released.
    pub fn keep(mut self) -> u64 {
        std::mem::take(&mut self.bytes)
    }

    /// The typed error of a blob that does not fit.
    fn refusal(&self, scratch: u64, blobs: u64, more: u64) -> CapError {
        let blobs = blobs.saturating_sub(self.bytes);
        CapError::Failed(format!(
            "{}: the run's disk budget of {} would be exceeded (blobs {}, scratch {}, this blob {} and {} more); nothing was kept: drop blobs the plugin no longer needs and remove scratch files, or the operator raises the budget with --disk or [run] disk",
            self.what,
            size(self.budget.limit),
            size(blobs),
            size(scratch),
            size(self.bytes),
            size(more)
        ))
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.release(self.bytes);
        }
    }
}

/// `bytes` for a sentence: `8 GiB`, `1.5 MiB`, `512 B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            let whole = bytes / scale;
            let tenths = (bytes % scale) * 10 / scale;
            return if tenths == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenths} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

/// The bytes the files under `dir` take (each its length, or its blocks
/// if more; links not followed); `u64::MAX` past [`MAX_SCRATCH_ENTRIES`].
pub fn scratch_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut entries = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(listing) = std::fs::read_dir(&dir) else { continue };
        for entry in listing.flatten() {
            entries += 1;
            if entries > MAX_SCRATCH_ENTRIES {
                return u64::MAX;
            }
            let Ok(meta) = entry.metadata() else { continue };
            total = total.saturating_add(meta.len().max(meta.blocks().saturating_mul(512)));
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_charged_before_they_are_written_and_released_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let budget = DiskBudget::new(1000, dir.path());
        let mut first = budget.charge("first");
        first.add(600).unwrap();
        let kept = first.keep();
        assert_eq!((kept, budget.left()), (600, 400));
        let mut second = budget.charge("second");
        second.add(300).unwrap();
        let CapError::Failed(refusal) = second.add(200).unwrap_err() else {
            panic!("not failed")
        };
        assert!(
            refusal.starts_with("second: the run's disk budget of 1000 B would be exceeded (blobs 600 B, scratch 0 B, this blob 300 B and 200 B more)"),
            "{refusal}"
        );
        drop(second);
        assert_eq!(budget.left(), 400, "a blob not kept gives its bytes back");
        budget.release(kept);
        assert_eq!(budget.left(), 1000);
        assert!(budget.exceeded().is_none());
    }

    #[test]
    fn scratch_is_measured_with_blobs_and_stops_the_run_when_over() {
        let dir = tempfile::tempdir().unwrap();
        let budget = DiskBudget::new(100_000, dir.path());
        let mut blob = budget.charge("blob");
        blob.add(4_000).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/file"), vec![7u8; 5_000]).unwrap();
        let measured = budget.measure_scratch();
        assert!(measured >= 5_000, "{measured}");
        assert!(budget.exceeded().is_none());
        let rest = (100_000 - 4_000 - measured) as usize;
        std::fs::write(dir.path().join("more"), vec![7u8; rest + 1]).unwrap();
        budget.measure_scratch();
        let over = budget.exceeded().expect("over the budget");
        assert_eq!((over.limit, over.blobs), (100_000, 4_000));
        assert!(
            over.to_string()
                .starts_with("the run's disk budget of 97.6 KiB is used up"),
            "{over}"
        );
    }

    #[test]
    fn a_program_over_the_budget_stops_the_run_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let budget = DiskBudget::new(1000, dir.path());
        let mut blob = budget.charge("blob");
        blob.add(400).unwrap();
        assert!(!budget.over_with(600));
        assert!(budget.over_with(601));
        assert!(budget.exceeded().is_none());
        let over = budget.stop_for_program("`dd`, run through shell.run, wrote 601 B".into());
        assert_eq!(budget.exceeded().map(|o| o.blobs), Some(400));
        assert!(
            over.to_string()
                .ends_with("its blobs 400 B, and `dd`, run through shell.run, wrote 601 B"),
            "{over}"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(8 << 30), "8 GiB");
        assert_eq!(size(3 << 19), "1.5 MiB");
        assert_eq!(size(512), "512 B");
    }
}
