//! Approvals that mean something: every `confirm` question has an id the
//! host derives (`<plugin>:<8 hex of sha256(question)>`), `--approve ID`
//! approves exactly that question, `[run] approve` in drhost.toml approves
//! for drills (no terminal, signed plugins only), and the terminal shows who
//! asks. Through the real binary and the `misbehave` fixture's
//! `mode=confirm`; each test asserts the exit code, what the operator reads
//! and the journal's `confirm.ask` calls.

use drhost_tests::cli::{calls, Outcome, Run};
use drhost_tests::tmp::TmpDir;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The fixture's default question.
const QUESTION: &str = "drop the pretend table?";

/// The id the host gives `question` from plugin `plugin`, computed here
/// independently of the host.
fn id_of(plugin: &str, question: &str) -> String {
    format!("{plugin}:{}", &hex::encode(Sha256::digest(question.as_bytes()))[..8])
}

/// `misbehave` asking its question (and `then` a second one, if not empty).
fn asking(then: &str) -> Run {
    Run::fixture("misbehave")
        .param("mode", "confirm")
        .param("then-ask", then)
}

/// Every `confirm.ask` call the run journaled.
fn asked(out: &Outcome) -> Vec<Value> {
    calls(&out.journal(), "confirm.ask").into_iter().cloned().collect()
}

#[test]
fn approve_with_the_question_s_id_approves_it_without_a_terminal() {
    let id = id_of("misbehave", QUESTION);
    // The refusal names the id and the flag, and passing it approves.
    let refused = asking("").json().exec();
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    let summary = refused.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains(&format!("`{id}`")), "{summary}");
    assert!(summary.contains(&format!("--approve {id}")), "{summary}");

    let out = asking("").arg("--approve").arg(&id).json().exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("approved").as_deref(), Some("yes"));
    let call = &asked(&out)[0];
    assert_eq!(call["args"], json!({ "id": id, "question": QUESTION }), "{call}");
    assert_eq!(call["outcome"]["ok"], json!({ "approved": true, "by": "--approve" }));
    let report = out.json();
    assert_eq!(
        report["confirms"],
        json!([{ "id": id, "question": QUESTION, "approved": true, "by": "--approve" }]),
        "{report}"
    );
    // The operator sees what was approved, and by what.
    assert!(
        out.stderr
            .contains(&format!("approved [{id}] by --approve: {QUESTION}")),
        "{}",
        out.stderr
    );
}

#[test]
fn approve_with_another_id_leaves_every_question_unanswered() {
    let id = id_of("misbehave", QUESTION);
    // Another question's id, the same hash under another plugin's id, and
    // the same id with the hash's case changed: none is this question.
    let other_plugin = id.replace("misbehave:", "db-restore:");
    let out = asking("")
        .args(["--approve", "misbehave:00000000", "--approve", &other_plugin])
        .json()
        .exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains(&format!("no operator to confirm question `{id}`")),
        "{summary}"
    );
    assert!(summary.contains(&format!("--approve {id}")), "{summary}");
    let call = &asked(&out)[0];
    assert_eq!(call["outcome"]["error"]["kind"], "unavailable", "{call}");
    assert!(out.fact("approved").is_none());
    assert_eq!(out.json()["confirms"][0]["approved"], Value::Null);

    // A malformed id is a usage error before anything runs.
    for bad in [
        id.to_uppercase(),
        "misbehave".into(),
        "misbehave:*".into(),
        format!("{id}0"),
    ] {
        let out = asking("").arg("--approve").arg(&bad).exec();
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("is not a question id"), "{}", out.stderr);
        assert!(out.journal_path().is_none(), "nothing ran for {bad}");
    }
}

#[test]
fn approve_covers_exactly_one_question_and_not_the_next() {
    let first = id_of("misbehave", QUESTION);
    let second_text = "and the real one too?";
    let second = id_of("misbehave", second_text);
    let out = asking(second_text).arg("--approve").arg(&first).json().exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let asked = asked(&out);
    assert_eq!(asked.len(), 2, "{}", out.journal_text());
    assert_eq!(asked[0]["outcome"]["ok"]["by"], "--approve");
    assert_eq!(asked[1]["args"]["id"], second.as_str());
    assert_eq!(asked[1]["outcome"]["error"]["kind"], "unavailable");
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains(&format!("--approve {second}")), "{summary}");

    let both = asking(second_text)
        .args(["--approve", &first, "--approve", &second])
        .exec();
    assert_eq!(both.code, 0, "{}", both.stderr);
    let by: Vec<Value> = asked_by(&both);
    assert_eq!(by, vec![json!("--approve"), json!("--approve")]);
}

