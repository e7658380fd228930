//! The operator's checks before an incident: per-site parameters in
//! drhost.toml, `drhost check`, `drhost inspect --config`, several plugins
//! at once for `inspect` and `verify`, and `drhost list` — through the real
//! binary. Runs assert what the plugin really did (the program's output) and
//! the journal; checks assert the exit code and each problem they name.

use std::path::{Path, PathBuf};

use drhost_tests::cli::{calls, config, events, plugin, repo_root, shared_cache_dir, Outcome, Run};
use drhost_tests::lab;
use drhost_tests::tmp::TmpDir;
use serde_json::Value;

const HELLO_SHELL: &str = "[[plugins.hello.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n";
const HELLO_HTTP: &str = "[[plugins.hello.http]]\nhost = \"127.0.0.1:*\"\n";

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn plugins_dir() -> PathBuf {
    plugin("hello").parent().expect("plugins/").to_path_buf()
}

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
    // A usage error: nothing ran, so there is no journal (main's convention).
    assert_eq!(out.journal_path(), None, "nothing ran, no journal");

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

/// The lab's generated configuration, with both directories its plugins are
/// in: nothing to report.
#[test]
fn check_passes_the_lab_config() {
    let lab = lab::up();
    let lab_config = lab.root().join(".lab/drhost.toml");
    let parsed = drhost::config::Config::load(&lab_config).expect("the lab config parses");
    // Every [targets.CAP.LABEL], whichever capabilities the lab configures.
    let text: toml::Table = std::fs::read_to_string(&lab_config).unwrap().parse().unwrap();
    let targets: usize = text["targets"]
        .as_table()
        .unwrap()
        .values()
        .map(|labels| labels.as_table().map_or(0, |t| t.len()))
        .sum();
    let examples = repo_root().join("examples/python-probe");
    let check = Run::cli(["check", "--plugins", s(&plugins_dir()), "--plugins", s(&examples)])
        .config(&lab_config)
        .cache_dir(shared_cache_dir());
    let out = check.clone().exec();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "config OK: {} plugins granted, {targets} targets\n",
            parsed.plugins.len()
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("plugin ids and params checked against"),
        "{}",
        out.stdout
    );
    // Nothing but the compile cache's progress line for a plugin not yet
    // compiled on this machine ("compiling X.wasm (first run only)…").
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| !l.starts_with("compiling ")).collect();
    assert!(warnings.is_empty(), "{}", out.stderr);
    let json = check.json().exec();
    assert_eq!(json.code, 0);
    assert_eq!(json.json(), Value::Array(Vec::new()));
}

const BROKEN: &str = r#"[run]
timeout = "15m"

[[plugins.hello.shell]]
progam = "echo"
args = ["**"]

[[plugins.redis-failvoer.redis]]
target = "cache"
access = ["read"]

[[plugins.status.redis]]
target = "sessions"
access = ["read"]

[plugins.redis-failover.params]
restart-comand = "redis-server /etc/redis.conf"

[targets.redis.cache]
url = "redis://127.0.0.1:6379"
"#;

