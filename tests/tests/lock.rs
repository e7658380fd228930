//! One recovery at a time: the real `drhost` binary, two runs at once on
//! the same target (the `misbehave` fixture running `sleep` through a shell
//! grant), and what the lock files in the journal directory's `.locks/` say.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drhost_tests::cli::{config, events, read_journal, Outcome, Run, Running};
use drhost_tests::tmp::{TmpDir, TmpFile};
use serde_json::Value;
use sha2::Digest;

/// misbehave may run `sleep` and `echo` (each a target it may change).
const SLEEP: &str = "[[plugins.misbehave.shell]]\nprogram = \"sleep\"\nargs = [\"**\"]\n";
const ECHO: &str = "[[plugins.misbehave.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n";

/// A live misbehave run that sleeps `seconds` under `cfg`, journaling to `dir`.
fn sleeper(cfg: &TmpFile, dir: &TmpDir, seconds: &str) -> Run {
    Run::fixture("misbehave")
        .config(cfg)
        .journal_dir(dir)
        .param("mode", "shell")
        .param("program", "sleep")
        .param("args", seconds)
        .json()
}

/// The lock file of `target` in journal directory `dir`.
fn lock_file(dir: &Path, target: &str) -> PathBuf {
    let hash = hex::encode(sha2::Sha256::digest(target.as_bytes()));
    dir.join(".locks").join(format!("{}.lock", &hash[..32]))
}

/// Waits until `running` holds `target` and returns its lock file's contents.
fn held(running: &mut Running, target: &str) -> Value {
    let file = lock_file(running.journal_dir(), target);
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Ok(holder) = serde_json::from_str::<Value>(&text) {
                return holder;
            }
        }
        assert!(!running.finished(), "the first run ended before it took the lock");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no lock file {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The journal of a run with `--json`.
fn journal_of(out: &Outcome) -> Vec<Value> {
    read_journal(Path::new(out.json()["journal"].as_str().expect("a journal")))
}

fn lock_events(out: &Outcome) -> Vec<Value> {
    events(&journal_of(out), "lock").into_iter().cloned().collect()
}

#[test]
fn a_second_run_on_a_held_target_is_refused_naming_the_holder_and_the_first_releases_it() {
    let cfg = config(SLEEP);
    let dir = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &dir, "4").spawn();
    let holder = held(&mut first, "shell:sleep");
    assert_eq!(holder["pid"], first.id());
    assert_eq!(holder["target"], "shell:sleep");
    let file = lock_file(dir.path(), "shell:sleep");
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);

    let second = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(second.code, 3, "{}\n{}", second.stdout, second.stderr);
    let said = second.json()["summary"].as_str().unwrap().to_string();
    let run = holder["run"].as_str().unwrap();
    for part in [
        "target `shell:sleep` is held by run".to_string(),
        run.to_string(),
        format!("pid {}", first.id()),
        format!("since {}", holder["since"].as_str().unwrap()),
        "--wait DURATION".to_string(),
    ] {
        assert!(said.contains(&part), "`{part}` not in: {said}");
    }
    assert!(!said.contains('\n'), "one line: {said}");
    // Refused before the plugin started: no shell call in its journal.
    let journal = journal_of(&second);
    assert!(events(&journal, "call").is_empty(), "{journal:?}");
    assert_eq!(journal.last().unwrap()["status"], "refused");

    let first = first.wait();
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let lock = lock_events(&first);
    assert_eq!(lock.len(), 1);
    assert_eq!(lock[0]["targets"], serde_json::json!(["shell:sleep"]));
    assert!(!file.exists(), "the lock file outlived its run");
    let third = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(lock_events(&third)[0]["took_over"], serde_json::json!([]));
}

