//! The foundation: the real `drhost` binary running real plugins in the
//! sandbox. Each test asserts the exit code, what the operator reads, and
//! the journal; shell tests also assert what happened on the machine.

use drhost_tests::cli::HELLO_GRANTS;
use std::time::Duration;

use drhost_tests::cli::{config, events, fixture, plugin, Run};
use drhost_tests::tmp::TmpDir;

#[test]
fn granted_shell_runs_and_every_event_is_journaled() {
    let cfg = config(HELLO_GRANTS);
    let hello = plugin("hello");
    let out = Run::wasm(&hello)
        .config(&cfg)
        .param("greeting", "hi there")
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "recovered");
    assert_eq!(out.fact("echo").as_deref(), Some("hi there"));
    assert!(report["run_id"].is_string());

    let journal = out.journal();
    assert_eq!(journal.first().unwrap()["event"], "run-start");
    assert_eq!(journal.last().unwrap()["event"], "run-end");
    let start = &journal[0];
    assert_eq!(start["plugin"]["id"], "hello");
    assert_eq!(start["plugin"]["version"], "0.1.0");
    let digest = start["plugin"]["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(start["grants"]["shell"][0]["program"], "echo");
    let calls = events(&journal, "call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call"], "shell.run");
    assert_eq!(calls[0]["args"]["args"][0], "hi there");
    assert_eq!(calls[0]["outcome"]["ok"]["exit_code"], 0);
    assert!(calls[0]["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(events(&journal, "step-end")[0]["ok"], true);
    assert_eq!(journal.last().unwrap()["exit_code"], 0);
    assert_eq!(
        report["journal"]
            .as_str()
            .map(std::path::Path::new)
            .unwrap()
            .parent()
            .unwrap(),
        out.journal_dir
    );
}

#[test]
fn denied_program_is_a_typed_refusal_naming_the_grant_and_runs_nothing() {
    let canary = std::env::temp_dir().join(format!("drhost-canary-denied-{}", std::process::id()));
    let _ = std::fs::remove_file(&canary);
    let cfg = config("[[plugins.misbehave.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n");
    let touch = Run::fixture("misbehave")
        .config(&cfg)
        .param("mode", "shell")
        .param("program", "touch")
        .param("args", canary.display().to_string());
    let out = touch.clone().json().exec();
    assert_eq!(
        out.code, 1,
        "the plugin handles the denial and reports failure: {}",
        out.stdout
    );
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("access-denied"), "{summary}");
    assert!(
        summary.contains("[[plugins.misbehave.shell]]\nprogram = \"touch\""),
        "{summary}"
    );
    assert!(!canary.exists(), "a denied program must not run");

    let journal = out.journal();
    let calls = events(&journal, "call");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["outcome"]["error"]["kind"], "access-denied");
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
    // On the terminal the denial shows the whole advice, not its first line.
    let out = touch.exec();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("    ! shell.run: access-denied: "))
        .unwrap_or_else(|| panic!("no denial line:\n{}", out.stderr));
    // The operator's screen names the config file this run read; the
    // plugin's copy (the summary above) says drhost.toml.
    assert!(
        lines[at].ends_with(&format!("to allow it add to {}:", cfg.display())),
        "{}",
        out.stderr
    );
    assert_eq!(lines[at + 1], "        [[plugins.misbehave.shell]]", "{}", out.stderr);
    assert_eq!(lines[at + 2], "        program = \"touch\"", "{}", out.stderr);
    // The last line does not repeat the advice as one line of `\n`s naming
    // drhost.toml: it points at the lines above.
    let last = out.stdout.lines().next().unwrap_or_default();
    assert!(
        last.contains("is not granted to plugin `misbehave`; the lines to add to the config are printed above ("),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("drhost.toml") && !out.stdout.contains("\\n"),
        "{}",
        out.stdout
    );
    // With -q nothing was printed above: it says where the lines are.
    let quiet = touch.arg("-q").exec();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    assert!(
        quiet
            .stdout
            .contains("; rerun without -q, or `drhost show RUN`, for the lines to add to the config ("),
        "{}",
        quiet.stdout
    );
}

