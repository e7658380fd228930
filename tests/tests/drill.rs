//! `drhost drill` and `drhost schedule` on the real lab: a fault plugin
//! breaks a real service, the recovery plugin repairs it, and the host's
//! own probes measure RTO and RPO. Each test takes the lab lock (the
//! faults are real) and puts the lab back: Docker through
//! [`drhost_tests::docker::Restore`], Redis through [`RestoreRedis`]
//! (restart a stopped node from its config, fail back to the canonical
//! master) — never `lab/up.sh`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use drhost_tests::cli::{read_journal, shared_cache_dir, Outcome, Run};
use drhost_tests::docker::{health, Restore, BACKEND2};
use drhost_tests::lab::{canonical_redis, runtime as rt, up as lab, Lab};
use drhost_tests::tmp::TmpDir;
use serde_json::Value;

/// The drill exit code for a missed target (host/src/error.rs).
const EXIT_TARGET_MISSED: i32 = 6;

/// The lab's own drhost.toml (targets, grants, trust) without its drills
/// (they come last; tests define their own under the same names), plus
/// `extra`.
fn config_with(lab: &Lab, extra: &str) -> String {
    let text = std::fs::read_to_string(lab.path(".lab/drhost.toml")).expect("the lab's drhost.toml (make lab)");
    let base = text
        .split_once("\n[drills.")
        .map_or(text.as_str(), |(before, _)| before);
    format!("{base}\n{extra}\n")
}

/// A fresh drhost.toml holding `text`, removed when dropped.
fn config_file(text: &str) -> drhost_tests::tmp::TmpFile {
    drhost_tests::cli::config(text)
}

fn plugin_path(id: &str) -> String {
    drhost_tests::cli::plugin(id).display().to_string()
}

/// The grant the kill-backend fault needs, as lab/drhost-toml.sh writes it.
const KILL_GRANT: &str =
    "[[plugins.fault-kill-backend.docker]]\ncontainers = [\"toolboxai-backend*\"]\naccess = [\"read\", \"write\"]\n";

/// A service-failure drill named `name`: kill backend2, service-recover,
/// probes on the proxy and on backend2 itself.
fn service_drill(lab: &Lab, name: &str, rto: &str) -> String {
    let nginx = lab.nginx_url().unwrap();
    let backend2 = lab.get("BACKEND2_URL").unwrap();
    format!(
        "[drills.{name}]\nfault = \"{}\"\nfault_params = {{ container = \"{BACKEND2}\" }}\nrecovery = \"{}\"\nprobes.http = [\"{nginx}/health\", \"{backend2}/health\"]\nrto = \"{rto}\"\nevery = \"30d\"\n",
        plugin_path("fault-kill-backend"),
        plugin_path("service-recover"),
    )
}

/// `drhost drill ARGS --config FILE --journal-dir DIR --json --yes` on the lab's engine.
fn drill(lab: &Lab, config: &Path, journals: &Path, args: &[&str]) -> Run {
    let mut argv = vec!["drill"];
    argv.extend_from_slice(args);
    Run::cli(argv)
        .config(config)
        .args([OsStr::new("--journal-dir"), journals.as_os_str()])
        .args([OsStr::new("--cache-dir"), shared_cache_dir().as_os_str()])
        .json()
        .yes()
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap_or_default())
}

fn drill_journals(journals: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(journals.join("drills"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn events<'a>(journal: &'a [Value], event: &str) -> Vec<&'a Value> {
    journal.iter().filter(|e| e["event"] == event).collect()
}

fn assert_code(out: &Outcome, code: i32) {
    assert_eq!(out.code, code, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

#[test]
fn service_failure_drill_passes_with_rto_measured_and_journaled() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(
        &lab,
        &format!("{KILL_GRANT}\n{}", service_drill(&lab, "service-failure", "15m")),
    ));

    let out = drill(&lab, config.path(), journals.path(), &["service-failure"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    assert!(rto > 0 && rto < 15 * 60 * 1000, "{rto}");
    assert_eq!(report["rto"]["met"], true);
    let backend2 = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == format!("http:{}/health", lab.get("BACKEND2_URL").unwrap()))
        .expect("the backend2 probe")
        .clone();
    assert_eq!(backend2["saw_fault"], true, "{backend2}");
    assert!(backend2["failed"].as_u64().unwrap() > 0);
    assert_eq!(report["fault"]["exit_code"], 0);
    assert_eq!(report["recovery"]["exit_code"], 0);
    let wall = report["recovery"]["wall_ms"].as_u64().unwrap();
    eprintln!("service-failure drill: RTO {rto} ms, recovery plugin wall {wall} ms");

    // The drill's journal: probes from before the fault, the two runs
    // named with their own journals, the verdict with the same RTO.
    let files = drill_journals(journals.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let journal = read_journal(&files[0]);
    let fault_start = events(&journal, "fault-start")[0]["at_ms"].as_u64().unwrap();
    let first_probe = events(&journal, "probe")[0]["at_ms"].as_u64().unwrap();
    assert!(first_probe < fault_start, "probing started before the fault");
    assert!(
        events(&journal, "probe")
            .iter()
            .any(|p| p["ok"] == false && p["at_ms"].as_u64().unwrap() >= fault_start),
        "the outage is journaled"
    );
    let end = events(&journal, "run-end")[0];
    assert_eq!(end["status"], "passed");
    assert_eq!(end["drill"]["rto"]["measured_ms"].as_u64(), Some(rto));
    let fault_journal = events(&journal, "fault-end")[0]["plugin_run"]["journal"]
        .as_str()
        .unwrap()
        .to_string();
    let fault_events = read_journal(Path::new(&fault_journal));
    let stops: Vec<&Value> = fault_events
        .iter()
        .filter(|e| e["event"] == "call" && e["call"] == "docker.stop-container")
        .collect();
    assert_eq!(
        stops.len(),
        1,
        "the fault is an ordinary journaled run: {fault_events:?}"
    );
    let recovery_journal = events(&journal, "recovery-end")[0]["plugin_run"]["journal"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(Path::new(&recovery_journal).is_file());
    // Hash-chained like a run's journal: every event is the drill's own.
    assert!(journal.iter().all(|e| e["run"] == end["run"]), "{journal:?}");
    let verified = Run::cli(["journal", "verify"]).arg(&files[0]).exec();
    assert_code(&verified, 0);
    check_drill_report(journals.path(), &files[0]);

    // The real service is back.
    assert_eq!(rt().block_on(health(&lab, lab.get("BACKEND2_URL").unwrap())), 200);
}

#[test]
fn a_drill_whose_rto_target_is_tighter_than_reality_fails_naming_the_target() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(
        &lab,
        &format!("{KILL_GRANT}\n{}", service_drill(&lab, "too-tight", "1ms")),
    ));

    let out = drill(&lab, config.path(), journals.path(), &["too-tight"]).exec();
    assert_code(&out, EXIT_TARGET_MISSED);
    let report = out.json();
    assert_eq!(report["status"], "missed");
    assert_eq!(report["rto"]["met"], false);
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("missed RTO") && summary.contains("target 1 ms"),
        "{summary}"
    );
    let journal = read_journal(&drill_journals(journals.path())[0]);
    assert_eq!(events(&journal, "run-end")[0]["exit_code"], EXIT_TARGET_MISSED);
    assert_eq!(
        rt().block_on(health(&lab, lab.get("BACKEND2_URL").unwrap())),
        200,
        "recovered all the same"
    );
}

#[test]
fn a_fault_plugin_without_grants_is_refused_before_anything_starts() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let journals = TmpDir::new("drill-journals-");
    // The drill, but no [[plugins.fault-kill-backend.docker]] grant (the
    // lab's config has one: taken out).
    let text = config_with(&lab, &service_drill(&lab, "ungranted", "15m"));
    assert!(text.contains(KILL_GRANT), "the lab grants the fault as KILL_GRANT says");
    let config = config_file(&text.replace(KILL_GRANT, ""));
    let started_before = rt().block_on(started_at(&lab, BACKEND2));

    let out = drill(&lab, config.path(), journals.path(), &["ungranted"]).exec();
    assert_code(&out, 3);
    assert!(
        out.stderr.contains("fault plugin is refused") && out.stderr.contains("[[plugins.fault-kill-backend.docker]]"),
        "{}",
        out.stderr
    );
    assert!(drill_journals(journals.path()).is_empty(), "no drill journal");
    assert!(
        std::fs::read_dir(journals.path()).map(|d| d.count()).unwrap_or(0) == 0,
        "no plugin ran"
    );
    assert_eq!(
        rt().block_on(started_at(&lab, BACKEND2)),
        started_before,
        "backend2 untouched"
    );
}

async fn started_at(lab: &Lab, name: &str) -> (bool, String) {
    let docker = lab.docker().await.unwrap();
    let c = drhost_tests::docker::inspect(&docker, name).await;
    let state = c.state.unwrap_or_default();
    (state.running.unwrap_or(false), state.started_at.unwrap_or_default())
}

/// Puts the lab's Redis back without `lab/up.sh`: starts a node that is
/// down from its own config, waits for Sentinel to agree, and fails back
/// to the canonical master when another node is master.
struct RestoreRedis(Lab);

impl RestoreRedis {
    fn cli(&self, port: u16, args: &[&str]) -> String {
        self.0
            .redis_cli(port)
            .and_then(|mut cli| Ok(cli.args(args).output()?))
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    fn views(&self) -> Vec<String> {
        let name = self.0.redis_master_name().unwrap();
        self.0
            .sentinel_ports()
            .unwrap()
            .iter()
            .map(|p| {
                self.cli(*p, &["SENTINEL", "get-master-addr-by-name", name])
                    .replace('\n', ":")
            })
            .collect()
    }

    fn settled_on(&self, master: u16, replica: u16) -> bool {
        let want = format!("127.0.0.1:{master}");
        let info = self.cli(replica, &["INFO", "replication"]);
        self.views().iter().all(|v| *v == want)
            && info.contains("role:slave")
            && info.contains(&format!("master_port:{master}"))
            && info.contains("master_link_status:up")
    }

    fn wait(&self, what: &str, limit: Duration, done: impl Fn() -> bool) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!("restore redis: {what} not reached within {limit:?}: {:?}", self.views());
        false
    }
}

