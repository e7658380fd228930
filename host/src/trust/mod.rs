//! Who vouched for a plugin, and is it the file the operator pinned?
//!
//! A plugin carries Ed25519 signatures in the WebAssembly tool-conventions
//! format ([`signature`]) over all of its sections, including drhost's
//! identity section (id, version, contract, capabilities), made with
//! [`keys`]. The operator's [`trust_file`] says which keys count, for which
//! plugin ids and when, and what is revoked; the [`lock`] pins each plugin id
//! to one file digest.
//!
//! [`assess`] turns a plugin file into a [`Verdict`] or a one-line
//! [`TrustError`]. This module decides; it never runs a plugin and never
//! touches the network (that is [`crate::oci`]).

mod error;
pub mod keys;
mod lengths;
pub mod lock;
mod paths;
mod sign;
pub mod signature;
pub mod trust_file;

pub use error::TrustError;
pub use paths::{TrustPaths, LOCK_ENV, TRUST_ENV};

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::bindings::types::{Access, Manifest};
use crate::error::Error;
use crate::plugin::PluginFile;
use lock::{Lock, LockCheck};
use signature::{Identity, Need, SignedPlugin};
use trust_file::{KeyStanding, TrustFile};

/// One signature as judged against the trust file.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// The key id stored with the signature.
    pub key_id: Option<String>,
    /// The trust-file key that made it, if any.
    pub signer: Option<String>,
    /// trusted, unknown, tampered, revoked, expired, not-yet-valid, out-of-scope.
    pub standing: &'static str,
    /// Why it does not count, in words.
    pub reason: Option<String>,
}

/// What drhost concluded about a plugin file.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The plugin file.
    pub path: PathBuf,
    /// sha256 of the file, `sha256:<hex>`.
    pub digest: String,
    /// sha256 of what the signatures cover (every section but the signatures).
    pub content_digest: Option<String>,
    /// `trusted`, `override-unsigned` or `refused`.
    pub verdict: &'static str,
    /// Trusted key ids that signed it.
    pub signers: Vec<String>,
    /// Every signature found.
    pub signatures: Vec<SignatureReport>,
    /// Whether the signatures came from a detached `.sig` file.
    pub detached: bool,
    /// The signed identity, if any.
    pub identity: Option<Identity>,
    /// The trust file consulted.
    pub trust_file: Option<PathBuf>,
    /// The lock file consulted.
    pub lock_file: Option<PathBuf>,
    /// `unpinned`, `matches`, `downgrade-allowed`, or `unchecked`.
    pub lock: &'static str,
    /// The refusal that `--allow-unsigned` overrode.
    pub overridden: Option<String>,
}

/// Judges the plugin file against the trust file and the lock. Returns the
/// verdict and, when it is not trusted, the refusal.
pub fn assess(
    file: &PluginFile,
    trust: &TrustFile,
    lock: &Lock,
    lock_path: Option<&Path>,
    allow_downgrade: bool,
) -> (Verdict, Option<TrustError>) {
    let digest = format!("sha256:{}", file.digest);
    let mut verdict = Verdict {
        path: file.path.clone(),
        digest: digest.clone(),
        content_digest: None,
        verdict: "refused",
        signers: Vec::new(),
        signatures: Vec::new(),
        detached: false,
        identity: None,
        trust_file: trust.path.clone(),
        lock_file: lock_path.map(Path::to_path_buf),
        lock: "unchecked",
        overridden: None,
    };
    if trust.is_revoked_digest(&digest) {
        let refusal = TrustError::RevokedDigest {
            path: file.path.clone(),
            digest,
            trust: trust.shown_path(),
        };
        return (verdict, Some(refusal));
    }
    let signed = match signature::read_hashed(&file.path, &file.bytes, file.content_hash.clone()) {
        Ok(signed) => signed,
        Err(e) => return (verdict, Some(e)),
    };
    verdict.content_digest = Some(signed.content_digest());
    verdict.detached = signed.detached;
    verdict.identity = signed.identity.clone();
    if trust.is_revoked_digest(&signed.content_digest()) {
        let refusal = TrustError::RevokedDigest {
            path: file.path.clone(),
            digest: signed.content_digest(),
            trust: trust.shown_path(),
        };
        return (verdict, Some(refusal));
    }
    if let Some(refusal) = judge_signatures(file, &signed, trust, &mut verdict) {
        return (verdict, Some(refusal));
    }
    verdict.verdict = "trusted";
    let refusal = signed
        .identity
        .as_ref()
        .and_then(|identity| check_lock(&mut verdict, identity, lock, allow_downgrade).err());
    (verdict, refusal)
}

