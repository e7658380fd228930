//! The tamper-evident journal: a real run's journal is hash-chained, and
//! `drhost journal verify` (the real binary) finds a changed, removed or
//! reordered line, and tells a journal cut short from a tampered one.

use drhost_tests::cli::HELLO_GRANTS;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use drhost_tests::cli::{config, plugin, read_journal, Outcome, Run};
use drhost_tests::tmp::TmpDir;

/// A real hello run, journaled in `runs/` of `parent`, which drhost makes.
fn hello_run(parent: &TmpDir) -> Outcome {
    let cfg = config(HELLO_GRANTS);
    let out = Run::wasm(plugin("hello"))
        .config(&cfg)
        .journal_dir(parent.path().join("state/runs"))
        .param("greeting", "chained")
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

fn verify(run: &str, dir: &Path, json: bool) -> Outcome {
    let mut cli = Run::cli(["journal", "verify", run]).arg("--journal-dir").arg(dir);
    if json {
        cli = cli.json();
    }
    cli.exec()
}

/// A copy of `journal` with its lines rearranged by `change`.
fn tampered(journal: &Path, dir: &TmpDir, change: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let text = std::fs::read_to_string(journal).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    change(&mut lines);
    let copy = dir.path().join("copy.jsonl");
    std::fs::write(&copy, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    copy
}

#[test]
fn a_real_run_verifies_with_the_head_its_report_gave() {
    let parent = TmpDir::new("drhost-chain-");
    let out = hello_run(&parent);
    let report = out.json();
    let journal = out.journal_path().unwrap();
    let events = read_journal(&journal);
    let head = report["journal_head"]
        .as_str()
        .expect("the report gives the head")
        .to_string();
    assert_eq!(events.last().unwrap()["head"], head.as_str());
    assert!(events.iter().all(|e| e["prev"].as_str().is_some_and(|p| p.len() == 64)));

    let run_id = report["run_id"].as_str().unwrap();
    let checked = verify(run_id, &out.journal_dir, false);
    assert_eq!(checked.code, 0, "{}\n{}", checked.stdout, checked.stderr);
    assert!(
        checked
            .stdout
            .starts_with(&format!("ok: {} events, head {head}", events.len())),
        "{}",
        checked.stdout
    );
    let json = verify(run_id, &out.journal_dir, true).json();
    assert_eq!(json["state"], "ok");
    assert_eq!(json["events"], events.len());
    assert_eq!(json["head"], head.as_str());

    // 0600 in a 0700 directory (made by drhost, parents too).
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&journal), 0o600);
    assert_eq!(mode(&out.journal_dir), 0o700);
    assert_eq!(mode(out.journal_dir.parent().unwrap()), 0o700);
}

