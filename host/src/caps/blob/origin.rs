//! Where a blob's bytes came from, so a restore can tell a backup the host
//! read from a granted source from bytes the plugin made up.
//!
//! Every constructor of [`super::Blob`] names its origin. A restore
//! (`postgres.restore`, `vault.snapshot-restore`) refuses a blob the plugin
//! made ([`Origin::Plugin`]) unless the grant opts in with
//! `restore_from_plugin_blobs = true` ([`check_restorable`]), and journals
//! the origin of what it restores. This module decides nothing about
//! grants; the capability passes whether its grant opted in.

use serde_json::{json, Value};

use crate::bindings::types::Error as CapError;
use crate::caps::kit::text::ADD_TO_CONFIG;

/// Where a blob's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `blob.from-bytes`: bytes the plugin supplied (built, decrypted,
    /// re-assembled or made up: the host cannot tell).
    Plugin,
    /// `s3.get`: object `key` of S3 target `target`, its ETag, and how its
    /// content was verified (`expected`, `metadata` or `none`).
    S3 {
        /// The S3 target's label.
        target: String,
        /// The object's key.
        key: String,
        /// The object's ETag, as the service sent it (unquoted).
        etag: String,
        /// How the SHA-256 was checked: `expected`, `metadata` or `none`.
        verified: &'static str,
        /// The object was put by a drhost plugin from a blob it made (its
        /// [`MARK_KEY`] metadata says `plugin`): a round trip through S3
        /// does not make plugin-made bytes a backup.
        put_by_plugin: bool,
    },
    /// `postgres.dump` (`pg_dump -Fc`) of Postgres target `target`.
    PostgresDump {
        /// The Postgres target's label.
        target: String,
    },
    /// `vault.snapshot-save` of Vault target `target`.
    VaultSnapshot {
        /// The Vault target's label.
        target: String,
    },
    /// `files.read` of `path` in files target `target`.
    File {
        /// The files target's label.
        target: String,
        /// The path read, relative to the target's directory.
        path: String,
    },
}

impl Origin {
    /// Whether the plugin made the bytes (rather than the host reading
    /// them from a granted source).
    pub fn is_plugin_made(&self) -> bool {
        matches!(
            self,
            Origin::Plugin
                | Origin::S3 {
                    put_by_plugin: true,
                    ..
                }
        )
    }

    /// The value of [`MARK_KEY`] that `s3.put` gives an object of this
    /// origin's bytes.
    pub fn mark(&self) -> &'static str {
        if self.is_plugin_made() {
            MARK_PLUGIN
        } else {
            "host"
        }
    }

    /// The origin as the journal records it.
    pub fn journal(&self) -> Value {
        match self {
            Origin::Plugin => json!({ "from": "plugin", "call": "blob.from-bytes" }),
            Origin::S3 {
                target,
                key,
                etag,
                verified,
                put_by_plugin,
            } => {
                json!({ "from": "s3.get", "target": target, "key": key, "etag": etag, "verified": verified, "put_by_plugin": put_by_plugin })
            }
            Origin::PostgresDump { target } => json!({ "from": "postgres.dump", "target": target }),
            Origin::VaultSnapshot { target } => json!({ "from": "vault.snapshot-save", "target": target }),
            Origin::File { target, path } => json!({ "from": "files.read", "target": target, "path": path }),
        }
    }
}

/// The S3 user metadata `s3.put` sets on every object it writes: `plugin`
/// when the bytes were made by a plugin, else `host`. A plugin cannot set
/// it itself (`invalid-argument`); `s3.get` reads it back.
pub const MARK_KEY: &str = "drhost-origin";
/// [`MARK_KEY`]'s value for bytes a plugin made.
pub const MARK_PLUGIN: &str = "plugin";

/// How a refusal names a blob from `blob.from-bytes`.
const MADE_BY_PLUGIN: &str = "the blob was made by the plugin (blob.from-bytes)";

