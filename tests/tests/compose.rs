//! The `compose` capability on the lab's real Docker Engine with the real
//! compose CLI (`docker-compose` 1.29 here), through the `compose-poke`
//! fixture and the real `drhost` binary.
//!
//! Each test owns a compose project of its own (a unique name over
//! `tests/fixtures/compose/two-services.yml`, taken down with its volumes
//! when the test ends, also when it fails) and asserts what the engine
//! holds afterwards, the journal and the exit code. No test touches the
//! lab's own `toolboxai` containers.

use std::time::{Duration, Instant};

use drhost_tests::cli::{calls, repo_root, Outcome, Run};
use drhost_tests::compose::Stack;

/// Every operation.
const ALL: &str = r#"["read", "restart", "up", "down"]"#;

/// One `[[plugins.compose-poke.compose]]` table on target `app`.
fn grant(access: &str) -> String {
    format!("[[plugins.compose-poke.compose]]\ntarget = \"app\"\naccess = {access}\n")
}

/// A project of its own over `tests/fixtures/compose/two-services.yml`.
fn new_stack() -> Stack {
    Stack::over(
        "drhost-compose",
        repo_root().join("tests/fixtures/compose/two-services.yml"),
    )
}

/// What these tests do with a [`Stack`]: run `compose-poke` on it.
trait Poke {
    /// A drhost.toml with `[targets.compose.app]` for this project, and `grants`.
    fn config(&self, grants: &str) -> String;
    /// `drhost run compose-poke --json` with `grants` and `params`.
    fn poke(&self, grants: &str, params: &[(&str, &str)]) -> Outcome;
    fn run(&self, grants: &str, params: &[(&str, &str)]) -> Run;
    /// Brings alpha and beta up from the test itself and waits until both run.
    fn up_from_the_test(&self);
}

impl Poke for Stack {
    fn config(&self, grants: &str) -> String {
        format!("{}\n{grants}", self.target_toml("app"))
    }

    fn poke(&self, grants: &str, params: &[(&str, &str)]) -> Outcome {
        self.run(grants, params).exec()
    }

    fn run(&self, grants: &str, params: &[(&str, &str)]) -> Run {
        Run::fixture("compose-poke")
            .config_toml(&self.config(grants))
            .json()
            .quiet()
            .env("DOCKER_HOST", self.docker_host())
            .params(params)
    }

    fn up_from_the_test(&self) {
        self.up();
        let running = self.containers();
        for service in ["alpha", "beta"] {
            assert_eq!(running[service].state, "running", "{running:?}");
        }
    }
}

fn fact(out: &Outcome, name: &str) -> String {
    out.fact(name)
        .unwrap_or_else(|| panic!("no fact `{name}` in {}\nstderr:\n{}", out.stdout, out.stderr))
}

