//! Run history through the real binary: `drhost runs` lists what real runs
//! left in a journal directory, `drhost show` renders one journal as a
//! timeline (or follows it while it is written). Each test runs real
//! plugins into its own journal directory, then asserts what the two
//! commands print, against the journals themselves, and their exit codes.
//! Nothing here touches the lab's services.

use drhost_tests::cli::HELLO_GRANTS;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drhost::history::human_duration;
use drhost_tests::cli::{read_journal, Outcome, Run, Running};
use drhost_tests::tmp::TmpDir;
use serde_json::{json, Value};

/// `drhost ARGS… --journal-dir DIR`.
fn history(args: &[&str], dir: &Path) -> Run {
    Run::cli(args).arg("--journal-dir").arg(dir)
}

/// A recovered run of `hello` and then a failed run of `misbehave` in `dir`;
/// their outcomes, in that order.
fn hello_then_failure(dir: &Path) -> (Outcome, Outcome) {
    let hello = Run::plugin("hello").config_toml(HELLO_GRANTS).journal_dir(dir).exec();
    assert_eq!(hello.code, 0, "{}", hello.stderr);
    let failed = Run::fixture("misbehave")
        .param("mode", "step-dropped")
        .journal_dir(dir)
        .exec();
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    (hello, failed)
}

