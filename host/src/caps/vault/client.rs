//! The `vault` capability's checks and HTTP calls: opening a target with its
//! token (no redirects, no proxies, nothing from drhost's own environment),
//! KV v2 reads, writes, patches, lists and metadata, and raft snapshots.

use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use super::grant::check_address;
use super::{
    allows_list, allows_path, allows_target, denial, grant_lines, split_path, split_secret_path, Secret, Store,
    VaultAccess, VaultTarget,
};
use crate::bindings::drhost::runbook::vault::{Metadata, VersionInfo};
use crate::bindings::types::Error as CapError;
use crate::caps::blob::Blob;
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
    let fields = read(&store, path, CALL_TIMEOUT).await.map_err(explain)?;
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

/// Largest error body read from Vault (it is one short JSON object).
const ERROR_BODY_CAP: usize = 16 << 10;

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

pub(crate) fn check_target(ctx: &RunContext, label: &str, what: &str) -> Result<(), CapError> {
    if allows_target(&ctx.grants.vault, label, VaultAccess::Snapshot) {
        Ok(())
    } else {
        Err(CapError::AccessDenied(denial(
            &ctx.plugin_id,
            label,
            what,
            "",
            VaultAccess::Snapshot,
        )))
    }
}

/// `reveal` on the path the secret was read from; a composed secret has
/// no such path.
pub(crate) fn check_reveal(ctx: &RunContext, secret: &Secret) -> Result<(), CapError> {
    match &secret.source {
        None => Err(CapError::AccessDenied(format!(
            "the secret `{}` cannot be revealed: it was composed, and no single Vault path's `reveal` grant covers a composed value; reveal the secrets it was made from instead",
            secret.origin
        ))),
        Some((label, path)) => {
            check_path(ctx, label, "reveal", path, VaultAccess::Reveal)?;
            match super::grant::laundering(&ctx.grants.vault) {
                None => Ok(()),
                Some(why) => Err(CapError::AccessDenied(format!(
                    "no secret can be revealed to plugin `{}`: {why}",
                    ctx.plugin_id
                ))),
            }
        }
    }
}

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

/// The clients of `target`, with its token (`env:`/`file:` only).
pub(crate) fn connect(label: &str, target: &VaultTarget) -> Result<Store, CapError> {
    let invalid = |e: String| CapError::InvalidArgument(format!("Vault target `{label}`: {e}"));
    check_address(&target.address).map_err(invalid)?;
    let token = target.token.resolve_local();
    let token = Zeroizing::new(token.map_err(|e| CapError::Unavailable(format!("Vault target `{label}`: {e}")))?);
    let settings = vaultrs::client::VaultClientSettingsBuilder::default()
        // Every setting explicit: none may come from drhost's own VAULT_* environment.
        .address(&target.address)
        .token(token.as_str())
        .namespace(target.namespace.clone())
        .ca_certs(Vec::new())
        .identity(None)
        .verify(true)
        .timeout(None)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let kv = vaultrs::client::VaultClient::new(settings).map_err(|e| invalid(e.to_string()))?;
    // Never follow a redirect (it would carry X-Vault-Token to wherever it
    // points) and never use a proxy from the environment.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    Ok(Store {
        label: label.to_string(),
        address: target.address.trim_end_matches('/').to_string(),
        namespace: target.namespace.clone(),
        token,
        kv,
        http,
    })
}

/// The latest version's fields; non-string values as JSON text.
pub(crate) async fn read(
    store: &Store,
    path: &str,
    limit: Duration,
) -> Result<Vec<(String, Zeroizing<String>)>, CapError> {
    let (mount, key) = split_secret_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("read of `{path}`");
    let data: Map<String, Value> = kv(store, &what, limit, vaultrs::kv2::read(&store.kv, mount, key)).await?;
    let text = |value: Value| match value {
        Value::String(s) => s,
        other => other.to_string(),
    };
    Ok(data
        .into_iter()
        .map(|(name, v)| (name, Zeroizing::new(text(v))))
        .collect())
}

/// A new version: exactly `values` (write) or `values` merged into the
/// latest (patch, which vaultrs lacks: a JSON merge patch). Vault's
/// error text is redacted of every value sent.
pub(crate) async fn put(
    store: &Store,
    path: &str,
    values: Map<String, Value>,
    patch: bool,
    limit: Duration,
) -> Result<u64, CapError> {
    let (mount, key) = split_secret_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("{} of `{path}`", if patch { "patch" } else { "write" });
    let result = if patch {
        let url = format!("{}/v1/{mount}/data/{key}", store.address);
        let body = serde_json::to_vec(&json!({ "data": &values })).unwrap_or_default();
        let request = request(store, Method::PATCH, &url)?
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(body);
        bounded(store, &what, limit, patched_version(store, &what, request)).await
    } else {
        let set = vaultrs::kv2::set(&store.kv, mount, key, &values);
        kv(store, &what, limit, set).await.map(|v| v.version)
    };
    let sent = values.values().filter_map(Value::as_str);
    result.map_err(|e| with_message(e, |m| super::secrets::redact(m, sent)))
}

