//! The `secret` interface as the plugin sees it.

use serde_json::json;
use wasmtime::component::Resource;

use super::{compose, describe_parts, Secret};
use crate::bindings::drhost::runbook::secret::{ComposePart, Host, HostSecret};
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {}

impl HostSecret for RunState {
    async fn origin(&mut self, s: Resource<Secret>) -> wasmtime::Result<String> {
        Ok(self.table.get(&s)?.origin.clone())
    }

    async fn reveal(&mut self, s: Resource<Secret>) -> Answer<String> {
        let ctx = self.ctx.clone();
        let secret = self.table.get(&s)?;
        let args = json!({ "origin": secret.origin });
        ctx.audited("secret.reveal", args, |_| json!({ "revealed": true }), async {
            crate::caps::vault::check_reveal(&ctx, secret)?;
            Ok(secret.value.to_string())
        })
        .await
    }

    async fn compose(&mut self, parts: Vec<ComposePart>) -> Answer<Resource<Secret>> {
        let ctx = self.ctx.clone();
        let args = json!({ "parts": describe_parts(&self.table, &parts)? });
        let summary = |s: &Secret| json!({ "origin": s.origin });
        let composed = compose(&self.table, &parts);
        let secret = ctx
            .audited("secret.compose", args, summary, async { Ok(composed?) })
            .await?;
        Ok(self.table.push(secret)?)
    }

    async fn drop(&mut self, s: Resource<Secret>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }

    // SKELETON
    async fn operator(&mut self, _name: String) -> Answer<Resource<Secret>> {
        Err(crate::caps::kit::not_built("secret.operator"))
    }
}
