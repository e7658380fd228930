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

/// `target/release/drhost`; panics with the fix when it is missing or older
/// than the host's sources (`cargo test` alone does not rebuild it).
pub fn drhost_bin() -> PathBuf {
    built(repo_root().join("target/release/drhost"), &["host", "wit"])
}

/// A built plugin: `plugins/<id>.wasm`, no older than its sources.
pub fn plugin(id: &str) -> PathBuf {
    built(
        repo_root().join("plugins").join(format!("{id}.wasm")),
        &[&format!("plugins/{id}"), "sdk", "wit"],
    )
}

/// A built test fixture: `tests/plugins/<name>.wasm`, no older than its sources.
pub fn fixture(name: &str) -> PathBuf {
    built(
        repo_root().join("tests/plugins").join(format!("{name}.wasm")),
        &[&format!("tests/plugins/{name}"), "sdk", "wit"],
    )
}

/// `path`, after checking that it exists and that no file under `sources`
/// (directories relative to the repository) was changed after it was built.
fn built(path: PathBuf, sources: &[&str]) -> PathBuf {
    let made = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `make build` first", path.display()));
    for dir in sources {
        if let Some((newer, _)) = newest_source(&repo_root().join(dir)).filter(|(_, t)| *t > made) {
            panic!(
                "{} is older than {}: run `make build` (cargo test alone does not rebuild plugins or the binary the tests run)",
                path.display(),
                newer.display()
            );
        }
    }
    path
}

/// The most recently modified source file (`.rs`, `.wit`, `Cargo.toml`) under `dir`.
fn newest_source(dir: &Path) -> Option<(PathBuf, std::time::SystemTime)> {
    let mut newest: Option<(PathBuf, std::time::SystemTime)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if !path.ends_with("target") {
                    stack.push(path);
                }
                continue;
            }
            let is_source = path.extension().is_some_and(|e| e == "rs" || e == "wit") || path.ends_with("Cargo.toml");
            if let (true, Ok(t)) = (is_source, meta.modified()) {
                if newest.as_ref().is_none_or(|(_, n)| t > *n) {
                    newest = Some((path, t));
                }
            }
        }
    }
    newest
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
            if v["event"] == "call" {
                let name = v["call"].as_str().unwrap_or_default();
                assert!(
                    KNOWN_CALLS.contains(&name),
                    "the journal has a call named `{name}` that KNOWN_CALLS lacks: add it there"
                );
            }
            v
        })
        .collect()
}

/// Runs `drhost ARGS…` with a fresh journal directory and the shared cache,
/// and checks that nothing it printed is a Rust panic of the host.
pub fn drhost(args: &[&str]) -> Outcome {
    drhost_with(args, &[])
}

/// Like [`drhost`], with `input` written to drhost's standard input
/// through a pipe (which stays open until all of it is written).
pub fn drhost_with_stdin(args: &[&str], input: &[u8]) -> Outcome {
    run_drhost(args, &[], Some(input))
}

/// Like [`drhost`], with extra environment variables.
pub fn drhost_with(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    run_drhost(args, env, None)
}

fn run_drhost(args: &[&str], env: &[(&str, &str)], input: Option<&[u8]>) -> Outcome {
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
    let output = match input {
        None => cmd.output().expect("drhost runs"),
        Some(input) => {
            use std::io::Write;
            cmd.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("drhost runs");
            let mut stdin = child.stdin.take().expect("a stdin pipe");
            let input = input.to_vec();
            // Written from a thread: drhost may never read it.
            let writer = std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
            let output = child.wait_with_output().expect("drhost runs");
            let _ = writer.join();
            output
        }
    };
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

/// Every capability call name the host journals. [`calls`] refuses any
/// other name, and [`read_journal`] any journal holding another, so a test
/// that counts calls the host never writes (`vault.reveal` for
/// `vault.secret.reveal`) fails instead of passing vacuously.
pub const KNOWN_CALLS: &[&str] = &[
    "confirm.ask",
    "docker.connect-network",
    "docker.container-logs",
    "docker.container-stats",
    "docker.create-network",
    "docker.disconnect-network",
    "docker.exec",
    "docker.inspect-container",
    "docker.inspect-network",
    "docker.list-containers",
    "docker.list-networks",
    "docker.recreate-with-image",
    "docker.remove-network",
    "docker.restart-container",
    "docker.start-container",
    "docker.stop-container",
    "docker.tag-image",
    "http.get",
    "postgres.create-database",
    "postgres.dump",
    "postgres.execute",
    "postgres.info",
    "postgres.open",
    "postgres.query",
    "postgres.restore",
    "redis.command",
    "redis.info",
    "redis.open",
    "redis.open-master",
    "redis.open-node",
    "redis.ping",
    "redis.replication",
    "redis.sentinel.ckquorum",
    "redis.sentinel.failover",
    "redis.sentinel.master-address",
    "redis.sentinel.master-state",
    "redis.sentinel.open",
    "redis.sentinel.replicas",
    "redis.sentinel.sentinels",
    "s3.get",
    "s3.head",
    "s3.list",
    "s3.open",
    "s3.put",
    "shell.run",
    "vault.list",
    "vault.metadata",
    "vault.open",
    "vault.patch",
    "vault.read",
    "vault.secret.compose",
    "vault.secret.reveal",
    "vault.snapshot-restore",
    "vault.snapshot-save",
    "vault.write",
];

/// The `call` events of capability call `call` (e.g. `s3.put`) in a journal.
/// Panics when the host never journals a call by that name.
pub fn calls<'a>(journal: &'a [Value], call: &str) -> Vec<&'a Value> {
    assert!(
        KNOWN_CALLS.contains(&call),
        "the host never journals a call named `{call}` (see KNOWN_CALLS): this count would be vacuous"
    );
    events(journal, "call")
        .into_iter()
        .filter(|e| e["call"] == call)
        .collect()
}

/// The events named `event` in a journal.
pub fn events<'a>(journal: &'a [Value], event: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == event).collect()
}
