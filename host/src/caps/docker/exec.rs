//! `exec` in a container, after its grant check: the (checked) argv and
//! environment run as the container's user, unprivileged, output kept up
//! to a cap per stream, bounded by the plugin's timeout and the deadline.

use crate::caps::kit::capped::Capped;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::engine_error;
use crate::bindings::drhost::runbook::docker::{ExecRequest, ExecResult};
use crate::bindings::types::Error as CapError;
use crate::sandbox::RunContext;

/// Output kept per exec stream.
const EXEC_OUTPUT_CAP: usize = 256 * 1024;
/// Used when the plugin sets no exec timeout.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the (checked) request in container `id`; `name` is for messages.
/// The exec runs as the container's user, unprivileged, in its working
/// directory: the contract has no way to ask otherwise, and this host
/// sets them explicitly so no engine default can change that.
pub(crate) async fn exec(
    ctx: &RunContext,
    docker: &bollard::Docker,
    id: &str,
    name: &str,
    request: &ExecRequest,
) -> Result<ExecResult, CapError> {
    use bollard::container::LogOutput as Out;
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let timeout = request
        .timeout_ms
        .map_or(EXEC_TIMEOUT, |ms| Duration::from_millis(ms.into()))
        .min(ctx.time_left());
    let started = Instant::now();
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(request.argv.clone()),
        env: (!request.env.is_empty()).then(|| request.env.clone()),
        privileged: Some(false),
        attach_stdin: Some(false),
        tty: Some(false),
        ..Default::default()
    };
    let created = docker.create_exec(id, options).await.map_err(engine_error)?;
    let run = async {
        let mut out = Capped::new(EXEC_OUTPUT_CAP);
        let mut err = Capped::new(EXEC_OUTPUT_CAP);
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&created.id, None).await.map_err(engine_error)?
        {
            while let Some(item) = output.next().await {
                let (buf, cut) = match item.map_err(engine_error)? {
                    Out::StdErr { message } => (&mut err, message),
                    Out::StdOut { message } | Out::Console { message } => (&mut out, message),
                    Out::StdIn { .. } => continue,
                };
                buf.push(&cut);
            }
        }
        Ok::<_, CapError>((out.into_parts(), err.into_parts()))
    };
    let ((out, out_cut), (err, err_cut)) = match tokio::time::timeout(timeout, run).await {
        Ok(done) => done?,
        Err(_) => {
            return Err(CapError::Timeout(format!(
                "`{}` in `{name}` did not finish within {} (it may still be running in the container)",
                request.argv.join(" "),
                humantime::format_duration(Duration::from_millis(timeout.as_millis() as u64))
            )))
        }
    };
    let inspected = docker.inspect_exec(&created.id).await.map_err(engine_error)?;
    Ok(ExecResult {
        exit_code: inspected.exit_code.map(|c| c as i32),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        truncated: out_cut || err_cut,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