#[test]
fn shell_metacharacters_are_plain_arguments() {
    let canary = std::env::temp_dir().join(format!("drhost-canary-argv-{}", std::process::id()));
    let _ = std::fs::remove_file(&canary);
    let cfg = config("[[plugins.misbehave.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n");
    let evil = format!(
        "hi; rm -rf /tmp/nothing; touch {0} && touch {0} > {0} $(touch {0}) `touch {0}`",
        canary.display()
    );
    let out = Run::fixture("misbehave")
        .config(&cfg)
        .json()
        .param("mode", "shell")
        .param("program", "echo")
        .param("args", &evil)
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.fact("stdout").as_deref(),
        Some(evil.as_str()),
        "echo received the string as one argument"
    );
    assert!(!canary.exists(), "nothing but echo ran");
}

#[test]
fn infinite_loop_is_stopped_at_the_deadline() {
    let out = Run::fixture("misbehave")
        .param("mode", "spin")
        .timeout("2s")
        .json()
        .exec();
    assert_eq!(out.code, 4, "{}", out.stdout);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains("deadline of 2s") && summary.contains("--timeout"),
        "{summary}"
    );
    assert!(
        out.elapsed < Duration::from_secs(3),
        "stopped within deadline + 1 s, took {:?}",
        out.elapsed
    );
    let journal = out.journal();
    assert_eq!(journal.last().unwrap()["status"], "sandbox-limit");
}

#[test]
fn memory_bomb_is_stopped_naming_the_limit() {
    let out = Run::fixture("misbehave")
        .param("mode", "memory")
        .memory("64MiB")
        .json()
        .exec();
    assert_eq!(out.code, 4, "{}", out.stdout);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains("memory limit of 64 MiB") && summary.contains("--memory"),
        "{summary}"
    );
    assert_eq!(out.journal().last().unwrap()["exit_code"], 4);
}

#[test]
fn guest_panic_is_a_trap_carrying_the_guests_message() {
    let out = Run::fixture("misbehave").param("mode", "panic").exec();
    assert_eq!(out.code, 4);
    let lines = out.message_lines();
    assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
    assert!(lines[0].contains("the plugin gave up on purpose"), "{}", lines[0]);
    let journal = out.journal();
    let output = events(&journal, "guest-output");
    assert!(
        output.iter().any(|e| e["stream"] == "stderr"),
        "the guest's stderr is journaled"
    );
}

#[test]
fn the_sandbox_has_no_ambient_authority() {
    // A listener the test owns: a socket that is "denied" must not be a
    // closed port refusing, and nothing may reach this one.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // drhost's own stdin carries data: the plugin must not see it.
    let out = Run::fixture("misbehave")
        .param("mode", "sandbox")
        .param("socket-port", &port)
        .json()
        .stdin(b"operator input the plugin must never read\n")
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the plugin reached a listener on 127.0.0.1"
    );
    for denied in ["etc-passwd", "scratch-parent", "dotdot-escape", "socket"] {
        let verdict = out.fact(denied).unwrap();
        assert!(verdict.starts_with("denied"), "{denied}: {verdict}");
    }
    assert_eq!(out.fact("env-count").as_deref(), Some("0"));
    assert_eq!(out.fact("args-count").as_deref(), Some("0"));
    assert_eq!(out.fact("stdin-bytes").as_deref(), Some("0"));
    assert_eq!(
        out.fact("scratch-write").as_deref(),
        Some("allowed"),
        "the scratch directory is writable"
    );
}

