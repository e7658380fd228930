//! The disk budget (issue 11, item 7): blobs (`from-bytes`, s3 get, pg_dump,
//! raft snapshots) and the plugin's scratch directory together may take at
//! most `--disk` / `[run] disk`. A blob that would go over is a typed
//! error and keeps nothing; scratch written past it (WASI has no hook to
//! refuse the write) stops the run with exit 4 at the plugin's next host
//! call, or within the watcher's interval when it makes none.

use std::time::Duration;

use drhost_tests::cli::{self, events, Outcome, Run};
use drhost_tests::lab::{runtime as rt, Lab};

const MIB: u64 = 1 << 20;

fn misbehave(mode: &str, bytes: u64, disk: &str) -> Run {
    Run::fixture("misbehave")
        .json()
        .param("mode", mode)
        .param("bytes", bytes.to_string())
        .args(["--disk", disk])
}

/// Exit 4, `sandbox-limit`, the message naming the budget, and a journal
/// that ends in the same `run-end`.
fn assert_stopped_by_the_budget(out: &Outcome, expect: &str) {
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "sandbox-limit");
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains(expect), "expected `{expect}` in: {summary}");
    assert!(
        summary.contains("raise the budget with --disk or [run] disk"),
        "{summary}"
    );
    let journal = out.journal();
    let end = journal.last().unwrap();
    assert_eq!(
        (end["event"].as_str(), end["exit_code"].as_i64()),
        (Some("run-end"), Some(4))
    );
}

#[test]
fn scratch_written_past_the_budget_stops_the_run_at_its_next_call() {
    // Within the budget: the call goes through to its grant check.
    let out = misbehave("fill-scratch", MIB / 2, "1MiB").exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("call").as_deref(), Some("access-denied"));

    // Past it: the next host call stops the run instead of running.
    let out = misbehave("fill-scratch", 3 * MIB, "1MiB").exec();
    assert_stopped_by_the_budget(
        &out,
        "the run's disk budget of 1 MiB is used up: the plugin's scratch directory holds 3 MiB and its blobs 0 B",
    );
    let journal = out.journal();
    let call = cli::calls(&journal, "shell.run");
    assert_eq!(call.len(), 1);
    assert_eq!(call[0]["outcome"]["error"]["kind"], "trap");
    assert_eq!(out.json()["failed_step"], serde_json::Value::Null, "the step had ended");
}

#[test]
fn a_plugin_that_fills_scratch_without_calling_the_host_is_stopped_too() {
    let out = misbehave("fill-scratch", 3 * MIB, "1MiB")
        .param("then", "spin")
        .timeout("60s")
        .exec();
    assert_stopped_by_the_budget(&out, "scratch directory holds 3 MiB");
    assert!(
        out.elapsed < Duration::from_secs(20),
        "stopped after {:?}, not at the deadline",
        out.elapsed
    );
    assert!(events(&out.journal(), "call").is_empty(), "it made no call");
}

#[test]
fn blobs_past_the_budget_are_refused_and_dropping_one_makes_room() {
    let out = misbehave("blobs", 300 << 10, "1MiB").exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("kept").as_deref(), Some("3"), "{}", out.stdout);
    assert_eq!(out.fact("error-kind").as_deref(), Some("failed"));
    let error = out.fact("error").unwrap();
    assert!(
        error.contains("blob from-bytes: the run's disk budget of 1 MiB would be exceeded (blobs 900 KiB, scratch 0 B, this blob 0 B and 300 KiB more); nothing was kept"),
        "{error}"
    );
    assert_eq!(
        out.fact("after-drop").as_deref(),
        Some("ok"),
        "a dropped blob gives its bytes back"
    );
}