impl Drop for RestoreRedis {
    fn drop(&mut self) {
        let lab = &self.0;
        let (master, replica) = (
            lab.port("REDIS_MASTER_PORT").unwrap(),
            lab.port("REDIS_REPLICA_PORT").unwrap(),
        );
        let dir = std::fs::canonicalize(lab.path(".lab/redis")).unwrap_or(lab.path(".lab/redis"));
        for port in [master, replica] {
            if self.cli(port, &["PING"]) != "PONG" {
                let conf = dir.join(port.to_string()).join("redis.conf");
                let _ = Command::new("redis-server").arg(&conf).status();
            }
        }
        let settled = || self.settled_on(master, replica) || self.settled_on(replica, master);
        if !self.wait("one agreed master with a replica", Duration::from_secs(60), settled) {
            return;
        }
        if self.settled_on(master, replica) {
            return;
        }
        let name = lab.redis_master_name().unwrap().to_string();
        let sentinel = lab.sentinel_ports().unwrap()[0];
        self.cli(sentinel, &["SENTINEL", "FAILOVER", &name]);
        self.wait("the canonical master back", Duration::from_secs(60), || {
            self.settled_on(master, replica)
        });
    }
}

/// The redis-failover drill as the lab's drhost.toml has it (the fault
/// stops the master with `SHUTDOWN NOSAVE` over TLS, redis-failover
/// restarts it as a replica), with the fault's grants, plus `more` lines
/// in the drill's table (e.g. a target).
fn redis_drill(lab: &Lab, more: &str) -> String {
    let host = lab.get("REDIS_HOST").unwrap();
    let ca = lab.get("REDIS_CA_FILE").unwrap();
    let password = lab.get("REDIS_PASSWORD_FILE").unwrap();
    let dir = std::fs::canonicalize(lab.path(".lab/redis")).unwrap();
    format!(
        "[[plugins.fault-stop-redis-master.redis]]\ntarget = \"cache\"\naccess = [\"read\"]\n\n\
         [[plugins.fault-stop-redis-master.shell]]\nprogram = \"redis-cli\"\nargs = [\"--tls\", \"--cacert\", \"{ca}\", \"-h\", \"{host}\", \"-p\", \"*\", \"SHUTDOWN\", \"NOSAVE\"]\nenv = {{ REDISCLI_AUTH = \"file:{password}\" }}\n\n\
         [[plugins.fault-stop-redis-master.shell]]\nprogram = \"redis-cli\"\nargs = [\"--tls\", \"--cacert\", \"{ca}\", \"-h\", \"{host}\", \"-p\", \"*\", \"PING\"]\nenv = {{ REDISCLI_AUTH = \"file:{password}\" }}\n\n\
         [drills.redis-failover]\nfault = \"{}\"\nfault_params = {{ redis-cli-options = \"--tls --cacert {ca}\" }}\nrecovery = \"{}\"\n\
         recovery_params = {{ restart-command = \"redis-server {}/{{port}}/redis.conf\", rejoin-timeout = \"90s\" }}\n\
         probes.redis = [\"cache\"]\nevery = \"30d\"\n{more}",
        plugin_path("fault-stop-redis-master"),
        plugin_path("redis-failover"),
        dir.display(),
    )
}

#[test]
fn a_redis_drill_measures_lost_acknowledged_writes_during_a_forced_failover() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = RestoreRedis(lab.clone());
    let (master, _) = canonical_redis(&lab);
    let extra = redis_drill(&lab, "");
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &extra));

    let out = drill(&lab, config.path(), journals.path(), &["redis-failover"]).exec();
    assert!(
        out.code == 0 || out.code == EXIT_TARGET_MISSED,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let report = out.json();
    let probe = &report["probes"][0];
    assert_eq!(probe["probe"], "redis:cache");
    assert_eq!(probe["saw_fault"], true, "the master was down for the probe: {probe}");
    let loss = &probe["loss"];
    let acknowledged = loss["acknowledged"].as_u64().expect("a measured loss");
    let lost = loss["lost"].as_u64().unwrap();
    assert!(acknowledged > 10 && lost <= acknowledged, "{loss}");
    assert_eq!(report["lost_writes"].as_u64(), Some(lost));
    assert_eq!(report["rpo"]["measured_ms"], loss["window_ms"]);
    let journal = read_journal(&drill_journals(journals.path())[0]);
    let fault_start = events(&journal, "fault-start")[0]["at_ms"].as_u64().unwrap();
    let first = events(&journal, "probe")[0];
    assert!(
        first["ok"] == true && first["at_ms"].as_u64().unwrap() < fault_start,
        "writes acknowledged before the fault: {first}"
    );
    eprintln!(
        "redis drill: RTO {} ms, {lost} of {acknowledged} acknowledged writes lost, window {} ms, recovery wall {} ms",
        report["rto"]["measured_ms"], loss["window_ms"], report["recovery"]["wall_ms"]
    );
    // The real servers: a new master, and the old one replicating from it.
    let new_master = rt().block_on(lab.redis_master_addr()).unwrap().1;
    assert_ne!(new_master, master, "Sentinel failed over");
    let info = _restore.cli(master, &["INFO", "replication"]);
    assert!(
        info.contains("role:slave"),
        "the old master rejoined as a replica: {info}"
    );
}

/// The lab's replica cut off from its master — the runbook's "Redis
/// replication lag" taken to the end: its `masterauth` is made wrong and
/// its replication link dropped, so it keeps what it had and gets nothing
/// the master acknowledges afterwards. Dropping the guard puts the right
/// password back, in memory and in the node's config file (Sentinel
/// rewrites that file when it promotes the node), so the link comes back.
struct ReplicaCutOff {
    lab: Lab,
    port: u16,
}