#[test]
fn not_a_component_is_refused_with_one_line() {
    let dir = TmpDir::new("drhost-not-a-component-");
    let random = dir.path().join("random.wasm");
    std::fs::write(
        &random,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    for (file, expect) in [
        (random, "is not WebAssembly"),
        (core, "is a core WebAssembly module, not a component"),
        (
            fixture("not-a-plugin"),
            "is not a drhost plugin: it exports wasi:cli/run",
        ),
    ] {
        let out = Run::wasm(&file).exec();
        assert_eq!(out.code, 3, "{}: {}", file.display(), out.stderr);
        let lines = out.message_lines();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(lines[0].contains(expect), "{}", lines[0]);
        // (A plugin compiled for the first time says so before the message.)
        assert_eq!(
            out.stderr.lines().filter(|l| !l.starts_with("compiling ")).count(),
            2,
            "one message plus the journal path: {}",
            out.stderr
        );
        let journal = out.journal();
        assert_eq!(journal.last().unwrap()["status"], "refused");
    }
}

#[test]
fn unsupported_contract_version_is_refused_naming_both() {
    let out = Run::fixture("future-contract").exec();
    assert_eq!(out.code, 3);
    let line = out.message_lines()[0];
    assert!(
        line.contains("drhost:runbook@0.9.0") && line.contains("drhost:runbook@0.1.2"),
        "{line}"
    );
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let cfg = config("[run]\ntimeout = \"15m\"\n\n[[plugins.hello.shell]]\nprogam = \"echo\"\n");
    let out = Run::plugin("hello").config(&cfg).exec();
    assert_eq!(out.code, 2);
    let line = out.message_lines()[0];
    assert!(line.contains(&format!("{}:5:", cfg.display())), "{line}");
    assert!(
        line.contains("progam") && line.contains("plugins.hello.shell"),
        "{line}"
    );
    let journals = std::fs::read_dir(&out.journal_dir).unwrap().count();
    assert_eq!(
        journals, 0,
        "a configuration error (exit 2: nothing ran) writes no journal"
    );
}

#[test]
fn missing_grants_are_refused_with_the_toml_that_grants_them() {
    let hello = plugin("hello");
    let empty = config("");
    let out = Run::wasm(&hello).config(&empty).exec();
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("shell echo (write), http 127.0.0.1:* (read)"),
        "{}",
        out.stderr
    );
    assert!(events(&out.journal(), "call").is_empty(), "nothing ran");

    // The printed lines, pasted into the config, are exactly what is needed.
    let toml: String = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("To grant them"))
        .skip(1)
        .take_while(|l| !l.starts_with("  journal:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let fixed = config(&toml);
    let again = Run::wasm(&hello).config(&fixed).exec();
    assert_eq!(
        again.code, 0,
        "pasting the suggested grant works:\n{toml}\n{}",
        again.stderr
    );
}

#[test]
fn parameters_are_checked_against_describe() {
    let cfg = config(HELLO_GRANTS);
    let out = Run::plugin("hello").config(&cfg).param("colour", "blue").exec();
    assert_eq!(out.code, 2);
    assert!(
        out.message_lines()[0].contains("has no parameter `colour`; it takes only greeting, url"),
        "{}",
        out.stderr
    );
    let out = Run::fixture("misbehave").exec();
    assert_eq!(out.code, 2);
    assert!(
        out.message_lines()[0].contains("needs parameter `mode`"),
        "{}",
        out.stderr
    );
}

#[test]
fn dropped_step_is_journaled_as_failed() {
    let out = Run::fixture("misbehave").param("mode", "step-dropped").exec();
    assert_eq!(out.code, 1);
    let journal = out.journal();
    let end = events(&journal, "step-end");
    assert_eq!(end.len(), 1);
    assert_eq!(end[0]["ok"], false);
    assert!(end[0]["reason"].as_str().unwrap().contains("without finishing"));
    // The plugin named no step in its failure: the host names the one it saw fail.
    assert_eq!(journal.last().unwrap()["failed_step"], "never finished");
    assert!(out.stdout.contains("failed in step `never finished`"), "{}", out.stdout);
}

/// Seconds since midnight of a journal `ts` (`…THH:MM:SS.mmmZ`), counting
/// whole days from `base`'s date so two stamps can be subtracted.
fn seconds(ts: &serde_json::Value, base: &serde_json::Value) -> f64 {
    let parse = |v: &serde_json::Value| {
        let text = v.as_str().expect("ts");
        let (date, time) = text.split_once('T').expect("RFC 3339");
        let time = time.trim_end_matches('Z');
        let mut parts = time.split(':').map(|p| p.parse::<f64>().expect("number"));
        let (h, m, s) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        (date.to_string(), h * 3600.0 + m * 60.0 + s)
    };
    let ((date, t), (base_date, _)) = (parse(ts), parse(base));
    if date == base_date {
        t
    } else {
        t + 86_400.0
    }
}

#[test]
fn a_deadline_names_the_step_it_interrupted() {
    let out = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("2s")
        .json()
        .exec();
    assert_eq!(out.code, 4, "{}", out.stdout);
    let report = out.json();
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("deadline of 2s"), "{summary}");
    assert!(summary.contains("in step `waiting forever`, running for"), "{summary}");
    assert_eq!(report["failed_step"], "waiting forever");
    let journal = out.journal();
    let end = events(&journal, "step-end");
    assert_eq!(end.len(), 1, "the open step is closed by the host");
    assert_eq!(end[0]["ok"], false);
    assert_eq!(end[0]["reason"], "the sandbox stopped the plugin");
    // What the deadline measures: from the plugin's first step (the run
    // starts just before it) to the stop, not the process with its set-up.
    let start = events(&journal, "step-start")[0];
    let stopped = seconds(&end[0]["ts"], &start["ts"]) - seconds(&start["ts"], &start["ts"]);
    assert!(
        (1.9..2.6).contains(&stopped),
        "stopped {stopped:.2}s after the step began"
    );
    assert_eq!(journal.last().unwrap()["failed_step"], "waiting forever");
}

