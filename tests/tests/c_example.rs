//! A plugin in C with no SDK through the real binary against the lab:
//! `c-probe` (`examples/c-probe`, `examples/python-probe` ported), written
//! against the bindings `wit-bindgen c` generates and built (clang, the
//! preview1 adapter: `sdk/c/build.sh`) and signed by `make build`.
//!
//! What "any language" promises and these tests hold C to, as
//! `python_sdk.rs` and `js_sdk.rs` do for their SDKs: steps, notes, log
//! lines, calls and facts are journaled the same way as a Rust plugin's; a
//! capability error arrives as a C value (the WIT `error`'s tag) the plugin
//! handles — the step fails, the fact is the error's kind, the run goes on;
//! a denied call ends the run with the same refusal as a Rust plugin's `?`
//! (exit code, summary, hint), and no grant at all is refused before the
//! plugin runs, as for Rust. The lab is only read.

use std::path::PathBuf;

use drhost_tests::cli::{calls, config, events, plugin, Outcome, Run, HELLO_GRANTS};
use drhost_tests::lab::{self, Lab};
use drhost_tests::sdk::{call_error, closed_port, example, keys, lab_config_with, steps_ended, DENIED_HINT};

/// What the lab config lacks for c-probe (the grant its README prints).
const C_PROBE_GRANTS: &str = "[[plugins.c-probe.http]]\nhost = \"127.0.0.1:*\"\n";

/// Outside every http grant here (127.0.0.1:*): refused at the call.
const DENIED: &str = "http://10.0.0.1:9/health";

fn c_probe() -> PathBuf {
    example("c-probe/c-probe.wasm")
}

/// The first backend's health URL, which the lab keeps answering 200.
fn healthy(lab: &Lab) -> String {
    format!("{}/health", lab.backend_urls().unwrap()[0])
}

/// c-probe with the lab's config plus its grant, `--json`.
fn run_probe(lab: &Lab, params: &[(&str, &str)]) -> Outcome {
    let cfg = lab_config_with(lab, C_PROBE_GRANTS);
    Run::wasm(c_probe()).config(&cfg).json().params(params).exec()
}

#[test]
fn a_healthy_probe_is_journaled_like_a_rust_plugins_run() {
    let _serial = lab::serial();
    let lab = lab::up();
    let url = healthy(&lab);
    let out = run_probe(&lab, &[("urls", &url)]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "recovered", "{report:#}");
    assert_eq!(report["summary"], "1 URL(s) answered 200");
    assert_eq!(report["plugin"]["id"], "c-probe");
    assert_eq!(out.fact(&url).as_deref(), Some("200"));

    let journal = out.journal();
    assert_eq!(steps_ended(&journal), [(format!("probe {url}"), true)]);
    let call = calls(&journal, "http.get");
    assert_eq!(call.len(), 1);
    assert_eq!(call[0]["args"]["url"], url.as_str());
    assert_eq!(call[0]["outcome"]["ok"]["status"], 200);
    let notes = events(&journal, "step-note");
    assert_eq!(
        (notes.len(), notes[0]["message"].as_str()),
        (1, Some("200")),
        "{notes:?}"
    );
    let logged = events(&journal, "log");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["level"], "info");
    assert!(
        logged[0]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{url} answered 200 in ")),
        "{logged:?}"
    );
    // In order, inside its step: start, the call, the log line, the note, the end.
    let order: Vec<&str> = journal.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        order,
        [
            "run-start",
            "step-start",
            "call",
            "log",
            "step-note",
            "step-end",
            "run-end"
        ]
    );
    let end = journal.last().unwrap();
    assert_eq!(
        (end["exit_code"].as_i64(), end["status"].as_str()),
        (Some(0), Some("recovered"))
    );
    assert_eq!(end["facts"], report["facts"]);

    // The same journal as a Rust plugin's: hello (Rust SDK) probing the same
    // URL writes every kind of event with the same fields.
    let rust_cfg = config(HELLO_GRANTS);
    let rust = Run::wasm(plugin("hello"))
        .config(&rust_cfg)
        .json()
        .param("url", &url)
        .exec();
    assert_eq!(rust.code, 0, "{}\n{}", rust.stdout, rust.stderr);
    let rust = rust.journal();
    for event in [
        "run-start",
        "step-start",
        "step-note",
        "step-end",
        "call",
        "log",
        "run-end",
    ] {
        assert_eq!(keys(&journal, event), keys(&rust, event), "`{event}` events differ");
    }
}

