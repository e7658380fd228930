//! What the operator grants for `shell`, and the check made at every call.
//!
//! Arguments are matched under the rules of [`crate::caps::kit::pattern`]
//! (no NUL, no smuggled options, paths taken as written), so
//! `/tmp/allowed/*` never matches `/tmp/allowed/../../proc/self/environ`.
//! Symbolic links are not resolved (a check-then-use race would make that
//! no guarantee, and legitimate paths go through links): a path grant is
//! only as good as the directory it names, so grant directories that the
//! plugin — through any program it may run — cannot write or link into.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::caps::kit::pattern::{check_argv, glob_escape, path_flaw, ArgPattern, ArgRefusal, ArgvRefusal};
use crate::caps::kit::text::{not_granted, not_granted_head, toml_string};
use crate::secret::SecretRef;

/// `[[plugins.<id>.shell]]`: one program the plugin may run.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShellGrant {
    /// The program as the plugin names it: a bare name (looked up in
    /// /usr/local/bin, /usr/bin, /bin) or an absolute path. Matched exactly.
    pub program: String,
    /// One glob per argument position; `"**"` as the last pattern matches any
    /// remaining arguments. Empty: the program takes no arguments.
    #[serde(default)]
    pub args: Vec<ArgPattern>,
    /// Longest the program may run, e.g. "30s" (default: 60s).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub timeout: Option<std::time::Duration>,
    /// The program leaves a daemon running (e.g. `redis-server` with
    /// `daemonize yes`). Such a program gets no file size limit (the
    /// daemon would keep the run's for its whole life); its working
    /// directory is still measured against the run's disk budget.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub starts_daemon: bool,
    /// Environment variables the program gets, each from a secret
    /// reference (`env:NAME`, `file:PATH`, `vault:…`), e.g.
    /// `env = { REDISCLI_AUTH = "file:/etc/redis/password" }`: a password
    /// reaches the program without being an argument, and without the
    /// plugin ever holding it. What the program prints is returned with
    /// each value replaced by `[redacted NAME]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<EnvName, SecretRef>,
}

/// The name of a variable a grant sets: letters, digits and `_`, not
/// starting with a digit; never `PATH` (drhost sets it) nor a name the
/// dynamic loader reads (`LD_*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "String")]
pub struct EnvName(String);

impl EnvName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnvName {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        let well_formed = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(format!(
                "`{name}` in env is not a variable name: use letters, digits and _, e.g. REDISCLI_AUTH"
            ));
        }
        if name == "PATH" || name.starts_with("LD_") {
            return Err(format!(
                "env may not set `{name}`: drhost sets PATH itself, and LD_* would change what the program loads"
            ));
        }
        Ok(EnvName(name))
    }
}

impl ShellGrant {
    /// Whether this grant allows `program` with exactly these `args`.
    pub fn allows(&self, program: &str, args: &[String]) -> bool {
        self.program == program && check_argv(&self.args, args).is_ok()
    }

    /// Why this grant, for the same program, refuses `args` (None: it
    /// allows them, or it is for another program).
    pub fn refusal(&self, program: &str, args: &[String]) -> Option<ArgvRefusal> {
        if self.program != program {
            return None;
        }
        check_argv(&self.args, args).err()
    }

