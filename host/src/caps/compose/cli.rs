//! The real compose CLI: which one this machine has (found once per run),
//! and running it for one project.
//!
//! `docker compose` (the v2 plugin) is preferred; else the standalone
//! `docker-compose` (v1 1.29 on Debian 12, or a v2 binary). Every command
//! line is `[compose] --ansi never -f FILE -p PROJECT [--project-directory
//! DIR] SUBCOMMAND …`: the file, project and directory come from the
//! operator's target, never from the plugin; what the plugin adds (service
//! names) has passed `grant::check_service_name` and follows `--`. No shell
//! ever parses it.
//!
//! The child gets an empty environment but `PATH` (drhost's, to find the
//! CLI and its plugins), `HOME` (the CLI's own config), `DOCKER_HOST` (the
//! engine drhost's Docker client uses, so both see the same containers) and,
//! when drhost has them, `DOCKER_CONFIG`, `DOCKER_CERT_PATH` and
//! `DOCKER_TLS_VERIFY`; no stdin; the project directory as its working
//! directory; its own process group, killed whole when the call's time is
//! up or the call is dropped. It keeps at most the last [`STDERR_TAIL`]
//! bytes of stderr (a failure's cause is its last line) and a capped stdout.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::ComposeTarget;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::process::{only_stdio, ProcessGroup};
use crate::sandbox::{RunContext, RunState};

/// Stderr kept: its last bytes.
const STDERR_TAIL: usize = 64 * 1024;
/// Longest the search for a CLI may take, per candidate.
const DETECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `PATH` for the child when drhost has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// drhost's variables the child also gets, when set (besides `PATH`,
/// `HOME` and `DOCKER_HOST`): where the Docker CLI's config and a TLS
/// engine's certificates are.
const PASSED_ENV: &[&str] = &["HOME", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"];
/// Most characters of a cause quoted from stderr.
const CAUSE_CHARS: usize = 400;

/// The compose CLI this run drives.
#[derive(Debug, Clone)]
pub struct ComposeCli {
    /// `docker` (with `compose` first) or `docker-compose`.
    program: &'static str,
    /// `["compose"]` for the Docker CLI plugin; nothing for the standalone CLI.
    lead: &'static [&'static str],
    /// As `version --short` printed it, e.g. `1.29.2` or `2.27.0`.
    version: String,
}