impl ReplicaCutOff {
    fn new(lab: &Lab, port: u16) -> ReplicaCutOff {
        let cut = ReplicaCutOff { lab: lab.clone(), port };
        assert_eq!(
            cut.cli(&["CONFIG", "SET", "masterauth", "drhost-test-wrong-password"]),
            "OK"
        );
        cut.cli(&["CLIENT", "KILL", "TYPE", "master"]);
        let link_down = || cut.cli(&["INFO", "replication"]).contains("master_link_status:down");
        let until = Instant::now() + Duration::from_secs(10);
        while !link_down() {
            assert!(
                Instant::now() < until,
                "the replica's link stays up: {}",
                cut.cli(&["INFO", "replication"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Its reconnections are refused: still down a second later.
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            link_down(),
            "the replica reconnected: {}",
            cut.cli(&["INFO", "replication"])
        );
        cut
    }

    fn cli(&self, args: &[&str]) -> String {
        let mut cli = self.lab.redis_cli(self.port).unwrap();
        let out = cli.args(args).output().expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for ReplicaCutOff {
    fn drop(&mut self) {
        let Ok(password) = self.lab.secret_file("REDIS_PASSWORD_FILE") else {
            eprintln!("restore the replica's masterauth: REDIS_PASSWORD_FILE unreadable");
            return;
        };
        for args in [
            vec!["CONFIG", "SET", "masterauth", password.as_str()],
            vec!["CONFIG", "REWRITE"],
        ] {
            let answer = self.cli(&args);
            if answer != "OK" {
                eprintln!(
                    "restore the replica's masterauth: {} answered {answer:?}",
                    args[..2].join(" ")
                );
            }
        }
    }
}

/// The RPO probe catches a real loss: the replica is cut off from the
/// master before the drill starts, so every `INCR` the old master
/// acknowledges is one the replica never had. The fault stops the master,
/// Sentinel promotes the replica anyway (its link has been down for less
/// than Sentinel's limit), and the old master rejoins as its replica,
/// dropping its own data: each of those acknowledged writes is lost, and
/// the drill misses an RPO target of 100 ms.
#[test]
fn a_redis_drill_counts_the_writes_a_cut_off_replica_never_had_as_lost() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = RestoreRedis(lab.clone());
    let (master, replica) = canonical_redis(&lab);
    // The drill's key is on neither node, so the promoted replica counts from 0.
    let key = "drhost:drill:redis-failover";
    _restore.cli(master, &["DEL", key]);
    let until = Instant::now() + Duration::from_secs(5);
    while !_restore.cli(replica, &["EXISTS", key]).ends_with('0') {
        assert!(Instant::now() < until, "the replica still holds {key}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _cut = ReplicaCutOff::new(&lab, replica);
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &redis_drill(&lab, "rpo = \"100ms\"\n")));

    let out = drill(&lab, config.path(), journals.path(), &["redis-failover"]).exec();
    assert_code(&out, EXIT_TARGET_MISSED);
    let report = out.json();
    assert_eq!(report["status"], "missed", "{report:#}");
    assert_eq!(report["recovery"]["exit_code"], 0, "recovered: {report:#}");
    assert_eq!(report["rto"]["met"], true, "only the RPO is missed: {report:#}");
    assert_eq!(report["rpo"]["met"], false);
    let probe = &report["probes"][0];
    assert_eq!(probe["probe"], "redis:cache");
    let loss = &probe["loss"];
    let (acknowledged, lost) = (loss["acknowledged"].as_u64().unwrap(), loss["lost"].as_u64().unwrap());
    let window = loss["window_ms"].as_u64().unwrap();
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("missed RPO ")
            && summary.contains(" > target 0.1 s (")
            && summary.contains(&format!("({lost} acknowledged writes lost)")),
        "{summary}"
    );
    assert_eq!(report["lost_writes"].as_u64(), Some(lost));
    assert_eq!(report["rpo"]["measured_ms"].as_u64(), Some(window));

    // Which writes: every one the old master acknowledged (from the
    // probe's first sample through the fault), none of the new master's.
    let journal = read_journal(&drill_journals(journals.path())[0]);
    let probe_events: Vec<&Value> = events(&journal, "probe")
        .into_iter()
        .filter(|e| e["probe"] == "redis:cache")
        .collect();
    assert_eq!(probe_events[0]["ok"], true, "{probe_events:?}");
    let first_ack = probe_events[0]["at_ms"].as_u64().unwrap();
    let first_failure = probe_events
        .iter()
        .find(|e| e["ok"] == false)
        .expect("the probe failed while the master was down")["at_ms"]
        .as_u64()
        .unwrap();
    let fault_start = events(&journal, "fault-start")[0]["at_ms"].as_u64().unwrap();
    assert!(
        window < first_failure - first_ack && window + 1000 >= fault_start - first_ack,
        "loss window {window} ms against the first write at {first_ack} ms, the fault at {fault_start} ms and the first failed write at {first_failure} ms"
    );
    // The baseline alone is 2 s of writes, one every 200 ms.
    assert!(lost >= 5 && lost < acknowledged, "{loss}");
    eprintln!(
        "cut-off replica drill: {lost} of {acknowledged} acknowledged writes lost over {window} ms, RTO {} ms",
        report["rto"]["measured_ms"]
    );

    // The real servers: the replica was promoted, the old master took its data.
    let new_master = rt().block_on(lab.redis_master_addr()).unwrap().1;
    assert_eq!(new_master, replica, "Sentinel promoted the cut-off replica");
    let info = _restore.cli(master, &["INFO", "replication"]);
    assert!(
        info.contains("role:slave") && info.contains(&format!("master_port:{replica}")),
        "the old master rejoined as the new master's replica: {info}"
    );
}

#[test]
fn the_schedule_shows_last_and_next_run_after_drills_at_different_times() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let nginx = lab.nginx_url().unwrap();
    let hello = plugin_path("hello");
    let cheap = |name: &str, every: &str| {
        format!("[drills.{name}]\nfault = \"{hello}\"\nrecovery = \"{hello}\"\nprobes.http = [\"{nginx}/health\"]\nevery = \"{every}\"\nsustain = \"1s\"\nbaseline = \"500ms\"\n")
    };
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(
        &lab,
        &format!("{}\n{}", cheap("weekly", "7d"), cheap("monthly", "30d")),
    ));
    let at = |when: &str, run: Run| run.env("DRHOST_NOW", when).exec();

    assert_code(
        &at(
            "2026-01-01T00:00:00Z",
            drill(&lab, config.path(), journals.path(), &["weekly"]),
        ),
        0,
    );
    assert_code(
        &at(
            "2026-01-05T00:00:00Z",
            drill(&lab, config.path(), journals.path(), &["monthly"]),
        ),
        0,
    );
    let schedule = |when: &str| {
        let out = at(
            when,
            Run::cli(["schedule"])
                .config(config.path())
                .json()
                .args([OsStr::new("--journal-dir"), journals.path().as_os_str()]),
        );
        assert_code(&out, 0);
        out.json()
    };
    let rows = schedule("2026-01-10T00:00:00Z");
    let row = |rows: &Value, name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["test"] == name)
            .unwrap()
            .clone()
    };
    let weekly = row(&rows, "weekly");
    assert_eq!(weekly["last_run"], "2026-01-01T00:00:00.000Z");
    assert_eq!(weekly["next_run"], "2026-01-08T00:00:00Z");
    assert_eq!(
        (weekly["result"].as_str(), weekly["overdue"].as_bool()),
        (Some("passed"), Some(true))
    );
    let monthly = row(&rows, "monthly");
    assert_eq!(monthly["last_run"], "2026-01-05T00:00:00.000Z");
    assert_eq!(monthly["next_run"], "2026-02-04T00:00:00Z");
    assert_eq!(
        (monthly["due"].as_bool(), monthly["overdue"].as_bool()),
        (Some(false), Some(false))
    );

    // The table marks the overdue one; --due runs it, and only it.
    let table = at(
        "2026-01-10T00:00:00Z",
        Run::cli(["schedule"])
            .config(config.path())
            .args([OsStr::new("--journal-dir"), journals.path().as_os_str()]),
    );
    let weekly_line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("weekly"))
        .unwrap_or_default();
    assert!(weekly_line.contains("OVERDUE"), "{}", table.stdout);
    assert!(!table
        .stdout
        .lines()
        .find(|l| l.starts_with("monthly"))
        .unwrap_or_default()
        .contains("OVERDUE"));
    let due = at(
        "2026-01-10T00:00:00Z",
        drill(&lab, config.path(), journals.path(), &["--due"]),
    );
    assert_code(&due, 0);
    assert_eq!(drill_journals(journals.path()).len(), 3);
    let rows = schedule("2026-01-10T00:00:00Z");
    assert_eq!(row(&rows, "weekly")["last_run"], "2026-01-10T00:00:00.000Z");
    assert_eq!(row(&rows, "weekly")["next_run"], "2026-01-17T00:00:00Z");
    assert_eq!(
        row(&rows, "monthly")["last_run"],
        "2026-01-05T00:00:00.000Z",
        "not due: not run again"
    );
}

