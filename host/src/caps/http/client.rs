//! The `http` probe's request: URL and grant checks, one GET with no
//! redirects followed, a body cap and the run's deadline.

use std::time::{Duration, Instant};

use crate::bindings::drhost::runbook::http::Response;
use crate::bindings::types::Error as CapError;
use crate::caps::http::grant::{grant_lines, HttpGrant};
use crate::caps::kit::capped::Capped;
use crate::caps::kit::text::not_granted;
use crate::caps::kit::text::root_cause;
use crate::sandbox::RunContext;

const BODY_CAP: usize = 64 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The URL, when it is http(s) to a granted `host:port`.
pub(crate) fn check(ctx: &RunContext, url: &str) -> Result<reqwest::Url, CapError> {
    check_url(&ctx.grants.http, &ctx.plugin_id, url)
}

/// [`check`] against `grants`, plugin `plugin_id`'s.
pub(crate) fn check_url(grants: &[HttpGrant], plugin_id: &str, url: &str) -> Result<reqwest::Url, CapError> {
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
    if !grants.iter().any(|g| g.allows(&host_port)) {
        return Err(CapError::AccessDenied(not_granted(
            &format!("http host `{host_port}`"),
            plugin_id,
            &grant_lines(plugin_id, &host_port),
        )));
    }
    Ok(parsed)
}

/// One GET of a checked URL: no redirects followed, the body capped, the
/// plugin's timeout (else 10 s) within the run's deadline.
pub(crate) async fn get(
    ctx: &RunContext,
    client: reqwest::Client,
    url: &str,
    parsed: reqwest::Url,
    timeout_ms: Option<u32>,
) -> Result<Response, CapError> {
    let timeout = timeout_ms
        .map(|ms| Duration::from_millis(ms.into()))
        .unwrap_or(DEFAULT_TIMEOUT)
        .min(ctx.time_left());
    let started = Instant::now();
    let request = async {
        let mut response = client.get(parsed).send().await?;
        let status = response.status().as_u16();
        let mut body = Capped::new(BODY_CAP);
        while let Some(chunk) = response.chunk().await? {
            if !body.push(&chunk) {
                break;
            }
        }
        let (body, truncated) = body.into_parts();
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
