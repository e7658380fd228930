//! What the operator grants for `shell`, and the check made at every call.
//!
//! Argument rules, on top of the per-position globs (the same for `docker`
//! exec argv, which reuses [`ArgPattern::matches_arg`]):
//!
//! - **No NUL.** An argument holding a NUL byte matches nothing, `**` included.
//! - **No smuggled options.** An argument starting with `-` matches only a
//!   pattern that itself starts with `-` (`"-n"`, `"-*"`, `"--format=*"`);
//!   `*`, `?*`, `[a-z]*`… never match an option. `**` (the rest) still
//!   matches anything: that is what it says.
//! - **Paths are taken as written, never normalised for the program.** When
//!   the pattern contains `/` it is a path pattern, and the argument must
//!   already be in normal form: every `/`-separated segment is a name — not
//!   empty (`//`), not `.`, not `..`. One leading `/` (absolute), one
//!   trailing `/` (a directory) and the `//` right after a URL scheme
//!   (`https://`) are fine. Anything else is refused outright, so
//!   `/tmp/allowed/*` never matches `/tmp/allowed/../../proc/self/environ`.
//!   Symbolic links are not resolved (a check-then-use race would make that
//!   no guarantee, and legitimate paths go through links): a path grant is
//!   only as good as the directory it names, so grant directories that the
//!   plugin — through any program it may run — cannot write or link into.

use serde::{Deserialize, Serialize};

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
    #[serde(default, with = "duration_text")]
    pub timeout: Option<std::time::Duration>,
}

/// A glob over one argument (`*` matches anything, spaces, `;` and `/`
/// included: no shell ever sees it). `**` alone means "any remaining
/// arguments". As an argument pattern it also applies the rules in the
/// module docs ([`ArgPattern::check_arg`]); as a name glob (containers,
/// images, hosts) it is a plain glob ([`ArgPattern::matches`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArgPattern {
    text: String,
    matcher: globset::GlobMatcher,
}

impl TryFrom<String> for ArgPattern {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let glob = globset::GlobBuilder::new(&text)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("`{text}` is not a valid argument pattern: {e}"))?;
        Ok(ArgPattern {
            matcher: glob.compile_matcher(),
            text,
        })
    }
}

impl From<ArgPattern> for String {
    fn from(pattern: ArgPattern) -> String {
        pattern.text
    }
}

/// Why one argument does not match one argument pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRefusal {
    /// The glob does not match it.
    Mismatch,
    /// It holds a NUL byte: no pattern matches it.
    Nul,
    /// The glob matches, but the argument is an option (starts with `-`)
    /// and the pattern does not start with `-`.
    Option,
    /// The glob matches, but the pattern is a path pattern and the
    /// argument is not a normal path; says what is wrong with it.
    NotNormal(&'static str),
}

impl ArgRefusal {
    /// The rule, as a clause for a message ("… is refused: CLAUSE").
    pub fn rule(&self) -> String {
        match self {
            ArgRefusal::Mismatch => "no pattern matches it".into(),
            ArgRefusal::Nul => "it holds a NUL byte, which no grant allows".into(),
            ArgRefusal::Option => {
                "it is an option (starts with `-`) and only a pattern starting with `-` (e.g. \"-*\") matches an option"
                    .into()
            }
            ArgRefusal::NotNormal(flaw) => format!(
                "it has {flaw}, and an argument matched against a path pattern must be a normal path (no `..`, `.` or empty segments); pass the path without them"
            ),
        }
    }
}

impl ArgPattern {
    /// The glob as the operator wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `text` matches this glob, as a plain glob (names, hosts,
    /// image references). Arguments go through [`ArgPattern::check_arg`].
    pub fn matches(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }

    /// Whether argument `arg` matches this pattern under the argument rules.
    pub fn matches_arg(&self, arg: &str) -> bool {
        self.check_arg(arg).is_ok()
    }

