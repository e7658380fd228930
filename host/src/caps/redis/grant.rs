//! What the operator configures for `redis`: targets by label
//! (`[targets.redis.<label>]`), grants per plugin (`[[plugins.<id>.redis]]`),
//! the command classes, and the check made at every call.
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
    /// The other data nodes the target's credentials may be sent to, as
    /// `host:port` (`*` allowed in the host, e.g. `"10.0.0.*:6380"`): its
    /// replicas and every node Sentinel may promote, written as Sentinel
    /// reports them. `open-master` and `open-node` refuse any address that
    /// is neither `url` nor listed here, before connecting.
    #[serde(default)]
    pub nodes: Vec<NodePattern>,
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
    let subject = format!(
        "redis {what} on target `{label}` needs `{}` access, which",
        access.name()
    );
    not_granted(&subject, id, &grant_lines(id, label, access))
}

/// How a command is treated before its class is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandClass {
    /// Needs this access.
    Needs(RedisAccess),
    /// No grant allows it (an `access-denied` error): it reaches beyond the
    /// target, runs code the host cannot check, or reconfigures what the
    /// operator's drhost.toml describes.
    Refused(&'static str),
    /// `command` cannot carry it (an `invalid-argument` error): it changes
    /// the connection's credentials or protocol state.
    Unsupported(&'static str),
}

/// One row of the command table: a class, or a table over the next argument.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Is(CommandClass),
    /// By the subcommand (the next argument, case-insensitive); anything
    /// not listed takes the second field.
    Sub(&'static [(&'static str, Rule)], &'static Rule),
}

const R: Rule = Rule::Is(CommandClass::Needs(RedisAccess::Read));
const W: Rule = Rule::Is(CommandClass::Needs(RedisAccess::Write));
const A: Rule = Rule::Is(CommandClass::Needs(RedisAccess::Admin));
const F: Rule = Rule::Is(CommandClass::Needs(RedisAccess::SentinelFailover));

const fn refused(why: &'static str) -> Rule {
    Rule::Is(CommandClass::Refused(why))
}

const fn unsupported(why: &'static str) -> Rule {
    Rule::Is(CommandClass::Unsupported(why))
}

const CREDENTIALS: &str = "credentials come from the operator's config, not from the plugin";
const PROTOCOL: &str = "it changes the connection's protocol state (subscriptions, MONITOR, RESET); the reply stream would no longer be one reply per command";
const OTHER_DB: &str =
    "it reaches databases other than the target's (the /N of its url); configure a target for that database instead";
const SCRIPTS: &str =
    "scripts and functions run commands the host cannot check one by one; send the commands themselves";
const CODE: &str = "it installs code in the server";
const OUTBOUND: &str = "it makes the server connect to an address the plugin chooses";
const REPLICATION: &str = "it speaks the replication protocol (an unbounded stream of the whole dataset)";
const ACL_CHANGE: &str = "it changes the server's users and passwords";
const DEBUG: &str = "DEBUG can crash, stall or corrupt the server";
const SENTINEL_CONFIG: &str = "it changes what Sentinel monitors or how it votes, which the operator configures (drhost.toml names the master); use redis-cli";
const RESERVED_CHANNEL: &str = "channels starting with `__` belong to Redis and Sentinel (a message on `__sentinel__:hello` can move Sentinel's idea of the master)";
const FILE_SETTING: &str = "it points the server at files on its own host";
const GROWS: &str = "its offset would make the server allocate a string beyond 16 MiB (up to 512 MiB from a few bytes of arguments); write smaller values";

/// Largest string a `SETRANGE`/`SETBIT`/`BITFIELD` offset may grow (bytes).
const MAX_GROWTH: u64 = 16 * 1024 * 1024;

