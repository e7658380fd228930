//! What the operator configures for `redis`: targets by label
//! (`[targets.redis.<label>]`, with the nodes their credentials may go to),
//! grants per plugin (`[[plugins.<id>.redis]]`), the refusal text, and
//! what `describe`'s needs ask for. The command classes are in
//! `commands.rs` and `classify.rs`.
//!
//! This module never reads a secret's value; it only knows where the secret
//! is (`env:NAME`, `file:PATH`). The value is read when connecting.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::caps::kit::text::{not_granted, toml_string};
use crate::secret::SecretRef;

/// `[targets.redis.<label>]`: one Redis deployment a plugin may open by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTarget {
    /// The node a plain `open` connects to: `redis://host:port[/db]` (or
    /// `rediss://` for TLS). No password in the URL: use `password`.
    pub url: NodeUrl,
    /// Sentinels of the set as `host:port`; empty when there is none.
    #[serde(default)]
    pub sentinels: Vec<String>,
    /// The master name the Sentinels monitor, e.g. `toolboxai-master`.
    #[serde(default)]
    pub master_name: Option<String>,
    /// The data nodes' password: `env:NAME` or `file:PATH`, never the value.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// The data nodes' ACL user (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// The Sentinels' password, when they require one: `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub sentinel_password: Option<SecretRef>,
    /// Connect with TLS (also implied by a `rediss://` URL). Applies to the
    /// data nodes and the Sentinels.
    #[serde(default)]
    pub tls: bool,
    /// The CA that signed the servers' certificates, as a PEM file, when it
    /// is a private one (else the system's roots). Needs TLS.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The other data nodes the target's credentials may be sent to, as
    /// `host:port` (`*` allowed in the host, e.g. `"10.0.0.*:6380"`): its
    /// replicas and every node Sentinel may promote, written as Sentinel
    /// reports them. `open-master` and `open-node` refuse any address that
    /// is neither `url` nor listed here, before connecting.
    #[serde(default)]
    pub nodes: Vec<NodePattern>,
    /// Longest one call may take, e.g. "5s" (default 5s; never beyond the
    /// run's deadline).
    #[serde(default, with = "crate::caps::kit::text::duration_text")]
    pub timeout: Option<Duration>,
}

impl RedisTarget {
    /// The per-call timeout.
    pub fn call_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(5))
    }

    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls || self.url.tls
    }

    /// Whether the target's credentials may go to `host:port`: its `url`
    /// or one of its `nodes` (the Sentinels get `sentinel_password` only).
    pub fn allows_node(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        (host == self.url.host.to_ascii_lowercase() && port == self.url.port)
            || self.nodes.iter().any(|n| n.matches(&host, port))
    }

    /// The `nodes = [...]` line that would also allow `host:port`.
    pub fn nodes_line_with(&self, host: &str, port: u16) -> String {
        let mut entries: Vec<String> = self.nodes.iter().map(|n| toml_string(&n.text)).collect();
        entries.push(toml_string(&format!("{host}:{port}")));
        format!("nodes = [{}]", entries.join(", "))
    }
}

/// One entry of a target's `nodes`: `host:port`, `*` allowed in the host
/// (within one dot-separated label: `10.0.0.*` is not `10.0.0.7.evil.example`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct NodePattern {
    /// As written (lower-cased).
    text: String,
    host: String,
    port: u16,
}

impl NodePattern {
    fn matches(&self, host: &str, port: u16) -> bool {
        // `*` stays within one label: `10.0.0.*` is not `10.0.0.7.evil.example`.
        let (pattern, labels): (Vec<&str>, Vec<&str>) = (self.host.split('.').collect(), host.split('.').collect());
        port == self.port
            && pattern.len() == labels.len()
            && pattern.iter().zip(&labels).all(|(p, l)| {
                !l.is_empty() && (p == l || (p.contains('*') && crate::caps::kit::pattern::glob_matches(p, l)))
            })
    }
}

impl TryFrom<String> for NodePattern {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = |why: &str| format!("`{text}` in nodes: {why}; write e.g. \"10.0.0.6:6380\" or \"10.0.0.*:6380\"");
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(bad("a node is host:port"));
        };
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) if v6.contains(':') => v6,
            _ => host,
        }
        .to_ascii_lowercase();
        let port: u16 = port.parse().map_err(|_| bad("the port must be a number"))?;
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "?[]{}\\,/@".contains(c))
        {
            return Err(bad(
                "the host must be a name or an address, with `*` as its only wildcard",
            ));
        }
        if host.chars().all(|c| c == '*' || c == '.') {
            return Err(bad(
                "a host that is only `*` would send the password anywhere: list the nodes",
            ));
        }
        Ok(NodePattern {
            text: text.to_ascii_lowercase(),
            host,
            port,
        })
    }
}

/// A validated `redis://` or `rediss://` URL, without credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct NodeUrl {
    /// Host name or IP.
    pub host: String,
    /// Port (default 6379).
    pub port: u16,
    /// Database number (default 0).
    pub db: i64,
    /// `rediss://`.
    pub tls: bool,
}

