//! `drhost inspect`: what a plugin is and what it asks for, without granting
//! it anything. `describe` runs with no grants, no journal and no confirmations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::bindings::types::Access;
use crate::console::plugin_text;
use crate::engine::{default_cache_dir, Runtime};
use crate::error::Result;
use crate::journal::Journal;
use crate::plugin::{self, PluginFile};

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
            .into_iter()
            .map(|p| ParameterReport {
                name: p.name,
                description: p.description,
                default: p.default,
            })
            .collect(),
        capabilities: manifest
            .needs
            .into_iter()
            .map(|n| CapabilityReport {
                capability: n.capability,
                target: n.target,
                access: match n.access {
                    Access::Read => "read",
                    Access::Write => "write",
                    Access::Admin => "admin",
                },
                why: n.why,
            })
            .collect(),
        imports: shape.imports,
        digest: file.typed_digest(),
        size: file.bytes.len() as u64,
        path: path.to_owned(),
    })
}

impl std::fmt::Display for PluginReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every string here but the id (validated) and digest is the plugin's own.
        let t = |s: &str| plugin_text(s).into_owned();
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
            let default = p
                .default
                .as_deref()
                .map_or("required".to_string(), |d| format!("default {:?}", t(d)));
            writeln!(f, "  {:<16} {} ({default})", t(&p.name), t(&p.description))?;
        }
        writeln!(f, "needs:")?;
        if self.capabilities.is_empty() {
            writeln!(f, "  (nothing)")?;
        }
        for c in &self.capabilities {
            writeln!(
                f,
                "  {:<6} {:<8} {:<24} {}",
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
        Ok(())
    }
}
