//! Signatures inside a plugin, in the WebAssembly tool-conventions format
//! (the `signature` custom section of wasmsign2, which accepts components),
//! and drhost's signed identity section (`drhost-identity`).
//!
//! This module parses, signs and checks Ed25519 signatures against public
//! keys. It never decides whether a key is *trusted* (that is
//! [`super::trust_file`]) and never reads the lock file.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmsign2::{CustomSection, Module, Section, SectionLike};

use super::TrustError;
// The keys that make and check these signatures live in `keys`; they are
// also here, where callers found them first (`trust::signature::SigningKey`).
pub use super::keys::{
    generate_key_pair, keygen, parse_public_key, public_key_text, trust_entry, GeneratedKey, SigningKey,
};

/// Name of the custom section holding the plugin's identity.
pub const IDENTITY_SECTION: &str = "drhost-identity";
/// Name of the custom section holding signatures (tool-conventions format).
pub const SIGNATURE_SECTION: &str = "signature";
/// The detached signature of `plugin.wasm` lives in `plugin.wasm.sig`.
pub const DETACHED_SUFFIX: &str = "sig";

const DOMAIN: &[u8] = b"wasmsig";
const SPEC_VERSION: u8 = 0x01;
const CONTENT_TYPE_MODULE: u8 = 0x01;
const HASH_SHA256: u8 = 0x01;

/// What a plugin says it is, written before signing so the signature covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Plugin id, from `describe`.
    pub id: String,
    /// Plugin version, from `describe`.
    pub version: String,
    /// The `drhost:runbook` contract version it was built against.
    pub contract: Option<String>,
    /// What it asks for, sorted.
    pub capabilities: Vec<Need>,
}

/// One requested capability, as in `describe`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Need {
    /// Interface name, e.g. `shell`.
    pub capability: String,
    /// What it touches, e.g. `echo`.
    pub target: String,
    /// read, write or admin.
    pub access: String,
}

impl Identity {
    /// `id version`, for messages.
    pub fn label(&self) -> String {
        format!("`{}` {}", self.id, self.version)
    }

    /// What differs from `other`, in words; `None` when they agree.
    pub fn difference(&self, describe: &Identity) -> Option<String> {
        if self.id != describe.id || self.version != describe.version {
            return Some(format!(
                "describe says {} but the signed identity says {}",
                describe.label(),
                self.label()
            ));
        }
        if self.contract != describe.contract {
            return Some(format!(
                "it uses contract {} but the signed identity says {}",
                describe.contract.as_deref().unwrap_or("?"),
                self.contract.as_deref().unwrap_or("?")
            ));
        }
        if self.capabilities != describe.capabilities {
            let show = |n: &[Need]| {
                n.iter()
                    .map(|n| format!("{} {} {}", n.access, n.capability, n.target))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Some(format!(
                "describe asks for [{}] but the signed identity says [{}]",
                show(&describe.capabilities),
                show(&self.capabilities)
            ));
        }
        None
    }
}

/// One signature found in a plugin.
#[derive(Debug, Clone)]
pub struct SignatureEntry {
    /// The key id stored with the signature (advisory: the key decides).
    pub key_id: Option<String>,
    /// The section hashes it signs.
    pub hashes: Vec<Vec<u8>>,
    /// The raw Ed25519 signature.
    pub signature: Vec<u8>,
}

impl SignatureEntry {
    /// The key id for messages, `(no key id)` when absent.
    pub fn shown_id(&self) -> String {
        self.key_id.clone().unwrap_or_else(|| "(no key id)".to_string())
    }

    /// Whether `key` made this signature (over its hashes, not yet the content).
    pub fn made_by(&self, key: &ed25519_compact::PublicKey) -> bool {
        let Ok(signature) = ed25519_compact::Signature::from_slice(&self.signature) else {
            return false;
        };
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE_MODULE, HASH_SHA256]);
        for hash in &self.hashes {
            message.extend_from_slice(hash);
        }
        key.verify(&message, &signature).is_ok()
    }

    /// Whether it covers content hashing to `content_hash`.
    pub fn covers(&self, content_hash: &[u8]) -> bool {
        self.hashes.iter().any(|h| h == content_hash)
    }
}

/// A plugin's signatures, identity and content hash.
#[derive(Debug, Clone)]
pub struct SignedPlugin {
    /// Every signature, embedded or detached.
    pub signatures: Vec<SignatureEntry>,
    /// Whether they came from a detached `.sig` file.
    pub detached: bool,
    /// The signed identity, when present.
    pub identity: Option<Identity>,
    /// sha256 over every section except the signature section: what is signed.
    pub content_hash: Vec<u8>,
}

impl SignedPlugin {
    /// The content hash as `sha256:HEX`.
    pub fn content_digest(&self) -> String {
        format!("sha256:{}", hex::encode(&self.content_hash))
    }
}

/// Where the detached signature of `plugin` would be.
pub fn detached_path(plugin: &Path) -> PathBuf {
    let mut name = plugin.as_os_str().to_owned();
    name.push(".");
    name.push(DETACHED_SUFFIX);
    PathBuf::from(name)
}

