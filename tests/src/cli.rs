//! Runs the real `drhost` binary (built by `make build`) and reads what it
//! left behind: exit code, stdout, stderr, the `--json` report and the journal.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::tmp::{TmpDir, TmpFile};

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

/// A shipped plugin as built for contract 0.1.2 from an older commit by
/// `make compat` (`tests/compat/build-0.1.sh`, which pins the commit):
/// `tests/plugins/compat-0.1/<id>.wasm`, no older than that script.
pub fn compat_plugin(id: &str) -> PathBuf {
    let path = repo_root().join("tests/plugins/compat-0.1").join(format!("{id}.wasm"));
    let script = repo_root().join("tests/compat/build-0.1.sh");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified());
    let made = modified(&path).unwrap_or_else(|_| panic!("{} is missing: run `make build` first", path.display()));
    if modified(&script).is_ok_and(|t| t > made) {
        panic!(
            "{} is older than {}: run `make build`",
            path.display(),
            script.display()
        );
    }
    path
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

/// The most recently modified source file (`.rs`, `.wit`, `.tmpl`, `Cargo.toml`) under `dir`.
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
            // `.tmpl`: the templates `drhost new` includes (host/templates/).
            let is_source = path.extension().is_some_and(|e| e == "rs" || e == "wit" || e == "tmpl")
                || path.ends_with("Cargo.toml");
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

/// The grants the `hello` plugin needs: `echo` with any arguments, and HTTP
/// on loopback. One copy for every test that runs hello.
pub const HELLO_GRANTS: &str =
    "[[plugins.hello.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n\n[[plugins.hello.http]]\nhost = \"127.0.0.1:*\"\n";

/// A compile cache shared by all tests (compiling a Python plugin takes seconds).
pub fn shared_cache_dir() -> PathBuf {
    repo_root().join("target/drhost-test-cache")
}

/// One invocation of the real `drhost`, built up and then run with
/// [`Run::exec`] (or started with [`Run::spawn`]):
///
/// ```text
/// let cfg = config("[[plugins.hello.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n");
/// let out = Run::plugin("hello").config(&cfg).param("greeting", "hi").json().exec();
/// assert_eq!(out.code, 0, "{}", out.stderr);
/// ```
///
/// Every invocation gets, unless the test says otherwise: a fresh journal
/// directory (`--journal-dir` for `run`; a [`TmpDir`] the [`Outcome`] owns,
/// which also holds the per-invocation lock `DRHOST_LOCK`, absent unless a
/// test makes one), the shared compile cache (`--cache-dir` for `run` and
/// `inspect`), the lab's development trust file (`DRHOST_TRUST`), no
/// `DRHOST_CONFIG`, the temp directory as its working directory, and no
/// standard input. What it printed is checked for a Rust panic of the host.
#[derive(Clone, Debug)]
#[must_use = "a Run does nothing until exec() or spawn()"]
pub struct Run {
    /// `run WASM`, or the arguments given to [`Run::cli`].
    command: Vec<OsString>,
    config: Option<PathBuf>,
    trust: Option<PathBuf>,
    lock: Option<PathBuf>,
    json: bool,
    yes: bool,
    quiet: bool,
    allow_unsigned: bool,
    timeout: Option<String>,
    memory: Option<String>,
    params: Vec<String>,
    extra: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    terminal: bool,
    journal_dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    /// Files the run needs that it owns (see [`Run::config_toml`]).
    owned: Vec<Arc<TmpFile>>,
}

impl Run {
    /// `drhost run plugins/<id>.wasm`: a shipped plugin (see [`plugin`]).
    pub fn plugin(id: &str) -> Run {
        Run::wasm(plugin(id))
    }

    /// `drhost run tests/plugins/<name>.wasm`: a test fixture (see [`fixture`]).
    pub fn fixture(name: &str) -> Run {
        Run::wasm(fixture(name))
    }

    /// `drhost run FILE`: any file, built or not.
    pub fn wasm(file: impl AsRef<Path>) -> Run {
        Run::cli([OsStr::new("run"), file.as_ref().as_os_str()])
    }