/// Every command drhost knows, by name. Anything not here needs `admin`.
/// The README's "Redis commands" table is this table.
const COMMANDS: &[(&str, Rule)] = &[
    // Connection and server: look only.
    ("PING", R),
    ("ECHO", R),
    ("INFO", R),
    ("ROLE", R),
    ("TIME", R),
    ("LASTSAVE", R),
    ("DBSIZE", R),
    ("LOLWUT", R),
    ("COMMAND", R),
    ("READONLY", R),
    ("READWRITE", R),
    ("PUBSUB", R),
    // Blocking reads: bounded by the call's timeout, like every call.
    ("WAIT", R),
    ("WAITAOF", R),
    // Keys and values: look only.
    ("TYPE", R),
    ("TTL", R),
    ("PTTL", R),
    ("EXPIRETIME", R),
    ("PEXPIRETIME", R),
    ("EXISTS", R),
    ("SCAN", R),
    ("RANDOMKEY", R),
    ("DUMP", R),
    ("SORT_RO", R),
    ("GET", R),
    ("MGET", R),
    ("GETRANGE", R),
    ("STRLEN", R),
    ("SUBSTR", R),
    ("LCS", R),
    ("HGET", R),
    ("HMGET", R),
    ("HGETALL", R),
    ("HKEYS", R),
    ("HVALS", R),
    ("HLEN", R),
    ("HEXISTS", R),
    ("HSTRLEN", R),
    ("HSCAN", R),
    ("HRANDFIELD", R),
    ("HTTL", R),
    ("HPTTL", R),
    ("HEXPIRETIME", R),
    ("HPEXPIRETIME", R),
    ("LRANGE", R),
    ("LLEN", R),
    ("LINDEX", R),
    ("LPOS", R),
    ("SMEMBERS", R),
    ("SISMEMBER", R),
    ("SMISMEMBER", R),
    ("SCARD", R),
    ("SSCAN", R),
    ("SRANDMEMBER", R),
    ("SINTER", R),
    ("SINTERCARD", R),
    ("SUNION", R),
    ("SDIFF", R),
    ("ZRANGE", R),
    ("ZRANGEBYSCORE", R),
    ("ZREVRANGE", R),
    ("ZREVRANGEBYSCORE", R),
    ("ZRANGEBYLEX", R),
    ("ZREVRANGEBYLEX", R),
    ("ZSCORE", R),
    ("ZMSCORE", R),
    ("ZCARD", R),
    ("ZCOUNT", R),
    ("ZLEXCOUNT", R),
    ("ZRANK", R),
    ("ZREVRANK", R),
    ("ZSCAN", R),
    ("ZRANDMEMBER", R),
    ("ZDIFF", R),
    ("ZINTER", R),
    ("ZUNION", R),
    ("ZINTERCARD", R),
    ("XRANGE", R),
    ("XREVRANGE", R),
    ("XLEN", R),
    ("XREAD", R),
    ("XPENDING", R),
    ("XINFO", R),
    ("BITCOUNT", R),
    ("BITPOS", R),
    ("GETBIT", R),
    ("BITFIELD_RO", R),
    ("PFCOUNT", R),
    ("GEOPOS", R),
    ("GEODIST", R),
    ("GEOHASH", R),
    ("GEOSEARCH", R),
    ("GEORADIUS_RO", R),
    ("GEORADIUSBYMEMBER_RO", R),
    // Change data in the target's database.
    ("SET", W),
    ("SETNX", W),
    ("SETEX", W),
    ("PSETEX", W),
    ("MSET", W),
    ("MSETNX", W),
    ("GETSET", W),
    ("GETDEL", W),
    ("GETEX", W),
    ("APPEND", W),
    ("SETRANGE", W),
    ("DEL", W),
    ("UNLINK", W),
    ("EXPIRE", W),
    ("PEXPIRE", W),
    ("EXPIREAT", W),
    ("PEXPIREAT", W),
    ("PERSIST", W),
    ("INCR", W),
    ("INCRBY", W),
    ("INCRBYFLOAT", W),
    ("DECR", W),
    ("DECRBY", W),
    ("RENAME", W),
    ("RENAMENX", W),
    ("COPY", W), // COPY … DB n is refused (see `classify`)
    ("TOUCH", W),
    ("SORT", W),
    ("HSET", W),
    ("HSETNX", W),
    ("HMSET", W),
    ("HDEL", W),
    ("HINCRBY", W),
    ("HINCRBYFLOAT", W),
    ("HEXPIRE", W),
    ("HPEXPIRE", W),
    ("HEXPIREAT", W),
    ("HPEXPIREAT", W),
    ("HPERSIST", W),
    ("HGETDEL", W),
    ("HGETEX", W),
    ("HSETEX", W),
    ("LPUSH", W),
    ("RPUSH", W),
    ("LPUSHX", W),
    ("RPUSHX", W),
    ("LPOP", W),
    ("RPOP", W),
    ("LMPOP", W),
    ("LSET", W),
    ("LREM", W),
    ("LTRIM", W),
    ("LINSERT", W),
    ("LMOVE", W),
    ("RPOPLPUSH", W),
    ("BLPOP", W),
    ("BRPOP", W),
    ("BLMOVE", W),
    ("BLMPOP", W),
    ("BRPOPLPUSH", W),
    ("SADD", W),
    ("SREM", W),
    ("SPOP", W),
    ("SMOVE", W),
    ("SINTERSTORE", W),
    ("SUNIONSTORE", W),
    ("SDIFFSTORE", W),
    ("ZADD", W),
    ("ZREM", W),
    ("ZINCRBY", W),
    ("ZPOPMIN", W),
    ("ZPOPMAX", W),
    ("ZMPOP", W),
    ("BZPOPMIN", W),
    ("BZPOPMAX", W),
    ("BZMPOP", W),
    ("ZREMRANGEBYSCORE", W),
    ("ZREMRANGEBYRANK", W),
    ("ZREMRANGEBYLEX", W),
    ("ZUNIONSTORE", W),
    ("ZINTERSTORE", W),
    ("ZDIFFSTORE", W),
    ("ZRANGESTORE", W),
    ("XADD", W),
    ("XDEL", W),
    ("XTRIM", W),
    ("XACK", W),
    ("XCLAIM", W),
    ("XAUTOCLAIM", W),
    ("XGROUP", W),
    ("XREADGROUP", W),
    ("XSETID", W),
    ("SETBIT", W),
    ("BITOP", W),
    ("BITFIELD", W),
    ("PFADD", W),
    ("PFMERGE", W),
    ("GEOADD", W),
    ("GEOSEARCHSTORE", W),
    ("GEORADIUS", W),
    ("GEORADIUSBYMEMBER", W),
    ("PUBLISH", W), // not to `__…` channels (see `classify`)
    ("SPUBLISH", W),
    ("MULTI", W),
    ("EXEC", W),
    ("DISCARD", W),
    ("WATCH", W),
    ("UNWATCH", W),
    // Hard to undo, or reconfigures the server.
    ("KEYS", A), // blocks the server on a large keyspace; SCAN is `read`
    ("RESTORE", A),
    ("RESTORE-ASKING", A),
    ("FLUSHALL", A),
    ("FLUSHDB", A),
    ("SAVE", A),
    ("BGSAVE", A),
    ("BGREWRITEAOF", A),
    ("SHUTDOWN", A),
    ("REPLICAOF", A), // only NO ONE or a node of the target (see the host's check)
    ("SLAVEOF", A),
    ("FAILOVER", A),
    (
        "CLIENT",
        Rule::Sub(
            &[
                ("LIST", R),
                ("INFO", R),
                ("ID", R),
                ("GETNAME", R),
                ("GETREDIR", R),
                ("TRACKINGINFO", R),
                ("SETNAME", R),
                ("SETINFO", R),
                ("HELP", R),
                ("KILL", A),
                ("PAUSE", A),
                ("UNPAUSE", A),
                ("UNBLOCK", A),
                ("NO-EVICT", A),
                ("NO-TOUCH", A),
                ("REPLY", unsupported(PROTOCOL)),
                ("TRACKING", unsupported(PROTOCOL)),
                ("CACHING", unsupported(PROTOCOL)),
            ],
            &A,
        ),
    ),
    // CONFIG GET can return requirepass/masterauth: admin.
    ("CONFIG", Rule::Sub(&[("HELP", R)], &A)), // CONFIG SET of file paths is refused (see `classify`)
    (
        "OBJECT",
        Rule::Sub(
            &[
                ("ENCODING", R),
                ("FREQ", R),
                ("IDLETIME", R),
                ("REFCOUNT", R),
                ("HELP", R),
            ],
            &A,
        ),
    ),
    (
        "MEMORY",
        Rule::Sub(
            &[
                ("USAGE", R),
                ("STATS", R),
                ("DOCTOR", R),
                ("MALLOC-STATS", R),
                ("HELP", R),
            ],
            &A,
        ),
    ),
    ("SLOWLOG", Rule::Sub(&[("GET", R), ("LEN", R), ("HELP", R)], &A)),
    (
        "LATENCY",
        Rule::Sub(
            &[
                ("LATEST", R),
                ("HISTORY", R),
                ("GRAPH", R),
                ("DOCTOR", R),
                ("HISTOGRAM", R),
                ("HELP", R),
            ],
            &A,
        ),
    ),
    (
        "ACL",
        Rule::Sub(
            &[
                ("WHOAMI", R),
                ("CAT", R),
                ("GENPASS", R),
                ("HELP", R),
                ("SETUSER", refused(ACL_CHANGE)),
                ("DELUSER", refused(ACL_CHANGE)),
                ("LOAD", refused(ACL_CHANGE)),
                ("SAVE", refused(ACL_CHANGE)),
            ],
            &A,
        ),
    ),
    (
        "CLUSTER",
        Rule::Sub(
            &[
                ("INFO", R),
                ("NODES", R),
                ("SLOTS", R),
                ("SHARDS", R),
                ("MYID", R),
                ("MYSHARDID", R),
                ("KEYSLOT", R),
                ("COUNTKEYSINSLOT", R),
                ("GETKEYSINSLOT", R),
                ("LINKS", R),
                ("REPLICAS", R),
                ("SLAVES", R),
                ("COUNT-FAILURE-REPORTS", R),
                ("HELP", R),
                ("MEET", refused(OUTBOUND)),
            ],
            &A,
        ),
    ),
    // Sent to a Sentinel (when a target's url or nodes name one).
    (
        "SENTINEL",
        Rule::Sub(
            &[
                ("MASTERS", R),
                ("MASTER", R),
                ("REPLICAS", R),
                ("SLAVES", R),
                ("SENTINELS", R),
                ("GET-MASTER-ADDR-BY-NAME", R),
                ("CKQUORUM", R),
                ("INFO-CACHE", R),
                ("MYID", R),
                ("PENDING-SCRIPTS", R),
                ("HELP", R),
                ("FAILOVER", F),
                ("CONFIG", Rule::Sub(&[("GET", A)], &refused(SENTINEL_CONFIG))),
                ("SET", refused(SENTINEL_CONFIG)),
                ("REMOVE", refused(SENTINEL_CONFIG)),
                ("MONITOR", refused(SENTINEL_CONFIG)),
                ("RESET", refused(SENTINEL_CONFIG)),
                ("FLUSHCONFIG", refused(SENTINEL_CONFIG)),
                ("SIMULATE-FAILURE", refused(SENTINEL_CONFIG)),
                ("IS-MASTER-DOWN-BY-ADDR", refused(SENTINEL_CONFIG)),
                ("DEBUG", refused(SENTINEL_CONFIG)),
            ],
            &A,
        ),
    ),
    (
        "SCRIPT",
        Rule::Sub(
            &[
                ("EXISTS", R),
                ("HELP", R),
                ("KILL", A),
                ("FLUSH", A),
                ("LOAD", refused(SCRIPTS)),
            ],
            &A,
        ),
    ),
    (
        "FUNCTION",
        Rule::Sub(
            &[
                ("LIST", R),
                ("STATS", R),
                ("DUMP", R),
                ("HELP", R),
                ("KILL", A),
                ("FLUSH", A),
                ("DELETE", A),
                ("LOAD", refused(CODE)),
                ("RESTORE", refused(CODE)),
            ],
            &A,
        ),
    ),
    ("MODULE", Rule::Sub(&[("LIST", R), ("HELP", R)], &refused(CODE))),
    // Refused to every plugin.
    ("EVAL", refused(SCRIPTS)),
    ("EVALSHA", refused(SCRIPTS)),
    ("EVAL_RO", refused(SCRIPTS)),
    ("EVALSHA_RO", refused(SCRIPTS)),
    ("FCALL", refused(SCRIPTS)),
    ("FCALL_RO", refused(SCRIPTS)),
    ("SELECT", refused(OTHER_DB)),
    ("SWAPDB", refused(OTHER_DB)),
    ("MOVE", refused(OTHER_DB)),
    ("MIGRATE", refused(OUTBOUND)),
    ("SYNC", refused(REPLICATION)),
    ("PSYNC", refused(REPLICATION)),
    ("REPLCONF", refused(REPLICATION)),
    ("DEBUG", refused(DEBUG)),
    ("AUTH", unsupported(CREDENTIALS)),
    ("HELLO", unsupported(CREDENTIALS)),
    ("SUBSCRIBE", unsupported(PROTOCOL)),
    ("PSUBSCRIBE", unsupported(PROTOCOL)),
    ("SSUBSCRIBE", unsupported(PROTOCOL)),
    ("UNSUBSCRIBE", unsupported(PROTOCOL)),
    ("PUNSUBSCRIBE", unsupported(PROTOCOL)),
    ("SUNSUBSCRIBE", unsupported(PROTOCOL)),
    ("MONITOR", unsupported(PROTOCOL)),
    ("QUIT", unsupported(PROTOCOL)),
    ("RESET", unsupported(PROTOCOL)),
];