/// `[targets]` and grants for db-poke (postgres dump, s3 read) and
/// vault-poke (snapshots on the raft server) on the lab's real services.
fn lab_config(lab: &Lab) -> drhost_tests::tmp::TmpFile {
    let secrets = lab.path(".lab/secrets");
    cli::config(&format!(
        "[targets.postgres.primary]\nurl = \"{}\"\npassword = \"file:{}\"\n\n\
         [[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"read\", \"dump\"]\n\n\
         [targets.s3.backups]\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{}\"\npath_style = true\n\
         access_key = \"file:{}\"\nsecret_key = \"file:{}\"\n\n\
         [[plugins.db-poke.s3]]\ntarget = \"backups\"\nprefixes = [\"drhost-hostile-disk/*\"]\naccess = [\"read\", \"write\"]\n\n\
         [targets.vault.main]\naddress = \"{}\"\ntoken = \"file:{}\"\n\n\
         [[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = [\"secret/drhost-hostile-disk/*\"]\naccess = [\"read\", \"snapshot\"]\n",
        lab.pg_url().unwrap(),
        lab.get("PG_PASSWORD_FILE").unwrap(),
        lab.get("S3_ENDPOINT").unwrap(),
        lab.get("S3_REGION").unwrap(),
        lab.s3_bucket().unwrap(),
        secrets.join("s3-access-key").display(),
        secrets.join("s3-secret-key").display(),
        lab.get("VAULT_RAFT_ADDR").unwrap(),
        secrets.join("vault-raft-token").display(),
    ))
}

/// The refused call's facts: which call, `failed`, and the budget named.
fn assert_refused_by_the_budget(out: &Outcome, call: &str, budget: &str) {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("error-kind").as_deref(), Some("failed"), "{}", out.stdout);
    let error = out.fact("error").unwrap();
    assert!(
        error.contains(&format!("the run's disk budget of {budget} would be exceeded"))
            && error.contains("nothing was kept"),
        "{error}"
    );
    let journal = out.journal();
    let made = cli::calls(&journal, call);
    assert_eq!(made.len(), 1, "{call}");
    assert_eq!(made[0]["outcome"]["error"]["kind"], "failed");
}

#[test]
fn downloads_dumps_and_snapshots_stop_at_the_budget() {
    let _serial = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let config = lab_config(&lab);
    let key = "drhost-hostile-disk/256k.bin";
    let s3 = lab.s3_client().unwrap();
    let bucket = lab.s3_bucket().unwrap().to_string();
    rt().block_on(
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(vec![7u8; 256 << 10].into())
            .send(),
    )
    .unwrap();

    // s3 get: the announced length does not fit; refused before a byte is kept.
    let get = |disk: &str| {
        Run::fixture("db-poke")
            .config(&config)
            .json()
            .params(&[("op", "s3-get"), ("key", key)])
            .args(["--disk", disk])
            .exec()
    };
    let out = get("128KiB");
    assert_refused_by_the_budget(&out, "s3.get", "128 KiB");
    assert_eq!(out.fact("failed-call").as_deref(), Some("s3.get"));
    // With room, the same download is whole.
    let out = get("1MiB");
    assert_eq!(out.fact("size").as_deref(), Some("262144"), "{}", out.stdout);
    rt().block_on(s3.delete_object().bucket(&bucket).key(key).send())
        .unwrap();

    // pg_dump: the tool cannot write past what is left (RLIMIT_FSIZE).
    let out = Run::fixture("db-poke")
        .config(&config)
        .json()
        .params(&[("op", "dump"), ("key", "drhost-hostile-disk/never.dump")])
        .args(["--disk", "4KiB"])
        .exec();
    assert_refused_by_the_budget(&out, "postgres.dump", "4 KiB");
    assert_eq!(out.fact("failed-call").as_deref(), Some("postgres.dump"));

    // A raft snapshot: charged chunk by chunk as it streams in.
    let out = Run::fixture("vault-poke")
        .config(&config)
        .json()
        .param("op", "snapshot-save")
        .args(["--disk", "4KiB"])
        .exec();
    assert_refused_by_the_budget(&out, "vault.snapshot-save", "4 KiB");
}

