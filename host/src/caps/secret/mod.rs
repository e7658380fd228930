//! `secret`: values the host holds for the plugin. A plugin gets a handle
//! (from Vault, an S3 object, the operator's `[secrets]`, or composed from
//! others) that it can pass to other capabilities — a Vault write, a Docker
//! secret, a connection URL — without the value entering its memory. It
//! sees a value only through `reveal`, which needs the grant of where the
//! value came from and is journaled without the value.
//!
//! The operator's own secrets are named in `[secrets]` (`env:`/`file:`,
//! read here and only here, when a plugin asks for one) and granted by
//! name in `[[plugins.<id>.secret]]`.

mod compose;
mod grant;
mod host;

use zeroize::Zeroizing;

pub(crate) use compose::{compose, describe_parts};
pub(crate) use grant::granted_secrets;
pub use grant::{allows, covers, grant_lines, laundering, OperatorSecret, SecretAccess, SecretGrant};

/// A secret value held by the host; the plugin holds a handle. The value is
/// wiped from memory when the handle is dropped.
pub struct Secret {
    /// What the plugin and the journal see: `mount/path#field`,
    /// `operator:NAME`, `s3:LABEL/KEY` or `composed`.
    pub(crate) origin: String,
    /// Where it came from, for the `reveal` grant check.
    pub(crate) source: Source,
    pub(crate) value: Zeroizing<String>,
}

/// Where a [`Secret`] came from: whose `reveal` grant applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A field read from Vault target `label` at `path`.
    Vault { label: String, path: String },
    /// The operator's `[secrets]` entry `name`.
    Operator { name: String },
    /// An object `key` of S3 target `label`.
    S3 { label: String, key: String },
    /// Made by `compose`: never revealed.
    Composed,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} = <redacted>)", self.origin)
    }
}

/// `secret` needs: `NAME` (hold the operator secret) or `reveal:NAME`.
pub(crate) const GATE: crate::caps::kit::gate::Gate = crate::caps::kit::gate::Gate {
    capability: "secret",
    covers,
    advice: grant::need_lines,
    changes: crate::caps::kit::gate::changes_nothing,
};