/// `CONFIG SET` parameters that name files on the server's host.
const FILE_SETTINGS: &[&str] = &[
    "dir",
    "dbfilename",
    "logfile",
    "pidfile",
    "aclfile",
    "unixsocket",
    "appendfilename",
    "appenddirname",
    "tls-cert-file",
    "tls-key-file",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-dh-params-file",
];

fn apply(rule: Rule, args: &[String], depth: usize) -> CommandClass {
    match rule {
        Rule::Is(class) => class,
        Rule::Sub(table, default) => {
            let sub = args.get(depth + 1).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
            let next = table
                .iter()
                .find(|(n, _)| *n == sub)
                .map(|(_, r)| *r)
                .unwrap_or(*default);
            apply(next, args, depth + 1)
        }
    }
}

/// Classifies a command by the table above (name and subcommands,
/// case-insensitive), then by the arguments that change its meaning.
/// Unknown commands and subcommands need `admin`.
pub fn classify(args: &[String]) -> CommandClass {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let upper = |i: usize| args.get(i).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    match name.as_str() {
        "PUBLISH" | "SPUBLISH" if args.get(1).is_some_and(|c| c.starts_with("__")) => {
            return CommandClass::Refused(RESERVED_CHANNEL)
        }
        // COPY source destination [DB n] [REPLACE]
        "COPY" if (3..args.len()).any(|i| upper(i) == "DB") => return CommandClass::Refused(OTHER_DB),
        "CONFIG"
            if upper(1) == "SET"
                && args
                    .iter()
                    .skip(2)
                    .step_by(2)
                    .any(|k| FILE_SETTINGS.contains(&k.to_ascii_lowercase().as_str())) =>
        {
            return CommandClass::Refused(FILE_SETTING)
        }
        "SETRANGE" | "SETBIT" | "BITFIELD" if grows_too_far(&name, args) => return CommandClass::Refused(GROWS),
        _ => {}
    }
    COMMANDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, rule)| apply(*rule, args, 0))
        .unwrap_or(CommandClass::Needs(RedisAccess::Admin))
}

