//! The KV v2 calls, as plain HTTP through the target's own client (see
//! `http.rs`): read (`GET MOUNT/data/PATH`), write (`POST MOUNT/data/PATH`),
//! patch (`PATCH`, a JSON merge patch), list (`LIST MOUNT/metadata/PATH`)
//! and metadata (`GET MOUNT/metadata/PATH`).
//!
//! Every reply is bounded: at most [`MAX_KV_REPLY`] bytes, and a secret at
//! most [`MAX_SECRET_FIELDS`] fields (each becomes a handle in the plugin).

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::http::{body_within, bounded, data_of, list_method, request, send, with_message};
use super::{split_path, split_secret_path, Store};
use crate::bindings::drhost::runbook::vault::{Metadata, VersionInfo};
use crate::bindings::types::Error as CapError;

/// Largest KV v2 reply (a secret, a list, metadata) drhost reads.
pub const MAX_KV_REPLY: usize = 4 << 20;
/// Most fields one secret read may return.
pub const MAX_SECRET_FIELDS: usize = 1_000;

/// How to ask for less, for each call whose reply was too large.
const NARROW_READ: &str =
    "a secret this large cannot be read through drhost: keep large values (bundles, files) out of Vault KV or split them over several paths";
const NARROW_LIST: &str = "list a sub-folder instead";
const NARROW_METADATA: &str =
    "a secret with this many versions cannot be inspected through drhost: lower its max_versions";

/// The latest version's fields; non-string values as JSON text.
pub(crate) async fn read(
    store: &Store,
    path: &str,
    limit: Duration,
) -> Result<Vec<(String, Zeroizing<String>)>, CapError> {
    let (mount, key) = split_secret_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("read of `{path}`");
    let url = format!("{}/v1/{mount}/data/{key}", store.address);
    let data = bounded(
        store,
        &what,
        limit,
        get_data(store, &what, Method::GET, &url, NARROW_READ),
    )
    .await?;
    let Value::Object(fields) = data.get("data").cloned().unwrap_or_default() else {
        return Err(CapError::Failed(format!(
            "vault {what} on target `{}`: Vault's reply holds no secret (is `{mount}` a KV v2 mount?)",
            store.label
        )));
    };
    if fields.len() > MAX_SECRET_FIELDS {
        return Err(CapError::InvalidArgument(format!(
            "vault {what} on target `{}`: the secret has {} fields, more than drhost's cap of {MAX_SECRET_FIELDS} per secret",
            store.label,
            fields.len()
        )));
    }
    let text = |value: Value| match value {
        Value::String(s) => s,
        other => other.to_string(),
    };
    Ok(fields
        .into_iter()
        .map(|(name, v)| (name, Zeroizing::new(text(v))))
        .collect())
}

/// A new version: exactly `values` (write) or `values` merged into the
/// latest (patch: a JSON merge patch). Vault's error text is redacted of
/// every value sent.
pub(crate) async fn put(
    store: &Store,
    path: &str,
    values: Map<String, Value>,
    patch: bool,
    limit: Duration,
) -> Result<u64, CapError> {
    let (mount, key) = split_secret_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("{} of `{path}`", if patch { "patch" } else { "write" });
    let url = format!("{}/v1/{mount}/data/{key}", store.address);
    let body = serde_json::to_vec(&json!({ "data": &values })).unwrap_or_default();
    let result = match request(store, if patch { Method::PATCH } else { Method::POST }, &url) {
        Ok(request) => {
            let content_type = if patch {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            let request = request.header(CONTENT_TYPE, content_type).body(body);
            bounded(store, &what, limit, new_version(store, &what, request)).await
        }
        Err(e) => Err(e),
    };
    let sent = values.values().filter_map(Value::as_str);
    result.map_err(|e| with_message(e, |m| super::secrets::redact(m, sent)))
}

async fn new_version(store: &Store, what: &str, request: reqwest::RequestBuilder) -> Result<u64, CapError> {
    let reply = send(store, what, request).await?;
    let body = body_within(store, what, reply, MAX_KV_REPLY, NARROW_READ).await?;
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
    let url = format!("{}/v1/{mount}/metadata/{key}", store.address);
    let data = bounded(
        store,
        &what,
        limit,
        get_data(store, &what, list_method(), &url, NARROW_LIST),
    )
    .await?;
    #[derive(Deserialize)]
    struct Listed {
        keys: Vec<String>,
    }
    let listed: Listed = serde_json::from_value(data).map_err(|e| {
        CapError::Failed(format!(
            "vault {what} on target `{}`: Vault's reply is not a list of keys ({e})",
            store.label
        ))
    })?;
    Ok(listed.keys)
}

/// The secret's versions, oldest first.
pub(crate) async fn metadata(store: &Store, path: &str, limit: Duration) -> Result<Metadata, CapError> {
    let (mount, key) = split_secret_path(path).map_err(CapError::InvalidArgument)?;
    let what = format!("metadata of `{path}`");
    let url = format!("{}/v1/{mount}/metadata/{key}", store.address);
    let data = bounded(
        store,
        &what,
        limit,
        get_data(store, &what, Method::GET, &url, NARROW_METADATA),
    )
    .await?;
    let m: KvMetadata = serde_json::from_value(data).map_err(|e| {
        CapError::Failed(format!(
            "vault {what} on target `{}`: Vault's reply is not KV v2 metadata ({e})",
            store.label
        ))
    })?;
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

/// `data` of KV v2 metadata: what the WIT record needs of it.
#[derive(Deserialize)]
struct KvMetadata {
    current_version: u64,
    oldest_version: u64,
    created_time: String,
    updated_time: String,
    versions: std::collections::BTreeMap<String, KvVersion>,
}

#[derive(Deserialize)]
struct KvVersion {
    created_time: String,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

/// Sends `method url` and returns the reply's `data`, its body bounded.
async fn get_data(store: &Store, what: &str, method: Method, url: &str, narrow: &str) -> Result<Value, CapError> {
    let reply = send(store, what, request(store, method, url)?).await?;
    let body = body_within(store, what, reply, MAX_KV_REPLY, narrow).await?;
    data_of(store, what, &body)
}