#[test]
fn wait_takes_the_target_once_the_first_run_ends() {
    let cfg = config(SLEEP);
    let dir = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &dir, "2").spawn();
    held(&mut first, "shell:sleep");
    let second = sleeper(&cfg, &dir, "0").arg("--wait").arg("30s").exec();
    let first = first.wait();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second
            .stderr
            .contains("waiting up to 30s for `shell:sleep`, held by run"),
        "{}",
        second.stderr
    );
    let lock = &lock_events(&second)[0];
    assert!(lock["waited_ms"].as_f64().unwrap() > 200.0, "{lock}");
    // It started after the first had ended.
    let first_end = journal_of(&first).last().unwrap()["ts"].as_str().unwrap().to_string();
    assert!(
        lock["ts"].as_str().unwrap() >= first_end.as_str(),
        "{lock} vs {first_end}"
    );

    // A wait that runs out is refused, saying how long it waited.
    let mut first = sleeper(&cfg, &dir, "5").spawn();
    held(&mut first, "shell:sleep");
    let short = sleeper(&cfg, &dir, "0").arg("--wait").arg("1s").exec();
    assert_eq!(short.code, 3, "{}", short.stderr);
    assert!(
        short.json()["summary"].as_str().unwrap().contains("still held by run"),
        "{}",
        short.stdout
    );
    assert_eq!(first.wait().code, 0);
}

#[test]
fn runs_on_different_targets_run_at_once() {
    let dir = TmpDir::new("drhost-lock-");
    let sleep = config(SLEEP);
    let echo = config(ECHO);
    let mut first = sleeper(&sleep, &dir, "4").spawn();
    held(&mut first, "shell:sleep");
    let other = Run::fixture("misbehave")
        .config(&echo)
        .journal_dir(&dir)
        .param("mode", "shell")
        .param("args", "hi")
        .json()
        .exec();
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert_eq!(lock_events(&other)[0]["targets"], serde_json::json!(["shell:echo"]));
    assert!(!first.finished(), "the first run was still going");
    assert_eq!(first.wait().code, 0);
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_and_journaled() {
    let cfg = config(SLEEP);
    let dir = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &dir, "30").spawn();
    let holder = held(&mut first, "shell:sleep");
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(first.id() as i32, libc::SIGKILL) }, 0);
    let killed = first.wait();
    assert_eq!(killed.code, -1);
    let file = lock_file(dir.path(), "shell:sleep");
    assert!(file.exists(), "SIGKILL leaves the lock file behind");

    let next = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(next.code, 0, "{}\n{}", next.stdout, next.stderr);
    let took_over = &lock_events(&next)[0]["took_over"];
    assert_eq!(took_over[0]["run"], holder["run"], "{took_over}");
    assert_eq!(took_over[0]["pid"], holder["pid"]);
    assert!(!file.exists());

    // A lock file written by hand for a pid that does not exist.
    crate_lock_file(&file, "ghost-run", 999_999_999);
    let next = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(lock_events(&next)[0]["took_over"][0]["run"], "ghost-run");
}

/// Writes a lock file as a run `run` with process `pid` on this host would.
fn crate_lock_file(file: &Path, run: &str, pid: u32) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let holder = serde_json::json!({
        "target": "shell:sleep", "run": run, "host": host.trim(), "pid": pid,
        "pid_start": 1, "since": "2026-11-30T00:00:00Z",
    });
    std::fs::write(file, holder.to_string()).unwrap();
}

#[test]
fn sigint_releases_the_lock() {
    let cfg = config(SLEEP);
    let dir = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &dir, "30").spawn();
    held(&mut first, "shell:sleep");
    // The plugin is in its shell call once the call has started.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(first.id() as i32, libc::SIGINT) }, 0);
    let first = first.wait();
    assert_eq!(first.code, 130, "{}", first.stderr);
    assert!(!lock_file(dir.path(), "shell:sleep").exists());
    let next = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(lock_events(&next)[0]["took_over"], serde_json::json!([]));
}

#[test]
fn a_plan_takes_no_lock() {
    let cfg = config(SLEEP);
    let dir = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &dir, "4").spawn();
    held(&mut first, "shell:sleep");
    let calls = |plan: bool| {
        let run = Run::fixture("misbehave")
            .config(&cfg)
            .journal_dir(&dir)
            .param("mode", "calls")
            .param("count", "10")
            .json();
        if plan {
            run.arg("--plan").exec()
        } else {
            run.exec()
        }
    };
    // The same grants live: refused, the target is held.
    assert_eq!(calls(false).code, 3);
    let plan = calls(true);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(lock_events(&plan).is_empty());
    assert_eq!(first.wait().code, 0);
}

