//! Signatures inside a plugin, in the WebAssembly tool-conventions format
//! (the `signature` custom section of wasmsign2, which accepts components),
//! and drhost's signed identity section (`drhost-identity`).
//!
//! This module parses and checks Ed25519 signatures against public keys
//! (signing is [`super::sign`]). It never decides whether a key is
//! *trusted* (that is [`super::trust_file`]) and never reads the lock file.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmsign2::{CustomSection, Module, Section, SectionLike};

use super::TrustError;
// The keys that make and check these signatures live in `keys`, and
// signing in `sign`; they are also here, where callers found them first
// (`trust::signature::SigningKey`, `trust::signature::sign`).
pub use super::keys::{
    generate_key_pair, keygen, parse_public_key, public_key_text, trust_entry, GeneratedKey, SigningKey,
};
pub use super::sign::{sign, sign_bytes, write_atomically, SignOutcome};

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

pub(super) fn parse_module(path: &Path, bytes: &[u8]) -> Result<Module, TrustError> {
    super::lengths::module_fits(bytes, SIGNATURE_SECTION).map_err(|reason| TrustError::Corrupt {
        path: path.to_owned(),
        reason,
    })?;
    Module::deserialize(&mut Cursor::new(bytes)).map_err(|e| TrustError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

pub(super) fn is_signature_header(section: &Section) -> bool {
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
    super::lengths::signature_fits(payload).map_err(|e| TrustError::Corrupt {
        path: path.to_owned(),
        reason: format!("its signature section cannot be decoded ({e})"),
    })?;
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
