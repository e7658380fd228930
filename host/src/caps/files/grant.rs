//! What the operator configures for `files`: directories by label
//! (`[targets.files.<label>]`), grants per plugin (`[[plugins.<id>.files]]`)
//! with path globs relative to the directory, and the check made at every
//! call.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::bindings::types::Access;
use crate::caps::kit::pattern::{glob_matches, literal_head};
use crate::caps::kit::text::{not_granted, toml_string};
use crate::config::PluginGrants;

/// `[targets.files.<label>]`: one host directory a plugin may open by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesTarget {
    /// An absolute directory, e.g. `/etc/ssl/toolboxai`. Its own last
    /// component must not be a symbolic link (the host opens it without
    /// following one); links on the way to it are the operator's and are
    /// followed when it is opened.
    #[serde(deserialize_with = "de_root")]
    pub path: PathBuf,
}

/// An absolute path.
fn de_root<'de, D: serde::Deserializer<'de>>(de: D) -> Result<PathBuf, D::Error> {
    let text = String::deserialize(de)?;
    if !text.starts_with('/') || text.contains('\0') {
        return Err(serde::de::Error::custom(format!(
            "a files target's path is an absolute directory like \"/etc/ssl/app\"; got {}",
            toml_string(&text)
        )));
    }
    Ok(PathBuf::from(text))
}

/// `[[plugins.<id>.files]]`: what a plugin may do with some paths of one
/// directory.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilesGrant {
    /// The target label (`[targets.files.<label>]`).
    pub target: String,
    /// Path globs relative to the directory, e.g. `certs/*.pem` or `**`
    /// (`*` matches any characters, `/` too).
    #[serde(deserialize_with = "de_globs")]
    pub paths: Vec<String>,
    /// `read` (list, stat, read), `write` (write, remove).
    pub access: BTreeSet<FilesAccess>,
}

/// Relative, well-formed globs.
fn de_globs<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    let globs = Vec::<String>::deserialize(de)?;
    for glob in &globs {
        let flaw = if glob.starts_with('/') {
            Some("is absolute; a files glob is relative to the target's directory (e.g. \"certs/*.pem\")".to_string())
        } else {
            globset::Glob::new(glob).err().map(|e| format!("is not a glob: {e}"))
        };
        if let Some(flaw) = flaw {
            return Err(serde::de::Error::custom(format!("{} {flaw}", toml_string(glob))));
        }
    }
    Ok(globs)
}

/// A class of files operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilesAccess {
    /// list, stat, read.
    Read,
    /// write, remove.
    Write,
}

impl FilesAccess {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            FilesAccess::Read => "read",
            FilesAccess::Write => "write",
        }
    }
}

/// The globs `grants` give with `access` on `label`.
pub(crate) fn granted_globs<'a>(
    grants: &'a [FilesGrant],
    label: &'a str,
    access: FilesAccess,
) -> impl Iterator<Item = &'a str> + 'a {
    grants
        .iter()
        .filter(move |g| g.target == label && g.access.contains(&access))
        .flat_map(|g| g.paths.iter().map(String::as_str))
}

/// Whether `grants` give `access` to the relative path `path` on `label`.
/// `path` has already passed [`super::path::RelPath::parse`].
pub fn allows_path(grants: &[FilesGrant], label: &str, path: &str, access: FilesAccess) -> bool {
    granted_globs(grants, label, access).any(|g| glob_matches(g, path))
}

/// Whether a directory at relative path `dir` may hold something one of
/// `globs` matches: its path and the glob's literal head agree as far as
/// both go. A walk does not enter a directory none of them can reach.
pub(crate) fn may_hold<'a>(mut globs: impl Iterator<Item = &'a str>, dir: &str) -> bool {
    let dir = format!("{dir}/");
    globs.any(|g| {
        let head = literal_head(g);
        head.starts_with(&dir) || dir.starts_with(&head)
    })
}

/// Whether a manifest need on `label` is covered (and the target
/// configured). `write` and `admin` ask for `write`.
pub fn covers(grants: &PluginGrants, label: &str, access: Access) -> bool {
    let access = need_access(access);
    crate::caps::kit::gate::allows_access(&grants.files, label, &access) && grants.files_targets.contains_key(label)
}

/// The files access a manifest need asks for.
pub(crate) fn need_access(access: Access) -> FilesAccess {
    match access {
        Access::Read => FilesAccess::Read,
        Access::Write | Access::Admin => FilesAccess::Write,
    }
}

/// The TOML lines that would grant `access` to `path` on `label`.
pub fn grant_lines(id: &str, label: &str, path: &str, access: FilesAccess) -> String {
    format!(
        "[[plugins.{id}.files]]\ntarget = {}\npaths = [{}]\naccess = [\"{}\"]",
        toml_string(label),
        toml_string(path),
        access.name()
    )
}

