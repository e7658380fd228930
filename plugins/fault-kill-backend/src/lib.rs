//! `fault-kill-backend`: a drill's fault for runbook scenario 4
//! (application service failure). It kills one running backend container
//! (`docker stop` with no grace period: SIGKILL at once) and checks that it
//! is down. It changes nothing else.
//!
//! Undo: `docker start CONTAINER` (the container is kept, only stopped), or
//! the recovery under test, `service-recover`.

use drhost_sdk::prelude::*;

struct FaultKillBackend;

const STEP: &str = "kill the backend";

impl Plugin for FaultKillBackend {
    fn describe() -> Manifest {
        manifest(
            "fault-kill-backend",
            env!("CARGO_PKG_VERSION"),
            "Drill fault: kills one running backend container (undo: docker start it, or run service-recover)",
        )
        .param("container", "the backend container to kill", Some("toolboxai-backend2"))
        .need("docker", "toolboxai-backend*", Access::Write, "kills the backend container (docker stop, no grace period)")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let container = params.get("container")?;
        let step = Step::start(STEP);
        let before = docker::inspect_container(container).map_err(|e| Failure::from(e).in_step(STEP))?;
        if !before.running {
            step.fail();
            return Err(fail(format!("{container} is not running ({}): there is nothing to kill", before.state))
                .in_step(STEP)
                .hint("start it first (`docker start`), then run the drill on a healthy stack"));
        }
        docker::stop_container(container, Some(0)).map_err(|e| Failure::from(e).in_step(STEP))?;
        let after = docker::inspect_container(container).map_err(|e| Failure::from(e).in_step(STEP))?;
        if after.running {
            step.fail();
            return Err(fail(format!("{container} still runs after docker stop")).in_step(STEP));
        }
        step.note(format!("{container}: {} (exit code {})", after.state, after.exit_code));
        step.ok();
        Ok(outcome(format!("killed {container}; undo: docker start {container}"))
            .fact("container", container)
            .fact("state", after.state))
    }
}

export_plugin!(FaultKillBackend);