/// Why `what` (e.g. "postgres restore on target `primary`") refuses a blob
/// the plugin made, with the grant that would allow it (`grant`, the TOML
/// lines of the grant that opts in).
pub(crate) fn plugin_blob_denial(what: &str, grant: &str) -> String {
    format!(
        "{what} refused: {MADE_BY_PLUGIN}, not read by the host from a backup (s3 get, postgres dump, vault snapshot-save, files read), so nothing vouches for what would be restored. Restore a blob the host read from the backup; if this plugin must restore data it builds itself (e.g. decrypts), the operator opts in for this target; {ADD_TO_CONFIG}\n{grant}\nrestore_from_plugin_blobs = true"
    )
}

/// Whether a blob of `origin` may be restored: any blob the host read from
/// a granted source; one the plugin made only when `opted_in` (the grant's
/// `restore_from_plugin_blobs`). The refusal is `access-denied` with
/// `denial()`.
pub(crate) fn check_restorable(
    origin: &Origin,
    opted_in: bool,
    denial: impl FnOnce() -> String,
) -> Result<(), CapError> {
    if origin.is_plugin_made() && !opted_in {
        let text = match origin {
            Origin::S3 { target, key, .. } => denial().replacen(
                MADE_BY_PLUGIN,
                &format!("the blob is s3 object `{key}` of target `{target}`, which a drhost plugin put from bytes it made ({MARK_KEY}={MARK_PLUGIN})"),
                1,
            ),
            _ => denial(),
        };
        return Err(CapError::AccessDenied(text));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plugin_made_blob_needs_the_opt_in() {
        let dump = Origin::PostgresDump {
            target: "primary".into(),
        };
        assert!(check_restorable(&dump, false, || unreachable!()).is_ok());
        assert!(check_restorable(&Origin::Plugin, true, || unreachable!()).is_ok());
        let refused = check_restorable(&Origin::Plugin, false, || {
            plugin_blob_denial("postgres restore on target `primary`", "[[plugins.p.postgres]]")
        });
        let Err(CapError::AccessDenied(message)) = refused else {
            panic!("not refused: {refused:?}")
        };
        assert!(message.starts_with("postgres restore on target `primary` refused: the blob was made by the plugin"));
        assert!(
            message.ends_with("[[plugins.p.postgres]]\nrestore_from_plugin_blobs = true"),
            "{message}"
        );
    }

    #[test]
    fn plugin_made_bytes_stay_plugin_made_through_s3() {
        let laundered = Origin::S3 {
            target: "backups".into(),
            key: "db/copy.dump".into(),
            etag: "abc".into(),
            verified: "metadata",
            put_by_plugin: true,
        };
        assert_eq!(Origin::Plugin.mark(), MARK_PLUGIN);
        assert_eq!(laundered.mark(), MARK_PLUGIN);
        let refused = check_restorable(&laundered, false, || {
            plugin_blob_denial("postgres restore on target `primary`", "[g]")
        });
        let Err(CapError::AccessDenied(message)) = refused else {
            panic!("not refused: {refused:?}")
        };
        assert!(
            message.starts_with("postgres restore on target `primary` refused: the blob is s3 object `db/copy.dump` of target `backups`, which a drhost plugin put from bytes it made (drhost-origin=plugin), not read by the host"),
            "{message}"
        );
        assert!(check_restorable(&laundered, true, || unreachable!()).is_ok());
    }

    #[test]
    fn the_journal_names_where_the_bytes_came_from() {
        let s3 = Origin::S3 {
            target: "backups".into(),
            key: "db/latest.dump".into(),
            etag: "abc".into(),
            verified: "metadata",
            put_by_plugin: false,
        };
        assert_eq!(
            s3.journal(),
            json!({ "from": "s3.get", "target": "backups", "key": "db/latest.dump", "etag": "abc", "verified": "metadata", "put_by_plugin": false })
        );
        assert_eq!(s3.mark(), "host");
        assert_eq!(Origin::Plugin.journal()["from"], "plugin");
    }
}
