//! What the operator configures for `vault`: targets by label
//! (`[targets.vault.<label>]`), grants per plugin (`[[plugins.<id>.vault]]`)
//! with path globs, and the check made at every call.
//!
//! This module never reads a secret's value; it only knows where it is.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::bindings::types::Access;
use crate::caps::kit::pattern::{glob_matches, literal_head};
use crate::caps::kit::text::{not_granted, toml_string};
use crate::config::PluginGrants;
use crate::secret::SecretRef;

/// `[targets.vault.<label>]`: one Vault (or OpenBao) server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultTarget {
    /// e.g. `https://vault.internal:8200`.
    #[serde(deserialize_with = "de_address")]
    pub address: String,
    /// The token: `env:NAME` or `file:PATH`, never the value (and not a
    /// `vault:` reference).
    #[serde(deserialize_with = "de_token")]
    pub token: SecretRef,
    /// A Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Where the unseal keys are, for `unseal`: `env:NAME` or `file:PATH`
    /// (never `vault:`: a sealed Vault cannot hold its own keys), holding one
    /// key per line or the JSON `operator init -format=json` writes.
    #[serde(default, alias = "unseal-keys", deserialize_with = "de_unseal_keys")]
    pub unseal_keys: Option<SecretRef>,
}

/// Why a token cannot be a `vault:` reference, for config and call errors.
pub(crate) const TOKEN_NOT_IN_VAULT: &str =
    "a Vault token must be given as \"env:NAME\" or \"file:PATH\": it cannot itself be read from Vault (a `vault:` reference)";

/// An `http://` or `https://` URL with a host.
fn de_address<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let text = String::deserialize(de)?;
    check_address(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

/// Whether `address` is a usable Vault address; the error says what one looks like.
pub(crate) fn check_address(address: &str) -> Result<(), String> {
    match reqwest::Url::parse(address) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ => Err(format!(
            "a Vault address is a URL like \"https://vault.internal:8200\"; got {}",
            toml_string(address)
        )),
    }
}

/// `env:` or `file:`, not `vault:`.
fn de_token<'de, D: serde::Deserializer<'de>>(de: D) -> Result<SecretRef, D::Error> {
    match SecretRef::deserialize(de)? {
        SecretRef::Vault { .. } => Err(serde::de::Error::custom(TOKEN_NOT_IN_VAULT)),
        token => Ok(token),
    }
}

/// `env:` or `file:`, not `vault:`.
fn de_unseal_keys<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<SecretRef>, D::Error> {
    match SecretRef::deserialize(de)? {
        SecretRef::Vault { .. } => Err(serde::de::Error::custom(
            "unseal keys must be given as \"env:NAME\" or \"file:PATH\": a sealed Vault cannot give out its own keys",
        )),
        keys => Ok(Some(keys)),
    }
}

/// `[[plugins.<id>.vault]]`: what a plugin may do with some paths of one target.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VaultGrant {
    /// The target label (`[targets.vault.<label>]`).
    pub target: String,
    /// Path globs with the mount first, e.g. `secret/toolboxai/*` (`*`
    /// matches `/` too). Not needed for `snapshot` or `unseal`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// `read` (read, list, metadata), `write` (write, patch), `reveal`
    /// (secret.reveal), `snapshot` (raft snapshot save and restore),
    /// `unseal` (unseal with the target's `unseal_keys`).
    pub access: BTreeSet<VaultAccess>,
    /// With `snapshot`: the plugin may also restore a snapshot it made
    /// itself (`blob.from-bytes`), which the host cannot vouch for. Without
    /// it, only snapshots the host read from a granted source (s3 get,
    /// snapshot-save, a files read) are restored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_from_plugin_blobs: bool,
}

/// A class of Vault operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaultAccess {
    /// read, list, metadata.
    Read,
    /// write, patch.
    Write,
    /// secret.reveal: the value enters plugin memory.
    Reveal,
    /// raft snapshot save and restore.
    Snapshot,
    /// unseal, with the keys the target's `unseal_keys` references.
    Unseal,
}

impl VaultAccess {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            VaultAccess::Read => "read",
            VaultAccess::Write => "write",
            VaultAccess::Reveal => "reveal",
            VaultAccess::Snapshot => "snapshot",
            VaultAccess::Unseal => "unseal",
        }
    }

    /// Whether the access is on the whole target, not on paths.
    pub fn is_target_wide(self) -> bool {
        matches!(self, VaultAccess::Snapshot | VaultAccess::Unseal)
    }
}

