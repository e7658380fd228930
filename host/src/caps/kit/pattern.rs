//! Glob patterns over names and arguments, shared by every capability whose
//! grants name things (`shell` programs' arguments, `docker` containers,
//! networks, images and exec argv, `http` hosts, `s3` keys, `vault` paths).
//!
//! Argument rules, on top of the per-position globs:
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
//!   (`https://`) are fine. Anything else is refused outright.

use serde::{Deserialize, Serialize};

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

/// `text` as a glob that matches only itself (glob characters escaped).
pub(crate) fn glob_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '{' | '}' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Whether `text` matches the grant glob `pattern` (`*` matches `/` too: a
/// key, path or name is one string). A malformed glob matches nothing.
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    grant_glob(pattern).is_some_and(|g| g.is_match(text))
}

/// The grant glob `pattern` compiled once, for matching many texts (a
/// directory walk) under the rules of [`glob_matches`]; `None` when it is
/// malformed (it then matches nothing).
pub(crate) fn grant_glob(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The text a grant glob matches literally before its first wildcard
/// (`supabase/` for `supabase/*`; `a*b/` for `a\*b/*`, an escaped
/// character being itself): what a listing's prefix must start with.
pub(crate) fn literal_head(pattern: &str) -> String {
    let mut head = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '[' | '{' => break,
            // `\x` is `x` (glob_matches reads backslash escapes); a
            // dangling `\` (a glob that matches nothing) stays as written.
            '\\' => head.push(chars.next().unwrap_or('\\')),
            c => head.push(c),
        }
    }
    head
}

#[cfg(test)]
mod properties {
    use super::{check_argv, ArgPattern};
    use proptest::prelude::*;

    fn pattern(text: &str) -> ArgPattern {
        ArgPattern::try_from(text.to_string()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// An argument a path pattern accepts is a normal path under it:
        /// no `..`/`.`/empty segment, no NUL, not an option.
        #[test]
        fn a_path_pattern_never_lets_an_argument_climb_out(
            arg in prop_oneof![any::<String>(), "/backups/[a./\0-]{0,16}", "(/|\\.\\.|\\.|backups|x|-){1,8}"]
        ) {
            if check_argv(&[pattern("/backups/*")], std::slice::from_ref(&arg)).is_ok() {
                prop_assert!(arg.starts_with("/backups/"));
                prop_assert!(!arg.contains('\0'));
                // A trailing `/` names the directory itself, which the grant covers.
                let body = arg.strip_suffix('/').unwrap_or(&arg);
                prop_assert!(body.split('/').skip(1).all(|s| !matches!(s, "" | "." | "..")), "{arg}");
            }
        }

        /// An option is only ever accepted by a pattern that starts with `-`.
        #[test]
        fn an_option_needs_a_dash_pattern(arg in "-[a-z=-]{0,10}", glob in "[a-z*?]{1,6}") {
            // `**` alone is the operator's "any arguments", options included.
            prop_assume!(glob != "**");
            prop_assert!(check_argv(&[pattern(&glob)], &[arg]).is_err());
        }

        /// `**` takes any number of further arguments, but never one with NUL.
        #[test]
        fn rest_takes_anything_but_nul(args in proptest::collection::vec(any::<String>(), 0..6)) {
            let ok = check_argv(&[pattern("status"), pattern("**")], &[vec!["status".to_string()], args.clone()].concat()).is_ok();
            prop_assert_eq!(ok, !args.iter().any(|a| a.contains('\0')));
        }
    }
}