/// Whether a `SETRANGE key offset value`, `SETBIT key offset bit` or
/// `BITFIELD key … SET|INCRBY type offset …` would grow the string past
/// [`MAX_GROWTH`]. Unparsable offsets are left to the server to refuse.
fn grows_too_far(name: &str, args: &[String]) -> bool {
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    match name {
        "SETRANGE" => {
            number(2).is_some_and(|o| o.saturating_add(args.get(3).map_or(0, |v| v.len() as u64)) > MAX_GROWTH)
        }
        "SETBIT" => number(2).is_some_and(|bit| bit / 8 >= MAX_GROWTH),
        _ => (2..args.len()).any(|i| {
            let op = args[i].to_ascii_uppercase();
            if op != "SET" && op != "INCRBY" {
                return false;
            }
            let width: u64 = args.get(i + 1).and_then(|t| t.get(1..)?.parse().ok()).unwrap_or(0);
            let offset = args.get(i + 2).and_then(|o| match o.strip_prefix('#') {
                Some(n) => n.parse::<u64>().ok().map(|n| n.saturating_mul(width)),
                None => o.parse::<u64>().ok(),
            });
            offset.is_some_and(|o| o.saturating_add(width) / 8 >= MAX_GROWTH)
        }),
    }
}

/// The command as errors name it: `NAME`, or `NAME SUB` when the
/// subcommand decides the class (upper-cased, at most 64 bytes).
pub fn command_name(args: &[String]) -> String {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let has_sub = COMMANDS.iter().any(|(n, r)| *n == name && matches!(r, Rule::Sub(..)));
    let shown = match args.get(1) {
        Some(sub) if has_sub => format!("{name} {}", sub.to_ascii_uppercase()),
        _ => name,
    };
    let shown: String = shown.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    crate::caps::kit::text::truncate(&shown, 64).to_string()
}

