//! `vault`: KV v2 secrets as handles, secrets composed in the host, and raft
//! snapshots, by target label.
//!
//! The operator's `[targets.vault.<label>]` says where a server is and where
//! its token is (`env:`/`file:`, read here and only here);
//! `[[plugins.<id>.vault]]` grants path globs with `read`, `write`,
//! `reveal` and `snapshot`. A value read from Vault stays in the host as a
//! [`Secret`]; the plugin gets a handle it can compose into new secrets and
//! write back, and sees the value only through `reveal`, which needs its own
//! grant and is journaled (without the value). No value — secret or plain
//! text written to Vault — is ever journaled, logged or put in an error.

mod client;
mod grant;
mod host;
mod secrets;

pub use client::read_field;
pub(crate) use grant::TOKEN_NOT_IN_VAULT;
pub use grant::{
    allows_list, allows_path, allows_target, covers, denial, grant_lines, lists_key, need_access, split_path,
    split_secret_path, VaultAccess, VaultGrant, VaultTarget,
};
use zeroize::Zeroizing;

/// One Vault server opened by label, held in the run's resource table: the
/// token (read from the operator's `env:`/`file:` when opening) and the
/// clients that send it.
pub struct Store {
    label: String,
    address: String,
    namespace: Option<String>,
    token: Zeroizing<String>,
    /// KV v2 read, write, list and metadata.
    kv: vaultrs::client::VaultClient,
    /// What vaultrs lacks: KV v2 patch and streamed raft snapshots.
    http: reqwest::Client,
}

/// A secret value held by the host; the plugin holds a handle. The value is
/// wiped from memory when the handle is dropped.
pub struct Secret {
    /// `mount/path#field`, or `composed`.
    origin: String,
    /// The Vault target and path it was read from, for the `reveal` grant
    /// check (`None` when composed: composed secrets cannot be revealed).
    source: Option<(String, String)>,
    value: Zeroizing<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} = <redacted>)", self.origin)
    }
}
