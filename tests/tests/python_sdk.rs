//! The Python SDK (`sdk/python`, `drhost_sdk`) through the real binary
//! against the lab: `db-diagnose` (`examples/python-diagnose`, runbook
//! scenario 1's diagnosis) and `py-probe` (`examples/python-probe`), both
//! written with it and built and signed by `make build`.
//!
//! What the SDK promises and these tests hold it to: steps and facts are
//! journaled the same way as a Rust plugin's; a capability error arrives as
//! the SDK's exception (`AccessDenied`, `Unavailable`, …) and, when it
//! escapes, ends the run the way the Rust SDK's `?` does (same exit code,
//! summary and hint); any exception inside a step ends that step failed and
//! the run as a `failure` naming it, never a trap. The lab is only read.

use drhost_tests::cli::HELLO_GRANTS;
use std::collections::BTreeSet;
use std::path::PathBuf;

use drhost_tests::cli::{calls, config, events, plugin, repo_root, Outcome, Run};
use drhost_tests::docker::{number, on_lab};
use drhost_tests::lab::{self, Lab};
use drhost_tests::sdk::{call_error, closed_port, example, keys, lab_config_with, steps_ended, DENIED_HINT};
use drhost_tests::tmp::TmpFile;

/// What the lab config lacks for db-diagnose: read on the database, the
/// backends and their health URLs (the grants its README prints).
const DIAGNOSE_GRANTS: &str = r#"
[[plugins.db-diagnose.postgres]]
target = "primary"
access = ["read"]

[[plugins.db-diagnose.docker]]
containers = ["toolboxai-backend*"]
access = ["read"]

[[plugins.db-diagnose.http]]
host = "127.0.0.1:*"
"#;

const STEP_DATABASE: &str = "test database connection (primary)";
const STEP_BACKENDS: &str = "check backends toolboxai-backend*";

fn diagnose() -> PathBuf {
    example("python-diagnose/db-diagnose.wasm")
}

/// `[targets.postgres.down]`: the lab's database user on a port nothing
/// listens on (bound, then closed), so opening it is `unavailable`.
fn down_target() -> String {
    format!(
        "\n[targets.postgres.down]\nurl = \"postgresql://postgres@127.0.0.1:{}/toolboxai\"\n",
        closed_port()
    )
}

/// db-diagnose on the lab's engine with `cfg` and `params`, `--json`.
fn run_diagnose(lab: &Lab, cfg: &TmpFile, params: &[(&str, &str)]) -> Outcome {
    on_lab(lab, Run::wasm(diagnose())).config(cfg).params(params).exec()
}