/// The node a `REPLICAOF`/`SLAVEOF` would make the server replicate from
/// (`None` for `NO ONE` and for anything else): the host checks it is a
/// node of the target, since the server sends its `masterauth` there.
pub fn replicaof_node(args: &[String]) -> Option<(String, String)> {
    let name = args.first()?.to_ascii_uppercase();
    if name != "REPLICAOF" && name != "SLAVEOF" {
        return None;
    }
    let host = args.get(1).cloned().unwrap_or_default();
    let port = args.get(2).cloned().unwrap_or_default();
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        return None;
    }
    Some((host, port))
}

/// The arguments as the journal may show them: credentials are replaced by
/// `<redacted>` and long values are cut.
pub fn redacted_args(args: &[String]) -> Vec<String> {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let secret_from = match name.as_str() {
        "AUTH" | "HELLO" | "MIGRATE" | "ACL" => Some(1),
        // CONFIG SET requirepass/masterauth…, SENTINEL SET m auth-pass…,
        // SENTINEL CONFIG SET sentinel-pass…: everything after the subcommand.
        "SENTINEL" | "CONFIG"
            if args.iter().skip(1).any(|a| {
                let a = a.to_ascii_lowercase();
                a.contains("pass") || matches!(a.as_str(), "masterauth" | "masteruser" | "auth-user")
            }) =>
        {
            Some(2)
        }
        _ => None,
    };
    let mut shown: Vec<String> = args
        .iter()
        .take(MAX_JOURNALED_ARGS)
        .enumerate()
        .map(|(i, a)| match secret_from {
            Some(from) if i >= from => "<redacted>".to_string(),
            _ if a.len() > 256 => {
                format!("{}…({} bytes)", crate::caps::kit::text::truncate(a, 256), a.len())
            }
            _ => a.clone(),
        })
        .collect();
    if args.len() > MAX_JOURNALED_ARGS {
        shown.push(format!("…({} more arguments)", args.len() - MAX_JOURNALED_ARGS));
    }
    shown
}

