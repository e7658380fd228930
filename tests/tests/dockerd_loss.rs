//! Runbook scenario 3 with the Docker Engine itself lost mid-recovery
//! (issue 15): the lab's dockerd is SIGKILLed while `infra-restore`
//! rebuilds a scenario-3 stack of the test's own after its complete loss —
//! the whole of it, as the runbook's scenario has it: the swarm left too,
//! so the run's provision step makes the engine a swarm manager again
//! (`swarm-init`, the one test that reaches it from an engine that is none:
//! every lab leaves the engine a manager).
//! The run must stop with exit 1 (the plugin reports the failure), say
//! that the Docker Engine does not answer, and leave a complete journal;
//! once dockerd is back, a rerun finishes the job without redoing what the
//! killed run did, and a third run changes nothing.
//!
//! A test binary of its own: cargo runs test binaries one after another,
//! so killing the daemon here cannot break a test of another binary; the
//! lab lock keeps every other process's lab tests out meanwhile. The
//! daemon's restart stops every container of the lab, so the test ends by
//! putting the lab back (`lab/up.sh`), even when it fails
//! ([`drhost_tests::dockerd`]).

use std::time::{Duration, Instant};

use drhost_tests::cli::{events, succeeded, Outcome, Run};
use drhost_tests::dockerd::Dockerd;
use drhost_tests::lab::{serial, up as lab};
use drhost_tests::phase2::{assert_no_secret, timed_phases, Phase2, DOCKER_SECRET};
use drhost_tests::util::unique;
use serde_json::Value;

/// What an operator reads when dockerd is gone: the engine named, and
/// that it does not answer (the host's one line for it, compose's too).
const ENGINE_DOWN: &str = "does not answer: is dockerd running?";

/// The journal of a run that ended: hash-chained and complete (`drhost
/// journal verify`), ending with its `run-end`, every call journaled with
/// its outcome, every step that started ended.
fn assert_complete(out: &Outcome) -> Vec<Value> {
    let report = out.json();
    let run_id = report["run_id"].as_str().expect("the report names its run");
    let verified = Run::cli(["journal", "verify", run_id])
        .arg("--journal-dir")
        .arg(&out.journal_dir)
        .json()
        .exec();
    assert_eq!(
        verified.json()["state"],
        "ok",
        "journal verify: {}\n{}",
        verified.stdout,
        verified.stderr
    );
    let journal = out.journal();
    assert_eq!(journal.first().unwrap()["event"], "run-start");
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end", "the journal ends with its run-end");
    assert_eq!(end["exit_code"], report["exit_code"], "{end}");
    for call in events(&journal, "call") {
        let outcome = &call["outcome"];
        assert!(
            outcome.get("ok").is_some() != outcome.get("error").is_some(),
            "a call without exactly one outcome: {call}"
        );
    }
    let started: Vec<&Value> = events(&journal, "step-start").iter().map(|e| &e["step"]).collect();
    let mut ended: Vec<&Value> = events(&journal, "step-end").iter().map(|e| &e["step"]).collect();
    for step in started {
        let at = ended
            .iter()
            .position(|e| *e == step)
            .unwrap_or_else(|| panic!("step {step} started and never ended"));
        ended.remove(at);
    }
    journal
}