/// Why `grants` would let a plugin launder a secret into plain sight, if
/// they do: with `write` and `reveal` on one target, a plugin can copy a
/// secret it may only *read* (as a handle) into a path it may reveal, read
/// it back and reveal it. So whoever may write and reveal on a target must
/// also be granted `reveal` wherever it may `read`; otherwise every reveal
/// is refused. (Globs are compared as written: a `read` glob is covered
/// when some `reveal` glob of the same target matches its text.)
pub fn laundering(grants: &[VaultGrant]) -> Option<String> {
    let has = |label: &str, access: VaultAccess| grants.iter().any(|g| g.target == label && g.access.contains(&access));
    let writes_and_reveals = grants
        .iter()
        .map(|g| g.target.as_str())
        .find(|label| has(label, VaultAccess::Write) && has(label, VaultAccess::Reveal))?;
    let unrevealable = grants
        .iter()
        .filter(|g| g.access.contains(&VaultAccess::Read))
        .flat_map(|g| g.paths.iter().map(move |p| (g.target.as_str(), p.as_str())))
        .find(|(label, path)| !granted_globs(grants, label, VaultAccess::Reveal).any(|r| glob_matches(r, path)))?;
    Some(format!(
        "it may write and reveal on Vault target `{writes_and_reveals}` but only read `{}` on target `{}`, so a reveal could show a copy of a secret it may not see; grant `reveal` on every path it may read, or take `write` or `reveal` away",
        unrevealable.1, unrevealable.0
    ))
}

/// Whether `grants` give `access` to `path` on `label`.
pub fn allows_path(grants: &[VaultGrant], label: &str, path: &str, access: VaultAccess) -> bool {
    let path = path.trim_matches('/');
    granted_globs(grants, label, access).any(|p| glob_matches(p, path))
}

/// Whether listing the folder `path` may be tried: the folder is inside a
/// granted glob's literal head (`secret/toolboxai/x/` for
/// `secret/toolboxai/*`) or on the way to it (`secret/` for
/// `secret/toolboxai/*`). What the listing shows is then filtered by
/// [`lists_key`].
pub fn allows_list(grants: &[VaultGrant], label: &str, path: &str, access: VaultAccess) -> bool {
    let folder = folder(path);
    granted_globs(grants, label, access).any(|p| {
        let head = literal_head(p);
        folder.starts_with(&head) || head.starts_with(&folder)
    })
}

/// Whether `key`, listed under the folder `path`, may be shown: a secret
/// when a granted glob matches it, a folder (`key` ending in `/`) when it
/// is inside or on the way to a granted glob's literal head.
pub fn lists_key(grants: &[VaultGrant], label: &str, path: &str, key: &str, access: VaultAccess) -> bool {
    let full = format!("{}{key}", folder(path));
    granted_globs(grants, label, access).any(|p| {
        let head = literal_head(p);
        if full.ends_with('/') {
            full.starts_with(&head) || head.starts_with(&full)
        } else {
            glob_matches(p, &full)
        }
    })
}

/// `path` as a folder: no leading `/`, one trailing `/`.
fn folder(path: &str) -> String {
    format!("{}/", path.trim_matches('/'))
}

/// The path globs granted with `access` on `label`.
fn granted_globs<'a>(grants: &'a [VaultGrant], label: &'a str, access: VaultAccess) -> impl Iterator<Item = &'a str> {
    grants
        .iter()
        .filter(move |g| g.target == label && g.access.contains(&access))
        .flat_map(|g| g.paths.iter().map(String::as_str))
}

/// Splits a path into its mount and the key inside it
/// (`secret/toolboxai/supabase` → `secret`, `toolboxai/supabase`; the key is
/// empty for a bare mount). Refuses `.`/`..` and empty segments and the
/// characters that would change the request's URL (`?`, `#`, `%`, `\`,
/// control characters), so a path cannot step outside the glob it matched.
pub fn split_path(path: &str) -> Result<(&str, &str), String> {
    let trimmed = path.trim_matches('/');
    let bad_segment = trimmed.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    let bad_char = trimmed
        .chars()
        .any(|c| c.is_control() || matches!(c, '?' | '#' | '%' | '\\'));
    if bad_segment || bad_char {
        return Err(format!(
            "`{}` is not a Vault path: write MOUNT/PATH, e.g. `secret/app/db`, without `.` or `..` segments, `//`, `?`, `#`, `%` or `\\`",
            path.escape_debug()
        ));
    }
    Ok(trimmed.split_once('/').unwrap_or((trimmed, "")))
}

