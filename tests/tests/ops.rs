//! The quick-reference compose plugins — `logs`, `restart-all`,
//! `full-restart` — through the real `drhost` binary on the lab's real
//! Docker Engine with the real compose CLI (`docker-compose` 1.29 here).
//!
//! Each test brings up a compose project of its own (a unique name over the
//! file below, written to a temporary directory) from the test with the
//! real CLI, and takes it down with its volumes when the test ends, also
//! when it fails. The file's dependency order (db → api → web) differs from
//! both its own order and the alphabet, so an order that comes out right
//! came from compose's dependencies. `web` writes ANSI escape sequences to
//! its log. `api` exits with code 4 once `/data/broken` exists on its
//! volume, so a test can make it fail to come back.
//!
//! The last tests run `logs` and `restart-all` through the lab's own
//! `.lab/drhost.toml` on the lab's main stack (compose project `toolboxai`,
//! `lab/stack/docker-compose.yml`), holding the lab's lock.

use std::time::{Duration, Instant};

use drhost_tests::cli::{calls, events, read_journal, Outcome, Run};
use drhost_tests::compose::{containers_of, lab_stack_compose, Seen, Stack};
use drhost_tests::docker::{health, on_lab, Restore};

/// The compose file (escapes are YAML's: `\\033` is `\033` for printf).
const STACK: &str = r#"
version: "3.9"
services:
  web:
    image: toolboxai/backend:latest
    command: ["sh", "-c", "printf 'web-started \\033[2J\\033[31mred\\033[0m \\033]0;pwned\\007 title\\n'; i=0; while true; do i=$$((i+1)); echo web-tick $$i; sleep 1; done"]
    stop_signal: SIGKILL
    depends_on: [api]
  api:
    image: toolboxai/backend:latest
    command: ["sh", "-c", "test -f /data/broken && { echo api-broken; exit 4; }; echo api connection to db established; touch /tmp/ready; i=0; while true; do i=$$((i+1)); echo api-tick $$i; sleep 1; done"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, timeout: 2s, retries: 3}
    stop_signal: SIGKILL
    depends_on: [db]
    volumes: ["data:/data"]
  db:
    image: toolboxai/backend:latest
    command: ["sh", "-c", "sleep 1; echo db database ready; touch /tmp/ready; exec sleep 100000"]
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, timeout: 2s, retries: 3}
    stop_signal: SIGKILL
volumes:
  data: {}
"#;

/// Every service, in dependency order.
const ORDER: [&str; 3] = ["db", "api", "web"];

fn stack() -> Stack {
    Stack::with_yaml("drhost-ops", STACK)
}

/// A stack up and healthy, brought up by the test.
fn stack_up() -> Stack {
    let stack = stack();
    stack.up();
    stack.wait_healthy(&ORDER, Duration::from_secs(60));
    stack
}

/// A drhost.toml: `[targets.compose.toolboxai]` for the stack, and a
/// grant of `access` (a TOML array) to `plugin` unless it is empty.
fn config(stack: &Stack, plugin: &str, access: &str) -> String {
    let mut text = stack.target_toml("toolboxai");
    if !access.is_empty() {
        text.push_str(&format!(
            "\n[[plugins.{plugin}.compose]]\ntarget = \"toolboxai\"\naccess = {access}\n"
        ));
    }
    text
}

fn run(stack: &Stack, plugin: &str, access: &str) -> Run {
    Run::plugin(plugin)
        .config_toml(&config(stack, plugin, access))
        .env("DOCKER_HOST", stack.docker_host())
}

fn fact(out: &Outcome, name: &str) -> String {
    out.fact(name)
        .unwrap_or_else(|| panic!("no fact `{name}` in {}\nstderr:\n{}", out.stdout, out.stderr))
}

