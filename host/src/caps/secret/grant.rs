//! What the operator configures for `secret`: the operator's own secrets by
//! name (`[secrets] NAME = "env:VAR" | "file:PATH"`), which plugin may hold
//! which of them (`[[plugins.<id>.secret]]`), and the `reveal` check for a
//! secret of any origin.
//!
//! This module never reads a secret's value; it only knows where it is.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Secret, Source};
use crate::bindings::types::{Access, Error as CapError};
use crate::caps::kit::gate::require;
use crate::caps::kit::text::{not_granted, toml_key, toml_string};
use crate::caps::vault::VaultAccess;
use crate::config::PluginGrants;
use crate::sandbox::RunContext;
use crate::secret::SecretRef;

/// One of the operator's `[secrets]`: where its value is, `env:` or `file:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SecretRef")]
pub struct OperatorSecret(SecretRef);

impl TryFrom<SecretRef> for OperatorSecret {
    type Error = &'static str;
    fn try_from(reference: SecretRef) -> Result<Self, Self::Error> {
        match reference {
            SecretRef::Vault { .. } => Err(NOT_IN_VAULT),
            local => Ok(OperatorSecret(local)),
        }
    }
}

/// Why an operator secret cannot be a `vault:` reference.
const NOT_IN_VAULT: &str = "an operator secret is given as \"env:NAME\" or \"file:PATH\"; a plugin reads Vault values itself, through the `vault` capability and its grants";

impl OperatorSecret {
    /// Reads the value (the file's trailing newline trimmed). The error says
    /// where it looked, never a value.
    pub(crate) fn read(&self) -> Result<String, String> {
        self.0.resolve_local()
    }
}

/// `[[plugins.<id>.secret]]`: which operator secrets a plugin may hold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretGrant {
    /// Names of `[secrets]` entries, exact (no globs): an operator's secret
    /// is granted by name.
    pub names: Vec<String>,
    /// `read` (`secret.operator`: a handle) and `reveal` (its value into the
    /// plugin's memory, journaled without the value). Default `["read"]`.
    #[serde(default = "read_only")]
    pub access: BTreeSet<SecretAccess>,
}

fn read_only() -> BTreeSet<SecretAccess> {
    [SecretAccess::Read].into()
}

/// What a plugin may do with an operator secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretAccess {
    /// `secret.operator`: hold it as a handle.
    Read,
    /// `secret.reveal`: see its value.
    Reveal,
}

impl SecretAccess {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            SecretAccess::Read => "read",
            SecretAccess::Reveal => "reveal",
        }
    }
}

/// Whether `grants` give `access` to the operator secret `name`.
pub fn allows(grants: &[SecretGrant], name: &str, access: SecretAccess) -> bool {
    grants
        .iter()
        .any(|g| g.access.contains(&access) && g.names.iter().any(|n| n == name))
}

/// The TOML lines that would grant `access` to `name`.
pub fn grant_lines(id: &str, name: &str, access: SecretAccess) -> String {
    let access = match access {
        SecretAccess::Read => "[\"read\"]",
        SecretAccess::Reveal => "[\"read\", \"reveal\"]",
    };
    format!(
        "[[plugins.{id}.secret]]\nnames = [{}]\naccess = {access}",
        toml_string(name)
    )
}

/// The `[secrets]` line to add for `name`.
pub fn secret_line(name: &str) -> String {
    format!("[secrets]\n{} = \"env:VARIABLE\"   # or \"file:/PATH\"", toml_key(name))
}

/// The name and access a manifest need asks for: `NAME`, or `reveal:NAME`.
pub fn need_access(target: &str) -> (&str, SecretAccess) {
    match target.strip_prefix("reveal:") {
        Some(name) => (name, SecretAccess::Reveal),
        None => (target, SecretAccess::Read),
    }
}

/// Whether a manifest need (`NAME` or `reveal:NAME`, any access) is
/// covered: granted, and configured in `[secrets]`. A need with no target
/// (composing, origins) needs no grant.
pub fn covers(grants: &PluginGrants, target: &str, _access: Access) -> bool {
    if target.is_empty() {
        return true;
    }
    let (name, access) = need_access(target);
    allows(&grants.secret, name, access) && grants.operator_secrets.contains_key(name)
}