fn judge_signatures(
    file: &PluginFile,
    signed: &SignedPlugin,
    trust: &TrustFile,
    verdict: &mut Verdict,
) -> Option<TrustError> {
    if signed.signatures.is_empty() {
        return Some(TrustError::Unsigned {
            path: file.path.clone(),
        });
    }
    let plugin_id = signed.identity.as_ref().map_or("", |i| i.id.as_str());
    let now = SystemTime::now();
    let mut tampered = Vec::new();
    let mut reasons = Vec::new();
    for entry in &signed.signatures {
        let shown = entry.shown_id();
        let key = trust.key_for(|k| entry.made_by(k));
        let (signer, standing, reason) = match key {
            None if entry
                .key_id
                .as_deref()
                .is_some_and(|id| trust.keys.iter().any(|k| k.id == id)) =>
            {
                (
                    None,
                    "tampered",
                    format!("the signature by `{shown}` does not verify with that trusted key"),
                )
            }
            None => (None, "unknown", format!("key `{shown}` is unknown")),
            Some(k) if !entry.covers(&signed.content_hash) => (
                Some(k.id.clone()),
                "tampered",
                format!("its content changed after `{}` signed it", k.id),
            ),
            Some(k) => match trust.standing(k, plugin_id, now) {
                KeyStanding::Trusted => (Some(k.id.clone()), "trusted", String::new()),
                KeyStanding::Revoked => (Some(k.id.clone()), "revoked", format!("key `{}` is revoked", k.id)),
                KeyStanding::Expired(at) => (Some(k.id.clone()), "expired", format!("key `{}` expired at {at}", k.id)),
                KeyStanding::NotYetValid(at) => (
                    Some(k.id.clone()),
                    "not-yet-valid",
                    format!("key `{}` is not valid before {at}", k.id),
                ),
                KeyStanding::OutOfScope(scope) => (
                    Some(k.id.clone()),
                    "out-of-scope",
                    format!(
                        "key `{}` is out of scope for plugin `{plugin_id}` (scope: {scope})",
                        k.id
                    ),
                ),
            },
        };
        if standing == "trusted" {
            if let Some(id) = signer.as_ref().filter(|id| !verdict.signers.contains(id)) {
                verdict.signers.push(id.clone());
            }
        } else if standing == "tampered" {
            tampered.push(reason.clone());
        } else {
            reasons.push(reason.clone());
        }
        verdict.signatures.push(SignatureReport {
            key_id: entry.key_id.clone(),
            signer,
            standing,
            reason: (!reason.is_empty()).then_some(reason),
        });
    }
    if !verdict.signers.is_empty() {
        return None;
    }
    if !tampered.is_empty() {
        return Some(TrustError::Tampered {
            path: file.path.clone(),
            detail: tampered.join("; "),
        });
    }
    let trust_shown = match &trust.path {
        Some(p) => p.display().to_string(),
        None => format!("none found; set [trust] file in drhost.toml or {TRUST_ENV}"),
    };
    Some(TrustError::Untrusted {
        path: file.path.clone(),
        reasons: reasons.join("; "),
        trust: trust_shown,
    })
}

fn check_lock(
    verdict: &mut Verdict,
    identity: &Identity,
    lock: &Lock,
    allow_downgrade: bool,
) -> Result<(), TrustError> {
    let lock_shown = verdict
        .lock_file
        .as_ref()
        .map_or_else(|| "the lock".to_string(), |p| p.display().to_string());
    match lock.check(&identity.id, &identity.version, &verdict.digest) {
        LockCheck::Unpinned => verdict.lock = "unpinned",
        LockCheck::Matches => verdict.lock = "matches",
        LockCheck::Downgrade(_) if allow_downgrade => verdict.lock = "downgrade-allowed",
        LockCheck::Downgrade(pin) => {
            return Err(TrustError::Downgrade {
                path: verdict.path.clone(),
                id: identity.id.clone(),
                version: identity.version.clone(),
                pinned_version: pin.version,
                lock: lock_shown,
            })
        }
        LockCheck::Differs(pin) => {
            return Err(TrustError::LockDiffers {
                path: verdict.path.clone(),
                digest: verdict.digest.clone(),
                id: identity.id.clone(),
                pinned: format!("{} ({})", pin.version, pin.digest),
                lock: lock_shown,
            })
        }
    }
    Ok(())
}

/// `drhost run`'s check, right after the file is known to be a component:
/// the verdict, or the refusal. `--allow-unsigned` turns an overridable
/// refusal into a verdict `override-unsigned` (the caller warns and journals).
pub fn check_for_run(
    file: &PluginFile,
    paths: &TrustPaths,
    allow_unsigned: bool,
    allow_downgrade: bool,
) -> Result<Verdict, Error> {
    let trust = paths.load_trust()?;
    let lock = paths.load_lock()?;
    let (mut verdict, refusal) = assess(file, &trust, &lock, paths.lock.as_deref(), allow_downgrade);
    match refusal {
        None => Ok(verdict),
        Some(refusal) if allow_unsigned && refusal.overridable() => {
            verdict.verdict = "override-unsigned";
            verdict.signers.clear();
            verdict.overridden = Some(refusal.to_string());
            Ok(verdict)
        }
        Some(refusal) => Err(refusal.into()),
    }
}

