//! Runs the real `drhost` binary (built by `make build`) and reads what it
//! left behind: exit code, stdout, stderr, the `--json` report and the journal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/release/drhost`; panics with the fix when it is missing.
pub fn drhost_bin() -> PathBuf {
    let bin = repo_root().join("target/release/drhost");
    assert!(bin.exists(), "{} is missing: run `make build` first", bin.display());
    bin
}

/// A built plugin: `plugins/<id>.wasm`.
pub fn plugin(id: &str) -> PathBuf {
    built(repo_root().join("plugins").join(format!("{id}.wasm")))
}

/// A built test fixture: `tests/plugins/<name>.wasm`.
pub fn fixture(name: &str) -> PathBuf {
    built(repo_root().join("tests/plugins").join(format!("{name}.wasm")))
}

fn built(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} is missing: run `make build` first", path.display());
    path
}

/// `.lab/trust.toml`, written by `make build`: trusts the development key
/// that signed every built plugin, fixture and example.
pub fn dev_trust_file() -> PathBuf {
    repo_root().join(".lab/trust.toml")
}

/// A compile cache shared by all tests (compiling a Python plugin takes seconds).
pub fn shared_cache_dir() -> PathBuf {
    repo_root().join("target/drhost-test-cache")
}

/// What one `drhost` invocation did.
#[derive(Debug)]
pub struct Outcome {
    /// Process exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time of the process.
    pub elapsed: Duration,
    /// Where this invocation's journals went.
    pub journal_dir: PathBuf,
}

impl Outcome {
    /// stdout parsed as the `--json` report.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// The journal's events (the only journal in `journal_dir`).
    pub fn journal(&self) -> Vec<Value> {
        let files: Vec<_> = std::fs::read_dir(&self.journal_dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert_eq!(
            files.len(),
            1,
            "expected one journal in {}: {files:?}",
            self.journal_dir.display()
        );
        read_journal(&files[0])
    }

    /// The raw text of the journal, to search for what must never be in it.
    pub fn journal_text(&self) -> String {
        let file = std::fs::read_dir(&self.journal_dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .expect("a journal");
        std::fs::read_to_string(file).unwrap()
    }

    /// The facts of a `--json` report as (name, value) pairs.
    pub fn fact(&self, name: &str) -> Option<String> {
        let json = self.json();
        json["facts"]
            .as_array()?
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["value"].as_str().map(String::from))
    }

    /// The error lines drhost printed (stderr without progress and journal lines).
    pub fn message_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("drhost: ")).collect()
    }
}

/// Reads a JSON-lines journal, asserting every line is a JSON object.
pub fn read_journal(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("journal line is not JSON ({e}): {line}"));
            assert!(
                v.is_object() && v["event"].is_string() && v["ts"].is_string(),
                "bad journal line: {line}"
            );
            v
        })
        .collect()
}

/// Runs `drhost ARGS…` with a fresh journal directory and the shared cache,
/// and checks that nothing it printed is a Rust panic of the host.
pub fn drhost(args: &[&str]) -> Outcome {
    drhost_with(args, &[])
}

/// Like [`drhost`], with extra environment variables.
pub fn drhost_with(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let journal_dir = tempfile::Builder::new()
        .prefix("drhost-journal-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let mut cmd = Command::new(drhost_bin());
    cmd.args(args)
        .env_remove("DRHOST_CONFIG")
        .env("RUST_BACKTRACE", "1")
        .current_dir(std::env::temp_dir());
    if args.first() == Some(&"run") {
        cmd.arg("--journal-dir").arg(&journal_dir);
    }
    if matches!(args.first(), Some(&"run") | Some(&"inspect")) && !args.contains(&"--cache-dir") {
        cmd.arg("--cache-dir").arg(shared_cache_dir());
    }
    // Plugins are signed by `make build` with the lab's development key; the
    // lock is per invocation (absent) unless a test names one.
    cmd.env("DRHOST_TRUST", dev_trust_file())
        .env("DRHOST_LOCK", journal_dir.join("drhost.lock"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let output = cmd.output().expect("drhost runs");
    let outcome = Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
        journal_dir,
    };
    for text in [&outcome.stdout, &outcome.stderr] {
        for bad in ["panicked at", "RUST_BACKTRACE", "stack backtrace", "thread 'main'"] {
            assert!(!text.contains(bad), "drhost printed a Rust panic ({bad}):\n{text}");
        }
    }
    outcome
}

/// Writes `text` to a fresh `drhost.toml` and returns its path.
pub fn config(text: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("drhost-config-")
        .tempdir()
        .expect("tempdir")
        .keep();
    let path = dir.join("drhost.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The `call` events of capability call `call` (e.g. `s3.put`) in a journal.
pub fn calls<'a>(journal: &'a [Value], call: &str) -> Vec<&'a Value> {
    events(journal, "call")
        .into_iter()
        .filter(|e| e["call"] == call)
        .collect()
}

/// The events named `event` in a journal.
pub fn events<'a>(journal: &'a [Value], event: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == event).collect()
}