/// Like [`split_path`], but the key must not be empty: the path names one secret.
pub fn split_secret_path(path: &str) -> Result<(&str, &str), String> {
    match split_path(path)? {
        (mount, "") => Err(format!(
            "`{mount}` is a mount, not a secret: write MOUNT/PATH, e.g. `{mount}/app/db`"
        )),
        parts => Ok(parts),
    }
}

/// Whether `grants` give `access` on `label` at all (snapshots are not per path).
pub fn allows_target(grants: &[VaultGrant], label: &str, access: VaultAccess) -> bool {
    crate::caps::kit::gate::allows_access(grants, label, &access)
}

/// Whether a manifest need on `label` is covered (and the target
/// configured, with `unseal_keys` for `unseal`). Needs name the label, or
/// `reveal:LABEL` / `snapshot:LABEL` / `unseal:LABEL`; `admin` on a plain
/// label asks for `snapshot`.
pub fn covers(grants: &PluginGrants, target: &str, access: Access) -> bool {
    let (label, access) = need_access(target, access);
    let configured = grants
        .vault_targets
        .get(label)
        .is_some_and(|t| access != VaultAccess::Unseal || t.unseal_keys.is_some());
    allows_target(&grants.vault, label, access) && configured
}

/// The label and grant a manifest need asks for.
pub fn need_access(target: &str, access: Access) -> (&str, VaultAccess) {
    if let Some(label) = target.strip_prefix("reveal:") {
        (label, VaultAccess::Reveal)
    } else if let Some(label) = target.strip_prefix("snapshot:") {
        (label, VaultAccess::Snapshot)
    } else if let Some(label) = target.strip_prefix("unseal:") {
        (label, VaultAccess::Unseal)
    } else {
        let access = match access {
            Access::Read => VaultAccess::Read,
            Access::Write => VaultAccess::Write,
            Access::Admin => VaultAccess::Snapshot,
        };
        (target, access)
    }
}

/// The TOML lines that would grant `access` to `path` on `label`.
pub fn grant_lines(id: &str, label: &str, path: &str, access: VaultAccess) -> String {
    if access.is_target_wide() {
        return format!(
            "[[plugins.{id}.vault]]\ntarget = {}\naccess = [\"{}\"]",
            toml_string(label),
            access.name()
        );
    }
    format!(
        "[[plugins.{id}.vault]]\ntarget = {}\npaths = [{}]\naccess = [\"{}\"]",
        toml_string(label),
        toml_string(path),
        access.name()
    )
}

/// The refusal text for `what` on `path` of `label`.
pub fn denial(id: &str, label: &str, what: &str, path: &str, access: VaultAccess) -> String {
    let needs = if access.is_target_wide() {
        format!("vault {what} on target `{label}` needs `{}` access", access.name())
    } else {
        format!(
            "vault {what} of `{path}` on target `{label}` needs `{}` access to a path covering it",
            access.name()
        )
    };
    not_granted(&format!("{needs}, which"), id, &grant_lines(id, label, path, access))
}

/// Whether a grant with `snapshot` on `label` opts in to restoring
/// snapshots the plugin made (`restore_from_plugin_blobs = true`).
pub fn allows_plugin_blobs(grants: &[VaultGrant], label: &str) -> bool {
    grants
        .iter()
        .any(|g| g.target == label && g.access.contains(&VaultAccess::Snapshot) && g.restore_from_plugin_blobs)
}

/// The refusal text for a snapshot restore on `label` of a blob the plugin made.
pub fn plugin_blob_denial(id: &str, label: &str) -> String {
    crate::caps::blob::plugin_blob_denial(
        &format!("vault snapshot-restore on target `{label}`"),
        &grant_lines(id, label, "", VaultAccess::Snapshot),
    )
}

