//! What the operator and a script read (issue 13, items 7, 13, 14 and 16),
//! through the real binary: results on stdout and progress on stderr for
//! success and failure alike, the versioned `--json` object, colour and
//! glyphs that follow the terminal and the locale, durations in ms, the
//! live counter (terminal only), the compile-cache announcement and
//! `prepare`, one-line errors, no journal for usage errors, completions and
//! the manual page. Nothing here needs the lab's services.

use drhost_tests::cli::HELLO_GRANTS;
use std::path::Path;
use std::time::Duration;

use drhost_tests::cli::{self, config, events, fixture, plugin, read_journal, Outcome, Run};
use drhost_tests::tmp::TmpDir;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `drhost run plugins/hello.wasm` with the grants it needs.
fn hello() -> Run {
    Run::plugin("hello").config_toml(HELLO_GRANTS)
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RFC 3339 UTC timestamp as the journal writes them: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn assert_rfc3339(value: &Value) -> &str {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    let b = text.as_bytes();
    assert!(
        text.len() == 24
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[23] == b'Z'
            && text.chars().filter(|c| c.is_ascii_digit()).count() == 17,
        "not RFC 3339 UTC: {text}"
    );
    text
}

/// The journals a run left behind.
fn journals(out: &Outcome) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(&out.journal_dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()))
        .into_iter()
        .flatten()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect()
}

/// The `error` object every failing `--json` output carries.
fn assert_error(json: &Value, kind: &str, exit_code: i32) {
    assert_eq!(json["schema"], 1, "{json:#}");
    let error = &json["error"];
    assert_eq!(error["kind"], kind, "{json:#}");
    assert_eq!(error["exit_code"], exit_code, "{json:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{json:#}");
}

#[test]
fn the_json_report_has_a_schema_timestamps_steps_typed_facts_and_one_digest_form() {
    let out = hello().json().exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["schema"], 1);
    assert_eq!(report["status"], "recovered");
    assert!(report["error"].is_null(), "{report:#}");
    let (start, end) = (
        assert_rfc3339(&report["started_at"]),
        assert_rfc3339(&report["ended_at"]),
    );
    assert!(start <= end, "{start} > {end}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report:#}");
    assert_eq!(steps[0]["name"], "say hello");
    assert_eq!(steps[0]["ok"], true);
    assert!(steps[0]["duration_ms"].is_u64(), "{report:#}");
    // The digest is `sha256:<hex>` of the file, in the report and the journal.
    let bytes = std::fs::read(plugin("hello")).unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    assert_eq!(report["plugin"]["digest"], digest.as_str());
    let journal = out.journal();
    assert_eq!(events(&journal, "run-start")[0]["plugin"]["digest"], digest.as_str());
    // A fact that is not a number stays a string only.
    let echo = &report["facts"][0];
    assert_eq!(
        (echo["name"].as_str(), echo["value"].as_str()),
        (Some("echo"), Some("hello from drhost"))
    );
    assert!(echo.get("number").is_none(), "{echo}");

    // Facts that are numbers are typed as numbers too; the string stays.
    let out = Run::fixture("misbehave")
        .params(&[("mode", "calls"), ("count", "10")])
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let fact = |name: &str| {
        report["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no fact {name}: {report:#}"))
            .clone()
    };
    assert_eq!(fact("calls")["value"], "10");
    assert_eq!(fact("calls")["number"], 10);
    assert!(fact("calls")["number"].is_u64());
    let per_call = fact("ns-per-call");
    let text: f64 = per_call["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(per_call["number"].as_f64(), Some(text), "{per_call}");
}