    /// Checks argument `arg` against this pattern: no NUL, the glob
    /// matches, an option only for a pattern starting with `-`, and a
    /// normal path for a path pattern (one containing `/`).
    pub fn check_arg(&self, arg: &str) -> Result<(), ArgRefusal> {
        if arg.contains('\0') {
            return Err(ArgRefusal::Nul);
        }
        if !self.matcher.is_match(arg) {
            return Err(ArgRefusal::Mismatch);
        }
        if arg.starts_with('-') && !self.text.starts_with('-') {
            return Err(ArgRefusal::Option);
        }
        if self.is_path() {
            if let Some(flaw) = path_flaw(arg) {
                return Err(ArgRefusal::NotNormal(flaw));
            }
        }
        Ok(())
    }

    /// A path pattern: one containing `/`.
    pub fn is_path(&self) -> bool {
        self.text.contains('/')
    }

    fn is_rest(&self) -> bool {
        self.text == "**"
    }
}

/// What keeps `arg` from being a normal path, if anything: `"a `..`
/// segment"`, `"a `.` segment"` or `"an empty segment (`//`)"`. One
/// leading `/`, one trailing `/` and the `//` after a URL scheme
/// (`https://`) are normal. Nothing is decoded (`%2e` stays as written).
pub fn path_flaw(arg: &str) -> Option<&'static str> {
    let body = match arg.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => rest,
        _ => arg,
    };
    if body.contains("//") {
        return Some("an empty segment (`//`)");
    }
    let body = body.strip_prefix('/').unwrap_or(body);
    let body = body.strip_suffix('/').unwrap_or(body);
    body.split('/').find_map(|segment| match segment {
        ".." => Some("a `..` segment"),
        "." => Some("a `.` segment"),
        _ => None,
    })
}

/// RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Why an argv does not match a list of per-position patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgvRefusal {
    /// More arguments than patterns (and no `**` last).
    TooMany,
    /// Fewer arguments than patterns (the missing ones are not `**`).
    TooFew,
    /// Argument `index` (from 0) is refused by its pattern.
    Arg {
        /// Position in the argv, from 0.
        index: usize,
        /// What the pattern refused.
        why: ArgRefusal,
    },
}

/// Checks `argv` against one pattern per position (`"**"` as the last
/// pattern matches any remaining arguments, NUL excepted), under the
/// argument rules. Shared by `shell` grants and `docker` exec grants.
pub fn check_argv(patterns: &[ArgPattern], argv: &[String]) -> Result<(), ArgvRefusal> {
    for (index, arg) in argv.iter().enumerate() {
        match patterns.get(index) {
            Some(p) if p.is_rest() && index + 1 == patterns.len() => {
                return match argv[index..].iter().position(|a| a.contains('\0')) {
                    Some(at) => Err(ArgvRefusal::Arg {
                        index: index + at,
                        why: ArgRefusal::Nul,
                    }),
                    None => Ok(()),
                };
            }
            Some(p) => p.check_arg(arg).map_err(|why| ArgvRefusal::Arg { index, why })?,
            None => return Err(ArgvRefusal::TooMany),
        }
    }
    // Every argument matched; the remaining patterns must be optional.
    if patterns.iter().skip(argv.len()).all(ArgPattern::is_rest) {
        Ok(())
    } else {
        Err(ArgvRefusal::TooFew)
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
    let head = format!("shell program `{program}` with args {args:?} is not granted to plugin `{id}`");
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
    format!(
        "{head}; to allow it add to drhost.toml:\n{}",
        grant_lines(id, program, Some(args))
    )
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

/// `text` as a glob that matches only itself (glob characters escaped).
pub fn glob_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '{' | '}' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// `text` as a one-line TOML basic string: quoted, with `"`, `\\` and every
/// control character escaped, so advice quoting a plugin's text stays on
/// its own line whatever the text holds.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        crate::config::parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(program: &str, args: &[&str]) -> ShellGrant {
        ShellGrant {
            program: program.into(),
            args: args
                .iter()
                .map(|a| ArgPattern::try_from(a.to_string()).unwrap())
                .collect(),
            timeout: None,
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
