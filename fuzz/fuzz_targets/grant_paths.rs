//! Grant matchers fed the paths and keys a plugin names: `files` (the path
//! check, path globs, and the listing walk's pruning), `s3` (plain keys,
//! key globs, listing prefixes) and `vault` (path globs, folder listings,
//! the mount/key split the request URL is built from).
//!
//! Invariants: a files path that is accepted is relative, has no empty,
//! `.` or `..` name and no control character, and splits back into
//! itself; a listing walk enters every directory on the way to a path that
//! both the plugin's glob and a read grant match (else `list` misses a file
//! it may show); an allowed s3 key is plain (no `.`/`..`/empty segment, no
//! control character); a Vault path that is split has no `.`/`..`/empty
//! segment nor `?`, `#`, `%`, `\`, and what is allowed is what the glob
//! matched.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use drhost::caps::files::{allows_path, FilesAccess, FilesGrant};
use drhost::caps::s3::{allows_key, allows_prefix, S3Access, S3Grant};
use drhost::caps::vault::{
    allows_list, allows_path as vault_allows, lists_key, split_path, split_secret_path, VaultAccess, VaultGrant,
};
use drhost::fuzzing::{files_may_hold, files_path, is_plain_key};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    globs: Vec<String>,
    /// The plugin's own glob for a listing.
    wanted: String,
    path: String,
    prefix: String,
    key: String,
}

fn glob(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

fn files(input: &Input) {
    let Ok((path, dirs, last)) = files_path(&input.path) else {
        return;
    };
    assert_eq!(path, input.path);
    assert!(!path.starts_with('/') && path.len() <= 4096);
    assert!(!path.chars().any(char::is_control));
    assert!(
        path.split('/').all(|n| !matches!(n, "" | "." | "..") && n.len() <= 255),
        "{path:?}"
    );
    let mut joined = dirs.join("/");
    if !joined.is_empty() {
        joined.push('/');
    }
    joined.push_str(&last);
    assert_eq!(joined, path);

    // The grant as drhost.toml gives it (its paths are checked when read).
    let mut table = toml::Table::new();
    table.insert("target".into(), "t".into());
    table.insert("access".into(), toml::Value::Array(vec!["read".into()]));
    let globs = input.globs.iter().map(|g| toml::Value::from(g.as_str())).collect();
    table.insert("paths".into(), toml::Value::Array(globs));
    let Ok(grant) = toml::Value::Table(table).try_into::<FilesGrant>() else {
        return;
    };
    let grants = std::slice::from_ref(&grant);
    let allowed = allows_path(grants, "t", &path, FilesAccess::Read);
    assert!(!allows_path(grants, "other", &path, FilesAccess::Read));
    assert!(!allows_path(grants, "t", &path, FilesAccess::Write));
    // As `list` takes the plugin's glob.
    let wanted = glob(&input.wanted).filter(|_| !input.wanted.starts_with('/') && !input.wanted.contains('\0'));
    if allowed && wanted.as_ref().is_some_and(|w| w.is_match(&path)) {
        let granted: Vec<String> = grant
            .paths
            .iter()
            .filter(|g| glob(g).is_some_and(|m| m.is_match(&path)))
            .cloned()
            .collect();
        for depth in 1..=dirs.len() {
            let dir = dirs[..depth].join("/");
            assert!(
                files_may_hold(std::slice::from_ref(&input.wanted), &dir),
                "a list of {:?} does not enter {dir:?} on the way to {path:?}",
                input.wanted
            );
            assert!(
                files_may_hold(&granted, &dir),
                "a walk under {granted:?} does not enter {dir:?} on the way to {path:?}"
            );
        }
    }
}

fn s3(input: &Input) {
    let key = &input.key;
    if is_plain_key(key) {
        assert!(!key.chars().any(char::is_control));
        let body = key.strip_suffix('/').unwrap_or(key);
        assert!(body.split('/').all(|s| !matches!(s, "" | "." | "..")), "{key:?}");
    }
    let grant = S3Grant {
        target: "b".into(),
        prefixes: input.globs.clone(),
        access: BTreeSet::from([S3Access::Read]),
    };
    let grants = std::slice::from_ref(&grant);
    if allows_key(grants, "b", key, S3Access::Read) {
        assert!(is_plain_key(key));
        assert!(grant.prefixes.iter().any(|p| glob(p).is_some_and(|g| g.is_match(key))));
    }
    assert!(!allows_key(grants, "b", key, S3Access::Write));
    if allows_prefix(grants, "b", &input.prefix, S3Access::Read) {
        assert!(input.prefix.is_empty() || is_plain_key(&input.prefix));
    }
}

fn vault(input: &Input) {
    let path = &input.path;
    if let Ok((mount, key)) = split_path(path) {
        let trimmed = path.trim_matches('/');
        assert!(!mount.is_empty() && !mount.contains('/'));
        let joined = if key.is_empty() {
            mount.to_string()
        } else {
            format!("{mount}/{key}")
        };
        assert_eq!(joined, trimmed);
        assert!(trimmed.split('/').all(|s| !matches!(s, "" | "." | "..")), "{path:?}");
        assert!(!trimmed
            .chars()
            .any(|c| c.is_control() || matches!(c, '?' | '#' | '%' | '\\')));
    }
    let grant = VaultGrant {
        target: "v".into(),
        paths: input.globs.clone(),
        access: BTreeSet::from([VaultAccess::Read]),
        restore_from_plugin_blobs: false,
    };
    let grants = std::slice::from_ref(&grant);
    if vault_allows(grants, "v", path, VaultAccess::Read) {
        let trimmed = path.trim_matches('/');
        assert!(grant.paths.iter().any(|p| glob(p).is_some_and(|g| g.is_match(trimmed))));
        if let Ok((mount, key)) = split_secret_path(path) {
            // The request names exactly what the glob matched.
            assert_eq!(format!("{mount}/{key}"), trimmed);
        }
    }
    assert!(!vault_allows(grants, "v", path, VaultAccess::Reveal));
    let _ = allows_list(grants, "v", path, VaultAccess::Read);
    // A listed secret (not a folder: `key` ending in `/`, or none) is one a glob matches.
    let full = format!("{}/{}", path.trim_matches('/'), input.key);
    if lists_key(grants, "v", path, &input.key, VaultAccess::Read) && !full.ends_with('/') {
        assert!(
            grant.paths.iter().any(|p| glob(p).is_some_and(|g| g.is_match(&full))),
            "{full:?} listed under {:?}",
            grant.paths
        );
    }
}

fuzz_target!(|input: Input| {
    files(&input);
    s3(&input);
    vault(&input);
});