/// `misbehave` running `program args…` (mode=shell) under one shell grant
/// for exactly that command line, with a disk budget of `disk`.
fn shell_within(disk: &str, program: &str, args: &[&str]) -> Run {
    let patterns = args.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    Run::fixture("misbehave")
        .config_toml(&format!(
            "[[plugins.misbehave.shell]]\nprogram = {program:?}\nargs = [{patterns}]\ntimeout = \"60s\"\n"
        ))
        .json()
        .param("mode", "shell")
        .param("program", program)
        .param("args", args.join("|"))
        .args(["--disk", disk])
}

/// The `shell.run` call stopped the run: its journal event is the trap.
fn assert_shell_call_trapped(out: &Outcome) {
    let journal = out.journal();
    let call = cli::calls(&journal, "shell.run");
    assert_eq!(call.len(), 1, "{call:?}");
    assert_eq!(call[0]["outcome"]["error"]["kind"], "trap", "{:?}", call[0]);
    let message = call[0]["outcome"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("run through shell.run"), "{message}");
}

/// A granted program writes on the host while `shell.run` is in progress,
/// where the scratch measurement never looks (issue 11): one file is held
/// to what is left of the budget (RLIMIT_FSIZE; the write past it kills the
/// program) and the run stops with the disk-budget error (exit 4), the file
/// on disk no larger than the budget.
#[test]
fn a_granted_program_cannot_write_a_file_past_the_budget() {
    let dir = drhost_tests::tmp::TmpDir::new("drhost-hostile-shell-disk-");
    let big = dir.path().join("big");
    let of = format!("of={}", big.display());
    let out = shell_within("1MiB", "dd", &["if=/dev/zero", &of, "bs=64K", "count=256"]).exec();
    assert_stopped_by_the_budget(
        &out,
        "the run's disk budget of 1 MiB is used up: the plugin's scratch directory holds 0 B and its blobs 0 B, and `dd`, run through shell.run, tried to write a file larger than the 1 MiB left of it: it was killed with its process group",
    );
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains("a program run through shell.run may write only what is left of the budget"),
        "{summary}"
    );
    assert_shell_call_trapped(&out);
    let written = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    assert!(written <= MIB, "dd wrote {written} bytes past the 1 MiB budget");
    assert!(
        written >= MIB / 2,
        "dd wrote only {written} bytes: it was stopped too early"
    );

    // Within the budget the same program runs to its end.
    let out = shell_within("64MiB", "dd", &["if=/dev/zero", &of, "bs=64K", "count=256"]).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("exit-code").as_deref(), Some("0"), "{}", out.stdout);
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 16 * MIB);
}

/// Many files, each under the file size limit, in the program's working
/// directory: measured every 50 ms while it runs, the program (a shell
/// and everything it started: its process group) is killed once they take
/// the run over its budget, long before it would end by itself.
#[test]
fn a_granted_program_filling_its_working_directory_is_killed_at_the_budget() {
    let script = "i=0; while test $i -lt 200; do i=$((i+1)); head -c 400000 /dev/zero > f$i; sleep 0.2; done; sleep 60";
    let out = shell_within("1MiB", "sh", &["-c", script]).timeout("120s").exec();
    assert_stopped_by_the_budget(&out, "and `sh`, run through shell.run, wrote ");
    assert!(
        out.elapsed < Duration::from_secs(30),
        "killed after {:?}, not when it ended by itself",
        out.elapsed
    );
    assert_shell_call_trapped(&out);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    let wrote = summary
        .split("`sh`, run through shell.run, wrote ")
        .nth(1)
        .and_then(|rest| rest.split(" in its working directory").next())
        .unwrap_or_else(|| panic!("{summary}"));
    let kib: f64 = wrote
        .strip_suffix(" MiB")
        .map(|m| m.parse::<f64>().unwrap() * 1024.0)
        .or_else(|| wrote.strip_suffix(" KiB").map(|k| k.parse().unwrap()))
        .unwrap_or_else(|| panic!("{wrote}"));
    assert!(
        (1024.0..=2048.0).contains(&kib),
        "measured {wrote} when it was killed: near the 1 MiB budget"
    );
}