#[test]
fn dockerd_killed_mid_restore_fails_with_a_complete_journal_and_a_rerun_finishes_the_job() {
    let asked = Instant::now();
    let _lab = serial();
    let began = Instant::now();
    eprintln!("the lab lock after {:?}", began - asked);
    // Before anything changes: the engine is one the lab started.
    let dockerd = Dockerd::of_lab(&lab());
    let value = unique("postgresql://app:s3cr3t");
    let stack = Phase2::backed_up(&value);
    let before = stack.certificate_files();
    let (token, key) = (stack.root_token(), stack.unseal_key());
    let secrets = [value.as_str(), &token, &key];
    stack.complete_loss();
    stack.leave_swarm();

    // Killed once the Docker secret is made (the swarm made again, the
    // certificates restored): Vault's compose `up` comes next, and after
    // it every service's and the checks — all need the engine.
    let mut running = stack.drhost("infra-restore").spawn();
    if !running.wait_for_call("docker.create-secret", 1, Duration::from_secs(120)) {
        let out = running.wait();
        panic!(
            "infra-restore ended before it made the Docker secret: {}\n{}",
            out.stdout, out.stderr
        );
    }
    let killed_at = Instant::now();
    let dead = dockerd.kill();
    let out = running.wait_within(Duration::from_secs(120));
    eprintln!(
        "infra-restore ended {:?} after dockerd was SIGKILLed (run {:?})",
        killed_at.elapsed(),
        out.elapsed
    );
    let report = out.json();
    assert_eq!(
        (out.code, &report["status"], &report["error"]["kind"]),
        (1, &"failed".into(), &"plugin-failure".into()),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // The cause, in the one line the operator reads, and what to do.
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Docker Engine") && message.contains(ENGINE_DOWN),
        "the failure names the engine: {message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    let hint = report["hint"].as_str().unwrap_or_default();
    eprintln!("the killed run says: {message}\n  hint: {hint}");
    assert!(
        hint.contains("rerun infra-restore"),
        "the hint says what to do next: {hint}"
    );
    // The journal: complete, the work before the kill in it, the call the
    // kill broke journaled as `unavailable`, naming the engine.
    let killed = assert_complete(&out);
    assert_eq!(succeeded(&killed, "docker.swarm-init"), 1, "the swarm made again");
    assert_eq!(succeeded(&killed, "files.write"), 3, "the certificates before the kill");
    assert_eq!(succeeded(&killed, "docker.create-secret"), 1);
    let broken: Vec<&Value> = events(&killed, "call")
        .into_iter()
        .filter(|c| {
            c["outcome"]["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(ENGINE_DOWN))
        })
        .collect();
    assert!(!broken.is_empty(), "no call failed naming the engine: {killed:#?}");
    assert_eq!(broken[0]["outcome"]["error"]["kind"], "unavailable", "{}", broken[0]);
    assert_no_secret(&out, &secrets);

    // dockerd back (every container it had is stopped now), and a rerun
    // finishes the job: every check of the runbook's step 7 holds, and
    // nothing the killed run did is done again.
    let restart = dead.restart();
    eprintln!("dockerd answered {restart:?} after lab/services/docker.sh started it again");
    let rerun = stack.drhost("infra-restore").exec();
    assert_eq!(rerun.code, 0, "rerun: {}\n{}", rerun.stdout, rerun.stderr);
    let recovered = stack.assert_recovered(&value, &before);
    assert!(stack.docker_secret_exists(DOCKER_SECRET));
    assert_eq!(
        stack.swarm_state(),
        "active 127.0.0.1",
        "a single-node swarm manager on loopback survived the engine's restart"
    );
    let journal = assert_complete(&rerun);
    for (call, once) in [
        ("files.write", 3),
        ("docker.create-secret", 1),
        ("vault.snapshot-restore", 1),
        ("docker.swarm-init", 1),
    ] {
        let (before_kill, after) = (succeeded(&killed, call), succeeded(&journal, call));
        assert_eq!(
            before_kill + after,
            once,
            "{call}: {before_kill} before the kill and {after} in the rerun"
        );
    }
    timed_phases(&rerun, "infra-restore rerun after dockerd's loss");
    assert_no_secret(&rerun, &secrets);

    // A third run changes nothing.
    stack.assert_rerun_changes_nothing(&recovered, &secrets);
    eprintln!("dockerd loss test before putting the lab back: {:?}", began.elapsed());
    // `dead` drops first: lab/up.sh brings the lab's stacks back, then the
    // stack's own cleanup runs on a live engine.
}

/// The message [`Dockerd::of_lab`] fails with for a lab of its own whose
/// `.lab/run/dockerd.pid` holds `pid` (is missing when `None`).
fn refused(pid: Option<String>) -> String {
    let root = drhost_tests::tmp::TmpDir::new("drhost-nolab-");
    std::fs::create_dir_all(root.path().join(".lab/run")).unwrap();
    let env = root.write(".lab/env", "DOCKER_HOST=unix:///var/run/docker.sock\n");
    if let Some(pid) = pid {
        root.write(".lab/run/dockerd.pid", pid);
    }
    let lab = drhost_tests::lab::Lab::from_file(&env).unwrap();
    let panicked = std::panic::catch_unwind(|| Dockerd::of_lab(&lab))
        .map(drop)
        .expect_err("of_lab refuses");
    panicked.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn a_docker_the_lab_did_not_start_fails_the_test_naming_why() {
    // No lab lock: nothing is killed, only refused.
    let none = refused(None);
    assert!(
        none.contains("the lab did not start this Docker Engine") && none.contains("make lab"),
        "{none}"
    );
    // A pid file naming a process that is not dockerd (this test).
    let other = refused(Some(std::process::id().to_string()));
    assert!(other.contains("not a running dockerd"), "{other}");
}
