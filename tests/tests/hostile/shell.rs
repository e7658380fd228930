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

/// The lab's grant for `fault-stop-redis-master` (`redis-cli -h HOST -p PORT
/// SHUTDOWN NOSAVE`, and the same with `PING`, for the master's and the
/// replica's port only), given to a hostile plugin: another command,
/// another host, a Sentinel's port, an option where the port goes or one
/// argument more are each refused before anything runs, and the real
/// master and Sentinel still answer.
#[test]
fn the_redis_fault_grant_runs_only_its_own_two_commands() {
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let host = lab.get("REDIS_HOST").unwrap().to_string();
    let master = lab.port("REDIS_MASTER_PORT").unwrap().to_string();
    let replica = lab.port("REDIS_REPLICA_PORT").unwrap().to_string();
    let sentinel = lab
        .get("SENTINEL_PORTS")
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let mut grants = String::new();
    for port in [&master, &replica] {
        grants.push_str(&grant(
            "redis-cli",
            &["-h", &host, "-p", port, "SHUTDOWN", "NOSAVE"],
            Some("10s"),
        ));
        grants.push_str(&grant("redis-cli", &["-h", &host, "-p", port, "PING"], Some("5s")));
    }
    let key = unique("fault-grant-probe");
    let redis = |args: &[&str]| {
        std::process::Command::new("redis-cli")
            .args(["-h", &host, "-p", &master])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(redis(&["SET", &key, "kept"]), "OK");
    for args in [
        vec!["-h", host.as_str(), "-p", master.as_str(), "FLUSHALL"],
        vec![
            "-h",
            host.as_str(),
            "-p",
            master.as_str(),
            "CONFIG",
            "SET",
            "dir",
            "/tmp",
        ],
        vec!["-h", "127.0.0.2", "-p", master.as_str(), "SHUTDOWN", "NOSAVE"],
        vec!["-h", host.as_str(), "-p", sentinel.as_str(), "SHUTDOWN", "NOSAVE"],
        vec!["-h", host.as_str(), "-p", "6379", "SHUTDOWN", "NOSAVE"],
        vec!["-h", host.as_str(), "-p", "--tls", "SHUTDOWN", "NOSAVE"],
        vec![
            "-h",
            host.as_str(),
            "-p",
            master.as_str(),
            "SHUTDOWN",
            "NOSAVE",
            "ABORT",
        ],
        vec!["-p", master.as_str(), "-h", host.as_str(), "SHUTDOWN", "NOSAVE"],
    ] {
        let out = run(&grants, "redis-cli", &args).exec();
        refused(&out, "access-denied");
    }
    // The granted PING runs (the grant is not simply dead).
    let out = run(&grants, "redis-cli", &["-h", &host, "-p", &master, "PING"]).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(redis(&["GET", &key]), "kept", "the master kept its data");
    let sentinel_ping = std::process::Command::new("redis-cli")
        .args(["-h", &host, "-p", &sentinel, "PING"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert_eq!(sentinel_ping, "PONG", "the Sentinel still runs");
    redis(&["DEL", &key]);
}