async fn patched_version(store: &Store, what: &str, request: reqwest::RequestBuilder) -> Result<u64, CapError> {
    let reply = send(store, what, request).await?;
    let body = reply.bytes().await.map_err(|e| from_reqwest(store, what, e))?;
    let reply: Value = serde_json::from_slice(&body).unwrap_or_default();
    reply["data"]["version"].as_u64().ok_or_else(|| {
        CapError::Failed(format!(
            "vault {what} on target `{}`: Vault's reply has no new version",
            store.label
        ))
    })
}

/// The keys under a folder (sub-folders end with `/`).
pub(crate) async fn list(store: &Store, path: &str, limit: Duration) -> Result<Vec<String>, CapError> {
    let (mount, key) = split_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("list of `{path}`");
    kv(store, &what, limit, vaultrs::kv2::list(&store.kv, mount, key)).await
}

/// The secret's versions, oldest first.
pub(crate) async fn metadata(store: &Store, path: &str, limit: Duration) -> Result<Metadata, CapError> {
    let (mount, key) = split_secret_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("metadata of `{path}`");
    let m = kv(store, &what, limit, vaultrs::kv2::read_metadata(&store.kv, mount, key)).await?;
    let mut versions: Vec<VersionInfo> = m
        .versions
        .into_iter()
        .filter_map(|(number, v)| {
            Some(VersionInfo {
                version: number.parse().ok()?,
                created_time: v.created_time,
                deletion_time: v.deletion_time,
                destroyed: v.destroyed,
            })
        })
        .collect();
    versions.sort_by_key(|v| v.version);
    Ok(Metadata {
        current_version: m.current_version,
        oldest_version: m.oldest_version,
        created_time: m.created_time,
        updated_time: m.updated_time,
        versions,
    })
}

/// Streams `GET sys/storage/raft/snapshot` into a new file in
/// `blob_dir` (removed again if anything fails), chunk by chunk.
pub(crate) async fn snapshot_save(store: &Store, blob_dir: &Path, limit: Duration) -> Result<Blob, CapError> {
    let what = "raft snapshot save";
    let failed = |e: std::io::Error| CapError::Failed(format!("vault {what}: the snapshot file: {e}"));
    std::fs::create_dir_all(blob_dir).map_err(failed)?;
    let file = tempfile::Builder::new()
        .prefix("vault-snapshot-")
        .suffix(".snap")
        .tempfile_in(blob_dir)
        .map_err(failed)?;
    let out = tokio::fs::File::from_std(file.as_file().try_clone().map_err(failed)?);
    let url = format!("{}/v1/sys/storage/raft/snapshot", store.address);
    let request = request(store, Method::GET, &url)?;
    let size = bounded(store, what, limit, download(store, what, request, out)).await?;
    if size == 0 {
        return Err(CapError::Failed(format!(
            "vault {what} on target `{}`: Vault sent an empty snapshot",
            store.label
        )));
    }
    let (_, path) = file.keep().map_err(|e| failed(e.error))?;
    let from_file = tokio::task::spawn_blocking(move || Blob::from_file(path)).await;
    from_file
        .map_err(|e| CapError::Failed(format!("vault {what}: checksum task: {e}")))?
        .map_err(failed)
}

/// Copies the reply's body into `out`; returns the bytes written.
async fn download(
    store: &Store,
    what: &str,
    request: reqwest::RequestBuilder,
    mut out: tokio::fs::File,
) -> Result<u64, CapError> {
    let mut reply = send(store, what, request).await?;
    let write_failed = |e: std::io::Error| CapError::Failed(format!("vault {what}: writing the snapshot file: {e}"));
    let mut size = 0;
    while let Some(chunk) = reply.chunk().await.map_err(|e| from_reqwest(store, what, e))? {
        out.write_all(&chunk).await.map_err(write_failed)?;
        size += chunk.len() as u64;
    }
    out.flush().await.map_err(write_failed)?;
    Ok(size)
}

/// Streams the blob's file as the body of `POST sys/storage/raft/snapshot`
/// (or `snapshot-force`, for a snapshot of another cluster).
pub(crate) async fn snapshot_restore(
    store: &Store,
    file: &Path,
    size: u64,
    force: bool,
    limit: Duration,
) -> Result<(), CapError> {
    let endpoint = if force { "snapshot-force" } else { "snapshot" };
    let what = format!("raft {endpoint} restore");
    let body = tokio::fs::File::open(file)
        .await
        .map_err(|e| CapError::Failed(format!("vault {what}: reading the blob: {e}")))?;
    let url = format!("{}/v1/sys/storage/raft/{endpoint}", store.address);
    let request = request(store, Method::POST, &url)?
        .header(CONTENT_LENGTH, size)
        .body(reqwest::Body::from(body));
    bounded(store, &what, limit, async {
        send(store, &what, request).await.map(|_| ())
    })
    .await
}