#[test]
fn the_diagnosis_of_the_healthy_lab_is_journaled_like_a_rust_plugins_run() {
    let _guard = lab::serial();
    let lab = lab::up();
    let cfg = lab_config_with(&lab, DIAGNOSE_GRANTS);
    let out = run_diagnose(&lab, &cfg, &[("grep", "listening on")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let backends = lab.backend_urls().unwrap().len() as u64;
    assert_eq!(out.fact("database").as_deref(), Some("reachable"));
    assert!(out.fact("database-ms").unwrap().parse::<u64>().is_ok());
    assert_eq!(number(&out, "backends"), backends);
    assert_eq!(number(&out, "backends-unhealthy"), 0);
    // Every backend logs "listening on" when it starts: the grep found the
    // real lines and put them in the second table.
    assert!(number(&out, "log-matches") >= backends, "{}", out.stdout);
    let report = out.json();
    let matched: BTreeSet<&str> = report["tables"][1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    assert_eq!(matched.len() as u64, backends, "{:#}", report["tables"][1]);

    let journal = out.journal();
    assert_eq!(
        steps_ended(&journal),
        [
            (STEP_DATABASE.to_string(), true),
            (STEP_BACKENDS.to_string(), true),
            ("scan backend logs for listening on".to_string(), true),
        ]
    );
    assert_eq!(calls(&journal, "postgres.open").len(), 1);
    assert_eq!(calls(&journal, "postgres.query").len(), 2);
    assert_eq!(calls(&journal, "docker.inspect-container").len() as u64, backends);
    assert_eq!(calls(&journal, "docker.container-logs").len() as u64, backends);
    assert!(calls(&journal, "http.get").len() as u64 >= backends);
    let notes = events(&journal, "step-note");
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("SELECT 1 answered in "),
        "{notes:?}"
    );
    let end = journal.last().unwrap();
    assert_eq!(
        (end["event"].as_str(), end["exit_code"].as_i64()),
        (Some("run-end"), Some(0))
    );

    // The same journal as a Rust plugin's: `status` (Rust SDK) on the lab
    // writes every kind of event with the same fields.
    let rust = on_lab(&lab, Run::plugin("status")).exec();
    assert_eq!(rust.code, 0, "{}\n{}", rust.stdout, rust.stderr);
    let rust = rust.journal();
    for event in ["run-start", "step-start", "step-note", "step-end", "call", "run-end"] {
        assert_eq!(keys(&journal, event), keys(&rust, event), "`{event}` events differ");
    }
}

#[test]
fn a_database_that_does_not_answer_is_a_finding_of_its_step_and_the_diagnosis_goes_on() {
    let lab = lab::up();
    let grant = "\n[[plugins.db-diagnose.postgres]]\ntarget = \"down\"\naccess = [\"read\"]\n";
    let cfg = lab_config_with(&lab, &format!("{DIAGNOSE_GRANTS}{}{grant}", down_target()));
    let out = run_diagnose(&lab, &cfg, &[("database", "down")]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let step = "test database connection (down)";
    assert_eq!(report["failed_step"], step);
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.starts_with("database down unavailable: "), "{summary}");
    assert!(report["hint"].as_str().unwrap().contains("db-restore"), "{report:#}");
    assert_eq!(out.fact("database").as_deref(), Some("unavailable"));
    // Caught as the SDK's `Unavailable`: the step failed, the others ran.
    let journal = out.journal();
    assert_eq!(call_error(&journal, "postgres.open"), "unavailable");
    let ended = steps_ended(&journal);
    assert_eq!(ended.len(), 3, "{ended:?}");
    assert_eq!(ended[0], (step.to_string(), false));
    assert!(ended[1].0 == STEP_BACKENDS && ended[2].1, "{ended:?}");
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
}

#[test]
fn a_denied_call_arrives_as_access_denied_and_ends_the_run_as_in_a_rust_plugin() {
    let lab = lab::up();
    // `down` is configured but granted to nobody: opening it is refused at the call.
    let cfg = lab_config_with(&lab, &format!("{DIAGNOSE_GRANTS}{}", down_target()));
    let out = run_diagnose(&lab, &cfg, &[("database", "down")]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let py = out.json();
    let summary = py["summary"].as_str().unwrap();
    assert!(summary.starts_with("access-denied: "), "{summary}");
    assert!(
        summary.contains("[[plugins.db-diagnose.postgres]]\ntarget = \"down\""),
        "the refusal names the grant: {summary}"
    );
    // The SDK's AccessDenied (not a trap, not a raw Err): its hint, the step
    // it escaped from, and nothing after it ran.
    assert_eq!(py["hint"], DENIED_HINT);
    assert_eq!(py["failed_step"], "test database connection (down)");
    let journal = out.journal();
    assert_eq!(call_error(&journal, "postgres.open"), "access-denied");
    assert_eq!(
        steps_ended(&journal),
        [("test database connection (down)".to_string(), false)]
    );

    // A Rust plugin whose call is denied the same way: hello probing a host
    // outside its http grant.
    let rust_cfg = config(HELLO_GRANTS);
    let rust = Run::wasm(plugin("hello"))
        .config(&rust_cfg)
        .json()
        .param("url", "http://10.0.0.1:9/health")
        .exec();
    assert_eq!(rust.code, out.code, "{}", rust.stdout);
    let rust_report = rust.json();
    assert_eq!(rust_report["hint"], py["hint"]);
    assert_eq!(rust_report["status"], py["status"]);
    assert_eq!(rust_report["error"]["kind"], py["error"]["kind"]);
    assert!(rust_report["summary"].as_str().unwrap().starts_with("access-denied: "));
    assert_eq!(call_error(&rust.journal(), "http.get"), "access-denied");

    // Without any grant, drhost refuses before the plugin runs (exit 3),
    // printing the TOML, as for a Rust plugin.
    let none = on_lab(&lab, Run::wasm(diagnose())).exec();
    assert_eq!(none.code, 3, "{}\n{}", none.stdout, none.stderr);
    let refused = none.json();
    assert_eq!(refused["status"], "refused");
    let advice = refused["summary"].as_str().unwrap();
    for grant in DIAGNOSE_GRANTS.trim().split("\n\n") {
        assert!(advice.contains(grant), "the refusal prints {grant}:\n{advice}");
    }
    if none.journal_path().is_some() {
        assert!(
            events(&none.journal(), "call").is_empty(),
            "a refused run makes no call"
        );
    }
}

#[test]
fn an_exception_inside_a_step_ends_that_step_failed_with_its_message_in_the_failure() {
    let lab = lab::up();
    let cfg = lab_config_with(&lab, DIAGNOSE_GRANTS);
    // A plain Python exception: re.compile("(") raises inside the log step.
    let out = run_diagnose(&lab, &cfg, &[("grep", "(")]);
    assert_eq!(out.code, 1, "a failure, not a trap (4): {}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let step = "scan backend logs for (";
    assert_eq!(report["failed_step"], step);
    assert_eq!(
        report["summary"],
        "PatternError: missing ), unterminated subpattern at position 0"
    );
    assert!(
        report["hint"].as_str().unwrap().contains("the plugin's own code"),
        "{report:#}"
    );
    let journal = out.journal();
    let ended = steps_ended(&journal);
    assert_eq!(ended.len(), 3, "{ended:?}");
    assert_eq!(ended[0], (STEP_DATABASE.to_string(), true), "{ended:?}");
    assert_eq!(ended[2], (step.to_string(), false), "{ended:?}");
    assert_eq!(
        calls(&journal, "docker.container-logs").len(),
        0,
        "it stopped where it raised"
    );
    let logged: Vec<&str> = events(&journal, "log")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        logged.iter().any(|m| m.starts_with("PatternError raised at app.py:")),
        "where it was raised is logged: {logged:?}"
    );

    // The SDK's own failure from a typed parameter, raised inside the same step.
    let out = run_diagnose(&lab, &cfg, &[("log-lines", "many")]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    assert_eq!(report["failed_step"], "scan backend logs for database|connection");
    assert_eq!(
        report["summary"],
        "--param log-lines=many: not a whole number of 1 or more"
    );
    assert_eq!(
        report["hint"],
        "pass --param log-lines=N with N a whole number of 1 or more"
    );
}

#[test]
fn py_probe_matches_on_the_sdks_exception_classes() {
    // Ported to the SDK: a denied URL arrives as AccessDenied, caught by the
    // probe (`except CapabilityError`, `match` on the class), reported as
    // its kind, with the probe's AccessDenied hint.
    let py = example("python-probe/py-probe.wasm");
    let cfg = config("[[plugins.py-probe.http]]\nhost = \"127.0.0.1:*\"\n");
    let denied = "http://10.0.0.1:9/health";
    let out = Run::wasm(&py).config(&cfg).json().param("urls", denied).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact(denied).as_deref(), Some("access-denied"));
    let report = out.json();
    assert_eq!(report["failed_step"], format!("probe {denied}"));
    assert!(
        report["hint"]
            .as_str()
            .unwrap()
            .starts_with("a URL is outside this plugin's http grants"),
        "{report:#}"
    );
    let journal = out.journal();
    assert_eq!(call_error(&journal, "http.get"), "access-denied");
    assert_eq!(steps_ended(&journal), [(format!("probe {denied}"), false)]);
}

#[test]
fn the_sdks_unit_tests_pass_on_the_generated_bindings() {
    // sdk/python/tests: durations, typed params, one exception per error
    // variant, wrapping, steps, records — on the host's Python, with the
    // bindings `make build` generated for py-probe.
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    let bindings = root.join("target/py-build/py-probe");
    assert!(
        python.exists() && bindings.exists(),
        "{} or {} is missing: run `make build`",
        python.display(),
        bindings.display()
    );
    let path = std::env::join_paths([bindings, root.join("sdk/python/src")]).unwrap();
    let out = std::process::Command::new(python)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(root.join("sdk/python/tests"))
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("Ran 11 tests"), "{report}");
}
