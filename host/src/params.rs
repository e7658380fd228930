//! A run's parameters: what the plugin declares (`describe`), this site's
//! values (`[plugins.<id>.params]` in drhost.toml) and the operator's
//! `--param`, merged into the values the plugin gets, each with where it
//! came from. Precedence: `--param` > config > the plugin's default.
//!
//! Values are passed as written: no placeholder is expanded (a value is
//! often an argv the plugin runs, and what varies per failure — the failed
//! node's port — is known only to the plugin). This module decides values;
//! it never prints, and a name the plugin does not declare is an error here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bindings::types::{Param, ParamSpec};
use crate::error::{Error, Result};
use crate::suggest::closest;

/// Where a parameter's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `--param name=value`.
    Cli,
    /// `[plugins.<id>.params]` in drhost.toml.
    Config,
    /// The plugin's own default.
    Default,
}

impl Source {
    /// `cli`, `config` or `default`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Cli => "cli",
            Source::Config => "config",
            Source::Default => "default",
        }
    }
}

/// One parameter as the plugin gets it, with its source (journaled in `run-start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveParam {
    /// The parameter's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Where the value came from.
    pub source: Source,
}

/// The value `spec` gets from `cli` (the last one given wins), else
/// `config`, else its default; `None` when it is required and unset.
pub fn effective(
    spec: &ParamSpec,
    cli: &[(String, String)],
    config: &BTreeMap<String, String>,
) -> Option<EffectiveParam> {
    let (value, source) = cli
        .iter()
        .rev()
        .find(|(name, _)| *name == spec.name)
        .map(|(_, value)| (value.clone(), Source::Cli))
        .or_else(|| config.get(&spec.name).map(|value| (value.clone(), Source::Config)))
        .or_else(|| spec.default.clone().map(|value| (value, Source::Default)))?;
    Some(EffectiveParam {
        name: spec.name.clone(),
        value,
        source,
    })
}

/// The names in `config` that `specs` do not declare, each with the declared
/// name it is closest to (a likely misspelling), if any.
pub fn undeclared<'a>(specs: &'a [ParamSpec], config: &BTreeMap<String, String>) -> Vec<(String, Option<&'a str>)> {
    config
        .keys()
        .filter(|name| !specs.iter().any(|s| &s.name == *name))
        .map(|name| (name.clone(), closest(name, specs.iter().map(|s| s.name.as_str()))))
        .collect()
}

/// `--param` names given more than once: each with how often and the value
/// that wins (the last).
pub fn repeated(cli: &[(String, String)]) -> Vec<(String, usize, String)> {
    let mut seen: Vec<(String, usize, String)> = Vec::new();
    for (name, value) in cli {
        match seen.iter_mut().find(|(n, _, _)| n == name) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 = value.clone();
            }
            None => seen.push((name.clone(), 1, value.clone())),
        }
    }
    seen.retain(|(_, count, _)| *count > 1);
    seen
}

/// The parameters plugin `id` gets: `cli` and `config` (from `config_file`,
/// named in messages) checked against `specs`, defaults applied. A name the
/// plugin does not declare, or a required one unset, is a usage error.
pub fn resolve(
    id: &str,
    specs: &[ParamSpec],
    cli: &[(String, String)],
    config: &BTreeMap<String, String>,
    config_file: &str,
) -> Result<Vec<EffectiveParam>> {
    let known: Vec<&str> = specs.iter().map(|p| p.name.as_str()).collect();
    let takes = if known.is_empty() {
        "no parameters".to_string()
    } else {
        format!("only {}", known.join(", "))
    };
    let undeclared_in_config = undeclared(specs, config);
    if !undeclared_in_config.is_empty() {
        let names: Vec<String> = undeclared_in_config
            .iter()
            .map(|(name, near)| match near {
                Some(near) => format!("`{name}` (did you mean `{near}`?)"),
                None => format!("`{name}`"),
            })
            .collect();
        return Err(Error::Usage(format!(
            "{config_file}: [plugins.{id}.params] sets {}, which plugin `{id}` does not declare; it takes {takes} (see `drhost inspect`)",
            names.join(", ")
        )));
    }
    for (name, _) in cli {
        if !known.contains(&name.as_str()) {
            return Err(Error::Usage(format!(
                "plugin `{id}` has no parameter `{name}`; it takes {takes} (see `drhost inspect`){}",
                crate::suggest::did_you_mean(name, known.iter().copied())
            )));
        }
    }
    specs
        .iter()
        .map(|spec| {
            effective(spec, cli, config).ok_or_else(|| {
                Error::Usage(format!(
                    "plugin `{id}` needs parameter `{}` ({}): pass --param {}=VALUE or set it in [plugins.{id}.params]",
                    spec.name, spec.description, spec.name
                ))
            })
        })
        .collect()
}

/// What the plugin's `run` receives.
pub fn to_wit(params: &[EffectiveParam]) -> Vec<Param> {
    params
        .iter()
        .map(|p| Param {
            name: p.name.clone(),
            value: p.value.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec {
                name: "restart-command".into(),
                description: "argv".into(),
                default: Some(String::new()),
            },
            ParamSpec {
                name: "target".into(),
                description: "label".into(),
                default: Some("cache".into()),
            },
            ParamSpec {
                name: "mode".into(),
                description: "what to do".into(),
                default: None,
            },
        ]
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn cli_beats_config_beats_default() {
        let config: BTreeMap<String, String> = [("restart-command", "redis-server a.conf"), ("mode", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cli = pairs(&[("mode", "y"), ("mode", "z")]);
        let got = resolve("p", &specs(), &cli, &config, "d.toml").unwrap();
        let shown: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str(), p.source.name()))
            .collect();
        assert_eq!(
            shown,
            [
                ("restart-command", "redis-server a.conf", "config"),
                ("target", "cache", "default"),
                ("mode", "z", "cli"),
            ]
        );
        assert_eq!(repeated(&cli), [("mode".to_string(), 2, "z".to_string())]);
    }

    #[test]
    fn undeclared_names_are_refused_with_a_suggestion() {
        let config = BTreeMap::from([("restart-comand".to_string(), "x".to_string())]);
        let err = resolve("p", &specs(), &[], &config, "d.toml").unwrap_err().to_string();
        assert!(
            err.starts_with("d.toml: [plugins.p.params] sets `restart-comand` (did you mean `restart-command`?), which plugin `p` does not declare; it takes only restart-command, target, mode"),
            "{err}"
        );
        let err = resolve("p", &specs(), &pairs(&[("taget", "c")]), &BTreeMap::new(), "d.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no parameter `taget`") && err.ends_with("did you mean `target`?"),
            "{err}"
        );
        let err = resolve("p", &specs(), &[], &BTreeMap::new(), "d.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs parameter `mode`"), "{err}");
    }
}