#[test]
fn inspect_reports_identity_needs_and_imports_without_running() {
    let hello = plugin("hello");
    let out = Run::inspect(&hello).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["id"], "hello");
    assert_eq!(v["version"], "0.1.0");
    assert_eq!(v["contract"], "0.2.0");
    assert!(v["description"].as_str().unwrap().contains("echo"));
    assert_eq!(v["parameters"][0]["name"], "greeting");
    assert_eq!(v["parameters"][0]["default"], "hello from drhost");
    assert_eq!(v["capabilities"][0]["capability"], "shell");
    assert_eq!(v["capabilities"][0]["target"], "echo");
    assert!(v["imports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i == "drhost:runbook/shell@0.2.0"));
    let bytes = std::fs::read(&hello).unwrap();
    assert_eq!(v["size"], bytes.len());
    let digest = v["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    let out = Run::inspect(fixture("future-contract")).exec();
    assert_eq!(out.code, 3);
}

#[test]
fn http_probe_reaches_granted_hosts_only() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf);
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .unwrap();
    });
    let cfg = config(HELLO_GRANTS);
    let url = format!("http://127.0.0.1:{port}/health");
    let out = Run::plugin("hello").config(&cfg).param("url", &url).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.fact("http-status").as_deref(), Some("200"));
    server.join().unwrap();

    let narrow = config(HELLO_GRANTS);
    let out = Run::plugin("hello")
        .config(&narrow)
        .param("url", "http://localhost:1/")
        .json()
        .exec();
    assert_eq!(out.code, 1);
    let journal = out.journal();
    let call = events(&journal, "call")
        .into_iter()
        .find(|c| c["call"] == "http.get")
        .unwrap()
        .clone();
    assert_eq!(call["outcome"]["error"]["kind"], "access-denied");

    // A granted host where nothing listens is `unavailable`, not a hang.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Run::plugin("hello")
        .config(&narrow)
        .param("url", format!("http://127.0.0.1:{dead}/"))
        .json()
        .exec();
    assert_eq!(out.code, 1);
    let journal = out.journal();
    let call = events(&journal, "call")
        .into_iter()
        .find(|c| c["call"] == "http.get")
        .unwrap()
        .clone();
    assert_eq!(call["outcome"]["error"]["kind"], "unavailable");
}

/// Changes one byte in the middle of the file at `path`, in place: same
/// name, same inode, same length.
fn flip_middle_byte(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(path, &bytes).unwrap();
}

