//! The `http` interface: one function, `get`.

use serde_json::json;

use crate::bindings::drhost::runbook::http::{Host, Response};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::Answer;
use crate::sandbox::RunState;

impl Host for RunState {
    async fn get(&mut self, url: String, timeout_ms: Option<u32>) -> Answer<Response> {
        let ctx = self.ctx.clone();
        let summary = |r: &Response| json!({ "status": r.status });
        ctx.audited("http.get", json!({ "url": url }), summary, async {
            let client = self.http_client()?;
            Ok(operations::get(&ctx, client, &url, timeout_ms).await?)
        })
        .await
    }
}

mod operations {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::caps::http::grant::grant_lines;
    use crate::caps::kit::text::{not_granted, root_cause};
    use crate::sandbox::RunContext;

    const BODY_CAP: usize = 64 * 1024;
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub(super) async fn get(
        ctx: &RunContext,
        client: reqwest::Client,
        url: &str,
        timeout_ms: Option<u32>,
    ) -> Result<Response, CapError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| CapError::InvalidArgument(format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CapError::InvalidArgument(format!(
                "`{url}`: only http and https are supported"
            )));
        }
        let host = parsed.host_str().unwrap_or_default();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let host_port = format!("{host}:{port}");
        if !ctx.grants.http.iter().any(|g| g.allows(&host_port)) {
            return Err(CapError::AccessDenied(not_granted(
                &format!("http host `{host_port}`"),
                &ctx.plugin_id,
                &grant_lines(&ctx.plugin_id, &host_port),
            )));
        }
        let timeout = timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(DEFAULT_TIMEOUT)
            .min(ctx.time_left());
        let started = Instant::now();
        let request = async {
            let mut response = client.get(parsed).send().await?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = response.chunk().await? {
                let room = BODY_CAP - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, body, truncated))
        };
        match tokio::time::timeout(timeout, request).await {
            Err(_) => Err(CapError::Timeout(format!(
                "GET {url}: no answer within {}",
                humantime::format_duration(timeout)
            ))),
            Ok(Err(e)) if e.is_timeout() => Err(CapError::Timeout(format!("GET {url}: {}", root_cause(&e)))),
            Ok(Err(e)) => Err(CapError::Unavailable(format!("GET {url}: {}", root_cause(&e)))),
            Ok(Ok((status, body, truncated))) => Ok(Response {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
                truncated,
                duration_ms: started.elapsed().as_millis() as u64,
            }),
        }
    }
}
