//! The `s3` interface as the plugin sees it: one short function per WIT
//! function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the checks and the real client
//! calls are in `client.rs`.
//!
//! `get-secret` journals the key and whether the value was verified, never
//! the value, its size or its checksum.

use serde_json::json;
use wasmtime::component::Resource;

use super::client;
use super::{Bucket, S3Access};
use crate::bindings::drhost::runbook::s3::{Host, HostBucket, ObjectHead, ObjectInfo};
use crate::caps::blob::Blob;
use crate::caps::kit::Answer;
use crate::caps::secret::{Secret, Source};
use crate::sandbox::RunState;

impl Host for RunState {}

impl HostBucket for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Bucket>> {
        let ctx = self.ctx.clone();
        let summary = |b: &Bucket| json!({ "bucket": b.bucket });
        let bucket = ctx
            .audited("s3.open", json!({ "target": label }), summary, async {
                Ok(client::open(&ctx, &label).await?)
            })
            .await?;
        Ok(self.table.push(bucket)?)
    }

    async fn list(&mut self, bucket: Resource<Bucket>, prefix: String) -> Answer<Vec<ObjectInfo>> {
        let ctx = self.ctx.clone();
        let b = self.table.get(&bucket)?;
        let args = json!({ "target": b.label, "prefix": prefix });
        let summary = |l: &Vec<ObjectInfo>| json!({ "objects": l.len() });
        ctx.audited("s3.list", args, summary, async {
            client::check_prefix(&ctx, &b.label, "list", &prefix, S3Access::Read)?;
            Ok(client::list(&ctx, b, &prefix).await?)
        })
        .await
    }

    async fn head(&mut self, bucket: Resource<Bucket>, key: String) -> Answer<ObjectHead> {
        let ctx = self.ctx.clone();
        let b = self.table.get(&bucket)?;
        let args = json!({ "target": b.label, "key": key });
        let summary = |h: &ObjectHead| json!({ "size": h.info.size, "etag": h.info.etag });
        ctx.audited("s3.head", args, summary, async {
            client::check_key(&ctx, &b.label, "head", &key, S3Access::Read)?;
            Ok(client::head(&ctx, b, &key).await?)
        })
        .await
    }

    async fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        expect_sha256: Option<String>,
    ) -> Answer<Resource<Blob>> {
        let ctx = self.ctx.clone();
        let b = self.table.get(&bucket)?;
        let args = json!({ "target": b.label, "key": key, "expect_sha256": expect_sha256 });
        let summary = |(blob, verified): &(Blob, super::download::Verified)| json!({ "size": blob.size(), "sha256": blob.sha256(), "verified": verified.name() });
        let (blob, _) = ctx
            .audited("s3.get", args, summary, async {
                client::check_key(&ctx, &b.label, "get", &key, S3Access::Read)?;
                Ok(client::get(&ctx, b, &key, expect_sha256.as_deref()).await?)
            })
            .await?;
        Ok(self.table.push(blob)?)
    }

    async fn put(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        data: Resource<Blob>,
        metadata: Vec<(String, String)>,
    ) -> Answer<ObjectInfo> {
        let ctx = self.ctx.clone();
        let blob = self.table.get(&data)?;
        let (path, size, sha256) = (blob.path().to_owned(), blob.size(), blob.sha256().to_string());
        let mark = blob.origin().mark();
        let b = self.table.get(&bucket)?;
        let args = json!({
            "target": b.label,
            "key": key,
            "size": size,
            "sha256": sha256,
            "metadata": metadata.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            "multipart": client::is_multipart(size),
            "origin": mark,
        });
        // Who made the bytes travels with the object (see blob::origin::MARK_KEY).
        let marked = client::with_origin_mark(metadata, mark);
        let summary = |i: &ObjectInfo| json!({ "etag": i.etag });
        ctx.audited_checked(
            "s3.put",
            args,
            summary,
            async {
                client::check_key(&ctx, &b.label, "put", &key, S3Access::Write)?;
                marked
            },
            |metadata| async { Ok(client::put(&ctx, b, &key, &path, size, metadata).await?) },
        )
        .await
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }

    async fn get_secret(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        expect_sha256: Option<String>,
    ) -> Answer<Resource<Secret>> {
        let ctx = self.ctx.clone();
        let b = self.table.get(&bucket)?;
        let args = json!({ "target": b.label, "key": key, "expect_sha256": expect_sha256 });
        // The value's size and checksum stay out of the journal too.
        let summary = |(s, verified): &(Secret, super::download::Verified)| json!({ "origin": s.origin, "verified": verified.name() });
        let (secret, _) = ctx
            .audited("s3.get-secret", args, summary, async {
                client::check_key(&ctx, &b.label, "get-secret", &key, S3Access::Read)?;
                let (value, verified) = client::get_secret(&ctx, b, &key, expect_sha256.as_deref()).await?;
                let secret = Secret {
                    origin: format!("s3:{}/{key}", b.label),
                    source: Source::S3 {
                        label: b.label.clone(),
                        key: key.clone(),
                    },
                    value,
                };
                Ok((secret, verified))
            })
            .await?;
        Ok(self.table.push(secret)?)
    }
}