/// What the compile cache did for a successful run: `hit` or `miss`.
fn compile_cache(out: &drhost_tests::cli::Outcome) -> String {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    events(&out.journal(), "run-start")[0]["compile_cache"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn second_run_uses_the_compile_cache() {
    let cache = TmpDir::new("drhost-cache-");
    let hello = plugin("hello");
    let cfg = config(HELLO_GRANTS);
    let run = Run::wasm(&hello).config(&cfg).cache_dir(&cache);
    assert_eq!(compile_cache(&run.exec()), "miss", "the first run compiles");
    let mut cached: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    cached.sort();
    let digest = Run::inspect(&hello).json().exec().json()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    assert_eq!(cached.len(), 2, "a compiled component and its checksum: {cached:?}");
    assert!(
        cached[0].starts_with(&digest) && cached[0].ends_with(".cwasm"),
        "{cached:?}"
    );
    assert_eq!(cached[1], format!("{}.sha256", cached[0]));
    assert_eq!(
        compile_cache(&run.exec()),
        "hit",
        "the second run loads the cached compilation"
    );
    // A compilation changed on disk is native code nobody vouches for: it
    // is not loaded; the plugin is compiled again (and the cache repaired).
    flip_middle_byte(&cache.path().join(&cached[0]));
    assert_eq!(
        compile_cache(&run.exec()),
        "miss",
        "a tampered compilation is not loaded"
    );
    assert_eq!(compile_cache(&run.exec()), "hit", "the cache was repaired");
}

/// A cached run of an unchanged plugin hashes nothing: the plugin's digests
/// and the compilation's checksum are remembered by the files' stamps once
/// they have settled. A file changed in place, with its length kept, is
/// hashed again: a changed plugin is refused, a changed compilation is not
/// loaded.
#[test]
fn hashes_are_remembered_only_while_the_files_are_unchanged() {
    let cache = TmpDir::new("drhost-cache-");
    let dir = TmpDir::new("drhost-plugin-");
    let hello = dir.path().join("hello.wasm");
    let original = std::fs::read(plugin("hello")).unwrap();
    std::fs::write(&hello, &original).unwrap();
    let cfg = config(HELLO_GRANTS);
    let run = Run::wasm(&hello).config(&cfg).cache_dir(&cache);
    assert_eq!(compile_cache(&run.exec()), "miss");
    let sum_file = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".sha256"))
        .unwrap();
    let memos = cache.path().join("digests");
    // Just written: nothing is remembered yet (a coarse file-system clock
    // could hide a second write within the same tick).
    assert_eq!(compile_cache(&run.exec()), "hit");
    assert!(!memos.exists());
    assert_eq!(std::fs::read_to_string(&sum_file).unwrap().lines().count(), 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(compile_cache(&run.exec()), "hit");
    assert_eq!(
        std::fs::read_dir(&memos).unwrap().count(),
        1,
        "the plugin's digests are remembered"
    );
    assert_eq!(
        std::fs::read_to_string(&sum_file).unwrap().lines().count(),
        2,
        "the compilation's stamp is remembered beside its checksum"
    );
    assert_eq!(compile_cache(&run.exec()), "hit", "remembered hashes load the same");

    // The compilation changed in place, same length: checked again, not loaded.
    flip_middle_byte(&sum_file.with_extension(""));
    assert_eq!(
        compile_cache(&run.exec()),
        "miss",
        "a tampered compilation is not loaded"
    );

    // The plugin changed in place, same length, after its digests were
    // remembered: hashed again, so its signature no longer covers it.
    let mut tampered = original.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    std::fs::write(&hello, &tampered).unwrap();
    let out = run.exec();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&tampered))
    );
    let journal = out.journal();
    let start = &events(&journal, "run-start")[0];
    assert_eq!(
        start["plugin"]["digest"],
        digest.as_str(),
        "the digest of the bytes as they are now"
    );
}

/// Serves `count` HTTP requests on 127.0.0.1 with `status`, then stops.
fn serve(status: u16, count: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for _ in 0..count {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            stream.write_all(reply.as_bytes()).unwrap();
        }
    });
    (port, handle)
}

#[test]
fn a_python_plugin_runs_under_the_same_contract() {
    let py = drhost_tests::cli::repo_root().join("examples/python-probe/py-probe.wasm");
    assert!(py.exists(), "{} is missing: run `make build`", py.display());
    let inspect = Run::inspect(&py).json().exec();
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    assert_eq!(inspect.json()["id"], "py-probe");

    let cfg = config("[[plugins.py-probe.http]]\nhost = \"127.0.0.1:*\"\n");
    let (port, server) = serve(200, 1);
    let url = format!("http://127.0.0.1:{port}/health");
    let out = Run::wasm(&py).config(&cfg).json().param("urls", &url).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact(&url).as_deref(), Some("200"));
    server.join().unwrap();
    let journal = out.journal();
    assert_eq!(events(&journal, "call")[0]["call"], "http.get");
    assert_eq!(events(&journal, "step-end")[0]["ok"], true);

    let (port, server) = serve(503, 1);
    let url = format!("http://127.0.0.1:{port}/health");
    let out = Run::wasm(&py).config(&cfg).json().param("urls", &url).exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.json()["summary"].as_str().unwrap().contains(&url));
    server.join().unwrap();
}

