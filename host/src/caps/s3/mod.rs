//! `s3`: list, head and put (streamed from a blob's host file) on an
//! S3-compatible bucket by target label.
//!
//! The operator's `[targets.s3.<label>]` gives endpoint, region, bucket,
//! path style and the credentials' places (`env:`/`file:`, read here and
//! only here, when opening); `[[plugins.<id>.s3]]` grants key-prefix globs
//! with `read` / `write`. Every call is checked against the key, bounded by
//! the run's deadline and journaled without credentials.

mod grant;
mod host;

pub use grant::{allows_key, allows_prefix, covers, denial, grant_lines, S3Access, S3Grant, S3Target};

/// The client of one target's bucket, held in the run's resource table.
pub struct Bucket {
    label: String,
    bucket: String,
    client: aws_sdk_s3::Client,
}
