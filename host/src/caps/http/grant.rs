//! What the operator grants for `http`, and the check made at every call.

use serde::{Deserialize, Serialize};

use crate::caps::kit::pattern::ArgPattern;

/// `[[plugins.<id>.http]]`: hosts a plugin may probe.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// A glob over `host:port`, e.g. `"127.0.0.1:*"` or `"api.example.com:443"`.
    pub host: HostPattern,
}

/// A glob over `host:port`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct HostPattern(ArgPattern);

impl HttpGrant {
    /// Whether this grant allows requests to `host_port` ("host:port").
    pub fn allows(&self, host_port: &str) -> bool {
        self.host.0.matches(host_port)
    }
}

/// The TOML lines that would grant `host_port` to plugin `id`.
pub fn grant_lines(id: &str, host_port: &str) -> String {
    format!(
        "[[plugins.{id}.http]]\nhost = {}",
        crate::caps::kit::text::toml_string(host_port)
    )
}
