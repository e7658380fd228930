//! Grant matchers fed a plugin's argument vectors: `shell` (a grant's
//! per-position globs against the program and argv a plugin asks to run,
//! and the refusal with its advice), `docker` exec (argv and the `NAME=value`
//! environment a plugin passes, against exec and exec_env grants on a
//! container) and Redis commands (class, name, journaled arguments).
//!
//! Invariants: an allowed argv holds no NUL, no option where its pattern
//! is not an option, no path with `.`, `..` or `//` against a path
//! pattern, and only fills the patterns (the rest through `**`); the grant
//! a shell refusal advises, parsed from its TOML as `run` reads it, allows
//! exactly that call (when any grant can: no NUL, no unnormal path); a
//! docker exec allowed sets only `[A-Za-z_][A-Za-z0-9_]*` names without NUL
//! in values; a Redis command's class does not depend on the case of its
//! words, and credentials never reach the journal.
#![no_main]

use std::path::Path;

use arbitrary::Arbitrary;
use drhost::caps::docker::{ContainerIdentity, DockerAccess, DockerGrant};
use drhost::caps::kit::pattern::{check_argv, path_flaw, ArgPattern};
use drhost::caps::redis::{classify, command_name, redacted_args, replicaof_node};
use drhost::caps::shell::ShellGrant;
use drhost::config::Config;
use drhost::fuzzing::{parse_exec_env, shell_denial, shell_grant_lines, KeyPattern};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The grant's argument patterns (those that are globs).
    patterns: Vec<String>,
    /// The grant's program; the call names it unless `other_program`.
    program: String,
    other_program: Option<String>,
    argv: Vec<String>,
    exec_env_grants: Vec<String>,
    env: Vec<String>,
    container: String,
    container_globs: Vec<String>,
    redis: Vec<String>,
}

fn flip_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// What every allowed argv must be, from the argument rules (not from the
/// matcher's own code path).
fn assert_allowed_argv(patterns: &[ArgPattern], argv: &[String]) {
    assert!(
        argv.iter().all(|a| !a.contains('\0')),
        "an argument with NUL is allowed"
    );
    let rest = patterns.last().is_some_and(|p| p.as_str() == "**");
    let fixed = if rest { patterns.len() - 1 } else { patterns.len() };
    assert!(argv.len() <= fixed || rest, "more arguments than patterns");
    // Patterns left without an argument may only be `**` (documented: optional).
    assert!(
        patterns.iter().skip(argv.len()).all(|p| p.as_str() == "**"),
        "fewer arguments than patterns"
    );
    for (pattern, arg) in patterns.iter().zip(argv).take(fixed) {
        assert!(pattern.matches(arg), "{arg:?} allowed by {:?}", pattern.as_str());
        if arg.starts_with('-') {
            assert!(
                pattern.as_str().starts_with('-'),
                "option {arg:?} through {:?}",
                pattern.as_str()
            );
        }
        if pattern.as_str().contains('/') {
            assert!(
                path_flaw(arg).is_none(),
                "unnormal path {arg:?} through {:?}",
                pattern.as_str()
            );
        }
    }
}

fn shell(input: &Input, patterns: &[ArgPattern]) {
    let grant = ShellGrant {
        program: input.program.clone(),
        args: patterns.to_vec(),
        timeout: None,
        starts_daemon: false,
    };
    let program = input.other_program.as_deref().unwrap_or(&input.program);
    let allowed = grant.allows(program, &input.argv);
    assert_eq!(
        allowed,
        program == input.program && grant.refusal(program, &input.argv).is_none()
    );
    if allowed {
        assert_allowed_argv(patterns, &input.argv);
        return;
    }
    let message = shell_denial("fuzz", std::slice::from_ref(&grant), program, &input.argv);
    assert!(!message.is_empty());
    // The advice, when a grant could allow the call at all, allows it.
    let grantable = input
        .argv
        .iter()
        .all(|a| !a.contains('\0') && (!a.contains('/') || path_flaw(a).is_none()));
    if !grantable {
        return;
    }
    let advice = shell_grant_lines("fuzz", program, Some(input.argv.as_slice()));
    let config = Config::parse(Path::new("advice.toml"), &advice)
        .unwrap_or_else(|e| panic!("the advice is not a valid drhost.toml: {e}\n{advice}"));
    let advised = config.grants_for("fuzz").shell;
    assert_eq!(advised.len(), 1);
    assert!(
        advised[0].allows(program, &input.argv),
        "the advised grant does not allow the call it was advised for:\n{advice}"
    );
}

fn docker(input: &Input, patterns: &[ArgPattern]) {
    let exec_env: Vec<KeyPattern> = input
        .exec_env_grants
        .iter()
        .filter_map(|t| KeyPattern::try_from(t.clone()).ok())
        .collect();
    let containers: Vec<ArgPattern> = input
        .container_globs
        .iter()
        .filter_map(|t| ArgPattern::try_from(t.clone()).ok())
        .collect();
    let grant = DockerGrant {
        containers,
        access: vec![DockerAccess::Write],
        exec: vec![patterns.to_vec()],
        exec_env,
        ..DockerGrant::default()
    };
    let container = ContainerIdentity {
        name: input.container.clone(),
        labels: Default::default(),
    };
    let argv_ok = grant.allows_exec_argv(&container, &input.argv);
    assert_eq!(
        argv_ok,
        grant.selects(&container) && check_argv(patterns, &input.argv).is_ok()
    );
    if argv_ok {
        assert_allowed_argv(patterns, &input.argv);
    }
    let Ok(env) = parse_exec_env(&input.env) else {
        return;
    };
    for (name, value) in &env {
        assert!(
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name:?}"
        );
        assert!(!value.contains('\0'));
    }
    if grant.allows_exec(&container, &input.argv, &env) {
        assert!(argv_ok);
        assert!(env.iter().all(|(k, v)| grant.allows_exec_env(k, v)));
    }
}

fn redis(args: &[String]) {
    let class = classify(args);
    let flipped: Vec<String> = args.iter().map(|a| flip_case(a)).collect();
    assert_eq!(classify(&flipped), class, "the class of {args:?} depends on case");
    let name = command_name(args);
    assert!(name.len() <= 64 && !name.chars().any(char::is_control), "{name:?}");
    let _ = replicaof_node(args);
    let shown = redacted_args(args);
    assert!(shown.len() <= 33);
    let first = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    if matches!(first.as_str(), "AUTH" | "HELLO" | "MIGRATE" | "ACL") {
        for (i, text) in shown.iter().enumerate().skip(1).take(31) {
            assert_eq!(text, "<redacted>", "argument {i} of {first} reaches the journal");
        }
    }
}

fuzz_target!(|input: Input| {
    let patterns: Vec<ArgPattern> = input
        .patterns
        .iter()
        .filter_map(|t| ArgPattern::try_from(t.clone()).ok())
        .collect();
    shell(&input, &patterns);
    docker(&input, &patterns);
    redis(&input.redis);
});
