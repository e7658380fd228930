//! The operator's checks before an incident: per-site parameters in
//! drhost.toml — through the real binary. Runs assert what the plugin really
//! did (the program's output) and the journal.

use drhost_tests::cli::{calls, events, Outcome, Run};

const HELLO_SHELL: &str = "[[plugins.hello.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n";
const HELLO_HTTP: &str = "[[plugins.hello.http]]\nhost = \"127.0.0.1:*\"\n";

/// The effective parameters `run-start` recorded, as (name, value, source).
fn effective_params(out: &Outcome) -> Vec<(String, String, String)> {
    let journal = out.journal();
    let start = events(&journal, "run-start")[0].clone();
    start["effective_params"]
        .as_array()
        .unwrap_or_else(|| panic!("run-start has no effective_params: {start}"))
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (field("name"), field("value"), field("source"))
        })
        .collect()
}

fn triple(name: &str, value: &str, source: &str) -> (String, String, String) {
    (name.into(), value.into(), source.into())
}

#[test]
fn config_params_are_site_defaults_that_param_overrides_and_run_start_records_their_source() {
    let site = format!("{HELLO_SHELL}{HELLO_HTTP}[plugins.hello.params]\ngreeting = \"hello from site A\"\n");
    let run = Run::plugin("hello").config_toml(&site).json();

    let out = run.clone().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.fact("echo").as_deref(),
        Some("hello from site A"),
        "echo printed the config's value"
    );
    assert_eq!(
        effective_params(&out),
        [
            triple("greeting", "hello from site A", "config"),
            triple("url", "", "default")
        ]
    );
    let journal = out.journal();
    assert_eq!(calls(&journal, "shell.run")[0]["args"]["args"][0], "hello from site A");

    let out = run.clone().param("greeting", "from the command line").exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.fact("echo").as_deref(), Some("from the command line"));
    assert_eq!(
        effective_params(&out)[0],
        triple("greeting", "from the command line", "cli")
    );
    assert!(
        !out.stderr.contains("warning:"),
        "one --param is no warning: {}",
        out.stderr
    );

    // Repeated: the last one wins, as before, and the operator is told.
    let out = run.param("greeting", "first").param("greeting", "second").exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.fact("echo").as_deref(), Some("second"));
    assert!(
        out.stderr
            .contains("warning: --param `greeting` is given 2 times; the last one wins: `greeting=second`"),
        "{}",
        out.stderr
    );
    let journal = out.journal();
    let given = &events(&journal, "run-start")[0]["params"];
    assert_eq!(
        given.as_array().map(Vec::len),
        Some(2),
        "`params` still records what was typed: {given}"
    );
}

#[test]
fn a_config_param_the_plugin_does_not_declare_is_refused_before_anything_runs() {
    let site = format!("{HELLO_SHELL}{HELLO_HTTP}[plugins.hello.params]\ngreting = \"hi\"\n");
    let out = Run::plugin("hello").config_toml(&site).exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = out.message_lines()[0];
    assert!(
        line.contains("[plugins.hello.params] sets `greting` (did you mean `greeting`?), which plugin `hello` does not declare; it takes only greeting, url"),
        "{line}"
    );
    assert!(line.contains("drhost.toml: "), "names the file: {line}");
    let journal = out.journal();
    assert!(events(&journal, "call").is_empty(), "echo never ran");
    assert_eq!(journal.last().unwrap()["exit_code"], 2);

    // Misspelt on the command line: the same suggestion.
    let out = Run::plugin("hello")
        .config_toml(&format!("{HELLO_SHELL}{HELLO_HTTP}"))
        .param("greating", "hi")
        .exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.message_lines()[0].ends_with("did you mean `greeting`?"),
        "{}",
        out.stderr
    );
}
