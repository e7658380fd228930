//! `shell` (issue 11, item 3): a granted program is a door only as wide as
//! its grant. Path patterns do not leave their directory through `..`, `.`,
//! `//` or NUL; `*` does not pass an option; the child runs in an empty
//! host-only directory with an empty environment; a timed-out child's whole
//! process group dies.

use std::path::Path;
use std::time::{Duration, Instant};

use drhost_tests::cli::{calls, Outcome, Run};
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::unique;

/// The TOML of one `misbehave` shell grant.
fn grant(program: &str, args: &[&str], timeout: Option<&str>) -> String {
    let args = args.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    let mut toml = format!("[[plugins.misbehave.shell]]\nprogram = {program:?}\nargs = [{args}]\n");
    if let Some(t) = timeout {
        toml.push_str(&format!("timeout = {t:?}\n"));
    }
    toml
}

/// How the denial names that grant: one line of TOML.
fn grant_line(program: &str, args: &[&str]) -> String {
    let args = args.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    format!("grant `[[plugins.misbehave.shell]] program = {program:?}, args = [{args}]`")
}

/// `drhost run misbehave --json` (mode=shell) with `program` and `args`
/// under `grants`; add parameters, environment for drhost, and exec.
fn run(grants: &str, program: &str, args: &[&str]) -> Run {
    Run::fixture("misbehave")
        .config_toml(grants)
        .json()
        .param("mode", "shell")
        .param("program", program)
        .param("args", args.join("|"))
}

/// Asserts the run failed on one `shell.run` call refused as `kind`, and
/// returns the call's message (also checked to be in the plugin's summary).
fn refused(out: &Outcome, kind: &str) -> String {
    assert_eq!(
        out.code, 1,
        "the plugin reports the refusal: {}\n{}",
        out.stdout, out.stderr
    );
    let journal = out.journal();
    let shell = calls(&journal, "shell.run");
    assert_eq!(shell.len(), 1, "{shell:?}");
    assert_eq!(shell[0]["outcome"]["error"]["kind"], kind, "{:?}", shell[0]);
    let message = shell[0]["outcome"]["error"]["message"]
        .as_str()
        .expect("a message")
        .to_string();
    let summary = out.json()["summary"].as_str().unwrap_or_default().to_string();
    assert!(summary.contains(kind), "{summary}");
    assert_eq!(out.fact("stdout"), None, "nothing ran: {}", out.stdout);
    message
}

/// A granted directory holding `x`, and a file beside it (outside) holding a secret.
struct Allowed {
    dir: TmpDir,
    outside: std::path::PathBuf,
    secret: String,
}

impl Allowed {
    fn new() -> Allowed {
        let dir = TmpDir::new("drhost-allowed-");
        std::fs::write(dir.path().join("x"), "inside").unwrap();
        let secret = unique("outside-secret");
        let outside = dir.path().with_extension("outside");
        std::fs::write(&outside, &secret).unwrap();
        Allowed { dir, outside, secret }
    }

    fn pattern(&self) -> String {
        format!("{}/*", self.dir.path().display())
    }
}

impl Drop for Allowed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.outside);
    }
}

#[test]
fn dot_dot_never_leaves_the_granted_directory() {
    let allowed = Allowed::new();
    let pattern = allowed.pattern();
    let grants = grant("cat", &[&pattern], None);
    let dir = allowed.dir.path().display().to_string();
    // /tmp/drhost-allowed-X/../../proc/self/environ, and the file beside the directory.
    let up = "../".repeat(allowed.dir.path().components().count() - 1);
    let environ = format!("{dir}/{up}proc/self/environ");
    let beside = format!(
        "{dir}/../{}",
        allowed.outside.file_name().and_then(|n| n.to_str()).unwrap()
    );
    for arg in [&environ, &beside] {
        let out = run(&grants, "cat", &[arg]).exec();
        let message = refused(&out, "access-denied");
        assert!(message.contains(&grant_line("cat", &[&pattern])), "{message}");
        assert!(
            message.contains("has a `..` segment") && message.contains("must be a normal path"),
            "{message}"
        );
        assert!(
            !message.contains("add to drhost.toml"),
            "no grant line could allow it: {message}"
        );
        assert!(!out.stdout.contains(&allowed.secret) && !out.journal_text().contains(&allowed.secret));
        assert!(!out.stdout.contains("PATH="), "{}", out.stdout);
    }
    // The grant still works for what it names.
    let out = run(&grants, "cat", &[&format!("{dir}/x")]).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.fact("stdout").as_deref(), Some("inside"));
}

