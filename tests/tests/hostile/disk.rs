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