#[test]
fn version_names_the_contract_and_a_zero_deadline_is_a_usage_error() {
    let out = Run::cli(["--version"]).exec();
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout.trim(), "drhost 0.1.0 (plugin contract drhost:runbook@0.2.0)");
    let out = Run::plugin("hello").timeout("0s").exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`0s` is no time at all"), "{}", out.stderr);
    let journals = std::fs::read_dir(&out.journal_dir).unwrap().count();
    assert_eq!(journals, 0, "a usage error writes no journal");
}

#[test]
fn a_plugin_over_the_memory_cap_at_start_is_a_limit_not_an_incompatible_plugin() {
    // misbehave's initial memory is about 1.1 MiB.
    let out = Run::fixture("misbehave")
        .param("mode", "panic")
        .memory("1MiB")
        .json()
        .exec();
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert_eq!(
        summary,
        "the plugin needs more memory than the limit of 1 MiB just to start (raise it with --memory or [run] memory)"
    );
}

/// The TOML printed with a refusal is valid and grants what was missing, for
/// every shipped plugin: pasted into an empty drhost.toml, nothing is left
/// to refuse (checked with the host's own policy, then by running the
/// binary again in plan mode with the advice as its config).
#[test]
fn the_refusal_advice_of_every_shipped_plugin_is_valid_toml_that_grants_its_needs() {
    use drhost::bindings::types::{Access, Need};
    let plugins = std::fs::read_dir(drhost_tests::cli::repo_root().join("plugins")).unwrap();
    let mut checked = 0;
    for entry in plugins {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let id = file.file_stem().unwrap().to_str().unwrap().to_string();
        let wasm = plugin(&id);
        let described = Run::inspect(&wasm).json().exec().json();
        // A parameter without a default must be given, or the run is a
        // usage error (2) before its grants are looked at.
        let required: Vec<(String, String)> = described["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["default"].is_null())
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    "/nonexistent/drhost-advice-test".to_string(),
                )
            })
            .collect();
        let required: Vec<(&str, &str)> = required.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let empty = config("");
        let out = Run::wasm(&wasm).config(&empty).params(&required).exec();
        assert_eq!(out.code, 3, "{id}: {}", out.stderr);
        let advice: String = out
            .stderr
            .split_once("add to ")
            .and_then(|(_, rest)| rest.split_once(":\n"))
            .map(|(_, toml)| {
                toml.lines()
                    .filter(|l| !l.starts_with("  journal: "))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|| panic!("{id}: no advice in {}", out.stderr));
        let pasted = drhost::config::Config::parse(std::path::Path::new("pasted.toml"), &advice)
            .unwrap_or_else(|e| panic!("{id}: the advice is not a valid drhost.toml ({e}):\n{advice}"));
        let needs: Vec<Need> = described["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Need {
                capability: c["capability"].as_str().unwrap().into(),
                target: c["target"].as_str().unwrap().into(),
                access: match c["access"].as_str().unwrap() {
                    "read" => Access::Read,
                    "write" => Access::Write,
                    _ => Access::Admin,
                },
                why: String::new(),
            })
            .collect();
        let left = drhost::policy::missing_grants(&id, &needs, &pasted.grants_for(&id));
        assert!(
            left.is_empty(),
            "{id}: still missing after pasting the advice: {left:?}\n{advice}"
        );
        // And the binary agrees: with the advice pasted it is no longer
        // refused (3) nor a broken config (2). A plan changes nothing; the
        // advice's example endpoints may fail or time out (1, 4).
        let with_advice = config(&advice);
        let rerun = Run::wasm(&wasm)
            .config(&with_advice)
            .params(&required)
            .arg("--plan")
            .timeout("5s")
            .exec();
        assert!(
            ![2, 3].contains(&rerun.code),
            "{id}: with the advice pasted, exit {}: {}\n{advice}",
            rerun.code,
            rerun.stderr
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} shipped plugins found");
}

