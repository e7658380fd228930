//! The `http` interface: one function, `get` (the check and the request
//! are in `client.rs`).

use serde_json::json;

use super::client;
use crate::bindings::drhost::runbook::http::{Host, Response};
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn get(&mut self, url: String, timeout_ms: Option<u32>) -> Answer<Response> {
        let ctx = self.ctx.clone();
        let summary = |r: &Response| json!({ "status": r.status });
        ctx.audited("http.get", json!({ "url": url }), summary, async {
            let checked = client::check(&ctx, &url)?;
            let client = self.http_client()?;
            Ok(client::get(&ctx, client, &url, checked, timeout_ms).await?)
        })
        .await
    }
}
