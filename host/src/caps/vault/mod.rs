//! `vault`: KV v2 secrets as handles, raft snapshots, and the seal (status
//! and unseal with the operator's keys), by target label.
//!
//! The operator's `[targets.vault.<label>]` says where a server is and where
//! its token and unseal keys are (`env:`/`file:`, read here and only here);
//! `[[plugins.<id>.vault]]` grants path globs with `read`, `write`,
//! `reveal`, and the whole target with `snapshot` and `unseal`. A value read from Vault stays in the host as a
//! [`Secret`]; the plugin gets a handle it can compose into new secrets and
//! write back, and sees the value only through `reveal`, which needs its own
//! grant and is journaled (without the value). No value — secret or plain
//! text written to Vault — is ever journaled, logged or put in an error.

use crate::bindings::types::Access;
use crate::caps::kit::gate::{Gate, TargetTable};
use crate::config::PluginGrants;

mod client;
mod fresh;
mod grant;
mod host;
mod http;
mod kv;
mod secrets;
mod snapshot;
mod unseal;

pub(crate) use client::check_reveal_path;
pub use client::read_field;
pub(crate) use grant::TOKEN_NOT_IN_VAULT;
pub use grant::{
    allows_list, allows_path, allows_target, covers, denial, grant_lines, laundering, lists_key, need_access,
    split_path, split_secret_path, VaultAccess, VaultGrant, VaultTarget,
};
use zeroize::Zeroizing;

pub use crate::caps::secret::Secret;

pub use kv::{MAX_KV_REPLY, MAX_SECRET_FIELDS};

/// One Vault server opened by label, held in the run's resource table: the
/// token (read from the operator's `env:`/`file:` when opening) and the one
/// HTTP client that sends it (see `http.rs`).
pub struct Store {
    label: String,
    address: String,
    namespace: Option<String>,
    token: Zeroizing<String>,
    /// Every call: KV v2 and raft snapshots. Follows no redirect, uses no proxy.
    http: reqwest::Client,
}

/// `[targets.vault.LABEL]`.
pub(crate) const TARGETS: TargetTable = TargetTable {
    capability: "vault",
    title: "Vault",
    keys: "address = \"https://VAULT:8200\"\ntoken = \"env:VAULT_TOKEN\"",
};

/// `vault` needs: `LABEL` (read / write), `reveal:LABEL`, `snapshot:LABEL`,
/// `unseal:LABEL`.
pub(crate) const GATE: Gate = Gate {
    capability: "vault",
    covers,
    advice: need_lines,
    changes: |grants| {
        crate::caps::kit::gate::changed_targets(
            &grants.vault,
            &[VaultAccess::Write, VaultAccess::Snapshot, VaultAccess::Unseal],
        )
    },
};

/// The TOML that would cover a `vault` need: the grant, and the target when
/// it is not configured.
fn need_lines(grants: &PluginGrants, id: &str, target: &str, access: Access) -> String {
    let (label, access) = need_access(target, access);
    let lines = TARGETS.with_table(
        grant_lines(id, label, "MOUNT/PATH/*", access),
        &grants.vault_targets,
        label,
    );
    if access != VaultAccess::Unseal {
        return lines;
    }
    match grants.vault_targets.get(label) {
        // The table printed last: the line lands in it.
        None => format!("{lines}\n{}", client::UNSEAL_KEYS_LINE),
        Some(t) if t.unseal_keys.is_none() => format!(
            "{lines}\n# and in the existing [targets.vault.{}]:\n# {}",
            crate::caps::kit::text::toml_key(label),
            client::UNSEAL_KEYS_LINE
        ),
        Some(_) => lines,
    }
}
