//! The `vault` capability's checks and targets: the grant check of each
//! call, and opening a target with its token and the one HTTP client that
//! carries it (no redirects, no proxies, nothing from drhost's own
//! environment). The calls themselves are in `kv.rs` and `snapshot.rs`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zeroize::Zeroizing;

use super::grant::{allows_plugin_blobs, check_address, plugin_blob_denial};
use super::{allows_list, allows_path, allows_target, denial, grant_lines, Store, VaultAccess, VaultTarget};
use crate::bindings::types::Error as CapError;
use crate::caps::blob::Origin;
use crate::caps::kit::call::error_parts;
use crate::sandbox::RunContext;

/// Reads one field of a KV v2 secret for the operator's
/// `vault:LABEL:MOUNT/PATH#FIELD` references in other targets (a password,
/// an access key). No grant applies: the operator wrote the reference. The
/// error names the reference, never a value.
pub async fn read_field(label: &str, target: &VaultTarget, path: &str, field: &str) -> Result<String, String> {
    let reference = format!("vault:{label}:{path}#{field}");
    let explain = |e: CapError| format!("the secret {reference}: {}", error_parts(&e).1);
    let store = connect(label, target).map_err(explain)?;
    let fields = super::kv::read(&store, path, CALL_TIMEOUT).await.map_err(explain)?;
    let names = fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    match fields.iter().find(|(name, _)| name == field) {
        Some((_, value)) => Ok(value.to_string()),
        None => Err(format!(
            "the secret {reference}: `{path}` on Vault target `{label}` has no field `{field}` (its fields: {names})"
        )),
    }
}

/// Longest a KV call may take (never beyond the run's deadline);
/// snapshots may take until the deadline.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Time for one KV call: the cap, or what is left of the run.
pub(crate) fn limit(ctx: &RunContext) -> Duration {
    ctx.time_left().min(CALL_TIMEOUT)
}

pub(crate) fn check_path(
    ctx: &RunContext,
    label: &str,
    what: &str,
    path: &str,
    access: VaultAccess,
) -> Result<(), CapError> {
    if allows_path(&ctx.grants.vault, label, path, access) {
        Ok(())
    } else {
        Err(CapError::AccessDenied(denial(
            &ctx.plugin_id,
            label,
            what,
            path,
            access,
        )))
    }
}

pub(crate) fn check_list(ctx: &RunContext, label: &str, path: &str) -> Result<(), CapError> {
    if allows_list(&ctx.grants.vault, label, path, VaultAccess::Read) {
        Ok(())
    } else {
        let folder = format!("{}/*", path.trim_matches('/'));
        Err(CapError::AccessDenied(denial(
            &ctx.plugin_id,
            label,
            "list",
            &folder,
            VaultAccess::Read,
        )))
    }
}

/// Refuses `what` on `label` unless a grant gives the target-wide `access`
/// (`snapshot`, `unseal`).
pub(crate) fn check_target(ctx: &RunContext, label: &str, what: &str, access: VaultAccess) -> Result<(), CapError> {
    if allows_target(&ctx.grants.vault, label, access) {
        Ok(())
    } else {
        Err(CapError::AccessDenied(denial(&ctx.plugin_id, label, what, "", access)))
    }
}

/// Whether a snapshot blob of `origin` may be restored into target
/// `label`: one the plugin made needs the grant's `restore_from_plugin_blobs`.
pub(crate) fn check_restorable(ctx: &RunContext, label: &str, origin: &Origin) -> Result<(), CapError> {
    let opted_in = allows_plugin_blobs(&ctx.grants.vault, label);
    crate::caps::blob::check_restorable(origin, opted_in, || plugin_blob_denial(&ctx.plugin_id, label))
}

/// `reveal` on the Vault path a secret was read from (the laundering rule
/// over every origin is the `secret` capability's, which calls this).
pub(crate) fn check_reveal_path(ctx: &RunContext, label: &str, path: &str) -> Result<(), CapError> {
    check_path(ctx, label, "reveal", path, VaultAccess::Reveal)
}

/// The unseal keys of target `label`, read from the operator's
/// `unseal_keys` (after the `unseal` grant check): `not-found` naming the
/// line to add when it has none, `unavailable` when they cannot be read.
/// Errors say where the keys are, never a key.
pub(crate) fn unseal_keys(ctx: &RunContext, label: &str) -> Result<Vec<Zeroizing<String>>, CapError> {
    let target = super::TARGETS.lookup(&ctx.grants.vault_targets, label)?;
    let reference = target.unseal_keys.as_ref().ok_or_else(|| {
        CapError::NotFound(format!(
            "Vault target `{label}` has no unseal keys; add to [targets.vault.{}] in drhost.toml:\n{UNSEAL_KEYS_LINE}",
            crate::caps::kit::text::toml_key(label)
        ))
    })?;
    let text = Zeroizing::new(
        reference
            .resolve_local()
            .map_err(|e| CapError::Unavailable(format!("the unseal keys of Vault target `{label}`: {e}")))?,
    );
    super::unseal::parse_keys(&text)
        .map_err(|e| CapError::InvalidArgument(format!("the unseal keys of Vault target `{label}`: {e}")))
}

/// The `unseal_keys` line to add to a target.
pub(crate) const UNSEAL_KEYS_LINE: &str =
    "unseal_keys = \"file:/PATH/unseal-keys.json\"   # `operator init -format=json` output, or one key per line";

/// A granted, configured target with its token read. Nothing is sent
/// yet: an unreachable server shows at the first call.
pub(crate) fn open(ctx: &RunContext, label: &str) -> Result<Store, CapError> {
    let refusal = || {
        let grant = grant_lines(&ctx.plugin_id, label, "MOUNT/PATH/*", VaultAccess::Read);
        crate::caps::kit::text::not_granted(&format!("vault target `{label}`"), &ctx.plugin_id, &grant)
    };
    let target = super::TARGETS.granted(&ctx.grants.vault, &ctx.grants.vault_targets, label, refusal)?;
    connect(label, target)
}

/// The client of `target`, with its token (`env:`/`file:` only).
pub(crate) fn connect(label: &str, target: &VaultTarget) -> Result<Store, CapError> {
    let invalid = |e: String| CapError::InvalidArgument(format!("Vault target `{label}`: {e}"));
    check_address(&target.address).map_err(invalid)?;
    let token = target.token.resolve_local();
    let token = Zeroizing::new(token.map_err(|e| CapError::Unavailable(format!("Vault target `{label}`: {e}")))?);
    // Never follow a redirect (it would carry X-Vault-Token to wherever it
    // points) and never use a proxy from the environment.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .use_preconfigured_tls(tls_config().map_err(invalid)?)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Store {
        label: label.to_string(),
        address: target.address.trim_end_matches('/').to_string(),
        namespace: target.namespace.clone(),
        token,
        http,
    })
}

/// TLS for every Vault call, trusting the system's root certificates (what
/// vaultrs, which the KV calls used before, trusted: a Vault with the
/// organisation's own CA keeps working) and Mozilla's (what the snapshot
/// calls trusted). The roots are loaded once.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        Arc::new(roots)
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots.clone())
        .with_no_client_auth())
}