/// Ctrl-C at 3 a.m.: the run ends through `run-end` (status `interrupted`,
/// exit 130), the open step is closed in the journal, and the operator is
/// told which step was interrupted.
/// A misbehave run spinning inside a step, sent `signal` once it is in
/// the step: it must end with exit 130, saying which signal and step, the
/// steps done on one line, and a journal that ends with run-end
/// `interrupted` after the open step was closed for that reason.
fn interrupted_in_step(signal: libc::c_int, name: &str) -> drhost_tests::cli::Outcome {
    use drhost_tests::cli::read_journal;
    let running = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("60s")
        .spawn();
    let started = std::time::Instant::now();
    while !std::fs::read_dir(running.journal_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("\"step-start\"")))
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the plugin never started its step"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(running.id() as i32, signal) }, 0);
    let out = running.wait();
    let stderr = &out.stderr;
    assert_eq!(out.code, 130, "{stderr}");
    assert!(stderr.contains(&format!("interrupted by {name}")), "{stderr}");
    assert!(stderr.contains("it was in step `waiting forever`"), "{stderr}");
    // What was done, on one line before the journal's path.
    let steps = stderr
        .lines()
        .find(|l| l.starts_with("  steps: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(steps.contains("waiting forever ("), "{steps}");
    let journal = read_journal(&out.journal_path().unwrap());
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end", "the journal ends with run-end");
    assert_eq!(end["status"], "interrupted");
    assert_eq!(end["exit_code"], 130);
    assert_eq!(end["failed_step"], "waiting forever");
    let step_end = events(&journal, "step-end");
    assert_eq!(step_end.len(), 1);
    assert_eq!(step_end[0]["reason"], format!("interrupted by {name}"));
    out
}

#[test]
fn ctrl_c_ends_the_run_with_a_complete_journal() {
    let out = interrupted_in_step(libc::SIGINT, "SIGINT (Ctrl-C)");
    assert!(out.stderr.contains("(Ctrl-C again to force)"), "{}", out.stderr);
}

/// A supervisor's SIGTERM (systemd stopping a unit, `kill`) ends the run as
/// Ctrl-C does.
#[test]
fn sigterm_ends_the_run_like_ctrl_c() {
    interrupted_in_step(libc::SIGTERM, "SIGTERM");
}

/// The one `confirm.ask` call of a misbehave `mode=confirm` run.
fn confirm_call(out: &drhost_tests::cli::Outcome) -> serde_json::Value {
    let journal = out.journal();
    let asked = drhost_tests::cli::calls(&journal, "confirm.ask");
    assert_eq!(asked.len(), 1, "{}", out.journal_text());
    asked[0].clone()
}

#[test]
fn yes_approves_and_the_journal_says_it_was_yes() {
    let out = Run::fixture("misbehave").param("mode", "confirm").yes().json().exec();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.fact("approved").as_deref(), Some("yes"));
    let call = confirm_call(&out);
    assert_eq!(call["args"]["question"], "drop the pretend table?");
    assert_eq!(
        call["outcome"]["ok"],
        serde_json::json!({ "approved": true, "by": "--yes" })
    );
}

#[test]
fn without_a_terminal_and_without_yes_the_answer_is_never_a_silent_yes() {
    // "y" arrives on a pipe: no terminal, so nobody was asked and nothing
    // may be read as an approval.
    let out = Run::fixture("misbehave")
        .param("mode", "confirm")
        .stdin("y\n")
        .json()
        .exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("no answer") && summary.contains("--yes"), "{summary}");
    let call = confirm_call(&out);
    assert_eq!(call["outcome"]["error"]["kind"], "unavailable", "{call}");
    assert!(out.fact("approved").is_none());
}