#[test]
fn hostile_labels_cannot_steer_the_lock_path_and_a_planted_link_is_not_followed() {
    let evil = "../../../escaped";
    let cfg = config(&format!(
        "{SLEEP}[[plugins.misbehave.shell]]\nprogram = \"{evil}\"\nargs = []\n[[plugins.misbehave.shell]]\nprogram = \"/etc/passwd/..\"\nargs = []\n"
    ));
    let dir = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &dir, "2").spawn();
    held(&mut first, "shell:sleep");
    let names: Vec<String> = std::fs::read_dir(dir.path().join(".locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names {
        let hash = name.strip_suffix(".lock").unwrap();
        assert!(
            hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
    }
    assert!(lock_file(dir.path(), &format!("shell:{evil}")).exists());
    assert_eq!(first.wait().code, 0);
    assert!(!dir.path().join("escaped").exists() && !Path::new("/escaped").exists());

    // A link planted where the lock file goes: refused, its target untouched.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, lock_file(dir.path(), "shell:sleep")).unwrap();
    let out = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let said = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        said.contains("is a symbolic link, which drhost does not follow"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

// --- the shared lock: `[run.shared_lock] postgres = "primary"` -------------
// Two runs journaling to different directories stand for two machines: their
// lock files never meet, only the lab's real PostgreSQL sees both.

/// SLEEP's grant, the lab's Postgres target, and `[run.shared_lock]` on it.
fn shared_config(lab: &drhost_tests::lab::Lab, label: &str) -> TmpFile {
    config(&format!(
        "{SLEEP}\n[run.shared_lock]\npostgres = \"{label}\"\n\n[targets.postgres.primary]\nurl = \"{}\"\npassword = \"file:{}\"\n",
        lab.pg_url().unwrap(),
        lab.get("PG_PASSWORD_FILE").unwrap()
    ))
}

/// The advisory lock key drhost uses for `target`.
fn advisory_key(target: &str) -> i64 {
    let digest = sha2::Sha256::digest(format!("drhost-lock:{target}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().unwrap())
}

/// The `application_name` of the session holding `target`'s advisory lock
/// on the lab's Postgres, if one does.
fn shared_holder(lab: &drhost_tests::lab::Lab, target: &str) -> Option<String> {
    let key = advisory_key(target);
    drhost_tests::lab::runtime().block_on(async {
        let client = lab.pg_client().await.unwrap();
        client
            .query_opt(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2",
                &[&((key >> 32) & 0xffff_ffff), &(key & 0xffff_ffff)],
            )
            .await
            .unwrap()
            .map(|row| row.get(0))
    })
}

/// Waits until `target`'s advisory lock is held on the lab's Postgres.
fn shared_held(lab: &drhost_tests::lab::Lab, running: &mut Running, target: &str) -> String {
    let started = Instant::now();
    loop {
        if let Some(name) = shared_holder(lab, target) {
            return name;
        }
        assert!(
            !running.finished(),
            "the first run ended before it took the shared lock"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "no advisory lock");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_shared_lock_refuses_a_run_from_another_machine_and_is_released_with_the_run() {
    // One advisory key for every test here: one at a time.
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let cfg = shared_config(&lab, "primary");
    let here = TmpDir::new("drhost-lock-");
    let there = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &here, "4").spawn();
    let session = shared_held(&lab, &mut first, "shell:sleep");
    assert!(session.starts_with("drhost "), "{session}");
    let first_run = session.split(' ').nth(1).unwrap().to_string();

    let second = sleeper(&cfg, &there, "0").exec();
    assert_eq!(second.code, 3, "{}\n{}", second.stdout, second.stderr);
    let summary = second.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.starts_with(&format!("target `shell:sleep` is held by run {first_run} (host ")),
        "{summary}"
    );
    assert!(summary.contains("--wait"), "{summary}");
    // The second run's own lock file was let go again: all or nothing.
    assert!(!lock_file(there.path(), "shell:sleep").exists());

    let first = first.wait();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let lock = &lock_events(&first)[0];
    assert_eq!(lock["shared"], serde_json::json!({ "postgres": "primary" }), "{lock}");
    assert_eq!(shared_holder(&lab, "shell:sleep"), None, "released with the run");
    let third = sleeper(&cfg, &there, "0").exec();
    assert_eq!(third.code, 0, "{}", third.stderr);
}

#[test]
fn a_killed_holder_frees_the_shared_lock_with_its_session_and_wait_takes_it() {
    // One advisory key for every test here: one at a time.
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let cfg = shared_config(&lab, "primary");
    let here = TmpDir::new("drhost-lock-");
    let there = TmpDir::new("drhost-lock-");
    let mut first = sleeper(&cfg, &here, "30").spawn();
    shared_held(&lab, &mut first, "shell:sleep");
    let pid = first.id() as i32;
    // The other machine waits for it; this one's drhost is killed meanwhile.
    let second = sleeper(&cfg, &there, "0").arg("--wait").arg("60s").spawn();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    assert_eq!(first.wait().code, -1);
    let second = second.wait();
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second
            .stderr
            .contains("waiting up to 1m for `shell:sleep`, held by run"),
        "{}",
        second.stderr
    );
    assert!(second.elapsed < Duration::from_secs(20), "{:?}", second.elapsed);
}

#[test]
fn a_key_held_by_another_program_is_refused_naming_that_session() {
    // One advisory key for every test here: one at a time.
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let cfg = shared_config(&lab, "primary");
    let rt = drhost_tests::lab::runtime();
    let client = rt.block_on(async {
        let client = lab.pg_client().await.unwrap();
        client.batch_execute("SET application_name = 'psql'").await.unwrap();
        let key = advisory_key("shell:sleep");
        client.execute("SELECT pg_advisory_lock($1)", &[&key]).await.unwrap();
        client
    });
    let dir = TmpDir::new("drhost-lock-");
    let out = sleeper(&cfg, &dir, "0").exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("(not a drhost run: Postgres backend "), "{summary}");
    assert!(summary.contains("application `psql`"), "{summary}");
    assert!(out.journal_dir.read_dir().unwrap().count() > 0, "journaled");
    drop(client);
}

#[test]
fn a_shared_lock_that_cannot_be_used_is_refused_before_the_plugin_starts() {
    // One advisory key for every test here: one at a time.
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let dir = TmpDir::new("drhost-lock-");
    let unknown = shared_config(&lab, "primry");
    let out = sleeper(&unknown, &dir, "0").exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains("[run.shared_lock] postgres = \"primry\" names no [targets.postgres.primry]")
            && summary.contains("`primary`"),
        "{summary}"
    );
    let dead = config(&format!(
        "{SLEEP}\n[run.shared_lock]\npostgres = \"gone\"\n\n[targets.postgres.gone]\nurl = \"postgresql://postgres@127.0.0.1:1/toolboxai\"\n"
    ));
    let out = sleeper(&dead, &dir, "0").exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.starts_with("cannot take the shared lock on Postgres target `gone`: ")
            && summary.ends_with("fix [targets.postgres.gone] or remove [run.shared_lock] from the config"),
        "{summary}"
    );
    let journal = journal_of(&out);
    assert!(events(&journal, "step-start").is_empty(), "the plugin never ran");
    assert!(
        !lock_file(dir.path(), "shell:sleep").exists(),
        "the local lock was let go"
    );
}

#[test]
fn a_run_that_loses_its_shared_lock_makes_no_more_changes() {
    // One advisory key for every test here: one at a time.
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let cfg = shared_config(&lab, "primary");
    let here = TmpDir::new("drhost-lock-");
    // Two `sleep 3`, one after the other, under the shared lock.
    let mut first = sleeper(&cfg, &here, "3").param("times", "2").spawn();
    shared_held(&lab, &mut first, "shell:sleep");
    // The lock's session is cut mid-run (a DBA, a failover, a network drop).
    let key = advisory_key("shell:sleep");
    let terminated: bool = drhost_tests::lab::runtime().block_on(async {
        let client = lab.pg_client().await.unwrap();
        client
            .query_one(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2",
                &[&((key >> 32) & 0xffff_ffff), &(key & 0xffff_ffff)],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert!(terminated);
    let out = first.wait();
    // The first sleep was running and finishes; the second is refused.
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let journal = journal_of(&out);
    let runs: Vec<&Value> = drhost_tests::cli::calls(&journal, "shell.run");
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[0]["outcome"]["ok"].is_object(), "{}", runs[0]);
    let refused = &runs[1]["outcome"]["error"];
    assert_eq!(refused["kind"], "conflict", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("the shared lock's session on Postgres target `primary`"),
        "{refused}"
    );
    let lost = events(&journal, "lock-lost");
    assert_eq!(lost.len(), 1, "journaled once");
    assert_eq!(lost[0]["postgres"], "primary");
    assert!(out.stderr.contains("this run makes no more changes"), "{}", out.stderr);
    // Nobody holds the key now: another run may take it, and this one did not.
    assert_eq!(shared_holder(&lab, "shell:sleep"), None);
}
