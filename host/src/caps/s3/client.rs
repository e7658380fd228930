//! The `s3` capability's checks and client calls: opening a bucket with the
//! target's credentials, listing, heads, streamed downloads into blobs
//! (checked against the expected sha256), small objects read into secrets,
//! and single or multipart uploads.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation, SharedHttpClient};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures_util::{StreamExt, TryStreamExt};
use zeroize::Zeroizing;

use super::download::{read_secret, save, sha256_hex, Verified};
use super::{allows_key, Bucket, S3Access};
use crate::bindings::drhost::runbook::s3::{ObjectHead, ObjectInfo};
use crate::bindings::types::Error as CapError;
use crate::caps::blob::{Blob, Origin};
use crate::sandbox::RunContext;

/// Longest a list, a head, or the first answer of a get may take (never
/// beyond the deadline); a get's body and a put may take until the deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Blobs larger than this go up as a multipart upload.
const MULTIPART_THRESHOLD: u64 = 64 << 20;
/// The size of each part of a multipart upload (the last may be smaller).
const PART_SIZE: u64 = 16 << 20;
/// Parts uploaded at once; each streams from the file, none is held in memory.
const PARTS_IN_FLIGHT: usize = 4;
/// How long aborting a failed multipart upload may take.
const ABORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most keys one `list` reads (the grants may then show fewer).
pub const MAX_LIST_KEYS: usize = 10_000;
/// Keys asked for per page of a listing (S3's own maximum).
const LIST_PAGE: i32 = 1_000;

/// The HTTP client of every S3 bucket (and of the tests' S3 client): hyper
/// with rustls on the ring provider, the one provider every TLS client of
/// drhost uses, so the build has no second crypto library (aws-lc). An
/// `https` endpoint is checked against the system's root certificates, as
/// the SDK's default client does (loaded on the first TLS connection).
pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

pub(crate) async fn open(ctx: &RunContext, label: &str) -> Result<Bucket, CapError> {
    let refusal = || {
        let grant = super::grant_lines(&ctx.plugin_id, label, "*", S3Access::Read);
        crate::caps::kit::text::not_granted(&format!("s3 target `{label}`"), &ctx.plugin_id, &grant)
    };
    let target = super::TARGETS.granted(&ctx.grants.s3, &ctx.grants.s3_targets, label, refusal)?;
    let vaults = &ctx.grants.secret_vaults;
    let access_key = target.access_key.resolve(vaults).await.map_err(CapError::Unavailable)?;
    let secret_key = target.secret_key.resolve(vaults).await.map_err(CapError::Unavailable)?;
    let credentials = Credentials::new(access_key, secret_key, None, None, "drhost-config");
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&target.endpoint)
        .region(Region::new(target.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(target.path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .http_client(http_client())
        .build();
    Ok(Bucket {
        label: label.to_string(),
        bucket: target.bucket.clone(),
        endpoint: target.endpoint.clone(),
        client: aws_sdk_s3::Client::from_conf(config),
    })
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
    b: &Bucket,
    e: SdkError<E, HttpResponse>,
) -> CapError {
    let text = format!(
        "s3 {what} on `{}` (bucket {} at {}): {}",
        b.label,
        b.bucket,
        b.endpoint,
        reason(&e)
    );
    match &e {
        SdkError::TimeoutError(_) => CapError::Timeout(text),
        SdkError::DispatchFailure(_) => CapError::Unavailable(text),
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            match se.err().code() {
                Some("NoSuchKey" | "NoSuchBucket" | "NotFound" | "NoSuchUpload") => CapError::NotFound(text),
                _ if status == 404 => CapError::NotFound(text),
                _ if status == 503 => CapError::Unavailable(text),
                _ => CapError::Failed(text),
            }
        }
        _ => CapError::Failed(text),
    }
}

/// One readable reason: the service's status, code and message, or the
/// innermost cause of a transport failure (e.g. `Connection refused`),
/// never the SDK's debug dump.
fn reason<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &SdkError<E, HttpResponse>) -> String {
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("error");
            match se.err().message() {
                Some(message) => format!("{status} {code}: {message}"),
                None => format!("{status} {code}"),
            }
        }
        SdkError::TimeoutError(_) => "the request timed out".to_string(),
        other => match crate::caps::kit::text::root_cause(other) {
            text if text.is_empty() => DisplayErrorContext(other).to_string(),
            text => text,
        },
    }
}

async fn bounded<T, E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
    b: &Bucket,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, CapError> {
    match tokio::time::timeout(limit, fut).await {
        Err(_) => Err(CapError::Timeout(format!(
            "s3 {what} on `{}` took over {limit:?}",
            b.label
        ))),
        Ok(r) => r.map_err(|e| classify(what, b, e)),
    }
}

