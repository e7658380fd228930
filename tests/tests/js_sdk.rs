//! The JavaScript SDK (`sdk/js`, `drhost-sdk`) through the real binary
//! against the lab: `svc-diagnose` (`examples/js-diagnose`, runbook
//! scenario 4's diagnosis) and `js-probe` (`examples/js-probe`), both
//! written with it and built (componentize-js) and signed by `make build`.
//!
//! What the SDK promises and these tests hold it to, as `python_sdk.rs`
//! does for Python: steps and facts are journaled the same way as a Rust
//! plugin's; a capability error arrives as the SDK's error class
//! (`AccessDenied`, `Unavailable`, …) and, when it escapes, ends the run the
//! way the Rust SDK's `?` does (same exit code, summary and hint); any
//! exception inside a step ends that step failed and the run as a `failure`
//! naming it, never a trap. The lab is only read.

use drhost_tests::cli::HELLO_GRANTS;
use std::collections::BTreeSet;
use std::path::PathBuf;

use drhost_tests::cli::{calls, config, events, plugin, repo_root, Outcome, Run};
use drhost_tests::docker::{number, on_lab};
use drhost_tests::lab::{self, Lab};
use drhost_tests::sdk::{call_error, closed_port, example, keys, lab_config_with, steps_ended, DENIED_HINT};
use drhost_tests::tmp::TmpFile;

/// What the lab config lacks for svc-diagnose: read on the backends and
/// their health URLs (the grants its README prints).
const DIAGNOSE_GRANTS: &str = r#"
[[plugins.svc-diagnose.docker]]
containers = ["toolboxai-backend*"]
access = ["read"]

[[plugins.svc-diagnose.http]]
host = "127.0.0.1:*"
"#;

const STEP_STATUS: &str = "check status of toolboxai-backend*";
const STEP_HEALTH: &str = "check /health of each backend";
const STEP_RESOURCES: &str = "check resource usage";

fn diagnose() -> PathBuf {
    example("js-diagnose/svc-diagnose.wasm")
}

/// A loopback URL nothing listens on.
fn closed_url() -> String {
    format!("http://127.0.0.1:{}/", closed_port())
}

/// svc-diagnose on the lab's engine with `cfg` and `params`, `--json`.
fn run_diagnose(lab: &Lab, cfg: &TmpFile, params: &[(&str, &str)]) -> Outcome {
    on_lab(lab, Run::wasm(diagnose())).config(cfg).params(params).exec()
}

