//! Scenario 4 benchmark: the same fault — `toolboxai-backend2` killed — fixed
//! by `drhost run plugins/service-recover.wasm` and by
//! `tests/benches/runbook-scenario4.sh` (the runbook's docker CLI steps: ps,
//! logs --tail 100, inspect, restart, curl /health until 200). Each round
//! kills the backend, times the recovery to a verified `/health` 200, and
//! checks the backend really is back. Prints both medians and the ratio
//! (target: drhost at least 3x faster).
//!
//! Run with `make bench` (or `cargo bench -p drhost-tests --bench docker`)
//! after `make lab build`. It faults the lab's stack: do not run it while
//! the docker tests run. The stack is healthy when it ends.

use std::process::Command;
use std::time::{Duration, Instant};

use bollard::query_parameters as q;
use drhost_tests::cli::{repo_root, Run};
use drhost_tests::docker::health;
use drhost_tests::lab::Lab;
use drhost_tests::util::median;

const ROUNDS: usize = 5;
const VICTIM: &str = "toolboxai-backend2";

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Kills the backend and waits until the engine reports it exited.
async fn fault(lab: &Lab, docker: &bollard::Docker, url: &str) {
    docker
        .kill_container(VICTIM, None::<q::KillContainerOptions>)
        .await
        .expect("kill the backend");
    for _ in 0..50 {
        let c = docker
            .inspect_container(VICTIM, None::<q::InspectContainerOptions>)
            .await
            .expect("inspect");
        if c.state.and_then(|s| s.running) == Some(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(health(lab, url).await, 200, "the fault took");
}

/// `drhost` run to the end: its wall time; panics with its output when it fails.
fn timed_drhost(run: &Run, what: &str) -> Duration {
    let out = run.exec();
    assert_eq!(out.code, 0, "{what} failed:\n{}\n{}", out.stdout, out.stderr);
    out.elapsed
}

fn timed(mut cmd: Command, what: &str) -> Duration {
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what} runs: {e}"));
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn main() {
    let lab = Lab::load().expect("the lab is up (make lab)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let docker = rt.block_on(lab.docker()).expect("docker");
    let url = lab.get("BACKEND2_URL").expect("BACKEND2_URL").to_string();
    let docker_host = lab.get("DOCKER_HOST").expect("DOCKER_HOST").to_string();
    let config = lab.path(".lab/drhost.toml");
    let script = repo_root().join("tests/benches/runbook-scenario4.sh");
    let drhost = Run::plugin("service-recover")
        .quiet()
        .config(&config)
        .env("DOCKER_HOST", &docker_host);
    let bash = || {
        let mut cmd = Command::new("bash");
        cmd.arg(&script).env("DOCKER_HOST", &docker_host);
        cmd
    };
    // Warm the compile cache so the first drhost round is not a compile.
    timed_drhost(&drhost, "drhost run service-recover (healthy lab, warm-up)");

    println!("scenario 4 benchmark: {VICTIM} killed, recovered to /health 200 ({ROUNDS} rounds each)");
    let mut with_drhost = Vec::new();
    let mut with_bash = Vec::new();
    for round in 1..=ROUNDS {
        rt.block_on(fault(&lab, &docker, &url));
        let d = timed_drhost(&drhost, "drhost run service-recover");
        assert_eq!(
            rt.block_on(health(&lab, &url)),
            200,
            "drhost left the backend unhealthy"
        );
        with_drhost.push(d);

        rt.block_on(fault(&lab, &docker, &url));
        let b = timed(bash(), "runbook-scenario4.sh");
        assert_eq!(
            rt.block_on(health(&lab, &url)),
            200,
            "the script left the backend unhealthy"
        );
        with_bash.push(b);
        println!("  round {round}: drhost {}   runbook script {}", secs(d), secs(b));
    }
    let (d, b) = (median(with_drhost), median(with_bash));
    println!("drhost run service-recover:   median {}", secs(d));
    println!("runbook-scenario4.sh (CLI):   median {}", secs(b));
    println!(
        "ratio (script / drhost):      {:.1}x  (target >= 3x)",
        b.as_secs_f64() / d.as_secs_f64()
    );
}