fn rfc3339(t: Option<&DateTime>) -> String {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).unwrap_or_default()
}

/// The objects under `prefix` the grants show, page by page; paging stops
/// once the listing has gone past [`MAX_LIST_KEYS`] keys, and the call then
/// fails whole (`list` has no room to say "truncated").
pub(crate) async fn list(ctx: &RunContext, b: &Bucket, prefix: &str) -> Result<Vec<ObjectInfo>, CapError> {
    let mut objects = Vec::new();
    let mut seen = 0usize;
    let mut token = None;
    loop {
        let request = b
            .client
            .list_objects_v2()
            .bucket(&b.bucket)
            .prefix(prefix)
            .max_keys(LIST_PAGE)
            .set_continuation_token(token.take());
        let page = bounded("list", b, ctx.time_left_within(CALL_TIMEOUT), request.send()).await?;
        seen += page.contents().len();
        if seen > MAX_LIST_KEYS {
            return Err(CapError::InvalidArgument(format!(
                "s3 list of `{prefix}` on `{}`: more than {MAX_LIST_KEYS} keys start with it, drhost's cap per call; the listing stopped there and nothing was returned: list a longer prefix (e.g. `{prefix}` and the first characters of the keys wanted)",
                b.label
            )));
        }
        for o in page.contents() {
            let key = o.key().unwrap_or_default();
            // Only keys inside the grant are shown.
            if !allows_key(&ctx.grants.s3, &b.label, key, S3Access::Read) {
                continue;
            }
            objects.push(ObjectInfo {
                key: key.to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                last_modified: rfc3339(o.last_modified()),
                etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            });
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(objects)
}

pub(crate) async fn head(ctx: &RunContext, b: &Bucket, key: &str) -> Result<ObjectHead, CapError> {
    let request = b.client.head_object().bucket(&b.bucket).key(key);
    let out = bounded("head", b, ctx.time_left_within(CALL_TIMEOUT), request.send()).await?;
    let mut metadata: Vec<(String, String)> = out
        .metadata()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    metadata.sort();
    Ok(ObjectHead {
        info: ObjectInfo {
            key: key.to_string(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            last_modified: rfc3339(out.last_modified()),
            etag: out.e_tag().unwrap_or_default().trim_matches('"').to_string(),
        },
        metadata,
    })
}

/// Downloads `key` into a new blob, checked against `expect` (else the
/// object's `sha256` metadata) and the object's size.
pub(crate) async fn get(
    ctx: &RunContext,
    b: &Bucket,
    key: &str,
    expect: Option<&str>,
) -> Result<(Blob, Verified), CapError> {
    let expected = expected_sha256(expect)?;
    let request = b.client.get_object().bucket(&b.bucket).key(key);
    let out = bounded("get", b, ctx.time_left_within(CALL_TIMEOUT), request.send()).await?;
    let check = checksum_to_match(expected, &out);
    let length = out.content_length().map(|n| n.max(0) as u64);
    let what = format!("s3 get of `{key}` on `{}`", b.label);
    let until_deadline = ctx.time_left();
    let charge = ctx.disk.charge(&what);
    let etag = out.e_tag().unwrap_or_default().trim_matches('"').to_string();
    let put_by_plugin = out
        .metadata()
        .and_then(|m| m.get(crate::caps::blob::MARK_KEY))
        .is_some_and(|mark| mark == crate::caps::blob::MARK_PLUGIN);
    let origin = |verified: Verified| Origin::S3 {
        target: b.label.clone(),
        key: key.to_string(),
        etag,
        verified: verified.name(),
        put_by_plugin,
    };
    let saved = save(out.body, ctx.blob_dir()?, length, check, &what, charge, origin);
    match tokio::time::timeout(until_deadline, saved).await {
        Err(_) => Err(CapError::Timeout(format!(
            "{what} did not finish before the run's deadline; nothing was kept"
        ))),
        Ok(r) => r,
    }
}

/// Reads `key`, at most 64 KiB, into memory that is
/// wiped when dropped, checked like [`get`]; the text of a secret.
pub(crate) async fn get_secret(
    ctx: &RunContext,
    b: &Bucket,
    key: &str,
    expect: Option<&str>,
) -> Result<(Zeroizing<String>, Verified), CapError> {
    let expected = expected_sha256(expect)?;
    let request = b.client.get_object().bucket(&b.bucket).key(key);
    let out = bounded("get-secret", b, ctx.time_left_within(CALL_TIMEOUT), request.send()).await?;
    let check = checksum_to_match(expected, &out);
    let length = out.content_length().map(|n| n.max(0) as u64);
    let what = format!("s3 get-secret of `{key}` on `{}`", b.label);
    let read = read_secret(out.body, length, check, &what);
    match tokio::time::timeout(ctx.time_left_within(CALL_TIMEOUT), read).await {
        Err(_) => Err(CapError::Timeout(format!("{what} took over {CALL_TIMEOUT:?}"))),
        Ok(r) => r,
    }
}

/// The plugin's `expect-sha256`, checked to be a SHA-256 in hex.
fn expected_sha256(expect: Option<&str>) -> Result<Option<(String, Verified)>, CapError> {
    expect
        .map(|text| {
            sha256_hex(text).map(|h| (h, Verified::Expected)).ok_or_else(|| {
                CapError::InvalidArgument(format!(
                    "expect-sha256 {text:?} is not a SHA-256 in hex (64 characters)"
                ))
            })
        })
        .transpose()
}

/// What a download is checked against: `expected`, else the object's
/// `sha256` user metadata, if any.
fn checksum_to_match(
    expected: Option<(String, Verified)>,
    out: &aws_sdk_s3::operation::get_object::GetObjectOutput,
) -> Option<(String, Verified)> {
    expected.or_else(|| {
        let text = out.metadata()?.get("sha256")?;
        Some((text.trim().to_ascii_lowercase(), Verified::Metadata))
    })
}

/// Whether a blob of `size` bytes goes up as a multipart upload.
pub(crate) fn is_multipart(size: u64) -> bool {
    size > MULTIPART_THRESHOLD
}

/// The plugin's `metadata` for an object, with drhost's mark of who made
/// its bytes ([`MARK_KEY`] = `mark`); a plugin naming that key itself is
/// refused, so it cannot pass its own bytes off as a backup.
///
/// [`MARK_KEY`]: crate::caps::blob::MARK_KEY
pub(crate) fn with_origin_mark(
    mut metadata: Vec<(String, String)>,
    mark: &str,
) -> Result<Vec<(String, String)>, CapError> {
    use crate::caps::blob::MARK_KEY;
    if metadata.iter().any(|(k, _)| k.eq_ignore_ascii_case(MARK_KEY)) {
        return Err(CapError::InvalidArgument(format!(
            "metadata key `{MARK_KEY}` is drhost's own: it records whether a plugin made an object's bytes. Use another name"
        )));
    }
    metadata.push((MARK_KEY.to_string(), mark.to_string()));
    Ok(metadata)
}

pub(crate) async fn put(
    ctx: &RunContext,
    b: &Bucket,
    key: &str,
    path: &Path,
    size: u64,
    metadata: Vec<(String, String)>,
) -> Result<ObjectInfo, CapError> {
    let etag = if is_multipart(size) {
        put_multipart(ctx, b, key, path, size, metadata).await?
    } else {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| CapError::Failed(format!("reading the blob for s3 put: {e}")))?;
        let request = b
            .client
            .put_object()
            .bucket(&b.bucket)
            .key(key)
            .content_length(size as i64)
            .set_metadata(Some(metadata.into_iter().collect()))
            .body(body);
        let until_deadline = ctx.time_left();
        let out = bounded("put", b, until_deadline, request.send()).await?;
        out.e_tag().unwrap_or_default().to_string()
    };
    Ok(ObjectInfo {
        key: key.to_string(),
        size,
        last_modified: String::new(),
        etag: etag.trim_matches('"').to_string(),
    })
}

/// Uploads the file at `path` in [`PART_SIZE`] parts, a few at a time,
/// with `metadata` on the upload; aborts the upload on any failure.
/// Returns the object's ETag.
async fn put_multipart(
    ctx: &RunContext,
    b: &Bucket,
    key: &str,
    path: &Path,
    size: u64,
    metadata: Vec<(String, String)>,
) -> Result<String, CapError> {
    let create = b
        .client
        .create_multipart_upload()
        .bucket(&b.bucket)
        .key(key)
        .set_metadata(Some(metadata.into_iter().collect()));
    let created = bounded(
        "put (create multipart upload)",
        b,
        ctx.time_left_within(CALL_TIMEOUT),
        create.send(),
    )
    .await?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| CapError::Failed(format!("s3 put of `{key}` on `{}`: no upload id", b.label)))?
        .to_string();
    let until_deadline = ctx.time_left();
    let uploaded = match tokio::time::timeout(until_deadline, upload_parts(b, key, &upload_id, path, size)).await {
        Err(_) => Err(CapError::Timeout(format!(
            "s3 put of `{key}` on `{}` did not finish before the run's deadline",
            b.label
        ))),
        Ok(r) => r,
    };
    let Err(error) = uploaded else { return uploaded };
    let abort = b
        .client
        .abort_multipart_upload()
        .bucket(&b.bucket)
        .key(key)
        .upload_id(&upload_id)
        .send();
    let note = match tokio::time::timeout(ABORT_TIMEOUT, abort).await {
        Ok(Ok(_)) => "; the multipart upload was aborted".to_string(),
        Ok(Err(e)) => format!("; aborting upload {upload_id} failed too: {}", DisplayErrorContext(&e)),
        Err(_) => format!("; aborting upload {upload_id} took over {ABORT_TIMEOUT:?}"),
    };
    let (kind, message) = crate::caps::kit::call::error_parts(&error);
    let message = format!("{message}{note}");
    Err(match kind {
        "timeout" => CapError::Timeout(message),
        "unavailable" => CapError::Unavailable(message),
        "not-found" => CapError::NotFound(message),
        _ => CapError::Failed(message),
    })
}

/// Uploads every part, then completes the upload with their ETags.
async fn upload_parts(b: &Bucket, key: &str, upload_id: &str, path: &Path, size: u64) -> Result<String, CapError> {
    let parts = (0..size.div_ceil(PART_SIZE)).map(|i| {
        let offset = i * PART_SIZE;
        (i as i32 + 1, offset, PART_SIZE.min(size - offset))
    });
    let completed: Vec<CompletedPart> = futures_util::stream::iter(parts)
        .map(|(number, offset, len)| upload_part(b, key, upload_id, path, number, offset, len))
        .buffered(PARTS_IN_FLIGHT)
        .try_collect()
        .await?;
    let complete = b
        .client
        .complete_multipart_upload()
        .bucket(&b.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send();
    let out = complete
        .await
        .map_err(|e| classify("put (complete multipart upload)", b, e))?;
    Ok(out.e_tag().unwrap_or_default().to_string())
}

/// Uploads bytes `offset..offset + len` of the file as part `number`,
/// streamed from the file.
async fn upload_part(
    b: &Bucket,
    key: &str,
    upload_id: &str,
    path: &Path,
    number: i32,
    offset: u64,
    len: u64,
) -> Result<CompletedPart, CapError> {
    let body = ByteStream::read_from()
        .path(path)
        .offset(offset)
        .length(Length::Exact(len))
        .build()
        .await
        .map_err(|e| CapError::Failed(format!("reading part {number} of the blob for s3 put: {e}")))?;
    let request = b
        .client
        .upload_part()
        .bucket(&b.bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .content_length(len as i64)
        .body(body);
    let out = request
        .send()
        .await
        .map_err(|e| classify(&format!("put (part {number})"), b, e))?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(String::from))
        .build())
}

/// Refuses `what` (`head`, `get`, `put`) of `key` on `label` unless a grant
/// gives `access` to a prefix covering it.
pub(crate) fn check_key(
    ctx: &RunContext,
    label: &str,
    what: &str,
    key: &str,
    access: S3Access,
) -> Result<(), CapError> {
    if super::allows_key(&ctx.grants.s3, label, key, access) {
        return Ok(());
    }
    Err(CapError::AccessDenied(super::denial(
        &ctx.plugin_id,
        label,
        what,
        key,
        access,
    )))
}

/// Refuses listing `prefix` on `label` unless a grant covers every key it could return.
pub(crate) fn check_prefix(
    ctx: &RunContext,
    label: &str,
    what: &str,
    prefix: &str,
    access: S3Access,
) -> Result<(), CapError> {
    if super::allows_prefix(&ctx.grants.s3, label, prefix, access) {
        return Ok(());
    }
    let keys = format!("{prefix}*");
    Err(CapError::AccessDenied(super::denial(
        &ctx.plugin_id,
        label,
        what,
        &keys,
        access,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_mark_is_drhosts_and_a_plugin_cannot_set_it() {
        let marked = with_origin_mark(vec![("sha256".into(), "ab".into())], "plugin").unwrap();
        assert_eq!(
            marked.last(),
            Some(&("drhost-origin".to_string(), "plugin".to_string()))
        );
        for spelled in ["drhost-origin", "DRHOST-Origin"] {
            let refused = with_origin_mark(vec![(spelled.into(), "host".into())], "plugin");
            assert!(
                matches!(&refused, Err(CapError::InvalidArgument(m)) if m.contains("drhost's own")),
                "{refused:?}"
            );
        }
    }
}
