//! Ed25519 keys: making a key pair (`drhost keygen`), loading the secret key
//! that signs, and the two forms of a public key trust.toml accepts (the
//! `ed25519:<hex>` line `drhost trust-entry` prints, or PEM). It never signs
//! (that is [`super::signature`]) and never decides whether a key is
//! trusted (that is [`super::trust_file`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::TrustError;

/// A secret signing key with the key id it signs as.
pub struct SigningKey {
    /// The secret half; [`super::signature::sign`] signs with it.
    pub(super) key: wasmsign2::SecretKey,
    /// The key id stored with each signature.
    pub key_id: String,
}

impl SigningKey {
    /// Reads a PEM secret key written by `drhost keygen` (or any Ed25519
    /// PKCS#8 PEM). The key id defaults to the file's stem.
    pub fn load(path: &Path, key_id: Option<String>) -> Result<SigningKey, TrustError> {
        let fail = |reason: String| TrustError::Key {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let key = wasmsign2::SecretKey::from_pem(&text)
            .map_err(|e| fail(format!("not an Ed25519 secret key in PEM ({e})")))?;
        let key_id = match key_id {
            Some(id) => id,
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| fail("pass --key-id".into()))?,
        };
        Ok(SigningKey { key, key_id })
    }

    /// The matching public key.
    pub fn public_key(&self) -> ed25519_compact::PublicKey {
        self.key.sk.public_key()
    }

    /// An Ed25519 signature of `message` (a journal's head; plugins are
    /// signed through [`super::signature::sign`]).
    pub fn sign_message(&self, message: &[u8]) -> ed25519_compact::Signature {
        self.key.sk.sign(message, Some(ed25519_compact::Noise::generate()))
    }
}

/// A new key pair, as PEM texts `(secret, public)`.
pub fn generate_key_pair() -> (String, String) {
    let pair = wasmsign2::KeyPair::generate();
    (pair.sk.to_pem(), pair.pk.to_pem())
}

/// What `drhost keygen` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedKey {
    /// `DIR/ID.key`, mode 0600.
    pub secret: PathBuf,
    /// `DIR/ID.pub`.
    pub public: PathBuf,
    /// The `[[key]]` entry to paste into trust.toml.
    pub trust_entry: String,
}

/// Writes a new key pair as `dir/id.key` (PEM, mode 0600, never overwritten)
/// and `dir/id.pub` (PEM).
pub fn keygen(dir: &Path, id: &str) -> Result<GeneratedKey, TrustError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let secret = dir.join(format!("{id}.key"));
    let public = dir.join(format!("{id}.pub"));
    if id.is_empty() || id.contains('/') {
        return Err(TrustError::Key {
            path: secret,
            reason: "the key id must be a non-empty file name".into(),
        });
    }
    let io = |p: &Path, e: std::io::Error| TrustError::Io {
        path: p.to_owned(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let (secret_pem, public_pem) = generate_key_pair();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&secret)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                TrustError::Key {
                    path: secret.clone(),
                    reason: "already exists; keygen never overwrites a key (pick another --id)".into(),
                }
            } else {
                io(&secret, e)
            }
        })?;
    file.write_all(secret_pem.as_bytes()).map_err(|e| io(&secret, e))?;
    std::fs::write(&public, &public_pem).map_err(|e| io(&public, e))?;
    let key = parse_public_key(&public_pem).map_err(|reason| TrustError::Key {
        path: public.clone(),
        reason,
    })?;
    let trust_entry = format!(
        "[[key]]\nid = \"{id}\"\npublic_key = \"{}\"\nscope = [\"*\"]\n",
        public_key_text(&key)
    );
    Ok(GeneratedKey {
        secret,
        public,
        trust_entry,
    })
}

/// The `[[key]]` entry for the public key in `path` (PEM or `ed25519:<hex>`).
pub fn trust_entry(path: &Path, id: &str, scope: &[String]) -> Result<String, TrustError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrustError::Key {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let key = parse_public_key(&text).map_err(|reason| TrustError::Key {
        path: path.to_owned(),
        reason,
    })?;
    let scope = scope.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    Ok(format!(
        "[[key]]\nid = \"{id}\"\npublic_key = \"{}\"\nscope = [{scope}]\n",
        public_key_text(&key)
    ))
}

/// The form of a public key in `trust.toml`: `ed25519:<hex>`.
pub fn public_key_text(key: &ed25519_compact::PublicKey) -> String {
    format!("ed25519:{}", hex::encode(key.as_ref()))
}

/// Parses `ed25519:<hex>` or a PEM public key.
pub fn parse_public_key(text: &str) -> Result<ed25519_compact::PublicKey, String> {
    let text = text.trim();
    if let Some(hex_text) = text.strip_prefix("ed25519:") {
        let bytes = hex::decode(hex_text).map_err(|e| format!("not hex ({e})"))?;
        return ed25519_compact::PublicKey::from_slice(&bytes).map_err(|e| format!("not an Ed25519 public key ({e})"));
    }
    if text.starts_with("-----BEGIN") {
        return wasmsign2::PublicKey::from_pem(text)
            .map(|k| k.pk)
            .map_err(|e| format!("not an Ed25519 public key in PEM ({e})"));
    }
    Err("write it as \"ed25519:<64 hex digits>\" (the line `drhost keygen` prints) or as a PEM block".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_parse_in_both_forms() {
        let (_, pem) = generate_key_pair();
        let key = parse_public_key(&pem).unwrap();
        assert_eq!(parse_public_key(&public_key_text(&key)).unwrap(), key);
        assert!(parse_public_key("ed25519:zz").is_err());
        assert!(parse_public_key("AAAA").is_err());
    }
}