impl ComposeCli {
    /// How the operator would type it: `docker compose` or `docker-compose`.
    pub fn name(&self) -> String {
        std::iter::once(self.program)
            .chain(self.lead.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Its version, e.g. `1.29.2`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Compose v1 (the Python `docker-compose`), which differs in what
    /// `logs` prints first.
    pub fn is_v1(&self) -> bool {
        self.version.trim_start_matches('v').starts_with("1.")
    }
}

/// What the run found when it first looked for a CLI.
#[derive(Default)]
struct Found(Option<Result<ComposeCli, String>>);

impl RunState {
    /// The compose CLI, looked for on the first call of the run and then
    /// remembered (so is its absence).
    pub(super) async fn compose_cli(&mut self) -> Result<ComposeCli, CapError> {
        if let Found(Some(found)) = self.kept::<Found>() {
            return found.clone().map_err(CapError::Unavailable);
        }
        let found = detect(&self.ctx).await;
        self.kept::<Found>().0 = Some(found.clone());
        found.map_err(CapError::Unavailable)
    }
}

/// `docker compose version --short`, else `docker-compose version --short`.
async fn detect(ctx: &RunContext) -> Result<ComposeCli, String> {
    let candidates: [(&'static str, &'static [&'static str]); 2] = [("docker", &["compose"]), ("docker-compose", &[])];
    let mut tried = Vec::new();
    for (program, lead) in candidates {
        let name = std::iter::once(program)
            .chain(lead.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut args: Vec<OsString> = lead.iter().map(OsString::from).collect();
        args.extend(["version", "--short"].map(OsString::from));
        let until = Instant::now() + ctx.time_left_within(DETECT_TIMEOUT);
        match spawn_and_wait(program, &args, Path::new("/"), until, 4096).await {
            Ok(ran) if ran.success => {
                let version = String::from_utf8_lossy(&ran.stdout).trim().to_string();
                if !version.is_empty() && version.lines().count() == 1 {
                    return Ok(ComposeCli { program, lead, version });
                }
                tried.push(format!("`{name} version --short` printed no version"));
            }
            Ok(ran) => tried.push(format!("`{name}`: {}", one_line_cause(&ran.stderr))),
            Err(Spawn::Missing) => tried.push(format!("`{program}` is not in PATH")),
            Err(Spawn::Other(e)) => tried.push(format!("`{name}`: {e}")),
            Err(Spawn::TimedOut) => tried.push(format!("`{name} version` did not answer")),
        }
    }
    Err(format!(
        "no compose CLI runs here ({}): install the Docker Compose plugin (`docker compose`) or `docker-compose`",
        tried.join("; ")
    ))
}

/// What a finished CLI left.
pub(super) struct Ran {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its stdout: the last `stdout_cap` bytes.
    pub stdout: Vec<u8>,
    /// Whether earlier stdout was dropped.
    pub stdout_cut: bool,
    /// The last [`STDERR_TAIL`] bytes of its stderr.
    pub stderr: String,
}

/// Why a child did not finish.
enum Spawn {
    /// The program is not in `PATH`.
    Missing,
    /// It could not be started, or waited for.
    Other(String),
    /// It was still running when its time was up (and was killed).
    TimedOut,
}

/// When one call's time is up, and what set it, for messages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    /// When the call must be over.
    pub until: Instant,
    /// How long it was given.
    pub given: Duration,
    /// "the target's timeout" or "the run's deadline".
    pub why: &'static str,
}

impl Budget {
    /// The shorter of `target`'s timeout and the time left in the run.
    pub fn of(ctx: &RunContext, target: &ComposeTarget) -> Budget {
        let (given, why) = if ctx.time_left() < target.call_timeout() {
            (ctx.time_left(), "the run's deadline")
        } else {
            (target.call_timeout(), "the target's timeout")
        };
        Budget {
            until: Instant::now() + given,
            given,
            why,
        }
    }

    /// How long the call was given and why, for a `timeout` message:
    /// `5m (the target's timeout; set `timeout` in [targets.compose.app] for more)`.
    pub fn text(&self, label: &str) -> String {
        let given = humantime::format_duration(Duration::from_secs(self.given.as_secs().max(1)));
        format!(
            "{given} ({}; set `timeout` in [targets.compose.{}] for more)",
            self.why,
            crate::caps::kit::text::toml_key(label)
        )
    }
}

impl ComposeCli {
    /// Runs `SUBCOMMAND ARGS…` (`args`) for `target`'s project until it
    /// exits or `budget` is up; `what` names the operation in messages (`up`).
    /// A non-zero exit becomes a typed error from its stderr.
    pub(super) async fn run(
        &self,
        label: &str,
        target: &ComposeTarget,
        what: &str,
        args: &[&str],
        stdout_cap: usize,
        budget: Budget,
    ) -> Result<Ran, CapError> {
        let mut argv: Vec<OsString> = self.lead.iter().map(OsString::from).collect();
        argv.extend(["--ansi", "never", "-f"].map(OsString::from));
        argv.push(target.file.clone().into_os_string());
        argv.extend(["-p", target.project.as_str()].map(OsString::from));
        if let Some(dir) = &target.project_directory {
            argv.push("--project-directory".into());
            argv.push(dir.clone().into_os_string());
        }
        argv.extend(args.iter().map(OsString::from));
        let ran = match spawn_and_wait(self.program, &argv, &target.working_dir(), budget.until, stdout_cap).await {
            Ok(ran) => ran,
            Err(Spawn::TimedOut) => {
                return Err(CapError::Timeout(format!(
                    "compose {what} on target `{label}` did not finish within {}: `{}` was killed",
                    budget.text(label),
                    self.name()
                )))
            }
            Err(Spawn::Missing) => {
                return Err(CapError::Unavailable(format!(
                    "compose {what} on target `{label}`: `{}` is no longer in PATH",
                    self.program
                )))
            }
            Err(Spawn::Other(e)) => {
                return Err(CapError::Failed(format!(
                    "compose {what} on target `{label}`: cannot run `{}`: {e}",
                    self.name()
                )))
            }
        };
        if ran.success {
            Ok(ran)
        } else {
            Err(failure(what, label, &ran.stderr))
        }
    }
}

/// The typed error for a CLI that exited non-zero, from its stderr: the
/// engine not answering is `unavailable`; anything else `failed`, with
/// the cause on one line.
pub(super) fn failure(what: &str, label: &str, stderr: &str) -> CapError {
    let cause = one_line_cause(stderr);
    let engine_down = [
        "Couldn't connect to Docker daemon",
        "Cannot connect to the Docker daemon",
        "Error while fetching server API version",
        "Is the docker daemon running",
    ]
    .iter()
    .any(|sign| stderr.contains(sign));
    if engine_down {
        CapError::Unavailable(format!(
            "compose {what} on target `{label}`: the Docker Engine at {} does not answer: is dockerd running? ({cause})",
            crate::caps::docker::docker_host()
        ))
    } else {
        CapError::Failed(format!("compose {what} on target `{label}` failed: {cause}"))
    }
}

/// The line of `stderr` that says why: the last `ERROR:` line (without the
/// prefix), else the last line; printable, at most [`CAUSE_CHARS`] characters.
pub(super) fn one_line_cause(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("ERROR:"))
        .or(lines.last().copied())
        .unwrap_or("it printed nothing on stderr")
        .trim();
    let mut cause: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(CAUSE_CHARS)
        .collect();
    if line.chars().count() > CAUSE_CHARS {
        cause.push('…');
    }
    cause
}

/// Runs `program args` (argv only) in `dir` with the environment described
/// in the module doc, until it exits or `until` (then it and its group are
/// killed). Keeps the last `stdout_cap` bytes of stdout.
async fn spawn_and_wait(
    program: &str,
    args: &[OsString],
    dir: &Path,
    until: Instant,
    stdout_cap: usize,
) -> Result<Ran, Spawn> {
    let mut cmd = tokio::process::Command::new(program);
    only_stdio(&mut cmd);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()))
        .env("DOCKER_HOST", crate::caps::docker::docker_host())
        .current_dir(dir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in PASSED_ENV {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Spawn::Missing,
        _ => Spawn::Other(crate::config::os_reason(&e)),
    })?;
    // Declared after `child`, so dropped before it (see ProcessGroup).
    let mut group = ProcessGroup::of(&child);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let finished = async {
        let (out, err) = tokio::join!(read_tail(stdout, stdout_cap), read_tail(stderr, STDERR_TAIL));
        (child.wait().await, out, err)
    };
    let Ok((status, (stdout, stdout_cut), (stderr, _))) =
        tokio::time::timeout_at(tokio::time::Instant::from_std(until), finished).await
    else {
        group.kill();
        return Err(Spawn::TimedOut);
    };
    group.disarm();
    let status = status.map_err(|e| Spawn::Other(format!("waiting for it: {}", crate::config::os_reason(&e))))?;
    Ok(Ran {
        success: status.success(),
        stdout,
        stdout_cut,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Reads `stream` to its end, keeping its last `cap` bytes; true when
/// earlier bytes were dropped.
async fn read_tail(stream: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let mut tail = Tail::new(cap);
    if let Some(mut stream) = stream {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => tail.push(&buf[..n]),
            }
        }
    }
    tail.finish()
}

/// The last `cap` bytes of a stream (the newest log lines, the error at the
/// end of stderr), never more than twice that in memory.
struct Tail {
    bytes: Vec<u8>,
    cap: usize,
    cut: bool,
}

impl Tail {
    fn new(cap: usize) -> Tail {
        Tail {
            bytes: Vec::new(),
            cap,
            cut: false,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > self.cap.saturating_mul(2) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.bytes.len() > self.cap {
            let excess = self.bytes.len() - self.cap;
            self.bytes.drain(..excess);
            self.cut = true;
        }
    }

    fn finish(mut self) -> (Vec<u8>, bool) {
        self.trim();
        (self.bytes, self.cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes() {
        let mut tail = Tail::new(4);
        tail.push(b"ab");
        tail.push(b"cd");
        assert_eq!(tail.finish(), (b"abcd".to_vec(), false));
        let mut tail = Tail::new(4);
        for chunk in [&b"abc"[..], b"defgh", b"ij"] {
            tail.push(chunk);
        }
        assert_eq!(tail.finish(), (b"ghij".to_vec(), true));
    }

    #[test]
    fn the_cause_is_the_error_line() {
        assert_eq!(
            one_line_cause("Creating x ... \nERROR: No such image: nope:1\nCreating y ... done\n"),
            "No such image: nope:1"
        );
        assert_eq!(
            one_line_cause("Traceback\n  File x\nFileNotFoundError: gone\n\n"),
            "FileNotFoundError: gone"
        );
        assert_eq!(one_line_cause(""), "it printed nothing on stderr");
        assert_eq!(one_line_cause("bad\u{1b}[2Jthing"), "bad [2Jthing");
        assert_eq!(one_line_cause(&"x".repeat(500)).chars().count(), CAUSE_CHARS + 1);
    }

    #[test]
    fn an_unreachable_engine_is_unavailable() {
        let err = failure(
            "ps",
            "app",
            "Traceback …\ndocker.errors.DockerException: Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))\n",
        );
        assert!(
            matches!(&err, CapError::Unavailable(m) if m.contains("is dockerd running?")),
            "{err:?}"
        );
        let err = failure("up", "app", "ERROR: manifest for x:1 not found\n");
        assert!(
            matches!(&err, CapError::Failed(m) if m.ends_with("failed: manifest for x:1 not found")),
            "{err:?}"
        );
    }
}