/// The journal files in `dir` whose name contains `part`.
fn journal_of(dir: &Path, part: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(part))
        .collect();
    assert_eq!(found.len(), 1, "one journal of {part} in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

fn run_id(journal: &Path) -> String {
    journal.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Waits until a run in `dir` has journaled its first `step-start`.
fn wait_for_step(dir: &Path) -> PathBuf {
    let started = Instant::now();
    loop {
        let file = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "jsonl"));
        if let Some(file) = file.filter(|f| std::fs::read_to_string(f).unwrap().contains("\"step-start\"")) {
            return file;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the plugin never started its step"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `running` to exit, at most `limit`: a `--follow` that never
/// returns fails the test instead of hanging it.
fn wait_within(mut running: Running, limit: Duration) -> Outcome {
    let started = Instant::now();
    while !running.finished() {
        if started.elapsed() > limit {
            // SAFETY: signals our own child process.
            unsafe { libc::kill(running.id() as i32, libc::SIGKILL) };
            let out = running.wait();
            panic!("drhost did not return within {limit:?}; it printed:\n{}", out.stdout);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    running.wait()
}

/// CPU time (user + system, in clock ticks) process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn runs_lists_each_run_newest_first_with_its_plugin_status_and_duration() {
    let dir = TmpDir::new("drhost-history-");
    hello_then_failure(&dir);
    let hello_journal = read_journal(&journal_of(&dir, "-hello-"));
    let failed_journal = read_journal(&journal_of(&dir, "-misbehave-"));

    let out = history(&["runs"], &dir).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let runs = out.json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    for (run, journal, id, status, exit) in [
        (&runs[0], &failed_journal, "misbehave", "failed", 1),
        (&runs[1], &hello_journal, "hello", "recovered", 0),
    ] {
        let (start, end) = (&journal[0], journal.last().unwrap());
        assert_eq!(run["schema"], 1);
        assert_eq!(run["plugin"], id);
        assert_eq!(run["version"], "0.1.0");
        assert_eq!(run["status"], status);
        assert_eq!(run["exit_code"], exit);
        assert_eq!(run["run_id"], start["run"]);
        assert_eq!(run["started"], start["ts"]);
        assert_eq!(run["ended"], end["ts"]);
        assert_eq!(run["duration_ms"], end["wall_ms"]);
        assert!(Path::new(run["journal"].as_str().unwrap()).is_file());
    }
    assert_eq!(runs[0]["failed_step"], "never finished");
    assert_eq!(runs[0]["summary"], "left a step open");

    let table = history(&["runs"], &dir).exec();
    assert_eq!(table.code, 0, "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two runs:\n{}", table.stdout);
    assert!(lines[0].starts_with("STARTED (UTC)"), "{}", table.stdout);
    for (line, run) in lines[1..].iter().zip(runs) {
        let duration = human_duration(run["duration_ms"].as_f64().unwrap());
        let cells = [
            run["run_id"].as_str().unwrap(),
            run["plugin"].as_str().unwrap(),
            run["status"].as_str().unwrap(),
            &duration,
        ];
        for cell in cells {
            assert!(line.contains(cell), "`{cell}` missing from: {line}");
        }
    }

    let only_hello = history(&["runs", "--plugin", "hello"], &dir).json().exec();
    let only_hello = only_hello.json();
    assert_eq!(only_hello.as_array().unwrap().len(), 1);
    assert_eq!(only_hello[0]["plugin"], "hello");
    let newest = history(&["runs", "--limit", "1"], &dir).exec();
    assert_eq!(newest.stdout.lines().count(), 2, "{}", newest.stdout);
    assert!(newest.stdout.contains("misbehave"), "{}", newest.stdout);
    assert!(newest.stderr.contains("1 older runs not shown"), "{}", newest.stderr);
}

#[test]
fn show_prints_each_runs_steps_calls_and_end_status() {
    let dir = TmpDir::new("drhost-history-");
    hello_then_failure(&dir);
    let hello = journal_of(&dir, "-hello-");
    let failed = journal_of(&dir, "-misbehave-");

    let out = history(&["show", &run_id(&hello)], &dir).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = &out.stdout;
    for expected in [
        "hello 0.1.0",
        "▸ say hello",
        "shell.run program=echo args=[\"hello from drhost\"] → ok exit_code=0",
        "· hello from drhost",
        "✓ say hello (",
        "✓ recovered (exit 0) after ",
        ": said hello",
        "echo: hello from drhost",
        "locked shell:echo",
    ] {
        assert!(text.contains(expected), "`{expected}` missing from:\n{text}");
    }
    let stamps = text.lines().filter(|l| l.starts_with("+00:00.")).count();
    assert_eq!(stamps, 6, "one stamped line per event after run-start:\n{text}");

    // A unique prefix, `latest` and the journal's path all name the failed run.
    let prefix = &run_id(&failed)[..run_id(&failed).len() - 2];
    for run in [prefix, "latest", failed.to_str().unwrap()] {
        let out = history(&["show", run], &dir).exec();
        assert_eq!(out.code, 0, "{run}: {}", out.stderr);
        for expected in [
            "misbehave 0.1.0",
            "params: mode=step-dropped",
            "▸ never finished",
            "✗ never finished (",
            "the plugin dropped the step without finishing it",
            "✗ failed (exit 1) after ",
            "in step `never finished`: left a step open",
        ] {
            assert!(
                out.stdout.contains(expected),
                "{run}: `{expected}` missing from:\n{}",
                out.stdout
            );
        }
    }

    let json = history(&["show", "latest"], &dir).json().exec();
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(
        json.json(),
        Value::Array(read_journal(&failed)),
        "--json is the journal's events"
    );
}

/// A synthetic journal of a plugin that polled a health URL 162 times over
/// 38 s before it answered (a display test: the events are what the host
/// writes for `http.get`).
fn polling_journal(dir: &Path) -> PathBuf {
    let id = "20261130T100000Z-poller-0001";
    let ts = |ms: u64| {
        format!(
            "2026-11-30T10:{:02}:{:02}.{:03}Z",
            ms / 60_000,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let call = |ms: u64, outcome: Value| {
        json!({ "ts": ts(ms), "run": id, "event": "call", "call": "http.get",
                "args": { "url": "http://127.0.0.1:9/health", "timeout_ms": 2000 },
                "duration_ms": 4.0, "outcome": outcome })
    };
    let mut events = vec![
        json!({ "ts": ts(0), "run": id, "event": "run-start", "plugin": { "id": "poller", "version": "1.0.0" } }),
        json!({ "ts": ts(500), "run": id, "event": "step-start", "step": "wait for the service" }),
    ];
    for i in 0..162u64 {
        let message = format!("connection refused (attempt {})", i + 1);
        events.push(call(
            1000 + i * 238,
            json!({ "error": { "kind": "unavailable", "message": message } }),
        ));
    }
    events.push(call(39_500, json!({ "ok": { "status": 200 } })));
    events.push(json!({ "ts": ts(39_600), "run": id, "event": "step-end", "step": "wait for the service", "ok": true, "duration_ms": 39100.0 }));
    events.push(json!({ "ts": ts(39_700), "run": id, "event": "run-end", "status": "recovered", "exit_code": 0,
                        "summary": "the service answers", "facts": [{ "name": "time-to-recovery", "value": "39.1 s" }], "wall_ms": 39700 }));
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    let path = dir.join(format!("{id}.jsonl"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn show_collapses_polling_repeats_into_one_line() {
    let dir = TmpDir::new("drhost-history-");
    let journal = polling_journal(&dir);
    let out = history(&["show", "latest"], &dir).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let calls: Vec<&str> = out.stdout.lines().filter(|l| l.contains("http.get")).collect();
    assert_eq!(
        calls.len(),
        2,
        "162 polls on one line, the answer on another:\n{}",
        out.stdout
    );
    assert!(
        calls[0].contains(
            "http.get url=http://127.0.0.1:9/health timeout_ms=2000 — polled 162× over 38.3 s, last: unavailable: connection refused (attempt 162)"
        ),
        "{}",
        calls[0]
    );
    assert!(
        calls[0].starts_with("+00:01.000"),
        "stamped with the first poll: {}",
        calls[0]
    );
    assert!(calls[1].contains("→ ok status=200 (4 ms)"), "{}", calls[1]);
    assert!(out.stdout.lines().count() < 10, "{}", out.stdout);

    // The display collapses; the JSON does not.
    let json = history(&["show", "latest"], &dir).json().exec();
    assert_eq!(json.json().as_array().unwrap().len(), read_journal(&journal).len());
    let listed = history(&["runs"], &dir).json().exec().json();
    assert_eq!(listed[0]["time_to_recovery"], "39.1 s");
}

#[test]
fn plugin_text_with_escape_sequences_is_shown_escaped() {
    let dir = TmpDir::new("drhost-history-");
    let out = Run::fixture("noisy").journal_dir(&dir).exec();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.journal_text().contains("\\u001b[2J"),
        "the journal keeps the plugin's text as it was"
    );
    for args in [vec!["show", "latest"], vec!["runs"]] {
        let shown = history(&args, &dir).exec();
        assert_eq!(shown.code, 0, "{}", shown.stderr);
        for text in [&shown.stdout, &shown.stderr] {
            for raw in ['\u{1b}', '\r', '\u{202e}', '\u{9b}'] {
                assert!(!text.contains(raw), "{args:?} printed {raw:?} raw:\n{text}");
            }
        }
    }
    let shown = history(&["show", "latest"], &dir).exec().stdout;
    assert!(
        shown.contains("[info] log \\u{1b}[2J\\u{1b}[H\\u{d}drhost: plugin verified"),
        "{shown}"
    );
    assert!(shown.contains("hint: hint \\u{1b}[2J"), "{shown}");
}

#[test]
fn show_follow_keeps_reading_a_running_journal_until_its_run_end() {
    let dir = TmpDir::new("drhost-history-");
    let running = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("5s")
        .journal_dir(&dir)
        .spawn();
    let journal = wait_for_step(&dir);

    let listed = history(&["runs"], &dir).json().exec().json();
    assert_eq!(listed[0]["status"], "running", "{listed:#}");
    assert_eq!(listed[0]["ended"], Value::Null);
    let table = history(&["runs"], &dir).exec().stdout;
    assert!(table.contains(" running "), "{table}");
    let once = history(&["show", "latest"], &dir).exec().stdout;
    assert!(once.contains("still running: `drhost show --follow RUN`"), "{once}");

    let mut follower = history(&["show", "--follow", "latest"], &dir).spawn();
    std::thread::sleep(Duration::from_secs(2));
    assert!(!follower.finished(), "--follow returned while the run was still going");
    let cpu = cpu_ticks(follower.id());
    assert!(cpu < 30, "--follow used {cpu} ticks of CPU in 2 s: it busy-loops");
    let ran = running.wait();
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    let followed = wait_within(follower, Duration::from_secs(10));
    assert_eq!(followed.code, 0, "{}", followed.stderr);
    let end = read_journal(&journal).last().unwrap().clone();
    assert_eq!(end["event"], "run-end");
    for expected in [
        "▸ waiting forever",
        "✗ waiting forever (",
        "the sandbox stopped the plugin",
        "✗ sandbox-limit (exit 4) after ",
        "ran past its deadline of 5s",
    ] {
        assert!(
            followed.stdout.contains(expected),
            "`{expected}` missing from:\n{}",
            followed.stdout
        );
    }
    assert!(!followed.stdout.contains("still running"), "{}", followed.stdout);
}

#[test]
fn a_run_killed_before_run_end_is_listed_as_such_and_follow_does_not_wait_for_it() {
    let dir = TmpDir::new("drhost-history-");
    let running = Run::fixture("misbehave")
        .param("mode", "spin-in-step")
        .timeout("60s")
        .journal_dir(&dir)
        .spawn();
    wait_for_step(&dir);
    // SAFETY: signals our own child process. SIGKILL leaves no chance to write run-end.
    assert_eq!(unsafe { libc::kill(running.id() as i32, libc::SIGKILL) }, 0);
    assert_eq!(running.wait().code, -1);

    let listed = history(&["runs"], &dir).json().exec().json();
    assert_eq!(listed[0]["status"], "no-run-end", "{listed:#}");
    assert!(listed[0]["ended"].is_string(), "the journal's last event: {listed:#}");
    let table = history(&["runs"], &dir).exec().stdout;
    assert!(table.contains("ended without run-end (crashed?)"), "{table}");
    let followed = wait_within(
        history(&["show", "--follow", "latest"], &dir).spawn(),
        Duration::from_secs(5),
    );
    assert_eq!(followed.code, 0, "{}", followed.stderr);
    assert!(followed.stdout.contains("▸ waiting forever"), "{}", followed.stdout);
    assert!(
        followed.stdout.contains("the journal ends without run-end"),
        "{}",
        followed.stdout
    );
}

#[test]
fn files_that_are_not_journals_are_skipped_with_one_warning_each() {
    let dir = TmpDir::new("drhost-history-");
    let hello = Run::plugin("hello").config_toml(HELLO_GRANTS).journal_dir(&dir).exec();
    assert_eq!(hello.code, 0, "{}", hello.stderr);
    let garbage = dir.write("garbage.jsonl", b"\x1b[2J\xff\xfe not json at all\n{\"half\": \n");
    dir.write("notes.txt", "backup notes");

    for json in [false, true] {
        let run = history(&["runs"], &dir);
        let out = if json { run.json() } else { run }.exec();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let warnings: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(warnings.len(), 2, "one line per foreign file:\n{}", out.stderr);
        assert!(
            warnings.iter().all(|w| w.starts_with("drhost: warning: skipped ")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("garbage.jsonl: not a drhost journal (line 1"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("notes.txt: not a journal"), "{}", out.stderr);
        assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
        if json {
            assert_eq!(out.json().as_array().unwrap().len(), 1);
        } else {
            assert!(out.stdout.contains("hello 0.1.0"), "{}", out.stdout);
        }
    }
    let shown = history(&["show", garbage.to_str().unwrap()], &dir).exec();
    assert_eq!(shown.code, 2, "{}", shown.stderr);
    assert_eq!(shown.message_lines().len(), 1, "{}", shown.stderr);
    assert!(shown.stderr.contains("is not a drhost journal"), "{}", shown.stderr);
}

#[test]
fn an_unknown_or_ambiguous_run_is_a_usage_error_naming_drhost_runs() {
    let dir = TmpDir::new("drhost-history-");
    let empty = history(&["show", "latest"], &dir).exec();
    assert_eq!(empty.code, 2, "{}", empty.stderr);
    assert!(empty.stderr.contains("no runs in"), "{}", empty.stderr);
    assert!(empty.stderr.contains("`drhost runs`"), "{}", empty.stderr);

    hello_then_failure(&dir);
    let unknown = history(&["show", "20991231T000000Z-nothing"], &dir).exec();
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert_eq!(unknown.message_lines().len(), 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no run `20991231T000000Z-nothing`"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains("`drhost runs`"), "{}", unknown.stderr);
    assert_eq!(unknown.stdout, "");

    let ambiguous = history(&["show", "20"], &dir).exec();
    assert_eq!(ambiguous.code, 2, "{}", ambiguous.stderr);
    assert!(
        ambiguous.stderr.contains("is the start of 2 runs"),
        "{}",
        ambiguous.stderr
    );
    assert!(ambiguous.stderr.contains("`drhost runs`"), "{}", ambiguous.stderr);
    let missing_file = history(&["show", "/nonexistent/run.jsonl"], &dir).exec();
    assert_eq!(missing_file.code, 2, "{}", missing_file.stderr);
}

#[test]
fn runs_reads_the_journal_directory_drhost_run_writes_to() {
    let dir = TmpDir::new("drhost-history-");
    let hello = Run::plugin("hello").config_toml(HELLO_GRANTS).journal_dir(&dir).exec();
    assert_eq!(hello.code, 0, "{}", hello.stderr);
    let listed = |out: Outcome| -> usize {
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.json().as_array().unwrap().len()
    };
    let config = TmpDir::new("drhost-history-config-");
    let pointing = config.write(
        "drhost.toml",
        format!("[run]\njournal_dir = {:?}\n", dir.to_str().unwrap()),
    );
    let elsewhere = TmpDir::new("drhost-history-empty-");

    // [run] journal_dir, through --config and through $DRHOST_CONFIG.
    assert_eq!(listed(Run::cli(["runs"]).config(&pointing).json().exec()), 1);
    assert_eq!(
        listed(Run::cli(["runs"]).env("DRHOST_CONFIG", &pointing).json().exec()),
        1
    );
    // --journal-dir wins over the configuration.
    assert_eq!(
        listed(history(&["runs"], &elsewhere).config(&pointing).json().exec()),
        0
    );
    // Neither: the default, $XDG_STATE_HOME/drhost/runs.
    let state = TmpDir::new("drhost-history-state-");
    let default_dir = state.join("drhost/runs");
    std::fs::create_dir_all(&default_dir).unwrap();
    std::fs::copy(hello.journal_path().unwrap(), default_dir.join("copied.jsonl")).unwrap();
    assert_eq!(
        listed(Run::cli(["runs"]).env("XDG_STATE_HOME", state.path()).json().exec()),
        1
    );
    // A configuration that cannot be read: one warning, then the default, as `drhost run` would.
    let broken = config.write("broken.toml", "[run\n");
    let out = Run::cli(["runs"])
        .config(&broken)
        .env("XDG_STATE_HOME", state.path())
        .json()
        .exec();
    assert!(out.stderr.starts_with("drhost: warning: "), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(listed(out), 1);
}
