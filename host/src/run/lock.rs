//! One recovery at a time: the local lock a live run takes on the targets
//! it may change.
//!
//! A target is `capability:label`, e.g. `postgres:primary`, `shell:sleep`,
//! `docker:toolboxai-backend*`: the labels of the plugin's effective grants
//! that allow more than reading (each capability says which, in its
//! [`Gate::changes`](crate::caps::kit::gate::Gate)). A plugin with only read
//! grants locks nothing, and a plan (`--plan`) locks nothing: it changes
//! nothing.
//!
//! Each target is one file in the lock directory (`.locks/` in the journal
//! directory, 0700), named by a hash of the target so that no label can
//! steer the path, created with `O_EXCL | O_NOFOLLOW`, mode 0600, holding
//! the holder as JSON ([`Holder`]). The holder keeps an exclusive `flock`
//! on it for the whole run, which the kernel drops however the process
//! ends: a lock file nobody holds is stale (its run was killed) and is taken
//! over, unless its holder is a live process on this host that started when
//! the file says (a filesystem without `flock`). The file is removed on
//! every ordinary exit path (success, failure, sandbox stop, Ctrl-C) by
//! [`Locks::release`], also called on drop.
//!
//! A run takes all of its targets or none: when one is held it lets go of
//! the others before it waits, so two runs never hold half each.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::shared_lock::{SharedBusy, SharedLock};
use crate::config::PluginGrants;
use crate::error::Error;

/// The lock directory for runs that journal to `journal_dir`.
pub fn dir_for(journal_dir: &Path) -> PathBuf {
    journal_dir.join(".locks")
}

