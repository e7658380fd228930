//! The `s3` interface: one small function per WIT function; the checks and
//! the real client calls are in the inner `operations` module.

use std::time::Instant;

use serde_json::json;
use wasmtime::component::Resource;

use super::{Bucket, S3Access};
use crate::bindings::drhost::runbook::s3::{Host, HostBucket, ObjectHead, ObjectInfo};
use crate::bindings::types::Error as CapError;
use crate::caps::blob::Blob;
use crate::caps::journal_call;
use crate::sandbox::RunState;

impl Host for RunState {}

impl HostBucket for RunState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<Bucket>, CapError>> {
        let started = Instant::now();
        let result = operations::open(&self.ctx, &label);
        journal_call(
            self,
            "s3.open",
            json!({ "target": label }),
            started,
            &result,
            |b| json!({ "bucket": b.bucket }),
        );
        Ok(match result {
            Ok(b) => Ok(self.table.push(b)?),
            Err(e) => Err(e),
        })
    }

    async fn list(
        &mut self,
        bucket: Resource<Bucket>,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<ObjectInfo>, CapError>> {
        let started = Instant::now();
        let b = self.table.get(&bucket)?;
        let label = b.label.clone();
        let result = if super::allows_prefix(&self.ctx.grants.s3, &label, &prefix, S3Access::Read) {
            operations::list(&self.ctx, b, &prefix).await
        } else {
            Err(CapError::AccessDenied(super::denial(
                &self.ctx.plugin_id,
                &label,
                "list",
                &format!("{prefix}*"),
                S3Access::Read,
            )))
        };
        journal_call(
            self,
            "s3.list",
            json!({ "target": label, "prefix": prefix }),
            started,
            &result,
            |l| json!({ "objects": l.len() }),
        );
        Ok(result)
    }

    async fn head(&mut self, bucket: Resource<Bucket>, key: String) -> wasmtime::Result<Result<ObjectHead, CapError>> {
        let started = Instant::now();
        let b = self.table.get(&bucket)?;
        let label = b.label.clone();
        let result = if super::allows_key(&self.ctx.grants.s3, &label, &key, S3Access::Read) {
            operations::head(&self.ctx, b, &key).await
        } else {
            Err(CapError::AccessDenied(super::denial(
                &self.ctx.plugin_id,
                &label,
                "head",
                &key,
                S3Access::Read,
            )))
        };
        journal_call(
            self,
            "s3.head",
            json!({ "target": label, "key": key }),
            started,
            &result,
            |h| json!({ "size": h.info.size, "etag": h.info.etag }),
        );
        Ok(result)
    }

    async fn put(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        data: Resource<Blob>,
        metadata: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<ObjectInfo, CapError>> {
        let started = Instant::now();
        let blob = self.table.get(&data)?;
        let (path, size, sha256) = (blob.path().to_owned(), blob.size(), blob.sha256().to_string());
        let b = self.table.get(&bucket)?;
        let label = b.label.clone();
        let args = json!({
            "target": label,
            "key": key,
            "size": size,
            "sha256": sha256,
            "metadata": metadata.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        });
        let result = if super::allows_key(&self.ctx.grants.s3, &label, &key, S3Access::Write) {
            operations::put(&self.ctx, b, &key, &path, size, metadata).await
        } else {
            Err(CapError::AccessDenied(super::denial(
                &self.ctx.plugin_id,
                &label,
                "put",
                &key,
                S3Access::Write,
            )))
        };
        journal_call(self, "s3.put", args, started, &result, |i| json!({ "etag": i.etag }));
        Ok(result)
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

mod operations {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
    use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat};

    use super::super::{allows_key, Bucket, S3Access};
    use crate::bindings::drhost::runbook::s3::{ObjectHead, ObjectInfo};
    use crate::bindings::types::Error as CapError;
    use crate::sandbox::RunContext;

    /// Longest a list or head may take (never beyond the deadline); a put
    /// may take until the deadline.
    const CALL_TIMEOUT: Duration = Duration::from_secs(60);

    pub(super) fn open(ctx: &RunContext, label: &str) -> Result<Bucket, CapError> {
        if !ctx.grants.s3.iter().any(|g| g.target == label) {
            return Err(CapError::AccessDenied(format!(
                "s3 target `{label}` is not granted to plugin `{}`; to allow it add to drhost.toml:\n{}",
                ctx.plugin_id,
                super::super::grant_lines(&ctx.plugin_id, label, "*", S3Access::Read)
            )));
        }
        let target = ctx.grants.s3_targets.get(label).ok_or_else(|| {
            CapError::NotFound(format!(
                "no S3 target `{label}`: add [targets.s3.{label}] with endpoint, region, bucket, access_key and secret_key to drhost.toml"
            ))
        })?;
        let access_key = target.access_key.resolve().map_err(CapError::Unavailable)?;
        let secret_key = target.secret_key.resolve().map_err(CapError::Unavailable)?;
        let credentials = Credentials::new(access_key, secret_key, None, None, "drhost-config");
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&target.endpoint)
            .region(Region::new(target.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(target.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Ok(Bucket {
            label: label.to_string(),
            bucket: target.bucket.clone(),
            client: aws_sdk_s3::Client::from_conf(config),
        })
    }

    fn limit(ctx: &RunContext, cap: Duration) -> Duration {
        ctx.deadline.saturating_duration_since(Instant::now()).min(cap)
    }

    fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
        what: &str,
        b: &Bucket,
        e: SdkError<E, HttpResponse>,
    ) -> CapError {
        let text = format!(
            "s3 {what} on `{}` (bucket {}): {}",
            b.label,
            b.bucket,
            DisplayErrorContext(&e)
        );
        match &e {
            SdkError::TimeoutError(_) => CapError::Timeout(text),
            SdkError::DispatchFailure(_) => CapError::Unavailable(text),
            SdkError::ServiceError(se) => {
                let status = se.raw().status().as_u16();
                match se.err().code() {
                    Some("NoSuchKey" | "NoSuchBucket" | "NotFound") => CapError::NotFound(text),
                    _ if status == 404 => CapError::NotFound(text),
                    _ if status == 503 => CapError::Unavailable(text),
                    _ => CapError::Failed(text),
                }
            }
            _ => CapError::Failed(text),
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

    pub(super) async fn list(ctx: &RunContext, b: &Bucket, prefix: &str) -> Result<Vec<ObjectInfo>, CapError> {
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let request = b
                .client
                .list_objects_v2()
                .bucket(&b.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take());
            let page = bounded("list", b, limit(ctx, CALL_TIMEOUT), request.send()).await?;
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

    pub(super) async fn head(ctx: &RunContext, b: &Bucket, key: &str) -> Result<ObjectHead, CapError> {
        let request = b.client.head_object().bucket(&b.bucket).key(key);
        let out = bounded("head", b, limit(ctx, CALL_TIMEOUT), request.send()).await?;
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

    pub(super) async fn put(
        ctx: &RunContext,
        b: &Bucket,
        key: &str,
        path: &Path,
        size: u64,
        metadata: Vec<(String, String)>,
    ) -> Result<ObjectInfo, CapError> {
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
        let until_deadline = ctx.deadline.saturating_duration_since(Instant::now());
        let out = bounded("put", b, until_deadline, request.send()).await?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            last_modified: String::new(),
            etag: out.e_tag().unwrap_or_default().trim_matches('"').to_string(),
        })
    }
}