#[test]
fn the_operator_at_a_terminal_declines_or_approves() {
    let declined = Run::fixture("misbehave")
        .param("mode", "confirm")
        .terminal()
        .stdin("n\n")
        .exec();
    assert_eq!(declined.code, 1, "{}", declined.stdout);
    assert!(
        declined.stdout.contains("? drop the pretend table? [y/N]"),
        "{}",
        declined.stdout
    );
    assert!(declined.stdout.contains("the operator declined"), "{}", declined.stdout);
    let call = confirm_call(&declined);
    assert_eq!(
        call["outcome"]["ok"],
        serde_json::json!({ "approved": false, "by": "operator" })
    );

    // Anything but y/yes is a no, an empty line included.
    let empty = Run::fixture("misbehave")
        .param("mode", "confirm")
        .terminal()
        .stdin("\n")
        .exec();
    assert_eq!(empty.code, 1, "{}", empty.stdout);
    assert_eq!(confirm_call(&empty)["outcome"]["ok"]["approved"], false);

    let approved = Run::fixture("misbehave")
        .param("mode", "confirm")
        .terminal()
        .stdin("yes\n")
        .exec();
    assert_eq!(approved.code, 0, "{}", approved.stdout);
    let call = confirm_call(&approved);
    assert_eq!(
        call["outcome"]["ok"],
        serde_json::json!({ "approved": true, "by": "operator" })
    );
}

/// Plan mode answers a plugin's `confirm` itself (nobody is asked; the
/// question is listed) and records a granted program instead of running it.
#[test]
fn plan_mode_runs_no_program_and_asks_nobody() {
    let canary = std::env::temp_dir().join(format!("drhost-canary-plan-{}", std::process::id()));
    let _ = std::fs::remove_file(&canary);
    let cfg = config("[[plugins.misbehave.shell]]\nprogram = \"touch\"\nargs = [\"**\"]\n");
    let out = Run::fixture("misbehave")
        .config(&cfg)
        .param("mode", "shell")
        .param("program", "touch")
        .param("args", canary.display().to_string())
        .arg("--plan")
        .json()
        .exec();
    assert!(!canary.exists(), "plan mode ran the program");
    let report = out.json();
    assert_eq!(report["plan"]["total"], 1, "{report}");
    let change = report["plan"]["changes"][0].as_str().unwrap();
    assert!(change.starts_with("shell.run ") && change.contains("touch"), "{change}");
    let journal = out.journal();
    let run = events(&journal, "call");
    assert_eq!(run[0]["outcome"]["error"]["kind"], "planned", "{}", run[0]);

    // No terminal and no --yes: a live run's confirm is refused; a plan's is
    // answered by the plan, and listed.
    let out = Run::fixture("misbehave").param("mode", "confirm").arg("--plan").exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("would ask the operator [misbehave:0dfc4618]: drop the pretend table?"),
        "{}",
        out.stderr
    );
    let journal = out.journal();
    let asked = events(&journal, "call");
    assert_eq!(asked[0]["outcome"]["ok"]["by"], "plan", "{}", asked[0]);
}

/// A plan is truthful about grants: a change the live run would be refused
/// is refused in the plan too (access-denied, not listed), and only a
/// granted change is listed as planned.
#[test]
fn a_plan_never_lists_a_change_the_grants_refuse() {
    let canary = std::env::temp_dir().join(format!("drhost-canary-plan-denied-{}", std::process::id()));
    let _ = std::fs::remove_file(&canary);
    let cfg = config("[[plugins.misbehave.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n");
    let plan = |program: &str, arg: &str| {
        Run::fixture("misbehave")
            .config(&cfg)
            .param("mode", "shell")
            .param("program", program)
            .param("args", arg)
            .arg("--plan")
            .json()
            .exec()
    };
    let out = plan("touch", &canary.display().to_string());
    assert!(!canary.exists());
    let report = out.json();
    assert_eq!(report["plan"]["total"], 0, "{report}");
    let journal = out.journal();
    let call = &events(&journal, "call")[0];
    assert_eq!(call["outcome"]["error"]["kind"], "access-denied", "{call}");
    assert!(
        out.stderr.contains("shell.run: access-denied: shell program `touch`"),
        "{}",
        out.stderr
    );

    let out = plan("echo", "planned");
    let report = out.json();
    assert_eq!(report["plan"]["total"], 1, "{report}");
    assert_eq!(events(&out.journal(), "call")[0]["outcome"]["error"]["kind"], "planned");
}
