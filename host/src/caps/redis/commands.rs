//! The command table: every Redis command drhost knows, by name (and
//! subcommand), with the access it needs, or why no grant allows it, or
//! why `command` cannot carry it. Anything not in it needs `admin`; the
//! arguments that change a command's meaning are read in `classify.rs`.

use super::RedisAccess;

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
pub(crate) enum Rule {
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
pub(crate) const OTHER_DB: &str =
    "it reaches databases other than the target's (the /N of its url); configure a target for that database instead";
const SCRIPTS: &str =
    "scripts and functions run commands the host cannot check one by one; send the commands themselves";
const CODE: &str = "it installs code in the server";
const OUTBOUND: &str = "it makes the server connect to an address the plugin chooses";
const REPLICATION: &str = "it speaks the replication protocol (an unbounded stream of the whole dataset)";
const ACL_CHANGE: &str = "it changes the server's users and passwords";
const DEBUG: &str = "DEBUG can crash, stall or corrupt the server";
const SENTINEL_CONFIG: &str = "it changes what Sentinel monitors or how it votes, which the operator configures (drhost.toml names the master); use redis-cli";

/// Every command drhost knows, by name. Anything not here needs `admin`.
/// The README's "Redis commands" table is this table.
pub(crate) const COMMANDS: &[(&str, Rule)] = &[
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

/// The class `rule` gives `args`, whose argument `depth` it was found by
/// (0: the command name); a subcommand table looks at the next one.
pub(crate) fn apply(rule: Rule, args: &[String], depth: usize) -> CommandClass {
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
