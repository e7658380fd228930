//! `secret`: values the host holds for the plugin. A plugin gets a handle
//! (from Vault, an S3 object, the operator's `[secrets]`, or composed from
//! others) that it can pass to other capabilities — a Vault write, a Docker
//! secret, a connection URL — without the value entering its memory. It
//! sees a value only through `reveal`, which needs the grant of where the
//! value came from and is journaled without the value.

mod compose;
mod host;

use zeroize::Zeroizing;

pub(crate) use compose::{compose, describe_parts};

/// A secret value held by the host; the plugin holds a handle. The value is
/// wiped from memory when the handle is dropped.
pub struct Secret {
    /// `mount/path#field`, or `composed`.
    pub(crate) origin: String,
    /// The Vault target and path it was read from, for the `reveal` grant
    /// check (`None` when composed: composed secrets cannot be revealed).
    pub(crate) source: Option<(String, String)>,
    pub(crate) value: Zeroizing<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} = <redacted>)", self.origin)
    }
}
