//! The `files` interface as the plugin sees it: one short function per WIT
//! function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the checks and calls are in
//! `client.rs`.
//!
//! What is journaled: the target, the path (or glob), sizes, permission
//! bits and the SHA-256 of what was read or written. Never the content.

use serde_json::json;
use wasmtime::component::Resource;

use super::nofollow::kind_name;
use super::read::Copied;
use super::write::Written;
use super::{client, Directory, FilesAccess};
use crate::bindings::drhost::runbook::files::{Entry, Host, HostDirectory};
use crate::caps::blob::Blob;
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

/// Permission bits as the journal writes them, e.g. `0600`.
fn octal(mode: u32) -> String {
    format!("{mode:04o}")
}

fn entry_summary(e: &Entry) -> serde_json::Value {
    json!({ "kind": kind_name(e.kind), "size": e.size, "mode": octal(e.mode) })
}

impl Host for RunState {}

impl HostDirectory for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Directory>> {
        let ctx = self.ctx.clone();
        let summary = |d: &Directory| json!({ "path": d.path });
        let dir = ctx
            .audited("files.open", json!({ "target": label }), summary, async {
                Ok(client::open(&ctx, &label)?)
            })
            .await?;
        Ok(self.table.push(dir)?)
    }

    async fn list(&mut self, d: Resource<Directory>, glob: String) -> Answer<Vec<Entry>> {
        let ctx = self.ctx.clone();
        let dir = self.table.get(&d)?;
        let args = json!({ "target": dir.label, "glob": glob });
        let summary = |l: &Vec<Entry>| json!({ "entries": l.len() });
        ctx.audited("files.list", args, summary, async {
            Ok(client::list(&ctx, dir, &glob).await?)
        })
        .await
    }

    async fn stat(&mut self, d: Resource<Directory>, path: String) -> Answer<Entry> {
        let ctx = self.ctx.clone();
        let dir = self.table.get(&d)?;
        let args = json!({ "target": dir.label, "path": path });
        ctx.audited("files.stat", args, entry_summary, async {
            let checked = client::check(&ctx, dir, "stat", &path, FilesAccess::Read)?;
            Ok(client::stat(dir, checked).await?)
        })
        .await
    }

    async fn read(&mut self, d: Resource<Directory>, path: String) -> Answer<Resource<Blob>> {
        let ctx = self.ctx.clone();
        let dir = self.table.get(&d)?;
        let args = json!({ "target": dir.label, "path": path });
        let summary = |c: &Copied| json!({ "size": c.blob.size(), "sha256": c.blob.sha256(), "mode": octal(c.mode) });
        let copied = ctx
            .audited("files.read", args, summary, async {
                let checked = client::check(&ctx, dir, "read", &path, FilesAccess::Read)?;
                Ok(client::read(&ctx, dir, checked).await?)
            })
            .await?;
        Ok(self.table.push(copied.blob)?)
    }

    async fn write(&mut self, d: Resource<Directory>, path: String, data: Resource<Blob>, mode: u32) -> Answer<Entry> {
        let ctx = self.ctx.clone();
        let blob = self.table.get(&data)?;
        let dir = self.table.get(&d)?;
        let args = json!({
            "target": dir.label,
            "path": path,
            "mode": octal(mode),
            "size": blob.size(),
            "sha256": blob.sha256(),
        });
        let summary = |w: &Written| {
            json!({
                "size": w.entry.size,
                "mode": octal(w.entry.mode),
                "sha256": w.sha256,
                "replaced": w.replaced,
                "made_dirs": w.made_dirs,
            })
        };
        let context = &ctx;
        let written = ctx
            .audited_checked(
                "files.write",
                args,
                summary,
                async {
                    let checked = client::check(context, dir, "write", &path, FilesAccess::Write)?;
                    Ok((checked, client::check_write_mode(dir, &path, mode)?))
                },
                |(checked, mode)| async move { Ok(client::write(context, dir, checked, blob, mode).await?) },
            )
            .await?;
        Ok(written.entry)
    }

    async fn remove(&mut self, d: Resource<Directory>, path: String) -> Answer<bool> {
        let ctx = self.ctx.clone();
        let dir = self.table.get(&d)?;
        let args = json!({ "target": dir.label, "path": path });
        let summary = |removed: &bool| json!({ "removed": removed });
        ctx.audited_checked(
            "files.remove",
            args,
            summary,
            async { client::check(&ctx, dir, "remove", &path, FilesAccess::Write) },
            |checked| async move { Ok(client::remove(dir, checked).await?) },
        )
        .await
    }

    async fn drop(&mut self, d: Resource<Directory>) -> wasmtime::Result<()> {
        self.table.delete(d)?;
        Ok(())
    }
}