#[test]
fn a_postgres_heartbeat_probe_counts_committed_rows_and_leaves_none_behind() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let hello = plugin_path("hello");
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(
            &lab,
            &format!("[drills.heartbeat]\nfault = \"{hello}\"\nrecovery = \"{hello}\"\nprobes.postgres = [\"primary\"]\nsustain = \"1s\"\n"),
        ),
    );
    let out = drill(&lab, config.path(), journals.path(), &["heartbeat"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    let loss = &report["probes"][0]["loss"];
    assert!(loss["acknowledged"].as_u64().unwrap() >= 5, "{report:#}");
    assert_eq!(
        (loss["lost"].as_u64(), report["rpo"]["measured_ms"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(report["rpo"]["met"], true);
    let run = report["run_id"].as_str().unwrap().to_string();
    let left: Option<String> = rt().block_on(async {
        let client = lab.pg_client().await.unwrap();
        client
            .query_one(
                "SELECT coalesce(to_regclass('drhost_drill.heartbeat')::text, to_regnamespace('drhost_drill')::text)",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(left, None, "the probe of run {run} removed its rows and its table");
}

/// `text` unless `base` already has `header` (the lab's config may come to
/// define it itself, once regenerated).
fn unless_defined(base: &str, header: &str, text: &str) -> String {
    if base.contains(header) {
        String::new()
    } else {
        text.to_string()
    }
}

/// The lab's application database, by name.
const APP_DATABASE: &str = "toolboxai";

/// Puts the lab's database back if a database drill left it dropped: runs
/// db-restore from the drill's own backups (`prefix`), then removes the
/// heartbeat probe's schema if a failed drill left it, and the backups.
struct RestoreDatabase {
    lab: Lab,
    prefix: String,
}

impl Drop for RestoreDatabase {
    fn drop(&mut self) {
        let lab = &self.lab;
        let exists = rt().block_on(async {
            let pg = lab.pg_client_for("postgres").await.ok()?;
            let row = pg
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&APP_DATABASE])
                .await
                .ok()?;
            Some(row.is_some())
        });
        if exists == Some(false) {
            eprintln!(
                "restore database: {APP_DATABASE} is gone; db-restore from {}",
                self.prefix
            );
            let out = Run::plugin("db-restore")
                .config(lab.path(".lab/drhost.toml"))
                .param("prefix", &self.prefix)
                .json()
                .yes()
                .exec();
            eprintln!("restore database: db-restore exit {}: {}", out.code, out.stderr);
        }
        rt().block_on(async {
            if let Ok(pg) = lab.pg_client().await {
                let _ = pg.batch_execute("DROP SCHEMA IF EXISTS drhost_drill CASCADE").await;
            }
            // The drill's own backups, under its own prefix.
            if let (Ok(s3), Ok(bucket)) = (lab.s3_client(), lab.s3_bucket()) {
                let listed = s3.list_objects_v2().bucket(bucket).prefix(&self.prefix).send().await;
                for object in listed.map(|l| l.contents.unwrap_or_default()).unwrap_or_default() {
                    if let Some(key) = object.key {
                        let _ = s3.delete_object().bucket(bucket).key(key).send().await;
                    }
                }
            }
        });
    }
}

#[test]
fn a_database_drill_restores_the_dropped_database_and_measures_the_loss_since_the_backup() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    // The drill's backups go under a prefix of their own: db-restore then
    // restores exactly the backup this drill's `before` step took.
    let prefix = format!(
        "supabase/drills/test-{}-{}/",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let _restore_db = RestoreDatabase {
        lab: lab.clone(),
        prefix: prefix.clone(),
    };
    let users_before: i64 = rt().block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0)
    });
    let base = config_with(&lab, "");
    let password = lab.get("PG_PASSWORD_FILE").unwrap();
    let server_url = format!(
        "postgresql://{}@{}:{}/postgres",
        lab.get("PG_USER").unwrap(),
        lab.get("PG_HOST").unwrap(),
        lab.get("PG_PORT").unwrap()
    );
    let nginx = lab.nginx_url().unwrap();
    let extra = format!(
        "{}{}[drills.database-restore]\nbefore = \"{}\"\nbefore_params = {{ prefix = \"{prefix}\" }}\nfault = \"{}\"\nrecovery = \"{}\"\nrecovery_params = {{ prefix = \"{prefix}\" }}\nprobes.postgres = [\"primary\"]\nprobes.http = [\"{nginx}/health\"]\nbaseline = \"4s\"\nrto = \"15m\"\nrpo = \"5m\"\n",
        unless_defined(
            &base,
            "[targets.postgres.primary-server]",
            &format!("[targets.postgres.primary-server]\nurl = \"{server_url}\"\npassword = \"file:{password}\"\n\n"),
        ),
        unless_defined(
            &base,
            "[[plugins.fault-drop-database.postgres]]",
            "[[plugins.fault-drop-database.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n\n[[plugins.fault-drop-database.postgres]]\ntarget = \"primary-server\"\naccess = [\"read\", \"write\"]\n\n",
        ),
        plugin_path("db-backup"),
        plugin_path("fault-drop-database"),
        plugin_path("db-restore"),
    );
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &extra));

    let started = Instant::now();
    let out = drill(&lab, config.path(), journals.path(), &["database-restore"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    assert_eq!(report["before"]["exit_code"], 0, "the backup was taken");
    assert_eq!(report["fault"]["exit_code"], 0);
    assert_eq!(report["recovery"]["exit_code"], 0);

    // The drill's journal: backup, then fault, then recovery, in that order.
    let journal = read_journal(&drill_journals(journals.path())[0]);
    let at = |event: &str| events(&journal, event)[0]["at_ms"].as_u64().unwrap();
    let (backup_start, backup_end) = (at("before-start"), at("before-end"));
    let (fault_start, fault_end) = (at("fault-start"), at("fault-end"));
    assert!(backup_end < fault_start && fault_end <= at("recovery-start"));

    // RPO: the newest surviving heartbeat is the last one in the backup,
    // the lost ones run up to the drop; so the window lies between "backup
    // done → fault started" and "backup started → fault done", give or
    // take the gap between two heartbeats: a tick (200 ms) on an idle
    // machine, measured up to ~1.5 ticks more on a loaded one (the samples
    // are late, never early), so one second.
    let rpo = report["rpo"]["measured_ms"].as_u64().expect("RPO measured");
    let slack = 1000;
    assert!(
        rpo + slack >= fault_start - backup_end && rpo <= fault_end - backup_start + slack,
        "RPO {rpo} ms against backup {backup_start}..{backup_end} ms and fault {fault_start}..{fault_end} ms"
    );
    assert!(rpo > 0 && report["rpo"]["met"] == true);
    let probe = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == "postgres:primary")
        .expect("the heartbeat probe")
        .clone();
    assert_eq!(probe["saw_fault"], true, "{probe}");
    let lost = probe["loss"]["lost"].as_u64().unwrap();
    assert!(lost > 0, "heartbeats after the backup are lost: {probe}");
    assert_eq!(report["lost_writes"].as_u64(), Some(lost));
    assert_eq!(probe["loss"]["window_ms"].as_u64(), Some(rpo));
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    assert!(rto > 0 && report["rto"]["met"] == true, "{report:#}");
    // The journal's verdict holds the same figures as the output.
    let end = events(&journal, "run-end")[0];
    assert_eq!(end["status"], "passed");
    assert_eq!(end["drill"]["rpo"]["measured_ms"].as_u64(), Some(rpo));
    assert_eq!(end["drill"]["rto"]["measured_ms"].as_u64(), Some(rto));
    assert_eq!(end["drill"]["lost_writes"].as_u64(), Some(lost));
    assert!(
        events(&journal, "probe")
            .iter()
            .any(|p| p["probe"] == "postgres:primary"
                && p["ok"] == false
                && p["at_ms"].as_u64().unwrap() >= fault_start),
        "the outage is journaled"
    );
    eprintln!(
        "database drill: RTO {rto} ms, RPO {rpo} ms ({lost} heartbeats lost), backup {backup_start}..{backup_end} ms, fault {fault_start}..{fault_end} ms, recovery wall {} ms, drill {:?}",
        report["recovery"]["wall_ms"],
        started.elapsed()
    );

    check_drill_report(journals.path(), &drill_journals(journals.path())[0]);

    // The plugin runs did what their journals say: the backup went under
    // the drill's prefix, the fault dropped the database, db-restore
    // created it again and restored that backup.
    let plugin_journal = |event: &str| {
        read_journal(Path::new(
            events(&journal, event)[0]["plugin_run"]["journal"].as_str().unwrap(),
        ))
    };
    let calls = |journal: &[Value], call: &str| -> Vec<Value> {
        journal
            .iter()
            .filter(|e| e["event"] == "call" && e["call"] == call)
            .cloned()
            .collect()
    };
    let fault = plugin_journal("fault-end");
    let drops = calls(&fault, "postgres.execute");
    assert_eq!(drops.len(), 1, "{fault:?}");
    assert!(drops[0].to_string().contains("DROP DATABASE"), "{}", drops[0]);
    let recovery = plugin_journal("recovery-end");
    let created = calls(&recovery, "postgres.create-database");
    assert_eq!(created.len(), 1, "{recovery:?}");
    assert_eq!(
        created[0]["outcome"]["ok"]["created"], true,
        "the database was gone: {}",
        created[0]
    );
    let backup_key = events(&plugin_journal("before-end"), "run-end")[0]["facts"]
        .as_array()
        .and_then(|facts| facts.iter().find(|f| f["name"] == "key"))
        .and_then(|f| f["value"].as_str())
        .map(str::to_string)
        .unwrap_or_default();
    let restored = events(&recovery, "run-end")[0].to_string();
    assert!(
        backup_key.starts_with(&prefix) && restored.contains(&backup_key),
        "db-restore restored {backup_key}: {restored}"
    );

    // The real database is back with the application's rows, the probe's
    // schema is gone, and the backends answer.
    rt().block_on(async {
        let pg = lab.pg_client().await.unwrap();
        let users: i64 = pg.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0);
        assert_eq!(users, users_before);
        let left: Option<String> = pg
            .query_one("SELECT to_regnamespace('drhost_drill')::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, None, "the heartbeat schema is removed");
    });
    for url in lab.backend_urls().unwrap() {
        assert_eq!(rt().block_on(health(&lab, &url)), 200, "{url}");
    }
}

#[test]
fn a_network_drill_removes_the_backend_network_and_network_recover_brings_it_back() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let base = config_with(&lab, "");
    let nginx = lab.nginx_url().unwrap();
    let probes: Vec<String> = std::iter::once(format!("{nginx}/health"))
        .chain(lab.backend_urls().unwrap().iter().map(|u| format!("{u}/health")))
        .map(|u| format!("\"{u}\""))
        .collect();
    let extra = format!(
        "{}[drills.network-partition]\nfault = \"{}\"\nfault_params = {{ network = \"toolboxai_backend\" }}\nrecovery = \"{}\"\nprobes.http = [{}]\n",
        unless_defined(
            &base,
            "[[plugins.fault-remove-network.docker]]",
            "[[plugins.fault-remove-network.docker]]\ncontainers = [\"toolboxai-*\"]\nnetworks = [\"toolboxai_*\"]\naccess = [\"read\", \"write\"]\n\n",
        ),
        plugin_path("fault-remove-network"),
        plugin_path("network-recover"),
        probes.join(", "),
    );
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &extra));

    let out = drill(&lab, config.path(), journals.path(), &["network-partition"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    assert_eq!(report["fault"]["exit_code"], 0);
    assert_eq!(report["recovery"]["exit_code"], 0);
    let saw: Vec<&Value> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["saw_fault"] == true)
        .collect();
    assert!(!saw.is_empty(), "a probe saw the partition: {report:#}");
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    assert!(rto > 0 && report["rto"]["met"] == true, "{report:#}");
    eprintln!(
        "network drill: RTO {rto} ms, recovery wall {} ms, probes that saw it: {:?}",
        report["recovery"]["wall_ms"],
        saw.iter()
            .map(|p| p["probe"].as_str().unwrap_or("?"))
            .collect::<Vec<_>>()
    );

    let file = drill_journals(journals.path())[0].clone();
    let journal = read_journal(&file);
    let plugin_journal = |event: &str| {
        read_journal(Path::new(
            events(&journal, event)[0]["plugin_run"]["journal"].as_str().unwrap(),
        ))
    };
    let calls = |journal: &[Value], call: &str| -> usize {
        journal
            .iter()
            .filter(|e| e["event"] == "call" && e["call"] == call && e["outcome"]["error"].is_null())
            .count()
    };
    assert_eq!(calls(&plugin_journal("fault-end"), "docker.remove-network"), 1);
    assert!(calls(&plugin_journal("recovery-end"), "docker.create-network") >= 1);
    check_drill_report(journals.path(), &file);

    // The real network is back, with the backends and the proxy on it.
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        let net = docker
            .inspect_network(
                "toolboxai_backend",
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .expect("toolboxai_backend exists again");
        let members: Vec<String> = net
            .containers
            .unwrap_or_default()
            .values()
            .filter_map(|c| c.name.clone())
            .collect();
        for member in [
            "toolboxai-backend1",
            "toolboxai-backend2",
            "toolboxai-backend3",
            "toolboxai-nginx-proxy",
        ] {
            assert!(
                members.iter().any(|m| m == member),
                "{member} on toolboxai_backend: {members:?}"
            );
        }
    });
    for url in lab
        .backend_urls()
        .unwrap()
        .iter()
        .chain([lab.nginx_url().unwrap().to_string()].iter())
    {
        assert_eq!(rt().block_on(health(&lab, url)), 200, "{url}");
    }
}