#[test]
fn up_ps_restart_logs_and_down_change_the_real_containers() {
    let stack = new_stack();
    let all = grant(ALL);

    // up of beta brings alpha first (depends_on) and waits until both run.
    let out = stack.poke(&all, &[("ops", "up,ps"), ("services", "beta")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "up"), "ok: beta=running");
    assert_eq!(fact(&out, "ps"), "ok: alpha=running,beta=running");
    let seen = stack.containers();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.values().all(|c| c.state == "running"), "{seen:?}");
    let journal = out.journal();
    let open = calls(&journal, "compose.open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["args"]["target"], "app");
    assert_eq!(open[0]["outcome"]["ok"]["cli"], "docker-compose");
    assert_eq!(
        open[0]["outcome"]["ok"]["services"],
        serde_json::json!(["alpha", "beta", "broken"])
    );
    let up = calls(&journal, "compose.up");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["args"]["services"], serde_json::json!(["beta"]));
    assert_eq!(up[0]["outcome"]["ok"]["containers"][0]["state"], "running");
    assert_eq!(calls(&journal, "compose.ps").len(), 1);

    // restart of alpha restarts it (a new start time) and leaves beta alone;
    // logs return alpha's newest lines.
    std::thread::sleep(Duration::from_millis(2500));
    let out = stack.poke(
        &all,
        &[
            ("ops", "restart,logs"),
            ("services", "alpha"),
            ("service", "alpha"),
            ("tail", "3"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "restart"), "ok: alpha=running");
    let after = stack.containers();
    assert_ne!(after["alpha"].started_at, seen["alpha"].started_at, "alpha restarted");
    assert_eq!(after["beta"].started_at, seen["beta"].started_at, "beta untouched");
    let logs = fact(&out, "logs");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines[0], "ok: 3 lines", "{logs}");
    // Each line starts with its RFC 3339 time (`--timestamps`).
    assert!(
        lines[1..].iter().all(|l| l
            .split_once(' ')
            .is_some_and(|(time, text)| time.len() >= 20 && time.ends_with('Z') && text.starts_with("alpha-"))),
        "{logs}"
    );
    let journal = out.journal();
    let restart = calls(&journal, "compose.restart");
    assert_eq!(restart[0]["args"]["services"], serde_json::json!(["alpha"]));
    let logs = calls(&journal, "compose.logs");
    assert_eq!(logs[0]["args"]["service"], "alpha");
    assert_eq!(logs[0]["args"]["tail"], 3);
    assert_eq!(logs[0]["outcome"]["ok"]["lines"], 3);

    // down keeps the named volume; down with volumes removes it too.
    let out = stack.poke(&all, &[("ops", "down")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(stack.containers().is_empty(), "{:?}", stack.containers());
    assert!(stack.volume_exists("data"), "down without volumes keeps them");
    assert_eq!(calls(&out.journal(), "compose.down")[0]["args"]["volumes"], false);

    // up of everything (empty list), then down -v.
    let out = stack.poke(&all, &[("ops", "up,down-volumes,ps")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "up"), "ok: alpha=running,beta=running");
    assert_eq!(fact(&out, "down-volumes"), "ok: down -v");
    assert_eq!(fact(&out, "ps"), "ok: ");
    assert!(stack.containers().is_empty());
    assert!(!stack.volume_exists("data"), "down -v removed the volume");
    assert_eq!(calls(&out.journal(), "compose.down")[0]["args"]["volumes"], true);
}

#[test]
fn a_service_that_exits_fails_up_with_its_exit_code() {
    let stack = new_stack();
    let out = stack.poke(&grant(ALL), &[("ops", "up,ps"), ("services", "broken")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "up-kind"), "failed");
    let said = fact(&out, "up");
    assert!(
        said.contains("service `broken`") && said.contains("exited with code 3"),
        "{said}"
    );
    assert_eq!(fact(&out, "ps"), "ok: broken=exited(3)");
    assert_eq!(stack.containers()["broken"].state, "exited");

    // The same with strict: the run fails (exit 1) in the step that failed.
    let out = stack
        .run(
            &grant(ALL),
            &[("ops", "up"), ("services", "broken"), ("strict", "true")],
        )
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["failed_step"], "up", "{report}");
}

#[test]
fn hostile_service_names_never_reach_the_cli() {
    let stack = new_stack();
    for name in ["--volumes", "-v", "../x", "a b", "--remove-orphans", "alpha;down"] {
        let out = stack.poke(
            &grant(ALL),
            &[("ops", "up,restart,logs"), ("services", name), ("service", name)],
        );
        assert_eq!(out.code, 0, "{name}: {}\n{}", out.stdout, out.stderr);
        for op in ["up", "restart", "logs"] {
            assert_eq!(fact(&out, &format!("{op}-kind")), "invalid-argument", "{name} {op}");
        }
        let journal = out.journal();
        let up = calls(&journal, "compose.up");
        assert_eq!(up[0]["args"]["services"], serde_json::json!([name]));
        assert_eq!(up[0]["outcome"]["error"]["kind"], "invalid-argument");
    }
    // A well-formed name the file does not define.
    let out = stack.poke(
        &grant(ALL),
        &[("ops", "up,logs"), ("services", "gamma"), ("service", "gamma")],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "up-kind"), "not-found");
    assert!(fact(&out, "up").contains("no service `gamma`"), "{}", fact(&out, "up"));
    assert_eq!(fact(&out, "logs-kind"), "not-found");
    // Too many lines.
    let out = stack.poke(&grant(ALL), &[("ops", "logs"), ("service", "alpha"), ("tail", "10001")]);
    assert_eq!(fact(&out, "logs-kind"), "invalid-argument");
    // Nothing was created, nothing was removed.
    assert!(stack.containers().is_empty(), "{:?}", stack.containers());
}