/// The TOML that would cover a `secret` need: the grant, and the
/// `[secrets]` entry when it is not configured.
pub fn need_lines(grants: &PluginGrants, id: &str, target: &str, _access: Access) -> String {
    let (name, access) = need_access(target);
    let lines = grant_lines(id, name, access);
    if grants.operator_secrets.contains_key(name) {
        lines
    } else {
        format!("{lines}\n{}", secret_line(name))
    }
}

/// The operator secret `name`, when a grant lets the plugin hold it and
/// `[secrets]` has it: else `access-denied` with the grant to add, or
/// `not-found` naming the `[secrets]` line to add.
pub(crate) fn granted<'a>(ctx: &'a RunContext, name: &str) -> Result<&'a OperatorSecret, CapError> {
    let id = &ctx.plugin_id;
    require(allows(&ctx.grants.secret, name, SecretAccess::Read), || {
        not_granted(
            &format!("operator secret `{name}`"),
            id,
            &grant_lines(id, name, SecretAccess::Read),
        )
    })?;
    ctx.grants.operator_secrets.get(name).ok_or_else(|| {
        CapError::NotFound(format!(
            "no operator secret `{name}`; add to drhost.toml:\n{}",
            secret_line(name)
        ))
    })
}

/// `reveal` on where the secret came from: the Vault path's `reveal`
/// grant, the operator secret's `reveal` access, or `read` on the S3 key
/// (which already lets the plugin download the object). A composed secret
/// cannot be revealed. No secret is revealed to a plugin that could launder
/// one through Vault ([`laundering`]).
pub(crate) fn check_reveal(ctx: &RunContext, secret: &Secret) -> Result<(), CapError> {
    let id = &ctx.plugin_id;
    match &secret.source {
        Source::Composed => {
            return Err(CapError::AccessDenied(format!(
                "the secret `{}` cannot be revealed: it was composed, and no single grant covers a composed value; reveal the secrets it was made from instead",
                secret.origin
            )))
        }
        Source::Vault { label, path } => crate::caps::vault::check_reveal_path(ctx, label, path)?,
        Source::S3 { label, key } => {
            crate::caps::s3::check_key(ctx, label, "reveal", key, crate::caps::s3::S3Access::Read)?
        }
        Source::Operator { name } => require(allows(&ctx.grants.secret, name, SecretAccess::Reveal), || {
            not_granted(
                &format!("revealing operator secret `{name}`"),
                id,
                &grant_lines(id, name, SecretAccess::Reveal),
            )
        })?,
    }
    match laundering(&ctx.grants) {
        None => Ok(()),
        Some(why) => Err(CapError::AccessDenied(format!(
            "no secret can be revealed to plugin `{id}`: {why}"
        ))),
    }
}

/// Why `grants` would let a plugin launder a secret into plain sight, if
/// they do. A plugin that may `write` and `reveal` on a Vault target can
/// write any handle it holds to a path it may reveal, read it back and
/// reveal it; so it must be able to reveal every secret it can hold: every
/// Vault path it may `read` (see [`crate::caps::vault::laundering`]) and
/// every operator secret it may `read`. (S3 secrets need only `read` on
/// the key to be revealed.)
pub fn laundering(grants: &PluginGrants) -> Option<String> {
    if let Some(why) = crate::caps::vault::laundering(&grants.vault) {
        return Some(why);
    }
    let vault = &grants.vault;
    let writes_and_reveals = vault.iter().map(|g| g.target.as_str()).find(|label| {
        crate::caps::vault::allows_target(vault, label, VaultAccess::Write)
            && crate::caps::vault::allows_target(vault, label, VaultAccess::Reveal)
    })?;
    let hidden = grants
        .secret
        .iter()
        .filter(|g| g.access.contains(&SecretAccess::Read))
        .flat_map(|g| &g.names)
        .find(|name| !allows(&grants.secret, name, SecretAccess::Reveal))?;
    Some(format!(
        "it may write and reveal on Vault target `{writes_and_reveals}` but may not reveal operator secret `{hidden}`, which it may hold, so a reveal could show a copy of it; grant `reveal` on `{hidden}`, or take Vault `write` or `reveal` away"
    ))
}