fn asked_by(out: &Outcome) -> Vec<Value> {
    asked(out).iter().map(|c| c["outcome"]["ok"]["by"].clone()).collect()
}

#[test]
fn the_config_approves_a_drill_without_a_terminal_and_says_which_file() {
    let id = id_of("misbehave", QUESTION);
    for entry in ["misbehave:*".to_string(), id.clone()] {
        let cfg = drhost_tests::cli::config(&format!("[run]\napprove = [\"{entry}\"]\n"));
        let out = asking("").config(&cfg).json().exec();
        assert_eq!(out.code, 0, "{entry}: {}\n{}", out.stdout, out.stderr);
        let by = format!("config {}", cfg.path().display());
        assert_eq!(asked(&out)[0]["outcome"]["ok"], json!({ "approved": true, "by": by }));
        assert_eq!(out.json()["confirms"][0]["by"], by.as_str());
        // run-start says which approvals were in force.
        let start = &drhost_tests::cli::events(&out.journal(), "run-start")[0].clone();
        assert_eq!(
            start["approvals"],
            json!({ "yes": false, "approve": [], "config": [entry] }),
            "{start}"
        );
    }
    // --yes still approves everything, and says so.
    let cfg = drhost_tests::cli::config("[run]\napprove = [\"misbehave:*\"]\n");
    let out = asking("").config(&cfg).yes().exec();
    assert_eq!(asked_by(&out), vec![json!("--yes")]);
}

#[test]
fn a_config_entry_for_another_plugin_approves_nothing_here() {
    let id = id_of("misbehave", QUESTION);
    let hash = id.split_once(':').unwrap().1;
    let cfg = drhost_tests::cli::config(&format!(
        "[run]\napprove = [\"db-restore:*\", \"misbehave-evil:*\", \"db-restore:{hash}\", \"misbehave:00000000\"]\n"
    ));
    let out = asking("").config(&cfg).json().exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(asked(&out)[0]["outcome"]["error"]["kind"], "unavailable");
    assert!(out.fact("approved").is_none());

    // An entry cannot glob over plugin ids: the config is refused (exit 2),
    // naming the key.
    for entry in ["*:*", "misbehave*:*", "*", "misbehave"] {
        let cfg = drhost_tests::cli::config(&format!("[run]\napprove = [\"{entry}\"]\n"));
        let out = asking("").config(&cfg).exec();
        assert_eq!(out.code, 2, "{entry}: {}", out.stderr);
        assert!(out.stderr.contains("run.approve"), "{}", out.stderr);
        assert!(out.stderr.contains("<plugin-id>:"), "{}", out.stderr);
    }
}

#[test]
fn the_config_never_approves_a_plugin_run_with_allow_unsigned() {
    let id = id_of("misbehave", QUESTION);
    let dir = TmpDir::new("drhost-trust-");
    let empty_trust = dir.path().join("trust.toml");
    std::fs::write(&empty_trust, "").unwrap();
    let cfg = drhost_tests::cli::config("[run]\napprove = [\"misbehave:*\"]\n");
    let out = asking("")
        .config(&cfg)
        .trust(&empty_trust)
        .allow_unsigned()
        .json()
        .exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains("does not apply to a plugin run with --allow-unsigned"),
        "{summary}"
    );
    assert!(summary.contains(&format!("--approve {id}")), "{summary}");
    assert_eq!(asked(&out)[0]["outcome"]["error"]["kind"], "unavailable");

    // The operator's own --approve still does, and the prompt says UNSIGNED.
    let out = asking("")
        .trust(&empty_trust)
        .allow_unsigned()
        .arg("--approve")
        .arg(&id)
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = asking("")
        .trust(&empty_trust)
        .allow_unsigned()
        .terminal()
        .stdin("n\n")
        .exec();
    assert!(
        out.stdout.contains(&format!("? [{id}] asked by plugin misbehave ")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(", UNSIGNED (--allow-unsigned)"), "{}", out.stdout);
}

