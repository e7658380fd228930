//! `drhost inspect`: what a plugin is and what it asks for, without granting
//! it anything. `describe` runs with no grants, no journal and no confirmations.
//! With the operator's configuration ([`PluginReport::against`]) it also
//! says which needs are granted, the TOML for the missing ones, and the
//! parameters' effective values — what `run` would do, without running.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::bindings::types::{Access, Need, ParamSpec};
use crate::config::Config;
use crate::console::{plugin_text, Marks};
use crate::engine::{default_cache_dir, Runtime};
use crate::error::Result;
use crate::journal::Journal;
use crate::params;
use crate::plugin::{self, PluginFile};
use crate::policy;

/// What `inspect` reports about a plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginReport {
    /// From `describe`.
    pub id: String,
    /// From `describe`.
    pub version: String,
    /// From `describe`.
    pub description: String,
    /// The contract version the plugin was built against.
    pub contract: Option<String>,
    /// Parameters with their defaults.
    pub parameters: Vec<ParameterReport>,
    /// What it needs, and why.
    pub capabilities: Vec<CapabilityReport>,
    /// Every interface it imports (WASI included).
    pub imports: Vec<String>,
    /// sha256 of the file, `sha256:<hex>`.
    pub digest: String,
    /// Size of the file in bytes.
    pub size: u64,
    /// Where it was read from.
    pub path: PathBuf,
    /// The configuration it was checked against ([`PluginReport::against`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// With a configuration, when needs are missing: the refusal `run`
    /// would print, ending in the TOML that grants them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// With a configuration: `[plugins.<id>.params]` names the plugin does
    /// not declare, which `run` refuses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undeclared_params: Vec<UndeclaredParam>,
    #[serde(skip)]
    needs: Vec<Need>,
    #[serde(skip)]
    specs: Vec<ParamSpec>,
}

/// A configured parameter the plugin does not declare.
#[derive(Debug, Clone, Serialize)]
pub struct UndeclaredParam {
    /// The name in `[plugins.<id>.params]`.
    pub name: String,
    /// The declared parameter it is closest to, if any.
    pub did_you_mean: Option<String>,
}

