//! The operator's `drhost.toml`: run limits and, per plugin id, the grants.
//!
//! Default deny: a plugin with no `[plugins.<id>]` table may touch nothing.
//! This module parses and validates; it never decides a call (that is each
//! capability's `grant` module) and never reads a secret's value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::caps::compose::{ComposeGrant, ComposeTarget};
use crate::caps::docker::DockerGrant;
use crate::caps::files::{FilesGrant, FilesTarget};
use crate::caps::http::HttpGrant;
use crate::caps::notify::{NotifyGrant, NotifyTarget};
use crate::caps::postgres::{PostgresGrant, PostgresTarget};
use crate::caps::redis::{RedisGrant, RedisTarget};
use crate::caps::s3::{S3Grant, S3Target};
use crate::caps::secret::{OperatorSecret, SecretGrant};
use crate::caps::shell::ShellGrant;
use crate::caps::vault::{VaultGrant, VaultTarget};
use crate::error::{Error, Result};

/// Where `drhost` looks for its configuration when `--config` is not given:
/// `$DRHOST_CONFIG`, else `./drhost.toml`.
pub const DEFAULT_CONFIG_FILE: &str = "drhost.toml";

/// A parsed `drhost.toml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for `drhost run`; command-line flags override them.
    #[serde(default)]
    pub run: RunDefaults,
    /// Grants per plugin id.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginGrants>,
    /// `[targets.<capability>.<label>]`: what each target label means.
    #[serde(default)]
    pub targets: Targets,
    /// `[trust]`: where the trust and lock files are.
    #[serde(default)]
    pub trust: TrustConfig,
    /// `[secrets]`: the operator's own secrets by name (`env:`/`file:`),
    /// which plugins granted them hold as handles (`secret.operator`).
    #[serde(default)]
    pub secrets: BTreeMap<String, OperatorSecret>,
    /// `[drills.<name>]`: fault + recovery + host probes, judged against
    /// RTO/RPO targets (`drhost drill`, `drhost schedule`).
    #[serde(default)]
    pub drills: BTreeMap<String, crate::drill::definition::DrillDefinition>,
}

/// `[trust]`: the trust file (keys, scopes, revocations) and the lock file
/// (pinned digests). Relative paths are relative to drhost.toml. Unset:
/// `$DRHOST_TRUST` / `$DRHOST_LOCK`, else `$XDG_CONFIG_HOME/drhost/`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// `file = "trust.toml"`.
    pub file: Option<PathBuf>,
    /// `lock = "drhost.lock"`.
    pub lock: Option<PathBuf>,
}

/// `[targets]`: labels plugins open, mapped to real endpoints and credentials.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// `[targets.redis.<label>]`.
    #[serde(default)]
    pub redis: BTreeMap<String, RedisTarget>,
    /// `[targets.postgres.<label>]`.
    #[serde(default)]
    pub postgres: BTreeMap<String, PostgresTarget>,
    /// `[targets.s3.<label>]`.
    #[serde(default)]
    pub s3: BTreeMap<String, S3Target>,
    /// `[targets.vault.<label>]`.
    #[serde(default)]
    pub vault: BTreeMap<String, VaultTarget>,
    /// `[targets.files.<label>]`.
    #[serde(default)]
    pub files: BTreeMap<String, FilesTarget>,
    /// `[targets.notify.<label>]`.
    #[serde(default)]
    pub notify: BTreeMap<String, NotifyTarget>,
    /// `[targets.compose.<label>]`.
    #[serde(default)]
    pub compose: BTreeMap<String, ComposeTarget>,
}