#[test]
fn hostile_names_leave_a_running_project_alone() {
    let stack = new_stack();
    stack.up_from_the_test();
    let before = stack.containers();
    let out = stack.poke(&grant(r#"["restart"]"#), &[("ops", "restart"), ("services", "-v")]);
    assert_eq!(fact(&out, "restart-kind"), "invalid-argument");
    let out = stack.poke(
        &grant(r#"["restart"]"#),
        &[("ops", "restart"), ("services", "alpha,--volumes")],
    );
    assert_eq!(fact(&out, "restart-kind"), "invalid-argument");
    let after = stack.containers();
    for service in ["alpha", "beta"] {
        assert_eq!(
            after[service].started_at, before[service].started_at,
            "{service} untouched"
        );
    }
    assert!(stack.volume_exists("data"));
}

#[test]
fn a_restart_grant_cannot_take_the_project_down() {
    let stack = new_stack();
    stack.up_from_the_test();
    let before = stack.containers();
    let out = stack.poke(
        &grant(r#"["restart"]"#),
        &[
            ("ops", "down,down-volumes,up,ps,logs,restart"),
            ("services", "beta"),
            ("service", "beta"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (op, access) in [
        ("down", "down"),
        ("down-volumes", "down"),
        ("up", "up"),
        ("ps", "read"),
        ("logs", "read"),
    ] {
        assert_eq!(fact(&out, &format!("{op}-kind")), "access-denied", "{op}");
        let said = fact(&out, op);
        assert!(
            said.contains(&format!(
                "[[plugins.compose-poke.compose]]\ntarget = \"app\"\naccess = [\"{access}\"]"
            )),
            "{op}: {said}"
        );
    }
    assert_eq!(fact(&out, "restart"), "ok: beta=running");
    // The containers are still there; only beta was restarted.
    let after = stack.containers();
    assert_eq!(after["alpha"].started_at, before["alpha"].started_at);
    assert_ne!(after["beta"].started_at, before["beta"].started_at);
    assert!(stack.volume_exists("data"));
    let journal = out.journal();
    let down = calls(&journal, "compose.down");
    assert_eq!(down.len(), 2);
    assert!(down.iter().all(|c| c["outcome"]["error"]["kind"] == "access-denied"));

    // strict: the refused down fails the run, exit 1.
    let out = stack
        .run(&grant(r#"["restart"]"#), &[("ops", "down"), ("strict", "true")])
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(stack.containers().len(), 2);
}

#[test]
fn labels_must_be_granted_and_defined() {
    let stack = new_stack();
    // A label no grant names: refused, with the grant to add.
    let out = stack.poke(&grant(ALL), &[("target", "other")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "open-kind"), "access-denied");
    assert!(
        fact(&out, "open").contains("[[plugins.compose-poke.compose]]\ntarget = \"other\"\naccess = [\"read\"]"),
        "{}",
        fact(&out, "open")
    );
    // A label granted but not defined: not-found, with the table to add.
    let ghost = format!(
        "{}[[plugins.compose-poke.compose]]\ntarget = \"ghost\"\naccess = [\"read\"]\n",
        grant(ALL)
    );
    let out = stack.poke(&ghost, &[("target", "ghost")]);
    assert_eq!(fact(&out, "open-kind"), "not-found");
    assert!(
        fact(&out, "open").contains("[targets.compose.ghost]\nfile = "),
        "{}",
        fact(&out, "open")
    );
    let journal = out.journal();
    let open = calls(&journal, "compose.open");
    assert_eq!(open[0]["args"]["target"], "ghost");
    assert_eq!(open[0]["outcome"]["error"]["kind"], "not-found");
}

#[test]
fn no_grant_is_refused_up_front_with_the_toml_to_add() {
    let stack = new_stack();
    let out = stack.poke("", &[("ops", "ps")]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["error"]["kind"], "refused");
    let text = report["error"]["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("needs 1 grant(s)") && text.contains("compose restart:app"),
        "{text}"
    );
    assert!(
        text.contains("[[plugins.compose-poke.compose]]\ntarget = \"app\"\naccess = [\"restart\"]"),
        "{text}"
    );
    // Nothing ran: no compose call in the journal, no container.
    assert!(calls(&out.journal(), "compose.open").is_empty());
    // Without the target either, the table is advised too.
    let out = Run::fixture("compose-poke").config_toml("").json().quiet().exec();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let text = out.json()["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("[targets.compose.app]\nfile = "), "{text}");
    assert!(stack.containers().is_empty());
}

#[test]
fn a_missing_cli_or_engine_is_unavailable() {
    let stack = new_stack();
    // No compose CLI in PATH.
    let empty = drhost_tests::tmp::TmpDir::new("drhost-empty-path-");
    let out = stack
        .run(&grant(ALL), &[("ops", "ps")])
        .env("PATH", empty.path())
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "open-kind"), "unavailable");
    assert!(fact(&out, "open").contains("docker-compose"), "{}", fact(&out, "open"));

    // An engine that does not answer: the file is read, ps is unavailable.
    let started = Instant::now();
    let out = stack
        .run(&grant(ALL), &[("ops", "ps,up")])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for op in ["ps", "up"] {
        assert_eq!(fact(&out, &format!("{op}-kind")), "unavailable", "{op}");
        assert!(fact(&out, op).contains("is dockerd running?"), "{}", fact(&out, op));
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(stack.containers().is_empty());
}
