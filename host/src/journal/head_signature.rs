//! The journal's head signed with the operator's key, so a post-incident
//! review can trust the timeline, not only its internal consistency.
//!
//! `drhost journal sign RUN --key KEY` checks the hash chain (it signs only
//! an intact, ended journal), then signs `drhost-journal-head-v1`, the run
//! id and run-end's head, each on its own line, with Ed25519, and writes
//! `<journal>.sig` (JSON, 0600, atomically) beside the journal.
//! `drhost journal verify` checks that file when it is there: the run and
//! head it names must be the journal's, the signature must verify under the
//! public key it carries, and that key is reported as trusted only when the
//! trust file holds it. A changed journal no longer matches its head; a
//! changed `.sig` no longer verifies; a key nobody trusts is said so.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::chain::{State, Verdict};
use crate::error::Error;
use crate::trust::keys::{self, SigningKey};
use crate::trust::signature::write_atomically;
use crate::trust::trust_file::TrustFile;

/// What the signature covers, before the run id and the head.
const DOMAIN: &str = "drhost-journal-head-v1";

/// The contents of `<journal>.sig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadSignature {
    /// The run id (the journal's first event names it).
    pub run: String,
    /// run-end's head: the hash the whole chain ends in.
    pub head: String,
    /// The signer's key id, as `--key-id` or the key file's stem gave it.
    pub key_id: String,
    /// `ed25519:<hex>`, the form trust.toml takes.
    pub public_key: String,
    /// The Ed25519 signature, hex.
    pub signature: String,
    /// When it was signed (RFC 3339, UTC).
    pub signed_at: String,
}

/// Where the signature of `journal` goes: `<journal>.sig`, as a plugin's
/// detached signature.
pub fn path_for(journal: &Path) -> PathBuf {
    crate::trust::signature::detached_path(journal)
}

fn message(run: &str, head: &str) -> Vec<u8> {
    format!("{DOMAIN}\n{run}\n{head}\n").into_bytes()
}

/// Signs the head of the journal at `journal` (whose chain `verdict`
/// judged) with `key`; returns where the signature was written.
pub fn sign(journal: &Path, verdict: &Verdict, key: &SigningKey) -> Result<(PathBuf, HeadSignature), Error> {
    let (run, head) = match (&verdict.state, &verdict.run, &verdict.head) {
        (State::Ok, Some(run), Some(head)) => (run, head),
        (State::Incomplete, ..) => {
            return Err(Error::Refused(format!(
                "{} has no run-end yet ({}): sign it once the run has ended",
                journal.display(),
                verdict.reason.as_deref().unwrap_or("incomplete")
            )))
        }
        _ => {
            return Err(Error::Refused(format!(
                "{} is broken at line {} ({}): a changed journal is not signed; `drhost journal verify` says more",
                journal.display(),
                verdict.broken_line.unwrap_or_default(),
                verdict.reason.as_deref().unwrap_or("broken")
            )))
        }
    };
    let signature = key.sign_message(&message(run, head));
    let signed = HeadSignature {
        run: run.clone(),
        head: head.clone(),
        key_id: key.key_id.clone(),
        public_key: keys::public_key_text(&key.public_key()),
        signature: hex::encode(signature.as_ref()),
        signed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let path = path_for(journal);
    let mut text = serde_json::to_string_pretty(&signed).map_err(|e| Error::Internal(e.to_string()))?;
    text.push('\n');
    write_atomically(&path, text.as_bytes())
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok((path, signed))
}

/// How a journal's head signature stands.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SignatureCheck {
    /// No `<journal>.sig`.
    Unsigned,
    /// It verifies and names this journal's run and head.
    Valid {
        /// The signer's key id as the signature says.
        key_id: String,
        /// The key id the trust file gives this key, when it holds it.
        trusted_as: Option<String>,
        /// When it was signed.
        signed_at: String,
    },
    /// It is there but does not vouch for this journal; the text says why.
    Invalid {
        /// Why, in words.
        reason: String,
    },
}

/// Checks `<journal>.sig` against the journal's chain `verdict`, and its key
/// against `trust` (when a trust file was found).
pub fn check(journal: &Path, verdict: &Verdict, trust: Option<&TrustFile>) -> SignatureCheck {
    let path = path_for(journal);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return SignatureCheck::Unsigned,
        Err(e) => return invalid(format!("cannot read {}: {e}", path.display())),
    };
    let signed: HeadSignature = match serde_json::from_str(&text) {
        Ok(signed) => signed,
        Err(e) => return invalid(format!("{} is not a journal signature ({e})", path.display())),
    };
    if verdict.state != State::Ok {
        return invalid("the journal's chain is not intact, so no signature can vouch for it".into());
    }
    if verdict.run.as_deref() != Some(signed.run.as_str()) || verdict.head.as_deref() != Some(signed.head.as_str()) {
        return invalid(format!(
            "it signs run {} with head {}, but the journal is run {} with head {}: the journal or the signature was changed or swapped",
            crate::console::plugin_text(&signed.run),
            crate::console::plugin_text(&signed.head),
            verdict.run.as_deref().unwrap_or("?"),
            verdict.head.as_deref().unwrap_or("?")
        ));
    }
    let key = match keys::parse_public_key(&signed.public_key) {
        Ok(key) => key,
        Err(e) => return invalid(format!("its public key is unusable: {e}")),
    };
    let signature = match hex::decode(&signed.signature)
        .ok()
        .and_then(|bytes| ed25519_compact::Signature::from_slice(&bytes).ok())
    {
        Some(signature) => signature,
        None => return invalid("its signature is not 64 bytes of hex".into()),
    };
    if key.verify(message(&signed.run, &signed.head), &signature).is_err() {
        return invalid("the signature does not verify under the key it names: it was changed".into());
    }
    SignatureCheck::Valid {
        key_id: crate::console::plugin_text(&signed.key_id).into_owned(),
        trusted_as: trust.and_then(|t| t.key_for(|k| *k == key)).map(|k| k.id.clone()),
        signed_at: crate::console::plugin_text(&signed.signed_at).into_owned(),
    }
}

fn invalid(reason: String) -> SignatureCheck {
    SignatureCheck::Invalid { reason }
}