/// `[run]`: limits and places, overridden by the matching flags.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDefaults {
    /// Wall-clock deadline for a run, e.g. "15m" (`--timeout`).
    #[serde(default, deserialize_with = "de_deadline")]
    pub timeout: Option<Duration>,
    /// Memory cap for all of a plugin's linear memories together, e.g. "256MiB" (`--memory`).
    #[serde(default, deserialize_with = "de_size")]
    pub memory: Option<u64>,
    /// Disk budget for a run's blobs and scratch together, e.g. "8GiB" (`--disk`).
    #[serde(default, deserialize_with = "de_size")]
    pub disk: Option<u64>,
    /// Where run journals go (`--journal-dir`).
    pub journal_dir: Option<PathBuf>,
    /// Where compiled plugins are cached (`--cache-dir`).
    pub cache_dir: Option<PathBuf>,
    /// Questions that may be approved without an operator (drills, cron):
    /// `"<plugin-id>:<question hash>"` or `"<plugin-id>:*"`. Applies only
    /// when stdin is not a terminal, and only to a plugin with a trusted
    /// signature (see `caps::confirm`); journaled `by: config <file>`.
    #[serde(default)]
    pub approve: Vec<crate::caps::confirm::ApprovalPattern>,
    /// `[run.shared_lock]`: one recovery at a time across machines too.
    pub shared_lock: Option<SharedLockConfig>,
    /// `[run.notify]`: the channels drhost itself posts to when a run
    /// starts, waits for an answer and ends.
    pub notify: Option<crate::caps::notify::RunNotify>,
}

/// `[run.shared_lock]`: where live runs also lock their targets, so runs on
/// other machines with the same setting wait for each other.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedLockConfig {
    /// A `[targets.postgres.<label>]`: its server holds the locks as
    /// advisory locks, on a session the run keeps open.
    pub postgres: String,
}

/// `[plugins.<id>]`: everything one plugin may touch. Empty means nothing.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginGrants {
    /// The `[targets.CAP.LABEL]` tables the config defines, granted or not
    /// (filled in by [`Config::grants_for`]): advice never repeats one.
    #[serde(skip)]
    pub configured_tables: std::collections::BTreeSet<String>,
    /// `[[plugins.<id>.shell]]`: programs with argument patterns.
    #[serde(default)]
    pub shell: Vec<ShellGrant>,
    /// `[[plugins.<id>.http]]`: hosts for health probes.
    #[serde(default)]
    pub http: Vec<HttpGrant>,
    /// `[[plugins.<id>.docker]]`: containers, networks and images.
    #[serde(default)]
    pub docker: Vec<DockerGrant>,
    /// `[[plugins.<id>.redis]]`: operation classes per Redis target label.
    #[serde(default)]
    pub redis: Vec<RedisGrant>,
    /// The `[targets.redis.<label>]` of the labels granted above, filled in
    /// by [`Config::grants_for`]; never journaled.
    #[serde(skip)]
    pub redis_targets: BTreeMap<String, RedisTarget>,
    /// `[[plugins.<id>.postgres]]`: `read` / `write` / `dump` / `restore` / `admin` per Postgres target label.
    #[serde(default)]
    pub postgres: Vec<PostgresGrant>,
    /// The `[targets.postgres.<label>]` of the labels granted above (filled
    /// in by [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub postgres_targets: BTreeMap<String, PostgresTarget>,
    /// `[[plugins.<id>.s3]]`: key-prefix globs with `read` / `write` per S3 target label.
    #[serde(default)]
    pub s3: Vec<S3Grant>,
    /// The `[targets.s3.<label>]` of the labels granted above (filled in by
    /// [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub s3_targets: BTreeMap<String, S3Target>,
    /// `[[plugins.<id>.vault]]`: path globs with `read` / `write` / `reveal` / `snapshot` per Vault target label.
    #[serde(default)]
    pub vault: Vec<VaultGrant>,
    /// The `[targets.vault.<label>]` of the labels granted above (filled in
    /// by [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub vault_targets: BTreeMap<String, VaultTarget>,
    /// Every `[targets.vault.<label>]`, for resolving the operator's
    /// `vault:` secret references in other targets. Plugins cannot reach
    /// these: the `vault` capability uses `vault` and `vault_targets` only.
    #[serde(skip)]
    pub secret_vaults: BTreeMap<String, VaultTarget>,
    /// `[[plugins.<id>.files]]`: path globs with `read` / `write` per files target label.
    #[serde(default)]
    pub files: Vec<FilesGrant>,
    /// The `[targets.files.<label>]` of the labels granted above (filled in
    /// by [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub files_targets: BTreeMap<String, FilesTarget>,
    /// `[[plugins.<id>.notify]]`: notify channel labels.
    #[serde(default)]
    pub notify: Vec<NotifyGrant>,
    /// The `[targets.notify.<label>]` of the labels granted above (filled in
    /// by [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub notify_targets: BTreeMap<String, NotifyTarget>,
    /// `[[plugins.<id>.compose]]`: `read` / `restart` / `up` / `down` per compose target label.
    #[serde(default)]
    pub compose: Vec<ComposeGrant>,
    /// The `[targets.compose.<label>]` of the labels granted above (filled
    /// in by [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub compose_targets: BTreeMap<String, ComposeTarget>,
    /// `[[plugins.<id>.secret]]`: the operator secrets (`[secrets]`) it may
    /// hold, and reveal.
    #[serde(default)]
    pub secret: Vec<SecretGrant>,
    /// The `[secrets]` entries of the names granted above (filled in by
    /// [`Config::grants_for`]; never journaled).
    #[serde(skip)]
    pub operator_secrets: BTreeMap<String, OperatorSecret>,
    /// `[plugins.<id>.params]`: this site's values for the plugin's
    /// parameters (`name = "value"`), between the plugin's own defaults and
    /// `--param`. Not a grant: journaled as the run's effective parameters.
    #[serde(default, skip_serializing)]
    pub params: BTreeMap<String, String>,
}

