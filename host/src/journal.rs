//! The run journal: one JSON-lines file per run, written as things happen.
//!
//! Each line is one event with `ts` (RFC 3339, UTC), `run` (the run id) and
//! `event`: `run-start`, `call`, `log`, `step-start`, `step-note`,
//! `step-end`, `guest-output`, `run-end`. Every line is written with one
//! `write` call, so a crash of drhost loses at most the event being written.
//! The lines that say what was done — `run-start`, each `call`, `step-end`,
//! a drill's `fault-end`, `run-end` — are also flushed to the disk
//! (`fdatasync`) before drhost goes on, so a crash of the host itself
//! (power, kernel) mid-recovery still leaves a journal saying every action
//! taken; logs and notes in between go with the next of those. Callers
//! redact secrets before they get here; the journal never sees a value it
//! was not handed.
//!
//! While a run writes its journal, drhost holds an exclusive `flock` on the
//! file, which the kernel drops when the process ends however it ends:
//! [`writer_alive`] tells a run still being written from one whose drhost
//! died before `run-end` (the journal's format does not change).
//!
//! Every event carries `prev`, the hash of the line before it, and
//! `run-end` carries `head`, the hash of the whole chain: see [`chain`].

pub mod chain;
pub mod head_signature;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::{Error, Result};

/// An open run journal.
pub struct Journal {
    run_id: String,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    budget: Mutex<Budget>,
}

impl Journal {
    /// Creates `<dir>/<run_id>.jsonl` (mode 0600) in `dir` (created 0700,
    /// refused when it is not private: see [`crate::private_dir`]); fails
    /// before anything runs.
    pub fn create(dir: &Path, run_id: &str) -> Result<Journal> {
        Journal::create_with_budget(dir, run_id, JOURNAL_BUDGET)
    }

