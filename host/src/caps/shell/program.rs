//! Running one granted program for `shell`: argv only (never a shell), an
//! empty environment but `PATH`, a fresh private working directory, its own
//! process group (killed whole on timeout), capped output, and a share of
//! the run's disk budget: no file larger than what is left of it
//! (`RLIMIT_FSIZE`, unless the grant `starts_daemon`), its working
//! directory measured while it runs; over either, the group is killed and
//! the run stopped (exit 4, see [`crate::caps::kit::disk`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::bindings::drhost::runbook::shell::{Command, Completed};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::capped::Capped;
use crate::caps::kit::disk::{scratch_usage, size, DiskBudget};
use crate::caps::kit::process::ProcessGroup;
use crate::caps::kit::{Answer, CallError};
use crate::caps::shell::grant::denial;
use crate::caps::shell::ShellGrant;
use crate::sandbox::RunContext;
use zeroize::Zeroizing;

/// Output kept per stream; the rest is read and discarded.
const OUTPUT_CAP: usize = 1 << 20;
/// Used when neither the plugin nor the grant sets a timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a running program's working directory is measured.
const DISK_WATCH_INTERVAL: Duration = Duration::from_millis(50);
/// The only directories bare program names are looked up in.
const SEARCH_PATH: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];

/// The grant that allows `cmd`, or the refusal naming what would.
pub(crate) fn check<'a>(ctx: &'a RunContext, cmd: &Command) -> Result<&'a ShellGrant, CapError> {
    let grants = &ctx.grants.shell;
    let grant = grants.iter().find(|g| g.allows(&cmd.program, &cmd.args));
    grant.ok_or_else(|| CapError::AccessDenied(denial(&ctx.plugin_id, grants, &cmd.program, &cmd.args)))
}

