//! drhost.lock: the lock file as `pull`, `lock` and `run` read it
//! ([`parse_toml`] into [`Lock`]), how a plugin compares with its pin
//! ([`Lock::check`]), and semver precedence ([`is_older`]).
//!
//! Invariants: a lock that parses writes back (as `Lock::save` writes it)
//! to text that parses to the same pins; every pin matches its own digest;
//! `is_older` is irreflexive and asymmetric; a plugin older than its pin is
//! a downgrade.
#![no_main]

use std::path::Path;

use drhost::config::parse_toml;
use drhost::trust::lock::{is_older, Lock, LockCheck};
use libfuzzer_sys::fuzz_target;

fn order(a: &str, b: &str) {
    assert!(!is_older(a, a), "{a:?} older than itself");
    assert!(
        !(is_older(a, b) && is_older(b, a)),
        "{a:?} and {b:?} each older than the other"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.lines().take(8).collect();
    for a in &lines {
        for b in &lines {
            order(a, b);
        }
    }
    let path = Path::new("/nonexistent/drhost-fuzz/drhost.lock");
    let Ok(lock) = parse_toml::<Lock>(path, text) else {
        return;
    };
    // As `Lock::save` writes it, and as the next `pull` reads it.
    let written = toml::to_string_pretty(&lock).expect("a parsed lock serialises");
    let reread: Lock = parse_toml(path, &written).unwrap_or_else(|e| panic!("{e}\n{written}"));
    assert_eq!(reread.plugins, lock.plugins);
    let versions: Vec<&str> = lock
        .plugins
        .values()
        .map(|p| p.version.as_str())
        .chain(["0.1.0", "v1", ""])
        .collect();
    for (id, pin) in &lock.plugins {
        for version in &versions {
            order(version, &pin.version);
            assert_eq!(lock.check(id, version, &pin.digest), LockCheck::Matches);
            let other = format!("{}x", pin.digest);
            let check = lock.check(id, version, &other);
            if is_older(version, &pin.version) {
                assert!(matches!(check, LockCheck::Downgrade(_)), "{check:?}");
            } else {
                assert!(matches!(check, LockCheck::Differs(_)), "{check:?}");
            }
        }
    }
    if !lock.plugins.contains_key("") {
        assert_eq!(lock.check("", "1.0.0", "sha256:00"), LockCheck::Unpinned);
    }
});
