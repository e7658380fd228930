//! Where the operator's secrets are: `env:NAME`, `file:PATH` or
//! `vault:LABEL:PATH#FIELD` (a KV v2 field read from `[targets.vault.LABEL]`).
//!
//! A [`SecretRef`] is read only in the host, at the moment a connection or a
//! child process needs it; its value is never journaled, never logged and
//! never handed to a plugin.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::caps::vault::VaultTarget;

/// Where a secret is. Parsed from `env:NAME`, `file:PATH` or
/// `vault:LABEL:MOUNT/PATH#FIELD`; a bare value is refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum SecretRef {
    /// An environment variable of the drhost process.
    Env(String),
    /// A file whose content (trailing newline trimmed) is the secret.
    File(std::path::PathBuf),
    /// A field of a KV v2 secret in a configured Vault target.
    Vault {
        /// The `[targets.vault.<label>]` label.
        target: String,
        /// `mount/path`, e.g. `secret/toolboxai/postgres`.
        path: String,
        /// The field, e.g. `password`.
        field: String,
    },
}

const FORMS: &str = "\"env:NAME\", \"file:PATH\" or \"vault:LABEL:MOUNT/PATH#FIELD\"";

impl TryFrom<String> for SecretRef {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("env:").filter(|n| !n.is_empty()) {
            Ok(SecretRef::Env(name.to_string()))
        } else if let Some(path) = text.strip_prefix("file:").filter(|p| !p.is_empty()) {
            Ok(SecretRef::File(path.into()))
        } else if let Some(rest) = text.strip_prefix("vault:") {
            let parsed = rest.split_once(':').and_then(|(target, rest)| {
                let (path, field) = rest.rsplit_once('#')?;
                let ok = !target.is_empty() && path.contains('/') && !field.is_empty();
                ok.then(|| SecretRef::Vault {
                    target: target.to_string(),
                    path: path.trim_matches('/').to_string(),
                    field: field.to_string(),
                })
            });
            parsed.ok_or_else(|| {
                format!("a Vault secret is written \"vault:LABEL:MOUNT/PATH#FIELD\", e.g. \"vault:main:secret/app/db#password\"; got \"{text}\"")
            })
        } else {
            Err(format!("a secret must be given as {FORMS}, never as its value"))
        }
    }
}

/// As written in drhost.toml (`env:NAME`, `file:PATH`,
/// `vault:LABEL:MOUNT/PATH#FIELD`): where the secret is, never its value.
impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Vault { target, path, field } => write!(f, "vault:{target}:{path}#{field}"),
        }
    }
}

impl serde::Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl SecretRef {
    /// Reads the secret. `vaults` are the configured `[targets.vault.*]`.
    /// The error names where it looked, never the value.
    pub async fn resolve(&self, vaults: &BTreeMap<String, VaultTarget>) -> Result<String, String> {
        match self {
            SecretRef::Vault { target, path, field } => {
                let vault = vaults.get(target).ok_or_else(|| {
                    format!("the secret vault:{target}:{path}#{field} names no [targets.vault.{target}] in drhost.toml")
                })?;
                crate::caps::vault::read_field(target, vault, path, field).await
            }
            local => local.resolve_local(),
        }
    }

    /// Reads an `env:` or `file:` secret; a `vault:` one is refused (this is
    /// how a Vault target's own token is read: it cannot come from Vault).
    pub fn resolve_local(&self) -> Result<String, String> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| format!("the secret's environment variable `{name}` is not set for drhost")),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("cannot read the secret file {}: {e}", path.display())),
            SecretRef::Vault { .. } => Err(crate::caps::vault::TOKEN_NOT_IN_VAULT.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SecretRef;

    #[test]
    fn references_parse_and_values_are_refused() {
        assert_eq!(SecretRef::try_from("env:X".to_string()), Ok(SecretRef::Env("X".into())));
        assert_eq!(
            SecretRef::try_from("vault:main:secret/toolboxai/postgres#password".to_string()),
            Ok(SecretRef::Vault {
                target: "main".into(),
                path: "secret/toolboxai/postgres".into(),
                field: "password".into()
            })
        );
        assert!(SecretRef::try_from("hunter2".to_string())
            .unwrap_err()
            .contains("never as its value"));
        assert!(SecretRef::try_from("vault:main:nofield".to_string()).is_err());
    }
}