#[test]
fn check_lists_every_problem_of_a_broken_config_with_its_line_and_fix() {
    let broken = config(BROKEN);
    let check = Run::cli(["check", "--plugins", s(&plugins_dir())])
        .config(&broken)
        .cache_dir(shared_cache_dir());
    let out = check.clone().exec();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let file = broken.display().to_string();
    let problems = out.message_lines();
    assert_eq!(problems.len(), 5, "4 problems and the count:\n{}", out.stderr);
    let expect = [
        (5, "unknown field `progam`", "did you mean `program`?"),
        (
            8,
            "[plugins.redis-failvoer] matches no plugin in",
            "did you mean `redis-failover`?",
        ),
        (
            13,
            "grants target `sessions`, which has no [targets.redis.sessions] table",
            "add the table (below), or fix the label",
        ),
        (
            17,
            "[plugins.redis-failover.params] sets `restart-comand`, which plugin `redis-failover` does not declare",
            "did you mean `restart-command`?",
        ),
    ];
    for (problem, (line, what, fix)) in problems.iter().zip(expect) {
        assert!(
            problem.starts_with(&format!("drhost: {file}:{line}:")),
            "line {line}: {problem}"
        );
        assert!(problem.contains(what) && problem.ends_with(fix), "{problem}");
    }
    assert_eq!(
        problems[4],
        format!("drhost: {file}: 4 problems found; nothing was run")
    );

    let json = check.json().exec();
    assert_eq!(json.code, 2);
    let kinds: Vec<Value> = json
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        ["unknown-key", "unknown-plugin", "missing-target", "unknown-param"]
    );
    let missing = &json.json()[2];
    assert_eq!(missing["key"], "plugins.status.redis[0].target");
    assert!(
        json.json().as_array().unwrap().iter().all(|p| p["schema"] == 1),
        "each problem carries its schema version"
    );

    // Fixing each as told (the printed table, the suggested names) leaves nothing to report.
    let table: String = out
        .stderr
        .lines()
        .skip_while(|l| !l.contains("grants target `sessions`"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    assert!(table.starts_with("[targets.redis.sessions]\n"), "{table}");
    let fixed = BROKEN
        .replace("progam", "program")
        .replace("redis-failvoer", "redis-failover")
        .replace("restart-comand", "restart-command")
        + &table;
    let fixed = config(&fixed);
    let out = Run::cli(["check", "--plugins", s(&plugins_dir())])
        .config(&fixed)
        .cache_dir(shared_cache_dir())
        .exec();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn check_without_a_config_or_with_a_syntax_error_says_so() {
    let out = Run::cli(["check"]).exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.message_lines()[0].contains("no configuration to check"),
        "{}",
        out.stderr
    );
    let out = Run::cli(["check"]).config_toml("[run\n").exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.message_lines()[0].contains("drhost.toml:1:"), "{}", out.stderr);
    let out = Run::cli(["check", "--plugins", "/nonexistent/plugins"])
        .config_toml("")
        .exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.message_lines()[0].contains("not a directory"), "{}", out.stderr);
}