/// `drhost report DRILL` of the drill journal `file` (under `journals`):
/// its figures are the journal's own (RTO, RPO, lost writes, the fault's
/// time, the recovery's wall time), it has one health band per journaled
/// probe change, and its HTML page, rendered by headless Chromium, draws
/// those bands, the fault and the recovery on the timeline.
fn check_drill_report(journals: &Path, file: &Path) {
    use drhost::history::human_duration;
    let journal = read_journal(file);
    let end = events(&journal, "run-end")[0];
    let drill = &end["drill"];
    let run_id = end["run"].as_str().unwrap().to_string();
    let report = |args: &[&str]| {
        let mut argv = vec!["report", run_id.as_str()];
        argv.extend_from_slice(args);
        let out = Run::cli(argv)
            .args([OsStr::new("--journal-dir"), journals.as_os_str()])
            .exec();
        assert_code(&out, 0);
        out
    };
    let r: Value = serde_json::from_str(&report(&["--json"]).stdout).unwrap();
    assert_eq!(
        (r["kind"].as_str(), r["status"].as_str()),
        (Some("drill"), end["status"].as_str())
    );
    for key in ["rto", "rpo"] {
        for field in ["measured_ms", "target_ms"] {
            assert_eq!(
                r[key][field].as_f64(),
                drill[key][field].as_f64(),
                "{key}.{field}: {r:#}"
            );
        }
        assert_eq!(r[key]["met"], drill[key]["met"], "{key}");
    }
    assert_eq!(r["lost_writes"], drill["lost_writes"]);
    assert_eq!(
        r["fault_ms"].as_f64(),
        events(&journal, "fault-start")[0]["at_ms"].as_f64()
    );
    let recovery = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["role"] == "recovery")
        .expect("the recovery run");
    assert_eq!(recovery["wall_ms"].as_f64(), drill["recovery"]["wall_ms"].as_f64());
    assert_eq!(recovery["run_id"], drill["recovery"]["run_id"]);
    let mut changes_total = 0;
    for probe in drill["probes"].as_array().unwrap() {
        let name = probe["probe"].as_str().unwrap();
        let changes: Vec<&Value> = events(&journal, "probe")
            .into_iter()
            .filter(|p| p["probe"] == name)
            .collect();
        let track = r["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["probe"] == name)
            .unwrap_or_else(|| panic!("{name} in the report: {r:#}"));
        let bands = track["bands"].as_array().unwrap();
        assert_eq!(bands.len(), changes.len(), "{name}: one band per health change");
        for (band, change) in bands.iter().zip(&changes) {
            assert_eq!(band["from_ms"].as_f64(), change["at_ms"].as_f64());
            assert_eq!(band["ok"], change["ok"]);
        }
        assert_eq!(track["healthy_after_ms"].as_f64(), probe["healthy_after_ms"].as_f64());
        assert_eq!(track["window_ms"].as_f64(), probe["loss"]["window_ms"].as_f64());
        changes_total += changes.len();
    }

    let rto = drill["rto"]["measured_ms"].as_f64().unwrap();
    let markdown = report(&[]).stdout;
    assert!(
        markdown.starts_with("# Drill report: ") && markdown.contains(&human_duration(rto)),
        "{markdown}"
    );
    let page = journals.join("drill-report.html");
    report(&["--html", "--out", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["https://", "<link", "<script", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    let dom = drhost_tests::chromium::dom(journals, &html);
    assert!(dom.contains("<svg class=\"timeline drill\""), "{dom}");
    let (healthy, failing) = (
        dom.matches("<rect class=\"band healthy\"").count(),
        dom.matches("<rect class=\"band failing\"").count(),
    );
    assert_eq!(healthy + failing, changes_total, "{dom}");
    assert!(failing >= 1, "the fault shows as a failing band");
    for marker in [
        "marker fault",
        "marker recovery",
        "marker recovered",
        "run fault",
        "run recovery",
    ] {
        assert!(dom.contains(&format!("class=\"{marker}\"")), "{marker}: {dom}");
    }
    assert!(dom.contains(&human_duration(rto)));
    if drill["rpo"]["measured_ms"].as_f64().unwrap_or(0.0) > 0.0 {
        assert!(dom.contains("<rect class=\"loss\""), "the data-loss window: {dom}");
        assert!(dom.contains(&human_duration(drill["rpo"]["measured_ms"].as_f64().unwrap())));
    }
}

/// Every table of the public schema of database `db` with its row count and
/// a digest of its rows, and the database's oid (a dropped and recreated
/// database has another): what "untouched" means for the live database.
async fn snapshot(lab: &Lab, db: &str) -> (u32, Vec<(String, i64, String)>) {
    let pg = lab.pg_client_for(db).await.unwrap();
    let oid: u32 = pg
        .query_one("SELECT oid FROM pg_database WHERE datname = current_database()", &[])
        .await
        .unwrap()
        .get(0);
    let tables: Vec<String> = pg
        .query(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for table in tables {
        let row = pg
            .query_one(
                &format!("SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM public.{table} t"),
                &[],
            )
            .await
            .unwrap();
        out.push((table, row.get(0), row.get(1)));
    }
    (oid, out)
}

/// Drops the scratch database a backup-restore drill restored into.
struct DropDatabase(Lab, String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (lab, name) = (&self.0, &self.1);
        rt().block_on(async {
            if let Ok(pg) = lab.pg_client_for("postgres").await {
                let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name.replace('"', "\"\""));
                if let Err(e) = pg.batch_execute(&sql).await {
                    eprintln!("drop database {name}: {e}");
                }
            }
        });
    }
}

/// A prefix in the backup bucket of this test's own.
fn own_prefix(what: &str) -> String {
    format!(
        "supabase/drills/{what}-{}-{}/",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    )
}

/// The grants and the scratch target backup-verify needs, unless the lab's
/// config (lab/drhost-toml.sh) already has them.
fn backup_verify_config(lab: &Lab, base: &str) -> String {
    let password = lab.get("PG_PASSWORD_FILE").unwrap();
    let scratch_url = format!(
        "postgresql://{}@{}:{}/{}_scratch",
        lab.get("PG_USER").unwrap(),
        lab.get("PG_HOST").unwrap(),
        lab.get("PG_PORT").unwrap(),
        APP_DATABASE
    );
    format!(
        "{}{}",
        unless_defined(
            base,
            "[targets.postgres.scratch]",
            &format!("[targets.postgres.scratch]\nurl = \"{scratch_url}\"\npassword = \"file:{password}\"\n\n"),
        ),
        unless_defined(
            base,
            "[[plugins.backup-verify.postgres]]",
            "[[plugins.backup-verify.s3]]\ntarget = \"backups\"\nprefixes = [\"supabase/*\"]\naccess = [\"read\"]\n\n\
             [[plugins.backup-verify.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n\n\
             [[plugins.backup-verify.postgres]]\ntarget = \"scratch\"\naccess = [\"read\", \"restore\", \"admin\"]\n\n",
        ),
    )
}

#[test]
fn a_backup_restore_drill_restores_into_a_scratch_database_and_leaves_the_live_one_untouched() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let prefix = own_prefix("backup-restore");
    let _restore_db = RestoreDatabase {
        lab: lab.clone(),
        prefix: prefix.clone(),
    };
    let _scratch = DropDatabase(lab.clone(), format!("{APP_DATABASE}_scratch"));
    let live_before = rt().block_on(snapshot(&lab, APP_DATABASE));
    assert!(
        live_before.1.iter().any(|(t, n, _)| t == "users" && *n > 0),
        "the lab's database has users: {live_before:?}"
    );
    let base = config_with(&lab, "");
    let nginx = lab.nginx_url().unwrap();
    let extra = format!(
        "{}[drills.backup-restore]\nbefore = \"{}\"\nbefore_params = {{ prefix = \"{prefix}\" }}\nrecovery = \"{}\"\nrecovery_params = {{ prefix = \"{prefix}\" }}\nprobes.postgres = [\"primary\"]\nprobes.http = [\"{nginx}/health\"]\nrto = \"15m\"\n",
        backup_verify_config(&lab, &base),
        plugin_path("db-backup"),
        plugin_path("backup-verify"),
    );
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &extra));

    let out = drill(&lab, config.path(), journals.path(), &["backup-restore"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    assert!(report["fault"].is_null(), "no fault: {report:#}");
    assert_eq!(report["before"]["exit_code"], 0, "the backup was taken");
    assert_eq!(report["recovery"]["exit_code"], 0, "{report:#}");
    // RTO without a fault: the restore's time, as the host timed it.
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    let wall = report["recovery"]["wall_ms"].as_u64().unwrap();
    assert!(
        rto >= wall && report["rto"]["met"] == true,
        "RTO {rto} ms, restore {wall} ms"
    );
    assert_eq!(
        report["rpo"]["measured_ms"].as_u64(),
        Some(0),
        "no heartbeat lost: {report:#}"
    );
    assert!(
        report["notes"].to_string().contains("no fault"),
        "how it is judged is said: {report:#}"
    );
    for probe in report["probes"].as_array().unwrap() {
        assert_eq!(probe["saw_fault"], false, "the live service never failed: {probe}");
    }
    eprintln!(
        "backup-restore drill: RTO {rto} ms (restore run {wall} ms), RPO {} ms",
        report["rpo"]["measured_ms"]
    );

    // The drill journal has no fault, the recovery restored this drill's
    // backup into the scratch database.
    let file = drill_journals(journals.path())[0].clone();
    let journal = read_journal(&file);
    assert!(events(&journal, "fault-start").is_empty());
    let recovery = read_journal(Path::new(
        events(&journal, "recovery-end")[0]["plugin_run"]["journal"]
            .as_str()
            .unwrap(),
    ));
    let end = events(&recovery, "run-end")[0];
    let fact = |name: &str| {
        end["facts"]
            .as_array()
            .and_then(|facts| facts.iter().find(|f| f["name"] == name))
            .and_then(|f| f["value"].as_str())
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(fact("backup").starts_with(&prefix), "{end}");
    let scratch = fact("scratch-database");
    assert_eq!(scratch, format!("{APP_DATABASE}_scratch"));

    // The real scratch database holds every table of the source, row for
    // row; the live database is the same database with the same rows.
    let restored = rt().block_on(snapshot(&lab, &scratch));
    assert_ne!(restored.0, live_before.0, "another database");
    assert_eq!(
        restored.1, live_before.1,
        "the scratch database holds the source's rows"
    );
    for (table, rows, _) in &live_before.1 {
        assert_eq!(fact(&format!("rows-{table}")), rows.to_string(), "{table}");
    }
    let live_after = rt().block_on(snapshot(&lab, APP_DATABASE));
    assert_eq!(live_after, live_before, "the live database is untouched");

    // `drhost report latest` is this drill (its plugin runs, which started
    // after it, count as the drill), and `drhost show latest` still a run.
    let latest = Run::cli(["report", "latest", "--json"])
        .args([OsStr::new("--journal-dir"), journals.path().as_os_str()])
        .exec();
    assert_code(&latest, 0);
    let latest: Value = serde_json::from_str(&latest.stdout).unwrap();
    assert_eq!(
        (latest["kind"].as_str(), latest["run_id"].as_str()),
        (Some("drill"), report["run_id"].as_str()),
        "{latest:#}"
    );
    assert_eq!(latest["rto"]["measured_ms"].as_f64(), Some(rto as f64));
    let markdown = Run::cli(["report", "latest"])
        .args([OsStr::new("--journal-dir"), journals.path().as_os_str()])
        .exec();
    assert_code(&markdown, 0);
    assert!(markdown.stdout.starts_with("# Drill report: "), "{}", markdown.stdout);
}

#[test]
fn a_backup_verify_whose_scratch_target_is_the_live_database_is_refused_before_any_restore() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let live_before = rt().block_on(snapshot(&lab, APP_DATABASE));
    let pg_url = lab.pg_url().unwrap();
    let password = lab.get("PG_PASSWORD_FILE").unwrap();
    // The lab's config, with `scratch` pointing at the live database.
    let base = config_with(&lab, "");
    let grants = backup_verify_config(&lab, &base);
    let text = format!("{base}\n{grants}");
    let start = text.find("[targets.postgres.scratch]").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    let text = format!(
        "{}[targets.postgres.scratch]\nurl = \"{pg_url}\"\npassword = \"file:{password}\"{}",
        &text[..start],
        &text[end..]
    );
    let config = config_file(&text);
    let out = Run::plugin("backup-verify").config(config.path()).json().yes().exec();
    assert_code(&out, 1);
    let report = out.json();
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("would overwrite the live database"), "{summary}");
    assert!(calls(&out.journal(), "postgres.restore").is_empty());
    assert!(calls(&out.journal(), "postgres.create-database").is_empty());
    assert_eq!(rt().block_on(snapshot(&lab, APP_DATABASE)), live_before);
}