/// Arguments of one command the journal shows (the rest are counted).
const MAX_JOURNALED_ARGS: usize = 32;

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
        assert!(matches!(class(&["auth", "pw"]), CommandClass::Unsupported(_)));
    }

    #[test]
    fn dangerous_commands_are_admin_or_refused_in_any_case() {
        let class = |a: &[&str]| classify(&argv(a));
        let admin = CommandClass::Needs(RedisAccess::Admin);
        let read = CommandClass::Needs(RedisAccess::Read);
        let write = CommandClass::Needs(RedisAccess::Write);
        let refused = |a: &[&str]| matches!(class(a), CommandClass::Refused(_));
        // Sentinel's gossip channel (any Redis-reserved channel), not others.
        assert!(refused(&["PUBLISH", "__sentinel__:hello", "1,2,3"]));
        assert!(refused(&["spublish", "__sentinel__:hello", "x"]));
        assert!(refused(&["Publish", "__keyspace@0__:k", "del"]));
        assert_eq!(class(&["publish", "app-events", "x"]), write);
        // Other databases.
        for a in [
            &["select", "1"][..],
            &["SWAPDB", "0", "1"],
            &["move", "k", "1"],
            &["COPY", "a", "b", "db", "1"],
            &["copy", "a", "b", "REPLACE", "Db", "1"],
        ] {
            assert!(refused(a), "{a:?}");
        }
        assert_eq!(class(&["COPY", "a", "b", "REPLACE"]), write);
        assert_eq!(class(&["COPY", "db", "b"]), write, "a key named db is not the option");
        // Code, scripts, outbound connections, replication, DEBUG.
        for a in [
            &["EVAL", "return 1", "0"][..],
            &["evalsha", "abc", "0"],
            &["eval_ro", "return 1", "0"],
            &["FCALL", "f", "0"],
            &["fcall_ro", "f", "0"],
            &["SCRIPT", "load", "return 1"],
            &["FUNCTION", "LOAD", "#!lua name=x"],
            &["function", "restore", "payload"],
            &["MODULE", "LOAD", "/tmp/x.so"],
            &["module", "loadex", "/tmp/x.so"],
            &["MIGRATE", "10.0.0.1", "6379", "k", "0", "100"],
            &["CLUSTER", "MEET", "10.0.0.1", "6379"],
            &["SYNC"],
            &["psync", "?", "-1"],
            &["REPLCONF", "listening-port", "1"],
            &["DEBUG", "SLEEP", "0"],
            &["debug", "segfault"],
            &["ACL", "SETUSER", "evil", "on", ">pw", "+@all"],
            &["acl", "deluser", "default"],
            &["CONFIG", "SET", "dir", "/etc"],
            &["config", "set", "maxmemory", "1gb", "DBFILENAME", "x"],
        ] {
            assert!(refused(a), "{a:?}");
        }
        // Admin: blocking, reconfiguring or revealing.
        for a in [
            &["KEYS", "*"][..],
            &["RESTORE", "k", "0", "payload"],
            &["restore-asking", "k", "0", "payload"],
            &["CONFIG", "GET", "requirepass"],
            &["config", "Set", "maxmemory", "1gb"],
            &["CLIENT", "KILL", "ID", "1"],
            &["client", "pause", "100"],
            &["client", "newthing"],
            &["OBJECT", "newthing"],
            &["MEMORY", "PURGE"],
            &["SLOWLOG", "RESET"],
            &["ACL", "LIST"],
            &["acl", "getuser", "default"],
            &["SCRIPT", "FLUSH"],
            &["FAILOVER"],
            &["REPLICAOF", "NO", "ONE"],
            &["CLUSTER", "FAILOVER"],
            &["SENTINEL", "CONFIG", "GET", "*"],
            &["SENTINEL", "newthing"],
            &["FLUSHALL"],
            &["SHUTDOWN", "NOSAVE"],
        ] {
            assert_eq!(class(a), admin, "{a:?}");
        }
        // Sentinel: queries read, failover its own access, the rest refused.
        assert_eq!(class(&["sentinel", "masters"]), read);
        assert_eq!(class(&["SENTINEL", "get-master-addr-by-name", "m"]), read);
        assert_eq!(
            class(&["Sentinel", "Failover", "m"]),
            CommandClass::Needs(RedisAccess::SentinelFailover)
        );
        for sub in [
            "SET",
            "remove",
            "MONITOR",
            "reset",
            "FLUSHCONFIG",
            "simulate-failure",
            "is-master-down-by-addr",
            "DEBUG",
        ] {
            assert!(refused(&["SENTINEL", sub, "m"]), "{sub}");
        }
        assert!(refused(&["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"]));
        // Read subcommands stay read; protocol changers are unsupported.
        assert_eq!(class(&["object", "encoding", "k"]), read);
        assert_eq!(class(&["CLIENT", "LIST"]), read);
        assert_eq!(class(&["client", "info"]), read);
        assert_eq!(class(&["MODULE", "list"]), read);
        assert_eq!(class(&["SCAN", "0"]), read);
        for a in [
            &["SUBSCRIBE", "c"][..],
            &["monitor"],
            &["CLIENT", "REPLY", "OFF"],
            &["client", "tracking", "on"],
            &["RESET"],
            &["hello", "3"],
        ] {
            assert!(matches!(class(a), CommandClass::Unsupported(_)), "{a:?}");
        }
        // Blocking commands are classified like their non-blocking form.
        assert_eq!(class(&["BLPOP", "k", "0"]), write);
        assert_eq!(class(&["WAIT", "1", "0"]), read);
    }

    #[test]
    fn offsets_cannot_grow_a_string_past_the_cap() {
        let refused = |a: &[&str]| matches!(classify(&argv(a)), CommandClass::Refused(_));
        assert!(refused(&["SETRANGE", "k", "536870000", "x"]));
        assert!(refused(&["setbit", "k", "4294967295", "1"]));
        assert!(refused(&[
            "BITFIELD",
            "k",
            "GET",
            "u8",
            "0",
            "set",
            "u8",
            "#100000000",
            "1"
        ]));
        assert!(refused(&["bitfield", "k", "INCRBY", "i5", "4000000000", "1"]));
        assert_eq!(
            classify(&argv(&["SETRANGE", "k", "10", "abc"])),
            CommandClass::Needs(RedisAccess::Write)
        );
        assert_eq!(
            classify(&argv(&["SETBIT", "k", "7", "1"])),
            CommandClass::Needs(RedisAccess::Write)
        );
        assert_eq!(
            classify(&argv(&["BITFIELD", "k", "SET", "u8", "#3", "1"])),
            CommandClass::Needs(RedisAccess::Write)
        );
    }

    #[test]
    fn the_journal_shows_a_bounded_number_of_arguments() {
        let args: Vec<String> = std::iter::once("MSET".to_string())
            .chain((0..1000).map(|i| i.to_string()))
            .collect();
        let shown = redacted_args(&args);
        assert_eq!(shown.len(), 33);
        assert_eq!(shown[32], "…(969 more arguments)");
        assert_eq!(command_name(&argv(&["GET\u{1b}[2J"])), "GET?[2J");
    }

    #[test]
    fn replicaof_names_its_node_unless_no_one() {
        assert_eq!(replicaof_node(&argv(&["replicaof", "no", "one"])), None);
        assert_eq!(replicaof_node(&argv(&["SLAVEOF", "NO", "ONE"])), None);
        assert_eq!(
            replicaof_node(&argv(&["REPLICAOF", "10.0.0.9", "6379"])),
            Some(("10.0.0.9".into(), "6379".into()))
        );
        assert_eq!(replicaof_node(&argv(&["GET", "k"])), None);
    }

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
    fn errors_name_the_subcommand() {
        assert_eq!(command_name(&argv(&["config", "set", "x"])), "CONFIG SET");
        assert_eq!(command_name(&argv(&["get", "k"])), "GET");
        assert_eq!(command_name(&argv(&["sentinel", "remove", "m"])), "SENTINEL REMOVE");
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
        assert_eq!(
            redacted_args(&argv(&["SENTINEL", "SET", "m", "auth-pass", "pw"])),
            ["SENTINEL", "SET", "<redacted>", "<redacted>", "<redacted>"]
        );
        assert_eq!(
            redacted_args(&argv(&["config", "set", "masterauth", "pw"]))[3],
            "<redacted>"
        );
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
