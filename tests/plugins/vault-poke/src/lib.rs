//! `vault-poke`: one Vault operation chosen by `op`, on target `target`,
//! reported as facts (field names and origins, versions, keys — a value only
//! for `reveal`), or the typed error as `error-kind` / `error` facts — so
//! tests can check what the capability does and what a grant allows.
//!
//! `on-error=fail` turns an error into the run's failure instead (exit 1).

use drhost_sdk::blob::Blob;
use drhost_sdk::prelude::*;
use drhost_sdk::secret::{ComposePart, Secret};
use drhost_sdk::vault::{FieldValue, Store};

struct VaultPoke;

impl Plugin for VaultPoke {
    fn describe() -> Manifest {
        manifest(
            "vault-poke",
            env!("CARGO_PKG_VERSION"),
            "Performs the Vault operation it is told to (tests only)",
        )
        .param("target", "the Vault target label", Some("main"))
        .param(
            "op",
            "read | reveal | reveal-composed | write-composed | write | patch | list | metadata | snapshot-save | snapshot",
            Some("read"),
        )
        .param("path", "the KV v2 path, mount first", Some("secret/toolboxai/supabase"))
        .param("field", "the field to reveal or compose", Some("database_url"))
        .param("to", "write-composed: the path to write the composed secret to", Some(""))
        .param("prefix", "write-composed: text before the url-encoded secret", Some(""))
        .param("suffix", "write-composed: text after the url-encoded secret", Some(""))
        .param("fields", "write, patch, snapshot: text fields as k=v,k2=v2", Some(""))
        .param("force", "snapshot: restore with snapshot-force", Some("false"))
        .param(
            "remake",
            "snapshot: restore a copy made with blob.from-bytes instead of the saved blob",
            Some("false"),
        )
        .param("on-error", "report (facts, exit 0) or fail (exit 1)", Some("report"))
        .need("vault", "main", Access::Read, "reads the secrets it is told to")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        match poke(&params)? {
            Ok(outcome) => Ok(outcome),
            Err(e) if params.get("on-error")? == "fail" => Err(e.into()),
            Err(e) => Ok(outcome("refused")
                .fact("error-kind", e.kind())
                .fact("error", e.message())),
        }
    }
}

/// The operation's outcome, or the capability's typed error.
fn poke(params: &Params) -> Result<Result<Outcome, Error>, Failure> {
    let store = match Store::open(params.get("target")?) {
        Ok(store) => store,
        Err(e) => return Ok(Err(e)),
    };
    let path = params.get("path")?;
    let field = params.get("field")?;
    let fields = text_fields(params.get("fields")?);
    Ok(match params.get("op")? {
        "read" => read(&store, path),
        "reveal" => field_of(&store, path, field).and_then(|s| Ok(outcome("revealed").fact("value", s.reveal()?))),
        "reveal-composed" => field_of(&store, path, field)
            .and_then(|s| Secret::compose(&[ComposePart::Secret(&s)]))
            .and_then(|c| Ok(outcome("revealed").fact("value", c.reveal()?))),
        "write-composed" => write_composed(&store, params, path, field)?,
        "write" => store
            .write(path, &fields)
            .map(|v| outcome("written").fact("version", v)),
        "patch" => store
            .patch(path, &fields)
            .map(|v| outcome("patched").fact("version", v)),
        "list" => store
            .list(path)
            .map(|keys| outcome("listed").fact("keys", keys.join(","))),
        "metadata" => metadata(&store, path),
        "snapshot-save" => store.snapshot_save().map(|b| saved(outcome("saved"), &b)),
        "snapshot" => snapshot(&store, path, &fields, params.parse("force")?, params.parse("remake")?),
        other => return Err(fail(format!("unknown op `{other}`"))),
    })
}

/// `k=v,k2=v2` as text field values.
fn text_fields(text: &str) -> Vec<(String, FieldValue<'static>)> {
    text.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), FieldValue::Text(v.to_string())))
        .collect()
}

/// Field names and origins, never values.
fn read(store: &Store, path: &str) -> Result<Outcome, Error> {
    let fields = store.read(path)?;
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    let origins: Vec<String> = fields.iter().map(|(_, s)| s.origin()).collect();
    Ok(outcome("read")
        .fact("fields", names.join(","))
        .fact("origins", origins.join(",")))
}

/// The handle of one field of the secret at `path`.
fn field_of(store: &Store, path: &str, field: &str) -> Result<Secret, Error> {
    store
        .read(path)?
        .into_iter()
        .find(|(name, _)| name == field)
        .map(|(_, secret)| secret)
        .ok_or_else(|| Error::NotFound(format!("`{path}` has no field `{field}`")))
}

/// Reads `path#field`, composes `prefix + url-encoded(secret) + suffix`
/// and writes it to `to` as `url`, with the raw secret as `password` and a
/// text `note` — the plugin never sees either value.
fn write_composed(store: &Store, params: &Params, path: &str, field: &str) -> Result<Result<Outcome, Error>, Failure> {
    let (prefix, suffix, to) = (params.get("prefix")?, params.get("suffix")?, params.get("to")?);
    let written = field_of(store, path, field).and_then(|secret| {
        let composed = Secret::compose(&[
            ComposePart::Text(prefix.to_string()),
            ComposePart::UrlEncoded(&secret),
            ComposePart::Text(suffix.to_string()),
        ])?;
        let fields = [
            ("url".to_string(), FieldValue::Secret(&composed)),
            ("password".to_string(), FieldValue::Secret(&secret)),
            (
                "note".to_string(),
                FieldValue::Text("written by vault-poke".to_string()),
            ),
        ];
        let version = store.write(to, &fields)?;
        Ok(outcome("composed and written")
            .fact("origin", composed.origin())
            .fact("version", version))
    });
    Ok(written)
}

fn metadata(store: &Store, path: &str) -> Result<Outcome, Error> {
    let m = store.metadata(path)?;
    let versions: Vec<String> = m.versions.iter().map(|v| v.version.to_string()).collect();
    Ok(outcome("metadata")
        .fact("current-version", m.current_version)
        .fact("oldest-version", m.oldest_version)
        .fact("versions", versions.join(","))
        .fact("created-time", m.created_time))
}

/// A copy of `blob` that the plugin makes itself, through its own memory
/// and `blob.from-bytes`.
fn remade(blob: &Blob) -> Result<Blob, Error> {
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < blob.size() {
        let chunk = blob.read(bytes.len() as u64, 1 << 20)?;
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    Blob::from_bytes(&bytes)
}

fn saved(outcome: Outcome, blob: &Blob) -> Outcome {
    outcome
        .fact("snapshot-size", blob.size())
        .fact("snapshot-sha256", blob.sha256())
}

/// Saves a raft snapshot, writes `fields` to `path` (when given), then
/// restores the snapshot: the write is undone. With `remake`, what is
/// restored is a copy the plugin makes itself (`blob.from-bytes`).
fn snapshot(
    store: &Store,
    path: &str,
    fields: &[(String, FieldValue)],
    force: bool,
    remake: bool,
) -> Result<Outcome, Error> {
    let blob = store.snapshot_save()?;
    let mut out = saved(outcome("saved and restored"), &blob);
    if !fields.is_empty() {
        out = out.fact("written-version", store.write(path, fields)?);
    }
    let blob = if remake { remade(&blob)? } else { blob };
    store.snapshot_restore(&blob, force)?;
    Ok(out.fact("restored", "true"))
}

export_plugin!(VaultPoke);
