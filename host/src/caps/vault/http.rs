//! How `vault` speaks HTTP to a server: one request shape (the token in a
//! sensitive `X-Vault-Token` header, the namespace), one way a reply becomes
//! a typed error, bounded bodies and bounded time.
//!
//! Every call goes through the `reqwest` client made in `client.rs`: it
//! follows no redirect (a redirect would carry `X-Vault-Token`, a custom
//! header reqwest does not strip, to wherever it points) and uses no proxy
//! from drhost's environment. A redirect is reported as the error it is.

use std::time::Duration;

use reqwest::header::{HeaderValue, LOCATION};
use reqwest::Method;
use serde_json::Value;

use super::Store;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::text::truncate;

/// Largest error body read from Vault (it is one short JSON object).
const ERROR_BODY_CAP: usize = 16 << 10;

/// A request carrying the token (a header marked sensitive) and the namespace.
pub(super) fn request(store: &Store, method: Method, url: &str) -> Result<reqwest::RequestBuilder, CapError> {
    let mut token = HeaderValue::from_str(&store.token).map_err(|_| {
        CapError::InvalidArgument(format!(
            "the token of Vault target `{}` is not a valid HTTP header value",
            store.label
        ))
    })?;
    token.set_sensitive(true);
    let mut request = store
        .http
        .request(method, url)
        .header("X-Vault-Token", token)
        .header("X-Vault-Request", "true");
    if let Some(namespace) = &store.namespace {
        request = request.header("X-Vault-Namespace", namespace);
    }
    Ok(request)
}

/// Sends `request`; any status but 2xx becomes a typed error.
pub(super) async fn send(
    store: &Store,
    what: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, CapError> {
    let mut reply = request.send().await.map_err(|e| from_reqwest(store, what, e))?;
    if reply.status().is_success() {
        return Ok(reply);
    }
    if reply.status().is_redirection() {
        return Err(redirected(store, what, &reply));
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = reply.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > ERROR_BODY_CAP {
            break;
        }
    }
    let errors = errors_of(&String::from_utf8_lossy(&body));
    Err(by_status(store, what, reply.status().as_u16(), &errors))
}

/// The error for a 3xx: drhost never follows one, so it says where it
/// pointed and what to configure instead.
fn redirected(store: &Store, what: &str, reply: &reqwest::Response) -> CapError {
    let location = reply
        .headers()
        .get(LOCATION)
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
        .unwrap_or_else(|| "nowhere (no Location header)".into());
    CapError::Failed(format!(
        "vault {what} on target `{}`: Vault at {} answered with a redirect (HTTP {}) to {}; drhost follows no redirect, which would carry the token there: set the target's `address` to the server that answers itself (e.g. the active node)",
        store.label,
        store.address,
        reply.status().as_u16(),
        one_line(truncate(&location, 200))
    ))
}

/// The body of a successful reply, at most `cap` bytes: a longer one is
/// refused with `invalid-argument` naming the cap and `narrow` (how to ask
/// for less), and the rest is not read.
pub(super) async fn body_within(
    store: &Store,
    what: &str,
    mut reply: reqwest::Response,
    cap: usize,
    narrow: &str,
) -> Result<Vec<u8>, CapError> {
    let too_large = || {
        CapError::InvalidArgument(format!(
            "vault {what} on target `{}`: Vault's reply is larger than {} KiB, drhost's cap per call, and was not read; {narrow}",
            store.label,
            cap >> 10
        ))
    };
    if reply.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = reply.chunk().await.map_err(|e| from_reqwest(store, what, e))? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `body` as JSON `{"data": …}`, and its `data`; a reply without it is `failed`.
pub(super) fn data_of(store: &Store, what: &str, body: &[u8]) -> Result<Value, CapError> {
    let failed = |why: String| CapError::Failed(format!("vault {what} on target `{}`: {why}", store.label));
    let reply: Value = serde_json::from_slice(body).map_err(|e| failed(format!("Vault's reply is not JSON ({e})")))?;
    match reply.get("data") {
        Some(Value::Null) | None => Err(failed("Vault's reply has no data".into())),
        Some(data) => Ok(data.clone()),
    }
}

/// `LIST`, the method Vault lists with.
pub(super) fn list_method() -> Method {
    Method::from_bytes(b"LIST").unwrap_or(Method::GET)
}

/// `fut` within `limit`, else a timeout naming the call.
pub(super) async fn bounded<T>(
    store: &Store,
    what: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, CapError>>,
) -> Result<T, CapError> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(CapError::Timeout(format!(
            "vault {what} on target `{}` took over {:.1}s (the call's cap, or what was left of the run)",
            store.label,
            limit.as_secs_f64()
        )))
    })
}