#[test]
fn every_failure_class_has_its_error_kind_in_json() {
    // plugin-failure (exit 1): the failure, its step, the steps that ran.
    let out = Run::fixture("misbehave").param("mode", "step-dropped").json().exec();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    assert_error(&report, "plugin-failure", 1);
    assert_eq!(report["error"]["message"], report["summary"]);
    assert_eq!(report["steps"][0]["name"], "never finished");
    assert_eq!(report["steps"][0]["ok"], false);

    // usage (exit 2): nothing ran, no journal.
    let out = hello().param("colour", "blue").json().exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_error(&out.json(), "usage", 2);
    assert!(out.json()["journal"].is_null());

    // refused (exit 3): a missing grant.
    let out = Run::plugin("hello").config_toml("").json().exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_error(&out.json(), "refused", 3);

    // sandbox (exit 4): the deadline, naming the step it stopped.
    let out = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("1s")
        .json()
        .exec();
    assert_eq!(out.code, 4, "{}", out.stderr);
    let report = out.json();
    assert_error(&report, "sandbox", 4);
    assert_eq!(report["steps"][0]["name"], "waiting forever");
    assert_eq!(report["steps"][0]["ok"], false, "the host closed the step as failed");

    // interrupted (exit 130): Ctrl-C.
    let running = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("60s")
        .json()
        .spawn();
    let began = std::time::Instant::now();
    while !std::fs::read_dir(running.journal_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("\"step-start\"")))
    {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the plugin never started its step"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(running.id() as i32, libc::SIGINT) }, 0);
    let out = running.wait();
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_error(&out.json(), "interrupted", 130);
}

#[test]
fn inspect_and_verify_print_an_error_object_with_json() {
    let dir = TmpDir::new("drhost-output-");
    let missing = dir.path().join("missing.wasm");
    let out = Run::inspect(&missing).json().exec();
    assert_eq!(out.code, 2);
    assert_error(&out.json(), "usage", 2);
    assert!(
        out.stderr.is_empty(),
        "the error is the JSON, not a line: {}",
        out.stderr
    );

    let out = Run::inspect(fixture("future-contract")).json().exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_error(&out.json(), "refused", 3);
    assert!(out.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("drhost:runbook@0.9.0"));

    let out = Run::inspect(plugin("hello")).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["schema"], 1);
    assert!(out.json()["digest"].as_str().unwrap().starts_with("sha256:"));

    // verify: a refusal is the verdict with its error; no trusted key here.
    let empty_trust = dir.path().join("trust.toml");
    std::fs::write(&empty_trust, "").unwrap();
    let out = Run::cli([Path::new("verify"), &plugin("hello")])
        .trust(&empty_trust)
        .json()
        .exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let json = out.json();
    assert_error(&json, "refused", 3);
    assert_eq!(json["verdict"], "refused");
    assert!(json["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let out = Run::cli([Path::new("verify"), &missing]).json().exec();
    assert_eq!(out.code, 2);
    assert_error(&out.json(), "usage", 2);
    let out = Run::cli([Path::new("verify"), &plugin("hello")]).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.json()["error"].is_null());
}

#[test]
fn json_still_draws_progress_on_stderr_unless_quiet() {
    let out = hello().json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["status"], "recovered", "stdout is the JSON alone");
    assert!(out.stderr.contains("  ▸ say hello\n"), "{}", out.stderr);
    assert!(out.stderr.contains("  ✓ say hello ("), "{}", out.stderr);

    let out = hello().json().quiet().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["status"], "recovered");
    assert_eq!(out.stderr, "", "-q draws nothing");
}

#[test]
fn results_go_to_stdout_for_success_and_failure_and_errors_to_stderr() {
    let out = hello().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("✓ hello 0.1.0: said hello ("), "{}", out.stdout);
    assert!(out.stdout.contains("\n  journal: "), "{}", out.stdout);
    assert!(!out.stderr.contains("journal:"), "{}", out.stderr);

    let url = format!("http://127.0.0.1:{}/health", closed_port());
    let out = hello().param("url", &url).exec();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("✗ hello 0.1.0 failed in step `probe "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\n  hint: "), "{}", out.stdout);
    assert!(out.stdout.contains("\n  journal: "), "{}", out.stdout);
    assert!(!out.stderr.contains("failed in step"), "{}", out.stderr);
    assert!(
        out.stderr.contains("  ✗ probe "),
        "progress stays on stderr: {}",
        out.stderr
    );

    // drhost's own errors (the run did not get to an outcome) are on stderr.
    let out = Run::plugin("hello").config_toml("").exec();
    assert_eq!(out.code, 3);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let line = out.message_lines()[0];
    assert!(
        line.starts_with("drhost: plugin `hello` needs 2 grant(s)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("\n  journal: "), "{}", out.stderr);
}

/// Whether `text` holds an SGR (colour) escape: ESC [ digits/`;` m.
fn has_colour(text: &str) -> bool {
    text.split('\u{1b}').skip(1).any(|after| {
        after
            .strip_prefix('[')
            .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';'))
            .is_some_and(|rest| rest.starts_with('m'))
    })
}