/// After `describe`: the signed identity must agree with it; an unsigned
/// (overridden) plugin is checked against the lock by what it describes.
pub fn check_describe(
    verdict: &mut Verdict,
    described: &Identity,
    lock: &Lock,
    allow_downgrade: bool,
) -> Result<(), Error> {
    match &verdict.identity {
        Some(signed) => {
            if let Some(detail) = signed.difference(described) {
                return Err(TrustError::IdentityMismatch {
                    path: verdict.path.clone(),
                    detail,
                }
                .into());
            }
            Ok(())
        }
        None if verdict.verdict == "trusted" => Err(TrustError::NoIdentity {
            path: verdict.path.clone(),
        }
        .into()),
        None => check_lock(verdict, described, lock, allow_downgrade).map_err(Error::from),
    }
}

/// The identity a manifest describes, in the signed form.
pub fn identity_of(manifest: &Manifest, contract: Option<&str>) -> Identity {
    let mut capabilities: Vec<Need> = manifest
        .needs
        .iter()
        .map(|n| Need {
            capability: n.capability.clone(),
            target: n.target.clone(),
            access: access_name(n.access).to_string(),
        })
        .collect();
    capabilities.sort();
    Identity {
        id: manifest.id.clone(),
        version: manifest.version.clone(),
        contract: contract.map(str::to_string),
        capabilities,
    }
}

/// `read`, `write` or `admin`.
pub fn access_name(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
        Access::Admin => "admin",
    }
}

/// The loud warning for `--allow-unsigned`. It deliberately does not start
/// with `drhost: ` (that prefix is for errors).
pub fn override_warning(verdict: &Verdict) -> String {
    format!(
        "WARNING: running an UNVERIFIED plugin because of --allow-unsigned: {} (this override is recorded in the journal)",
        verdict.overridden.as_deref().unwrap_or("no trusted signature")
    )
}

/// `drhost sign`: reads the plugin once, describes those bytes (when they
/// are a plugin), writes their identity section if missing, and adds
/// `key`'s signature over them. Nothing is read from the file again, so a
/// file swapped while this runs cannot be described as one plugin and
/// signed as another. Returns what was done and a warning when the file is
/// a component but not a loadable plugin.
pub async fn sign(
    plugin: &Path,
    key: &signature::SigningKey,
    detached: bool,
    cache_dir: Option<PathBuf>,
) -> Result<(signature::SignOutcome, Option<String>), Error> {
    let file = PluginFile::read(plugin)?;
    file.check_is_component()?;
    let (identity, warning) = match crate::inspect::inspect_file(&file, cache_dir).await {
        Ok(report) => {
            let mut capabilities: Vec<Need> = report
                .capabilities
                .iter()
                .map(|c| Need {
                    capability: c.capability.clone(),
                    target: c.target.clone(),
                    access: c.access.to_string(),
                })
                .collect();
            capabilities.sort();
            (
                Some(Identity {
                    id: report.id,
                    version: report.version,
                    contract: report.contract,
                    capabilities,
                }),
                None,
            )
        }
        Err(Error::Refused(reason)) => (
            None,
            Some(format!(
                "signed without a drhost identity, because it is not a loadable plugin: {reason}"
            )),
        ),
        Err(e) => return Err(e),
    };
    let outcome = signature::sign_bytes(plugin, &file.bytes, key, identity.as_ref(), detached)?;
    Ok((outcome, warning))
}

/// Judges a plugin that is about to be (re)pinned: its signature and trust,
/// not the old pin (the caller checks the version against the lock). The
/// plugin must carry a signed identity.
pub fn assess_for_pinning(
    file: &PluginFile,
    trust: &TrustFile,
    lock_path: &Path,
    allow_downgrade: bool,
) -> Result<(Verdict, Identity), Error> {
    let (verdict, refusal) = assess(file, trust, &Lock::default(), Some(lock_path), allow_downgrade);
    if let Some(refusal) = refusal {
        return Err(refusal.into());
    }
    let identity = verdict.identity.clone().ok_or_else(|| {
        Error::from(TrustError::NoIdentity {
            path: file.path.clone(),
        })
    })?;
    Ok((verdict, identity))
}

/// `drhost lock PLUGIN`: verifies the plugin and pins it in the lock.
pub fn pin(file: &PluginFile, paths: &TrustPaths, source: &str) -> Result<(Verdict, PathBuf), Error> {
    let trust = paths.load_trust()?;
    let lock_path = paths.lock_or_default()?;
    let mut lock = Lock::load(&lock_path)?;
    // Re-pinning is the point: judge the signature, not the old pin.
    let (verdict, identity) = assess_for_pinning(file, &trust, &lock_path, true)?;
    lock.pin(
        &identity.id,
        lock::LockEntry {
            version: identity.version.clone(),
            digest: verdict.digest.clone(),
            source: source.to_string(),
            signers: verdict.signers.clone(),
        },
    );
    lock.save(&lock_path)?;
    Ok((verdict, lock_path))
}
