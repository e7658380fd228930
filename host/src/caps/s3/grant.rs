//! What the operator configures for `s3`: targets by label
//! (`[targets.s3.<label>]`), grants per plugin (`[[plugins.<id>.s3]]`) with
//! key-prefix globs, and the check made at every call.
//!
//! This module never reads a secret's value; it only knows where it is.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::bindings::types::Access;
use crate::caps::kit::pattern::{glob_matches, literal_head};
use crate::caps::kit::text::{not_granted, toml_string};
use crate::config::PluginGrants;
use crate::secret::SecretRef;

/// `[targets.s3.<label>]`: one bucket a plugin may open by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Target {
    /// e.g. `http://127.0.0.1:9000` or `https://s3.eu-west-1.amazonaws.com`.
    pub endpoint: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// The bucket name.
    pub bucket: String,
    /// Path-style addressing (MinIO, moto, most self-hosted services).
    #[serde(default)]
    pub path_style: bool,
    /// The access key id: `env:NAME` or `file:PATH`, never the value.
    pub access_key: SecretRef,
    /// The secret access key: `env:NAME` or `file:PATH`, never the value.
    pub secret_key: SecretRef,
}

/// `[[plugins.<id>.s3]]`: what a plugin may do with some keys of one target.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Grant {
    /// The target label (`[targets.s3.<label>]`).
    pub target: String,
    /// Key globs, e.g. `supabase/*` (`*` matches any characters, `/` too).
    pub prefixes: Vec<String>,
    /// `read` (list, head, get, get-secret, and revealing what get-secret
    /// read), `write` (put).
    pub access: BTreeSet<S3Access>,
}

/// A class of S3 operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum S3Access {
    /// list, head, get, get-secret (and reveal of its secrets).
    Read,
    /// put.
    Write,
}

impl S3Access {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            S3Access::Read => "read",
            S3Access::Write => "write",
        }
    }
}

/// Whether `key` names one object plainly: no `.` or `..` segment, no empty
/// segment (`a//b`, a leading `/`), no control character. S3 itself treats
/// keys as opaque, but an HTTP layer or an S3-compatible server that maps
/// keys to files may resolve `supabase/../other/x` to `other/x`, outside the
/// glob the text matched; such keys are refused whatever the grant says.
pub fn is_plain_key(key: &str) -> bool {
    !key.chars().any(char::is_control)
        && key.split('/').enumerate().all(|(i, segment)| match segment {
            "." | ".." => false,
            // A trailing `/` (a folder marker or listing prefix) is fine.
            "" => i > 0 && key.ends_with('/') && i == key.split('/').count() - 1,
            _ => true,
        })
}

/// Whether `grants` give `access` to `key` on `label` (and the key is plain).
pub fn allows_key(grants: &[S3Grant], label: &str, key: &str, access: S3Access) -> bool {
    is_plain_key(key)
        && grants
            .iter()
            .filter(|g| g.target == label && g.access.contains(&access))
            .any(|g| g.prefixes.iter().any(|p| glob_matches(p, key)))
}

/// Whether a listing of `prefix` stays inside a granted glob: the prefix
/// must start with a granted glob's literal head (`supabase/` for `supabase/*`).
pub fn allows_prefix(grants: &[S3Grant], label: &str, prefix: &str, access: S3Access) -> bool {
    (prefix.is_empty() || is_plain_key(prefix))
        && grants
            .iter()
            .filter(|g| g.target == label && g.access.contains(&access))
            .any(|g| g.prefixes.iter().any(|p| prefix.starts_with(&literal_head(p))))
}

/// Whether a manifest need on `label` is covered (and the target configured).
/// `admin` asks for `write`.
pub fn covers(grants: &PluginGrants, label: &str, access: Access) -> bool {
    let access = match access {
        Access::Read => S3Access::Read,
        Access::Write | Access::Admin => S3Access::Write,
    };
    crate::caps::kit::gate::allows_access(&grants.s3, label, &access) && grants.s3_targets.contains_key(label)
}

/// The TOML lines that would grant `access` to `key` on `label`.
pub fn grant_lines(id: &str, label: &str, key: &str, access: S3Access) -> String {
    format!(
        "[[plugins.{id}.s3]]\ntarget = {}\nprefixes = [{}]\naccess = [\"{}\"]",
        toml_string(label),
        toml_string(key),
        access.name()
    )
}

/// The refusal text for `what` on `key` of `label`.
pub fn denial(id: &str, label: &str, what: &str, key: &str, access: S3Access) -> String {
    if !is_plain_key(key) {
        return format!(
            "s3 {what} of `{key}` on target `{label}` is refused: a key must not contain `.` or `..` segments, empty segments or control characters, whatever the grant"
        );
    }
    let subject = format!(
        "s3 {what} of `{key}` on target `{label}` needs `{}` access to a prefix covering that key, which",
        access.name()
    );
    not_granted(&subject, id, &grant_lines(id, label, key, access))
}

impl crate::caps::kit::gate::TargetGrant for S3Grant {
    type Access = S3Access;
    fn target(&self) -> &str {
        &self.target
    }
    fn access(&self) -> &BTreeSet<S3Access> {
        &self.access
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_that_a_path_layer_could_resolve_are_refused() {
        use super::is_plain_key;
        for ok in [
            "supabase/backup_latest.dump",
            "supabase/",
            "a/b/c",
            "a..b/c",
            ".hidden/x",
        ] {
            assert!(is_plain_key(ok), "{ok}");
        }
        for bad in [
            "supabase/../other/x",
            "supabase/./x",
            "supabase//x",
            "/supabase/x",
            "..",
            "a/\u{0}",
            "a\nb",
            "//",
        ] {
            assert!(!is_plain_key(bad), "{bad}");
        }
    }

    use super::*;

    fn grants() -> Vec<S3Grant> {
        vec![S3Grant {
            target: "backups".into(),
            prefixes: vec!["supabase/*".into()],
            access: [S3Access::Read, S3Access::Write].into(),
        }]
    }

    #[test]
    fn keys_must_match_a_granted_prefix() {
        let g = grants();
        assert!(allows_key(&g, "backups", "supabase/backup_1.dump", S3Access::Write));
        assert!(!allows_key(&g, "backups", "other/backup_1.dump", S3Access::Write));
        assert!(!allows_key(&g, "elsewhere", "supabase/x", S3Access::Read));
        assert!(allows_prefix(&g, "backups", "supabase/backup_", S3Access::Read));
        assert!(!allows_prefix(&g, "backups", "", S3Access::Read));
        let text = denial("p", "backups", "put", "other/x", S3Access::Write);
        assert!(
            text.contains("[[plugins.p.s3]]\ntarget = \"backups\"\nprefixes = [\"other/x\"]\naccess = [\"write\"]"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::is_plain_key;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A key the grant check accepts never steps up or sideways in a
        /// server that maps keys to paths.
        #[test]
        fn a_plain_key_has_no_dot_segment_and_no_control(
            key in prop_oneof![any::<String>(), "[a./\n]{0,12}", "(\\.\\.|\\.|a|/){1,8}"]
        ) {
            if is_plain_key(&key) {
                prop_assert!(!key.starts_with('/'));
                prop_assert!(!key.chars().any(char::is_control));
                prop_assert!(!key.contains("//"));
                prop_assert!(key.split('/').all(|s| s != "." && s != ".."), "{key}");
            }
        }
    }
}