impl Config {
    /// Reads and validates a configuration file. Errors name the file, the
    /// line and column, and the key.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: unreadable(&e),
        })?;
        Self::parse(path, &text)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        parse_toml(path, text)
    }

    /// The grants of plugin `id`; none when the config does not mention it.
    pub fn grants_for(&self, id: &str) -> PluginGrants {
        let mut grants = self.plugins.get(id).cloned().unwrap_or_default();
        // Only the targets the plugin was granted travel with its grants.
        grants.redis_targets = granted(&self.targets.redis, grants.redis.iter().map(|g| &g.target));
        grants.postgres_targets = granted(&self.targets.postgres, grants.postgres.iter().map(|g| &g.target));
        grants.s3_targets = granted(&self.targets.s3, grants.s3.iter().map(|g| &g.target));
        grants.vault_targets = granted(&self.targets.vault, grants.vault.iter().map(|g| &g.target));
        grants.compose_targets = granted(&self.targets.compose, grants.compose.iter().map(|g| &g.target));
        grants.secret_vaults = self.targets.vault.clone();
        grants.files_targets = granted(&self.targets.files, grants.files.iter().map(|g| &g.target));
        grants.notify_targets = granted(&self.targets.notify, grants.notify.iter().flat_map(|g| g.labels()));
        grants.configured_tables = self.targets.tables();
        grants.operator_secrets = crate::caps::secret::granted_secrets(&self.secrets, &grants.secret);
        grants
    }
}

impl Targets {
    /// Every `[targets.CAP.LABEL]` table header this config defines.
    pub fn tables(&self) -> std::collections::BTreeSet<String> {
        fn headers<'a, T>(cap: &str, labels: &'a BTreeMap<String, T>) -> impl Iterator<Item = String> + 'a {
            let cap = cap.to_string();
            labels.keys().map(move |label| format!("[targets.{cap}.{label}]"))
        }
        headers("redis", &self.redis)
            .chain(headers("postgres", &self.postgres))
            .chain(headers("s3", &self.s3))
            .chain(headers("vault", &self.vault))
            .chain(headers("files", &self.files))
            .chain(headers("notify", &self.notify))
            .chain(headers("compose", &self.compose))
            .collect()
    }
}

/// The entries of `targets` whose labels are in `labels`.
fn granted<'a, T: Clone>(
    targets: &BTreeMap<String, T>,
    labels: impl Iterator<Item = &'a String>,
) -> BTreeMap<String, T> {
    labels
        .filter_map(|label| Some((label.clone(), targets.get(label)?.clone())))
        .collect()
}