/// The targets `grants` let a plugin change, as `capability:label`, sorted
/// and each once.
pub fn targets(grants: &PluginGrants) -> Vec<String> {
    let mut targets: Vec<String> = crate::caps::GATES
        .iter()
        .flat_map(|gate| {
            (gate.changes)(grants)
                .into_iter()
                .map(move |label| format!("{}:{label}", gate.capability))
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// Who holds a target: the contents of its lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The target, `capability:label`.
    pub target: String,
    /// The run id.
    pub run: String,
    /// The host the run is on.
    pub host: String,
    /// The drhost process.
    pub pid: u32,
    /// When that process started, in clock ticks after boot (`/proc/PID/stat`),
    /// so a reused pid is not mistaken for the holder.
    #[serde(default)]
    pub pid_start: Option<u64>,
    /// When the run took the lock (RFC 3339, UTC).
    pub since: String,
}

impl Holder {
    /// This process, holding `target` for run `run` from now.
    pub(crate) fn me(target: &str, run: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            target: target.to_string(),
            run: run.to_string(),
            host: hostname(),
            pid,
            pid_start: process_start(pid),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }
    }

    /// Whether the holder is a live process on this host, the same one that
    /// wrote the file (not a later process that reuses its pid).
    fn alive_here(&self) -> bool {
        if self.host != hostname() {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return false;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let exists =
            unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
        exists && (self.pid_start.is_none() || process_start(self.pid) == self.pid_start)
    }

    /// A holder of `target` nobody can name; `run` says why.
    pub(crate) fn unknown(target: &str, run: &str) -> Holder {
        Holder {
            target: target.to_string(),
            run: run.to_string(),
            host: "?".into(),
            pid: 0,
            pid_start: None,
            since: "?".into(),
        }
    }

    /// `run R (host H, pid P, since T)`, for the operator.
    pub fn describe(&self) -> String {
        format!(
            "run {} (host {}, pid {}, since {})",
            crate::console::plugin_text(&self.run),
            crate::console::plugin_text(&self.host),
            self.pid,
            crate::console::plugin_text(&self.since)
        )
    }
}

/// The locks a run holds, released on [`Locks::release`] or drop.
pub struct Locks {
    held: Mutex<Vec<Held>>,
    /// Stale locks taken over from runs that died holding them.
    pub took_over: Vec<Holder>,
    /// The targets held.
    pub targets: Vec<String>,
    /// The session holding the same targets on the shared lock's server.
    shared: Mutex<Option<super::shared_lock::Session>>,
}

struct Held {
    path: PathBuf,
    file: File,
}

impl Locks {
    /// The fence of a run holding these locks: `None` without a shared
    /// lock (local lock files cannot be lost while the process lives).
    pub fn fence(&self, journal: &Arc<crate::journal::Journal>) -> Option<Arc<crate::caps::kit::fence::Fence>> {
        let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.as_ref().map(|session| session.fence(journal.clone()))
    }

    /// Removes the lock files (when they are still this run's) and lets go
    /// of them. Idempotent.
    pub fn release(&self) {
        if let Some(session) = self.shared.lock().unwrap_or_else(|p| p.into_inner()).take() {
            session.close();
        }
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for Held { path, file } in held {
            // Still ours: removed while the flock is held, so a run waiting on
            // the old file sees it gone and starts again.
            if let (Ok(on_disk), Ok(ours)) = (std::fs::symlink_metadata(&path), file.metadata()) {
                if same_file(&on_disk, &ours) {
                    let _ = std::fs::remove_file(&path);
                }
            }
            drop(file);
        }
    }
}

impl Drop for Locks {
    fn drop(&mut self) {
        self.release();
    }
}

/// Why a run could not take its locks.
#[derive(Debug)]
pub enum Busy {
    /// Another run holds a target.
    Held(Holder),
    /// The lock directory or a lock file is not usable.
    Unusable(String),
}

/// Takes every one of `targets` for run `run_id` in `dir` (made 0700 when
/// missing), or none: the first target another run holds, or why the
/// directory cannot be used.
pub fn take_all(dir: &Path, targets: &[String], run_id: &str) -> Result<Locks, Busy> {
    crate::private_dir::ensure(dir).map_err(Busy::Unusable)?;
    let mut locks = Locks {
        held: Mutex::new(Vec::new()),
        took_over: Vec::new(),
        targets: targets.to_vec(),
        shared: Mutex::new(None),
    };
    for target in targets {
        // On an early return `locks` is dropped, releasing what it took.
        let (held, stale) = take_one(dir, target, run_id)?;
        locks.held.get_mut().unwrap_or_else(|p| p.into_inner()).push(held);
        locks.took_over.extend(stale);
    }
    Ok(locks)
}

/// Takes every one of `targets` (and, with `shared`, the same targets on
/// the shared lock's server), waiting up to `wait` (polling) while another
/// run holds one; `waiting` is told once per holder waited for. A held
/// target is refused (exit 3) naming the holder and the fix.
pub async fn take(
    dir: &Path,
    targets: &[String],
    run_id: &str,
    shared: Option<&SharedLock>,
    wait: Option<Duration>,
    mut waiting: impl FnMut(&Holder),
) -> Result<Locks, Error> {
    let started = Instant::now();
    let mut told: Option<Holder> = None;
    loop {
        let taken = match (take_all(dir, targets, run_id), shared) {
            (Ok(locks), Some(shared)) => {
                let me = Holder::me("", run_id);
                match shared.take(targets, &me).await {
                    Ok(session) => {
                        *locks.shared.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
                        Ok(locks)
                    }
                    // `locks` is dropped: all or nothing.
                    Err(SharedBusy::Held(holder)) => Err(Busy::Held(holder)),
                    Err(SharedBusy::Unusable(reason)) => return Err(Error::Refused(reason)),
                }
            }
            (taken, _) => taken,
        };
        match taken {
            Ok(locks) => return Ok(locks),
            Err(Busy::Unusable(reason)) => {
                return Err(Error::Refused(format!(
                    "cannot take the run's lock in {}: {reason}",
                    dir.display()
                )))
            }
            Err(Busy::Held(holder)) => {
                let waited = started.elapsed();
                match wait {
                    Some(wait) if waited < wait => {
                        if told.as_ref() != Some(&holder) {
                            waiting(&holder);
                            told = Some(holder);
                        }
                        tokio::time::sleep(POLL.min(wait - waited)).await;
                    }
                    _ => return Err(Error::Refused(refusal(&holder, wait))),
                }
            }
        }
    }
}

/// How often a waiting run looks again.
const POLL: Duration = Duration::from_millis(200);

/// The one line a run refused for a held target prints.
fn refusal(holder: &Holder, waited: Option<Duration>) -> String {
    let target = crate::console::plugin_text(&holder.target);
    let run = crate::console::plugin_text(&holder.run);
    match waited {
        Some(waited) => format!(
            "target `{target}` is still held by {} after waiting {}: wait for run {run} to end (`drhost show {run} --follow`), or pass a longer --wait",
            holder.describe(),
            humantime::format_duration(waited)
        ),
        None => format!(
            "target `{target}` is held by {}: wait for run {run} to end (`drhost show {run} --follow`), or pass --wait DURATION (e.g. --wait 10m) to wait for it",
            holder.describe()
        ),
    }
}

/// The lock file of `target`: a hash, so `/`, `..` or anything else in a
/// label cannot choose the path.
fn lock_path(dir: &Path, target: &str) -> PathBuf {
    let hash = hex::encode(Sha256::digest(target.as_bytes()));
    dir.join(format!("{}.lock", &hash[..32]))
}

/// Takes one target: creates its lock file, or takes over a stale one.
fn take_one(dir: &Path, target: &str, run_id: &str) -> Result<(Held, Option<Holder>), Busy> {
    let path = lock_path(dir, target);
    let me = Holder::me(target, run_id);
    let unusable = |what: &str, e: std::io::Error| Busy::Unusable(format!("{what} {}: {e}", path.display()));
    // A few rounds: another run may create or remove the file between our
    // two opens.
    for _ in 0..20 {
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path);
        match created {
            Ok(file) => match file.try_lock() {
                // Someone opened the new file and locked it first: theirs.
                Err(std::fs::TryLockError::WouldBlock) => continue,
                _ => {
                    let held = write_holder(path.clone(), file, &me).map_err(|e| unusable("cannot write", e))?;
                    return Ok((held, None));
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(unusable("cannot create", e)),
        }
        let existing = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path);
        let mut file = match existing {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Busy::Unusable(format!(
                    "{} is a symbolic link, which drhost does not follow: remove it",
                    path.display()
                )))
            }
            Err(e) => return Err(unusable("cannot open", e)),
        };
        let meta = file.metadata().map_err(|e| unusable("cannot read", e))?;
        if !meta.is_file() {
            return Err(Busy::Unusable(format!(
                "{} is not a regular file: remove it",
                path.display()
            )));
        }
        let mut text = String::new();
        let _ = (&mut file).take(64 << 10).read_to_string(&mut text);
        let old: Option<Holder> = serde_json::from_str(text.trim()).ok();
        let unknown = || Holder::unknown(target, "(unknown: unreadable lock file)");
        match file.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) => return Err(Busy::Held(old.unwrap_or_else(unknown))),
            Ok(()) => {
                // Released and removed while we opened it: start again.
                match std::fs::symlink_metadata(&path) {
                    Ok(now) if same_file(&now, &meta) => {}
                    _ => continue,
                }
                if let Some(old) = old.as_ref().filter(|o| o.alive_here()) {
                    // Alive but not holding it: a filesystem without flock.
                    return Err(Busy::Held(old.clone()));
                }
            }
            // No flock here: only the holder's process tells.
            Err(std::fs::TryLockError::Error(_)) => {
                if let Some(old) = old.as_ref().filter(|o| o.alive_here() || o.host != me.host) {
                    return Err(Busy::Held(old.clone()));
                }
            }
        }
        file.set_len(0).map_err(|e| unusable("cannot rewrite", e))?;
        let held = write_holder(path.clone(), file, &me).map_err(|e| unusable("cannot write", e))?;
        return Ok((held, Some(old.unwrap_or_else(unknown))));
    }
    Err(Busy::Unusable(format!(
        "{} keeps changing under drhost (other runs taking and releasing it): try again",
        path.display()
    )))
}