/// `inspect --config` is `run`'s up-front check without the run: each need
/// marked, the TOML for the missing ones — which, pasted, makes the run pass.
#[test]
fn inspect_with_config_marks_each_need_and_its_advice_grants_the_rest() {
    let hello = plugin("hello");
    let dir = TmpDir::new("drhost-inspect-");
    let site = format!("{HELLO_SHELL}[plugins.hello.params]\ngreeting = \"from the site\"\n");
    let cfg = dir.write("drhost.toml", &site);
    let inspect = Run::inspect(&hello).config(&cfg).env("NO_COLOR", "");

    let out = inspect.clone().env("LC_ALL", "C.UTF-8").exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("  ✓ write  shell    echo")),
        "{}",
        out.stdout
    );
    assert!(
        lines.iter().any(|l| l.starts_with("  ✗ read   http     127.0.0.1:*")),
        "{}",
        out.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  greeting")
                && l.ends_with("(config \"from the site\"; default \"hello from drhost\")")),
        "{}",
        out.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  url") && l.ends_with("(default \"\")")),
        "{}",
        out.stdout
    );

    // Not a UTF-8 locale: words instead of marks (as every other glyph).
    let out = inspect.clone().env("LC_ALL", "C").exec();
    assert!(
        out.stdout.contains("\n  ok write  shell") && out.stdout.contains("\n  MISSING read   http"),
        "{}",
        out.stdout
    );
    // NO_COLOR takes colour away, not the marks.
    let out = inspect.clone().env("LC_ALL", "C.UTF-8").env("NO_COLOR", "1").exec();
    assert!(out.stdout.contains("\n  ✗ read   http"), "{}", out.stdout);

    let advice = out
        .stdout
        .split_once(&format!("add to {}:\n", cfg.display()))
        .map(|(_, toml)| toml.to_string())
        .unwrap_or_else(|| panic!("no advice:\n{}", out.stdout));
    std::fs::write(&cfg, format!("{site}{advice}")).unwrap();
    let out = inspect.clone().env("LC_ALL", "C.UTF-8").exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stdout.contains('✗') && out.stdout.contains("  ✓ read   http"),
        "{advice}\n{}",
        out.stdout
    );
    let ran = Run::wasm(&hello).config(&cfg).json().exec();
    assert_eq!(
        ran.code, 0,
        "the pasted advice is what the run needed:\n{advice}\n{}",
        ran.stderr
    );
    assert_eq!(ran.fact("echo").as_deref(), Some("from the site"));

    let json = inspect.json().exec().json();
    let granted: Vec<&Value> = json["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["granted"])
        .collect();
    assert_eq!(granted, [&Value::Bool(true), &Value::Bool(true)]);
    assert_eq!(json["parameters"][0]["source"], "config");
    assert_eq!(json["parameters"][1]["source"], "default");
    assert!(json.get("advice").is_none(), "{json}");

    // The example the issue asked for: redis-failover's restart command per site.
    let out = Run::inspect(plugin("redis-failover"))
        .config_toml("[plugins.redis-failover.params]\nrestart-command = \"redis-server /etc/redis/6380.conf\"\nrestart-comand = \"x\"\n")
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let restart = v["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "restart-command")
        .unwrap();
    assert_eq!(restart["value"], "redis-server /etc/redis/6380.conf");
    assert_eq!(restart["source"], "config");
    assert_eq!(v["undeclared_params"][0]["name"], "restart-comand");
    assert_eq!(v["undeclared_params"][0]["did_you_mean"], "restart-command");
}

#[test]
fn inspect_and_verify_take_several_files_or_a_directory() {
    let dir = plugins_dir();
    let mut shipped: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    shipped.sort();
    assert!(shipped.len() >= 8, "{shipped:?}");

    let out = Run::inspect(&dir).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ids: Vec<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, shipped);
    let out = Run::inspect(&dir).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.matches("\nneeds:\n").count(),
        shipped.len(),
        "one block each"
    );

    // One that fails: the others are still shown, the exit code is its own.
    let junk = TmpDir::new("drhost-junk-");
    let junk = junk.write("junk.wasm", "not WebAssembly");
    let hello = plugin("hello");
    let out = Run::cli(["inspect", s(&hello), s(&junk)])
        .cache_dir(shared_cache_dir())
        .exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.starts_with("hello 0.1.0"), "{}", out.stdout);
    assert!(out.message_lines()[0].contains("is not WebAssembly"), "{}", out.stderr);
    let out = Run::cli(["inspect", s(&hello), s(&junk)])
        .cache_dir(shared_cache_dir())
        .json()
        .exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.is_empty(),
        "with --json the errors are in the JSON: {}",
        out.stderr
    );
    let reports = out.json();
    assert_eq!((&reports[0]["schema"], &reports[0]["id"]), (&1.into(), &"hello".into()));
    assert_eq!(
        (&reports[1]["schema"], &reports[1]["path"]),
        (&1.into(), &s(&junk).into())
    );
    assert_eq!(reports[1]["error"]["exit_code"], 3);
    assert!(
        reports[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not WebAssembly"),
        "{reports}"
    );

    let status = plugin("status");
    let out = Run::cli(["verify", s(&hello), s(&status)]).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.matches("verdict: trusted (signed by lab-dev)").count(),
        2,
        "{}",
        out.stdout
    );
    let out = Run::cli(["verify", s(&hello), s(&junk)]).json().exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.is_empty(),
        "with --json the errors are in the JSON: {}",
        out.stderr
    );
    let verdicts = out.json();
    assert_eq!(verdicts[0]["verdict"], "trusted");
    assert_eq!(verdicts[0]["error"], Value::Null);
    assert_eq!((&verdicts[0]["schema"], &verdicts[1]["schema"]), (&1.into(), &1.into()));
    assert_eq!(verdicts[1]["path"], s(&junk));
    assert_eq!(verdicts[1]["error"]["kind"], "refused");
    assert_eq!(verdicts[1]["error"]["exit_code"], 3);
    // One file that fails is one error object, as `verify --json` prints for any failure.
    let out = Run::cli(["verify", s(&junk)]).json().exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.json().get("path").is_none(), "{}", out.stdout);
    assert_eq!(out.json()["error"]["kind"], "refused");
    let out = Run::cli(["verify", s(&dir)]).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json().as_array().map(Vec::len), Some(shipped.len()));
}