#[test]
fn a_url_that_does_not_answer_arrives_as_unavailable_and_the_probe_goes_on() {
    let lab = lab::up();
    let url = healthy(&lab);
    let closed = format!("http://127.0.0.1:{}/health", closed_port());
    let out = run_probe(&lab, &[("urls", &format!("{closed}, {url}"))]);
    assert_eq!(out.code, 1, "a failure, not a trap: {}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["summary"], format!("unhealthy (expected 200): {closed}"));
    assert_eq!(report["failed_step"], format!("probe {closed}"));
    // The hint the probe chose by switching on the error's tag.
    assert_eq!(
        report["hint"],
        "the service does not answer: is it running, and on that port?"
    );
    assert_eq!(out.fact(&closed).as_deref(), Some("unavailable"));
    assert_eq!(out.fact(&url).as_deref(), Some("200"));

    // Handled as a value: that step failed with the kind as its note and an
    // error log line, and the next URL was still probed.
    let journal = out.journal();
    assert_eq!(call_error(&journal, "http.get"), "unavailable");
    assert_eq!(
        steps_ended(&journal),
        [(format!("probe {closed}"), false), (format!("probe {url}"), true)]
    );
    let notes: Vec<&str> = events(&journal, "step-note")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(notes, ["unavailable", "200"]);
    let errors: Vec<&str> = events(&journal, "log")
        .iter()
        .filter(|e| e["level"] == "error")
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(errors, [format!("{closed}: unavailable")]);
    assert_eq!(journal.last().unwrap()["exit_code"], 1);

    // A status other than `expect` is a failure too, with its own hint.
    let out = run_probe(&lab, &[("urls", &url), ("expect", "204")]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["summary"], format!("unhealthy (expected 204): {url}"));
    assert_eq!(
        report["hint"],
        "check the service's logs, or pass --param expect=STATUS"
    );
    assert_eq!(out.fact(&url).as_deref(), Some("200"));

    // A parameter that is not a status: the plugin's own failure, before any call.
    let out = run_probe(&lab, &[("urls", &url), ("expect", "ok")]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["summary"], "expect=ok is not an HTTP status");
    assert_eq!(report["hint"], "pass e.g. --param expect=204");
    assert!(calls(&out.journal(), "http.get").is_empty());
}

#[test]
fn a_denied_call_ends_the_run_with_the_same_refusal_as_a_rust_plugins() {
    let lab = lab::up();
    let url = healthy(&lab);
    let out = run_probe(&lab, &[("urls", &format!("{url},{DENIED}"))]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let c = out.json();
    let summary = c["summary"].as_str().unwrap();
    assert!(summary.starts_with("access-denied: "), "{summary}");
    assert!(
        summary.contains("[[plugins.c-probe.http]]\nhost = \"10.0.0.1:9\""),
        "the refusal names the grant: {summary}"
    );
    assert_eq!(c["hint"], DENIED_HINT);
    assert_eq!(c["failed_step"], format!("probe {DENIED}"));
    // What was seen up to the refusal stays in the failure.
    assert_eq!(out.fact(&url).as_deref(), Some("200"));
    assert_eq!(out.fact(DENIED).as_deref(), Some("access-denied"));
    let journal = out.journal();
    assert_eq!(
        calls(&journal, "http.get")[1]["outcome"]["error"]["kind"],
        "access-denied"
    );
    assert_eq!(
        steps_ended(&journal),
        [(format!("probe {url}"), true), (format!("probe {DENIED}"), false)]
    );

    // A Rust plugin whose call is denied the same way: hello probing the
    // same URL outside its http grant, its `?` ending the run.
    let rust_cfg = config(HELLO_GRANTS);
    let rust = Run::wasm(plugin("hello"))
        .config(&rust_cfg)
        .json()
        .param("url", DENIED)
        .exec();
    assert_eq!(rust.code, out.code, "{}", rust.stdout);
    let rust_report = rust.json();
    for field in ["status", "hint", "error"] {
        let (r, c) = (rust_report[field].to_string(), c[field].to_string());
        assert_eq!(r.replace("hello", "c-probe"), c, "`{field}` differs");
    }
    assert_eq!(
        rust_report["summary"].as_str().unwrap().replace("hello", "c-probe"),
        summary,
        "the same message, but for the plugin's id"
    );
    assert_eq!(call_error(&rust.journal(), "http.get"), "access-denied");

    // Without any grant, drhost refuses before the plugin runs (exit 3),
    // printing the TOML to add, as for a Rust plugin.
    let none = Run::wasm(c_probe())
        .config(lab.path(".lab/drhost.toml"))
        .json()
        .param("urls", &url)
        .exec();
    assert_eq!(none.code, 3, "{}\n{}", none.stdout, none.stderr);
    let refused = none.json();
    assert_eq!(refused["status"], "refused");
    let advice = refused["summary"].as_str().unwrap();
    assert!(advice.contains(C_PROBE_GRANTS.trim()), "{advice}");
    let no_grants = config("");
    let rust_none = Run::wasm(plugin("hello")).config(&no_grants).json().exec();
    assert_eq!(rust_none.code, none.code, "{}", rust_none.stdout);
    assert_eq!(rust_none.json()["status"], "refused");
    if none.journal_path().is_some() {
        assert!(
            events(&none.journal(), "call").is_empty(),
            "a refused run makes no call"
        );
    }
}

#[test]
fn the_component_imports_only_what_the_c_code_calls() {
    // wit-component keeps the imports the module uses: the contract's
    // log, progress, run-info and http (and types), plus the WASI the adapter needs —
    // the same manifest as py-probe's and js-probe's, in 60 KB.
    let c = c_probe();
    let out = Run::inspect(&c).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let contract: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("drhost:runbook/"))
        .collect();
    assert_eq!(
        contract,
        [
            "drhost:runbook/log@0.2.0",
            "drhost:runbook/progress@0.2.0",
            "drhost:runbook/types@0.2.0",
            "drhost:runbook/http@0.2.0",
            "drhost:runbook/run-info@0.2.0"
        ],
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("c-probe 0.1.0"), "{}", out.stdout);
    assert!(out.stdout.contains("read   http     127.0.0.1:*"), "{}", out.stdout);
    let size = std::fs::metadata(&c).unwrap().len();
    assert!(size < 256 * 1024, "{} is {size} bytes", c.display());
}
