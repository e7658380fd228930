//! The `shell` interface: one function, `run`.

use std::time::Instant;

use serde_json::json;

use crate::bindings::drhost::runbook::shell::{Command, Completed, Host};
use crate::bindings::types::Error as CapError;
use crate::caps::journal_call;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn run(&mut self, cmd: Command) -> wasmtime::Result<Result<Completed, CapError>> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = operations::run(&ctx, &cmd).await;
        let args = json!({ "program": cmd.program, "args": cmd.args, "timeout_ms": cmd.timeout_ms });
        journal_call(
            self,
            "shell.run",
            args,
            started,
            &result,
            |c| json!({ "exit_code": c.exit_code, "truncated": c.truncated }),
        );
        Ok(result)
    }
}

mod operations {
    use std::path::{Path, PathBuf};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncRead, AsyncReadExt};

    use super::*;
    use crate::caps::shell::grant::grant_lines;
    use crate::sandbox::RunContext;

    /// Output kept per stream; the rest is read and discarded.
    const OUTPUT_CAP: usize = 1 << 20;
    /// Used when neither the plugin nor the grant sets a timeout.
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// The only directories bare program names are looked up in.
    const SEARCH_PATH: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];

    pub(super) async fn run(ctx: &RunContext, cmd: &Command) -> Result<Completed, CapError> {
        let Some(grant) = ctx.grants.shell.iter().find(|g| g.allows(&cmd.program, &cmd.args)) else {
            return Err(CapError::AccessDenied(format!(
                "shell program `{}` with args {:?} is not granted to plugin `{}`; to allow it add to drhost.toml:\n{}",
                cmd.program,
                cmd.args,
                ctx.plugin_id,
                grant_lines(&ctx.plugin_id, &cmd.program, Some(&cmd.args)),
            )));
        };
        let path = resolve(&cmd.program)?;
        let mut timeout = cmd
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(DEFAULT_TIMEOUT);
        if let Some(cap) = grant.timeout {
            timeout = timeout.min(cap);
        }
        timeout = timeout.min(ctx.deadline.saturating_duration_since(Instant::now()));

        let mut child = tokio::process::Command::new(&path)
            .args(&cmd.args)
            .env_clear()
            .env("PATH", SEARCH_PATH.join(":"))
            .current_dir(&ctx.scratch)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CapError::Failed(format!("cannot start `{}`: {e}", path.display())))?;

        let started = Instant::now();
        let stdout = child.stdout.take().map(read_capped);
        let stderr = child.stderr.take().map(read_capped);
        let waited = tokio::time::timeout(timeout, async {
            let (out, err) = tokio::join!(
                async {
                    match stdout {
                        Some(f) => f.await,
                        None => (Vec::new(), false),
                    }
                },
                async {
                    match stderr {
                        Some(f) => f.await,
                        None => (Vec::new(), false),
                    }
                },
            );
            (child.wait().await, out, err)
        })
        .await;
        let Ok((status, (out, out_cut), (err, err_cut))) = waited else {
            // Dropping the future dropped `child`, which kills it.
            return Err(CapError::Timeout(format!(
                "`{}` did not finish within {}",
                cmd.program,
                humantime::format_duration(Duration::from_millis(timeout.as_millis() as u64))
            )));
        };
        let status = status.map_err(|e| CapError::Failed(format!("waiting for `{}`: {e}", cmd.program)))?;
        Ok(Completed {
            exit_code: status.code(),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            truncated: out_cut || err_cut,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Reads a stream to its end, keeping the first [`OUTPUT_CAP`] bytes.
    async fn read_capped(mut stream: impl AsyncRead + Unpin) -> (Vec<u8>, bool) {
        let mut kept = Vec::new();
        let mut cut = false;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP - kept.len();
                    if n > room {
                        cut = true;
                    }
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        (kept, cut)
    }

    /// Finds the program: absolute paths as they are, bare names only in
    /// [`SEARCH_PATH`] (never the caller's `$PATH`).
    fn resolve(program: &str) -> Result<PathBuf, CapError> {
        if program.contains('/') {
            let path = Path::new(program);
            if !path.is_absolute() {
                return Err(CapError::InvalidArgument(format!(
                    "program `{program}` must be a bare name or an absolute path"
                )));
            }
            return if path.is_file() {
                Ok(path.to_owned())
            } else {
                Err(CapError::NotFound(format!("program `{program}` does not exist")))
            };
        }
        SEARCH_PATH
            .iter()
            .map(|dir| Path::new(dir).join(program))
            .find(|p| p.is_file())
            .ok_or_else(|| CapError::NotFound(format!("program `{program}` is not in {}", SEARCH_PATH.join(", "))))
    }
}
