//! What the operator configures for `compose`: projects by label
//! (`[targets.compose.<label>]`: the compose file, the project name and
//! optionally the project directory), grants per plugin
//! (`[[plugins.<id>.compose]]`: operations per label), the refusal text,
//! what `describe`'s needs ask for, and the rule a service name must pass
//! before it goes on a command line.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bindings::types::{Access, Error as CapError};
use crate::caps::kit::text::{not_granted, toml_string};
use crate::config::PluginGrants;

/// `[targets.compose.<label>]`: one compose project a plugin may open by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeTarget {
    /// The compose file, an absolute path (`-f`).
    #[serde(deserialize_with = "absolute_path")]
    pub file: PathBuf,
    /// The project name (`-p`): lower-case letters, digits, `-` and `_`,
    /// starting with a letter or digit, so both compose CLIs use it as
    /// written (the `com.docker.compose.project` label).
    #[serde(deserialize_with = "project_name")]
    pub project: String,
    /// The project directory (`--project-directory`), an absolute path;
    /// default: the compose file's directory. Relative paths in the file
    /// and its `.env` are taken from here.
    #[serde(default, alias = "project-directory", deserialize_with = "some_absolute_path")]
    pub project_directory: Option<PathBuf>,
    /// Longest one call may take, e.g. "10m" (default 5m; `up` includes
    /// waiting for the services to run; never beyond the run's deadline).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub timeout: Option<Duration>,
    /// Whether `up` builds the images of services with a `build:` section
    /// (`up -d --build`, the runbook's "full restart (with rebuild)") —
    /// the operator's choice, never a plugin's: a build runs the project's
    /// Dockerfiles on this host. Default false: `up -d --no-build`, which
    /// uses the images present and fails when one is missing.
    #[serde(default)]
    pub build: bool,
}

/// Used when the target sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl ComposeTarget {
    /// The per-call timeout.
    pub fn call_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Where the CLI runs and relative paths start: the project directory,
    /// else the compose file's directory.
    pub fn working_dir(&self) -> PathBuf {
        self.project_directory
            .clone()
            .or_else(|| self.file.parent().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/"))
    }
}

fn absolute_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let text = String::deserialize(d)?;
    let path = PathBuf::from(&text);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(serde::de::Error::custom(format!(
            "`{text}` is not an absolute path; write e.g. \"/srv/toolboxai/docker-compose.yml\""
        )))
    }
}

fn some_absolute_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    absolute_path(d).map(Some)
}

fn project_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let ok = text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(text)
    } else {
        Err(serde::de::Error::custom(format!(
            "`{text}` is not a compose project name: use lower-case letters, digits, `-` and `_`, starting with a letter or digit, e.g. \"toolboxai\""
        )))
    }
}

/// `[[plugins.<id>.compose]]`: what a plugin may do with one project.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeGrant {
    /// The target label (`[targets.compose.<label>]`).
    pub target: String,
    /// Operations: `read` (ps, logs), `restart`, `up`, `down`.
    pub access: BTreeSet<ComposeAccess>,
}

/// One compose operation class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposeAccess {
    /// `ps`, `logs`.
    Read,
    /// `restart`.
    Restart,
    /// `up` (creates and starts containers, and the networks they need).
    Up,
    /// `down` (removes the project's containers and networks, and with
    /// `volumes` its named volumes).
    Down,
}

impl ComposeAccess {
    /// Every access, in the order advice lists them.
    const ALL: [ComposeAccess; 4] = [
        ComposeAccess::Read,
        ComposeAccess::Restart,
        ComposeAccess::Up,
        ComposeAccess::Down,
    ];

    /// The name used in `access = [...]` and in `OP:LABEL` needs.
    pub fn name(self) -> &'static str {
        match self {
            ComposeAccess::Read => "read",
            ComposeAccess::Restart => "restart",
            ComposeAccess::Up => "up",
            ComposeAccess::Down => "down",
        }
    }
}

impl crate::caps::kit::gate::TargetGrant for ComposeGrant {
    type Access = ComposeAccess;
    fn target(&self) -> &str {
        &self.target
    }
    fn access(&self) -> &BTreeSet<ComposeAccess> {
        &self.access
    }
}

/// Whether `grants` give `access` on target `label`.
pub fn allows(grants: &[ComposeGrant], label: &str, access: ComposeAccess) -> bool {
    crate::caps::kit::gate::allows_access(grants, label, &access)
}

/// The TOML lines that would grant `accesses` on `label` to plugin `id`.
pub fn grant_lines(id: &str, label: &str, accesses: &[ComposeAccess]) -> String {
    let names: Vec<String> = accesses.iter().map(|a| format!("\"{}\"", a.name())).collect();
    format!(
        "[[plugins.{id}.compose]]\ntarget = {}\naccess = [{}]",
        toml_string(label),
        names.join(", ")
    )
}

