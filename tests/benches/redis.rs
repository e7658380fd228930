//! Redis failover benchmark (runbook scenario 2, Option B): time to a
//! verified new master with `redis-failover` versus the runbook's manual
//! `redis-cli` sequence (`tests/benches/runbook-scenario2.sh`), on the same
//! fault: the master paused (SIGSTOP) while the Sentinels' down-after is a
//! minute, so nothing fails over by itself.
//!
//! Run with `make bench` (or `cargo bench -p drhost-tests --bench redis`)
//! after `make build` and `make lab`. It changes the lab and restores it
//! (`lab/up.sh`) after every sample. It measures; it asserts nothing.

use std::process::Command;
use std::time::Duration;

use drhost_tests::cli::{repo_root, Run};
use drhost_tests::lab::Lab;
use drhost_tests::util::median;

const SAMPLES: usize = 3;

fn redis_cli(lab: &Lab, port: u16, args: &[&str]) {
    let _ = lab.redis_cli(port).expect("redis-cli").args(args).output();
}

fn master_pid(lab: &Lab) -> String {
    let port = lab.get("REDIS_MASTER_PORT").expect("REDIS_MASTER_PORT");
    std::fs::read_to_string(lab.path(&format!(".lab/run/redis-{port}.pid")))
        .expect("master pid")
        .trim()
        .to_string()
}

/// Pauses the master with automatic failover held off.
fn inject(lab: &Lab) -> String {
    let name = lab.redis_master_name().expect("master name");
    for port in lab.sentinel_ports().expect("sentinel ports") {
        redis_cli(
            lab,
            port,
            &["SENTINEL", "SET", name, "down-after-milliseconds", "60000"],
        );
    }
    let pid = master_pid(lab);
    Command::new("kill").args(["-STOP", &pid]).status().expect("kill");
    pid
}

fn restore(lab: &Lab, pid: &str) {
    let _ = Command::new("kill").args(["-CONT", pid]).status();
    let name = lab.redis_master_name().expect("master name");
    for port in lab.sentinel_ports().expect("sentinel ports") {
        redis_cli(lab, port, &["SENTINEL", "SET", name, "down-after-milliseconds", "1000"]);
    }
    let out = Command::new("bash")
        .arg(lab.path("lab/up.sh"))
        .output()
        .expect("lab/up.sh");
    assert!(
        out.status.success(),
        "lab/up.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let lab = Lab::load().expect("the lab is up (make lab)");
    let failover = Run::plugin("redis-failover")
        .config(lab.path(".lab/drhost.toml"))
        .json()
        .yes()
        .param("auto-failover-wait", "0s");
    let name = lab.redis_master_name().unwrap().to_string();
    let sentinels: Vec<String> = lab.sentinel_ports().unwrap().iter().map(u16::to_string).collect();
    let script = repo_root().join("tests/benches/runbook-scenario2.sh");
    restore(&lab, &master_pid(&lab));

    let (mut plugin_master, mut plugin_wall, mut manual) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let pid = inject(&lab);
        let out = failover.exec();
        let wall = out.elapsed;
        restore(&lab, &pid);
        let Some(to_master) = out.fact("time-to-new-master-ms").and_then(|v| v.parse::<f64>().ok()) else {
            eprintln!(
                "redis-failover did not recover (exit {}): {}\n{}",
                out.code, out.stdout, out.stderr
            );
            continue;
        };
        // Time from the process start: the plugin's clock starts after load.
        let startup = ms(wall)
            - out
                .fact("time-to-recovery-ms")
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(ms(wall));
        plugin_master.push(to_master + startup);
        plugin_wall.push(ms(wall));

        let pid = inject(&lab);
        let out = Command::new("bash")
            .arg(&script)
            .arg(&name)
            .arg("2")
            .args(&sentinels)
            .env("REDIS_CA_FILE", lab.get("REDIS_CA_FILE").unwrap())
            .env("REDIS_PASSWORD_FILE", lab.get("REDIS_PASSWORD_FILE").unwrap())
            .env("SENTINEL_PASSWORD_FILE", lab.get("SENTINEL_PASSWORD_FILE").unwrap())
            .output()
            .expect("runbook-scenario2.sh");
        restore(&lab, &pid);
        match String::from_utf8_lossy(&out.stdout).trim().parse::<f64>() {
            Ok(v) if out.status.success() => manual.push(v),
            _ => eprintln!("manual sequence failed: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    println!("redis failover, master paused (SIGSTOP), no automatic failover; {SAMPLES} samples each, median:");
    if !plugin_master.is_empty() {
        println!(
            "  redis-failover (drhost run):   verified new master after {:7.0} ms   (samples {:?}; whole run incl. checks, probe, failed-node report {:.0} ms)",
            median(plugin_master.clone()),
            plugin_master.iter().map(|v| v.round()).collect::<Vec<_>>(),
            median(plugin_wall)
        );
    }
    if !manual.is_empty() {
        println!(
            "  runbook redis-cli sequence:    verified new master after {:7.0} ms   (samples {:?})",
            median(manual.clone()),
            manual.iter().map(|v| v.round()).collect::<Vec<_>>()
        );
    }
}
