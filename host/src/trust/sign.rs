//! Signing a plugin: the signature (and, for a plugin without one, its
//! drhost identity section) is made over the bytes read once, and written
//! back beside or into the plugin atomically. What was read and what was
//! written are both reported by digest.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmsign2::{CustomSection, Module, Section};

use super::signature::{
    detached_path, is_signature_header, parse_module, read, Identity, SignatureEntry, SigningKey, IDENTITY_SECTION,
};
use super::TrustError;

/// What [`sign`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SignOutcome {
    /// The key id that signed.
    pub key_id: String,
    /// `sha256:HEX` of the plugin as it was read: what was described and signed.
    pub read_digest: String,
    /// `sha256:HEX` of the plugin as it is now (after the signature or
    /// identity was written into it; the same when nothing changed it).
    pub plugin_digest: String,
    /// Whether the identity section was written now.
    pub identity_written: bool,
    /// False when the plugin already carried this key's signature.
    pub signed: bool,
    /// Where the signature went (the plugin, or its `.sig` file).
    pub written_to: PathBuf,
    /// Every key id that has signed the plugin now.
    pub key_ids: Vec<String>,
}

/// Adds `key`'s signature to the plugin at `path`, keeping existing ones:
/// reads it once, then [`sign_bytes`].
pub fn sign(
    path: &Path,
    key: &SigningKey,
    identity: Option<&Identity>,
    detached: bool,
) -> Result<SignOutcome, TrustError> {
    let bytes = std::fs::read(path).map_err(|e| TrustError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    sign_bytes(path, &bytes, key, identity, detached)
}

/// Adds `key`'s signature to `bytes`, the plugin as read from `path`,
/// keeping existing ones, and writes the result to `path` (replacing
/// whatever is there now). `identity` (from `describe` of these bytes) is
/// written into the plugin first when it has none; an existing identity
/// must agree with it. `detached` writes the signature to `<plugin>.sig`
/// instead of into the plugin.
pub fn sign_bytes(
    path: &Path,
    bytes: &[u8],
    key: &SigningKey,
    identity: Option<&Identity>,
    detached: bool,
) -> Result<SignOutcome, TrustError> {
    let io = |p: &Path, e: std::io::Error| TrustError::Io {
        path: p.to_owned(),
        reason: e.to_string(),
    };
    let read_digest = digest_of(bytes);
    let before = read(path, bytes)?;
    let mut module = parse_module(path, bytes)?;
    let mut identity_written = false;
    match (&before.identity, identity) {
        (Some(existing), Some(described)) => {
            if let Some(diff) = existing.difference(described) {
                return Err(TrustError::Sign {
                    path: path.to_owned(),
                    reason: format!("its identity section disagrees with describe: {diff}"),
                });
            }
        }
        (None, Some(described)) => {
            if !before.signatures.is_empty() {
                return Err(TrustError::Sign {
                    path: path.to_owned(),
                    reason: "it is already signed without a drhost identity; sign the freshly built plugin instead"
                        .into(),
                });
            }
            let payload = serde_json::to_vec(described).map_err(|e| TrustError::Sign {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            module.sections.push(Section::Custom(CustomSection::new(
                IDENTITY_SECTION.to_string(),
                payload,
            )));
            identity_written = true;
        }
        _ => {}
    }
    let public = key.public_key();
    let mut key_ids: Vec<String> = before.signatures.iter().map(SignatureEntry::shown_id).collect();
    let already = !identity_written
        && before
            .signatures
            .iter()
            .any(|s| s.made_by(&public) && s.covers(&before.content_hash));
    let sig_path = detached_path(path);
    if already {
        let written_to = if before.detached { sig_path } else { path.to_owned() };
        return Ok(SignOutcome {
            key_id: key.key_id.clone(),
            plugin_digest: read_digest.clone(),
            read_digest,
            identity_written,
            signed: false,
            written_to,
            key_ids,
        });
    }
    if detached && before.detached {
        let existing = std::fs::read(&sig_path).map_err(|e| io(&sig_path, e))?;
        module = module.attach_signature(&existing).map_err(|e| TrustError::Sign {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    let key_id_bytes = key.key_id.as_bytes().to_vec();
    let (signed, signature) = key
        .key
        .sign_multi(module, Some(&key_id_bytes), detached, false)
        .map_err(|e| TrustError::Sign {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    key_ids.push(key.key_id.clone());
    let mut body = Vec::new();
    let write_module = |module: &Module, body: &mut Vec<u8>| -> Result<(), TrustError> {
        module.serialize(body).map_err(|e| TrustError::Sign {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    if detached {
        // The module itself changes only when its identity was just added.
        let mut plain = signed;
        if plain.sections.first().is_some_and(is_signature_header) {
            plain.sections.remove(0);
        }
        let plugin_digest = if identity_written {
            write_module(&plain, &mut body)?;
            write_atomically(path, &body)?;
            digest_of(&body)
        } else {
            read_digest.clone()
        };
        write_atomically(&sig_path, &signature)?;
        Ok(SignOutcome {
            key_id: key.key_id.clone(),
            read_digest,
            plugin_digest,
            identity_written,
            signed: true,
            written_to: sig_path,
            key_ids,
        })
    } else {
        write_module(&signed, &mut body)?;
        write_atomically(path, &body)?;
        Ok(SignOutcome {
            key_id: key.key_id.clone(),
            read_digest,
            plugin_digest: digest_of(&body),
            identity_written,
            signed: true,
            written_to: path.to_owned(),
            key_ids,
        })
    }
}

/// `sha256:HEX` of `bytes`.
fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrustError> {
    let io = |e: std::io::Error| TrustError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::trust::signature::generate_key_pair;

    /// The smallest component: header only, plus one custom section.
    fn component() -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        bytes.extend_from_slice(&[0, 4, 3, b'a', b'b', b'c']);
        bytes
    }

    fn key_file(dir: &Path, name: &str) -> PathBuf {
        let (secret, _) = generate_key_pair();
        let path = dir.join(format!("{name}.key"));
        std::fs::write(&path, secret).unwrap();
        path
    }

    #[test]
    fn sign_twice_verify_both_and_detect_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&plugin, component()).unwrap();
        let a = SigningKey::load(&key_file(dir.path(), "a"), None).unwrap();
        let b = SigningKey::load(&key_file(dir.path(), "b"), None).unwrap();
        let identity = Identity {
            id: "p".into(),
            version: "1.0.0".into(),
            contract: Some("0.1.0".into()),
            capabilities: vec![],
        };
        assert!(sign(&plugin, &a, Some(&identity), false).unwrap().identity_written);
        let again = sign(&plugin, &a, Some(&identity), false).unwrap();
        assert!(!again.signed, "the same key twice is a no-op");
        sign(&plugin, &b, Some(&identity), false).unwrap();

        let bytes = std::fs::read(&plugin).unwrap();
        let read_back = read(&plugin, &bytes).unwrap();
        assert_eq!(read_back.identity.as_ref(), Some(&identity));
        assert_eq!(read_back.signatures.len(), 2);
        for (entry, key) in read_back.signatures.iter().zip([&a, &b]) {
            assert!(entry.made_by(&key.public_key()) && entry.covers(&read_back.content_hash));
            assert_eq!(entry.key_id.as_deref(), Some(key.key_id.as_str()));
        }
        // wasmsign2's own verifier agrees.
        let set = wasmsign2::PublicKeySet::new(
            [&a, &b]
                .iter()
                .map(|k| wasmsign2::PublicKey {
                    pk: k.public_key(),
                    key_id: None,
                })
                .collect(),
        );
        assert_eq!(set.verify(&mut Cursor::new(&bytes), None).unwrap().len(), 2);

        // One byte of the identity changed: signatures still decode, content no longer matches.
        let mut tampered = bytes.clone();
        let at = tampered.windows(5).position(|w| w == b"1.0.0").unwrap();
        tampered[at] = b'2';
        let t = read(&plugin, &tampered).unwrap();
        assert!(t
            .signatures
            .iter()
            .all(|s| s.made_by(&a.public_key()) || s.made_by(&b.public_key())));
        assert!(t.signatures.iter().all(|s| !s.covers(&t.content_hash)));
    }

    #[test]
    fn detached_signatures_accumulate_in_the_sig_file() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&plugin, component()).unwrap();
        let a = SigningKey::load(&key_file(dir.path(), "a"), None).unwrap();
        let b = SigningKey::load(&key_file(dir.path(), "b"), None).unwrap();
        sign(&plugin, &a, None, true).unwrap();
        sign(&plugin, &b, None, true).unwrap();
        assert_eq!(std::fs::read(&plugin).unwrap(), component(), "the plugin is unchanged");
        let read_back = read(&plugin, &component()).unwrap();
        assert!(read_back.detached);
        assert_eq!(read_back.signatures.len(), 2);
        assert!(read_back.signatures.iter().all(|s| s.covers(&read_back.content_hash)));
    }
}