impl crate::caps::kit::gate::TargetGrant for VaultGrant {
    type Access = VaultAccess;
    fn target(&self) -> &str {
        &self.target
    }
    fn access(&self) -> &BTreeSet<VaultAccess> {
        &self.access
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Vec<VaultGrant> {
        vec![VaultGrant {
            target: "main".into(),
            paths: vec!["secret/toolboxai/*".into()],
            access: [VaultAccess::Read, VaultAccess::Write].into(),
            restore_from_plugin_blobs: false,
        }]
    }

    #[test]
    fn paths_must_match_a_granted_glob() {
        let g = grants();
        assert!(allows_path(&g, "main", "secret/toolboxai/supabase", VaultAccess::Write));
        assert!(!allows_path(&g, "main", "secret/other/x", VaultAccess::Read));
        assert!(!allows_path(
            &g,
            "main",
            "secret/toolboxai/supabase",
            VaultAccess::Reveal
        ));
        assert!(!allows_path(&g, "raft", "secret/toolboxai/supabase", VaultAccess::Read));
        assert!(allows_list(&g, "main", "secret/toolboxai", VaultAccess::Read));
        assert!(allows_list(&g, "main", "secret/toolboxai/deeper/", VaultAccess::Read));
        assert!(allows_list(&g, "main", "secret", VaultAccess::Read));
        assert!(!allows_list(&g, "main", "secret/other", VaultAccess::Read));
        assert!(!allows_list(&g, "main", "secret/toolboxai", VaultAccess::Reveal));
        let text = denial("p", "main", "read", "secret/other/x", VaultAccess::Read);
        assert!(
            text.contains("[[plugins.p.vault]]\ntarget = \"main\"\npaths = [\"secret/other/x\"]\naccess = [\"read\"]")
        );
    }

    #[test]
    fn write_and_reveal_need_reveal_wherever_reading_is_granted() {
        let grant = |paths: &[&str], access: &[VaultAccess]| VaultGrant {
            target: "main".into(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
            access: access.iter().copied().collect(),
            restore_from_plugin_blobs: false,
        };
        use VaultAccess::{Read, Reveal, Write};
        // read + write without reveal (db-restore), and read + reveal without write: fine.
        assert_eq!(laundering(&grants()), None);
        assert_eq!(laundering(&[grant(&["secret/a/*"], &[Read, Reveal])]), None);
        // write + reveal with reveal covering every read: fine.
        assert_eq!(
            laundering(&[grant(&["secret/a/*"], &[Read]), grant(&["secret/*"], &[Write, Reveal])]),
            None
        );
        // write + reveal while some read is not revealable: refused.
        let why = laundering(&[
            grant(&["secret/src/*"], &[Read]),
            grant(&["secret/dst/*"], &[Read, Write, Reveal]),
        ])
        .unwrap();
        assert!(why.contains("only read `secret/src/*`"), "{why}");
    }

    #[test]
    fn listings_show_only_what_leads_to_the_grant() {
        let g = grants();
        assert!(lists_key(&g, "main", "secret", "toolboxai/", VaultAccess::Read));
        assert!(!lists_key(&g, "main", "secret", "other/", VaultAccess::Read));
        assert!(!lists_key(&g, "main", "secret/", "loose", VaultAccess::Read));
        assert!(lists_key(&g, "main", "secret/toolboxai", "supabase", VaultAccess::Read));
        assert!(lists_key(&g, "main", "secret/toolboxai/", "sub/", VaultAccess::Read));
    }

    #[test]
    fn paths_split_into_mount_and_key_and_cannot_escape() {
        assert_eq!(
            split_path("secret/toolboxai/supabase"),
            Ok(("secret", "toolboxai/supabase"))
        );
        assert_eq!(split_path("/secret/a/"), Ok(("secret", "a")));
        assert_eq!(split_path("secret"), Ok(("secret", "")));
        assert!(split_secret_path("secret/").unwrap_err().contains("is a mount"));
        for bad in [
            "",
            "secret//a",
            "secret/toolboxai/../../sys/raw",
            "secret/./a",
            "secret/a?list=true",
            "secret/a%2e",
            "secret/a#b",
            "a\\b",
            "a\nb",
        ] {
            assert!(split_path(bad).is_err(), "{bad:?} was accepted");
        }
        // A glob's `*` crosses `/`: the split is what keeps `..` out.
        assert!(allows_path(
            &grants(),
            "main",
            "secret/toolboxai/../../sys/raw",
            VaultAccess::Read
        ));
    }

    #[test]
    fn targets_refuse_vault_tokens_and_bad_addresses() {
        let parse = |text: &str| toml::from_str::<VaultTarget>(text).map_err(|e| e.to_string());
        assert!(parse("address = \"http://127.0.0.1:8200\"\ntoken = \"env:T\"").is_ok());
        let e = parse("address = \"http://127.0.0.1:8200\"\ntoken = \"vault:main:secret/a#t\"").unwrap_err();
        assert!(e.contains("cannot itself be read from Vault"), "{e}");
        let e = parse("address = \"127.0.0.1:8200\"\ntoken = \"env:T\"").unwrap_err();
        assert!(e.contains("a Vault address is a URL"), "{e}");
    }
}