    /// `drhost inspect FILE`.
    pub fn inspect(file: impl AsRef<Path>) -> Run {
        Run::cli([OsStr::new("inspect"), file.as_ref().as_os_str()])
    }

    /// `drhost ARGS…` for any other command line (`keygen`,
    /// `sign`, `verify`, `push`, `pull`, `lock`, `--version`), or a `run`
    /// spelled out. The options below are added after `ARGS`.
    pub fn cli<I, A>(args: I) -> Run
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        Run {
            command: args.into_iter().map(|a| a.as_ref().to_os_string()).collect(),
            config: None,
            trust: None,
            lock: None,
            json: false,
            yes: false,
            quiet: false,
            allow_unsigned: false,
            timeout: None,
            memory: None,
            params: Vec::new(),
            extra: Vec::new(),
            env: Vec::new(),
            stdin: None,
            terminal: false,
            journal_dir: None,
            cache_dir: None,
            owned: Vec::new(),
        }
    }

    /// `--config FILE` (a second call replaces the first).
    pub fn config(mut self, file: impl AsRef<Path>) -> Run {
        self.config = Some(file.as_ref().to_path_buf());
        self
    }

    /// `--config` a fresh `drhost.toml` holding `text` (see [`config`]),
    /// removed when this `Run` and its clones are dropped.
    pub fn config_toml(mut self, text: &str) -> Run {
        let file = Arc::new(config(text));
        self.config = Some(file.path().to_path_buf());
        self.owned.push(file);
        self
    }

    /// `--trust FILE`.
    pub fn trust(mut self, file: impl AsRef<Path>) -> Run {
        self.trust = Some(file.as_ref().to_path_buf());
        self
    }

    /// `--lock FILE`.
    pub fn lock(mut self, file: impl AsRef<Path>) -> Run {
        self.lock = Some(file.as_ref().to_path_buf());
        self
    }

    /// `--param NAME=VALUE`.
    pub fn param(mut self, name: &str, value: impl AsRef<str>) -> Run {
        self.params.push(format!("{name}={}", value.as_ref()));
        self
    }

    /// `--param NAME=VALUE` for each pair, in order.
    pub fn params(mut self, pairs: &[(&str, &str)]) -> Run {
        for (name, value) in pairs {
            self = self.param(name, value);
        }
        self
    }

    /// `--json`: the report on stdout is JSON ([`Outcome::json`]).
    pub fn json(mut self) -> Run {
        self.json = true;
        self
    }

    /// `--yes`: every confirmation is approved.
    pub fn yes(mut self) -> Run {
        self.yes = true;
        self
    }

    /// `--quiet`.
    pub fn quiet(mut self) -> Run {
        self.quiet = true;
        self
    }

    /// `--allow-unsigned`.
    pub fn allow_unsigned(mut self) -> Run {
        self.allow_unsigned = true;
        self
    }

    /// `--timeout DURATION` (drhost's deadline for the plugin, e.g. `2s`).
    pub fn timeout(mut self, duration: &str) -> Run {
        self.timeout = Some(duration.to_string());
        self
    }

    /// `--memory SIZE` (the plugin's memory cap, e.g. `64MiB`).
    pub fn memory(mut self, size: &str) -> Run {
        self.memory = Some(size.to_string());
        self
    }

    /// One more argument, after every other (e.g. `--allow-downgrade`).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.extra.push(arg.as_ref().to_os_string());
        self
    }

    /// More arguments, after every other.
    pub fn args<I, A>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        self.extra.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// An environment variable for drhost (set after the defaults, so it
    /// can replace `DRHOST_TRUST` or `DRHOST_LOCK`).
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        self.env
            .push((name.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// `input` on drhost's standard input, through a pipe that stays open
    /// until all of it is written (drhost need not read it).
    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Run {
        self.stdin = Some(input.as_ref().to_vec());
        self
    }

    /// drhost on a terminal: it runs under `script(1)`, which gives it a
    /// pseudo-terminal for stdin, stdout and stderr and forwards the
    /// [`Run::stdin`] bytes as typed keys. Its stdout and stderr arrive
    /// merged in [`Outcome::stdout`] (as the terminal showed them).
    pub fn terminal(mut self) -> Run {
        self.terminal = true;
        self
    }

    /// Journals (and the default `DRHOST_LOCK`) in `dir`, which the test
    /// owns, instead of a fresh temporary directory.
    pub fn journal_dir(mut self, dir: impl AsRef<Path>) -> Run {
        self.journal_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// `--cache-dir DIR` instead of the shared compile cache.
    pub fn cache_dir(mut self, dir: impl AsRef<Path>) -> Run {
        self.cache_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The arguments drhost gets, with journals in `journal_dir`.
    pub fn argv(&self, journal_dir: &Path) -> Vec<OsString> {
        let mut argv = self.command.clone();
        let mut add = |args: &[&OsStr]| argv.extend(args.iter().map(|a| a.to_os_string()));
        for (flag, file) in [
            ("--config", &self.config),
            ("--trust", &self.trust),
            ("--lock", &self.lock),
        ] {
            if let Some(file) = file {
                add(&[OsStr::new(flag), file.as_os_str()]);
            }
        }
        for (flag, on) in [
            ("--json", self.json),
            ("--yes", self.yes),
            ("--quiet", self.quiet),
            ("--allow-unsigned", self.allow_unsigned),
        ] {
            if on {
                add(&[OsStr::new(flag)]);
            }
        }
        for (flag, value) in [("--timeout", &self.timeout), ("--memory", &self.memory)] {
            if let Some(value) = value {
                add(&[OsStr::new(flag), OsStr::new(value)]);
            }
        }
        for param in &self.params {
            add(&[OsStr::new("--param"), OsStr::new(param)]);
        }
        argv.extend(self.extra.iter().cloned());
        let subcommand = self.command.first().and_then(|c| c.to_str());
        if matches!(subcommand, Some("run" | "resume")) {
            argv.extend(["--journal-dir".into(), journal_dir.as_os_str().to_os_string()]);
        }
        let cache_given = argv.iter().any(|a| a == "--cache-dir");
        match &self.cache_dir {
            Some(dir) => argv.extend(["--cache-dir".into(), dir.as_os_str().to_os_string()]),
            None if matches!(subcommand, Some("run" | "inspect" | "resume")) && !cache_given => {
                argv.extend(["--cache-dir".into(), shared_cache_dir().into_os_string()])
            }
            None => {}
        }
        argv
    }

    /// Runs drhost to the end: see [`Run`].
    pub fn exec(&self) -> Outcome {
        self.spawn().wait()
    }

    /// Starts drhost and returns at once (to signal it, or watch it run);
    /// [`Running::wait`] gives its [`Outcome`].
    pub fn spawn(&self) -> Running {
        let (journal_dir, journal_tmp) = match &self.journal_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let tmp = TmpDir::new("drhost-journal-");
                (tmp.path().to_path_buf(), Some(tmp))
            }
        };
        let argv = self.argv(&journal_dir);
        let json = argv.iter().any(|a| a == "--json");
        let mut cmd = if self.terminal {
            let mut script = Command::new("script");
            let line: Vec<String> = std::iter::once(drhost_bin().into_os_string())
                .chain(argv.iter().cloned())
                .map(|a| shell_quoted(&a.to_string_lossy()))
                .collect();
            script.args(["--quiet", "--return", "--command", &line.join(" "), "/dev/null"]);
            script.env("SHELL", "/bin/sh");
            script
        } else {
            let mut drhost = Command::new(drhost_bin());
            drhost.args(&argv);
            drhost
        };
        cmd.env_remove("DRHOST_CONFIG")
            .env("RUST_BACKTRACE", "1")
            .current_dir(std::env::temp_dir())
            // Plugins are signed by `make build` with the lab's development
            // key; the lock is per invocation (absent) unless a test names one.
            .env("DRHOST_TRUST", dev_trust_file())
            .env("DRHOST_LOCK", journal_dir.join("drhost.lock"))
            .stdin(match self.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("drhost runs: {e}"));
        // Written and read from threads: drhost may never read its input,
        // and a full stdout pipe must not stall it while stderr is read.
        let writer = self.stdin.clone().map(|input| {
            let mut pipe = child.stdin.take().expect("a stdin pipe");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            })
        });
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        let stderr = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
        Running {
            child,
            started,
            json,
            journal_dir,
            journal_tmp,
            writer,
            stdout,
            stderr,
            _owned: self.owned.clone(),
        }
    }
}

