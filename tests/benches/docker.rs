//! Scenario 4 benchmark: the same fault — `toolboxai-backend2` killed — fixed
//! by `drhost run plugins/service-recover.wasm` and by
//! `tests/benches/runbook-scenario4.sh` (the runbook's docker CLI steps: ps,
//! logs --tail 100, inspect, restart, curl /health until 200). Each try
//! kills the backend, times the recovery to a verified `/health` 200, and
//! checks the backend really is back.
//!
//! Four sides, the same number of tries each, their order rotated every
//! round (so no side always runs first, right after a fault of the same
//! kind): drhost (which polls `/health` every 100 ms), the script polling
//! every second (`POLL=1`: an operator's `sleep 1` loop, the baseline the
//! target was set against), the script polling every 100 ms (`POLL=0.1`:
//! as often as the plugin, so the difference left is the tools', not the
//! polling's), and the floor: `docker start` and `curl /health` every
//! 100 ms, nothing else. Prints each side's median and the ratios (targets:
//! drhost at least 3x faster than the operator's script, and within 10 %
//! of the floor, issue 14).
//!
//! Run with `make bench` (or `cargo bench -p drhost-tests --bench docker`)
//! after `make lab build`. `DRHOST_BENCH_ROUNDS` sets the rounds (default
//! 7). It runs drhost with service-recover's lab grants in a config of its
//! own. It faults the lab's stack: it takes the lab lock
//! (`drhost_tests::lab::serial`), so no test runs beside it. The stack is
//! healthy when it ends.

use std::process::Command;
use std::time::{Duration, Instant};

use bollard::query_parameters as q;
use drhost_tests::bench::Figure;
use drhost_tests::cli::{repo_root, Run};
use drhost_tests::docker::health;
use drhost_tests::lab::Lab;
use drhost_tests::util::median;

/// Rounds unless `DRHOST_BENCH_ROUNDS` says otherwise.
const ROUNDS: usize = 7;
const VICTIM: &str = "toolboxai-backend2";

/// One way of recovering the backend.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Drhost,
    /// The runbook script, polling `/health` every this many seconds.
    Script(&'static str),
    /// `docker start` and `/health` every 100 ms: no diagnosis, no checks.
    Floor,
}

impl Side {
    fn name(self) -> String {
        match self {
            Side::Drhost => "drhost run service-recover (polls every 0.1 s)".to_string(),
            Side::Script(poll) => format!("runbook-scenario4.sh, POLL={poll} s"),
            Side::Floor => "floor: docker start, curl /health every 0.1 s".to_string(),
        }
    }
}

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
    let _lab_lock = drhost_tests::lab::serial();
    let lab = Lab::load().expect("the lab is up (make lab)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let docker = rt.block_on(lab.docker()).expect("docker");
    let url = lab.get("BACKEND2_URL").expect("BACKEND2_URL").to_string();
    let docker_host = lab.get("DOCKER_HOST").expect("DOCKER_HOST").to_string();
    // service-recover's grants as lab/drhost-toml.sh writes them, in a
    // config of the bench's own: nothing else in the lab's file can stop it.
    let config = drhost_tests::cli::config(&format!(
        "[[plugins.service-recover.docker]]\ncontainers = [\"toolboxai-backend*\"]\ncompose_project = \"{}\"\n\
         access = [\"read\", \"write\"]\nexec = [[\"nc\", \"-z\", \"-w\", \"*\", \"*\", \"*\"]]\nimages = [\"{}:*\"]\n\n\
         [[plugins.service-recover.http]]\nhost = \"127.0.0.1:*\"\n",
        lab.get("COMPOSE_PROJECT").expect("COMPOSE_PROJECT"),
        lab.get("BACKEND_IMAGE").expect("BACKEND_IMAGE"),
    ));
    let script = repo_root().join("tests/benches/runbook-scenario4.sh");
    let rounds = std::env::var("DRHOST_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let drhost = Run::plugin("service-recover")
        .quiet()
        .config(config.path())
        .env("DOCKER_HOST", &docker_host);
    let bash = |poll: &str| {
        let mut cmd = Command::new("bash");
        cmd.arg(&script).env("DOCKER_HOST", &docker_host).env("POLL", poll);
        cmd
    };
    // Warm the compile cache so the first drhost round is not a compile.
    timed_drhost(&drhost, "drhost run service-recover (healthy lab, warm-up)");

    let floor = || {
        let mut cmd = Command::new("bash");
        cmd.args([
            "-c",
            "docker start \"$1\" >/dev/null && until curl -fsS -o /dev/null --max-time 2 \"$2/health\"; do sleep 0.1; done",
            "floor",
            VICTIM,
            &url,
        ])
        .env("DOCKER_HOST", &docker_host);
        cmd
    };
    let sides = [Side::Drhost, Side::Script("1"), Side::Script("0.1"), Side::Floor];
    println!(
        "scenario 4 benchmark: {VICTIM} killed, recovered to /health 200; {rounds} tries per side, order rotated each round"
    );
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    for round in 0..rounds {
        let mut line = format!("  round {}:", round + 1);
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            rt.block_on(fault(&lab, &docker, &url));
            let took = match sides[i] {
                Side::Drhost => timed_drhost(&drhost, "drhost run service-recover"),
                Side::Script(poll) => timed(bash(poll), "runbook-scenario4.sh"),
                Side::Floor => timed(floor(), "the floor (docker start, curl)"),
            };
            assert_eq!(
                rt.block_on(health(&lab, &url)),
                200,
                "{} left the backend unhealthy",
                sides[i].name()
            );
            samples[i].push(took);
            line.push_str(&format!("   {} {}", sides[i].name(), secs(took)));
        }
        println!("{line}");
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    for (side, m) in sides.iter().zip(&medians) {
        println!("{:<50} median {}", side.name(), secs(*m));
    }
    let d = medians[0].as_secs_f64();
    println!(
        "ratio, operator script (POLL=1) / drhost:   {:.1}x  (target >= 3x)",
        medians[1].as_secs_f64() / d
    );
    println!(
        "ratio, same polling (POLL=0.1) / drhost:   {:.1}x  (the tools alone, polling equal)",
        medians[2].as_secs_f64() / d
    );
    let (operator, over_floor) = (medians[1].as_secs_f64() / d, d / medians[3].as_secs_f64());
    println!("ratio, drhost / floor:   {over_floor:.2}x  (target <= 1.1x)");
    drhost_tests::bench::record(
        "docker",
        &[
            Figure::new(
                "scenario 4: service-recover, kill -> /health 200, over the floor (docker start + curl)",
                format!("{over_floor:.2}x ({} vs {})", secs(medians[0]), secs(medians[3])),
                "1.04x (1.00 s vs 0.96 s)",
                "<= 1.1x",
                over_floor <= 1.1,
            ),
            Figure::info(
                "scenario 4: the runbook's docker CLI steps (POLL=1) over service-recover",
                format!("{operator:.1}x ({})", secs(medians[1])),
                "1.29 s",
            ),
        ],
    );
}