#[test]
fn at_a_terminal_the_operator_is_asked_even_when_the_config_would_approve() {
    let id = id_of("misbehave", QUESTION);
    let cfg = drhost_tests::cli::config("[run]\napprove = [\"misbehave:*\"]\n");
    let out = asking("").config(&cfg).terminal().stdin("n\n").exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    // Who asks, by the host: the id, the plugin, its version and its signer.
    let shown: Vec<&str> = out.stdout.lines().map(|l| l.trim_end_matches('\r')).collect();
    let who = shown
        .iter()
        .find(|l| l.starts_with(&format!("? [{id}] asked by plugin misbehave ")))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(who.ends_with(", signed by key lab-dev"), "{who}");
    assert!(out.stdout.contains(&format!("? {QUESTION} [y/N]")), "{}", out.stdout);
    assert_eq!(
        asked(&out)[0]["outcome"]["ok"],
        json!({ "approved": false, "by": "operator" })
    );

    // --approve at a terminal approves without asking.
    let out = asking("").terminal().stdin("n\n").arg("--approve").arg(&id).exec();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(!out.stdout.contains("[y/N]"), "{}", out.stdout);
    assert_eq!(asked_by(&out), vec![json!("--approve")]);
}

#[test]
fn a_plugin_cannot_make_its_question_look_like_another_plugin_s() {
    // The question forges the host's line for db-restore and a prompt of its
    // own, with a newline, a carriage return and an escape sequence.
    let forged_id = "db-restore:00000000";
    let question = format!(
        "ok?\n? [{forged_id}] asked by plugin db-restore 9.9.9, signed by key lab-dev\r\u{1b}[2K? Restore latest? [y/N] "
    );
    let id = id_of("misbehave", &question);
    let out = asking("").param("question", &question).terminal().stdin("n\n").exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let call = &asked(&out)[0];
    assert_eq!(
        call["args"]["id"],
        id.as_str(),
        "the host's id, from the plugin's own id"
    );
    assert_eq!(call["args"]["question"], question.as_str(), "journaled as asked");
    let lines: Vec<&str> = out.stdout.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("? [{id}] asked by plugin misbehave "))),
        "{}",
        out.stdout
    );
    assert!(
        !lines.iter().any(|l| l.starts_with(&format!("? [{forged_id}]"))),
        "the forged line starts no line: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("? ok?\\n? [{forged_id}] asked by plugin db-restore 9.9.9, signed by key lab-dev\\u{{d}}\\u{{1b}}[2K? Restore latest? [y/N]  [y/N]")),
        "shown escaped, on the host's question line: {}",
        out.stdout
    );
    // The host colours its own marks; the plugin's sequence never arrives raw.
    assert!(
        !out.stdout.contains("\u{1b}[2K"),
        "the plugin's escape sequence reached the terminal"
    );

    // Without a terminal the forged id approves nothing: only the host's does.
    let out = asking("")
        .param("question", &question)
        .arg("--approve")
        .arg(forged_id)
        .exec();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = asking("").param("question", &question).arg("--approve").arg(&id).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn the_plan_lists_each_question_with_its_id_and_who_would_answer_it() {
    let id = id_of("misbehave", QUESTION);
    let out = asking("").arg("--plan").exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("PLAN: 1 question(s) answered yes by the plan; in a live run:"),
        "{}",
        out.stdout
    );
    // `→` in a UTF-8 locale, `->` otherwise.
    let listed = ["→", "->"].map(|arrow| format!("[{id}] {QUESTION} {arrow} not approved: pass --approve {id}"));
    assert!(listed.iter().any(|l| out.stdout.contains(l)), "{}", out.stdout);
    assert!(
        out.stderr
            .contains(&format!("would ask the operator [{id}]: {QUESTION}")),
        "{}",
        out.stderr
    );
    assert_eq!(asked_by(&out), vec![json!("plan")]);

    // With the approval the plan says the live run would be approved, and
    // --json carries the same.
    let out = asking("").arg("--plan").arg("--approve").arg(&id).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(
        report["confirms"],
        json!([{ "id": id, "question": QUESTION, "approved": true, "by": "plan", "live": "approved by --approve" }]),
        "{report}"
    );
}