impl TryFrom<String> for NodeUrl {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = |why: &str| format!("`{text}` is not a Redis URL: {why}; write e.g. \"redis://127.0.0.1:6379\"");
        let (tls, rest) = if let Some(rest) = text.strip_prefix("redis://") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("rediss://") {
            (true, rest)
        } else {
            return Err(bad("the scheme must be redis:// or rediss://"));
        };
        if rest.contains('@') {
            // The URL is not echoed: it holds a credential.
            return Err(
                "put no credentials in the Redis URL; set password = \"env:NAME\" or \"file:PATH\" instead".to_string(),
            );
        }
        let (hostport, db) = match rest.split_once('/') {
            Some((hp, "")) => (hp, 0),
            Some((hp, db)) => (hp, db.parse().map_err(|_| bad("the database must be a number"))?),
            None => (rest, 0),
        };
        let (host, port) = split_host_port(hostport, 6379).map_err(|e| bad(&e))?;
        Ok(NodeUrl { host, port, db, tls })
    }
}

/// Splits `host:port` (port optional when `default_port` is given).
pub fn split_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            let port = port.parse().map_err(|_| format!("`{port}` is not a port"))?;
            Ok((host.trim_matches(|c| c == '[' || c == ']').to_string(), port))
        }
        None if !text.is_empty() => Ok((text.to_string(), default_port)),
        _ => Err(format!("`{text}` is not host:port")),
    }
}

/// `[[plugins.<id>.redis]]`: what a plugin may do on one target.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisGrant {
    /// The target label (`[targets.redis.<label>]`).
    pub target: String,
    /// Operation classes: `read`, `write`, `admin`, `sentinel-failover`.
    pub access: BTreeSet<RedisAccess>,
}

/// A class of Redis operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisAccess {
    /// Commands that only look (GET, INFO, PING, ROLE, SCAN…) and Sentinel queries.
    Read,
    /// Commands that change data (SET, DEL, EXPIRE, INCR…).
    Write,
    /// Commands hard to undo or that reconfigure the server (FLUSHALL,
    /// CONFIG, SHUTDOWN, REPLICAOF, DEBUG, CLIENT KILL…) and unknown ones.
    Admin,
    /// `SENTINEL FAILOVER`.
    SentinelFailover,
}

impl RedisAccess {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            RedisAccess::Read => "read",
            RedisAccess::Write => "write",
            RedisAccess::Admin => "admin",
            RedisAccess::SentinelFailover => "sentinel-failover",
        }
    }
}

/// Whether `grants` give `access` on target `label`.
pub fn allows(grants: &[RedisGrant], label: &str, access: RedisAccess) -> bool {
    crate::caps::kit::gate::allows_access(grants, label, &access)
}

/// The TOML lines that would grant `access` on `label` to plugin `id`.
pub fn grant_lines(id: &str, label: &str, access: RedisAccess) -> String {
    format!(
        "[[plugins.{id}.redis]]\ntarget = {}\naccess = [\"{}\"]",
        toml_string(label),
        access.name()
    )
}

/// The refusal text for `what` (a command or Sentinel operation).
pub fn denial(id: &str, label: &str, what: &str, access: RedisAccess) -> String {
    let subject = format!(
        "redis {what} on target `{label}` needs `{}` access, which",
        access.name()
    );
    not_granted(&subject, id, &grant_lines(id, label, access))
}

/// A `redis` need from `describe`: its target is `LABEL` (the access comes
/// from the need) or `LABEL:sentinel-failover`.
pub fn need_access(target: &str, access: crate::bindings::types::Access) -> (&str, RedisAccess) {
    use crate::bindings::types::Access;
    match target.rsplit_once(':') {
        Some((label, "sentinel-failover")) => (label, RedisAccess::SentinelFailover),
        _ => (
            target,
            match access {
                Access::Read => RedisAccess::Read,
                Access::Write => RedisAccess::Write,
                Access::Admin => RedisAccess::Admin,
            },
        ),
    }
}

/// Whether `grants` cover a `redis` need (granted and the label defined).
pub fn covers(grants: &crate::config::PluginGrants, target: &str, access: crate::bindings::types::Access) -> bool {
    let (label, access) = need_access(target, access);
    allows(&grants.redis, label, access) && grants.redis_targets.contains_key(label)
}

/// The TOML that would cover a `redis` need of plugin `id`.
pub fn need_lines(
    grants: &crate::config::PluginGrants,
    id: &str,
    target: &str,
    access: crate::bindings::types::Access,
) -> String {
    let (label, access) = need_access(target, access);
    let mut lines = String::new();
    if !allows(&grants.redis, label, access) {
        lines.push_str(&grant_lines(id, label, access));
    }
    if !grants.redis_targets.contains_key(label) {
        if !lines.is_empty() {
            lines.push('\n');
        }
        lines.push_str(&format!(
            "[targets.redis.{label}]\nurl = \"redis://HOST:6379\"   # the node; sentinels = [\"HOST:26379\", …], master_name = \"…\", password = \"env:NAME\""
        ));
    }
    lines
}

