//! `drhost check`: validates a drhost.toml without running anything, and
//! lists every problem it finds, not only the first:
//!
//! - what does not parse: a syntax error, a value of the wrong kind, and
//!   every unknown key, with "did you mean" ([`parse`]);
//! - grants naming a target label that has no `[targets.CAP.LABEL]` table,
//!   for every capability in [`crate::caps::TARGET_TABLES`];
//! - with plugin directories: `[plugins.<id>]` ids that match no plugin in
//!   them, and `[plugins.<id>.params]` names the plugin does not declare.
//!
//! A plugin's id comes from its signed identity section when it has one
//! (nothing runs); its parameters, and the id of a plugin without that
//! section, from `describe`, run as `inspect` runs it (no grants). This
//! module finds problems; it never changes the file and never prints.
//!
//! It names no capability and no key itself: which sections and keys are
//! valid comes from the configuration's own types ([`crate::config::Config`]
//! and the grant and target types each capability defines, through serde),
//! and which grants name targets from [`crate::caps::TARGET_TABLES`], so a
//! new capability is checked once it is in the configuration and there.

mod parse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::caps::kit::gate::TargetTable;
use crate::config;
use crate::error::{Error, Result};
use crate::plugin::PluginFile;
use crate::suggest::closest;

/// The plugin directory `check` compares ids with when `--plugins` is not given.
pub const DEFAULT_PLUGIN_DIR: &str = "plugins";

/// What `drhost check` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `--config`, else `$DRHOST_CONFIG`, else `./drhost.toml`.
    pub config: Option<PathBuf>,
    /// `--plugins DIR`…, else `./plugins` when it is a directory.
    pub plugins: Vec<PathBuf>,
    /// Where compiled plugins are cached (for `describe`).
    pub cache_dir: Option<PathBuf>,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `syntax`, `invalid`, `unknown-key`, `missing-target`,
    /// `unknown-plugin`, `unknown-param`, `plugin-file` or `unreadable`.
    pub kind: &'static str,
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key it is about, e.g. `plugins.hello.shell[0]`.
    pub key: Option<String>,
    /// What is wrong and how to fix it, on one line.
    pub message: String,
    /// TOML that would fix it, when there is some to add.
    pub fix: Option<String>,
}

impl Problem {
    fn new(kind: &'static str, file: &Path, at: Option<(usize, usize)>, key: Option<&str>, message: String) -> Problem {
        let at = at.filter(|(line, _)| *line > 0);
        Problem {
            kind,
            file: file.to_owned(),
            line: at.map(|(line, _)| line),
            column: at.map(|(_, column)| column),
            key: key.filter(|k| !k.is_empty() && *k != ".").map(str::to_string),
            message,
            fix: None,
        }
    }
}

impl std::fmt::Display for Problem {
    /// `FILE:LINE:COLUMN: MESSAGE`, as `run` reports a configuration error.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What `drhost check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The file checked.
    pub config: PathBuf,
    /// The plugin directories ids were compared with (none: not compared).
    pub plugin_dirs: Vec<PathBuf>,
    /// How many `[plugins.<id>]` tables it has.
    pub plugins: usize,
    /// How many `[targets.CAP.LABEL]` tables it has.
    pub targets: usize,
    /// Everything wrong, in file order; empty when the file is fine.
    pub problems: Vec<Problem>,
}