fn calls(journal: &[Value], call: &str) -> Vec<Value> {
    journal
        .iter()
        .filter(|e| e["event"] == "call" && e["call"] == call)
        .cloned()
        .collect()
}

/// Lets the lab's database accept connections again and takes the proxy
/// out of maintenance mode (db-outage switches it back once the database
/// answers), whatever a database-outage drill left.
struct DatabaseBack(Lab);

impl Drop for DatabaseBack {
    fn drop(&mut self) {
        let lab = &self.0;
        rt().block_on(async {
            if let Ok(pg) = lab.pg_client_for("postgres").await {
                let _ = pg
                    .batch_execute(&format!(
                        "ALTER DATABASE \"{APP_DATABASE}\" WITH ALLOW_CONNECTIONS true"
                    ))
                    .await;
            }
        });
        let out = Run::plugin("db-outage")
            .config(lab.path(".lab/drhost.toml"))
            .params(&[("interval", "500ms"), ("wait", "30s")])
            .json()
            .yes()
            .exec();
        if out.code != 0 {
            eprintln!("database back: db-outage exit {}: {}", out.code, out.stderr);
        }
        rt().block_on(async {
            if let Ok(pg) = lab.pg_client().await {
                let _ = pg.batch_execute("DROP SCHEMA IF EXISTS drhost_drill CASCADE").await;
            }
        });
    }
}

#[test]
fn a_database_outage_drill_serves_the_maintenance_page_while_the_database_is_down() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _back = DatabaseBack(lab.clone());
    let nginx = lab.nginx_url().unwrap();
    let base = config_with(&lab, "");
    let outage_s = 12;
    let extra = format!(
        "{}[drills.database-outage]\nfault = \"{}\"\nfault_params = {{ duration = \"{outage_s}s\" }}\nrecovery = \"{}\"\nrecovery_params = {{ interval = \"500ms\", wait = \"2m\" }}\nrecovery_after = \"2s\"\nprobes.http = [\"{nginx}/health\"]\nprobes.postgres = [\"primary\"]\nrto = \"15m\"\nrpo = \"5m\"\n",
        unless_defined(
            &base,
            "[[plugins.fault-database-outage.postgres]]",
            "[[plugins.fault-database-outage.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n\n[[plugins.fault-database-outage.postgres]]\ntarget = \"primary-server\"\naccess = [\"read\", \"write\"]\n\n",
        ),
        plugin_path("fault-database-outage"),
        plugin_path("db-outage"),
    );
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &extra));

    let out = drill(&lab, config.path(), journals.path(), &["database-outage"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    assert_eq!(report["fault"]["exit_code"], 0, "{report:#}");
    assert_eq!(report["recovery"]["exit_code"], 0, "{report:#}");

    // The recovery ran during the outage: it started 2 s into the fault,
    // before the fault plugin ended (the database came back by itself).
    let file = drill_journals(journals.path())[0].clone();
    let journal = read_journal(&file);
    let at = |event: &str| events(&journal, event)[0]["at_ms"].as_u64().unwrap();
    let (fault_start, fault_end, recovery_start) = (at("fault-start"), at("fault-end"), at("recovery-start"));
    assert!(
        recovery_start >= fault_start + 2000 && recovery_start < fault_end,
        "fault {fault_start}..{fault_end} ms, recovery from {recovery_start} ms"
    );
    // Both probes saw the outage; RTO spans it; nothing acknowledged was lost.
    for probe in report["probes"].as_array().unwrap() {
        assert_eq!(probe["saw_fault"], true, "{probe}");
    }
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    assert!(
        rto >= outage_s * 1000 - 1000 && report["rto"]["met"] == true,
        "RTO {rto} ms"
    );
    assert_eq!(report["lost_writes"].as_u64(), Some(0), "{report:#}");
    assert_eq!(report["rpo"]["measured_ms"].as_u64(), Some(0));
    eprintln!(
        "database-outage drill: RTO {rto} ms, RPO {} ms, outage {} ms, db-outage wall {} ms",
        report["rpo"]["measured_ms"],
        fault_end - fault_start,
        report["recovery"]["wall_ms"]
    );

    // db-outage switched the proxy to the maintenance site and back, and
    // reported it did.
    let recovery = read_journal(Path::new(
        events(&journal, "recovery-end")[0]["plugin_run"]["journal"]
            .as_str()
            .unwrap(),
    ));
    let execs: Vec<String> = calls(&recovery, "docker.exec")
        .iter()
        .map(|c| c["args"]["argv"].to_string())
        .collect();
    assert!(
        execs.first().is_some_and(|e| e.contains("maintenance.conf"))
            && execs.iter().any(|e| e.contains("toolboxai.conf.backup")),
        "{execs:?}"
    );
    let end = events(&recovery, "run-end")[0].to_string();
    assert!(end.contains("\"maintenance\"") && end.contains("\"done\""), "{end}");
    let fault = read_journal(Path::new(
        events(&journal, "fault-end")[0]["plugin_run"]["journal"]
            .as_str()
            .unwrap(),
    ));
    let alters: Vec<String> = calls(&fault, "postgres.execute")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(
        alters.len() == 2
            && alters[0].contains("ALLOW_CONNECTIONS false")
            && alters[1].contains("ALLOW_CONNECTIONS true"),
        "{alters:?}"
    );
    check_drill_report(journals.path(), &file);

    // The real services: the database accepts connections, the proxy serves the site.
    let allowed: bool = rt().block_on(async {
        let pg = lab.pg_client_for("postgres").await.unwrap();
        pg.query_one(
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            &[&APP_DATABASE],
        )
        .await
        .unwrap()
        .get(0)
    });
    assert!(allowed);
    assert_eq!(rt().block_on(health(&lab, nginx)), 200);
}

#[test]
fn the_redis_probe_asks_a_password_protected_sentinel_with_the_targets_sentinel_password() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _restore = RestoreRedis(lab.clone());
    let master = lab.port("REDIS_MASTER_PORT").unwrap();
    let replica = lab.port("REDIS_REPLICA_PORT").unwrap();
    let password = lab.secret_file("SENTINEL_PASSWORD_FILE").unwrap();
    let sentinels = lab
        .sentinel_ports()
        .unwrap()
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let hello = plugin_path("hello");
    // The lab's own Sentinels require their password (the data nodes theirs).
    let target = |with_password: bool| {
        let auth = lab.redis_auth_toml_with("REDIS_PASSWORD_FILE", with_password).unwrap();
        format!(
            "[targets.redis.guarded]\nurl = \"rediss://127.0.0.1:{master}\"\n{auth}sentinels = [{sentinels}]\nmaster_name = \"{}\"\nnodes = [\"127.0.0.1:{master}\", \"127.0.0.1:{replica}\"]\ntimeout = \"1s\"\n\n\
             [drills.guarded]\nfault = \"{hello}\"\nrecovery = \"{hello}\"\nprobes.redis = [\"guarded\"]\nsustain = \"1s\"\nbaseline = \"500ms\"\n",
            lab.redis_master_name().unwrap(),
        )
    };

    // With the password: the probe finds the master through the Sentinel
    // and its writes are acknowledged and read back.
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &target(true)));
    let out = drill(&lab, config.path(), journals.path(), &["guarded"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    let loss = &report["probes"][0]["loss"];
    assert!(loss["acknowledged"].as_u64().unwrap() >= 3, "{report:#}");
    assert_eq!(loss["lost"].as_u64(), Some(0));
    let written = _restore.cli(master, &["EXISTS", "drhost:drill:guarded"]);
    assert_eq!(written, "0", "the probe's key is removed after the read-back");

    // Without it: the Sentinel refuses, and the drill says which line to add.
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &target(false)));
    let out = drill(&lab, config.path(), journals.path(), &["guarded"]).exec();
    assert_code(&out, 2);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("NOAUTH") || said.contains("Authentication required"),
        "{said}"
    );
    assert!(
        said.contains("sentinel_password") && said.contains("[targets.redis.guarded]"),
        "{said}"
    );
    assert!(!said.contains(&password));
}

