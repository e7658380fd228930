//! The HTTP availability probe: `GET url` must answer 2xx.

use std::time::Duration;

/// Probes one URL.
pub(crate) struct HttpProbe {
    url: String,
    client: reqwest::Client,
}

impl HttpProbe {
    /// A probe of `url`, each attempt bounded by `timeout`; no proxy, no redirects.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<HttpProbe, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("`{url}` is not an http:// or https:// URL"));
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot set up an HTTP client: {e}"))?;
        Ok(HttpProbe {
            url: url.to_string(),
            client,
        })
    }

    /// One attempt: Ok when the answer is 2xx.
    pub(crate) async fn attempt(&mut self) -> Result<Option<i64>, String> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| crate::caps::kit::text::root_cause(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(None)
        } else {
            Err(format!("answered {status}"))
        }
    }
}