#[test]
fn dot_empty_and_nul_segments_are_refused() {
    let allowed = Allowed::new();
    let pattern = allowed.pattern();
    let grants = grant("cat", &[&pattern], None);
    let dir = allowed.dir.path().display().to_string();
    for (arg, rule) in [
        (format!("{dir}/./x"), "has a `.` segment"),
        (format!("{dir}//x"), "has an empty segment (`//`)"),
        (format!("{dir}/x/"), "is a directory"),
        // The fixture turns a literal \0 into a NUL byte.
        (format!("{dir}/x\\0/../../etc/passwd"), "holds a NUL byte"),
    ] {
        let out = run(&grants, "cat", &[&arg]).exec();
        if rule == "is a directory" {
            // One trailing slash is normal: the grant allows it and cat says what x is.
            assert_eq!(out.code, 0, "{}", out.stderr);
            assert_eq!(out.fact("exit-code").as_deref(), Some("1"));
            continue;
        }
        let message = refused(&out, "access-denied");
        assert!(message.contains(&grant_line("cat", &[&pattern])), "{arg}: {message}");
        assert!(message.contains(rule), "{arg}: {message}");
        assert!(!message.contains('\0'), "the NUL is escaped in the message");
    }
}

#[test]
fn star_does_not_smuggle_an_option() {
    let canary = std::env::temp_dir().join(unique("drhost-canary-option"));
    let grants = grant("sort", &["*"], None);
    // `sort -oFILE` writes FILE: an option where the grant meant a value.
    let option = format!("-o{}", canary.display());
    let out = run(&grants, "sort", &[&option]).exec();
    let message = refused(&out, "access-denied");
    assert!(!canary.exists(), "sort never ran");
    assert!(message.contains(&grant_line("sort", &["*"])), "{message}");
    assert!(
        message.contains(&format!("refuses argument 1 {option:?}: it is an option")),
        "{message}"
    );
    // The fix offered grants exactly that option, as a pattern starting with `-`.
    assert!(
        message.ends_with(&format!("program = \"sort\"\nargs = [{option:?}]")),
        "{message}"
    );

    // A pattern that starts with `-` says options are fine.
    let grants = grant("sort", &["-o*"], None);
    let out = run(&grants, "sort", &[&option]).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(canary.exists());
    let _ = std::fs::remove_file(&canary);
}

#[test]
fn children_run_in_an_empty_host_only_directory() {
    // The guest writes into /scratch, then lists the child's directory.
    let grants = grant("ls", &["-A"], None) + &grant("pwd", &[], None) + &grant("stat", &["-c", "%a", "."], None);
    let out = run(&grants, "ls", &["-A"])
        .param("scratch-file", "guest-wrote-this")
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.fact("stdout").as_deref(),
        Some(""),
        "the working directory is empty"
    );
    let journal = out.journal();
    assert_eq!(calls(&journal, "shell.run")[0]["outcome"]["ok"]["exit_code"], 0);

    let out = run(&grants, "pwd", &[]).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cwd = out.fact("stdout").expect("pwd printed its directory");
    assert!(
        !cwd.ends_with("/scratch") && !cwd.contains("drhost-run-"),
        "not the guest's scratch nor beside it: {cwd}"
    );
    assert!(Path::new(&cwd).is_absolute(), "{cwd}");
    assert!(!Path::new(&cwd).exists(), "removed when the call returned: {cwd}");

    let out = run(&grants, "stat", &["-c", "%a", "."]).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.fact("stdout").as_deref(),
        Some("700"),
        "only the host's user may enter it"
    );
}