/// Checks the configuration `opts` names. `Err` only when there is none to
/// check or the plugin directory given cannot be read; everything wrong
/// with the file itself is a [`Problem`].
pub async fn check(opts: CheckOptions) -> Result<CheckReport> {
    let path = config::locate(opts.config.as_deref()).ok_or_else(|| {
        Error::Usage(format!(
            "no configuration to check: pass --config FILE, set DRHOST_CONFIG, or run where ./{} is",
            config::DEFAULT_CONFIG_FILE
        ))
    })?;
    if let Some(dir) = opts.plugins.iter().find(|d| !d.is_dir()) {
        return Err(Error::Usage(format!(
            "--plugins {}: not a directory; name a directory holding *.wasm plugins",
            dir.display()
        )));
    }
    let plugin_dirs = match opts.plugins {
        dirs if dirs.is_empty() => Some(PathBuf::from(DEFAULT_PLUGIN_DIR))
            .filter(|d| d.is_dir())
            .into_iter()
            .collect(),
        dirs => dirs,
    };
    let mut report = CheckReport {
        config: path.clone(),
        plugin_dirs,
        plugins: 0,
        targets: 0,
        problems: Vec::new(),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let message = config::unreadable(&e);
            report
                .problems
                .push(Problem::new("unreadable", &path, None, None, message));
            return Ok(report);
        }
    };
    let (parsed, mut problems) = check_text(&path, &text);
    let Some((config, targets)) = parsed else {
        report.problems = problems;
        return Ok(report);
    };
    let positions = parse::Positions::new(&text);
    report.plugins = config.plugins.len();
    report.targets = targets;

    if !report.plugin_dirs.is_empty() {
        let (found, unreadable) = plugins_in(&report.plugin_dirs, opts.cache_dir.clone()).await;
        problems.extend(unreadable);
        let dirs: Vec<String> = report.plugin_dirs.iter().map(|d| d.display().to_string()).collect();
        let ids: Vec<&str> = found.keys().map(String::as_str).collect();
        for (id, grants) in &config.plugins {
            let Some(file) = found.get(id) else {
                let holds = if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                };
                let message = format!(
                    "[plugins.{id}] matches no plugin in {} (found: {holds}){}",
                    dirs.join(", "),
                    match closest(id, ids.iter().copied()) {
                        Some(near) => format!("; did you mean `{near}`?"),
                        None => "; fix the id, or pass --plugins DIR for each directory that holds plugins".to_string(),
                    }
                );
                let key = format!("plugins.{id}");
                problems.push(Problem::new(
                    "unknown-plugin",
                    &path,
                    positions.at(&["plugins", id], None),
                    Some(&key),
                    message,
                ));
                continue;
            };
            if grants.params.is_empty() {
                continue;
            }
            let described = match crate::inspect::inspect(file, opts.cache_dir.clone()).await {
                Ok(described) => described.against(&config, &path),
                Err(error) => {
                    let message = format!("cannot read the parameters of {}: {error}", file.display());
                    problems.push(Problem::new("plugin-file", file, None, None, message));
                    continue;
                }
            };
            let declared: Vec<&str> = described.parameters.iter().map(|p| p.name.as_str()).collect();
            for undeclared in &described.undeclared_params {
                let name = &undeclared.name;
                let near = undeclared
                    .did_you_mean
                    .as_deref()
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                let message = format!(
                    "[plugins.{id}.params] sets `{name}`, which plugin `{id}` does not declare (it takes {}){near}",
                    if declared.is_empty() {
                        "no parameters".to_string()
                    } else {
                        declared.join(", ")
                    }
                );
                let key = format!("plugins.{id}.params.{name}");
                let position = positions.at(&["plugins", id, "params"], Some(name));
                problems.push(Problem::new("unknown-param", &path, position, Some(&key), message));
            }
        }
    }
    problems.sort_by_key(|p| (p.file != path, p.line.unwrap_or(usize::MAX), p.column));
    report.problems = problems;
    Ok(report)
}

/// Everything wrong with configuration `text` (read from `path`) that is
/// found without looking at plugins; with the configuration and how many
/// `[targets.CAP.LABEL]` tables it has, when it parses.
#[doc(hidden)]
pub fn check_text(path: &Path, text: &str) -> (Option<(config::Config, usize)>, Vec<Problem>) {
    let (parsed, mut problems) = parse::parse_all(path, text);
    let Some(parse::Parsed { config, table }) = parsed else {
        return (None, problems);
    };
    let positions = parse::Positions::new(text);
    let targets = sections(&table, "targets").map(|(_, labels)| labels.len()).sum();
    for targets in crate::caps::TARGET_TABLES {
        missing_targets(path, &table, targets, &positions, &mut problems);
    }
    if let Some(notify) = &config.run.notify {
        for label in crate::caps::notify::unknown_labels(notify, &config.targets.notify) {
            let position = positions.at(&["run", "notify"], Some("target"));
            problems.push(Problem::new(
                "missing-target",
                path,
                position,
                Some("run.notify.target"),
                format!(
                    "[run.notify] posts to `{label}`, but there is no [targets.notify.{label}]: add it (url = \"env:WEBHOOK_URL\", format = \"slack\" or \"json\") or remove the label"
                ),
            ));
        }
    }
    if let Some(shared) = &config.run.shared_lock {
        if let Err(message) =
            crate::run::SharedLock::resolve(&shared.postgres, &config.targets.postgres, &config.targets.vault)
        {
            let position = positions.at(&["run", "shared_lock"], Some("postgres"));
            problems.push(Problem::new(
                "missing-target",
                path,
                position,
                Some("run.shared_lock.postgres"),
                message,
            ));
        }
    }

    for (name, drill) in &config.drills {
        drill_problems(path, name, drill, &config, &positions, &mut problems);
    }
    (Some((config, targets)), problems)
}

