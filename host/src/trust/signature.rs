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
use wasmsign2::{CustomSection, Module, Section};

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
    // Every section's declared length is checked against the bytes first:
    // wasmsign2 allocates what a section declares before reading it.
    sections(bytes).map_err(|reason| TrustError::Corrupt {
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

/// One section of a plugin as it lies in the file, borrowed (a plugin may
/// be 18 MB; nothing is copied): its id, and for a custom section its name
/// and the bytes after the name.
struct SectionRef<'a> {
    id: u8,
    name: Option<&'a str>,
    data: &'a [u8],
}

/// The sections of a module or component, read the way wasmsign2 reads them
/// (`Module::deserialize`: the same header check, the same LEB128 reading,
/// a custom section's name must be UTF-8), but borrowing from `bytes` and
/// never trusting a declared length beyond the end of the file.
fn sections(bytes: &[u8]) -> Result<Vec<SectionRef<'_>>, String> {
    const MODULE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let header = bytes.get(..8).ok_or("it ends inside the header")?;
    if header != MODULE && header != COMPONENT {
        return Err("Unsupported module type".into());
    }
    let truncated = || "it ends inside a section".to_string();
    let leb32 = |at: &mut usize| -> Result<u32, String> {
        let mut value = 0u32;
        for i in 0..5 {
            let byte = *bytes.get(*at).ok_or_else(truncated)?;
            *at += 1;
            value |= u32::from(byte & 0x7f) << (i * 7);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("Parse error".into())
    };
    let mut at = 8;
    let mut found = Vec::new();
    while let Some(&id) = bytes.get(at) {
        at += 1;
        if id & 0x80 != 0 {
            return Err("Parse error".into());
        }
        let len = leb32(&mut at)? as usize;
        let end = at
            .checked_add(len)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(truncated)?;
        let (name, data) = if id == 0 {
            let mut inner = at;
            let name_len = {
                let mut value = 0u32;
                let mut done = false;
                for i in 0..5 {
                    let byte = *bytes[..end].get(inner).ok_or_else(truncated)?;
                    inner += 1;
                    value |= u32::from(byte & 0x7f) << (i * 7);
                    if byte & 0x80 == 0 {
                        done = true;
                        break;
                    }
                }
                if !done {
                    return Err("Parse error".into());
                }
                value as usize
            };
            let name_end = inner
                .checked_add(name_len)
                .filter(|&e| e <= end)
                .ok_or_else(truncated)?;
            let name = std::str::from_utf8(&bytes[inner..name_end]).map_err(|e| e.to_string())?;
            (Some(name), &bytes[name_end..end])
        } else {
            (None, &bytes[at..end])
        };
        found.push(SectionRef { id, name, data });
        at = end;
    }
    Ok(found)
}

/// LEB128 as wasmsign2 writes it (`varint::put`): the shortest form.
pub(super) fn put_leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// SHA-256 over every section but the signature section, each as wasmsign2
/// serialises it (id, length, for a custom section its name, the data):
/// what a signature signs.
fn content_hash(sections: &[SectionRef<'_>]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(32);
    for section in sections.iter().filter(|s| s.name != Some(SIGNATURE_SECTION)) {
        head.clear();
        put_leb(&mut head, u64::from(section.id));
        match section.name {
            Some(name) => {
                let mut named = Vec::with_capacity(8 + name.len());
                put_leb(&mut named, name.len() as u64);
                named.extend_from_slice(name.as_bytes());
                put_leb(&mut head, (named.len() + section.data.len()) as u64);
                head.extend_from_slice(&named);
            }
            None => put_leb(&mut head, section.data.len() as u64),
        }
        hasher.update(&head);
        hasher.update(section.data);
    }
    hasher.finalize().to_vec()
}

/// The content hash of a plugin's bytes (see [`read`]), or `None` when they
/// are not a module or component [`read`] could parse (it then says why).
pub fn content_hash_of(bytes: &[u8]) -> Option<Vec<u8>> {
    sections(bytes).ok().map(|found| content_hash(&found))
}

fn read_identity(path: &Path, sections: &[SectionRef<'_>]) -> Result<Option<Identity>, TrustError> {
    let mut found = sections
        .iter()
        .filter(|s| s.name == Some(IDENTITY_SECTION))
        .map(|s| s.data);
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
    read_hashed(path, bytes, None)
}

/// [`read`], with the content hash when it was already computed from these
/// bytes ([`content_hash_of`], e.g. on another thread while the file's
/// digest was).
pub fn read_hashed(path: &Path, bytes: &[u8], hashed: Option<Vec<u8>>) -> Result<SignedPlugin, TrustError> {
    let found = sections(bytes).map_err(|reason| TrustError::Corrupt {
        path: path.to_owned(),
        reason,
    })?;
    let content_hash = hashed.unwrap_or_else(|| content_hash(&found));
    let identity = read_identity(path, &found)?;
    let embedded = found
        .first()
        .filter(|s| s.name == Some(SIGNATURE_SECTION))
        .map(|s| s.data.to_vec());
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

#[cfg(test)]
mod section_tests {
    use super::*;

    /// The content hash as wasmsign2's own parse and serialise give it.
    fn by_wasmsign2(bytes: &[u8]) -> Vec<u8> {
        let module = parse_module(Path::new("x.wasm"), bytes).unwrap();
        let mut hasher = Sha256::new();
        for section in module.sections.iter().filter(|s| !is_signature_header(s)) {
            let mut buf = Vec::new();
            section.serialize(&mut buf).unwrap();
            hasher.update(&buf);
        }
        hasher.finalize().to_vec()
    }

    #[test]
    fn the_content_hash_is_the_one_wasmsign2_gives() {
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        // signature (custom), a standard section with a non-minimal length,
        // a custom section whose name length is non-minimal, a big one.
        bytes.extend([0, 12, 9]);
        bytes.extend(b"signature");
        bytes.extend([1, 2]);
        bytes.extend([1, 0x83, 0x00, 1, 2, 3]);
        bytes.extend([0, 6, 0x82, 0x00, b'h', b'i', 7, 8]);
        let big = vec![0x5a; 300];
        bytes.push(11);
        bytes.extend([0xac, 0x02]);
        bytes.extend(&big);
        assert_eq!(content_hash_of(&bytes), Some(by_wasmsign2(&bytes)));
        let found = sections(&bytes).unwrap();
        assert_eq!(found.len(), 4);
        assert_eq!(found[0].name, Some(SIGNATURE_SECTION));
        assert_eq!(found[2].data, &[7, 8]);
        // What wasmsign2 refuses is refused: a truncated section, a length
        // past the end, a bad header, a name that is not UTF-8.
        assert!(sections(&bytes[..bytes.len() - 1]).is_err());
        assert!(sections(&[0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]).is_err());
        let mut huge = bytes[..8].to_vec();
        huge.extend([1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(sections(&huge).is_err());
        // A section declaring 4 GiB is refused before wasmsign2 allocates it.
        assert!(parse_module(Path::new("x"), &huge).is_err());
        let mut bad_name = bytes[..8].to_vec();
        bad_name.extend([0, 2, 1, 0xff]);
        assert!(sections(&bad_name).is_err());
        assert!(parse_module(Path::new("x"), &bad_name).is_err());
    }
}
