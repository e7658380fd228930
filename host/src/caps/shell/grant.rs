//! What the operator grants for `shell`, and the check made at every call.

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

/// A glob over one argument (`*` matches anything, spaces and `;` included:
/// no shell ever sees it). `**` alone means "any remaining arguments".
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

impl ArgPattern {
    /// The glob as the operator wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `text` matches this glob.
    pub fn matches(&self, text: &str) -> bool {
        self.matcher.is_match(text)
    }

    fn is_rest(&self) -> bool {
        self.text == "**"
    }
}

impl ShellGrant {
    /// Whether this grant allows `program` with exactly these `args`.
    pub fn allows(&self, program: &str, args: &[String]) -> bool {
        if self.program != program {
            return false;
        }
        let mut patterns = self.args.iter();
        for (i, arg) in args.iter().enumerate() {
            match patterns.next() {
                Some(p) if p.is_rest() && i + 1 >= self.args.len() => return true,
                Some(p) if p.matcher.is_match(arg) => continue,
                _ => return false,
            }
        }
        // Every argument matched; the remaining patterns must be optional.
        patterns.all(ArgPattern::is_rest)
    }
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
}
