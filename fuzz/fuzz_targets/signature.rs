//! Signature sections: [`signature::read`] (the section walk, the identity
//! section, the signature section's nested lengths, then wasmsign2's
//! decoding) and each signature's verification ([`SignatureEntry::made_by`],
//! [`SignatureEntry::covers`]), on raw bytes, on a module whose signature
//! or identity section is fuzzed, and on a module signed here with a known
//! key.
//!
//! Invariants: the content hash is the one wasmsign2's own parse and
//! serialisation give; a module signed with the key verifies and covers its
//! content, and no signature verifies under another key; a signature over
//! other content does not cover this one; an identity that is read names a
//! valid plugin id. A section declaring more bytes than follow must be
//! refused before anything allocates them (the rss limit catches that).
#![no_main]

use std::io::Cursor;
use std::path::Path;

use arbitrary::Arbitrary;
use drhost::trust::signature::{self, SignatureEntry, IDENTITY_SECTION, SIGNATURE_SECTION};
use ed25519_compact::{KeyPair, Seed};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use wasmsign2::{SignatureData, SignatureForHashes, SignedHashes};

const MODULE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// A whole file.
    Raw(&'a [u8]),
    /// A module whose first section is a signature section with this payload.
    SignatureSection {
        component: bool,
        payload: &'a [u8],
        rest: Vec<Section<'a>>,
    },
    /// A module with an identity section holding this JSON.
    Identity { json: &'a str, rest: Vec<Section<'a>> },
    /// A module signed here, possibly with a signature bit flipped.
    Signed {
        rest: Vec<Section<'a>>,
        key_id: Option<Vec<u8>>,
        flip: Option<u16>,
        extra_hashes: Vec<[u8; 32]>,
        tamper: Option<Section<'a>>,
    },
}

#[derive(Arbitrary, Debug)]
struct Section<'a> {
    id: u8,
    name: &'a str,
    data: &'a [u8],
}

fn leb(out: &mut Vec<u8>, mut value: u64) {
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

fn custom(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut named = Vec::new();
    leb(&mut named, name.len() as u64);
    named.extend_from_slice(name.as_bytes());
    out.push(0);
    leb(out, (named.len() + data.len()) as u64);
    out.extend_from_slice(&named);
    out.extend_from_slice(data);
}

fn sections(out: &mut Vec<u8>, rest: &[Section<'_>]) {
    for s in rest {
        // Never a signature or identity section: the variants place those.
        if s.id % 13 == 0 && s.name != SIGNATURE_SECTION && s.name != IDENTITY_SECTION {
            custom(out, s.name, s.data);
        } else {
            out.push((s.id % 12) + 1);
            leb(out, s.data.len() as u64);
            out.extend_from_slice(s.data);
        }
    }
}

/// The content hash as wasmsign2's own parse and serialisation give it.
fn by_wasmsign2(bytes: &[u8]) -> Option<Vec<u8>> {
    let module = wasmsign2::Module::deserialize(&mut Cursor::new(bytes)).ok()?;
    let mut hasher = Sha256::new();
    for section in module.sections.iter().filter(|s| !s.is_signature_header()) {
        let mut buf = Vec::new();
        section.serialize(&mut buf).ok()?;
        hasher.update(&buf);
    }
    Some(hasher.finalize().to_vec())
}

fn key(seed: u8) -> KeyPair {
    KeyPair::from_seed(Seed::new([seed; 32]))
}

fn message(hashes: &[Vec<u8>]) -> Vec<u8> {
    let mut message = b"wasmsig".to_vec();
    message.extend_from_slice(&[1, 1, 1]);
    for hash in hashes {
        message.extend_from_slice(hash);
    }
    message
}

fn check(bytes: &[u8]) -> Option<signature::SignedPlugin> {
    let path = Path::new("/nonexistent/drhost-fuzz/plugin.wasm");
    let hashed = signature::content_hash_of(bytes);
    if let Some(hash) = &hashed {
        // Only once every declared length was checked: wasmsign2 allocates them.
        if let Some(theirs) = by_wasmsign2(bytes) {
            assert_eq!(hash, &theirs, "content hash differs from wasmsign2's");
        }
    }
    let signed = signature::read(path, bytes).ok()?;
    assert_eq!(Some(&signed.content_hash), hashed.as_ref());
    assert!(!signed.detached);
    if let Some(identity) = &signed.identity {
        assert!(drhost::plugin::is_valid_id(&identity.id), "{identity:?}");
        let _ = identity.difference(identity);
    }
    let stranger = key(0xee).pk;
    for entry in &signed.signatures {
        let _ = entry.shown_id();
        let _ = entry.covers(&signed.content_hash);
        assert!(
            !entry.made_by(&stranger),
            "a signature verifies under a key that did not make it"
        );
    }
    Some(signed)
}

fn verified(entry: &SignatureEntry, key: &KeyPair, content: &[u8]) -> bool {
    entry.made_by(&key.pk) && entry.covers(content)
}

fuzz_target!(|input: Input<'_>| {
    match input {
        Input::Raw(bytes) => {
            check(bytes);
        }
        Input::SignatureSection {
            component,
            payload,
            rest,
        } => {
            let mut bytes = if component { COMPONENT } else { MODULE }.to_vec();
            custom(&mut bytes, SIGNATURE_SECTION, payload);
            sections(&mut bytes, &rest);
            check(&bytes);
        }
        Input::Identity { json, rest } => {
            let mut bytes = COMPONENT.to_vec();
            sections(&mut bytes, &rest);
            custom(&mut bytes, IDENTITY_SECTION, json.as_bytes());
            check(&bytes);
        }
        Input::Signed {
            rest,
            key_id,
            flip,
            extra_hashes,
            tamper,
        } => {
            let mut content = COMPONENT.to_vec();
            sections(&mut content, &rest);
            let Some(hash) = signature::content_hash_of(&content) else {
                return;
            };
            let signer = key(7);
            let mut hashes: Vec<Vec<u8>> = extra_hashes.iter().take(8).map(|h| h.to_vec()).collect();
            hashes.push(hash.clone());
            let mut sig = signer.sk.sign(message(&hashes), None).to_vec();
            if let Some(flip) = flip {
                let bit = usize::from(flip) % (sig.len() * 8);
                sig[bit / 8] ^= 1 << (bit % 8);
            }
            let data = SignatureData {
                specification_version: 1,
                content_type: 1,
                hash_function: 1,
                signed_hashes_set: vec![SignedHashes {
                    hashes,
                    signatures: vec![SignatureForHashes {
                        key_id: key_id.filter(|k| !k.is_empty()),
                        alg_id: 1,
                        signature: sig,
                    }],
                }],
            };
            let payload = data.serialize().expect("signature data serialises");
            let mut bytes = COMPONENT.to_vec();
            custom(&mut bytes, SIGNATURE_SECTION, &payload);
            bytes.extend_from_slice(&content[COMPONENT.len()..]);
            if let Some(extra) = &tamper {
                sections(&mut bytes, std::slice::from_ref(extra));
            }
            let signed = check(&bytes).expect("a module signed here reads");
            assert_eq!(signed.signatures.len(), 1);
            let entry = &signed.signatures[0];
            let good = verified(entry, &signer, &signed.content_hash);
            if tamper.is_some() {
                assert_ne!(
                    signed.content_hash, hash,
                    "an added section leaves the content hash as it was"
                );
                assert!(!good, "a signature covers content it was not made over");
            } else {
                assert_eq!(signed.content_hash, hash);
                assert_eq!(good, flip.is_none(), "flip {flip:?}");
            }
        }
    }
});
