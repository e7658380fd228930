//! `http`: health probes (GET) to hosts the operator allowed.
//!
//! The grant is a glob over `host:port`; redirects are not followed (a
//! redirect could leave the granted host); bodies are capped.

use crate::caps::kit::gate::Gate;

pub(crate) mod client;
mod grant;
mod host;

pub use grant::{grant_lines, HttpGrant};

/// `http` needs: `HOST:PORT`.
pub(crate) const GATE: Gate = Gate {
    capability: "http",
    covers: |grants, host_port, _| grants.http.iter().any(|g| g.allows(host_port)),
    advice: |_, id, host_port, _| grant_lines(id, host_port),
    // Health probes: they look, they change nothing.
    changes: crate::caps::kit::gate::changes_nothing,
};

/// An HTTP client as drhost uses one: no redirects followed (a redirect
/// could leave the granted host), no proxies from the environment.
pub(crate) fn new_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("drhost/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The run's HTTP client, built on first use.
#[derive(Default)]
struct Client(Option<reqwest::Client>);

impl crate::sandbox::RunState {
    /// The run's HTTP client: no redirects followed, no proxies from the
    /// environment.
    pub(crate) fn http_client(&mut self) -> Result<reqwest::Client, crate::bindings::types::Error> {
        let Client(kept) = self.kept::<Client>();
        if let Some(client) = kept {
            return Ok(client.clone());
        }
        let client = new_client().map_err(|e| crate::bindings::types::Error::Failed(format!("HTTP client: {e}")))?;
        *kept = Some(client.clone());
        Ok(client)
    }
}