/// The rows of the table titled `title` in a `--json` report.
fn rows(out: &Outcome, title: &str) -> Vec<Vec<String>> {
    let report = out.json();
    let table = report["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["title"] == title).cloned())
        .unwrap_or_else(|| panic!("no table `{title}` in {report}"));
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// An RFC 3339 UTC time with its fraction padded to nanoseconds, so such
/// times compare as text (the engine drops trailing zeros).
fn sortable(time: &str) -> String {
    let time = time.trim_end_matches('Z');
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    format!("{whole}.{fraction:0<9}Z")
}

/// An RFC 3339 UTC time (`2026-12-01T18:33:08.284680088Z`) as seconds
/// since the epoch.
fn seconds(time: &str) -> f64 {
    let (date, clock) = time.trim_end_matches('Z').split_once('T').expect("RFC 3339 time");
    let n: Vec<i64> = date.split('-').map(|x| x.parse().expect("date")).collect();
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let (y, m, d) = (if n[1] <= 2 { n[0] - 1 } else { n[0] }, n[1], n[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    let c: Vec<f64> = clock.split(':').map(|x| x.parse().expect("time")).collect();
    days as f64 * 86400.0 + c[0] * 3600.0 + c[1] * 60.0 + c[2]
}

/// The services of the `compose.restart` calls, in journal order.
fn restarted(journal: &[serde_json::Value]) -> Vec<String> {
    calls(journal, "compose.restart")
        .iter()
        .map(|c| c["args"]["services"][0].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------- logs

#[test]
fn logs_merges_every_service_by_time_and_filters_with_grep() {
    let stack = stack_up();
    std::thread::sleep(Duration::from_secs(3));
    let before = stack.containers();

    let out = run(&stack, "logs", r#"["read"]"#)
        .param("lines", "500")
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // ps lists the services in dependency order.
    assert_eq!(fact(&out, "services"), "db,api,web");
    let lines = rows(&out, "logs");
    for service in ORDER {
        assert!(lines.iter().any(|r| r[1] == service), "{service}: {lines:?}");
    }
    // Merged by time: the TIME column never goes back.
    let times: Vec<String> = lines.iter().map(|r| sortable(&r[0])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(lines.iter().any(|r| r[1] == "web" && r[2].starts_with("web-tick")));
    let journal = out.journal();
    let logs = calls(&journal, "compose.logs");
    assert_eq!(logs.len(), 3);
    assert_eq!(calls(&journal, "compose.ps").len(), 1);
    // Read-only: nothing else was called, nothing restarted.
    for call in ["compose.restart", "compose.up", "compose.down"] {
        assert!(calls(&journal, call).is_empty(), "{call}");
    }
    let after = stack.containers();
    for service in ORDER {
        assert_eq!(after[service].started_at, before[service].started_at, "{service}");
    }

    // grep: the runbook's database|connection (with its `\|` too), case-insensitive.
    for grep in ["database|connection", "DATABASE\\|Connection"] {
        let out = run(&stack, "logs", r#"["read"]"#)
            .param("grep", grep)
            .json()
            .quiet()
            .exec();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let lines = rows(&out, "logs");
        // In time order (db and api start nearly together, either may be first).
        let mut texts: Vec<(&str, &str)> = lines.iter().map(|r| (r[1].as_str(), r[2].as_str())).collect();
        assert!(sortable(&lines[0][0]) <= sortable(&lines[1][0]), "{lines:?}");
        texts.sort();
        assert_eq!(
            texts,
            [("api", "api connection to db established"), ("db", "db database ready")],
            "{grep}"
        );
    }

    // lines: the newest N of the merged lines; services: only those named.
    let out = run(&stack, "logs", r#"["read"]"#)
        .params(&[("lines", "4"), ("services", "web,db")])
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines = rows(&out, "logs");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines.iter().all(|r| r[1] == "web"),
        "the newest are web's ticks: {lines:?}"
    );
    assert_eq!(fact(&out, "services"), "web,db");
    assert!(calls(&out.journal(), "compose.ps").is_empty());

    // since: a window before any line leaves none.
    let out = run(&stack, "logs", r#"["read"]"#)
        .params(&[("since", "1h"), ("grep", "web-started")])
        .json()
        .quiet()
        .exec();
    assert_eq!(rows(&out, "logs").len(), 1, "{}", out.stdout);
    std::thread::sleep(Duration::from_millis(1500));
    let out = run(&stack, "logs", r#"["read"]"#)
        .params(&[("since", "1s"), ("grep", "web-started|database")])
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(rows(&out, "logs").is_empty(), "{}", out.stdout);
}

#[test]
fn a_container_printing_escape_sequences_does_not_drive_the_terminal() {
    let stack = stack_up();
    // Human output: the table on stdout, progress on stderr.
    let out = run(&stack, "logs", r#"["read"]"#)
        .params(&[("services", "web"), ("grep", "web-started")])
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("web-started"), "{}", out.stdout);
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!text.contains('\u{1b}'), "raw ESC on {name}: {text:?}");
        assert!(!text.contains('\u{7}'), "raw BEL on {name}: {text:?}");
    }
    // Shown escaped, not dropped: the operator sees that the log had them.
    assert!(out.stdout.contains("\\u{1b}[2J"), "{}", out.stdout);
    // The journal keeps the line intact as JSON.
    let journal = out.journal();
    assert_eq!(calls(&journal, "compose.logs")[0]["args"]["service"], "web");
}

#[test]
fn logs_follow_streams_until_ctrl_c_and_ends_interrupted() {
    let stack = stack_up();
    // Kept until the run ends: it owns the config file drhost reads.
    let follow = run(&stack, "logs", r#"["read"]"#)
        .params(&[("follow", "true"), ("interval", "500ms"), ("services", "web")])
        .timeout("120s");
    let mut running = follow.spawn();
    let journal_dir = running.journal_dir().to_path_buf();
    let journal_file = || {
        std::fs::read_dir(&journal_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
    };
    // Wait until it follows and has polled a few times (each poll runs
    // the compose CLI: about a second).
    let started = Instant::now();
    loop {
        let polls = journal_file()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|t| {
                t.split_once("\"step\":\"follow the logs")
                    .map(|(_, following)| following.matches("\"compose.logs\"").count())
            })
            .unwrap_or(0);
        if polls >= 3 {
            break;
        }
        if running.finished() {
            let out = running.wait();
            panic!("it ended by itself ({}): {}\n{}", out.code, out.stdout, out.stderr);
        }
        assert!(started.elapsed() < Duration::from_secs(120), "it never followed");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(running.id() as i32, libc::SIGINT) }, 0);
    let out = running.wait();
    assert_eq!(out.code, 130, "{}", out.stderr);
    let journal = read_journal(&out.journal_path().unwrap());
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end");
    assert_eq!(end["status"], "interrupted");
    assert_eq!(end["exit_code"], 130);
    assert!(
        end["failed_step"]
            .as_str()
            .unwrap_or_default()
            .starts_with("follow the logs"),
        "{end}"
    );
    // New lines were printed while following; none with a raw escape.
    let ticks = out.stderr.matches("web-tick").count();
    assert!(ticks >= 2, "{}", out.stderr);
    assert!(out.stderr.contains("\\u{1b}[2J"), "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}') && !out.stdout.contains('\u{1b}'));
    // No line twice: every tick number once.
    let mut numbers: Vec<&str> = out.stderr.lines().filter_map(|l| l.split("web-tick ").nth(1)).collect();
    let count = numbers.len();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), count, "{}", out.stderr);
}

#[test]
fn logs_follow_stops_before_the_runs_deadline() {
    let stack = stack_up();
    let started = Instant::now();
    let out = run(&stack, "logs", r#"["read"]"#)
        .params(&[("follow", "true"), ("interval", "1s"), ("services", "web")])
        .timeout("22s")
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed() < Duration::from_secs(22));
    let followed: usize = fact(&out, "followed").parse().unwrap();
    assert!(followed >= 3, "{}", out.stdout);
    let report = out.json();
    let summary = report["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("stopped before the run's deadline"), "{summary}");
}

#[test]
fn logs_refuses_names_that_are_options_and_changes_nothing() {
    let stack = stack_up();
    let before = stack.containers();
    for name in ["--volumes", "../web", "web;down"] {
        let out = run(&stack, "logs", r#"["read"]"#)
            .param("services", name)
            .json()
            .quiet()
            .exec();
        assert_eq!(out.code, 1, "{name}: {}\n{}", out.stdout, out.stderr);
        let message = out.json()["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("invalid-argument"), "{name}: {message}");
    }
    let out = run(&stack, "logs", r#"["read"]"#)
        .param("lines", "501")
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    let after = stack.containers();
    for service in ORDER {
        assert_eq!(after[service].started_at, before[service].started_at);
    }
    assert!(stack.volume_exists("data"));
}

// ---------------------------------------------------------- restart-all

#[test]
fn restart_all_restarts_in_dependency_order_each_healthy_first() {
    let stack = stack_up();
    std::thread::sleep(Duration::from_millis(1200));
    let before = stack.containers();

    // Without --yes and without a terminal, nothing is restarted.
    let out = run(&stack, "restart-all", r#"["read", "restart"]"#)
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(calls(&out.journal(), "compose.restart").is_empty());
    assert_eq!(calls(&out.journal(), "confirm.ask").len(), 1);

    let out = run(&stack, "restart-all", r#"["read", "restart"]"#)
        .yes()
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "order"), "db,api,web");
    let after = stack.containers();
    for service in ORDER {
        assert_ne!(
            after[service].started_at, before[service].started_at,
            "{service} restarted"
        );
        assert_eq!(after[service].state, "running");
        assert!(after[service].health.is_empty() || after[service].health == "healthy");
    }
    // The engine's start times are in dependency order.
    let starts: Vec<String> = ORDER.iter().map(|s| sortable(&after[*s].started_at)).collect();
    assert!(starts[0] < starts[1] && starts[1] < starts[2], "{starts:?}");
    // One restart per service, in order, each followed by the health check
    // (ps) before the next restart.
    let journal = out.journal();
    assert_eq!(restarted(&journal), ORDER);
    // Each restart call names one service and reports it running.
    for (call, service) in calls(&journal, "compose.restart").iter().zip(ORDER) {
        let containers = call["outcome"]["ok"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{call}");
        assert_eq!(containers[0]["service"], service);
        assert_eq!(containers[0]["state"], "running");
    }
    let table = rows(&out, "restart in dependency order");
    assert_eq!(table.iter().map(|r| r[1].as_str()).collect::<Vec<_>>(), ORDER);
    assert!(table.iter().all(|r| r[3] == "healthy"), "{table:?}");
    assert!(table[0][4].ends_with(" s") || table[0][4].ends_with(" ms"), "{table:?}");
    for service in ORDER {
        assert!(!fact(&out, &format!("time-to-healthy:{service}")).is_empty());
    }
}

#[test]
fn restart_all_names_the_service_that_does_not_come_back() {
    let stack = stack_up();
    stack.exec("api", &["touch", "/data/broken"]);
    let before = stack.containers();
    let out = run(&stack, "restart-all", r#"["read", "restart"]"#)
        .param("wait", "8s")
        .yes()
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["failed_step"], "restart api", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("service `api` did not come back healthy") && message.contains("exited with code 4"),
        "{message}"
    );
    assert_eq!(fact(&out, "failed-service"), "api");
    let table = rows(&out, "restart in dependency order");
    assert_eq!(table[0][3], "healthy");
    assert!(table[1][3].starts_with("NOT healthy"), "{table:?}");
    assert_eq!(table[2][3], "not restarted");
    // The engine agrees: db restarted, api exited 4, web untouched.
    let after = stack.containers();
    assert_ne!(after["db"].started_at, before["db"].started_at);
    assert_eq!(after["api"].state, "exited");
    assert_eq!(after["api"].exit_code, 4);
    assert_eq!(
        after["web"].started_at, before["web"].started_at,
        "web was not restarted"
    );
    assert_eq!(restarted(&out.journal()), ["db", "api"]);
}

#[test]
fn restart_all_waits_for_each_http_probe() {
    use drhost_tests::stub::{http_reply, HttpStub};
    let stack = stack_up();
    let ok = HttpStub::start(|_| http_reply("200 OK", "", "text/plain", "ok"));
    let failing = HttpStub::start(|_| http_reply("503 Service Unavailable", "", "text/plain", "down"));
    let before = stack.containers();
    let probes = format!(
        "db=http://127.0.0.1:{}/health,api=http://127.0.0.1:{}/health",
        ok.port, failing.port
    );
    let out = Run::plugin("restart-all")
        .config_toml(&format!(
            "{}\n[[plugins.restart-all.http]]\nhost = \"127.0.0.1:*\"\n",
            config(&stack, "restart-all", r#"["read", "restart"]"#)
        ))
        .env("DOCKER_HOST", stack.docker_host())
        .params(&[("probes", probes.as_str()), ("wait", "4s")])
        .yes()
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["failed_step"], "restart api", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("answered 503"), "{message}");
    // Both probes were asked; web, after api, was not restarted.
    assert!(ok.heads().iter().any(|h| h.starts_with("get /health ")));
    assert!(failing.heads().len() >= 2, "polled until the wait was over");
    let after = stack.containers();
    assert_ne!(after["db"].started_at, before["db"].started_at);
    assert_eq!(after["web"].started_at, before["web"].started_at);
    assert_eq!(restarted(&out.journal()), ["db", "api"]);
    // A probe naming no service of the project is refused before anything restarts.
    let out = run(&stack, "restart-all", r#"["read", "restart"]"#)
        .param("probes", "ghost=http://127.0.0.1:1/")
        .yes()
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(restarted(&out.journal()).is_empty());
}

// --------------------------------------------------------- full-restart

#[test]
fn full_restart_takes_the_stack_down_and_up_and_verifies_it() {
    let stack = stack_up();
    stack.exec("api", &["touch", "/data/kept"]);
    let before = stack.containers();
    let out = run(&stack, "full-restart", r#"["read", "up", "down"]"#)
        .yes()
        .json()
        .quiet()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "still-down"), "0");
    assert_eq!(fact(&out, "services"), "db,api,web");
    let after = stack.containers();
    for service in ORDER {
        assert_eq!(after[service].state, "running", "{after:?}");
        assert!(after[service].health.is_empty() || after[service].health == "healthy");
        assert_ne!(after[service].started_at, before[service].started_at);
    }
    // down then up, once each; the named volume was kept.
    let journal = out.journal();
    let kinds: Vec<&str> = events(&journal, "call")
        .iter()
        .filter_map(|c| c["call"].as_str())
        .filter(|c| *c == "compose.down" || *c == "compose.up")
        .collect();
    assert_eq!(kinds, ["compose.down", "compose.up"]);
    assert_eq!(calls(&journal, "compose.down")[0]["args"]["volumes"], false);
    stack.exec("api", &["test", "-f", "/data/kept"]);
}

#[test]
fn full_restart_lists_exactly_what_is_still_down() {
    let stack = stack_up();
    stack.exec("api", &["touch", "/data/broken"]);
    let out = run(&stack, "full-restart", r#"["read", "up", "down"]"#)
        .param("wait", "20s")
        .yes()
        .json()
        .quiet()
        .exec();
    // Recovered in part, with a follow-up: exit 5.
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "still-down"), "api");
    let down = rows(&out, "still down");
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0][0], "api");
    assert!(down[0][1].contains("exited with code 4"), "{down:?}");
    let report = out.json();
    let follow_ups = report["follow_ups"].as_array().unwrap();
    assert_eq!(follow_ups.len(), 1, "{report}");
    assert!(follow_ups[0]["action"].as_str().unwrap().contains("bring `api` up"));
    assert!(fact(&out, "up-error").starts_with("failed:"), "{}", out.stdout);
    let after = stack.containers();
    assert_eq!(after["api"].state, "exited");
    assert_eq!(after["db"].state, "running");
}

/// The runbook's "full restart (with rebuild)": a service the compose
/// file builds (`build: ./app`, a Dockerfile copying a stamp file into the
/// image). Rebuilding is the operator's choice in the target
/// (`build = true`), never the plugin's: without it `up` uses the image
/// present (the old stamp), with it the image is built again from the
/// changed context (the new stamp). The built image is removed afterwards.
#[test]
fn full_restart_rebuilds_images_only_when_the_target_says_build() {
    const BUILT: &str = r#"
version: "3.9"
services:
  app:
    build: ./app
    image: ${DRHOST_TEST_IMAGE}
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
"#;
    struct ImageGone<'a>(&'a Stack, String);
    impl Drop for ImageGone<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("docker")
                .args(["image", "rm", "-f", &self.1])
                .env("DOCKER_HOST", self.0.docker_host())
                .output();
        }
    }
    let stack = Stack::with_yaml("drhost-build", BUILT);
    let image = format!("drhost-test-build/{}:latest", stack.project);
    let _gone = ImageGone(&stack, image.clone());
    let dir = stack.file().parent().unwrap().to_path_buf();
    std::fs::write(dir.join(".env"), format!("DRHOST_TEST_IMAGE={image}\n")).unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM toolboxai/backend:latest\nCOPY stamp /stamp\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/stamp"), "first build\n").unwrap();
    let built = stack.compose(&["up", "-d", "--build"]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let stamp = || {
        let out = stack.compose(&["exec", "-T", "app", "cat", "/stamp"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(stamp(), "first build");
    std::fs::write(dir.join("app/stamp"), "second build\n").unwrap();
    let restart = |build: bool| {
        let mut text = stack.target_toml("toolboxai");
        if build {
            text.push_str("build = true\n");
        }
        text.push_str(
            "\n[[plugins.full-restart.compose]]\ntarget = \"toolboxai\"\naccess = [\"read\", \"up\", \"down\"]\n",
        );
        let out = Run::plugin("full-restart")
            .config_toml(&text)
            .env("DOCKER_HOST", stack.docker_host())
            .yes()
            .json()
            .quiet()
            .exec();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(calls(&out.journal(), "compose.up")[0]["args"]["build"], build);
    };

    restart(false);
    assert_eq!(stamp(), "first build", "no rebuild unless the target says so");
    restart(true);
    assert_eq!(stamp(), "second build", "the target's build = true rebuilt the image");
}

// ------------------------------------------------------------- refusals

#[test]
fn each_plugin_is_refused_without_its_compose_grant() {
    let stack = stack();
    for (plugin, granted, lacking) in [
        ("logs", "", r#"["read"]"#),
        ("restart-all", r#"["read"]"#, r#"["restart"]"#),
        ("full-restart", r#"["read", "restart"]"#, r#"["down"]"#),
        ("full-restart", r#"["read", "down"]"#, r#"["up"]"#),
    ] {
        let out = run(&stack, plugin, granted).json().quiet().exec();
        assert_eq!(out.code, 3, "{plugin}: {}\n{}", out.stdout, out.stderr);
        let report = out.json();
        assert_eq!(report["error"]["kind"], "refused");
        let text = report["error"]["message"].as_str().unwrap_or_default();
        let advice = format!("[[plugins.{plugin}.compose]]\ntarget = \"toolboxai\"\naccess = {lacking}");
        assert!(text.contains(&advice), "{plugin}: {text}");
        assert!(calls(&out.journal(), "compose.open").is_empty());
    }
    // Nothing was created.
    assert!(stack.containers().is_empty());
}

// ------------------------------------------- the lab's own main stack

/// The lab's main stack (project `toolboxai`, `lab/stack/docker-compose.yml`)
/// as the engine reports it: service → its container, the four services only.
fn main_stack(lab: &drhost_tests::lab::Lab) -> std::collections::HashMap<String, Seen> {
    let mut seen = containers_of(lab, lab.get("COMPOSE_PROJECT").unwrap());
    seen.retain(|service, _| MAIN_ORDER.contains(&service.as_str()));
    seen
}

/// The main stack's services, in its dependency order (the proxy last).
const MAIN_ORDER: [&str; 4] = ["backend1", "backend2", "backend3", "nginx-proxy"];

#[test]
fn logs_through_the_labs_own_config_reads_the_main_stacks_containers() {
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let seen = main_stack(&lab);
    assert_eq!(seen.len(), 4, "{seen:?}");

    let out = on_lab(&lab, Run::plugin("logs"))
        .params(&[("grep", "listening on"), ("lines", "500")])
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "services"), MAIN_ORDER.join(","));
    let lines = rows(&out, "logs");
    // Each backend's own start line, from the container running now: its
    // newest one was written after the container's last start.
    for service in &MAIN_ORDER[..3] {
        let newest = lines
            .iter()
            .filter(|r| r[1] == *service)
            .max_by_key(|r| sortable(&r[0]))
            .unwrap_or_else(|| panic!("no start line of {service}: {lines:?}"));
        assert!(
            newest[2].starts_with(&format!("toolboxai-backend: {service} version "))
                && newest[2].ends_with("listening on :8000"),
            "{newest:?}"
        );
        // The engine records the start after the process runs: a line may
        // be a few milliseconds older than it.
        let apart = (seconds(&newest[0]) - seconds(&seen[*service].started_at)).abs();
        assert!(
            apart < 2.0,
            "{service}: {newest:?} is {apart:.3} s from its container's start {}",
            seen[*service].started_at
        );
    }
    let journal = out.journal();
    let open = calls(&journal, "compose.open");
    assert_eq!(open[0]["args"]["target"], "toolboxai");
    assert_eq!(open[0]["outcome"]["ok"]["cli"], "docker-compose");
    assert_eq!(open[0]["outcome"]["ok"]["services"], serde_json::json!(MAIN_ORDER));
    assert_eq!(calls(&journal, "compose.logs").len(), 4);
    // Read-only: the same containers, not restarted.
    let after = main_stack(&lab);
    for service in MAIN_ORDER {
        assert_eq!(after[service].started_at, seen[service].started_at, "{service}");
    }
}

#[test]
fn restart_all_through_the_labs_own_config_restarts_the_main_stack_in_order() {
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    // Whatever happens, the stack ends healthy on its images and networks.
    let _restore = Restore::new(&lab);
    let before = main_stack(&lab);
    assert_eq!(before.len(), 4, "{before:?}");
    std::thread::sleep(Duration::from_millis(1100));

    let out = on_lab(&lab, Run::plugin("restart-all")).yes().exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "order"), MAIN_ORDER.join(","));
    let journal = out.journal();
    assert_eq!(restarted(&journal), MAIN_ORDER);
    // The lab's probes (its /health URLs, [plugins.restart-all.params]) were
    // each asked after its service's restart.
    let table = rows(&out, "restart in dependency order");
    assert!(table.iter().all(|r| r[3] == "healthy"), "{table:?}");
    let probed: Vec<String> = calls(&journal, "http.get")
        .iter()
        .filter_map(|c| c["args"]["url"].as_str().map(str::to_string))
        .collect();
    let mut urls = lab.backend_urls().unwrap();
    urls.push(lab.nginx_url().unwrap().to_string());
    for url in &urls {
        assert!(probed.contains(&format!("{url}/health")), "{url}: {probed:?}");
    }

    // Restarted, not recreated: the same containers, started again, in order.
    let after = main_stack(&lab);
    for service in MAIN_ORDER {
        assert_eq!(after[service].name, before[service].name);
        assert_eq!(after[service].state, "running", "{service}");
        assert_ne!(
            after[service].started_at, before[service].started_at,
            "{service} restarted"
        );
    }
    let starts: Vec<String> = MAIN_ORDER.iter().map(|s| sortable(&after[*s].started_at)).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    // And healthy, through the proxy too.
    let rt = drhost_tests::lab::runtime();
    for url in &urls {
        assert_eq!(rt.block_on(health(&lab, url)), 200, "{url}");
    }
    // The lab's compose CLI and drhost's agree on the project: an up changes nothing.
    let up = lab_stack_compose(&lab, &["up", "-d", "--no-build"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    for name in after.values().map(|c| &c.name) {
        assert!(said.contains(&format!("{name} is up-to-date")), "{said}");
    }
    assert_eq!(main_stack(&lab)["backend1"].started_at, after["backend1"].started_at);
}