/// The refusal text for operation `what` on `label`, which needs `access`.
pub fn denial(id: &str, label: &str, what: &str, access: ComposeAccess) -> String {
    let subject = format!(
        "compose {what} on target `{label}` needs `{}` access, which",
        access.name()
    );
    not_granted(&subject, id, &grant_lines(id, label, &[access]))
}

/// `Ok` when `grants` give `access` on `label`, else `access-denied` naming
/// the grant to add.
pub fn check(
    grants: &[ComposeGrant],
    id: &str,
    label: &str,
    what: &str,
    access: ComposeAccess,
) -> Result<(), CapError> {
    crate::caps::kit::gate::require(allows(grants, label, access), || denial(id, label, what, access))
}

/// What a `compose` need from `describe` asks for: `OP:LABEL` (`read:`,
/// `restart:`, `up:`, `down:`) asks for that one operation; a plain
/// `LABEL` asks by the need's access: `read` → `read`, `write` →
/// `restart` and `up` (bring services back), `admin` → `restart`, `up`
/// and `down`.
pub fn need_access(target: &str, access: Access) -> (&str, Vec<ComposeAccess>) {
    for op in ComposeAccess::ALL {
        if let Some(label) = target.strip_prefix(op.name()).and_then(|t| t.strip_prefix(':')) {
            return (label, vec![op]);
        }
    }
    let ops = match access {
        Access::Read => vec![ComposeAccess::Read],
        Access::Write => vec![ComposeAccess::Restart, ComposeAccess::Up],
        Access::Admin => vec![ComposeAccess::Restart, ComposeAccess::Up, ComposeAccess::Down],
    };
    (target, ops)
}

/// Whether `grants` cover a `compose` need (every access it asks for, and
/// the label defined).
pub fn covers(grants: &PluginGrants, target: &str, access: Access) -> bool {
    let (label, ops) = need_access(target, access);
    ops.iter().all(|op| allows(&grants.compose, label, *op)) && grants.compose_targets.contains_key(label)
}

/// The TOML that would cover a `compose` need of plugin `id`: a grant of
/// the accesses it lacks, and the target table when the label is not defined.
pub fn need_lines(grants: &PluginGrants, id: &str, target: &str, access: Access) -> String {
    let (label, ops) = need_access(target, access);
    let lacking: Vec<ComposeAccess> = ops
        .into_iter()
        .filter(|op| !allows(&grants.compose, label, *op))
        .collect();
    let defined = grants.compose_targets.contains_key(label);
    match (lacking.is_empty(), defined) {
        (false, _) => super::TARGETS.with_table(grant_lines(id, label, &lacking), &grants.compose_targets, label),
        (true, false) => super::TARGETS.table(label),
        (true, true) => String::new(),
    }
}

/// Most bytes of a service name.
pub const MAX_SERVICE_NAME: usize = 255;

