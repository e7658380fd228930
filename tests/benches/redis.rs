//! Redis failover benchmark (runbook scenario 2, Option B): time to a
//! verified new master with `redis-failover` versus the runbook's manual
//! `redis-cli` sequence (`tests/benches/runbook-scenario2.sh`), on the same
//! fault, while the Sentinels' down-after is a minute, so nothing fails
//! over by itself. Two faults: the master **killed** (SIGKILL: its port
//! refuses connections, so drhost knows at once that it is down) and the
//! master **hung** (SIGSTOP: the kernel still accepts the connection and
//! nothing answers, so drhost waits its 1 s reply timeout before it calls
//! the master down; the manual sequence does not check the master at all).
//!
//! Run with `make bench` (or `cargo bench -p drhost-tests --bench redis`)
//! after `make build` and `make lab`. It changes the lab and restores it
//! (`lab/up.sh`) after every sample. It measures; it asserts nothing.

use std::process::Command;
use std::time::Duration;

use drhost_tests::bench::Figure;
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

/// How the master fails.
#[derive(Clone, Copy)]
enum Fault {
    Killed,
    Hung,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Killed => "master killed (SIGKILL, connections refused)",
            Fault::Hung => "master hung (SIGSTOP, connections accepted, no reply)",
        }
    }

    fn signal(self) -> &'static str {
        match self {
            Fault::Killed => "-KILL",
            Fault::Hung => "-STOP",
        }
    }
}

/// Kills or pauses the master with automatic failover held off.
fn inject(lab: &Lab, fault: Fault) -> String {
    let name = lab.redis_master_name().expect("master name");
    for port in lab.sentinel_ports().expect("sentinel ports") {
        redis_cli(
            lab,
            port,
            &["SENTINEL", "SET", name, "down-after-milliseconds", "60000"],
        );
    }
    let pid = master_pid(lab);
    Command::new("kill")
        .args([fault.signal(), &pid])
        .status()
        .expect("kill");
    pid
}

fn restore(lab: &Lab, pid: &str) {
    let _ = Command::new("kill")
        .args(["-CONT", pid])
        .stderr(std::process::Stdio::null())
        .status();
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

/// The medians of one fault: drhost's time to a verified new master, its
/// whole run, and the manual sequence's; `None` for a side with no sample.
struct Measured {
    plugin: Option<f64>,
    plugin_wall: Option<f64>,
    manual: Option<f64>,
}

fn measure(lab: &Lab, fault: Fault, failover: &Run) -> Measured {
    let name = lab.redis_master_name().unwrap().to_string();
    let sentinels: Vec<String> = lab.sentinel_ports().unwrap().iter().map(u16::to_string).collect();
    let script = repo_root().join("tests/benches/runbook-scenario2.sh");
    let (mut plugin_master, mut plugin_wall, mut manual) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let pid = inject(lab, fault);
        let out = failover.exec();
        let wall = out.elapsed;
        restore(lab, &pid);
        match out.fact("time-to-new-master-ms").and_then(|v| v.parse::<f64>().ok()) {
            Some(to_master) => {
                // Time from the process start: the plugin's clock starts after load.
                let startup = ms(wall)
                    - out
                        .fact("time-to-recovery-ms")
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(ms(wall));
                plugin_master.push(to_master + startup);
                plugin_wall.push(ms(wall));
            }
            None => eprintln!(
                "redis-failover did not recover (exit {}): {}\n{}",
                out.code, out.stdout, out.stderr
            ),
        }

        let pid = inject(lab, fault);
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
        restore(lab, &pid);
        match String::from_utf8_lossy(&out.stdout).trim().parse::<f64>() {
            Ok(v) if out.status.success() => manual.push(v),
            _ => eprintln!("manual sequence failed: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    let shown = |v: &[f64]| format!("{:?}", v.iter().map(|v| v.round()).collect::<Vec<_>>());
    println!("{} ({SAMPLES} samples each, median):", fault.name());
    println!(
        "  redis-failover (drhost run):   verified new master after {:7.0} ms   (samples {}; whole run incl. checks, probe, failed-node report {:.0} ms)",
        if plugin_master.is_empty() { f64::NAN } else { median(plugin_master.clone()) },
        shown(&plugin_master),
        if plugin_wall.is_empty() { f64::NAN } else { median(plugin_wall.clone()) },
    );
    println!(
        "  runbook redis-cli sequence:    verified new master after {:7.0} ms   (samples {})",
        if manual.is_empty() {
            f64::NAN
        } else {
            median(manual.clone())
        },
        shown(&manual)
    );
    let of = |v: Vec<f64>| (!v.is_empty()).then(|| median(v));
    Measured {
        plugin: of(plugin_master),
        plugin_wall: of(plugin_wall),
        manual: of(manual),
    }
}

fn main() {
    let lab = Lab::load().expect("the lab is up (make lab)");
    let failover = Run::plugin("redis-failover")
        .config(lab.path(".lab/drhost.toml"))
        .json()
        .yes()
        .param("auto-failover-wait", "0s");
    restore(&lab, &master_pid(&lab));
    println!("redis failover, no automatic failover (down-after 60 s):");
    let mut figures = Vec::new();
    for (fault, baseline) in [
        (Fault::Killed, "-"),
        (
            Fault::Hung,
            "4x on plaintext (2.27 s vs 0.58 s); 1.53x on TLS (2288 vs 1499 ms)",
        ),
    ] {
        let m = measure(&lab, fault, &failover);
        let what = format!(
            "scenario 2: redis-failover over the manual redis-cli sequence, {}",
            fault.name()
        );
        figures.push(match (m.plugin, m.manual) {
            (Some(p), Some(h)) => Figure::new(
                &what,
                format!(
                    "{:.2}x ({p:.0} vs {h:.0} ms; whole run {:.0} ms)",
                    p / h,
                    m.plugin_wall.unwrap_or(f64::NAN)
                ),
                baseline,
                "<= 1.2x",
                p / h <= 1.2,
            ),
            _ => Figure::new(&what, "a side failed: see above".into(), baseline, "<= 1.2x", false),
        });
    }
    drhost_tests::bench::record("redis", &figures);
}
