//! trust.toml: [`TrustFile::parse`] (keys as `ed25519:HEX` or PEM, scope
//! globs, validity dates, revocations), then how every key stands for a
//! plugin id at several times; and [`parse_public_key`] alone.
//!
//! Invariants: key ids are unique and not blank; revoked digests are
//! `sha256:` and 64 lowercase hex digits; a key whose id is revoked is
//! never `Trusted`; a parsed public key prints back to a text that parses
//! to the same key.
#![no_main]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drhost::trust::keys::{parse_public_key, public_key_text};
use drhost::trust::trust_file::{KeyStanding, TrustFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The key forms alone: every line, and the whole text (a PEM block).
    for candidate in text.lines().chain([text]) {
        if let Ok(key) = parse_public_key(candidate) {
            assert_eq!(parse_public_key(&public_key_text(&key)).ok(), Some(key));
        }
    }
    let Ok(trust) = TrustFile::parse(Path::new("/nonexistent/drhost-fuzz/trust.toml"), text) else {
        return;
    };
    let mut ids: Vec<&str> = trust.keys.iter().map(|k| k.id.as_str()).collect();
    assert!(ids.iter().all(|id| !id.trim().is_empty()));
    ids.sort_unstable();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "a key id appears twice");
    for digest in &trust.revoked_digests {
        let hex = digest.strip_prefix("sha256:").expect("a revoked digest is sha256:");
        assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(trust.is_revoked_digest(digest));
    }
    // Any clock a host can have, up to the end of 9999 (what a date in a
    // trust file can say).
    let last = 253_402_300_799;
    let times = [
        UNIX_EPOCH,
        SystemTime::now(),
        UNIX_EPOCH + Duration::from_secs(last),
        UNIX_EPOCH + Duration::from_secs((data.len() as u64).wrapping_mul(0x9e37_79b9_7f4a) % last),
    ];
    let mut plugin_ids: Vec<&str> = vec!["", "db-restore", "x"];
    plugin_ids.extend(trust.keys.iter().flat_map(|k| k.scope_text.iter().map(String::as_str)));
    for key in &trust.keys {
        assert!(trust.key_for(|k| k == &key.key).is_some());
        for now in times {
            for id in &plugin_ids {
                let standing = trust.standing(key, id, now);
                if trust.revoked_keys.contains(&key.id) {
                    assert_eq!(standing, KeyStanding::Revoked);
                }
                let _ = format!("{standing:?}");
            }
        }
    }
});