/// On a terminal the marks are coloured; `NO_COLOR=1` takes every colour
/// away there too (an empty `NO_COLOR` counts as unset).
#[test]
fn no_color_on_a_terminal_prints_no_colour() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let on_terminal = |no_color: &str| {
        hello()
            .param("url", &url)
            .terminal()
            .env("NO_COLOR", no_color)
            .env("TERM", "xterm")
            .env("LANG", "C.UTF-8")
            .exec()
    };
    let coloured = on_terminal("");
    assert_eq!(coloured.code, 1, "{}", coloured.stdout);
    assert!(
        has_colour(&coloured.stdout),
        "colour on a terminal: {:?}",
        coloured.stdout
    );
    let plain = on_terminal("1");
    assert_eq!(plain.code, 1, "{}", plain.stdout);
    assert!(!has_colour(&plain.stdout), "NO_COLOR: {:?}", plain.stdout);
    assert!(
        plain.stdout.contains("✗"),
        "still the glyphs of a UTF-8 locale: {}",
        plain.stdout
    );
}

#[test]
fn no_color_and_a_c_locale_give_plain_ascii() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    for (ok, run) in [(true, hello()), (false, hello().param("url", &url))] {
        let out = run
            .env("NO_COLOR", "1")
            .env("LC_ALL", "")
            .env("LC_CTYPE", "")
            .env("LANG", "C")
            .exec();
        assert_eq!(out.code, if ok { 0 } else { 1 }, "{}", out.stderr);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains('\u{1b}'), "an escape code: {text:?}");
            assert!(text.is_ascii(), "not ASCII: {text}");
        }
        assert!(out.stderr.contains("  > say hello\n"), "{}", out.stderr);
        assert!(out.stderr.contains("  ok say hello ("), "{}", out.stderr);
        if ok {
            assert!(out.stdout.starts_with("ok hello 0.1.0: said hello ("), "{}", out.stdout);
        } else {
            assert!(out.stderr.contains("  FAIL probe "), "{}", out.stderr);
            assert!(
                out.stdout.starts_with("FAIL hello 0.1.0 failed in step"),
                "{}",
                out.stdout
            );
        }
    }
    // A UTF-8 locale in LC_CTYPE brings the glyphs back; a pipe never gets colour.
    let out = hello()
        .env("LC_ALL", "")
        .env("LC_CTYPE", "C.UTF-8")
        .env("LANG", "C")
        .exec();
    assert!(out.stdout.starts_with("✓ hello"), "{}", out.stdout);
    assert!(!out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'));
}

#[test]
fn durations_under_a_tenth_of_a_second_are_shown_in_ms() {
    let out = hello().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ms = events(&out.journal(), "step-end")[0]["duration_ms"].as_f64().unwrap();
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("  ✓ say hello ("))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let shown = line.trim_start_matches("  ✓ say hello (").trim_end_matches(')');
    if ms < 1.0 {
        assert_eq!(shown, "<1ms", "{ms} ms");
    } else if ms < 100.0 {
        assert_eq!(shown, format!("{}ms", ms as u64), "{ms} ms");
    } else {
        assert!(shown.ends_with('s') && shown.contains('.'), "{ms} ms shown as {shown}");
    }
}