/// One parameter.
#[derive(Debug, Clone, Serialize)]
pub struct ParameterReport {
    /// Its name, for `--param name=value`.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Its default; none means required.
    pub default: Option<String>,
    /// With a configuration: the value `run` would pass without `--param`
    /// (none: required and unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// With a configuration: where `value` comes from, `config` or `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

/// One need.
#[derive(Debug, Clone, Serialize)]
pub struct CapabilityReport {
    /// Interface name.
    pub capability: String,
    /// What it touches.
    pub target: String,
    /// read, write or admin.
    pub access: &'static str,
    /// Why, in the plugin's words.
    pub why: String,
    /// With a configuration: whether its grants cover this need.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<bool>,
}

/// Loads and describes a plugin.
pub async fn inspect(path: &Path, cache_dir: Option<PathBuf>) -> Result<PluginReport> {
    inspect_file(&PluginFile::read(path)?, cache_dir).await
}

/// Describes a plugin already read (`sign` describes the very bytes it
/// signs, never the file again).
pub async fn inspect_file(file: &PluginFile, cache_dir: Option<PathBuf>) -> Result<PluginReport> {
    let path = file.path.as_path();
    file.check_is_component()?;
    let runtime = Runtime::new(cache_dir.or_else(default_cache_dir))?;
    let (component, _) = runtime.load_announced(&file.bytes, &file.digest, |caching| {
        eprintln!(
            "{}",
            crate::run::compiling_line(path, caching, crate::console::Style::stderr())
        )
    })?;
    let shape = plugin::check_shape(&runtime, &component, path)?;
    let manifest = plugin::describe(&runtime, &component, Arc::new(Journal::disabled())).await?;
    Ok(PluginReport {
        id: manifest.id,
        version: manifest.version,
        description: manifest.description,
        contract: shape.contract,
        parameters: manifest
            .params
            .iter()
            .map(|p| ParameterReport {
                name: p.name.clone(),
                description: p.description.clone(),
                default: p.default.clone(),
                value: None,
                source: None,
            })
            .collect(),
        capabilities: manifest
            .needs
            .iter()
            .map(|n| CapabilityReport {
                capability: n.capability.clone(),
                target: n.target.clone(),
                access: match n.access {
                    Access::Read => "read",
                    Access::Write => "write",
                    Access::Admin => "admin",
                },
                why: n.why.clone(),
                granted: None,
            })
            .collect(),
        imports: shape.imports,
        digest: file.typed_digest(),
        size: file.bytes.len() as u64,
        path: path.to_owned(),
        config: None,
        advice: None,
        undeclared_params: Vec::new(),
        needs: manifest.needs,
        specs: manifest.params,
    })
}

impl PluginReport {
    /// Checks the plugin against `config` (read from `path`) as `run` would
    /// before starting it: each need granted or not (with the TOML for the
    /// missing ones), each parameter's value and source, and configured
    /// parameters it does not declare.
    pub fn against(mut self, config: &Config, path: &Path) -> PluginReport {
        let grants = config.grants_for(&self.id);
        let missing = policy::missing_grants(&self.id, &self.needs, &grants);
        for (report, need) in self.capabilities.iter_mut().zip(&self.needs) {
            let still_missing = policy::missing_grants(&self.id, std::slice::from_ref(need), &grants);
            report.granted = Some(still_missing.is_empty());
        }
        self.advice = (!missing.is_empty()).then(|| policy::refusal(&self.id, Some(path), &missing));
        for (report, spec) in self.parameters.iter_mut().zip(&self.specs) {
            if let Some(effective) = params::effective(spec, &[], &grants.params) {
                report.value = Some(effective.value);
                report.source = Some(effective.source.name());
            }
        }
        self.undeclared_params = params::undeclared(&self.specs, &grants.params)
            .into_iter()
            .map(|(name, near)| UndeclaredParam {
                name,
                did_you_mean: near.map(str::to_string),
            })
            .collect();
        self.config = Some(path.to_owned());
        self
    }
}

impl std::fmt::Display for PluginReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every string here but the id (validated) and digest is the plugin's own.
        let t = |s: &str| plugin_text(s).into_owned();
        let marks = Marks::for_terminal();
        writeln!(f, "{} {}  —  {}", self.id, t(&self.version), t(&self.description))?;
        writeln!(
            f,
            "  contract  drhost:runbook@{}",
            self.contract.as_deref().unwrap_or("?")
        )?;
        writeln!(f, "  digest    {}", self.digest)?;
        writeln!(f, "  size      {} bytes", self.size)?;
        writeln!(f, "parameters:")?;
        if self.parameters.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for p in &self.parameters {
            let default = p.default.as_deref().map(|d| format!("default {:?}", t(d)));
            let shown = match (p.source, &p.value, default) {
                (Some("config"), Some(value), Some(default)) => format!("config {:?}; {default}", t(value)),
                (Some("config"), Some(value), None) => format!("config {:?}", t(value)),
                (_, _, Some(default)) => default,
                (_, _, None) => "required".to_string(),
            };
            writeln!(f, "  {:<16} {} ({shown})", t(&p.name), t(&p.description))?;
        }
        for u in &self.undeclared_params {
            let near = u
                .did_you_mean
                .as_deref()
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            writeln!(
                f,
                "  {} {}: set in [plugins.{}.params], but the plugin does not declare it (run refuses it){near}",
                marks.bad,
                t(&u.name),
                self.id
            )?;
        }
        match &self.config {
            Some(config) => writeln!(f, "needs (checked against {}):", config.display())?,
            None => writeln!(f, "needs:")?,
        }
        if self.capabilities.is_empty() {
            writeln!(f, "  (nothing)")?;
        }
        for c in &self.capabilities {
            let mark = match c.granted {
                Some(true) => format!("{} ", marks.good),
                Some(false) => format!("{} ", marks.bad),
                None => String::new(),
            };
            writeln!(
                f,
                "  {mark}{:<6} {:<8} {:<24} {}",
                c.access,
                t(&c.capability),
                t(&c.target),
                t(&c.why)
            )?;
        }
        writeln!(f, "imports:")?;
        for i in &self.imports {
            writeln!(f, "  {i}")?;
        }
        if let Some(advice) = &self.advice {
            writeln!(f, "{advice}")?;
        }
        Ok(())
    }
}
