//! `http`: health probes (GET) to hosts the operator allowed.
//!
//! The grant is a glob over `host:port`; redirects are not followed (a
//! redirect could leave the granted host); bodies are capped.

use crate::caps::kit::gate::Gate;

mod grant;
mod host;

pub use grant::{grant_lines, HttpGrant};

/// `http` needs: `HOST:PORT`.
pub(crate) const GATE: Gate = Gate {
    capability: "http",
    covers: |grants, host_port, _| grants.http.iter().any(|g| g.allows(host_port)),
    advice: |_, id, host_port, _| grant_lines(id, host_port),
};
