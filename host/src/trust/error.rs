//! Why a plugin is not trusted, or why signing, keys or the lock failed:
//! [`TrustError`], one line each that names the cause and what to do, and
//! the exit code it maps to. It says what went wrong; deciding is left to
//! [`super::assess`] and the other checks in `trust`.

use std::path::PathBuf;

use super::signature;
use crate::error::{EXIT_REFUSED, EXIT_USAGE};

/// Why a plugin is not trusted, or a signing/lock operation failed. Each
/// renders as one line naming the cause and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// No signature at all.
    #[error("{} is not signed: sign it with `drhost sign {} --key KEY`, or (break-glass) run it anyway with `drhost run --allow-unsigned`, which is journaled", .path.display(), .path.display())]
    Unsigned {
        /// The plugin.
        path: PathBuf,
    },
    /// Signed by a trusted key, but changed afterwards.
    #[error("{} was tampered with: {detail}; do not run it, get it again from its source (break-glass only: `drhost run --allow-unsigned` runs it anyway, journaled)", .path.display())]
    Tampered {
        /// The plugin.
        path: PathBuf,
        /// Which signature no longer matches.
        detail: String,
    },
    /// Its sections or signature section cannot be parsed.
    #[error("{} is damaged or was tampered with: {reason}; get it again from its source (break-glass only: `drhost run --allow-unsigned` runs it anyway, journaled)", .path.display())]
    Corrupt {
        /// The plugin (or its `.sig`).
        path: PathBuf,
        /// What could not be parsed.
        reason: String,
    },
    /// Signed, but by no key that may vouch for it now.
    #[error("{} has no trusted signature: {reasons} (trust file: {trust}); trust a key that signed it, or (break-glass) run it anyway with `drhost run --allow-unsigned`, which is journaled", .path.display())]
    Untrusted {
        /// The plugin.
        path: PathBuf,
        /// One reason per signature.
        reasons: String,
        /// The trust file consulted.
        trust: String,
    },
    /// Its digest is on the revocation list.
    #[error("{} is revoked: its digest {digest} is listed under [revoked] digests in {trust}", .path.display())]
    RevokedDigest {
        /// The plugin.
        path: PathBuf,
        /// The revoked digest.
        digest: String,
        /// The trust file.
        trust: String,
    },
    /// The lock pins another file for this plugin id.
    #[error("{} ({digest}) is not the file {lock} pins for plugin `{id}` {pinned}: run the pinned file, or re-pin with `drhost lock` / `drhost pull`", .path.display())]
    LockDiffers {
        /// The plugin.
        path: PathBuf,
        /// Its digest.
        digest: String,
        /// Its id.
        id: String,
        /// The pinned version and digest, `0.1.0 (sha256:…)`.
        pinned: String,
        /// The lock file.
        lock: String,
    },
    /// An older version than the lock pins, without `--allow-downgrade`.
    #[error("{} is plugin `{id}` {version}, older than {pinned_version} pinned in {lock}: pass --allow-downgrade to run an older version", .path.display())]
    Downgrade {
        /// The plugin.
        path: PathBuf,
        /// Its id.
        id: String,
        /// Its version.
        version: String,
        /// The pinned version.
        pinned_version: String,
        /// The lock file.
        lock: String,
    },
    /// `describe` disagrees with the signed identity.
    #[error("{} does not match its signed identity: {detail}; do not run it, get it again from its source", .path.display())]
    IdentityMismatch {
        /// The plugin.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// Signed, but without drhost's identity section.
    #[error("{} is signed but carries no drhost identity (section `{}`): sign the plugin with `drhost sign`", .path.display(), signature::IDENTITY_SECTION)]
    NoIdentity {
        /// The plugin.
        path: PathBuf,
    },
    /// A key file is unreadable or not a key.
    #[error("key {}: {reason}", .path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Signing failed.
    #[error("cannot sign {}: {reason}", .path.display())]
    Sign {
        /// The plugin.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("cannot write {}: {reason}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl TrustError {
    /// Exit code: 3 for refusals, 2 for usage and I/O problems.
    pub fn exit_code(&self) -> i32 {
        match self {
            TrustError::Key { .. } | TrustError::Sign { .. } | TrustError::Io { .. } => EXIT_USAGE,
            _ => EXIT_REFUSED,
        }
    }

    /// Whether `--allow-unsigned` may override it (not revocations, not the lock).
    pub fn overridable(&self) -> bool {
        matches!(
            self,
            TrustError::Unsigned { .. }
                | TrustError::Tampered { .. }
                | TrustError::Corrupt { .. }
                | TrustError::Untrusted { .. }
        )
    }
}
