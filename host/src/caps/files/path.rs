//! A path a plugin names inside a files target: relative, `/`-separated
//! names only. Checked before any grant or file is looked at, so nothing
//! the host does ever resolves `..`, an absolute path or an empty name.

/// Longest path a plugin may name, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;
/// Longest single name, in bytes (Linux's `NAME_MAX`).
pub const MAX_NAME: usize = 255;

/// A checked relative path: one or more names joined by `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelPath {
    text: String,
}

impl RelPath {
    /// `text` when it is a relative path of plain names: not empty, not
    /// absolute, no empty, `.` or `..` name (so no `//`, no trailing `/`),
    /// no NUL or other control character, at most [`MAX_PATH`] bytes and
    /// [`MAX_NAME`] per name. The error says what is wrong, as a clause.
    pub(crate) fn parse(text: &str) -> Result<RelPath, String> {
        if text.is_empty() {
            return Err("it is empty; name a file inside the directory, e.g. \"certs/app.pem\"".into());
        }
        if text.starts_with('/') {
            return Err("it is absolute; paths are relative to the target's directory".into());
        }
        if text.chars().any(char::is_control) {
            return Err("it holds a control character (NUL, newline, …)".into());
        }
        if text.len() > MAX_PATH {
            return Err(format!("it is longer than {MAX_PATH} bytes"));
        }
        for name in text.split('/') {
            match name {
                "" => return Err("it has an empty name (`//` or a trailing `/`)".into()),
                "." => return Err("it has a `.` name".into()),
                ".." => return Err("it has a `..` name; a path cannot leave the target's directory".into()),
                long if long.len() > MAX_NAME => return Err(format!("it has a name longer than {MAX_NAME} bytes")),
                _ => {}
            }
        }
        Ok(RelPath { text: text.to_string() })
    }

    /// The path as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The directories on the way (every name but the last), and the last name.
    pub(crate) fn split(&self) -> (Vec<&str>, &str) {
        let mut names: Vec<&str> = self.text.split('/').collect();
        let last = names.pop().unwrap_or_default();
        (names, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_pass() {
        for ok in ["a", "certs/app.pem", "a/b/c", ".hidden", "a..b", "..a/b", "sp ace/é"] {
            assert_eq!(RelPath::parse(ok).map(|p| p.as_str().to_string()), Ok(ok.to_string()));
        }
        let p = RelPath::parse("a/b/c.pem").unwrap();
        assert_eq!(p.split(), (vec!["a", "b"], "c.pem"));
        assert_eq!(RelPath::parse("x").unwrap().split(), (vec![], "x"));
    }

    #[test]
    fn anything_that_could_leave_the_directory_is_refused() {
        for (bad, why) in [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("..", "`..`"),
            ("../x", "`..`"),
            ("a/../../x", "`..`"),
            ("a/./b", "`.`"),
            (".", "`.`"),
            ("a//b", "empty name"),
            ("a/", "empty name"),
            ("a\0b", "control"),
            ("a\nb", "control"),
        ] {
            let err = RelPath::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(RelPath::parse(&"a".repeat(MAX_NAME + 1))
            .unwrap_err()
            .contains("name longer"));
        assert!(RelPath::parse(&"a/".repeat(MAX_PATH / 2 + 1)).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::{RelPath, MAX_NAME, MAX_PATH};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever a plugin names, an accepted path is relative, has only
        /// plain names and no control character.
        #[test]
        fn an_accepted_path_never_leaves_its_directory(
            text in prop_oneof![any::<String>(), "[a./\\\\\0\n]{0,12}", "(\\.\\.|\\.|a|/){1,8}"]
        ) {
            if let Ok(path) = RelPath::parse(&text) {
                let s = path.as_str();
                prop_assert!(!s.starts_with('/') && s.len() <= MAX_PATH);
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert!(s.split('/').all(|n| !matches!(n, "" | "." | "..") && n.len() <= MAX_NAME), "{s}");
                let (dirs, last) = path.split();
                prop_assert_eq!(dirs.len() + 1, s.split('/').count());
                prop_assert!(!last.is_empty());
            }
        }
    }
}
