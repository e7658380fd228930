//! What the operator grants for `http`, and the check made at every call.

use serde::{Deserialize, Serialize};

use crate::caps::kit::pattern::{glob_matches, ArgPattern};

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
    ///
    /// The port is a glob. The host is matched label by label: a `*` stays
    /// within one dot-separated label, so `10.0.0.*:80` is not
    /// `10.0.0.1.evil.example:80` (a name that resolves anywhere), and
    /// `*.example.com` is one level of subdomain. A host that is `*` alone
    /// is any host. A pattern with no `:` is a glob over the whole text.
    pub fn allows(&self, host_port: &str) -> bool {
        let pattern = self.host.0.as_str();
        let (Some((host_glob, port_glob)), Some((host, port))) = (pattern.rsplit_once(':'), host_port.rsplit_once(':'))
        else {
            return self.host.0.matches(host_port);
        };
        if !glob_matches(port_glob, port) {
            return false;
        }
        if host_glob == "*" || host_glob == host {
            return !host.is_empty();
        }
        let (globs, labels): (Vec<&str>, Vec<&str>) = (host_glob.split('.').collect(), host.split('.').collect());
        globs.len() == labels.len()
            && globs
                .iter()
                .zip(&labels)
                .all(|(glob, label)| !label.is_empty() && (glob == label || glob_matches(glob, label)))
    }
}

/// The TOML lines that would grant `host_port` to plugin `id`.
pub fn grant_lines(id: &str, host_port: &str) -> String {
    format!(
        "[[plugins.{id}.http]]\nhost = {}",
        crate::caps::kit::text::toml_string(host_port)
    )
}

#[cfg(test)]
mod tests {
    use super::HttpGrant;

    fn grant(host: &str) -> HttpGrant {
        toml::from_str(&format!("host = {host:?}")).unwrap()
    }

    #[test]
    fn a_star_in_the_host_stays_within_one_label() {
        let lan = grant("10.0.0.*:80");
        assert!(lan.allows("10.0.0.7:80"));
        assert!(!lan.allows("10.0.0.7.evil.example:80"), "a name that resolves anywhere");
        assert!(!lan.allows("10.0.0.7:8080"));
        let sub = grant("*.example.com:443");
        assert!(sub.allows("api.example.com:443"));
        assert!(!sub.allows("a.b.example.com:443"));
        assert!(!sub.allows("example.com.evil.example:443"));
        assert!(!sub.allows(".example.com:443"), "an empty label");
        let loopback = grant("127.0.0.1:*");
        assert!(loopback.allows("127.0.0.1:27890"));
        assert!(!loopback.allows("127.0.0.1.nip.io:80"));
        // `*` alone is any host; the port still counts.
        assert!(grant("*:443").allows("status.supabase.com:443"));
        assert!(!grant("*:443").allows("status.supabase.com:80"));
        assert!(grant("[::1]:*").allows("[::1]:8080"));
        assert!(grant("api.example.com:443").allows("api.example.com:443"));
    }
}