/// The granted entries of `[secrets]`, for [`PluginGrants`]: only names a
/// grant gives travel with the plugin's grants.
pub(crate) fn granted_secrets(
    all: &BTreeMap<String, OperatorSecret>,
    grants: &[SecretGrant],
) -> BTreeMap<String, OperatorSecret> {
    grants
        .iter()
        .flat_map(|g| &g.names)
        .filter_map(|name| Some((name.clone(), all.get(name)?.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(text: &str) -> Config {
        Config::parse(std::path::Path::new("t.toml"), text).unwrap()
    }

    #[test]
    fn operator_secrets_are_env_or_file_and_granted_by_name() {
        let c = config(
            "[secrets]\nroot-token = \"file:/run/secrets/root\"\nother = \"env:OTHER\"\n\n[[plugins.p.secret]]\nnames = [\"root-token\"]\n",
        );
        let grants = c.grants_for("p");
        assert!(allows(&grants.secret, "root-token", SecretAccess::Read));
        assert!(!allows(&grants.secret, "root-token", SecretAccess::Reveal));
        assert!(!allows(&grants.secret, "other", SecretAccess::Read));
        assert!(!allows(&grants.secret, "root-*", SecretAccess::Read));
        assert_eq!(
            grants.operator_secrets.keys().collect::<Vec<_>>(),
            ["root-token"],
            "only granted secrets travel with the grants"
        );
        assert!(c.grants_for("q").operator_secrets.is_empty());
        let err = Config::parse(
            std::path::Path::new("t.toml"),
            "[secrets]\nx = \"vault:main:secret/a#b\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"env:NAME\" or \"file:PATH\"") && err.contains("secrets.x"),
            "{err}"
        );
        let err = Config::parse(std::path::Path::new("t.toml"), "[secrets]\nx = \"hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("never as its value") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn needs_are_covered_by_grant_and_configuration() {
        let c = config("[secrets]\na = \"env:A\"\n\n[[plugins.p.secret]]\nnames = [\"a\", \"b\"]\n");
        let grants = c.grants_for("p");
        assert!(covers(&grants, "a", Access::Read));
        assert!(!covers(&grants, "b", Access::Read), "b is granted but not configured");
        assert!(!covers(&grants, "reveal:a", Access::Read));
        assert!(
            covers(&PluginGrants::default(), "", Access::Read),
            "compose needs nothing"
        );
        let advice = need_lines(&grants, "p", "b", Access::Read);
        assert!(advice.contains("[[plugins.p.secret]]\nnames = [\"b\"]"), "{advice}");
        assert!(advice.contains("[secrets]\nb = \"env:VARIABLE\""), "{advice}");
        let fixed = config(&format!(
            "{}\n{}",
            "[secrets]\nb = \"env:B\"",
            grant_lines("p", "b", SecretAccess::Reveal)
        ));
        assert!(covers(&fixed.grants_for("p"), "reveal:b", Access::Read));
    }

    #[test]
    fn vault_write_and_reveal_need_reveal_on_every_operator_secret() {
        let c = config(
            "[[plugins.p.vault]]\ntarget = \"main\"\npaths = [\"secret/a/*\"]\naccess = [\"read\", \"write\", \"reveal\"]\n\n[[plugins.p.secret]]\nnames = [\"root\"]\n",
        );
        let why = laundering(&c.grants_for("p")).unwrap();
        assert!(why.contains("operator secret `root`"), "{why}");
        let c = config(
            "[[plugins.p.vault]]\ntarget = \"main\"\npaths = [\"secret/a/*\"]\naccess = [\"read\", \"write\"]\n\n[[plugins.p.secret]]\nnames = [\"root\"]\n",
        );
        assert_eq!(laundering(&c.grants_for("p")), None);
    }
}