#[test]
fn the_diagnosis_of_the_healthy_lab_is_journaled_like_a_rust_plugins_run() {
    let _guard = lab::serial();
    let lab = lab::up();
    let cfg = lab_config_with(&lab, DIAGNOSE_GRANTS);
    let proxy = lab.nginx_url().unwrap().to_string();
    let out = run_diagnose(&lab, &cfg, &[("grep", "listening on"), ("proxy", &proxy)]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let backends = lab.backend_urls().unwrap().len() as u64;
    assert_eq!(number(&out, "backends"), backends);
    assert_eq!(number(&out, "backends-down"), 0);
    assert_eq!(number(&out, "health-failing"), 0);
    assert_eq!(out.fact("proxy").as_deref(), Some("200"));
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
    // One status, health and memory row per backend, plus the proxy's.
    let rows = report["tables"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, 3 * backends + 1, "{:#}", report["tables"][0]);
    assert!(rows.iter().all(|row| row[0] == "yes"), "{:#}", report["tables"][0]);

    let journal = out.journal();
    assert_eq!(
        steps_ended(&journal),
        [
            (STEP_STATUS.to_string(), true),
            (format!("probe the load balancer {proxy}"), true),
            (STEP_HEALTH.to_string(), true),
            (STEP_RESOURCES.to_string(), true),
            ("scan backend logs for listening on".to_string(), true),
        ]
    );
    assert_eq!(calls(&journal, "docker.list-containers").len(), 1);
    assert_eq!(calls(&journal, "docker.inspect-container").len() as u64, backends);
    assert_eq!(calls(&journal, "docker.container-stats").len() as u64, backends);
    assert_eq!(calls(&journal, "docker.container-logs").len() as u64, backends);
    assert!(calls(&journal, "http.get").len() as u64 > backends);
    let notes = events(&journal, "step-note");
    assert_eq!(
        notes[0]["message"],
        format!("{backends} checked, 0 not running or unhealthy")
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
fn a_load_balancer_that_does_not_answer_is_caught_as_unavailable_and_the_diagnosis_goes_on() {
    let lab = lab::up();
    let cfg = lab_config_with(&lab, DIAGNOSE_GRANTS);
    let proxy = closed_url();
    let out = run_diagnose(&lab, &cfg, &[("proxy", &proxy)]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let step = format!("probe the load balancer {proxy}");
    assert_eq!(report["failed_step"], step.as_str());
    assert_eq!(
        report["summary"],
        format!("the load balancer {proxy} answered unavailable")
    );
    assert!(
        report["hint"].as_str().unwrap().contains("service-recover"),
        "{report:#}"
    );
    assert_eq!(out.fact("proxy").as_deref(), Some("unavailable"));
    // Caught as the SDK's `Unavailable`: that step failed, the others ran.
    let journal = out.journal();
    assert_eq!(call_error(&journal, "http.get"), "unavailable");
    let ended = steps_ended(&journal);
    assert_eq!(ended.len(), 5, "{ended:?}");
    assert_eq!(ended[1], (step, false));
    assert_eq!(ended[2], (STEP_HEALTH.to_string(), true), "{ended:?}");
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
}

#[test]
fn a_denied_call_arrives_as_access_denied_and_ends_the_run_as_in_a_rust_plugin() {
    let lab = lab::up();
    let cfg = lab_config_with(&lab, DIAGNOSE_GRANTS);
    // 10.0.0.1 is outside the http grant (127.0.0.1:*): refused at the call.
    let denied = "http://10.0.0.1:9/health";
    let out = run_diagnose(&lab, &cfg, &[("proxy", denied)]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let js = out.json();
    let summary = js["summary"].as_str().unwrap();
    assert!(summary.starts_with("access-denied: "), "{summary}");
    assert!(
        summary.contains("[[plugins.svc-diagnose.http]]\nhost = \"10.0.0.1:9\""),
        "the refusal names the grant: {summary}"
    );
    // The SDK's AccessDenied (not a trap, not a raw ComponentError): its
    // hint, the step it escaped from, and nothing after it ran.
    assert_eq!(js["hint"], DENIED_HINT);
    let step = format!("probe the load balancer {denied}");
    assert_eq!(js["failed_step"], step.as_str());
    let journal = out.journal();
    assert_eq!(call_error(&journal, "http.get"), "access-denied");
    assert_eq!(steps_ended(&journal), [(STEP_STATUS.to_string(), true), (step, false)]);

    // A Rust plugin whose call is denied the same way: hello probing the
    // same host outside its http grant.
    let rust_cfg = config(HELLO_GRANTS);
    let rust = Run::wasm(plugin("hello"))
        .config(&rust_cfg)
        .json()
        .param("url", denied)
        .exec();
    assert_eq!(rust.code, out.code, "{}", rust.stdout);
    let rust_report = rust.json();
    assert_eq!(rust_report["hint"], js["hint"]);
    assert_eq!(rust_report["status"], js["status"]);
    assert_eq!(rust_report["error"]["kind"], js["error"]["kind"]);
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
    // A plain JavaScript exception: new RegExp("(") throws inside the log step.
    let out = run_diagnose(&lab, &cfg, &[("grep", "(")]);
    assert_eq!(out.code, 1, "a failure, not a trap (4): {}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let step = "scan backend logs for (";
    assert_eq!(report["failed_step"], step);
    assert_eq!(report["summary"], "SyntaxError: unterminated parenthetical");
    assert!(
        report["hint"].as_str().unwrap().contains("the plugin's own code"),
        "{report:#}"
    );
    let journal = out.journal();
    let ended = steps_ended(&journal);
    assert_eq!(ended.len(), 4, "{ended:?}");
    assert_eq!(ended[0], (STEP_STATUS.to_string(), true), "{ended:?}");
    assert_eq!(ended[3], (step.to_string(), false), "{ended:?}");
    assert_eq!(
        calls(&journal, "docker.container-logs").len(),
        0,
        "it stopped where it threw"
    );
    let logged: Vec<&str> = events(&journal, "log")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        logged.contains(&"SyntaxError thrown in scanLogs, from diagnose"),
        "where it was thrown is logged: {logged:?}"
    );

    // The SDK's own failure from a typed parameter, thrown inside the same step.
    let out = run_diagnose(&lab, &cfg, &[("log-lines", "many")]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = out.json();
    assert_eq!(report["failed_step"], "scan backend logs for error|exception|traceback");
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
fn js_probe_matches_on_the_sdks_error_classes() {
    // examples/python-probe ported: a denied URL arrives as AccessDenied,
    // caught by the probe (`instanceof CapabilityError`), reported as its
    // kind, with the probe's AccessDenied hint; a healthy URL is a fact.
    let lab = lab::up();
    let js = example("js-probe/js-probe.wasm");
    let cfg = config("[[plugins.js-probe.http]]\nhost = \"127.0.0.1:*\"\n");
    let healthy = format!("{}/health", lab.backend_urls().unwrap()[0]);
    let denied = "http://10.0.0.1:9/health";
    let out = Run::wasm(&js)
        .config(&cfg)
        .json()
        .param("urls", format!("{healthy},{denied}"))
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact(&healthy).as_deref(), Some("200"));
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
    assert_eq!(call_error(&journal, "http.get"), "ok");
    assert_eq!(
        calls(&journal, "http.get")[1]["outcome"]["error"]["kind"],
        "access-denied"
    );
    assert_eq!(
        steps_ended(&journal),
        [(format!("probe {healthy}"), true), (format!("probe {denied}"), false)]
    );
}

#[test]
fn the_sdks_unit_tests_pass_under_nodes_test_runner() {
    // sdk/js/test: durations, typed params, one error class per variant of
    // the WIT's error (read from wit/0.2.0), wrapping, steps, exportPlugin —
    // on the host's node, with the contract's interfaces stubbed; and the
    // examples and the JS scaffold type-check against index.d.ts (tsc).
    let sdk = repo_root().join("sdk/js");
    let out = std::process::Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&sdk)
        .output()
        .expect("npm (node 20.19 or newer) runs the JavaScript SDK's tests: install nodejs and npm");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("# pass 16") && report.contains("# fail 0"), "{report}");
}