pub(super) fn from_reqwest(store: &Store, what: &str, e: reqwest::Error) -> CapError {
    if e.is_timeout() {
        CapError::Timeout(format!("vault {what} on target `{}`: {}", store.label, chain(&e)))
    } else if e.is_connect() || e.is_request() || e.is_body() {
        unreachable(store, what, &e)
    } else {
        CapError::Failed(format!("vault {what} on target `{}`: {}", store.label, chain(&e)))
    }
}

/// Connection refused, DNS, reset: the server is not there.
fn unreachable(store: &Store, what: &str, e: &dyn std::error::Error) -> CapError {
    CapError::Unavailable(format!(
        "Vault target `{}` at {} is unreachable ({what}): {}",
        store.label,
        store.address,
        crate::caps::kit::text::root_cause(e)
    ))
}

/// The error for an HTTP status from Vault; `errors` is Vault's own text.
fn by_status(store: &Store, what: &str, code: u16, errors: &str) -> CapError {
    let at = format!("vault {what} on target `{}`", store.label);
    let detail = if errors.is_empty() {
        String::new()
    } else {
        format!(" ({errors})")
    };
    match code {
        403 => CapError::Failed(format!(
            "{at}: Vault refused the token (permission denied): its policy does not allow this{detail}"
        )),
        404 => CapError::NotFound(format!("{at}: Vault has nothing there (HTTP 404){detail}")),
        412 => CapError::Conflict(format!("{at}: Vault reports a version conflict (HTTP 412){detail}")),
        429 | 502 | 503 | 504 => CapError::Unavailable(format!(
            "{at}: Vault at {} is not ready (HTTP {code}: sealed, standby or overloaded){detail}",
            store.address
        )),
        _ => CapError::Failed(format!("{at}: Vault answered HTTP {code}{detail}")),
    }
}

/// Vault's `{"errors": [...]}` as one line, or the start of a body that is not that.
fn errors_of(body: &str) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::from_value(v["errors"].clone()).ok());
    match parsed {
        Some(errors) => one_line(&errors.join("; ")),
        None => one_line(&body.chars().take(200).collect::<String>()),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error and its sources, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    one_line(&text)
}

/// `e` with its message rewritten by `f`.
pub(crate) fn with_message(e: CapError, f: impl FnOnce(&str) -> String) -> CapError {
    match e {
        CapError::AccessDenied(m) => CapError::AccessDenied(f(&m)),
        CapError::NotFound(m) => CapError::NotFound(f(&m)),
        CapError::InvalidArgument(m) => CapError::InvalidArgument(f(&m)),
        CapError::Unavailable(m) => CapError::Unavailable(f(&m)),
        CapError::Timeout(m) => CapError::Timeout(f(&m)),
        CapError::Conflict(m) => CapError::Conflict(f(&m)),
        CapError::Failed(m) => CapError::Failed(f(&m)),
        CapError::Planned(m) => CapError::Planned(f(&m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_s_errors_become_one_line() {
        assert_eq!(
            errors_of(r#"{"errors":["permission denied","  and\nmore "]}"#),
            "permission denied; and more"
        );
        assert_eq!(errors_of("<html>\n  oops</html>"), "<html> oops</html>");
        assert_eq!(errors_of(""), "");
    }

    #[test]
    fn list_is_its_own_method() {
        assert_eq!(list_method().as_str(), "LIST");
    }
}
