//! The `secret` interface as the plugin sees it.
//!
//! What is journaled: origins and the names of operator secrets, that a
//! value was revealed. Never a value.

use serde_json::json;
use wasmtime::component::Resource;
use zeroize::Zeroizing;

use super::grant::{check_reveal, granted};
use super::{compose, describe_parts, Secret, Source};
use crate::bindings::drhost::runbook::secret::{ComposePart, Host, HostSecret};
use crate::bindings::types::Error as CapError;
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
            check_reveal(&ctx, secret)?;
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

    async fn operator(&mut self, name: String) -> Answer<Resource<Secret>> {
        let ctx = self.ctx.clone();
        let summary = |s: &Secret| json!({ "origin": s.origin });
        let secret = ctx
            .audited("secret.operator", json!({ "name": name }), summary, async {
                let reference = granted(&ctx, &name)?;
                let value = reference
                    .read()
                    .map_err(|why| CapError::Unavailable(format!("operator secret `{name}`: {why}")))?;
                Ok(Secret {
                    origin: format!("operator:{name}"),
                    source: Source::Operator { name: name.clone() },
                    value: Zeroizing::new(value),
                })
            })
            .await?;
        Ok(self.table.push(secret)?)
    }

    async fn drop(&mut self, s: Resource<Secret>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}
