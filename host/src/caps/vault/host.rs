//! The `vault` interface as the plugin sees it: one short function per WIT
//! function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the checks are in `client.rs`,
//! the calls in `kv.rs`, `snapshot.rs` and `unseal.rs` (over `http.rs`),
//! the pure parts (composing, field values, redaction) in `secrets.rs`.
//!
//! What is journaled: the target, the path, field *names*, whether each
//! written field was text or which secret, versions, sizes, seal status.
//! Never a value, never an unseal key.

use serde_json::json;
use wasmtime::component::Resource;

use super::secrets::{describe_fields, field_values, withheld};
use super::{client, kv, snapshot, unseal};
use super::{lists_key, Secret, Store, VaultAccess};
use crate::bindings::drhost::runbook::vault::{FieldValue, Host, HostStore, Metadata, SealStatus};
use crate::caps::blob::Blob;
use crate::caps::kit::Answer;
use crate::caps::secret::Source;
use crate::sandbox::RunState;

impl Host for RunState {}

impl HostStore for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Store>> {
        let ctx = self.ctx.clone();
        let summary = |s: &Store| json!({ "address": s.address });
        let store = ctx
            .audited("vault.open", json!({ "target": label }), summary, async {
                Ok(client::open(&ctx, &label)?)
            })
            .await?;
        Ok(self.table.push(store)?)
    }

    async fn read(&mut self, s: Resource<Store>, path: String) -> Answer<Vec<(String, Resource<Secret>)>> {
        let ctx = self.ctx.clone();
        let store = self.table.get(&s)?;
        let label = store.label.clone();
        let args = json!({ "target": label, "path": path });
        let summary =
            |fields: &Vec<(String, _)>| json!({ "fields": fields.iter().map(|(name, _)| name).collect::<Vec<_>>() });
        let fields = ctx
            .audited("vault.read", args, summary, async {
                client::check_path(&ctx, &label, "read", &path, VaultAccess::Read)?;
                Ok(kv::read(store, &path, client::limit(&ctx)).await?)
            })
            .await?;
        let path = path.trim_matches('/');
        let mut handles = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let secret = Secret {
                origin: format!("{path}#{name}"),
                source: Source::Vault {
                    label: label.clone(),
                    path: path.to_string(),
                },
                value,
            };
            handles.push((name, self.table.push(secret)?));
        }
        Ok(handles)
    }

    async fn write(&mut self, s: Resource<Store>, path: String, fields: Vec<(String, FieldValue)>) -> Answer<u64> {
        put(self, s, path, fields, false).await
    }

    async fn patch(&mut self, s: Resource<Store>, path: String, fields: Vec<(String, FieldValue)>) -> Answer<u64> {
        put(self, s, path, fields, true).await
    }

    async fn list(&mut self, s: Resource<Store>, path: String) -> Answer<Vec<String>> {
        let ctx = self.ctx.clone();
        let store = self.table.get(&s)?;
        let args = json!({ "target": store.label, "path": path });
        let summary = |keys: &Vec<String>| json!({ "keys": keys.len() });
        ctx.audited("vault.list", args, summary, async {
            client::check_list(&ctx, &store.label, &path)?;
            let keys = kv::list(store, &path, client::limit(&ctx)).await?;
            let grants = &ctx.grants.vault;
            Ok(keys
                .into_iter()
                .filter(|k| lists_key(grants, &store.label, &path, k, VaultAccess::Read))
                .collect())
        })
        .await
    }

    async fn metadata(&mut self, s: Resource<Store>, path: String) -> Answer<Metadata> {
        let ctx = self.ctx.clone();
        let store = self.table.get(&s)?;
        let args = json!({ "target": store.label, "path": path });
        let summary = |m: &Metadata| json!({ "current_version": m.current_version, "versions": m.versions.len() });
        ctx.audited("vault.metadata", args, summary, async {
            client::check_path(&ctx, &store.label, "metadata", &path, VaultAccess::Read)?;
            Ok(kv::metadata(store, &path, client::limit(&ctx)).await?)
        })
        .await
    }

    async fn snapshot_save(&mut self, s: Resource<Store>) -> Answer<Resource<Blob>> {
        let ctx = self.ctx.clone();
        let store = self.table.get(&s)?;
        let args = json!({ "target": store.label });
        let summary = |b: &Blob| json!({ "size": b.size(), "sha256": b.sha256() });
        let blob = ctx
            .audited("vault.snapshot-save", args, summary, async {
                client::check_target(&ctx, &store.label, "snapshot-save", VaultAccess::Snapshot)?;
                Ok(snapshot::snapshot_save(store, ctx.blob_dir()?, &ctx.disk, ctx.time_left()).await?)
            })
            .await?;
        Ok(self.table.push(blob)?)
    }

    async fn snapshot_restore(&mut self, s: Resource<Store>, data: Resource<Blob>, force: bool) -> Answer<()> {
        let ctx = self.ctx.clone();
        let blob = self.table.get(&data)?;
        let (file, size, origin) = (blob.path().to_owned(), blob.size(), blob.origin().clone());
        let store = self.table.get(&s)?;
        let args = json!({ "target": store.label, "size": size, "sha256": blob.sha256(), "origin": origin.journal(), "force": force });
        ctx.audited_checked(
            "vault.snapshot-restore",
            args,
            |fresh: &bool| json!({ "restored": true, "initialised_fresh_server": fresh }),
            async {
                client::check_target(&ctx, &store.label, "snapshot-restore", VaultAccess::Snapshot)?;
                client::check_restorable(&ctx, &store.label, &origin)
            },
            |()| async { Ok(snapshot::snapshot_restore(store, &file, size, force, ctx.time_left()).await?) },
        )
        .await
        .map(|_fresh| ())
    }

    async fn drop(&mut self, s: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }

    async fn seal_status(&mut self, s: Resource<Store>) -> Answer<SealStatus> {
        let ctx = self.ctx.clone();
        let store = self.table.get(&s)?;
        let args = json!({ "target": store.label });
        ctx.audited("vault.seal-status", args, status_summary, async {
            Ok(unseal::seal_status(store, client::limit(&ctx)).await?)
        })
        .await
    }

    async fn unseal(&mut self, s: Resource<Store>) -> Answer<SealStatus> {
        let ctx = self.ctx.clone();
        let store = self.table.get(&s)?;
        let args = json!({ "target": store.label });
        ctx.audited_checked(
            "vault.unseal",
            args,
            status_summary,
            async {
                client::check_target(&ctx, &store.label, "unseal", VaultAccess::Unseal)?;
                Ok(())
            },
            |()| async {
                let keys = client::unseal_keys(&ctx, &store.label)?;
                Ok(unseal::unseal(store, &keys, client::limit(&ctx)).await?)
            },
        )
        .await
    }
}