/// What would stop drill `name` before it starts: a before, fault or
/// recovery plugin file that is not there, a probe naming a target the file does
/// not define, an HTTP probe that is not an http(s) URL. Found here, the
/// operator learns it before the drill's due date, not on it.
fn drill_problems(
    file: &Path,
    name: &str,
    drill: &crate::drill::definition::DrillDefinition,
    config: &crate::config::Config,
    positions: &parse::Positions<'_>,
    problems: &mut Vec<Problem>,
) {
    use crate::drill::definition::DrillDefinition;
    for (role, path) in drill.plugins() {
        let resolved = DrillDefinition::plugin_path(path, Some(file));
        if !resolved.is_file() {
            let key = format!("drills.{name}.{role}");
            let message = format!(
                "[drills.{name}] {role} = \"{}\": no plugin file at {}; build it (make build) or fix the path (relative paths are from {}'s directory)",
                path.display(),
                resolved.display(),
                file.display()
            );
            let at = positions.at(&["drills", name], Some(role));
            problems.push(Problem::new("missing-plugin", file, at, Some(&key), message));
        }
    }
    let probes = [
        (
            "redis",
            &drill.probes.redis,
            config.targets.redis.keys().collect::<Vec<_>>(),
        ),
        (
            "postgres",
            &drill.probes.postgres,
            config.targets.postgres.keys().collect(),
        ),
    ];
    for (capability, labels, defined) in probes {
        for label in labels.iter().filter(|l| !defined.contains(l)) {
            let key = format!("drills.{name}.probes.{capability}");
            let near = closest(label, defined.iter().map(|d| d.as_str()));
            let message = format!(
                "[drills.{name}] probes.{capability} names target `{label}`, which has no [targets.{capability}.{label}] table: {}",
                match near {
                    Some(near) => format!("fix the label; did you mean `{near}`?"),
                    None => "add the table, or fix the label".to_string(),
                }
            );
            let at = positions.at(&["drills", name, "probes"], Some(capability));
            problems.push(Problem::new("missing-target", file, at, Some(&key), message));
        }
    }
    for url in drill
        .probes
        .http
        .iter()
        .filter(|u| !u.starts_with("http://") && !u.starts_with("https://"))
    {
        let key = format!("drills.{name}.probes.http");
        let message = format!(
            "[drills.{name}] probes.http has `{}`, which is not an http:// or https:// URL: write the full URL the probe should GET, e.g. \"http://127.0.0.1:8080/health\"",
            crate::console::plugin_text(url)
        );
        let at = positions.at(&["drills", name, "probes"], Some("http"));
        problems.push(Problem::new("bad-probe", file, at, Some(&key), message));
    }
}

/// The tables directly inside `table[key]`, by name: `[targets.redis]`,
/// `[targets.s3]`, … for `targets`; `[plugins.hello]`, … for `plugins`.
fn sections<'a>(table: &'a toml::Table, key: &str) -> impl Iterator<Item = (&'a str, &'a toml::Table)> {
    table
        .get(key)
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.as_str(), value.as_table()?)))
}

