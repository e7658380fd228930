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
