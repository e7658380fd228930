//! What the operator configures for `redis`: targets by label
//! (`[targets.redis.<label>]`), grants per plugin (`[[plugins.<id>.redis]]`),
//! the command classes, and the check made at every call.
//!
//! This module never reads a secret's value; it only knows where the secret
//! is (`env:NAME`, `file:PATH`). The value is read when connecting.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::caps::shell::toml_string;
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
    /// Longest one call may take, e.g. "5s" (default 5s; never beyond the
    /// run's deadline).
    #[serde(default, deserialize_with = "de_duration")]
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
    grants.iter().any(|g| g.target == label && g.access.contains(&access))
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
    format!(
        "redis {what} on target `{label}` needs `{}` access, which is not granted to plugin `{id}`; to allow it add to drhost.toml:\n{}",
        access.name(),
        grant_lines(id, label, access)
    )
}

/// How a command is treated before its class is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandClass {
    /// Needs this access.
    Needs(RedisAccess),
    /// Never allowed through `command` (credentials, subscriptions, MONITOR).
    Refused(&'static str),
}

const READ: &[&str] = &[
    "PING",
    "ECHO",
    "INFO",
    "ROLE",
    "TIME",
    "LASTSAVE",
    "DBSIZE",
    "TYPE",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "EXISTS",
    "GET",
    "MGET",
    "GETRANGE",
    "STRLEN",
    "SUBSTR",
    "SCAN",
    "KEYS",
    "RANDOMKEY",
    "HGET",
    "HMGET",
    "HGETALL",
    "HKEYS",
    "HVALS",
    "HLEN",
    "HEXISTS",
    "HSTRLEN",
    "HSCAN",
    "HRANDFIELD",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "LPOS",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SSCAN",
    "SRANDMEMBER",
    "SINTER",
    "SINTERCARD",
    "SUNION",
    "SDIFF",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZSCORE",
    "ZMSCORE",
    "ZCARD",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZRANK",
    "ZREVRANK",
    "ZSCAN",
    "ZRANDMEMBER",
    "XRANGE",
    "XREVRANGE",
    "XLEN",
    "XREAD",
    "XPENDING",
    "BITCOUNT",
    "BITPOS",
    "GETBIT",
    "PFCOUNT",
    "GEOPOS",
    "GEODIST",
    "GEOHASH",
    "GEOSEARCH",
    "DUMP",
    "OBJECT",
    "MEMORY",
    "WAIT",
    "WAITAOF",
    "LOLWUT",
    "COMMAND",
    "SLOWLOG",
    "LATENCY",
    "READONLY",
    "READWRITE",
];

const WRITE: &[&str] = &[
    "SET",
    "SETNX",
    "SETEX",
    "PSETEX",
    "MSET",
    "MSETNX",
    "GETSET",
    "GETDEL",
    "GETEX",
    "APPEND",
    "SETRANGE",
    "DEL",
    "UNLINK",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "PERSIST",
    "INCR",
    "INCRBY",
    "INCRBYFLOAT",
    "DECR",
    "DECRBY",
    "RENAME",
    "RENAMENX",
    "COPY",
    "RESTORE",
    "TOUCH",
    "HSET",
    "HSETNX",
    "HMSET",
    "HDEL",
    "HINCRBY",
    "HINCRBYFLOAT",
    "LPUSH",
    "RPUSH",
    "LPUSHX",
    "RPUSHX",
    "LPOP",
    "RPOP",
    "LSET",
    "LREM",
    "LTRIM",
    "LINSERT",
    "LMOVE",
    "RPOPLPUSH",
    "BLPOP",
    "BRPOP",
    "BLMOVE",
    "SADD",
    "SREM",
    "SPOP",
    "SMOVE",
    "SINTERSTORE",
    "SUNIONSTORE",
    "SDIFFSTORE",
    "ZADD",
    "ZREM",
    "ZINCRBY",
    "ZPOPMIN",
    "ZPOPMAX",
    "ZREMRANGEBYSCORE",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYLEX",
    "ZUNIONSTORE",
    "ZINTERSTORE",
    "ZRANGESTORE",
    "XADD",
    "XDEL",
    "XTRIM",
    "XACK",
    "XCLAIM",
    "XAUTOCLAIM",
    "XGROUP",
    "SETBIT",
    "BITOP",
    "BITFIELD",
    "PFADD",
    "PFMERGE",
    "GEOADD",
    "GEOSEARCHSTORE",
    "PUBLISH",
    "SPUBLISH",
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "SELECT",
];

