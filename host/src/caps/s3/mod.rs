//! `s3`: list, head, get (streamed into a blob's host file), get-secret
//! (a small object into a host-held secret) and put (streamed from a blob)
//! on an S3-compatible bucket by target label.
//!
//! The operator's `[targets.s3.<label>]` gives endpoint, region, bucket,
//! path style and the credentials' places (`env:`/`file:`/`vault:`, read
//! here and only here, when opening); `[[plugins.<id>.s3]]` grants key-prefix
//! globs with `read` / `write`. Every call is checked against the key,
//! bounded by the run's deadline and journaled without credentials.
//!
//! Bulk data never passes through memory whole: a get is written and hashed
//! chunk by chunk (and checked against the expected or recorded SHA-256 and
//! the size before the blob is kept); a put over 64 MiB goes up as a
//! multipart upload of 16 MiB parts read from the file, a few at a time.
//! A listing reads at most 10,000 keys (`client::MAX_LIST_KEYS`).

use crate::bindings::types::Access;
use crate::caps::kit::gate::{Gate, TargetTable};
use crate::config::PluginGrants;

mod client;
mod download;
pub(crate) mod grant;
mod host;

pub(crate) use client::check_key;
pub use client::{http_client, MAX_LIST_KEYS};
pub use grant::{allows_key, allows_prefix, covers, denial, grant_lines, S3Access, S3Grant, S3Target};

/// The client of one target's bucket, held in the run's resource table.
pub struct Bucket {
    label: String,
    bucket: String,
    /// The service's endpoint, for messages.
    endpoint: String,
    client: aws_sdk_s3::Client,
}

/// `[targets.s3.LABEL]`.
pub(crate) const TARGETS: TargetTable = TargetTable {
    capability: "s3",
    title: "S3",
    keys: "endpoint = \"https://S3-ENDPOINT\"\nregion = \"REGION\"\nbucket = \"BUCKET\"\naccess_key = \"env:AWS_ACCESS_KEY_ID\"\nsecret_key = \"env:AWS_SECRET_ACCESS_KEY\"",
};

/// `s3` needs: a target label; `admin` asks for write.
pub(crate) const GATE: Gate = Gate {
    capability: "s3",
    covers,
    advice: need_lines,
    changes: |grants| crate::caps::kit::gate::changed_targets(&grants.s3, &[S3Access::Write]),
};

/// The TOML that would cover an `s3` need: the grant, and the target when
/// it is not configured.
fn need_lines(grants: &PluginGrants, id: &str, label: &str, access: Access) -> String {
    let access = match access {
        Access::Read => S3Access::Read,
        Access::Write | Access::Admin => S3Access::Write,
    };
    TARGETS.with_table(grant_lines(id, label, "PREFIX/*", access), &grants.s3_targets, label)
}