#[test]
fn a_drill_posts_its_verdict_to_the_run_notify_channel() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let hook = drhost_tests::webhook::Webhook::ok();
    let path = format!("/services/T0/B0/{}", drhost_tests::util::unique("tok"));
    let nginx = lab.nginx_url().unwrap();
    let hello = plugin_path("hello");
    let extra = format!(
        "[targets.notify.ops]\nurl = \"env:DRHOST_TEST_DRILL_HOOK\"\nformat = \"json\"\n\n\
         [run.notify]\ntarget = \"ops\"\nevents = [\"drill\"]\n\n\
         [drills.notified]\ndescription = \"runbook 4: a cheap drill whose verdict is posted\"\nfault = \"{hello}\"\nrecovery = \"{hello}\"\nprobes.http = [\"{nginx}/health\"]\nsustain = \"1s\"\nbaseline = \"500ms\"\nrto = \"15m\"\n"
    );
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&config_with(&lab, &extra));
    let out = drill(&lab, config.path(), journals.path(), &["notified"])
        .env("DRHOST_TEST_DRILL_HOOK", hook.url(&path))
        .exec();
    assert_code(&out, 0);
    let report = out.json();

    // One post, the verdict: not the plugin runs' start and end (events = ["drill"]).
    let posts = hook.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, path);
    let body = posts[0].json();
    assert_eq!(body["title"], "drhost drill notified: passed", "{body:#}");
    assert_eq!(body["severity"], "resolved");
    assert_eq!(body["run_id"], report["run_id"]);
    let text = body["text"].as_str().unwrap();
    let rto = drhost::history::human_duration(report["rto"]["measured_ms"].as_f64().unwrap());
    for part in [
        "Scenario: runbook 4: a cheap drill whose verdict is posted",
        &format!("RTO {rto} (target 15m 00s): met"),
        "RPO not measured",
        &format!("Report: drhost report {}", report["run_id"].as_str().unwrap()),
    ] {
        assert!(text.contains(part), "`{part}` in {text}");
    }

    // Journaled in the drill's journal, before its run-end.
    let journal = read_journal(&drill_journals(journals.path())[0]);
    let notices = events(&journal, "host-notice");
    assert_eq!(notices.len(), 1, "{journal:?}");
    assert_eq!(
        (notices[0]["notice"].as_str(), notices[0]["status"].as_u64()),
        (Some("drill"), Some(200))
    );
    assert_eq!(journal.last().unwrap()["event"], "run-end");
    assert!(
        !out.stderr.contains(&path)
            && !read_journal(&drill_journals(journals.path())[0])
                .iter()
                .any(|e| e.to_string().contains(&path))
    );
}

/// Removes the Docker secret a complete-loss drill recreated.
struct RemoveDockerSecret<'a>(&'a drhost_tests::phase2::Phase2);

impl Drop for RemoveDockerSecret<'_> {
    fn drop(&mut self) {
        self.0.remove_docker_secret(drhost_tests::phase2::DOCKER_SECRET);
    }
}

/// A scenario-3 stack of the test's own, up, Vault initialised and holding
/// `value` at the known secret, the Docker secret made from the root token
/// (as the runbook's step 4 does); each certificate file's bytes.
fn complete_loss_stack(value: &str) -> (drhost_tests::phase2::Phase2, Vec<(String, Vec<u8>)>) {
    use drhost_tests::phase2::{Phase2, DOCKER_SECRET, KNOWN_SECRET};
    let stack = Phase2::create();
    stack.up();
    stack.init_vault();
    stack.write_secret(KNOWN_SECRET, serde_json::json!({ "database_url": value }));
    stack.create_docker_secret(DOCKER_SECRET, &stack.root_token());
    // Healthy before the drill: its baseline wants the proxy answering.
    let proxy = format!("http://127.0.0.1:{}", stack.proxy_port);
    let until = Instant::now() + Duration::from_secs(60);
    while rt().block_on(health(&stack.lab, &proxy)) != 200 {
        assert!(
            Instant::now() < until,
            "the stack's proxy never answered {proxy}/health"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut certificates: Vec<(String, Vec<u8>)> = std::fs::read_dir(stack.certificates())
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    certificates.sort();
    assert_eq!(certificates.len(), 3, "{certificates:?}");
    (stack, certificates)
}

/// The scenario-3 drill `name` on `stack`: infra-backup before,
/// fault-complete-loss, infra-restore (their parameters for this stack are
/// in the config), the proxy's /health probed, RTO target `rto`; in a
/// drhost.toml of the stack's own (targets, grants), not the lab's.
fn complete_loss_config(stack: &drhost_tests::phase2::Phase2, name: &str, rto: &str) -> String {
    format!(
        "[run]\ntimeout = \"10m\"\n\n{}\n{}\n[drills.{name}]\ndescription = \"runbook scenario 3: complete infrastructure loss\"\nbefore = \"{}\"\nfault = \"{}\"\nrecovery = \"{}\"\nprobes.http = [\"{}\"]\nrto = \"{rto}\"\n",
        stack.config_toml(&[]),
        stack.fault_grants(&[]),
        plugin_path("infra-backup"),
        plugin_path("fault-complete-loss"),
        plugin_path("infra-restore"),
        stack.health_url(),
    )
}

/// What each journaled call named `call` that succeeded returned (its `ok`).
fn succeeded(journal: &[Value], call: &str) -> Vec<Value> {
    calls(journal, call)
        .iter()
        .filter_map(|c| c["outcome"].get("ok").cloned())
        .collect()
}

#[test]
fn a_complete_loss_drill_destroys_the_stack_and_infra_restore_brings_it_back() {
    use drhost_tests::phase2::{DOCKER_SECRET, KNOWN_SECRET};
    let _serial = drhost_tests::lab::serial();
    let value = drhost_tests::util::unique("postgresql://app:s3cr3t");
    let (stack, certificates) = complete_loss_stack(&value);
    let _secret = RemoveDockerSecret(&stack);
    let (token, key) = (stack.root_token(), stack.unseal_key());
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&complete_loss_config(&stack, "complete-loss", "15m"));

    let started = Instant::now();
    let out = drill(&stack.lab, config.path(), journals.path(), &["complete-loss"]).exec();
    let drill_wall = started.elapsed();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    for role in ["before", "fault", "recovery"] {
        assert_eq!(report[role]["exit_code"], 0, "{role}: {report:#}");
    }

    // The drill's journal: backup, then the loss, then the recovery.
    let file = drill_journals(journals.path())[0].clone();
    let journal = read_journal(&file);
    let at = |event: &str| events(&journal, event)[0]["at_ms"].as_u64().unwrap();
    let order = [
        "before-start",
        "before-end",
        "fault-start",
        "fault-end",
        "recovery-start",
        "recovery-end",
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) <= at(pair[1]), "{} before {}", pair[0], pair[1]);
    }
    let (fault_start, recovery_end) = (at("fault-start"), at("recovery-end"));

    // The proxy probe saw the loss, and the RTO lies inside the drill.
    let probe_name = format!("http:{}", stack.health_url());
    let probe = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == probe_name.as_str())
        .expect("the proxy probe")
        .clone();
    assert_eq!(probe["saw_fault"], true, "{probe}");
    assert!(probe["failed"].as_u64().unwrap() > 0, "{probe}");
    assert!(
        events(&journal, "probe")
            .iter()
            .any(|p| p["ok"] == false && p["at_ms"].as_u64().unwrap() >= fault_start),
        "the outage is journaled"
    );
    let rto = report["rto"]["measured_ms"].as_u64().expect("RTO measured");
    assert!(
        rto > 0 && rto <= recovery_end - fault_start,
        "RTO {rto} ms within fault start {fault_start} → recovery end {recovery_end} ms"
    );
    assert_eq!(report["rto"]["met"], true);
    assert_eq!(
        events(&journal, "run-end")[0]["drill"]["rto"]["measured_ms"].as_u64(),
        Some(rto)
    );

    // Each plugin run did what its journal says.
    let plugin_journal = |event: &str| {
        read_journal(Path::new(
            events(&journal, event)[0]["plugin_run"]["journal"].as_str().unwrap(),
        ))
    };
    let fault = plugin_journal("fault-end");
    let removed =
        |call: &str| -> Vec<Value> { succeeded(&fault, call).iter().map(|ok| ok["removed"].clone()).collect() };
    assert_eq!(succeeded(&fault, "compose.down").len(), 1, "{fault:?}");
    assert_eq!(calls(&fault, "compose.down")[0]["args"]["volumes"], true);
    assert_eq!(
        removed("files.remove"),
        vec![Value::Bool(true); 3],
        "three certificate files"
    );
    assert_eq!(
        removed("docker.remove-secret"),
        [Value::Bool(true)],
        "the Docker secret"
    );
    let backup = plugin_journal("before-end");
    assert_eq!(succeeded(&backup, "vault.snapshot-save").len(), 1);
    let recovery = plugin_journal("recovery-end");
    assert_eq!(succeeded(&recovery, "docker.create-secret").len(), 1, "{recovery:?}");
    assert_eq!(succeeded(&recovery, "vault.snapshot-restore").len(), 1, "{recovery:?}");
    let recovery_end_event = events(&recovery, "run-end")[0].clone();
    let fact = |name: &str| {
        recovery_end_event["facts"]
            .as_array()
            .and_then(|facts| facts.iter().find(|f| f["name"] == name))
            .and_then(|f| f["value"].as_str())
            .map(str::to_string)
    };
    assert_eq!(fact("vault-restored").as_deref(), Some("true"), "{recovery_end_event}");
    assert_eq!(fact("docker-secret-created").as_deref(), Some("true"));
    let phases: Vec<String> = drhost_tests::phase2::PHASES
        .iter()
        .map(|p| format!("{p} {} ms", fact(&format!("phase-{p}-ms")).unwrap_or_default()))
        .collect();
    eprintln!(
        "complete-loss drill: RTO {rto} ms; before (infra-backup) wall {} ms, fault wall {} ms, recovery wall {} ms ({}); drill {drill_wall:?}",
        report["before"]["wall_ms"],
        report["fault"]["wall_ms"],
        report["recovery"]["wall_ms"],
        phases.join(", ")
    );
    check_drill_report(journals.path(), &file);

    // The real stack is back: every container runs, the proxy answers,
    // the secret written before the loss reads back from the restored
    // Vault, the Docker secret exists, the certificates are the same bytes.
    let containers = stack.containers();
    assert_eq!(containers.len(), drhost_tests::phase2::SERVICES.len(), "{containers:?}");
    assert!(containers.values().all(|c| c.state == "running"), "{containers:?}");
    let proxy = format!("http://127.0.0.1:{}", stack.proxy_port);
    assert_eq!(rt().block_on(health(&stack.lab, &proxy)), 200);
    stack.assert_redis_serves();
    let fields = stack.read_secret(KNOWN_SECRET).expect("the known secret reads back");
    assert_eq!(fields["database_url"], value.as_str());
    assert!(stack.docker_secret_exists(DOCKER_SECRET));
    let restored: Vec<(String, Vec<u8>)> = certificates
        .iter()
        .map(|(name, _)| {
            (
                name.clone(),
                std::fs::read(stack.certificates().join(name)).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(restored, certificates, "the certificates are back byte for byte");

    // No secret value in what the drill printed or journaled.
    let mut texts = vec![
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
        ("drill journal", std::fs::read_to_string(&file).unwrap()),
    ];
    for event in ["before-end", "fault-end", "recovery-end"] {
        let path = events(&journal, event)[0]["plugin_run"]["journal"]
            .as_str()
            .unwrap()
            .to_string();
        texts.push((event, std::fs::read_to_string(path).unwrap()));
    }
    for (what, text) in &texts {
        for secret in [&token, &key, &value] {
            assert!(!text.contains(secret.as_str()), "a secret value is in the {what}");
        }
    }
}

#[test]
fn a_complete_loss_drill_with_a_one_second_rto_misses_its_target_and_recovers_all_the_same() {
    use drhost_tests::phase2::KNOWN_SECRET;
    let _serial = drhost_tests::lab::serial();
    let value = drhost_tests::util::unique("value");
    let (stack, _) = complete_loss_stack(&value);
    let _secret = RemoveDockerSecret(&stack);
    let journals = TmpDir::new("drill-journals-");
    let config = config_file(&complete_loss_config(&stack, "too-tight", "1s"));

    let out = drill(&stack.lab, config.path(), journals.path(), &["too-tight"]).exec();
    assert_code(&out, EXIT_TARGET_MISSED);
    let report = out.json();
    assert_eq!(report["status"], "missed");
    assert_eq!(report["rto"]["met"], false);
    assert_eq!(report["recovery"]["exit_code"], 0, "{report:#}");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("missed RTO") && summary.contains("target 1.0 s"),
        "{summary}"
    );
    let journal = read_journal(&drill_journals(journals.path())[0]);
    assert_eq!(events(&journal, "run-end")[0]["exit_code"], EXIT_TARGET_MISSED);
    assert_eq!(
        stack.read_secret(KNOWN_SECRET).expect("recovered all the same")["database_url"],
        value.as_str()
    );
}

#[test]
fn a_complete_loss_fault_without_its_grants_is_refused_up_front_with_the_toml() {
    // Nothing starts (no stack, no lab lock): the drill is refused before
    // its journal, its probes or any plugin run.
    let stack = drhost_tests::phase2::Phase2::create();
    let lab = stack.lab.clone();
    for (without, wanted) in [
        (
            "compose-down",
            "[[plugins.fault-complete-loss.compose]]\ntarget = \"phase2\"\naccess = [\"down\"]",
        ),
        (
            "compose-read",
            "[[plugins.fault-complete-loss.compose]]\ntarget = \"phase2\"\naccess = [\"read\"]",
        ),
        (
            "files",
            "[[plugins.fault-complete-loss.files]]\ntarget = \"infrastructure\"",
        ),
        (
            "docker-secret",
            "[[plugins.fault-complete-loss.docker]]\nsecrets = [\"vault_token\"]",
        ),
    ] {
        let journals = TmpDir::new("drill-journals-");
        let text = complete_loss_config(&stack, "ungranted", "15m")
            .replace(&stack.fault_grants(&[]), &stack.fault_grants(&[without]));
        let config = config_file(&text);
        let out = drill(&lab, config.path(), journals.path(), &["ungranted"]).exec();
        assert_code(&out, 3);
        assert!(
            out.stderr.contains("the fault plugin is refused") && out.stderr.contains(wanted),
            "without {without}, the refusal names the TOML:\n{}",
            out.stderr
        );
        assert!(
            std::fs::read_dir(journals.path()).map(|d| d.count()).unwrap_or(0) == 0,
            "without {without}: nothing ran"
        );
    }
}

/// Deletes (every version of) a KV v2 path a test wrote into the lab's
/// scenario-3 Vault.
struct DeleteLabSecret<'a>(&'a drhost_tests::phase2::LabStack, &'static str);

impl Drop for DeleteLabSecret<'_> {
    fn drop(&mut self) {
        let (status, body) = self.0.vault("DELETE", &format!("secret/metadata/{}", self.1), None);
        if status != 204 && status != 200 {
            eprintln!(
                "could not delete secret/{} from the lab's scenario-3 Vault: {status} {body}",
                self.1
            );
        }
    }
}

