//! `trust.toml`: which keys the operator trusts, for which plugin ids, when,
//! and what is revoked (key ids and plugin digests).
//!
//! This module parses the file and judges one signature's key. It never
//! reads a plugin and never writes the file.
//!
//! ```toml
//! [[key]]
//! id = "platform-2026"
//! public_key = "ed25519:9f2c…"          # the line `drhost keygen` prints, or a PEM block
//! scope = ["db-*", "redis-failover"]     # globs over plugin ids; "*" for all
//! not_before = "2026-01-01"              # optional, UTC (date or RFC 3339)
//! not_after = "2027-01-01T00:00:00Z"     # optional
//!
//! [revoked]
//! keys = ["platform-2025"]
//! digests = ["sha256:…"]                 # a plugin file's digest or its signed-content digest
//! ```

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use super::keys::parse_public_key;
use crate::error::Error;

/// A parsed trust file.
#[derive(Debug, Clone, Default)]
pub struct TrustFile {
    /// Where it was read from (for messages); `None` when no file was found.
    pub path: Option<PathBuf>,
    /// The trusted keys.
    pub keys: Vec<TrustedKey>,
    /// Revoked key ids.
    pub revoked_keys: Vec<String>,
    /// Revoked digests, `sha256:<hex>`.
    pub revoked_digests: Vec<String>,
}

/// One trusted key.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Its id (what journals and the lock record as the signer).
    pub id: String,
    /// The Ed25519 public key.
    pub key: ed25519_compact::PublicKey,
    /// Globs over plugin ids this key may vouch for.
    pub scope: globset::GlobSet,
    /// The globs, as written.
    pub scope_text: Vec<String>,
    /// Not valid before this time.
    pub not_before: Option<SystemTime>,
    /// Not valid after this time.
    pub not_after: Option<SystemTime>,
}

/// How one trusted key stands for one plugin at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStanding {
    /// It may vouch for the plugin now.
    Trusted,
    /// Its id is in `[revoked] keys`.
    Revoked,
    /// `not_after` has passed.
    Expired(String),
    /// `not_before` has not come yet.
    NotYetValid(String),
    /// Its scope does not match the plugin id.
    OutOfScope(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrust {
    #[serde(default)]
    key: Vec<RawKey>,
    #[serde(default)]
    revoked: RawRevoked,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: String,
    public_key: String,
    scope: Vec<String>,
    #[serde(default)]
    not_before: Option<toml::Value>,
    #[serde(default)]
    not_after: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRevoked {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    digests: Vec<String>,
}

impl TrustFile {
    /// Reads and validates a trust file; errors name the file, line and key.
    pub fn load(path: &Path) -> Result<TrustFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("cannot read the trust file: {e} (set [trust] file in drhost.toml or DRHOST_TRUST)"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses trust-file text; `path` is used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<TrustFile, Error> {
        let raw: RawTrust = crate::config::parse_toml(path, text)?;
        let bad = |key: String, message: String| Error::Config {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: format!("{message} (key `{key}`)"),
        };
        let mut keys: Vec<TrustedKey> = Vec::new();
        for (i, k) in raw.key.into_iter().enumerate() {
            let at = |field: &str| format!("key[{i}].{field}");
            if k.id.trim().is_empty() {
                return Err(bad(at("id"), "a key id must not be empty".into()));
            }
            if keys.iter().any(|other| other.id == k.id) {
                return Err(bad(at("id"), format!("key id `{}` appears twice", k.id)));
            }
            let key = parse_public_key(&k.public_key).map_err(|e| bad(at("public_key"), e))?;
            // One key, one entry: with the same key under two ids, revoking
            // one id (or narrowing its scope) would leave the other vouching.
            if let Some(other) = keys.iter().find(|other| other.key == key) {
                return Err(bad(
                    at("public_key"),
                    format!(
                        "key `{}` has the same public key as key `{}`; list each key once (revoke or rescope it in one place)",
                        k.id, other.id
                    ),
                ));
            }
            if k.scope.is_empty() {
                return Err(bad(
                    at("scope"),
                    "scope must list at least one glob of plugin ids, e.g. [\"*\"]".into(),
                ));
            }
            let mut set = globset::GlobSetBuilder::new();
            for glob in &k.scope {
                set.add(
                    globset::Glob::new(glob).map_err(|e| bad(at("scope"), format!("`{glob}` is not a glob ({e})")))?,
                );
            }
            let scope = set.build().map_err(|e| bad(at("scope"), e.to_string()))?;
            let not_before = k
                .not_before
                .as_ref()
                .map(parse_time)
                .transpose()
                .map_err(|e| bad(at("not_before"), e))?;
            let not_after = k
                .not_after
                .as_ref()
                .map(parse_time)
                .transpose()
                .map_err(|e| bad(at("not_after"), e))?;
            keys.push(TrustedKey {
                id: k.id,
                key,
                scope,
                scope_text: k.scope,
                not_before,
                not_after,
            });
        }
        for (i, digest) in raw.revoked.digests.iter().enumerate() {
            let hex_part = digest.strip_prefix("sha256:").unwrap_or("");
            if hex_part.len() != 64 || !hex_part.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(
                    format!("revoked.digests[{i}]"),
                    format!("`{digest}` is not `sha256:<64 hex digits>`"),
                ));
            }
        }
        Ok(TrustFile {
            path: Some(path.to_owned()),
            keys,
            revoked_keys: raw.revoked.keys,
            revoked_digests: raw
                .revoked
                .digests
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        })
    }

    /// The trust file's path for messages.
    pub fn shown_path(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "the trust file".to_string(), |p| p.display().to_string())
    }

    /// The trusted key whose public key is `key`.
    pub fn key_for(&self, matches: impl Fn(&ed25519_compact::PublicKey) -> bool) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| matches(&k.key))
    }

    /// Whether `digest` (`sha256:<hex>`) is revoked.
    pub fn is_revoked_digest(&self, digest: &str) -> bool {
        self.revoked_digests.iter().any(|d| d == digest)
    }

    /// How `key` stands for plugin `plugin_id` (unknown id: `""`) at `now`.
    pub fn standing(&self, key: &TrustedKey, plugin_id: &str, now: SystemTime) -> KeyStanding {
        if self.revoked_keys.contains(&key.id) {
            return KeyStanding::Revoked;
        }
        if let Some(end) = key.not_after.filter(|end| now > *end) {
            return KeyStanding::Expired(humantime::format_rfc3339_seconds(end).to_string());
        }
        if let Some(start) = key.not_before.filter(|start| now < *start) {
            return KeyStanding::NotYetValid(humantime::format_rfc3339_seconds(start).to_string());
        }
        if !key.scope.is_match(plugin_id) {
            return KeyStanding::OutOfScope(key.scope_text.join(", "));
        }
        KeyStanding::Trusted
    }
}

