//! Plugins as OCI artifacts: `drhost push` and `drhost pull`, in the CNCF
//! Wasm OCI layout (config `application/vnd.wasm.config.v0+json`, one
//! `application/wasm` layer), over the registry distribution API.
//!
//! Signatures travel inside the component, so a registry without the OCI 1.1
//! referrers API (Debian's distribution 2.8) is enough. Registries on
//! loopback are spoken to over plain HTTP, every other one over HTTPS.
//! `pull` checks the blob digest, the signature and trust, and the lock
//! *before* writing anything; this module never runs a plugin.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::caps::kit::text::root_cause;
use crate::error::{Error, EXIT_REFUSED, EXIT_USAGE};
use crate::plugin::PluginFile;
use crate::trust::lock::{Lock, LockCheck, LockEntry};
use crate::trust::{self, signature, TrustError, TrustPaths};

/// Media type of the artifact's config blob.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// Media type of the component layer.
pub const WASM_MEDIA_TYPE: &str = "application/wasm";
/// Media type of the manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

const TIMEOUT: Duration = Duration::from_secs(120);
/// Largest manifest `pull` reads (real ones are under 1 KiB).
pub const MANIFEST_CAP: u64 = 64 << 10;
/// Largest plugin `pull` reads (a Python plugin is about 18 MB).
pub const PLUGIN_CAP: u64 = 256 << 20;

/// Talking to a registry failed, or what it served is not what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference is not `oci://HOST[:PORT]/REPO(:TAG|@sha256:…)`.
    #[error("`{0}` is not an OCI reference: write oci://HOST[:PORT]/REPO:TAG or oci://HOST[:PORT]/REPO@sha256:DIGEST")]
    BadReference(String),
    /// The registry could not be reached or answered with an error.
    #[error("registry {registry}: {reason}")]
    Unavailable {
        /// `host:port`.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// The artifact is not a drhost plugin in the CNCF Wasm layout.
    #[error("{reference} is not a Wasm plugin artifact: {reason}")]
    NotAPlugin {
        /// The reference.
        reference: String,
        /// What is missing.
        reason: String,
    },
    /// A manifest or blob does not hash to its digest.
    #[error("{reference} was tampered with in the registry: {what} has digest {actual}, not {expected}; nothing was written")]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// Which part.
        what: String,
        /// What was asked for.
        expected: String,
        /// What was served.
        actual: String,
    },
}

impl RegistryError {
    /// 3 for a tampered artifact, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RegistryError::DigestMismatch { .. } => EXIT_REFUSED,
            _ => EXIT_USAGE,
        }
    }
}

/// `oci://HOST[:PORT]/REPO(:TAG|@sha256:…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef {
    /// `host[:port]`.
    pub registry: String,
    /// Repository, e.g. `drhost/hello`.
    pub repository: String,
    /// Tag or `sha256:…` digest.
    pub reference: String,
}

impl OciRef {
    /// Parses an `oci://` reference; the tag defaults to `latest`.
    pub fn parse(text: &str) -> Result<OciRef, RegistryError> {
        let bad = || RegistryError::BadReference(text.to_string());
        let rest = text.strip_prefix("oci://").ok_or_else(bad)?;
        let (registry, path) = rest.split_once('/').ok_or_else(bad)?;
        let (repository, reference) = if let Some((repo, digest)) = path.split_once('@') {
            let hex_part = digest.strip_prefix("sha256:").ok_or_else(bad)?;
            if hex_part.len() != 64 || !hex_part.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            (repo, digest.to_string())
        } else {
            match path.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => (repo, tag.to_string()),
                _ => (path, "latest".to_string()),
            }
        };
        // Names as the OCI distribution spec writes them, so no part of a
        // reference can change the URL it becomes (`..`, `?`, `#`, `@`).
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|c| {
                c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                    && c.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            });
        let registry_ok = registry
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ".-:[]".contains(ch));
        let tag_ok = reference.starts_with("sha256:")
            || (reference.len() <= 128
                && reference.starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
                && reference
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch)));
        if registry.is_empty() || !registry_ok || !repo_ok || !tag_ok {
            return Err(bad());
        }
        Ok(OciRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    pub(crate) fn base(&self) -> String {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, _)| h);
        let scheme = if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}/v2/{}", self.registry, self.repository)
    }

    /// The reference pinned to a manifest digest.
    pub fn pinned(&self, manifest_digest: &str) -> String {
        format!("oci://{}/{}@{manifest_digest}", self.registry, self.repository)
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.starts_with("sha256:") {
            "@"
        } else {
            ":"
        };
        write!(f, "oci://{}/{}{sep}{}", self.registry, self.repository, self.reference)
    }
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

