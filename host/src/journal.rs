//! The run journal: one JSON-lines file per run, written as things happen.
//!
//! Each line is one event with `ts` (RFC 3339, UTC), `run` (the run id) and
//! `event`: `run-start`, `call`, `log`, `step-start`, `step-note`,
//! `step-end`, `guest-output`, `run-end`. Every line is written with one
//! `write` call, so a crash loses at most the event being written. Callers
//! redact secrets before they get here; the journal never sees a value it
//! was not handed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::{Error, Result};

/// An open run journal.
pub struct Journal {
    run_id: String,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

impl Journal {
    /// Creates `<dir>/<run_id>.jsonl` (and `dir`); fails before anything runs.
    pub fn create(dir: &Path, run_id: &str) -> Result<Journal> {
        let fail = |e: std::io::Error| Error::Journal {
            path: dir.to_owned(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(fail)?;
        Ok(Journal {
            run_id: run_id.to_string(),
            path: Some(path),
            file: Mutex::new(Some(file)),
        })
    }

    /// A journal that records nothing (for `inspect`, which changes nothing).
    pub fn disabled() -> Journal {
        Journal {
            run_id: String::new(),
            path: None,
            file: Mutex::new(None),
        }
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The journal file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one event. `fields` must be a JSON object.
    pub fn record(&self, event: &str, fields: serde_json::Value) {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let Some(file) = guard.as_mut() else { return };
        let mut line = serde_json::Map::new();
        line.insert(
            "ts".into(),
            humantime::format_rfc3339_millis(SystemTime::now()).to_string().into(),
        );
        line.insert("run".into(), self.run_id.clone().into());
        line.insert("event".into(), event.into());
        if let serde_json::Value::Object(fields) = fields {
            line.extend(fields);
        }
        let mut text = serde_json::Value::Object(line).to_string();
        text.push('\n');
        if let Err(e) = file.write_all(text.as_bytes()) {
            // Keep the run going (it may be mid-recovery) but say so once.
            eprintln!("drhost: journal write failed ({e}); further events are not recorded");
            *guard = None;
        }
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
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let suffix = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{stamp}-{stem}-{suffix:04x}")
}

/// `$XDG_STATE_HOME/drhost/runs`, else `~/.local/state/drhost/runs`.
pub fn default_dir() -> PathBuf {
    state_home().join("drhost").join("runs")
}

fn state_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".local").join("state")
}