/// `text` as one word for `/bin/sh`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A `drhost` started by [`Run::spawn`].
#[must_use = "wait() for it, or it is never reaped"]
pub struct Running {
    child: std::process::Child,
    started: Instant,
    json: bool,
    journal_dir: PathBuf,
    journal_tmp: Option<TmpDir>,
    writer: Option<std::thread::JoinHandle<()>>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
    /// The files the [`Run`] owned (its `drhost.toml`): kept while drhost
    /// runs, even when the `Run` that started it is gone.
    _owned: Vec<Arc<TmpFile>>,
}

impl Running {
    /// The drhost process's id (to signal it, or read `/proc/<id>`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Where its journals go.
    pub fn journal_dir(&self) -> &Path {
        &self.journal_dir
    }

    /// Whether it has exited (without waiting).
    pub fn finished(&mut self) -> bool {
        self.child.try_wait().expect("wait for drhost").is_some()
    }

    /// Waits until its journal holds the `nth` (from 1) `call` event of
    /// capability call `call` (e.g. `docker.create-secret`): the call was
    /// made and journaled, and the plugin may have gone a little further
    /// since. False when drhost exited before that; panics after `limit`.
    pub fn wait_for_call(&mut self, call: &str, nth: usize, limit: Duration) -> bool {
        assert!(
            KNOWN_CALLS.contains(&call),
            "the host never journals a call named `{call}` (see KNOWN_CALLS)"
        );
        let until = Instant::now() + limit;
        loop {
            if let Some(journal) = journal_in(&self.journal_dir) {
                let made = read_journal(&journal)
                    .iter()
                    .filter(|e| e["event"] == "call" && e["call"] == call)
                    .count();
                if made >= nth {
                    return true;
                }
            }
            if self.finished() {
                return false;
            }
            assert!(
                Instant::now() < until,
                "drhost journaled no {call} #{nth} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// [`Running::wait`], for at most `limit`: a drhost still running then
    /// is killed, and the test fails saying it hung, with what it printed.
    pub fn wait_within(mut self, limit: Duration) -> Outcome {
        let until = Instant::now() + limit;
        while !self.finished() {
            if Instant::now() >= until {
                let _ = self.child.kill();
                let out = self.wait();
                panic!(
                    "drhost hung: still running {limit:?} later (killed now)\nstdout:\n{}\nstderr:\n{}",
                    out.stdout, out.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait()
    }

    /// Waits for it to exit and for everything it printed; checks that
    /// nothing it printed is a Rust panic of the host.
    pub fn wait(mut self) -> Outcome {
        let status = self.child.wait().expect("wait for drhost");
        let elapsed = self.started.elapsed();
        let stdout = self.stdout.join().expect("stdout reader");
        let stderr = self.stderr.join().expect("stderr reader");
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let report = if self.json {
            serde_json::from_str(&stdout).ok()
        } else {
            None
        };
        let outcome = Outcome {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed,
            journal_dir: self.journal_dir,
            report,
            _journal_tmp: self.journal_tmp,
        };
        for text in [&outcome.stdout, &outcome.stderr] {
            for bad in ["panicked at", "RUST_BACKTRACE", "stack backtrace", "thread 'main'"] {
                assert!(!text.contains(bad), "drhost printed a Rust panic ({bad}):\n{text}");
            }
        }
        outcome
    }
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
    /// The `--json` report: stdout parsed, when the run had `--json` and
    /// stdout is JSON ([`Outcome::json`] panics instead).
    pub report: Option<Value>,
    /// The journal directory when the run made it: removed with the outcome.
    _journal_tmp: Option<TmpDir>,
}

impl Outcome {
    /// stdout parsed as the `--json` report.
    pub fn json(&self) -> Value {
        if let Some(report) = &self.report {
            return report.clone();
        }
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// The journal file (`*.jsonl` in `journal_dir`), if the run wrote one.
    pub fn journal_path(&self) -> Option<PathBuf> {
        journal_in(&self.journal_dir)
    }

    /// The journal's events (the only journal in `journal_dir`).
    pub fn journal(&self) -> Vec<Value> {
        // Journals only: a run that locked targets also leaves `.locks/`.
        let files: Vec<_> = std::fs::read_dir(&self.journal_dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                    .collect()
            })
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
        let file = self.journal_path().expect("a journal");
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

/// A journal file (`*.jsonl`) in `dir`, if there is one.
pub fn journal_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
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

/// Writes `text` to a fresh `drhost.toml`, removed when the returned file
/// is dropped.
pub fn config(text: &str) -> TmpFile {
    TmpDir::new("drhost-config-").into_file("drhost.toml", text)
}

/// Every capability call name the host journals. [`calls`] refuses any
/// other name, and [`read_journal`] any journal holding another, so a test
/// that counts calls the host never writes (`vault.reveal` for
/// `secret.reveal`) fails instead of passing vacuously.
pub const KNOWN_CALLS: &[&str] = &[
    "compose.down",
    "compose.logs",
    "compose.open",
    "compose.ps",
    "compose.restart",
    "compose.up",
    "confirm.ask",
    "docker.connect-network",
    "docker.container-logs",
    "docker.container-stats",
    "docker.create-network",
    "docker.create-secret",
    "docker.disconnect-network",
    "docker.exec",
    "docker.inspect-container",
    "docker.inspect-network",
    "docker.list-containers",
    "docker.list-networks",
    "docker.list-secrets",
    "docker.recreate-with-image",
    "docker.remove-network",
    "docker.remove-secret",
    "docker.restart-container",
    "docker.start-container",
    "docker.stop-container",
    "docker.swarm-init",
    "docker.swarm-inspect",
    "docker.tag-image",
    "files.list",
    "files.open",
    "files.read",
    "files.remove",
    "files.stat",
    "files.write",
    "http.get",
    "notify.post",
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
    "s3.get-secret",
    "s3.head",
    "s3.list",
    "s3.open",
    "s3.put",
    "secret.compose",
    "secret.operator",
    "secret.reveal",
    "shell.run",
    "vault.list",
    "vault.metadata",
    "vault.open",
    "vault.patch",
    "vault.read",
    "vault.seal-status",
    "vault.snapshot-restore",
    "vault.snapshot-save",
    "vault.unseal",
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

/// How many calls named `call` succeeded (their outcome is `ok`).
pub fn succeeded(journal: &[Value], call: &str) -> usize {
    calls(journal, call)
        .iter()
        .filter(|c| c["outcome"].get("ok").is_some())
        .count()
}

/// The events named `event` in a journal.
pub fn events<'a>(journal: &'a [Value], event: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == event).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_puts_options_after_the_command_and_adds_the_journal_and_cache() {
        let run = Run::wasm("/p/x.wasm")
            .param("sql", "SELECT 1 = 1")
            .json()
            .config("/c/one.toml")
            .config("/c/drhost.toml")
            .yes()
            .timeout("2s")
            .arg("--allow-downgrade")
            .param("k", "v");
        let argv: Vec<String> = run
            .argv(Path::new("/j"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let cache = shared_cache_dir().display().to_string();
        assert_eq!(
            argv,
            [
                "run",
                "/p/x.wasm",
                "--config",
                "/c/drhost.toml",
                "--json",
                "--yes",
                "--timeout",
                "2s",
                "--param",
                "sql=SELECT 1 = 1",
                "--param",
                "k=v",
                "--allow-downgrade",
                "--journal-dir",
                "/j",
                "--cache-dir",
                &cache,
            ]
        );
        let argv = Run::cli(["keygen", "--out", "/k"]).argv(Path::new("/j"));
        assert_eq!(
            argv,
            ["keygen", "--out", "/k"],
            "no journal or cache for other commands"
        );
        let argv = Run::cli(["inspect", "x.wasm"]).cache_dir("/own").argv(Path::new("/j"));
        assert_eq!(argv, ["inspect", "x.wasm", "--cache-dir", "/own"]);
    }
}