#[test]
fn children_get_an_empty_environment() {
    let canary = unique("env-canary");
    let out = run(&grant("env", &[], None), "env", &[])
        .env("DRHOST_HOSTILE_CANARY", &canary)
        .env("LD_PRELOAD", "/nonexistent.so")
        .exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.fact("stdout").as_deref(),
        Some("PATH=/usr/local/bin:/usr/bin:/bin"),
        "only the fixed search path"
    );
    let journal = out.journal();
    assert_eq!(calls(&journal, "shell.run")[0]["outcome"]["ok"]["exit_code"], 0);
}

/// Pids of live processes whose argv is exactly `argv`.
fn processes(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_timed_out_child_takes_its_whole_process_group_with_it() {
    // sleep takes fractional seconds: the pid makes the marker unique.
    let marker = format!("31.{}", std::process::id());
    let script = format!("sleep {marker} & sleep {marker}");
    let grants = grant("sh", &["-c", &script], Some("1s"));
    let out = run(&grants, "sh", &["-c", &script]).exec();
    // Every sleep of the group is gone (allow a moment for the kernel).
    let gone_by = Instant::now() + Duration::from_secs(3);
    let mut left = processes(&["sleep", &marker]);
    while !left.is_empty() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(100));
        left = processes(&["sleep", &marker]);
    }
    for pid in &left {
        // Ours (started through the test's drhost): do not leave them behind.
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
    assert!(left.is_empty(), "left running after the timeout: {left:?}");
    let message = refused(&out, "timeout");
    assert!(message.contains("did not finish within 1s"), "{message}");
    assert!(message.contains(&grant_line("sh", &["-c", &script])), "{message}");
    assert!(message.contains("killed with every process it started"), "{message}");
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
}

/// The lab's grant for `fault-stop-redis-master` (`redis-cli --tls --cacert
/// CA -h HOST -p PORT SHUTDOWN NOSAVE`, and the same with `PING`, for the
/// master's and the replica's port only, the password in the grant's
/// `env`), given to a hostile plugin: another command, another host, a
/// Sentinel's port, an option where the port goes, one argument more, no
/// TLS, another CA or a password of its own are each refused before
/// anything runs, and the real master and Sentinel still answer.
#[test]
fn the_redis_fault_grant_runs_only_its_own_two_commands() {
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let host = lab.get("REDIS_HOST").unwrap().to_string();
    let ca = lab.get("REDIS_CA_FILE").unwrap().to_string();
    let password_file = lab.get("REDIS_PASSWORD_FILE").unwrap().to_string();
    let master = lab.port("REDIS_MASTER_PORT").unwrap();
    let replica = lab.port("REDIS_REPLICA_PORT").unwrap().to_string();
    let sentinel = lab.sentinel_ports().unwrap()[0];
    let (master_text, sentinel_text) = (master.to_string(), sentinel.to_string());
    let tls = ["--tls", "--cacert", ca.as_str()];
    let mut grants = String::new();
    for port in [master_text.as_str(), replica.as_str()] {
        for command in [&["SHUTDOWN", "NOSAVE"][..], &["PING"][..]] {
            let args: Vec<&str> = tls
                .iter()
                .copied()
                .chain(["-h", &host, "-p", port])
                .chain(command.iter().copied())
                .collect();
            grants.push_str(&grant("redis-cli", &args, Some("10s")));
            grants.push_str(&format!("env = {{ REDISCLI_AUTH = \"file:{password_file}\" }}\n"));
        }
    }
    let key = unique("fault-grant-probe");
    let redis = |port: u16, args: &[&str]| {
        lab.redis_cli(port)
            .unwrap()
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(redis(master, &["SET", &key, "kept"]), "OK");
    fn with<'a>(tls: &[&'a str], h: &'a str, p: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
        tls.iter()
            .copied()
            .chain(["-h", h, "-p", p])
            .chain(rest.iter().copied())
            .collect()
    }
    for args in [
        with(&tls, &host, &master_text, &["FLUSHALL"]),
        with(&tls, &host, &master_text, &["CONFIG", "SET", "dir", "/tmp"]),
        with(&tls, "127.0.0.2", &master_text, &["SHUTDOWN", "NOSAVE"]),
        with(&tls, &host, &sentinel_text, &["SHUTDOWN", "NOSAVE"]),
        with(&tls, &host, "6379", &["SHUTDOWN", "NOSAVE"]),
        with(&tls, &host, "--tls", &["SHUTDOWN", "NOSAVE"]),
        with(&tls, &host, &master_text, &["SHUTDOWN", "NOSAVE", "ABORT"]),
        with(&tls, &host, &master_text, &["-a", "guess", "PING"]),
        vec!["-h", host.as_str(), "-p", master_text.as_str(), "SHUTDOWN", "NOSAVE"],
        vec![
            "--tls",
            "--cacert",
            "/tmp/mine.crt",
            "-h",
            host.as_str(),
            "-p",
            master_text.as_str(),
            "PING",
        ],
        vec![
            "--tls",
            "--cacert",
            ca.as_str(),
            "-p",
            master_text.as_str(),
            "-h",
            host.as_str(),
            "SHUTDOWN",
            "NOSAVE",
        ],
    ] {
        let out = run(&grants, "redis-cli", &args).exec();
        refused(&out, "access-denied");
    }
    // The granted PING runs, authenticated by the grant's env (the grant
    // is not simply dead).
    let out = run(&grants, "redis-cli", &with(&tls, &host, &master_text, &["PING"])).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let journal = out.journal();
    let ping = calls(&journal, "shell.run");
    assert_eq!(
        ping[0]["result"]["stdout"].as_str().map(str::trim),
        Some("PONG"),
        "{ping:?}"
    );
    assert_eq!(redis(master, &["GET", &key]), "kept", "the master kept its data");
    assert_eq!(redis(sentinel, &["PING"]), "PONG", "the Sentinel still runs");
    redis(master, &["DEL", &key]);
}