/// Runs `cmd` under `grant` (its timeout applies when the plugin sets none).
/// A program that would take the run over its disk budget is killed, and
/// the run stopped (a trap).
pub(crate) async fn run(ctx: &RunContext, grant: &ShellGrant, cmd: &Command) -> Answer<Completed> {
    let path = resolve(&cmd.program)?;
    // The shortest of: the plugin's timeout (else the default), the
    // grant's cap and the run's deadline, with what set it for messages.
    let mut timeout = cmd
        .timeout_ms
        .map(|ms| Duration::from_millis(ms.into()))
        .unwrap_or(DEFAULT_TIMEOUT);
    let mut limit = if cmd.timeout_ms.is_some() {
        "the plugin's timeout-ms".to_string()
    } else {
        "the default timeout; the plugin may ask for another with timeout-ms".to_string()
    };
    if let Some(cap) = grant.timeout.filter(|cap| *cap < timeout) {
        timeout = cap;
        limit = format!("the timeout of grant `{}`", grant.line(&ctx.plugin_id));
    }
    let left = ctx.time_left();
    if left < timeout {
        timeout = left;
        limit = "the run's deadline".to_string();
    }

    // A fresh, empty directory only the host knows (0700, removed when
    // the call returns): never the scratch, which the guest can fill.
    let workdir = tempfile::Builder::new()
        .prefix("drhost-shell-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| CapError::Failed(format!("cannot create a working directory for `{}`: {e}", cmd.program)))?;
    // What is left of the disk budget is all the program may write.
    let disk = &ctx.disk;
    disk.measure_scratch();
    if let Some(over) = disk.exceeded() {
        return Err(CallError::Trap(over.into()));
    }
    let room = disk.left();
    let env = grant_env(ctx, grant).await?;
    let mut command = tokio::process::Command::new(&path);
    crate::caps::kit::process::only_stdio(&mut command);
    if !grant.starts_daemon {
        crate::caps::kit::process::file_size_cap(&mut command, room);
    }
    let mut child = command
        .args(&cmd.args)
        .env_clear()
        .env("PATH", SEARCH_PATH.join(":"))
        .envs(env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .current_dir(workdir.path())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CapError::Failed(format!("cannot start `{}`: {e}", path.display())))?;
    // Declared after `child`, so dropped before it: the group is killed
    // while the child is not yet reaped and its id still names the group.
    let mut group = ProcessGroup::of(&child);

    let started = Instant::now();
    let stdout = child.stdout.take().map(read_capped);
    let stderr = child.stderr.take().map(read_capped);
    let finished = tokio::time::timeout(timeout, async {
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
    });
    let workdir_path = workdir.path().to_owned();
    let waited = tokio::select! {
        waited = finished => waited,
        wrote = over_budget(disk, &workdir_path) => {
            group.kill();
            return Err(stopped(disk, &cmd.program, &format!("wrote {} in its working directory", size(wrote))));
        }
    };
    let Ok((status, (out, out_cut), (err, err_cut))) = waited else {
        // The child and everything it started in its group.
        group.kill();
        return Err(CapError::Timeout(format!(
            "`{}` did not finish within {} ({limit}) and was killed with every process it started in its group",
            cmd.program,
            humantime::format_duration(Duration::from_millis(timeout.as_millis() as u64))
        ))
        .into());
    };
    // Exited (and reaped): its id may be reused, so the group is left
    // alone. Whatever it started and left behind is the grant's business.
    group.disarm();
    let status = status.map_err(|e| CapError::Failed(format!("waiting for `{}`: {e}", cmd.program)))?;
    if std::os::unix::process::ExitStatusExt::signal(&status) == Some(libc::SIGXFSZ) {
        return Err(stopped(
            disk,
            &cmd.program,
            &format!("tried to write a file larger than the {} left of it", size(room)),
        ));
    }
    // What it left in its working directory, before that is removed.
    let wrote = scratch_usage(&workdir_path);
    if disk.over_with(wrote) {
        return Err(stopped(
            disk,
            &cmd.program,
            &format!("wrote {} in its working directory", size(wrote)),
        ));
    }
    Ok(Completed {
        exit_code: status.code(),
        stdout: redact(&String::from_utf8_lossy(&out), &env, out_cut),
        stderr: redact(&String::from_utf8_lossy(&err), &env, err_cut),
        truncated: out_cut || err_cut,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// The grant's `env`, each value read from its secret reference now.
async fn grant_env(ctx: &RunContext, grant: &ShellGrant) -> Result<Vec<(String, Zeroizing<String>)>, CapError> {
    let mut env = Vec::with_capacity(grant.env.len());
    for (name, source) in &grant.env {
        let value = source.resolve(&ctx.grants.secret_vaults).await.map_err(|e| {
            CapError::Unavailable(format!(
                "`{}`'s {} (env of grant `{}`): {e}",
                grant.program,
                name.as_str(),
                grant.line(&ctx.plugin_id)
            ))
        })?;
        env.push((name.as_str().to_string(), Zeroizing::new(value)));
    }
    Ok(env)
}

/// `text` with every value of `env` replaced by `[redacted NAME]`; when
/// the text was `cut` at the output cap, also a value's beginning left at
/// its very end (three bytes or more).
fn redact(text: &str, env: &[(String, Zeroizing<String>)], cut: bool) -> String {
    let mut text = text.to_string();
    for (name, value) in env.iter().filter(|(_, v)| !v.is_empty()) {
        text = text.replace(value.as_str(), &format!("[redacted {name}]"));
        if cut {
            if let Some(n) = (3..value.len())
                .rev()
                .find(|&n| value.is_char_boundary(n) && text.ends_with(&value[..n]))
            {
                text.truncate(text.len() - n);
                text.push_str(&format!("[redacted {name}]"));
            }
        }
    }
    text
}

/// Resolves once what `workdir` holds, measured every
/// [`DISK_WATCH_INTERVAL`], would take the run over its disk budget; to
/// how much it held.
async fn over_budget(disk: &DiskBudget, workdir: &Path) -> u64 {
    loop {
        tokio::time::sleep(DISK_WATCH_INTERVAL).await;
        let dir = workdir.to_owned();
        let wrote = tokio::task::spawn_blocking(move || scratch_usage(&dir))
            .await
            .unwrap_or(u64::MAX);
        if disk.over_with(wrote) {
            return wrote;
        }
    }
}

/// Stops the run: `program`, run through shell.run, `did` what took the
/// run over its disk budget, and was killed with its process group.
fn stopped(disk: &DiskBudget, program: &str, did: &str) -> CallError {
    let over = disk.stop_for_program(format!(
        "`{program}`, run through shell.run, {did}: it was killed with its process group"
    ));
    CallError::Trap(over.into())
}

/// Reads a stream to its end, keeping the first [`OUTPUT_CAP`] bytes.
async fn read_capped(mut stream: impl AsyncRead + Unpin) -> (Vec<u8>, bool) {
    let mut kept = Capped::new(OUTPUT_CAP);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                kept.push(&buf[..n]);
            }
        }
    }
    kept.into_parts()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, Zeroizing<String>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), Zeroizing::new(v.to_string())))
            .collect()
    }

    #[test]
    fn every_copy_of_a_granted_value_is_redacted_and_a_cut_one_too() {
        let env = env(&[("REDISCLI_AUTH", "hunter2-hunter2"), ("EMPTY", "")]);
        assert_eq!(
            redact("auth=hunter2-hunter2; again hunter2-hunter2\n", &env, false),
            "auth=[redacted REDISCLI_AUTH]; again [redacted REDISCLI_AUTH]\n"
        );
        // Cut at the output cap in the middle of the value.
        assert_eq!(redact("tail: hunter2-h", &env, true), "tail: [redacted REDISCLI_AUTH]");
        assert_eq!(redact("tail: hunter2-h", &env, false), "tail: hunter2-h");
        assert_eq!(redact("nothing here", &env, true), "nothing here");
    }
}