    /// This grant as one line of TOML, to name it in a message:
    /// `[[plugins.ID.shell]] program = "cat", args = ["/srv/*"]`.
    pub fn line(&self, id: &str) -> String {
        let args = self
            .args
            .iter()
            .map(|a| toml_string(a.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "[[plugins.{id}.shell]] program = {}, args = [{args}]",
            toml_string(&self.program)
        )
    }
}

/// The message for a call of `program` with `args` that none of `grants`
/// (plugin `id`'s) allows. When a grant for the program matched an
/// argument's glob but an argument rule refused it, the message names that
/// grant and the rule; an argument no grant line could allow as written
/// (NUL, a path with `..`, `.` or `//`) is named with its rule; otherwise
/// the message ends with the TOML lines that would grant exactly this call.
pub fn denial(id: &str, grants: &[ShellGrant], program: &str, args: &[String]) -> String {
    let subject = format!("shell program `{program}` with args {args:?}");
    let head = not_granted_head(&subject, id);
    for grant in grants {
        let Some(ArgvRefusal::Arg { index, why }) = grant.refusal(program, args) else {
            continue;
        };
        if why == ArgRefusal::Mismatch {
            continue;
        }
        let fix = match why {
            ArgRefusal::Option => format!(
                "; to allow it add to drhost.toml:\n{}",
                grant_lines(id, program, Some(args))
            ),
            _ => String::new(),
        };
        return format!(
            "{head}: grant `{}` refuses argument {} {:?}: {}{fix}",
            grant.line(id),
            index + 1,
            args[index],
            why.rule()
        );
    }
    let unwritable = args.iter().enumerate().find_map(|(i, arg)| {
        if arg.contains('\0') {
            Some((i, ArgRefusal::Nul))
        } else if arg.contains('/') {
            path_flaw(arg).map(|flaw| (i, ArgRefusal::NotNormal(flaw)))
        } else {
            None
        }
    });
    if let Some((index, why)) = unwritable {
        return format!(
            "{head}: argument {} {:?} is refused: {}",
            index + 1,
            args[index],
            why.rule()
        );
    }
    not_granted(&subject, id, &grant_lines(id, program, Some(args)))
}

/// The TOML lines that would grant `program` with any arguments.
pub fn grant_lines_any(id: &str, program: &str) -> String {
    grant_lines(id, program, None)
}

/// The TOML lines that would grant `program` with `args` to plugin `id`.
pub fn grant_lines(id: &str, program: &str, args: Option<&[String]>) -> String {
    let args = match args {
        Some(args) => args
            .iter()
            .map(|a| toml_string(&glob_escape(a)))
            .collect::<Vec<_>>()
            .join(", "),
        None => "\"**\"".to_string(),
    };
    format!(
        "[[plugins.{id}.shell]]\nprogram = {}\nargs = [{args}]",
        toml_string(program)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_variable_names_and_never_path_or_the_loaders() {
        for bad in ["", "1X", "A-B", "A B", "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH"] {
            assert!(EnvName::try_from(bad.to_string()).is_err(), "{bad}");
        }
        for good in ["REDISCLI_AUTH", "PGPASSWORD", "_X1"] {
            assert_eq!(EnvName::try_from(good.to_string()).unwrap().as_str(), good);
        }
        let g: ShellGrant =
            toml::from_str("program = \"redis-cli\"\nenv = { REDISCLI_AUTH = \"file:/etc/redis/password\" }\n")
                .unwrap();
        assert_eq!(g.env.len(), 1);
        let bare: Result<ShellGrant, _> = toml::from_str("program = \"x\"\nenv = { A = \"hunter2\" }\n");
        assert!(bare.unwrap_err().to_string().contains("never as its value"));
    }

    fn grant(program: &str, args: &[&str]) -> ShellGrant {
        ShellGrant {
            starts_daemon: false,
            program: program.into(),
            args: args
                .iter()
                .map(|a| ArgPattern::try_from(a.to_string()).unwrap())
                .collect(),
            timeout: None,
            env: BTreeMap::new(),
        }
    }

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn positional_globs() {
        let g = grant("docker", &["logs", "toolboxai-*"]);
        assert!(g.allows("docker", &argv(&["logs", "toolboxai-backend1"])));
        assert!(!g.allows("docker", &argv(&["rm", "toolboxai-backend1"])));
        assert!(!g.allows("docker", &argv(&["logs"])));
        assert!(!g.allows("docker", &argv(&["logs", "toolboxai-b", "extra"])));
        assert!(!g.allows("dockerd", &argv(&["logs", "toolboxai-b"])));
    }

    #[test]
    fn rest_pattern() {
        let g = grant("echo", &["**"]);
        assert!(g.allows("echo", &argv(&[])));
        assert!(g.allows("echo", &argv(&["a", "b; rm -rf /"])));
        let g = grant("echo", &["hi", "**"]);
        assert!(g.allows("echo", &argv(&["hi"])));
        assert!(g.allows("echo", &argv(&["hi", "there"])));
        assert!(!g.allows("echo", &argv(&["bye"])));
    }

    #[test]
    fn no_args_means_none() {
        let g = grant("true", &[]);
        assert!(g.allows("true", &argv(&[])));
        assert!(!g.allows("true", &argv(&["x"])));
    }

    #[test]
    fn suggested_lines_grant_exactly_the_denied_call() {
        let lines = grant_lines("hello", "echo", Some(&argv(&["a*b"])));
        let config = crate::config::Config::parse(std::path::Path::new("t.toml"), &lines).unwrap();
        let grant = &config.grants_for("hello").shell[0];
        assert!(grant.allows("echo", &argv(&["a*b"])));
        assert!(!grant.allows("echo", &argv(&["axxb"])), "glob characters are escaped");
    }

    #[test]
    fn path_patterns_refuse_dot_dot_dot_and_empty_segments() {
        let g = grant("cat", &["/tmp/allowed/*"]);
        assert!(g.allows("cat", &argv(&["/tmp/allowed/x"])));
        assert!(g.allows("cat", &argv(&["/tmp/allowed/sub/x.log"])));
        assert!(
            g.allows("cat", &argv(&["/tmp/allowed/dir/"])),
            "one trailing slash is normal"
        );
        assert!(
            g.allows("cat", &argv(&["/tmp/allowed/..x"])),
            "a name starting with dots is a name"
        );
        for escape in [
            "/tmp/allowed/../../proc/self/environ",
            "/tmp/allowed/..",
            "/tmp/allowed/x/../../../etc/shadow",
            "/tmp/allowed/./x",
            "/tmp/allowed/.",
            "/tmp/allowed//x",
            "/tmp/allowed/x//",
            "/tmp/allowed/x\0y",
        ] {
            assert!(!g.allows("cat", &argv(&[escape])), "{escape:?}");
        }
        let refusal = g.refusal("cat", &argv(&["/tmp/allowed/../../proc/self/environ"]));
        assert_eq!(
            refusal,
            Some(ArgvRefusal::Arg {
                index: 0,
                why: ArgRefusal::NotNormal("a `..` segment")
            })
        );
        // Relative path patterns too, and an option value holding a path.
        let g = grant("tar", &["--directory=/srv/*", "data/*"]);
        assert!(g.allows("tar", &argv(&["--directory=/srv/app", "data/a"])));
        assert!(!g.allows("tar", &argv(&["--directory=/srv/../etc", "data/a"])));
        assert!(!g.allows("tar", &argv(&["--directory=/srv/app", "data/../../x"])));
    }

    #[test]
    fn path_flaws_are_named() {
        assert_eq!(path_flaw("/a/b"), None);
        assert_eq!(path_flaw("/"), None);
        assert_eq!(path_flaw("a/b/"), None);
        assert_eq!(path_flaw("a/../b"), Some("a `..` segment"));
        assert_eq!(path_flaw("../b"), Some("a `..` segment"));
        assert_eq!(path_flaw("./b"), Some("a `.` segment"));
        assert_eq!(path_flaw("//b"), Some("an empty segment (`//`)"));
        assert_eq!(path_flaw("https://h:1/x"), None, "the // after a scheme");
        assert_eq!(path_flaw("https://h:1//x"), Some("an empty segment (`//`)"));
        assert_eq!(path_flaw("https://h:1/a/../admin"), Some("a `..` segment"));
        assert_eq!(path_flaw("1x://h/x"), Some("an empty segment (`//`)"), "not a scheme");
        assert_eq!(path_flaw("%2e%2e/x"), None, "nothing is decoded");
    }

    #[test]
    fn non_path_patterns_constrain_no_directory() {
        // `*` without `/` is any value: the operator granted any file.
        let g = grant("echo", &["*"]);
        assert!(g.allows("echo", &argv(&["a/../b"])));
        assert!(!g.allows("echo", &argv(&["a\0b"])), "NUL matches nothing");
    }

    #[test]
    fn star_never_matches_an_option() {
        let g = grant("ls", &["*"]);
        assert!(g.allows("ls", &argv(&["dir"])));
        for option in ["-la", "--all", "-", "--", "--output=/etc/x"] {
            assert_eq!(
                g.refusal("ls", &argv(&[option])),
                Some(ArgvRefusal::Arg {
                    index: 0,
                    why: ArgRefusal::Option
                }),
                "{option}"
            );
        }
        // Globs that do not start with `-` cannot match one either.
        for pattern in ["?*", "[-a-z]*", "{-x,y}", "\\-x"] {
            assert!(!grant("ls", &[pattern]).allows("ls", &argv(&["-x"])), "{pattern}");
        }
        // A pattern starting with `-` says options are fine.
        let g = grant("date", &["-*", "--format=*"]);
        assert!(g.allows("date", &argv(&["-u", "--format=%s"])));
        assert!(!g.allows("date", &argv(&["-u", "--date=@0"])));
        assert!(grant("nc", &["-z", "-w", "*"]).allows("nc", &argv(&["-z", "-w", "2"])));
        // `**` (the rest) is any argument: options too, never NUL.
        let g = grant("echo", &["x", "**"]);
        assert!(g.allows("echo", &argv(&["x", "-n", "--", "-e"])));
        assert_eq!(
            g.refusal("echo", &argv(&["x", "ok", "a\0b"])),
            Some(ArgvRefusal::Arg {
                index: 2,
                why: ArgRefusal::Nul
            })
        );
    }

    #[test]
    fn denials_name_the_refusing_grant_and_the_rule() {
        let grants = vec![grant("echo", &["**"]), grant("cat", &["/tmp/allowed/*"])];
        let message = denial("p", &grants, "cat", &argv(&["/tmp/allowed/../../proc/self/environ"]));
        assert!(
            message.contains("grant `[[plugins.p.shell]] program = \"cat\", args = [\"/tmp/allowed/*\"]`"),
            "{message}"
        );
        assert!(message.contains("a `..` segment"), "{message}");
        assert!(
            !message.contains('\n'),
            "no grant line can allow it, so none is offered: {message}"
        );

        let message = denial("p", &[grant("ls", &["*"])], "ls", &argv(&["-la"]));
        assert!(
            message.contains("refuses argument 1 \"-la\": it is an option"),
            "{message}"
        );
        let offered = message.split_once(":\n").map(|(_, lines)| lines).unwrap_or_default();
        let config = crate::config::Config::parse(std::path::Path::new("t.toml"), offered).unwrap();
        assert!(
            config.grants_for("p").shell[0].allows("ls", &argv(&["-la"])),
            "{offered}"
        );

        // No grant for the program: an argument no line could allow is named.
        let message = denial("p", &[], "cat", &argv(&["/etc/./passwd"]));
        assert!(message.ends_with("has a `.` segment, and an argument matched against a path pattern must be a normal path (no `..`, `.` or empty segments); pass the path without them"), "{message}");
        let message = denial("p", &[], "cat", &argv(&["a\0b"]));
        assert!(
            message.contains("\"a\\0b\" is refused: it holds a NUL byte"),
            "{message}"
        );
        // Otherwise: the exact lines.
        let message = denial("p", &[], "cat", &argv(&["/etc/hosts"]));
        assert!(message.ends_with("args = [\"/etc/hosts\"]"), "{message}");
    }
}