/// Parses a TOML file of drhost's (config, trust file, lock) into `T`; errors
/// name the file, line, column and key. `path` is only used in messages.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = inner
            .span()
            .map(|span| line_and_column(text, span.start))
            .unwrap_or((0, 0));
        let message = with_key_and_suggestion(&one_line(inner.message()), &key);
        Error::Config {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    })
}

/// A deserializer's `message`, with the `key` it is about and, for an
/// unknown field or variant close to one it expected, a "did you mean".
pub fn with_key_and_suggestion(message: &str, key: &str) -> String {
    let mut text = message.to_string();
    if !(key.is_empty() || key == ".") {
        text.push_str(&format!(" (key `{key}`)"));
    }
    if let Some((unknown, expected)) = unknown_name(message) {
        text.push_str(&crate::suggest::did_you_mean(unknown, expected.iter().copied()));
    }
    text
}

/// From serde's "unknown field `X`, expected one of `a`, `b`" (or "unknown
/// variant …", "expected `a` or `b`"): `X` and the expected names.
pub fn unknown_name(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected").map_or("", |(_, e)| e);
    let names = expected.split('`').skip(1).step_by(2).collect();
    Some((unknown, names))
}

/// Why a configuration file cannot be read, and the fix: the OS's reason
/// without its error number.
pub(crate) fn unreadable(e: &std::io::Error) -> String {
    let reason = os_reason(e);
    let fix = match e.kind() {
        std::io::ErrorKind::NotFound => "check the path, or pass --config FILE / set DRHOST_CONFIG",
        std::io::ErrorKind::PermissionDenied => "make it readable by this user, or pass --config FILE",
        _ => "pass --config FILE (a readable TOML file) or set DRHOST_CONFIG",
    };
    format!("cannot read the configuration: {reason}; {fix}")
}

/// An I/O error's text without the trailing ` (os error N)`.
pub fn os_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// A parser's message on one line: the toml crate puts what it expected on
/// lines of their own (`invalid table header\nexpected `.`, `]``), which
/// become `invalid table header (expected `.`, `]`)`.
pub(crate) fn one_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = lines.collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first} ({})", rest.join("; "))
    }
}

/// Finds the configuration file to use: the flag, else `$DRHOST_CONFIG`, else
/// `./drhost.toml` when it exists. `None` means run with no grants at all.
pub fn locate(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_owned());
    }
    if let Some(path) = std::env::var_os("DRHOST_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from(DEFAULT_CONFIG_FILE);
    local.exists().then_some(local)
}

/// The 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |nl| before.len() - nl - 1) + 1;
    (line, column)
}

/// Parses "15m", "90s", "1h30m" into a duration.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. \"90s\", \"15m\" or \"1h\""))
}

/// Parses a run's deadline: a duration, and not zero (a run that must end
/// before it starts is a typo, not a limit).
pub fn parse_deadline(text: &str) -> std::result::Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!(
            "`{text}` is no time at all; give the run a real deadline, e.g. \"90s\" or \"15m\""
        )),
        d => Ok(d),
    }
}

/// Parses "256MiB", "64M", "1GiB", "4096" (bytes) into a byte count.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("`{text}` is not a size; write e.g. \"256MiB\" or \"1GiB\"")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a size; write e.g. \"256MiB\" or \"1GiB\""))
}

fn de_deadline<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    parse_deadline(&text).map(Some).map_err(serde::de::Error::custom)
}

fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_size(&text).map(Some).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_grants_nothing() {
        let config = Config::parse(Path::new("x.toml"), "").unwrap();
        let grants = config.grants_for("hello");
        assert!(grants.shell.is_empty() && grants.http.is_empty());
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let text = "[plugins.hello]\n[[plugins.hello.shell]]\nprogam = \"echo\"\n";
        let err = Config::parse(Path::new("d.toml"), text).unwrap_err().to_string();
        assert!(err.starts_with("d.toml:3:"), "{err}");
        assert!(err.contains("progam"), "{err}");
        assert!(err.contains("plugins.hello.shell"), "{err}");
    }

    #[test]
    fn a_misspelt_key_or_section_gets_a_did_you_mean() {
        let text = "[[plugins.hello.shell]]\nprogam = \"echo\"\n";
        let err = Config::parse(Path::new("d.toml"), text).unwrap_err().to_string();
        assert!(err.ends_with("; did you mean `program`?"), "{err}");
        let err = Config::parse(Path::new("d.toml"), "[target.redis.cache]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `targets`?"), "{err}");
        let err = Config::parse(
            Path::new("d.toml"),
            "[[plugins.x.redis]]\ntarget = \"c\"\naccess = [\"raed\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("did you mean `read`?"), "{err}");
        let err = Config::parse(Path::new("d.toml"), "[plugins.x]\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn params_are_strings_per_plugin() {
        let text = "[plugins.redis-failover.params]\nrestart-command = \"redis-server /etc/redis.conf\"\n";
        let config = Config::parse(Path::new("d.toml"), text).unwrap();
        let grants = config.grants_for("redis-failover");
        assert_eq!(grants.params["restart-command"], "redis-server /etc/redis.conf");
        assert!(serde_json::to_value(&grants).unwrap().get("params").is_none());
        let err = Config::parse(Path::new("d.toml"), "[plugins.x.params]\nwait = 10\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("plugins.x.params.wait") && err.contains("string"), "{err}");
    }

    #[test]
    fn syntax_errors_and_unreadable_files_are_one_line_without_a_zero_place() {
        let err = Config::parse(Path::new("d.toml"), "[run\ntimeout = \"1s\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "d.toml:1:5: invalid table header (expected `.`, `]`)");
        let err = Config::load(Path::new("/nonexistent/drhost.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/nonexistent/drhost.toml: cannot read the configuration: No such file or directory; check the path, or pass --config FILE / set DRHOST_CONFIG"
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
    }

    #[test]
    fn bad_duration_names_the_key() {
        let err = Config::parse(Path::new("d.toml"), "[run]\ntimeout = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no time at all"), "{err}");
        let err = Config::parse(Path::new("d.toml"), "[run]\ntimeout = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("d.toml:2:") && err.contains("run.timeout"), "{err}");
    }
}

#[cfg(test)]
mod properties {
    use super::{parse_deadline, parse_duration, parse_size, Config};
    use proptest::prelude::*;
    use std::path::Path;

    /// Lines made of the config's own sections, keys and value shapes, so
    /// generated files get past the TOML parser into drhost's checks.
    fn config_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("[run]".to_string()),
            Just("[secrets]".to_string()),
            "\\[targets\\.(docker|postgres|redis|s3|vault|files|compose|http)\\.[a-z./\"]{1,6}\\]",
            "\\[\\[plugins\\.[a-z-]{1,6}\\.(shell|docker|postgres|redis|s3|vault|files|compose|http|secret|notify)\\]\\]",
            "\\[plugins\\.[a-z-]{1,6}\\.params\\]",
            "(timeout|memory|disk|path|url|target|program|access|paths|args|database|host|port|token) = (\"[a-z0-9 ./*:-]{0,12}\"|[0-9]{1,12}|\\[\"[a-z*./-]{0,8}\"\\]|true)",
        ];
        proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Any config file gets a config or an error naming the file; no
        /// input makes drhost panic.
        #[test]
        fn any_config_gets_an_answer(text in prop_oneof![config_text(), any::<String>()]) {
            if let Err(e) = Config::parse(Path::new("drhost.toml"), &text) {
                prop_assert!(e.to_string().contains("drhost.toml"), "{e}");
            }
        }

        /// Durations and sizes never overflow into a panic.
        #[test]
        fn durations_and_sizes_get_an_answer(text in "[0-9]{0,24}(ms|s|m|h|d|KiB|MiB|GiB|TiB|)?") {
            let _ = (parse_duration(&text), parse_deadline(&text), parse_size(&text));
        }
    }
}