#[test]
fn list_shows_each_plugin_with_its_signer_and_runbook_scenario() {
    let dir = plugins_dir();
    let out = Run::cli(["list", s(&dir)]).cache_dir(shared_cache_dir()).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = |id: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{}", out.stdout))
            .to_string()
    };
    for (id, scenario) in [
        ("redis-failover", "2: Redis failure"),
        ("db-restore", "1B: database failure, restore from backup"),
        ("db-outage", "1A: database failure, wait for recovery"),
        ("service-recover", "4: application service failure"),
        ("network-recover", "5: network partition"),
        ("status", "quick reference: check all service health"),
        ("db-backup", "quick reference: database backup"),
        ("hello", "—"),
    ] {
        let line = line(id);
        assert!(line.contains("signed by lab-dev") && line.ends_with(scenario), "{line}");
    }

    // Judged as verify judges: with a trust file that trusts nobody, each is refused.
    let nobody = TmpDir::new("drhost-trust-");
    let nobody = nobody.write("trust.toml", "");
    let out = Run::cli(["list", s(&dir)])
        .trust(&nobody)
        .cache_dir(shared_cache_dir())
        .json()
        .exec();
    assert_eq!(out.code, 0, "listing is not running: {}", out.stderr);
    let listed = out.json();
    let hello = listed.as_array().unwrap().iter().find(|p| p["id"] == "hello").unwrap();
    assert_eq!(hello["schema"], 1);
    assert_eq!(hello["trust"], "refused");
    assert!(
        hello["refused_because"].as_str().unwrap().contains("lab-dev"),
        "{hello}"
    );
    assert_eq!(hello["scenario"], Value::Null);
}

#[test]
fn a_shared_lock_naming_no_postgres_target_is_a_problem_on_its_line() {
    let cfg = config(
        "[run.shared_lock]\npostgres = \"primry\"\n\n[targets.postgres.primary]\nurl = \"postgresql://postgres@127.0.0.1:1/toolboxai\"\n",
    );
    let out = Run::cli(["check"]).config(&cfg).cache_dir(shared_cache_dir()).exec();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let problems = out.message_lines();
    let file = cfg.display().to_string();
    assert_eq!(problems.len(), 2, "{}", out.stderr);
    assert!(
        problems[0].starts_with(&format!("drhost: {file}:2:"))
            && problems[0].contains("[run.shared_lock] postgres = \"primry\" names no [targets.postgres.primry]")
            && problems[0].contains("`primary`"),
        "{}",
        problems[0]
    );
}

#[test]
fn run_notify_naming_no_notify_target_is_a_problem_on_its_line() {
    let cfg = config("[run.notify]\ntarget = [\"incidents\", \"ops\"]\n\n[targets.notify.ops]\nurl = \"env:HOOK\"\nformat = \"slack\"\n");
    let out = Run::cli(["check"]).config(&cfg).cache_dir(shared_cache_dir()).exec();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let problems = out.message_lines();
    let file = cfg.display().to_string();
    assert!(
        problems[0].starts_with(&format!("drhost: {file}:2:"))
            && problems[0].contains("[run.notify] posts to `incidents`, but there is no [targets.notify.incidents]"),
        "{}",
        problems[0]
    );
    assert!(!out.stderr.contains("`ops`, but"), "{}", out.stderr);
}