/// Checks a service name a plugin gave before it goes on the CLI's command
/// line: compose's own service-name characters (`[a-zA-Z0-9._-]`), not
/// starting with `-` (never an option) or `.` (never `.` or `..`), at most
/// [`MAX_SERVICE_NAME`] bytes. Whether the project has it is checked
/// against the file (`config --services`) by the caller.
pub fn check_service_name(name: &str) -> Result<(), CapError> {
    let shown = crate::console::plugin_text(name);
    let why = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_SERVICE_NAME {
        Some("is longer than 255 bytes")
    } else if name.starts_with('-') {
        Some("starts with `-` (it would be read as an option)")
    } else if name.starts_with('.') {
        Some("starts with `.`")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("holds a character other than letters, digits, `.`, `_` and `-`")
    } else {
        None
    };
    match why {
        Some(why) => Err(CapError::InvalidArgument(format!(
            "compose service name `{shown}` {why}; name a service of the compose file"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[targets.compose.app]
file = "/srv/app/docker-compose.yml"
project = "toolboxai"

[[plugins.p.compose]]
target = "app"
access = ["read", "restart"]
"#;

    fn parse(text: &str) -> crate::Result<crate::config::Config> {
        crate::config::Config::parse(std::path::Path::new("t.toml"), text)
    }

    #[test]
    fn targets_and_grants_parse() {
        let config = parse(CONFIG).unwrap();
        let grants = config.grants_for("p");
        assert!(allows(&grants.compose, "app", ComposeAccess::Read));
        assert!(allows(&grants.compose, "app", ComposeAccess::Restart));
        assert!(!allows(&grants.compose, "app", ComposeAccess::Down));
        let target = &grants.compose_targets["app"];
        assert_eq!(target.project, "toolboxai");
        assert_eq!(target.working_dir(), PathBuf::from("/srv/app"));
        assert_eq!(target.call_timeout(), Duration::from_secs(300));
        // Other plugins get no target.
        assert!(config.grants_for("q").compose_targets.is_empty());
        // The advice a refusal gives parses and grants what was refused.
        let lines = grant_lines("p", "app", &[ComposeAccess::Down]);
        let config = parse(&format!("{CONFIG}\n{lines}\n")).unwrap();
        assert!(allows(&config.grants_for("p").compose, "app", ComposeAccess::Down));
        let text = denial("p", "app", "down", ComposeAccess::Down);
        assert!(text.contains("needs `down` access") && text.contains(&lines), "{text}");
    }

    #[test]
    fn project_directory_and_timeout_are_optional() {
        let config = parse(
            "[targets.compose.app]\nfile = \"/srv/app/dc.yml\"\nproject = \"app-1\"\nproject-directory = \"/srv\"\ntimeout = \"90s\"\n",
        )
        .unwrap();
        let target = &config.targets.compose["app"];
        assert_eq!(target.working_dir(), PathBuf::from("/srv"));
        assert_eq!(target.call_timeout(), Duration::from_secs(90));
        assert!(!target.build, "no builds unless the operator says so");
        let config =
            parse("[targets.compose.app]\nfile = \"/srv/app/dc.yml\"\nproject = \"app\"\nbuild = true\n").unwrap();
        assert!(config.targets.compose["app"].build);
    }

    #[test]
    fn bad_targets_are_refused_with_the_fix() {
        for (bad, says) in [
            ("file = \"dc.yml\"\nproject = \"a\"", "absolute path"),
            ("file = \"/dc.yml\"\nproject = \"-p\"", "compose project name"),
            ("file = \"/dc.yml\"\nproject = \"Toolbox AI\"", "compose project name"),
            ("file = \"/dc.yml\"\nproject = \"\"", "compose project name"),
            (
                "file = \"/dc.yml\"\nproject = \"a\"\nproject_directory = \"rel\"",
                "absolute path",
            ),
            ("file = \"/dc.yml\"\nproject = \"a\"\nservices = []", "unknown field"),
            ("project = \"a\"", "missing field `file`"),
        ] {
            let err = parse(&format!("[targets.compose.app]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let err = parse("[[plugins.p.compose]]\ntarget = \"app\"\naccess = [\"write\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("read") && err.contains("down"), "{err}");
    }

    #[test]
    fn needs_name_the_operations_and_the_target_table() {
        let config = parse(CONFIG).unwrap();
        let grants = config.grants_for("p");
        assert!(covers(&grants, "app", Access::Read));
        assert!(covers(&grants, "restart:app", Access::Admin));
        assert!(!covers(&grants, "app", Access::Write), "write asks for up too");
        assert!(!covers(&grants, "down:app", Access::Read));
        assert_eq!(
            need_lines(&grants, "p", "app", Access::Write),
            "[[plugins.p.compose]]\ntarget = \"app\"\naccess = [\"up\"]"
        );
        assert_eq!(
            need_lines(&grants, "p", "app", Access::Admin),
            "[[plugins.p.compose]]\ntarget = \"app\"\naccess = [\"up\", \"down\"]"
        );
        let lines = need_lines(&grants, "p", "down:other", Access::Read);
        assert!(
            lines.starts_with(
                "[[plugins.p.compose]]\ntarget = \"other\"\naccess = [\"down\"]\n[targets.compose.other]\nfile = "
            ),
            "{lines}"
        );
        // A label granted but not defined asks for the table alone.
        let config = parse("[[plugins.p.compose]]\ntarget = \"x\"\naccess = [\"read\"]\n").unwrap();
        let lines = need_lines(&config.grants_for("p"), "p", "x", Access::Read);
        assert!(lines.starts_with("[targets.compose.x]\n"), "{lines}");
    }

    #[test]
    fn the_up_front_advice_is_toml_that_covers_the_needs() {
        let needs: Vec<crate::bindings::types::Need> = [
            ("compose", "app", Access::Read),
            ("compose", "app", Access::Write),
            ("compose", "down:app", Access::Admin),
        ]
        .into_iter()
        .map(|(capability, target, access)| crate::bindings::types::Need {
            capability: capability.into(),
            target: target.into(),
            access,
            why: "w".into(),
        })
        .collect();
        let missing = crate::policy::missing_grants("p", &needs, &PluginGrants::default());
        assert_eq!(missing.len(), 3);
        let text = crate::policy::refusal("p", None, &missing);
        let advice = text.split_once(":\n").map(|(_, a)| a).unwrap_or_default();
        let config = parse(advice).expect("the advice is valid TOML");
        assert!(
            crate::policy::missing_grants("p", &needs, &config.grants_for("p")).is_empty(),
            "{advice}"
        );
        assert_eq!(advice.matches("[targets.compose.app]").count(), 1, "{advice}");
    }

    #[test]
    fn service_names_cannot_be_options_or_paths() {
        for ok in ["backend", "backend-2", "cache_1", "api.v2", "A9"] {
            assert!(check_service_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-v",
            "--volumes",
            "--remove-orphans",
            "../x",
            "..",
            ".",
            "a b",
            "a/b",
            "a;b",
            "a\nb",
            "a\u{0}",
            "é",
            &"x".repeat(256),
        ] {
            let err = check_service_name(bad).unwrap_err();
            assert!(matches!(err, CapError::InvalidArgument(_)), "{bad}");
        }
    }
}