const ADMIN_CLIENT: &[&str] = &[
    "KILL", "PAUSE", "UNPAUSE", "NO-EVICT", "NO-TOUCH", "REPLY", "TRACKING", "UNBLOCK",
];

/// Classifies a command by its name (and subcommand where it matters).
/// Unknown commands need `admin`.
pub fn classify(args: &[String]) -> CommandClass {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let sub = args.get(1).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    match name.as_str() {
        "AUTH" | "HELLO" => CommandClass::Refused("credentials come from the operator's config, not from the plugin"),
        "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE" | "SUNSUBSCRIBE" | "MONITOR"
        | "SYNC" | "PSYNC" | "QUIT" | "RESET" => {
            CommandClass::Refused("this command changes the connection's protocol state")
        }
        "CLIENT" if ADMIN_CLIENT.contains(&sub.as_str()) => CommandClass::Needs(RedisAccess::Admin),
        "CLIENT" => CommandClass::Needs(RedisAccess::Read),
        "OBJECT" | "MEMORY" if sub == "PURGE" => CommandClass::Needs(RedisAccess::Admin),
        "SLOWLOG" | "LATENCY" if sub == "RESET" => CommandClass::Needs(RedisAccess::Admin),
        n if READ.contains(&n) => CommandClass::Needs(RedisAccess::Read),
        n if WRITE.contains(&n) => CommandClass::Needs(RedisAccess::Write),
        _ => CommandClass::Needs(RedisAccess::Admin),
    }
}

/// The arguments as the journal may show them: credentials are replaced by
/// `<redacted>` and long values are cut.
pub fn redacted_args(args: &[String]) -> Vec<String> {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let sub = args.get(1).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let secret_from = match name.as_str() {
        "AUTH" | "HELLO" | "MIGRATE" | "ACL" => Some(1),
        "CONFIG" if sub == "SET" => {
            let sensitive = args.iter().skip(2).any(|a| {
                matches!(
                    a.to_ascii_lowercase().as_str(),
                    "requirepass" | "masterauth" | "masteruser" | "tls-key-file-pass"
                )
            });
            sensitive.then_some(2)
        }
        _ => None,
    };
    args.iter()
        .enumerate()
        .map(|(i, a)| match secret_from {
            Some(from) if i >= from => "<redacted>".to_string(),
            _ if a.len() > 256 => {
                format!("{}…({} bytes)", crate::caps::log::truncate(a, 256), a.len())
            }
            _ => a.clone(),
        })
        .collect()
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

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    crate::config::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn classes() {
        let class = |a: &[&str]| classify(&argv(a));
        assert_eq!(class(&["get", "k"]), CommandClass::Needs(RedisAccess::Read));
        assert_eq!(class(&["INFO", "replication"]), CommandClass::Needs(RedisAccess::Read));
        assert_eq!(class(&["incr", "k"]), CommandClass::Needs(RedisAccess::Write));
        assert_eq!(class(&["FLUSHALL"]), CommandClass::Needs(RedisAccess::Admin));
        assert_eq!(class(&["config", "get", "*"]), CommandClass::Needs(RedisAccess::Admin));
        assert_eq!(
            class(&["replicaof", "no", "one"]),
            CommandClass::Needs(RedisAccess::Admin)
        );
        assert_eq!(
            class(&["client", "kill", "id", "3"]),
            CommandClass::Needs(RedisAccess::Admin)
        );
        assert_eq!(class(&["client", "list"]), CommandClass::Needs(RedisAccess::Read));
        assert_eq!(class(&["NEWCOMMAND"]), CommandClass::Needs(RedisAccess::Admin));
        assert!(matches!(class(&["auth", "pw"]), CommandClass::Refused(_)));
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redacted_args(&argv(&["AUTH", "user", "pw"])),
            ["AUTH", "<redacted>", "<redacted>"]
        );
        assert_eq!(
            redacted_args(&argv(&["config", "set", "requirepass", "pw"]))[3],
            "<redacted>"
        );
        assert_eq!(redacted_args(&argv(&["SET", "k", "v"])), ["SET", "k", "v"]);
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