#[test]
fn a_changed_removed_or_reordered_line_is_found_and_a_cut_journal_is_incomplete() {
    let parent = TmpDir::new("drhost-chain-");
    let out = hello_run(&parent);
    let journal = out.journal_path().unwrap();
    let count = read_journal(&journal).len();
    assert!(count >= 5, "a journal long enough to cut into: {count} lines");
    let work = TmpDir::new("drhost-chain-");
    let middle = count / 2;

    // One byte changed in a middle line (still valid JSON): the next line
    // no longer follows it.
    let edited = tampered(&journal, &work, |lines| {
        let line = &mut lines[middle - 1];
        let at = line.find("\"ts\":\"").unwrap() + 6 + 3;
        let digit = if &line[at..at + 1] == "9" { "8" } else { "9" };
        line.replace_range(at..at + 1, digit);
    });
    let checked = verify(edited.to_str().unwrap(), work.path(), false);
    assert_eq!(checked.code, 3, "{}\n{}", checked.stdout, checked.stderr);
    assert!(
        checked.stdout.starts_with(&format!(
            "broken at line {}: line {} does not follow line {middle}",
            middle + 1,
            middle + 1
        )),
        "{}",
        checked.stdout
    );
    let json = verify(edited.to_str().unwrap(), work.path(), true).json();
    assert_eq!(
        (json["state"].as_str(), json["broken_line"].as_u64()),
        (Some("broken"), Some(middle as u64 + 1))
    );

    let removed = tampered(&journal, &work, |lines| {
        lines.remove(middle - 1);
    });
    let checked = verify(removed.to_str().unwrap(), work.path(), false);
    assert_eq!(checked.code, 3);
    assert!(
        checked.stdout.starts_with(&format!("broken at line {middle}:")),
        "{}",
        checked.stdout
    );

    let reordered = tampered(&journal, &work, |lines| lines.swap(middle - 1, middle));
    let checked = verify(reordered.to_str().unwrap(), work.path(), false);
    assert_eq!(checked.code, 3);
    assert!(
        checked.stdout.starts_with(&format!("broken at line {middle}:")),
        "{}",
        checked.stdout
    );

    // The outcome rewritten in run-end: its head gives it away.
    let rewritten = tampered(&journal, &work, |lines| {
        let end = lines.last_mut().unwrap();
        *end = end.replace("\"status\":\"recovered\"", "\"status\":\"failed\"");
    });
    let checked = verify(rewritten.to_str().unwrap(), work.path(), false);
    assert_eq!(checked.code, 3);
    assert!(
        checked.stdout.contains("(run-end) does not match its `head`"),
        "{}",
        checked.stdout
    );

    // Cut short (as a killed drhost leaves it): incomplete, not tampered.
    let cut = tampered(&journal, &work, |lines| lines.truncate(middle));
    let checked = verify(cut.to_str().unwrap(), work.path(), false);
    assert_eq!(checked.code, 1, "{}", checked.stdout);
    assert!(
        checked
            .stdout
            .starts_with(&format!("incomplete: chain intact through line {middle}; no run-end")),
        "{}",
        checked.stdout
    );

    let unknown = verify("no-such-run", work.path(), false);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

fn sign(run: &str, dir: &Path, key: &Path) -> Outcome {
    Run::cli(["journal", "sign", run])
        .arg("--key")
        .arg(key)
        .arg("--journal-dir")
        .arg(dir)
        .exec()
}

/// The lab's development key, which the harness's trust file trusts.
fn lab_key() -> PathBuf {
    drhost_tests::cli::repo_root().join(".lab/keys/lab-dev.key")
}

#[test]
fn a_signed_head_verifies_under_a_trusted_key_and_a_swapped_or_changed_signature_does_not() {
    let parent = TmpDir::new("drhost-chain-");
    let out = hello_run(&parent);
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let head = out.json()["journal_head"].as_str().unwrap().to_string();
    let journal = out.journal_path().unwrap();
    let unsigned = verify(&run_id, &out.journal_dir, false);
    assert!(unsigned.stdout.contains("\nsignature: none"), "{}", unsigned.stdout);

    let signed = sign(&run_id, &out.journal_dir, &lab_key());
    assert_eq!(signed.code, 0, "{}\n{}", signed.stdout, signed.stderr);
    let sig = PathBuf::from(format!("{}.sig", journal.display()));
    assert!(
        signed.stdout.contains(&format!("(head {head}) as lab-dev")),
        "{}",
        signed.stdout
    );
    assert_eq!(std::fs::metadata(&sig).unwrap().permissions().mode() & 0o777, 0o600);
    let checked = verify(&run_id, &out.journal_dir, false);
    assert_eq!(checked.code, 0, "{}", checked.stdout);
    assert!(
        checked.stdout.contains("signature: valid, by trusted key `lab-dev`"),
        "{}",
        checked.stdout
    );
    let json = verify(&run_id, &out.journal_dir, true).json();
    assert_eq!(json["signature"]["state"], "valid", "{json}");
    assert_eq!(json["signature"]["trusted_as"], "lab-dev", "{json}");

    // Another run's signature put beside this journal: it names another
    // run and head, so it vouches for nothing here (exit 3).
    let other = hello_run(&parent);
    let other_id = other.json()["run_id"].as_str().unwrap().to_string();
    let other_journal = PathBuf::from(other.json()["journal"].as_str().unwrap());
    assert_ne!(other_journal, journal);
    std::fs::copy(&sig, format!("{}.sig", other_journal.display())).unwrap();
    let swapped = verify(&other_id, &other.journal_dir, false);
    assert_eq!(swapped.code, 3, "{}", swapped.stdout);
    assert!(
        swapped.stdout.contains(&format!(
            "signature: INVALID: it signs run {run_id} with head {head}, but the journal is run {other_id}"
        )),
        "{}",
        swapped.stdout
    );

    // One hex digit of the signature changed: it no longer verifies.
    let text = std::fs::read_to_string(&sig).unwrap();
    let at = text.find("\"signature\": \"").unwrap() + 14;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&sig, bytes).unwrap();
    let changed = verify(&run_id, &out.journal_dir, false);
    assert_eq!(changed.code, 3, "{}", changed.stdout);
    assert!(
        changed
            .stdout
            .contains("signature: INVALID: the signature does not verify under the key it names"),
        "{}",
        changed.stdout
    );
}

#[test]
fn a_key_nobody_trusts_is_said_so_and_a_cut_journal_is_not_signed() {
    let parent = TmpDir::new("drhost-chain-");
    let out = hello_run(&parent);
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let keys = TmpDir::new("drhost-keys-");
    let made = Run::cli(["keygen", "--out"])
        .arg(keys.path())
        .arg("--id")
        .arg("mallory")
        .exec();
    assert_eq!(made.code, 0, "{}", made.stderr);
    let signed = sign(&run_id, &out.journal_dir, &keys.path().join("mallory.key"));
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let checked = verify(&run_id, &out.journal_dir, false);
    assert_eq!(checked.code, 0, "the chain is intact: {}", checked.stdout);
    assert!(
        checked
            .stdout
            .contains("signature: valid, but by key `mallory`, which the trust file does not hold"),
        "{}",
        checked.stdout
    );
    assert_eq!(
        verify(&run_id, &out.journal_dir, true).json()["signature"]["trusted_as"],
        serde_json::Value::Null
    );

    // A journal without its run-end is not signed (exit 3), nor a broken one.
    let work = TmpDir::new("drhost-chain-");
    let cut = tampered(&out.journal_path().unwrap(), &work, |lines| {
        lines.pop();
    });
    let refused = sign(cut.to_str().unwrap(), work.path(), &lab_key());
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("has no run-end yet"), "{}", refused.stderr);
    assert!(!PathBuf::from(format!("{}.sig", cut.display())).exists());
}