/// A TOML datetime or a string: `2026-01-01`, `2026-01-01T00:00:00Z`.
fn parse_time(value: &toml::Value) -> Result<SystemTime, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(format!(
                "`{other}` is not a date; write e.g. \"2027-01-01\" or \"2027-01-01T00:00:00Z\""
            ))
        }
    };
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.clone()
    };
    humantime::parse_rfc3339_weak(full.trim_end_matches('Z'))
        .map_err(|e| format!("`{text}` is not a UTC date ({e}); write e.g. \"2027-01-01\" or \"2027-01-01T00:00:00Z\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key_line() -> String {
        let (_, pem) = super::super::signature::generate_key_pair();
        super::super::signature::public_key_text(&parse_public_key(&pem).unwrap())
    }

    #[test]
    fn standing_checks_revocation_window_and_scope() {
        let text = format!(
            "[[key]]\nid = \"a\"\npublic_key = \"{k}\"\nscope = [\"db-*\"]\nnot_before = 2020-01-01T00:00:00Z\nnot_after = \"2030-01-01\"\n\n[revoked]\nkeys = [\"b\"]\n\n[[key]]\nid = \"b\"\npublic_key = \"{k2}\"\nscope = [\"*\"]\n",
            k = key_line(),
            k2 = key_line()
        );
        let trust = TrustFile::parse(Path::new("t.toml"), &text).unwrap();
        let now = humantime::parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
        let a = &trust.keys[0];
        assert_eq!(trust.standing(a, "db-restore", now), KeyStanding::Trusted);
        assert!(matches!(trust.standing(a, "hello", now), KeyStanding::OutOfScope(_)));
        assert!(matches!(
            trust.standing(a, "db-restore", now + Duration::from_secs(10 * 365 * 86400)),
            KeyStanding::Expired(_)
        ));
        assert!(matches!(
            trust.standing(
                a,
                "db-restore",
                humantime::parse_rfc3339("2019-01-01T00:00:00Z").unwrap()
            ),
            KeyStanding::NotYetValid(_)
        ));
        assert_eq!(trust.standing(&trust.keys[1], "hello", now), KeyStanding::Revoked);
    }

    #[test]
    fn one_key_cannot_stand_under_two_ids() {
        // Revoking `old` must not leave the same key trusted as `new`.
        let text = format!(
            "[revoked]\nkeys = [\"old\"]\n\n[[key]]\nid = \"old\"\npublic_key = \"{k}\"\nscope = [\"*\"]\n\n[[key]]\nid = \"new\"\npublic_key = \"{k}\"\nscope = [\"*\"]\n",
            k = key_line()
        );
        let err = TrustFile::parse(Path::new("t.toml"), &text).unwrap_err().to_string();
        assert!(err.contains("key `new` has the same public key as key `old`"), "{err}");
    }

    #[test]
    fn errors_name_file_and_key() {
        let err = TrustFile::parse(
            Path::new("t.toml"),
            "[[key]]\nid = \"a\"\npublic_key = \"ed25519:00\"\nscope = [\"*\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("t.toml:") && err.contains("key[0].public_key"), "{err}");
        let err = TrustFile::parse(Path::new("t.toml"), "[[key]]\nid = \"a\"\npublik_key = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:3:") && err.contains("publik_key"), "{err}");
    }
}