/// What the journal says about a seal status (all of it: no secret in it).
fn status_summary(s: &SealStatus) -> serde_json::Value {
    json!({ "initialized": s.initialized, "sealed": s.sealed, "progress": s.progress, "threshold": s.threshold })
}

/// `write` (exactly these fields) or `patch` (these fields changed, the
/// others kept): the grant check, the call, and a journal entry naming the
/// fields and where each value came from, never the values.
async fn put(
    state: &mut RunState,
    s: Resource<Store>,
    path: String,
    fields: Vec<(String, FieldValue)>,
    patch: bool,
) -> Answer<u64> {
    let ctx = state.ctx.clone();
    let what = if patch { "patch" } else { "write" };
    let store = state.table.get(&s)?;
    let args = json!({ "target": store.label, "path": path, "fields": describe_fields(&state.table, &fields)? });
    let carries_secret = fields.iter().any(|(_, v)| matches!(v, FieldValue::Secret(_)));
    // Read before the call: the table stays on this side of every await.
    let values = field_values(&state.table, &fields)?;
    let summary = |version: &u64| json!({ "version": version });
    ctx.audited_checked(
        &format!("vault.{what}"),
        args,
        summary,
        async { client::check_path(&ctx, &store.label, what, &path, VaultAccess::Write) },
        |()| async {
            let values = values?;
            let written = kv::put(store, &path, values, patch, client::limit(&ctx)).await;
            Ok(written.map_err(|e| if carries_secret { withheld(e) } else { e })?)
        },
    )
    .await
}