#[test]
fn a_long_step_gets_a_live_counter_on_a_terminal_only() {
    // In a pipe: the plain step line, never a redraw.
    let out = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("3s")
        .exec();
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        !out.stderr.contains('\r') && !out.stderr.contains('\u{1b}'),
        "{:?}",
        out.stderr
    );
    assert!(!out.journal_text().contains('\r'));

    // On a terminal (script(1) gives drhost a pseudo-terminal).
    let journals = TmpDir::new("drhost-live-");
    let argv = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("3s")
        .argv(journals.path());
    let quote = |a: &std::ffi::OsStr| format!("'{}'", a.to_str().unwrap().replace('\'', r"'\''"));
    let command: Vec<String> = std::iter::once(cli::drhost_bin().into_os_string())
        .chain(argv)
        .map(|a| quote(&a))
        .collect();
    let out = std::process::Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .env("DRHOST_TRUST", cli::dev_trust_file())
        .env("DRHOST_LOCK", journals.path().join("drhost.lock"))
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script(1) from util-linux runs drhost on a terminal");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{screen}");
    assert!(
        screen.contains("\r\u{1b}[K"),
        "the counter is redrawn in place: {screen:?}"
    );
    assert!(screen.contains("▸ waiting forever … 2s"), "{screen:?}");
    assert!(
        screen.contains("\r\u{1b}[K\u{1b}[31mdrhost:\u{1b}[0m plugin `misbehave` ran past its deadline"),
        "the counter is erased before the error, which is coloured: {screen:?}"
    );
    let journal = std::fs::read_dir(journals.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(!text.contains("… 2s") && !text.contains('\r'), "never in the journal");
    assert_eq!(read_journal(&journal).last().unwrap()["status"], "sandbox-limit");
}

#[test]
fn a_cache_miss_says_it_compiles_and_a_hit_does_not() {
    let cache = TmpDir::new("drhost-cache-");
    let run = hello().cache_dir(&cache);
    let first = run.exec();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.starts_with("compiling hello.wasm (first run only)…\n"),
        "{}",
        first.stderr
    );
    assert_eq!(events(&first.journal(), "run-start")[0]["compile_cache"], "miss");
    let second = run.exec();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(!second.stderr.contains("compiling"), "{}", second.stderr);
    assert_eq!(events(&second.journal(), "run-start")[0]["compile_cache"], "hit");

    let quiet = TmpDir::new("drhost-cache-");
    let out = hello().cache_dir(&quiet).quiet().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "", "-q: not even the compiling line");
    assert_eq!(events(&out.journal(), "run-start")[0]["compile_cache"], "miss");
}