fn write_holder(path: PathBuf, mut file: File, me: &Holder) -> std::io::Result<Held> {
    let text = format!("{}\n", serde_json::to_string(me).map_err(std::io::Error::other)?);
    std::os::unix::fs::FileExt::write_all_at(&file, text.as_bytes(), 0)?;
    file.flush()?;
    Ok(Held { path, file })
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// This machine's name, or `?`.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is passed.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "?".into()
    }
}

/// When process `pid` started, in clock ticks after boot (field 22 of
/// `/proc/PID/stat`), or `None` when it cannot be read.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_held_target_is_refused_and_freed_on_release() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join(".locks");
        let first = take_all(&locks, &["shell:sleep".into()], "run-a").ok().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&locks), 0o700);
        let file = lock_path(&locks, "shell:sleep");
        assert_eq!(mode(&file), 0o600);
        // Another open file description, as another process would have.
        match take_all(&locks, &["redis:cache".into(), "shell:sleep".into()], "run-b") {
            Err(Busy::Held(holder)) => {
                assert_eq!(holder.run, "run-a");
                assert_eq!(holder.pid, std::process::id());
            }
            _ => panic!("the second run took a held target"),
        }
        // All or nothing: the target it did get was let go again.
        assert!(!lock_path(&locks, "redis:cache").exists());
        first.release();
        assert!(!file.exists());
        let second = take_all(&locks, &["shell:sleep".into()], "run-b").ok().unwrap();
        assert!(second.took_over.is_empty());
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_a_label_cannot_steer_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join(".locks");
        crate::private_dir::ensure(&locks).unwrap();
        let dead = Holder {
            pid: u32::MAX - 1,
            ..Holder::me("postgres:primary", "dead-run")
        };
        std::fs::write(
            lock_path(&locks, "postgres:primary"),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let taken = take_all(&locks, &["postgres:primary".into()], "run-c").ok().unwrap();
        assert_eq!(taken.took_over, [dead]);

        for label in ["../../escape", "/etc/passwd", "a/../../b"] {
            let path = lock_path(&locks, &format!("files:{label}"));
            assert_eq!(path.parent(), Some(locks.as_path()), "{label}");
        }
    }

    #[test]
    fn a_symlink_at_the_lock_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join(".locks");
        crate::private_dir::ensure(&locks).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&locks, "shell:sleep")).unwrap();
        match take_all(&locks, &["shell:sleep".into()], "run-d") {
            Err(Busy::Unusable(reason)) => assert!(reason.contains("symbolic link"), "{reason}"),
            _ => panic!("followed the link"),
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn this_process_is_alive_and_its_start_time_is_known() {
        let me = Holder::me("t", "r");
        assert!(me.pid_start.is_some());
        assert!(me.alive_here());
        let reused = Holder {
            pid_start: me.pid_start.map(|s| s + 1),
            ..me.clone()
        };
        assert!(!reused.alive_here());
    }
}