/// A request carrying the token (a header marked sensitive) and the namespace.
fn request(store: &Store, method: Method, url: &str) -> Result<reqwest::RequestBuilder, CapError> {
    let mut token = HeaderValue::from_str(&store.token).map_err(|_| {
        CapError::InvalidArgument(format!(
            "the token of Vault target `{}` is not a valid HTTP header value",
            store.label
        ))
    })?;
    token.set_sensitive(true);
    let mut request = store.http.request(method, url).header("X-Vault-Token", token);
    if let Some(namespace) = &store.namespace {
        request = request.header("X-Vault-Namespace", namespace);
    }
    Ok(request)
}

/// Sends `request`; any status but 2xx becomes a typed error.
async fn send(store: &Store, what: &str, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CapError> {
    let mut reply = request.send().await.map_err(|e| from_reqwest(store, what, e))?;
    if reply.status().is_success() {
        return Ok(reply);
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = reply.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > ERROR_BODY_CAP {
            break;
        }
    }
    let errors = errors_of(&String::from_utf8_lossy(&body));
    Err(by_status(store, what, reply.status().as_u16(), &errors))
}

/// `fut` within `limit`, else a timeout naming the call.
async fn bounded<T>(
    store: &Store,
    what: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, CapError>>,
) -> Result<T, CapError> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(CapError::Timeout(format!(
            "vault {what} on target `{}` took over {:.1}s (the call's cap, or what was left of the run)",
            store.label,
            limit.as_secs_f64()
        )))
    })
}

/// A vaultrs call within `limit`, its error typed.
async fn kv<T>(
    store: &Store,
    what: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, vaultrs::error::ClientError>>,
) -> Result<T, CapError> {
    bounded(store, what, limit, async {
        fut.await.map_err(|e| from_vaultrs(store, what, e))
    })
    .await
}

fn from_vaultrs(store: &Store, what: &str, e: vaultrs::error::ClientError) -> CapError {
    use rustify::errors::ClientError as Http;
    use vaultrs::error::ClientError as Kv;
    match e {
        Kv::APIError { code, errors } => by_status(store, what, code, &one_line(&errors.join("; "))),
        Kv::RestClientError {
            source: Http::ServerResponseError { code, content },
        } => by_status(store, what, code, &errors_of(content.as_deref().unwrap_or_default())),
        Kv::RestClientError {
            source: e @ Http::RequestError { .. },
        } => unreachable(store, what, &e),
        other => CapError::Failed(format!("vault {what} on target `{}`: {}", store.label, chain(&other))),
    }
}

fn from_reqwest(store: &Store, what: &str, e: reqwest::Error) -> CapError {
    if e.is_timeout() {
        CapError::Timeout(format!("vault {what} on target `{}`: {}", store.label, chain(&e)))
    } else if e.is_connect() || e.is_request() || e.is_body() {
        unreachable(store, what, &e)
    } else {
        CapError::Failed(format!("vault {what} on target `{}`: {}", store.label, chain(&e)))
    }
}

/// Connection refused, DNS, reset: the server is not there.
fn unreachable(store: &Store, what: &str, e: &dyn std::error::Error) -> CapError {
    CapError::Unavailable(format!(
        "Vault target `{}` at {} is unreachable ({what}): {}",
        store.label,
        store.address,
        crate::caps::kit::text::root_cause(e)
    ))
}

/// The error for an HTTP status from Vault; `errors` is Vault's own text.
fn by_status(store: &Store, what: &str, code: u16, errors: &str) -> CapError {
    let at = format!("vault {what} on target `{}`", store.label);
    let detail = if errors.is_empty() {
        String::new()
    } else {
        format!(" ({errors})")
    };
    match code {
        403 => CapError::Failed(format!(
            "{at}: Vault refused the token (permission denied): its policy does not allow this{detail}"
        )),
        404 => CapError::NotFound(format!("{at}: Vault has nothing there (HTTP 404){detail}")),
        412 => CapError::Conflict(format!("{at}: Vault reports a version conflict (HTTP 412){detail}")),
        429 | 502 | 503 | 504 => CapError::Unavailable(format!(
            "{at}: Vault at {} is not ready (HTTP {code}: sealed, standby or overloaded){detail}",
            store.address
        )),
        _ => CapError::Failed(format!("{at}: Vault answered HTTP {code}{detail}")),
    }
}

/// Vault's `{"errors": [...]}` as one line, or the start of a body that is not that.
fn errors_of(body: &str) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::from_value(v["errors"].clone()).ok());
    match parsed {
        Some(errors) => one_line(&errors.join("; ")),
        None => one_line(&body.chars().take(200).collect::<String>()),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&text)
}

/// `e` with its message rewritten by `f`.
pub(crate) fn with_message(e: CapError, f: impl FnOnce(&str) -> String) -> CapError {
    match e {
        CapError::AccessDenied(m) => CapError::AccessDenied(f(&m)),
        CapError::NotFound(m) => CapError::NotFound(f(&m)),
        CapError::InvalidArgument(m) => CapError::InvalidArgument(f(&m)),
        CapError::Unavailable(m) => CapError::Unavailable(f(&m)),
        CapError::Timeout(m) => CapError::Timeout(f(&m)),
        CapError::Conflict(m) => CapError::Conflict(f(&m)),
        CapError::Failed(m) => CapError::Failed(f(&m)),
    }
}