    /// [`Journal::create`] with a byte budget for the events a plugin causes.
    pub fn create_with_budget(dir: &Path, run_id: &str, budget: u64) -> Result<Journal> {
        let fail = |reason: String| Error::Journal {
            path: dir.to_owned(),
            reason,
        };
        crate::private_dir::ensure(dir).map_err(fail)?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| fail(e.to_string()))?;
        // The file is new, so nobody else holds it. Where the filesystem has
        // no locks the run goes on, and `drhost runs` cannot tell it is alive.
        let _ = file.try_lock();
        Ok(Journal {
            run_id: run_id.to_string(),
            path: Some(path),
            file: Mutex::new(Some(file)),
            budget: Mutex::new(Budget {
                left: budget,
                dropped: 0,
                prev: chain::genesis(run_id),
                head: None,
            }),
        })
    }

    /// A journal that records nothing (for `inspect`, which changes nothing).
    pub fn disabled() -> Journal {
        Journal {
            run_id: String::new(),
            path: None,
            file: Mutex::new(None),
            budget: Mutex::new(Budget {
                left: 0,
                dropped: 0,
                prev: String::new(),
                head: None,
            }),
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The hash chain's `head`, once `run-end` is written (see [`chain`]).
    pub fn head(&self) -> Option<String> {
        self.budget.lock().unwrap_or_else(|p| p.into_inner()).head.clone()
    }

    /// The journal file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Closes the journal and removes its file: for a run that ended in a
    /// usage or configuration error, where nothing ran and nothing is worth
    /// keeping. Later events are not recorded.
    pub fn discard(&self) {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.take().is_some() {
            if let Some(path) = &self.path {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// Appends one event. `fields` must be a JSON object. Long strings and
    /// arrays in it are cut (see [`FIELD_CAP`], [`ARRAY_CAP`]); once the
    /// run's budget is spent, events other than `run-start` and `run-end`
    /// are counted instead of written, after one `journal-truncated` event.
    pub fn record(&self, event: &str, mut fields: serde_json::Value) {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let Some(file) = guard.as_mut() else { return };
        cap_value(&mut fields);
        let always = matches!(event, "run-start" | "run-end");
        let mut budget = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        if budget.left == 0 && !always {
            budget.dropped += 1;
            return;
        }
        if event == "run-end" && budget.dropped > 0 {
            if let serde_json::Value::Object(map) = &mut fields {
                map.insert("journal_events_dropped".into(), budget.dropped.into());
            }
        }
        let mut line = serde_json::Map::new();
        line.insert(
            "ts".into(),
            humantime::format_rfc3339_millis(SystemTime::now()).to_string().into(),
        );
        line.insert("run".into(), self.run_id.clone().into());
        line.insert("event".into(), event.into());
        if let serde_json::Value::Object(fields) = fields {
            // A field may not replace what every line carries (the chain
            // checks `run` and `prev`): one named so is kept as `<name>_field`.
            for (name, value) in fields {
                if RESERVED_FIELDS.contains(&name.as_str()) {
                    line.insert(format!("{name}_field"), value);
                } else {
                    line.insert(name, value);
                }
            }
        }
        let mut text = budget.chained(line);
        if !always {
            match budget.left.checked_sub(text.len() as u64 + 1) {
                Some(left) => budget.left = left,
                None => {
                    budget.left = 0;
                    budget.dropped += 1;
                    text = budget.chained(truncated_line(&self.run_id));
                }
            }
        }
        if event == "run-end" {
            let (sealed, head) = chain::seal(&text);
            text = sealed;
            budget.head = Some(head);
        }
        budget.prev = chain::hash(text.as_bytes());
        text.push('\n');
        let durable = matches!(event, "run-start" | "call" | "step-end" | "fault-end" | "run-end");
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| if durable { file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            // Keep the run going (it may be mid-recovery) but say so once.
            eprintln!("drhost: journal write failed ({e}); further events are not recorded");
            *guard = None;
        }
    }
}

/// Bytes a run's events may take in its journal, `run-start` and `run-end`
/// aside (which are always written).
pub const JOURNAL_BUDGET: u64 = 64 << 20;
/// Bytes of one string value in an event; the rest is cut and counted.
pub const FIELD_CAP: usize = 16 << 10;
/// Elements of one array in an event; the rest are cut and counted.
pub const ARRAY_CAP: usize = 1000;

/// What is left of a run's journal budget, what was not written, and the
/// hash chain so far.
struct Budget {
    left: u64,
    dropped: u64,
    /// The hash of the last line written (the next line's `prev`).
    prev: String,
    /// run-end's `head`, once written.
    head: Option<String>,
}

impl Budget {
    /// `line` with its `prev`, serialized (without the newline).
    fn chained(&self, mut line: serde_json::Map<String, serde_json::Value>) -> String {
        line.insert("prev".into(), self.prev.clone().into());
        serde_json::Value::Object(line).to_string()
    }
}

/// The fields every journal line carries, which no event's fields replace.
const RESERVED_FIELDS: [&str; 4] = ["ts", "run", "event", "prev"];

/// The one event written when the budget runs out.
fn truncated_line(run_id: &str) -> serde_json::Map<String, serde_json::Value> {
    let line = serde_json::json!({
        "ts": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "run": run_id,
        "event": "journal-truncated",
        "message": format!("the run's journal reached its budget of {} MiB; further events are counted, not written, until run-end", JOURNAL_BUDGET >> 20),
    });
    match line {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Cuts long strings and arrays inside `value`, saying how much was cut.
pub(crate) fn cap_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) if text.len() > FIELD_CAP => {
            let mut end = FIELD_CAP;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = text.len() - end;
            text.truncate(end);
            text.push_str(&format!("…[{cut} more bytes not journaled]"));
        }
        serde_json::Value::Array(items) => {
            if items.len() > ARRAY_CAP {
                let cut = items.len() - ARRAY_CAP;
                items.truncate(ARRAY_CAP);
                items.push(format!("…[{cut} more items not journaled]").into());
            }
            items.iter_mut().for_each(cap_value);
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(cap_value),
        _ => {}
    }
}

/// A run id: UTC time, the plugin file's stem, and a short random suffix,
/// e.g. `20261127T040506Z-hello-3fa2`.
pub fn new_run_id(plugin_path: &Path) -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    let stem: String = plugin_path
        .file_stem()
        .map(|s| {
            s.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .take(40)
                .collect()
        })
        .unwrap_or_default();
    // RandomState is seeded from the OS's randomness in each process, so two
    // runs started in the same second (even the same nanosecond) differ.
    use std::hash::BuildHasher;
    let suffix = std::collections::hash_map::RandomState::new().hash_one(std::process::id()) & 0xffff;
    format!("{stamp}-{stem}-{suffix:04x}")
}

/// Whether a drhost process is still writing the journal at `path`: `Some(true)`
/// while the run that writes it holds its lock (see the module's
/// documentation), `Some(false)` once that process is gone, `None` when the
/// file cannot be opened or the filesystem has no locks.
pub fn writer_alive(path: &Path) -> Option<bool> {
    let file = File::open(path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => Some(false),
        Err(std::fs::TryLockError::WouldBlock) => Some(true),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// Where run journals are: `--journal-dir` (`flag`), else `[run]
/// journal_dir` of the configuration, else [`default_dir`]. `drhost run`
/// writes there and `drhost runs` / `drhost show` read there, through this
/// one function.
pub fn resolve_dir(flag: Option<&Path>, config: Option<&crate::config::Config>) -> Result<PathBuf> {
    match flag.or_else(|| config?.run.journal_dir.as_deref()) {
        Some(dir) => Ok(dir.to_owned()),
        None => default_dir(),
    }
}

/// `$XDG_STATE_HOME/drhost/runs`, else `~/.local/state/drhost/runs`; an
/// error naming the fix when neither variable is set (never a shared
/// directory such as `/tmp`).
pub fn default_dir() -> Result<PathBuf> {
    crate::private_dir::user_base("XDG_STATE_HOME", ".local/state")
        .map(|base| base.join("drhost").join("runs"))
        .ok_or_else(|| Error::Usage("neither HOME nor XDG_STATE_HOME is set, so drhost has no private place for the run's journal: set one, or pass --journal-dir DIR (or [run] journal_dir)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fields_are_cut_and_the_budget_ends_in_one_truncated_event() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create_with_budget(dir.path(), "r", 4096).unwrap();
        journal.record("run-start", serde_json::json!({}));
        journal.record("log", serde_json::json!({ "message": "x".repeat(FIELD_CAP * 2) }));
        for _ in 0..100 {
            journal.record("log", serde_json::json!({ "message": "y".repeat(100) }));
        }
        journal.record("run-end", serde_json::json!({ "status": "recovered" }));
        let text = std::fs::read_to_string(journal.path().unwrap()).unwrap();
        let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(names, ["run-start", "journal-truncated", "run-end"], "{text}");
        assert_eq!(events[2]["journal_events_dropped"], 101);
        let meta = std::fs::metadata(journal.path().unwrap()).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o600
        );

        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "r").unwrap();
        journal.record(
            "log",
            serde_json::json!({ "message": "x".repeat(FIELD_CAP * 2), "args": vec![1; 5000] }),
        );
        let text = std::fs::read_to_string(journal.path().unwrap()).unwrap();
        let event: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let message = event["message"].as_str().unwrap();
        assert!(
            message.ends_with(&format!("…[{FIELD_CAP} more bytes not journaled]")),
            "{}",
            &message[FIELD_CAP - 10..]
        );
        assert_eq!(event["args"].as_array().unwrap().len(), ARRAY_CAP + 1);
    }

    #[test]
    fn a_field_named_like_what_every_line_carries_replaces_nothing_and_the_chain_holds() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "r1").unwrap();
        journal.record("run-start", serde_json::json!({}));
        journal.record(
            "drill-step",
            serde_json::json!({ "run": "other-run", "prev": "0", "event": "x", "ts": "y", "note": "kept" }),
        );
        journal.record("run-end", serde_json::json!({ "status": "recovered" }));
        let text = std::fs::read_to_string(journal.path().unwrap()).unwrap();
        let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(second["run"], "r1");
        assert_eq!(second["event"], "drill-step");
        assert_eq!(second["run_field"], "other-run");
        assert_eq!(second["prev_field"], "0");
        assert_eq!(second["note"], "kept");
        let verdict = chain::verify(text.as_bytes());
        assert_eq!(verdict.exit_code(), chain::EXIT_INTACT, "{verdict:?}");
    }

    #[test]
    fn a_journal_is_known_alive_while_its_writer_holds_it_and_dead_after() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "r").unwrap();
        let path = journal.path().unwrap().to_owned();
        assert_eq!(writer_alive(&path), Some(true));
        drop(journal);
        assert_eq!(writer_alive(&path), Some(false));
        assert_eq!(writer_alive(&dir.path().join("absent.jsonl")), None);
    }

    #[test]
    fn the_journal_dir_is_the_flag_else_the_config_else_the_default() {
        let config: crate::config::Config = toml::from_str("[run]\njournal_dir = \"/from/config\"\n").unwrap();
        let flag = Path::new("/from/flag");
        assert_eq!(resolve_dir(Some(flag), Some(&config)).unwrap(), flag);
        assert_eq!(resolve_dir(None, Some(&config)).unwrap(), Path::new("/from/config"));
        assert_eq!(
            resolve_dir(None, None).ok(),
            default_dir().ok(),
            "no flag, no config: the default"
        );
    }
}