/// The lab's own `infrastructure-loss` drill, as `make drill` runs it
/// (`drhost drill infrastructure-loss --config .lab/drhost.toml`): the lab's
/// scenario-3 stack (compose project `phase2`) is destroyed — new
/// containers afterwards, Vault's data restored from the snapshot the
/// drill's `before` took — and comes back healthy with its secrets and the
/// same certificate bytes, so the next `make drill` can run it again.
#[test]
fn the_labs_infrastructure_loss_drill_destroys_its_scenario_3_stack_and_infra_restore_brings_it_back() {
    use drhost_tests::phase2::{LabStack, DOCKER_SECRET, KNOWN_SECRET};
    const CHECK: &str = "toolboxai/drill-check";
    let _serial = drhost_tests::lab::serial();
    let stack = LabStack::load();
    let lab = stack.lab.clone();

    // A value only this run knows, written before the drill: the restore
    // must bring back the snapshot taken at the drill's start.
    let value = drhost_tests::util::unique("drill-check");
    let (status, body) = stack.vault(
        "POST",
        &format!("secret/data/{CHECK}"),
        Some(serde_json::json!({ "data": { "value": value } })),
    );
    assert_eq!(status, 200, "write secret/{CHECK}: {body}");
    let _cleanup = DeleteLabSecret(&stack, CHECK);
    let seeded = stack.read_secret(KNOWN_SECRET).expect("the lab's known secret");
    let before = stack.containers();
    assert_eq!(before.len(), drhost_tests::phase2::SERVICES.len(), "{before:?}");
    assert!(before.values().all(|c| c.state == "running"), "{before:?}");
    let certificates = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            std::fs::read(e.path()).unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    let certs_before = certificates(&stack.certificates());
    assert_eq!(certs_before.len(), 3, "{certs_before:?}");

    let journals = TmpDir::new("drill-journals-");
    let config = lab.path(".lab/drhost.toml");
    let out = drill(&lab, &config, journals.path(), &["infrastructure-loss"]).exec();
    assert_code(&out, 0);
    let report = out.json();
    assert_eq!(report["status"], "passed", "{report:#}");
    for role in ["before", "fault", "recovery"] {
        assert_eq!(report[role]["exit_code"], 0, "{role}: {report:#}");
    }
    assert_eq!(report["rto"]["met"], true, "{report:#}");
    assert!(report["rto"]["measured_ms"].as_u64().unwrap_or(0) > 0, "{report:#}");
    let probe_name = format!("http:{}/health", stack.proxy_url());
    let probe = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == probe_name.as_str())
        .unwrap_or_else(|| panic!("no probe {probe_name}: {report:#}"))
        .clone();
    assert_eq!(probe["saw_fault"], true, "{probe}");
    assert!(probe["failed"].as_u64().unwrap() > 0, "{probe}");

    // What the fault did, from its own journal: the project down with its
    // volumes, the three certificate files and the Docker secret removed.
    let journal = read_journal(&drill_journals(journals.path())[0]);
    let fault = read_journal(Path::new(
        events(&journal, "fault-end")[0]["plugin_run"]["journal"]
            .as_str()
            .unwrap(),
    ));
    assert_eq!(succeeded(&fault, "compose.down").len(), 1, "{fault:?}");
    assert_eq!(calls(&fault, "compose.down")[0]["args"]["volumes"], true);
    assert_eq!(succeeded(&fault, "files.remove").len(), 3, "{fault:?}");
    assert_eq!(succeeded(&fault, "docker.remove-secret").len(), 1, "{fault:?}");

    // The lab's stack is back: five new containers running, the proxy
    // healthy, Vault unsealed holding what it held before the loss, the
    // Docker secret, the same certificate bytes.
    let after = stack.containers();
    assert_eq!(after.len(), drhost_tests::phase2::SERVICES.len(), "{after:?}");
    for (service, seen) in &after {
        assert_eq!(seen.state, "running", "{service}: {seen:?}");
        assert_ne!(
            Some(&seen.started_at),
            before.get(service).map(|b| &b.started_at),
            "{service} was not recreated"
        );
    }
    let proxy = stack.proxy_url();
    assert_eq!(rt().block_on(health(&lab, &proxy)), 200, "{proxy}/health");
    stack.assert_redis_serves();
    let (status, sys) = stack.vault("GET", "sys/health", None);
    assert_eq!((status, sys["sealed"].clone()), (200, Value::Bool(false)), "{sys}");
    assert_eq!(stack.read_secret(KNOWN_SECRET), Ok(seeded), "{KNOWN_SECRET}");
    assert_eq!(
        stack
            .read_secret(&format!("secret/{CHECK}"))
            .map(|f| f["value"].clone()),
        Ok(Value::String(value)),
        "the value written before the loss"
    );
    assert!(
        stack.docker_secret_labels(DOCKER_SECRET).is_some(),
        "no Docker secret {DOCKER_SECRET}"
    );
    assert_eq!(
        certificates(&stack.certificates()),
        certs_before,
        "the certificates, byte for byte"
    );
}