/// A grant's `env` reaches the program and never the plugin: a hostile
/// plugin granted a program that prints its environment gets the value
/// back as `[redacted NAME]`, and the value is nowhere in the journal or
/// drhost's output; the program sees nothing else of drhost's environment.
#[test]
fn a_grant_env_value_reaches_the_program_but_never_the_plugin() {
    let dir = TmpDir::new("drhost-env-grant-");
    let value = unique("s3cret-token");
    let file = dir.write("token", format!("{value}\n"));
    let grants = format!(
        "{}env = {{ DRHOST_TEST_TOKEN = \"file:{}\" }}\n",
        grant("printenv", &["**"], None),
        file.display()
    );
    // What the plugin got back from `printenv ARGS` (its `stdout` fact) and
    // what the journal holds as the call's result: the same, redacted.
    let printenv = |args: &[&str]| {
        let out = run(&grants, "printenv", args).env("DRHOST_LEAK_CANARY", &value).exec();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let journal = out.journal();
        let journaled = calls(&journal, "shell.run")[0]["result"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .trim_end()
            .to_string();
        assert_eq!(
            out.fact("stdout").as_deref(),
            Some(journaled.as_str()),
            "{}",
            out.stdout
        );
        let journal_text = std::fs::read_to_string(out.journal_path().unwrap()).unwrap();
        for (what, text) in [
            ("journal", &journal_text),
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
        ] {
            assert!(!text.contains(&value), "the value is in the {what}: {text}");
        }
        journaled
    };
    // One variable, by name.
    assert_eq!(printenv(&["DRHOST_TEST_TOKEN"]), "[redacted DRHOST_TEST_TOKEN]");
    // The whole environment: PATH and the granted variable, nothing of
    // drhost's own (the canary was set for drhost, not the program).
    let printed = printenv(&[]);
    let mut names: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect();
    names.sort();
    assert_eq!(names, ["DRHOST_TEST_TOKEN", "PATH"], "{printed}");
    assert!(
        printed.contains("DRHOST_TEST_TOKEN=[redacted DRHOST_TEST_TOKEN]"),
        "{printed}"
    );
    // A bare value where a secret reference belongs is refused up front.
    let bare = format!(
        "{}env = {{ DRHOST_TEST_TOKEN = \"{value}\" }}\n",
        grant("printenv", &["**"], None)
    );
    let out = run(&bare, "printenv", &[]).exec();
    assert_eq!(out.code, 2, "a broken config: {}\n{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("never as its value"), "{said}");
    assert!(!said.contains(&value), "{said}");
}