/// The refusal text for `what` (e.g. `write`) of `path` on `label`.
pub fn denial(id: &str, label: &str, what: &str, path: &str, access: FilesAccess) -> String {
    let subject = format!(
        "files {what} of `{path}` on target `{label}` needs `{}` access to a glob matching that path, which",
        access.name()
    );
    let glob = crate::caps::kit::pattern::glob_escape(path);
    not_granted(&subject, id, &grant_lines(id, label, &glob, access))
}

impl crate::caps::kit::gate::TargetGrant for FilesGrant {
    type Access = FilesAccess;
    fn target(&self) -> &str {
        &self.target
    }
    fn access(&self) -> &BTreeSet<FilesAccess> {
        &self.access
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Vec<FilesGrant> {
        vec![
            FilesGrant {
                target: "certs".into(),
                paths: vec!["live/*.pem".into()],
                access: [FilesAccess::Read, FilesAccess::Write].into(),
            },
            FilesGrant {
                target: "certs".into(),
                paths: vec!["README".into()],
                access: [FilesAccess::Read].into(),
            },
        ]
    }

    #[test]
    fn paths_must_match_a_granted_glob_with_the_access() {
        let g = grants();
        assert!(allows_path(&g, "certs", "live/app.pem", FilesAccess::Write));
        assert!(
            allows_path(&g, "certs", "live/old/app.pem", FilesAccess::Read),
            "`*` crosses `/`"
        );
        assert!(!allows_path(&g, "certs", "live/app.key", FilesAccess::Read));
        assert!(allows_path(&g, "certs", "README", FilesAccess::Read));
        assert!(!allows_path(&g, "certs", "README", FilesAccess::Write));
        assert!(!allows_path(&g, "other", "live/app.pem", FilesAccess::Read));
    }

    #[test]
    fn a_walk_enters_only_directories_a_glob_can_reach() {
        let globs = ["live/*.pem", "conf/app/*.toml"];
        assert!(may_hold(globs.iter().copied(), "live"));
        assert!(may_hold(globs.iter().copied(), "live/old"));
        assert!(may_hold(globs.iter().copied(), "conf"));
        assert!(may_hold(globs.iter().copied(), "conf/app"));
        assert!(!may_hold(globs.iter().copied(), "conf/other"));
        assert!(!may_hold(globs.iter().copied(), "private"));
        assert!(may_hold(["**"].iter().copied(), "anything/at/all"));
    }

    /// Found by fuzz/fuzz_targets/grant_paths.rs: a walk did not enter
    /// `*` for the glob `\*/**` (nor `logs[1]` for `logs\[1\]/*`, as a
    /// refusal advises it), since a glob's literal head kept the escape.
    #[test]
    fn a_walk_enters_directories_an_escaped_glob_names() {
        assert!(may_hold(["\\*/**"].iter().copied(), "*"));
        let advised = crate::caps::kit::pattern::glob_escape("logs[1]/app.log");
        assert_eq!(advised, "logs\\[1\\]/app.log");
        assert!(glob_matches(&advised, "logs[1]/app.log"));
        assert!(may_hold([advised.as_str()].iter().copied(), "logs[1]"));
        assert!(!may_hold([advised.as_str()].iter().copied(), "logs"));
        assert_eq!(literal_head("a\\*b/*"), "a*b/");
        assert_eq!(literal_head("dangling\\"), "dangling\\");
    }

    #[test]
    fn the_refusal_names_the_exact_grant() {
        let text = denial("p", "certs", "write", "live/a[1].pem", FilesAccess::Write);
        assert!(
            text.ends_with(
                "[[plugins.p.files]]\ntarget = \"certs\"\npaths = [\"live/a\\\\[1\\\\].pem\"]\naccess = [\"write\"]"
            ),
            "{text}"
        );
    }

    #[test]
    fn targets_and_globs_are_checked_when_the_config_is_read() {
        let parse = |text: &str| crate::config::Config::parse(std::path::Path::new("d.toml"), text);
        let err = parse("[targets.files.c]\npath = \"relative/dir\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("absolute directory"), "{err}");
        let err = parse("[[plugins.p.files]]\ntarget = \"c\"\npaths = [\"/etc/*\"]\naccess = [\"read\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is absolute"), "{err}");
        let err = parse("[[plugins.p.files]]\ntarget = \"c\"\npaths = [\"a[\"]\naccess = [\"read\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a glob"), "{err}");
        let config = parse(
            "[targets.files.c]\npath = \"/srv/c\"\n[[plugins.p.files]]\ntarget = \"c\"\npaths = [\"**\"]\naccess = [\"read\"]\n",
        )
        .unwrap();
        let grants = config.grants_for("p");
        assert!(covers(&grants, "c", Access::Read));
        assert!(!covers(&grants, "c", Access::Write));
        assert!(!covers(&grants, "d", Access::Read));
    }
}