#[test]
fn prepare_verifies_and_compiles_so_the_first_run_hits_the_cache() {
    let cache = TmpDir::new("drhost-cache-");
    let bundle = TmpDir::new("drhost-bundle-");
    for (from, to) in [
        (plugin("hello"), "hello.wasm"),
        (fixture("misbehave"), "misbehave.wasm"),
    ] {
        std::fs::copy(from, bundle.path().join(to)).unwrap();
    }
    let prepare = |args: &[&Path]| {
        let mut argv: Vec<&Path> = vec![Path::new("prepare")];
        argv.extend(args);
        Run::cli(argv).cache_dir(&cache).exec()
    };
    let out = prepare(&[bundle.path()]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one line per plugin: {}", out.stdout);
    assert!(lines[0].starts_with(&format!(
        "✓ {}  hello 0.1.0  sha256:",
        bundle.path().join("hello.wasm").display()
    )));
    assert!(
        lines[0].ends_with("s)") && lines[0].contains("  compiled ("),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("  misbehave 0.1.0  sha256:"), "{}", lines[1]);
    assert!(
        out.stderr.contains(&format!("cache: {}", cache.path().display())),
        "{}",
        out.stderr
    );

    // The first run after it compiles nothing.
    let out = Run::wasm(bundle.path().join("hello.wasm"))
        .config_toml(HELLO_GRANTS)
        .cache_dir(&cache)
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("compiling"), "{}", out.stderr);
    assert_eq!(events(&out.journal(), "run-start")[0]["compile_cache"], "hit");

    // Again: already compiled.
    let out = prepare(&[&bundle.path().join("hello.wasm")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.trim_end().ends_with("  already compiled"), "{}", out.stdout);

    // What `run` would refuse, `prepare` refuses (and prepares the rest).
    let unsigned = bundle.path().join("random.wasm");
    std::fs::write(&unsigned, b"\0asm\x01\0\0\0").unwrap();
    let out = prepare(&[&unsigned, &bundle.path().join("hello.wasm")]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("✗ ") && out.stderr.contains("not a component"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let empty = TmpDir::new("drhost-empty-");
    let out = prepare(&[empty.path()]);
    assert_eq!(out.code, 2);
    assert!(
        out.message_lines()[0].contains("holds no *.wasm plugin"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreadable_config_names_the_path_and_the_fix_without_a_zero_place() {
    let dir = TmpDir::new("drhost-config-");
    let missing = dir.path().join("nowhere.toml");
    let out = hello().config(&missing).exec();
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "drhost: {}: cannot read the configuration: No such file or directory; check the path, or pass --config FILE / set DRHOST_CONFIG\n",
            missing.display()
        )
    );
    let out = hello().config(dir.path()).exec();
    assert_eq!(out.code, 2);
    let line = out.message_lines()[0].to_string();
    assert!(line.contains("Is a directory") && !line.contains(":0"), "{line}");
    assert!(journals(&out).is_empty(), "nothing ran, no journal");
}

#[test]
fn a_toml_syntax_error_is_one_line_with_line_and_column() {
    let out = Run::plugin("hello")
        .config_toml("[run]\ntimeout = \"15m\"\n[plugins.hello\n")
        .exec();
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("drhost.toml:3:15: invalid table header (expected `.`, `]`)"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_write_no_journal_but_refusals_do() {
    let dir = TmpDir::new("drhost-usage-");
    for out in [
        hello().param("colour", "blue").exec(),
        Run::fixture("misbehave").exec(),
        hello().timeout("0s").exec(),
        hello().arg("--no-such-flag").exec(),
        Run::wasm(dir.path().join("missing.wasm")).exec(),
        Run::plugin("hello").config_toml("[run]\nmemory = \"lots\"\n").exec(),
    ] {
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(journals(&out).is_empty(), "a journal for a usage error: {}", out.stderr);
        assert!(!out.stderr.contains("journal:"), "{}", out.stderr);
    }
    let out = Run::plugin("hello").config_toml("").exec();
    assert_eq!(out.code, 3);
    assert_eq!(journals(&out).len(), 1, "a refusal is journaled");
}

#[test]
fn trust_refusals_name_the_break_glass_override() {
    let dir = TmpDir::new("drhost-trust-");
    let empty_trust = dir.path().join("trust.toml");
    std::fs::write(&empty_trust, "").unwrap();
    let out = hello().trust(&empty_trust).exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let line = out.message_lines()[0];
    assert!(line.contains("has no trusted signature"), "{line}");
    assert!(line.contains("`drhost run --allow-unsigned`"), "{line}");
    let out = hello().trust(&empty_trust).allow_unsigned().exec();
    assert_eq!(out.code, 0, "the override it names works: {}", out.stderr);
}

#[test]
fn connection_errors_name_the_target_once_and_keep_their_kind() {
    let port = closed_port();
    let addr = format!("127.0.0.1:{port}");
    let targets = format!(
        r#"
[targets.redis.cache]
url = "redis://{addr}"
[[plugins.redis-poke.redis]]
target = "cache"
access = ["read"]

[targets.postgres.primary]
url = "postgresql://postgres@{addr}/app"
password = "env:DRHOST_TEST_NO_PASSWORD"
[[plugins.db-poke.postgres]]
target = "primary"
access = ["read"]

[targets.s3.backups]
endpoint = "http://{addr}"
region = "us-east-1"
bucket = "b"
path_style = true
access_key = "env:DRHOST_TEST_NO_PASSWORD"
secret_key = "env:DRHOST_TEST_NO_PASSWORD"
[[plugins.db-poke.s3]]
target = "backups"
prefixes = ["*"]
access = ["read"]

[targets.vault.main]
address = "http://{addr}"
token = "env:DRHOST_TEST_NO_PASSWORD"
[[plugins.vault-poke.vault]]
target = "main"
paths = ["secret/*"]
access = ["read"]
"#
    );
    let cfg = config(&targets);
    // (fixture, its parameters, the fact holding the error's kind, the one holding its message)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        ("redis-poke", &[], "open-error-kind", "open-error"),
        ("db-poke", &[("op", "query")], "error-kind", "error"),
        ("db-poke", &[("op", "s3-list")], "error-kind", "error"),
        ("vault-poke", &[("op", "read")], "error-kind", "error"),
    ];
    for (fixture_name, params, kind_fact, message_fact) in cases {
        let out = Run::fixture(fixture_name)
            .config(&cfg)
            .params(params)
            .env("DRHOST_TEST_NO_PASSWORD", "unused")
            .json()
            .exec();
        assert_eq!(out.code, 0, "{fixture_name}: {}", out.stderr);
        assert_eq!(out.fact(kind_fact).as_deref(), Some("unavailable"), "{fixture_name}");
        let message = out.fact(message_fact).unwrap();
        assert_eq!(
            message.matches(&addr).count(),
            1,
            "{fixture_name}: the address once: {message}"
        );
        assert!(message.ends_with(": Connection refused"), "{fixture_name}: {message}");
    }
    // http: the URL once (it used to come three times, in reqwest's wrappers).
    let url = format!("http://{addr}/health");
    let out = hello().param("url", &url).json().exec();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let call = events(&out.journal(), "call")
        .into_iter()
        .find(|c| c["call"] == "http.get")
        .unwrap()
        .clone();
    assert_eq!(call["outcome"]["error"]["kind"], "unavailable");
    assert_eq!(
        call["outcome"]["error"]["message"],
        format!("GET {url}: Connection refused")
    );
}

#[test]
fn completions_a_man_page_and_examples_in_help() {
    let bash = Run::cli(["completions", "bash"]).exec();
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    assert!(bash.stdout.contains("drhost,run)"), "completes `drhost run`");
    // Completing `drhost ru` and `drhost run --allow-u` in a real bash.
    let dir = TmpDir::new("drhost-completions-");
    let script = dir.path().join("drhost.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT={}; _drhost drhost '{}' '{}'; echo \"${{COMPREPLY[*]}}\"",
            script.display(),
            words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
            words.len() - 1,
            line.len(),
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &program])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("drhost ru"), "run runs");
    assert_eq!(complete("drhost prep"), "prepare");
    assert_eq!(complete("drhost run --allow-"), "--allow-unsigned --allow-downgrade");
    for shell in ["zsh", "fish"] {
        let out = Run::cli(["completions", shell]).exec();
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("prepare"), "{shell}: {}", out.stdout);
    }
    let out = Run::cli(["completions", "tcsh"]).exec();
    assert_eq!(out.code, 2);

    let man = Run::cli(["man"]).exec();
    assert_eq!(man.code, 0, "{}", man.stderr);
    let head: Vec<&str> = man.stdout.lines().take(4).collect();
    assert!(head.iter().any(|l| l.starts_with(".TH drhost 1 ")), "{head:?}");
    assert!(man.stdout.contains(".SH SUBCOMMANDS"), "{}", man.stdout);
    assert!(man.stdout.contains("Exit codes:"), "{}", man.stdout);
    for args in [vec!["--help"], vec!["run", "--help"]] {
        let help = Run::cli(args.clone()).exec();
        assert_eq!(help.code, 0, "{}", help.stderr);
        for code in [
            "  0  recovered",
            "  1  the plugin ran",
            "  2  usage",
            "  3  refused",
            "  4  sandbox",
            "  5  recovered, follow-up required",
            "130  interrupted",
        ] {
            assert!(help.stdout.contains(code), "{args:?} lacks `{code}`:\n{}", help.stdout);
        }
    }
    let run = Run::cli(["man", "run"]).exec();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH drhost-run 1 "), "{}", run.stdout);
    assert!(run.stdout.contains("allow\\-unsigned"), "{}", run.stdout);
    let out = Run::cli(["man", "nope"]).exec();
    assert_eq!(out.code, 2);
    assert!(
        out.message_lines()[0].contains("pages exist for run, resume, keygen"),
        "{}",
        out.stderr
    );

    for args in [&["--help"][..], &["run", "--help"]] {
        let out = Run::cli(args).exec();
        assert_eq!(out.code, 0);
        let examples = out.stdout.find("Examples:\n  drhost ").expect("an Examples: section");
        let exit_codes = out.stdout.find("Exit codes:").unwrap();
        assert!(examples < exit_codes, "{}", out.stdout);
    }
}

/// `drhost completions bash | true`: the reader is gone before drhost
/// writes; drhost ends quietly (killed by SIGPIPE, as `ls` would be), never
/// with a panic message.
#[test]
fn a_reader_that_leaves_early_gets_no_panic() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    // A pipe whose reading end is closed before drhost starts: its first
    // write finds no reader, whatever the timing.
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors, each owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let child = std::process::Command::new(cli::drhost_bin())
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.signal() == Some(libc::SIGPIPE), "{:?}: {stderr}", out.status);
}