/// A problem for each `[[plugins.<id>.CAP]]` grant whose `target` label has
/// no `[targets.CAP.LABEL]` table, for the capability `targets` describes.
/// Read from the TOML, so a capability is checked as soon as it is listed
/// in [`crate::caps::TARGET_TABLES`]; `target` is one label, or (notify)
/// a list of them.
fn missing_targets(
    file: &Path,
    table: &toml::Table,
    targets: &TargetTable,
    positions: &parse::Positions<'_>,
    problems: &mut Vec<Problem>,
) {
    let capability = targets.capability;
    let defined: Vec<&str> = sections(table, "targets")
        .find(|(name, _)| *name == capability)
        .map(|(_, labels)| labels.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for (id, grants) in sections(table, "plugins") {
        let grants = grants.get(capability).and_then(toml::Value::as_array);
        for (index, grant) in grants.into_iter().flatten().enumerate() {
            let grant_at = ["plugins", id, capability, &format!("[{index}]"), "target"].map(str::to_string);
            let labels: Vec<(Vec<String>, &str)> = match grant.get("target") {
                Some(toml::Value::String(label)) => vec![(grant_at.to_vec(), label.as_str())],
                Some(toml::Value::Array(labels)) => labels
                    .iter()
                    .enumerate()
                    .filter_map(|(i, label)| {
                        let at = grant_at.iter().cloned().chain([format!("[{i}]")]).collect();
                        Some((at, label.as_str()?))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (at, label) in labels.into_iter().filter(|(_, label)| !defined.contains(label)) {
                problems.push(missing_target(file, targets, &defined, label, &at, positions));
            }
        }
    }
}

/// The problem of the grant `target` at `at` (`plugins`, id, capability,
/// `[N]`, `target`, and `[M]` in a list) naming `label`, which is none of
/// the `defined` labels.
fn missing_target(
    file: &Path,
    targets: &TargetTable,
    defined: &[&str],
    label: &str,
    at: &[String],
    positions: &parse::Positions<'_>,
) -> Problem {
    let capability = targets.capability;
    let id = &at[1];
    let near = closest(label, defined.iter().copied());
    let fix = match near {
        Some(near) => format!("fix the label; did you mean `{near}`?"),
        None => "add the table (below), or fix the label".to_string(),
    };
    let message = format!(
        "[[plugins.{id}.{capability}]] grants target `{label}`, which has no [targets.{capability}.{label}] table: {fix}"
    );
    let key = at.iter().fold(String::new(), |key, part| {
        match (key.is_empty(), part.starts_with('[')) {
            (true, _) | (_, true) => key + part,
            (false, false) => key + "." + part,
        }
    });
    let at: Vec<&str> = at.iter().map(String::as_str).collect();
    let mut problem = Problem::new("missing-target", file, positions.at(&at, None), Some(&key), message);
    problem.fix = near.is_none().then(|| targets.table(label));
    problem
}

/// The plugins in `dirs` by id, and a problem for each `*.wasm` whose id
/// cannot be told.
async fn plugins_in(dirs: &[PathBuf], cache_dir: Option<PathBuf>) -> (BTreeMap<String, PathBuf>, Vec<Problem>) {
    let mut found = BTreeMap::new();
    let mut problems = Vec::new();
    let files = dirs
        .iter()
        .flat_map(|dir| crate::plugin::plugin_files(std::slice::from_ref(dir)).unwrap_or_default());
    for file in files {
        let signed_id = PluginFile::read(&file)
            .ok()
            .and_then(|f| crate::trust::signature::read(&file, &f.bytes).ok())
            .and_then(|signed| signed.identity)
            .map(|identity| identity.id);
        let id = match signed_id {
            Some(id) => id,
            None => match crate::inspect::inspect(&file, cache_dir.clone()).await {
                Ok(described) => described.id,
                Err(error) => {
                    let message = format!("cannot tell which plugin this is: {error}");
                    problems.push(Problem::new("plugin-file", &file, None, None, message));
                    continue;
                }
            },
        };
        found.insert(id, file);
    }
    (found, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_with_targets_is_checked() {
        assert!(!crate::caps::TARGET_TABLES.is_empty());
        for targets in crate::caps::TARGET_TABLES {
            let cap = targets.capability;
            let text = format!(
                "[[plugins.p.{cap}]]\ntarget = \"primary-site\"\n[[plugins.p.{cap}]]\ntarget = \"q9x\"\n\n[targets.{cap}.primary-site]\n"
            );
            let table: toml::Table = text.parse().unwrap();
            let mut problems = Vec::new();
            let positions = parse::Positions::new(&text);
            missing_targets(Path::new("d.toml"), &table, targets, &positions, &mut problems);
            assert_eq!(problems.len(), 1, "{cap}: {problems:#?}");
            assert_eq!((problems[0].line, problems[0].column), (Some(4), Some(1)), "{cap}");
            assert_eq!(problems[0].key.as_deref(), Some(&*format!("plugins.p.{cap}[1].target")));
            let fix = problems[0].fix.as_deref().unwrap_or_default();
            assert!(fix.starts_with(&format!("[targets.{cap}.q9x]\n")), "{cap}: {fix}");
        }
    }

    #[test]
    fn each_label_of_a_list_of_targets_is_checked() {
        let text = "[[plugins.p.notify]]\ntarget = [\"ops\",\n  \"q9x\"]\n\n[targets.notify.ops]\n";
        let table: toml::Table = text.parse().unwrap();
        let mut problems = Vec::new();
        let positions = parse::Positions::new(text);
        missing_targets(
            Path::new("d.toml"),
            &table,
            &crate::caps::notify::TARGETS,
            &positions,
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].key.as_deref(), Some("plugins.p.notify[0].target[1]"));
        assert_eq!((problems[0].line, problems[0].column), (Some(3), Some(3)));
        assert!(
            problems[0].message.contains("grants target `q9x`"),
            "{}",
            problems[0].message
        );
    }

    #[tokio::test]
    async fn grants_naming_a_missing_target_are_each_a_problem_with_the_table_to_add() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("drhost.toml");
        let text = concat!(
            "[[plugins.a.redis]]\ntarget = \"cahce\"\naccess = [\"read\"]\n\n",
            "[[plugins.b.postgres]]\ntarget = \"cache\"\naccess = [\"read\"]\n",
            "[[plugins.b.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n\n",
            "[targets.redis.cache]\nurl = \"redis://127.0.0.1:6379\"\n",
        );
        std::fs::write(&file, text).unwrap();
        let opts = CheckOptions {
            config: Some(file),
            plugins: Vec::new(),
            cache_dir: None,
        };
        let report = check(opts).await.unwrap();
        assert_eq!((report.plugins, report.targets), (2, 1));
        let found: Vec<(Option<usize>, &str)> = report.problems.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(found[0].0, Some(2));
        assert!(
            found[0].1.ends_with("fix the label; did you mean `cache`?"),
            "{}",
            found[0].1
        );
        assert_eq!(report.problems[0].fix, None);
        assert_eq!((found[1].0, found[2].0), (Some(6), Some(9)));
        assert!(found[2].1.contains("[targets.postgres.primary]"), "{}", found[2].1);
        let fix = report.problems[2].fix.as_deref().unwrap();
        assert!(fix.starts_with("[targets.postgres.primary]\nurl = "), "{fix}");
        assert_eq!(report.problems[2].key.as_deref(), Some("plugins.b.postgres[1].target"));
    }

    #[tokio::test]
    async fn a_drill_that_could_not_start_is_a_problem_before_its_due_date() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("drhost.toml");
        std::fs::write(dir.path().join("fault.wasm"), b"").unwrap();
        let text = concat!(
            "[targets.redis.cache]\nurl = \"redis://127.0.0.1:6379\"\n\n",
            "[drills.ok]\nfault = \"fault.wasm\"\nrecovery = \"fault.wasm\"\nprobes.redis = [\"cache\"]\n\n",
            "[drills.broken]\nfault = \"fault.wasm\"\nrecovery = \"plugins/gone.wasm\"\n",
            "probes.redis = [\"cahce\"]\nprobes.postgres = [\"primary\"]\nprobes.http = [\"127.0.0.1:8080/health\"]\n",
        );
        std::fs::write(&file, text).unwrap();
        let opts = CheckOptions {
            config: Some(file),
            plugins: Vec::new(),
            cache_dir: None,
        };
        let report = check(opts).await.unwrap();
        let keys: Vec<&str> = report.problems.iter().filter_map(|p| p.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                "drills.broken.recovery",
                "drills.broken.probes.redis",
                "drills.broken.probes.postgres",
                "drills.broken.probes.http"
            ],
            "{:#?}",
            report.problems
        );
        let message = |key: &str| {
            report
                .problems
                .iter()
                .find(|p| p.key.as_deref() == Some(key))
                .map(|p| p.message.clone())
                .unwrap()
        };
        assert!(message("drills.broken.recovery").contains("no plugin file at"));
        assert!(message("drills.broken.probes.redis").ends_with("did you mean `cache`?"));
        assert!(message("drills.broken.probes.http").contains("not an http:// or https:// URL"));
    }
}