fn parse_module(path: &Path, bytes: &[u8]) -> Result<Module, TrustError> {
    Module::deserialize(&mut Cursor::new(bytes)).map_err(|e| TrustError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn is_signature_header(section: &Section) -> bool {
    matches!(section, Section::Custom(c) if c.name() == SIGNATURE_SECTION)
}

fn content_hash(path: &Path, sections: &[Section]) -> Result<Vec<u8>, TrustError> {
    let mut hasher = Sha256::new();
    let mut buf = Vec::new();
    for section in sections.iter().filter(|s| !is_signature_header(s)) {
        buf.clear();
        section.serialize(&mut buf).map_err(|e| TrustError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        hasher.update(&buf);
    }
    Ok(hasher.finalize().to_vec())
}

fn read_identity(path: &Path, sections: &[Section]) -> Result<Option<Identity>, TrustError> {
    let mut found = sections.iter().filter_map(|s| match s {
        Section::Custom(c) if c.name() == IDENTITY_SECTION => Some(c.payload()),
        _ => None,
    });
    let Some(payload) = found.next() else { return Ok(None) };
    if found.next().is_some() {
        return Err(TrustError::Corrupt {
            path: path.to_owned(),
            reason: format!("it has more than one `{IDENTITY_SECTION}` section"),
        });
    }
    let identity: Identity = serde_json::from_slice(payload).map_err(|e| TrustError::Corrupt {
        path: path.to_owned(),
        reason: format!("its `{IDENTITY_SECTION}` section is not valid ({e})"),
    })?;
    if !crate::plugin::is_valid_id(&identity.id) {
        return Err(TrustError::Corrupt {
            path: path.to_owned(),
            reason: format!(
                "its `{IDENTITY_SECTION}` section names id `{}`, which is not a plugin id (1-64 lowercase letters, digits and dashes)",
                crate::console::plugin_text(&identity.id)
            ),
        });
    }
    Ok(Some(identity))
}

fn entries(path: &Path, payload: &[u8]) -> Result<Vec<SignatureEntry>, TrustError> {
    let header = CustomSection::new(SIGNATURE_SECTION.to_string(), payload.to_vec());
    let data = header.signature_data().map_err(|e| TrustError::Corrupt {
        path: path.to_owned(),
        reason: format!("its signature section cannot be decoded ({e})"),
    })?;
    if data.specification_version != SPEC_VERSION
        || data.content_type != CONTENT_TYPE_MODULE
        || data.hash_function != HASH_SHA256
    {
        return Err(TrustError::Corrupt {
            path: path.to_owned(),
            reason: "its signature section uses an unsupported version or hash".into(),
        });
    }
    let mut out = Vec::new();
    for set in data.signed_hashes_set {
        for sig in set.signatures {
            out.push(SignatureEntry {
                key_id: sig.key_id.map(|id| String::from_utf8_lossy(&id).into_owned()),
                hashes: set.hashes.clone(),
                signature: sig.signature,
            });
        }
    }
    Ok(out)
}

/// Reads the signatures (embedded, else `<plugin>.sig` when it exists), the
/// identity section and the content hash of the plugin at `path`.
pub fn read(path: &Path, bytes: &[u8]) -> Result<SignedPlugin, TrustError> {
    let module = parse_module(path, bytes)?;
    let content_hash = content_hash(path, &module.sections)?;
    let identity = read_identity(path, &module.sections)?;
    let embedded = module
        .sections
        .first()
        .filter(|s| is_signature_header(s))
        .map(|s| s.payload().to_vec());
    let (signatures, detached) = match embedded {
        Some(payload) => (entries(path, &payload)?, false),
        None => {
            let sig_path = detached_path(path);
            match std::fs::read(&sig_path) {
                Ok(payload) => (entries(&sig_path, &payload)?, true),
                Err(_) => (Vec::new(), false),
            }
        }
    };
    Ok(SignedPlugin {
        signatures,
        detached,
        identity,
        content_hash,
    })
}

/// What [`sign`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SignOutcome {
    /// The key id that signed.
    pub key_id: String,
    /// Whether the identity section was written now.
    pub identity_written: bool,
    /// False when the plugin already carried this key's signature.
    pub signed: bool,
    /// Where the signature went (the plugin, or its `.sig` file).
    pub written_to: PathBuf,
    /// Every key id that has signed the plugin now.
    pub key_ids: Vec<String>,
}

/// Adds `key`'s signature to the plugin at `path`, keeping existing ones.
/// `identity` (from `describe`) is written into the plugin first when it has
/// none; an existing identity must agree with it. `detached` writes the
/// signature to `<plugin>.sig` instead of into the plugin.
pub fn sign(
    path: &Path,
    key: &SigningKey,
    identity: Option<&Identity>,
    detached: bool,
) -> Result<SignOutcome, TrustError> {
    let io = |p: &Path, e: std::io::Error| TrustError::Io {
        path: p.to_owned(),
        reason: e.to_string(),
    };
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    let before = read(path, &bytes)?;
    let mut module = parse_module(path, &bytes)?;
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
        if identity_written {
            write_module(&plain, &mut body)?;
            write_atomically(path, &body)?;
        }
        write_atomically(&sig_path, &signature)?;
        Ok(SignOutcome {
            key_id: key.key_id.clone(),
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
            identity_written,
            signed: true,
            written_to: path.to_owned(),
            key_ids,
        })
    }
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
    use super::*;

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