impl crate::caps::kit::gate::TargetGrant for RedisGrant {
    type Access = RedisAccess;
    fn target(&self) -> &str {
        &self.target
    }
    fn access(&self) -> &BTreeSet<RedisAccess> {
        &self.access
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_the_only_addresses_beyond_the_url() {
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[targets.redis.c]\nurl = \"redis://10.0.0.5:6380\"\nnodes = [\"10.0.0.6:6380\", \"10.0.1.*:6380\", \"Cache-2.internal:6380\"]\n",
        )
        .unwrap();
        let t = &config.targets.redis["c"];
        assert!(t.allows_node("10.0.0.5", 6380));
        assert!(t.allows_node("10.0.0.6", 6380));
        assert!(t.allows_node("10.0.1.7", 6380));
        assert!(t.allows_node("cache-2.INTERNAL", 6380));
        assert!(!t.allows_node("10.0.0.6", 6381));
        assert!(!t.allows_node("10.0.0.7", 6380));
        assert!(!t.allows_node("10.0.1.7.evil.example", 6380));
        assert_eq!(
            t.nodes_line_with("10.0.0.7", 6380),
            "nodes = [\"10.0.0.6:6380\", \"10.0.1.*:6380\", \"cache-2.internal:6380\", \"10.0.0.7:6380\"]"
        );
        for bad in ["*:6380", "10.0.0.6", "10.0.0.6:x", "h ost:1", "[a-z]:1", "*.*:1"] {
            let err = crate::config::Config::parse(
                std::path::Path::new("t.toml"),
                &format!("[targets.redis.c]\nurl = \"redis://h:1\"\nnodes = [\"{bad}\"]\n"),
            );
            assert!(err.is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_and_grants_parse() {
        let text = r#"
[targets.redis.cache]
url = "redis://127.0.0.1:6379"
sentinels = ["127.0.0.1:26379"]
master_name = "m"
password = "env:REDIS_PASSWORD"
tls = true

[[plugins.p.redis]]
target = "cache"
access = ["read", "sentinel-failover"]
"#;
        let config = crate::config::Config::parse(std::path::Path::new("t.toml"), text).unwrap();
        let grants = config.grants_for("p");
        assert!(allows(&grants.redis, "cache", RedisAccess::Read));
        assert!(!allows(&grants.redis, "cache", RedisAccess::Write));
        assert!(grants.redis_targets["cache"].uses_tls());
        let lines = grant_lines("p", "cache", RedisAccess::Admin);
        let config =
            crate::config::Config::parse(std::path::Path::new("t.toml"), &format!("{text}\n{lines}\n")).unwrap();
        assert!(allows(&config.grants_for("p").redis, "cache", RedisAccess::Admin));
    }

    #[test]
    fn a_ca_file_needs_tls_and_a_readable_pem() {
        let parse = |extra: &str| {
            let text = format!("[targets.redis.c]\nurl = \"redis://127.0.0.1:6379\"\n{extra}");
            let config = crate::config::Config::parse(std::path::Path::new("t.toml"), &text).unwrap();
            config.targets.redis["c"].clone()
        };
        let plain = parse("ca_file = \"/etc/redis/ca.crt\"\n");
        let err = crate::caps::redis::node_client(&plain, "127.0.0.1", 6379, 0, false, None).unwrap_err();
        assert!(err.contains("ca_file is set but TLS is off; set tls = true"), "{err}");
        let missing = parse("tls = true\nca_file = \"/nonexistent/ca.crt\"\n");
        let err = crate::caps::redis::node_client(&missing, "127.0.0.1", 6379, 0, false, None).unwrap_err();
        assert!(err.contains("cannot read ca_file /nonexistent/ca.crt"), "{err}");
    }

    #[test]
    fn needs_name_the_access_and_the_target_table() {
        use crate::bindings::types::Access;
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[targets.redis.cache]\nurl = \"redis://h:1\"\n[[plugins.p.redis]]\ntarget = \"cache\"\naccess = [\"read\"]\n",
        )
        .unwrap();
        let grants = config.grants_for("p");
        assert!(covers(&grants, "cache", Access::Read));
        assert!(!covers(&grants, "cache:sentinel-failover", Access::Admin));
        let lines = need_lines(&grants, "p", "cache:sentinel-failover", Access::Admin);
        assert_eq!(
            lines,
            "[[plugins.p.redis]]\ntarget = \"cache\"\naccess = [\"sentinel-failover\"]"
        );
        assert!(need_lines(&grants, "p", "other", Access::Read).contains("[targets.redis.other]"));
    }

    #[test]
    fn literal_secrets_and_url_credentials_are_refused() {
        let err = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[targets.redis.c]\nurl = \"redis://h:1\"\npassword = \"hunter2\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("env:NAME") && !err.contains("hunter2"), "{err}");
        let err = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[targets.redis.c]\nurl = \"redis://:pw@h:1\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no credentials"), "{err}");
    }
}