struct Registry {
    client: reqwest::Client,
    at: OciRef,
}

impl Registry {
    fn new(at: &OciRef) -> Result<Registry, RegistryError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| RegistryError::Unavailable {
                registry: at.registry.clone(),
                reason: e.to_string(),
            })?;
        Ok(Registry { client, at: at.clone() })
    }

    fn fail(&self, reason: impl std::fmt::Display) -> RegistryError {
        RegistryError::Unavailable {
            registry: self.at.registry.clone(),
            reason: reason.to_string(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<reqwest::Response, RegistryError> {
        let sent = request.send().await;
        let response = sent.map_err(|e| self.fail(format!("{what}: {}", root_cause(&e))))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let body = body.trim();
        Err(self.fail(format!(
            "{what}: HTTP {status}{}",
            if body.is_empty() {
                String::new()
            } else {
                format!(": {}", body.chars().take(300).collect::<String>())
            }
        )))
    }

    async fn upload_blob(&self, bytes: Vec<u8>, digest: &str) -> Result<(), RegistryError> {
        let base = self.at.base();
        let head = self.client.head(format!("{base}/blobs/{digest}")).send().await;
        if head.as_ref().is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        let started = self
            .send(self.client.post(format!("{base}/blobs/uploads/")), "starting an upload")
            .await?;
        let location = started
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.fail("the upload has no Location header"))?
            .to_string();
        let url = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            let origin = base.split("/v2/").next().unwrap_or_default();
            format!("{origin}{location}")
        };
        let separator = if url.contains('?') { '&' } else { '?' };
        let request = self
            .client
            .put(format!("{url}{separator}digest={digest}"))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        self.send(request, &format!("uploading blob {digest}")).await?;
        Ok(())
    }

    /// GETs `path`, reading at most `cap` bytes: a registry that sends more
    /// (or announces more) is refused before the rest is read.
    async fn get(&self, path: &str, accept: &str, what: &str, cap: u64) -> Result<Vec<u8>, RegistryError> {
        use futures_util::StreamExt;
        let request = self
            .client
            .get(format!("{}/{path}", self.at.base()))
            .header(reqwest::header::ACCEPT, accept);
        let response = self.send(request, what).await?;
        let too_big = || {
            self.fail(format!(
                "{what}: the registry sent more than {cap} bytes, the most drhost accepts"
            ))
        };
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.fail(format!("{what}: {e}")))?;
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The digest of the one `application/wasm` layer of the manifest a
/// registry sent for `shown` (a reference, for messages), when the
/// manifest is a plugin's.
pub fn plugin_layer(manifest_bytes: &[u8], shown: &str) -> Result<String, RegistryError> {
    let not_plugin = |reason: &str| RegistryError::NotAPlugin {
        reference: shown.to_string(),
        reason: reason.to_string(),
    };
    let manifest: Value =
        serde_json::from_slice(manifest_bytes).map_err(|e| not_plugin(&format!("its manifest is not JSON ({e})")))?;
    if manifest["config"]["mediaType"] != CONFIG_MEDIA_TYPE {
        return Err(not_plugin(&format!(
            "its config media type is {}, not {CONFIG_MEDIA_TYPE}",
            manifest["config"]["mediaType"]
        )));
    }
    let layers: Vec<&Value> = manifest["layers"]
        .as_array()
        .map(|l| l.iter().filter(|l| l["mediaType"] == WASM_MEDIA_TYPE).collect())
        .unwrap_or_default();
    let [layer] = layers.as_slice() else {
        return Err(not_plugin(&format!(
            "it has {} `{WASM_MEDIA_TYPE}` layers, not one",
            layers.len()
        )));
    };
    // The digest goes into the blob's URL: only what a blob's digest can
    // be (what `sha256_digest` writes), so the registry's text cannot
    // reshape the URL (`sha256:../..`, `?`, `#`) or send an unmatchable one.
    layer["digest"]
        .as_str()
        .filter(|d| is_sha256_digest(d))
        .map(str::to_string)
        .ok_or_else(|| not_plugin("its layer has no sha256 digest (`sha256:` and 64 lowercase hex digits)"))
}

/// `sha256:` and 64 lowercase hex digits.
fn is_sha256_digest(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// What `drhost push` did.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The reference pushed to.
    pub reference: String,
    /// The same, pinned by manifest digest.
    pub pinned: String,
    /// sha256 of the manifest.
    pub manifest_digest: String,
    /// sha256 of the plugin file (the layer).
    pub digest: String,
    /// Plugin id from its signed identity.
    pub id: Option<String>,
    /// Plugin version from its signed identity.
    pub version: Option<String>,
}

/// Pushes a signed plugin as a CNCF Wasm OCI artifact.
pub async fn push(plugin: &Path, reference: &str) -> Result<PushReport, Error> {
    let at = OciRef::parse(reference)?;
    let file = PluginFile::read(plugin)?;
    file.check_is_component()?;
    let signed = signature::read(plugin, &file.bytes)?;
    if signed.signatures.is_empty() || signed.detached {
        return Err(TrustError::Unsigned {
            path: plugin.to_owned(),
        }
        .into());
    }
    let layer_digest = format!("sha256:{}", file.digest);
    let config = json!({
        "created": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
    });
    let config_bytes = serde_json::to_vec(&config).map_err(|e| Error::Internal(e.to_string()))?;
    let config_digest = sha256_digest(&config_bytes);
    let mut annotations = serde_json::Map::new();
    if let Some(identity) = &signed.identity {
        annotations.insert(
            "org.opencontainers.image.title".into(),
            format!("{}.wasm", identity.id).into(),
        );
        annotations.insert(
            "org.opencontainers.image.version".into(),
            identity.version.clone().into(),
        );
        annotations.insert("dev.drhost.plugin.id".into(), identity.id.clone().into());
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config_bytes.len() },
        "layers": [{ "mediaType": WASM_MEDIA_TYPE, "digest": layer_digest, "size": file.bytes.len() }],
        "annotations": annotations,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    let manifest_digest = sha256_digest(&manifest_bytes);

    let registry = Registry::new(&at)?;
    registry.upload_blob(config_bytes, &config_digest).await?;
    registry.upload_blob(file.bytes.clone(), &layer_digest).await?;
    let request = registry
        .client
        .put(format!("{}/manifests/{}", at.base(), at.reference))
        .header(reqwest::header::CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
        .body(manifest_bytes);
    registry.send(request, "storing the manifest").await?;
    Ok(PushReport {
        reference: at.to_string(),
        pinned: at.pinned(&manifest_digest),
        manifest_digest,
        digest: layer_digest,
        id: signed.identity.as_ref().map(|i| i.id.clone()),
        version: signed.identity.as_ref().map(|i| i.version.clone()),
    })
}

/// What `drhost pull` did.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    /// The file written, `DIR/<id>.wasm`.
    pub path: PathBuf,
    /// The reference pinned by manifest digest (recorded as the lock's source).
    pub source: String,
    /// The verdict on the plugin.
    pub verdict: trust::Verdict,
    /// The lock file updated.
    pub lock: PathBuf,
}

/// Pulls a plugin, verifies blob digest, signature, trust and the lock's
/// version pin, then writes `out_dir/<id>.wasm` and pins it in the lock.
pub async fn pull(
    reference: &str,
    out_dir: &Path,
    paths: &TrustPaths,
    allow_downgrade: bool,
) -> Result<PullReport, Error> {
    let at = OciRef::parse(reference)?;
    let trust_file = paths.load_trust()?;
    let lock_path = paths.lock_or_default()?;
    let mut lock = Lock::load(&lock_path)?;

    let registry = Registry::new(&at)?;
    let shown = at.to_string();
    let manifest_bytes = registry
        .get(
            &format!("manifests/{}", at.reference),
            MANIFEST_MEDIA_TYPE,
            "fetching the manifest",
            MANIFEST_CAP,
        )
        .await?;
    let manifest_digest = sha256_digest(&manifest_bytes);
    if at.reference.starts_with("sha256:") && manifest_digest != at.reference {
        return Err(RegistryError::DigestMismatch {
            reference: shown,
            what: "the manifest".into(),
            expected: at.reference.clone(),
            actual: manifest_digest,
        }
        .into());
    }
    let not_plugin = |reason: &str| RegistryError::NotAPlugin {
        reference: shown.clone(),
        reason: reason.to_string(),
    };
    let layer_digest = plugin_layer(&manifest_bytes, &shown)?;
    let bytes = registry
        .get(
            &format!("blobs/{layer_digest}"),
            WASM_MEDIA_TYPE,
            "fetching the plugin",
            PLUGIN_CAP,
        )
        .await?;
    let actual = sha256_digest(&bytes);
    if actual != layer_digest {
        return Err(RegistryError::DigestMismatch {
            reference: shown,
            what: "the plugin layer".into(),
            expected: layer_digest,
            actual,
        }
        .into());
    }

    let file = PluginFile::from_bytes(PathBuf::from(&shown), bytes);
    file.check_is_component()?;
    // The pin is being updated: judge the signature here, the version below.
    let (verdict, identity) = trust::assess_for_pinning(&file, &trust_file, &lock_path, allow_downgrade)?;
    if let LockCheck::Downgrade(pin) = lock.check(&identity.id, &identity.version, &verdict.digest) {
        if !allow_downgrade {
            return Err(TrustError::Downgrade {
                path: file.path.clone(),
                id: identity.id.clone(),
                version: identity.version.clone(),
                pinned_version: pin.version,
                lock: lock_path.display().to_string(),
            }
            .into());
        }
    }

    std::fs::create_dir_all(out_dir).map_err(|e| TrustError::Io {
        path: out_dir.to_owned(),
        reason: e.to_string(),
    })?;
    // The signed identity's id was checked when it was read; checked again
    // here because this is where it becomes a path.
    if !crate::plugin::is_valid_id(&identity.id) {
        return Err(not_plugin("its signed id is not a plugin id").into());
    }
    let path = out_dir.join(format!("{}.wasm", identity.id));
    signature::write_atomically(&path, &file.bytes)?;
    let source = at.pinned(&manifest_digest);
    lock.pin(
        &identity.id,
        LockEntry {
            version: identity.version.clone(),
            digest: verdict.digest.clone(),
            source: source.clone(),
            signers: verdict.signers.clone(),
        },
    );
    lock.save(&lock_path)?;
    Ok(PullReport {
        path,
        source,
        verdict,
        lock: lock_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = OciRef::parse("oci://127.0.0.1:5000/drhost/hello:0.1.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "drhost/hello", "0.1.0")
        );
        assert_eq!(r.base(), "http://127.0.0.1:5000/v2/drhost/hello");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = OciRef::parse(&format!("oci://reg.example/hello@{d}")).unwrap();
        assert_eq!(r.reference, d);
        assert!(r.base().starts_with("https://"));
        assert_eq!(OciRef::parse("oci://h/x").unwrap().reference, "latest");
        for bad in ["http://h/x:1", "oci://h", "oci://h/X:1", "oci://h/x@sha256:12"] {
            assert!(OciRef::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod manifest_tests {
    use super::*;

    fn manifest(digest: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "config": { "mediaType": CONFIG_MEDIA_TYPE },
            "layers": [{ "mediaType": WASM_MEDIA_TYPE, "digest": digest }],
        }))
        .unwrap()
    }

    /// Found by fuzz/fuzz_targets/oci.rs: any `sha256:…` text was taken as
    /// the layer digest and put into the blob URL.
    #[test]
    fn a_layer_digest_is_a_sha256_digest_or_refused() {
        let good = format!("sha256:{}", "0a".repeat(32));
        assert_eq!(plugin_layer(&manifest(&good), "r").unwrap(), good);
        for bad in [
            "sha256:".to_string(),
            "sha256:../../other/blobs/x".to_string(),
            format!("sha256:{}?x=1", "a".repeat(64)),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            format!("sha512:{}", "a".repeat(64)),
        ] {
            let err = plugin_layer(&manifest(&bad), "r").unwrap_err().to_string();
            assert!(err.contains("no sha256 digest"), "{bad}: {err}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::OciRef;
    use proptest::prelude::*;

    #[test]
    fn a_reference_cannot_reshape_its_url() {
        for text in [
            "oci://127.0.0.1:5000/../v2/x:1",
            "oci://127.0.0.1:5000/drhost/./hello:1",
            "oci://user@evil.example/drhost/hello:1",
            "oci://127.0.0.1:5000/drhost/hello:1?x=y",
            "oci://127.0.0.1:5000/drhost/hello:1#frag",
            "oci://127.0.0.1:5000/drhost/hello:.hidden",
        ] {
            assert!(OciRef::parse(text).is_err(), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A reference that parses names a registry and a repository
        /// without a path that climbs, whatever the text.
        #[test]
        fn a_parsed_reference_stays_plain(
            text in prop_oneof![any::<String>(), "oci://[a-z0-9.:]{1,12}/[a-z./-]{1,16}(:[a-z0-9.]{1,6}|@sha256:[0-9a-f]{64})?"]
        ) {
            if let Ok(r) = OciRef::parse(&text) {
                prop_assert!(!r.registry.is_empty() && !r.repository.is_empty());
                prop_assert!(!r.repository.split('/').any(|s| matches!(s, "" | "." | "..")), "{}", r.repository);
                prop_assert!(r.registry.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)));
                prop_assert!(!r.reference.contains(['/', '?', '#', '@']) || r.reference.starts_with("sha256:"));
            }
        }
    }
}
