//! `redis`: Redis commands with typed replies, parsed replication info, and
//! Redis Sentinel queries and failover, by target label.
//!
//! The operator's `[targets.redis.<label>]` says where a label is and how to
//! authenticate (`env:`/`file:` secrets, read here and only here, when
//! connecting); `[[plugins.<id>.redis]]` grants operation classes per label.
//! Every command is classified by one table (read / write / admin /
//! sentinel-failover, or refused to every plugin; unknown = admin) and
//! checked at the call; every call has a timeout bounded by the run's
//! deadline, a cap on its reply's bytes and elements, and is journaled with
//! credentials redacted. This module never hands a password, the URL's
//! credentials or a TLS setting to the plugin, and sends them only to the
//! target's `url` and `nodes` (the Sentinels get `sentinel_password`).

mod budget;
mod classify;
mod client;
mod commands;
mod grant;
mod host;
mod replies;
mod sentinel;

pub use classify::{classify, command_name, redacted_args, replicaof_node};
pub(crate) use client::node_client;
pub use commands::CommandClass;
pub use grant::{
    allows, covers, grant_lines, need_lines, split_host_port, NodePattern, NodeUrl, RedisAccess, RedisGrant,
    RedisTarget,
};

/// Most bytes one reply may take on the wire; past it the connection is
/// dropped and the call fails with `invalid-argument` (ask in parts).
pub const MAX_REPLY_BYTES: i64 = 16 * 1024 * 1024;

/// Most elements (counting nested ones) one reply may hold.
pub const MAX_REPLY_ELEMENTS: usize = 100_000;

/// An open connection to one Redis node, held in the run's resource table.
pub struct Connection {
    label: String,
    host: String,
    port: u16,
    client: redis::Client,
    /// What the reply in flight may still read.
    budget: std::sync::Arc<budget::ReplyBudget>,
    /// Dropped after an I/O error and reopened on the next call.
    link: Option<redis::aio::MultiplexedConnection>,
    /// Its place among the run's open connections.
    _slot: crate::caps::kit::slots::Slot,
}

impl Connection {
    /// `host:port` of the node, as the journal shows it.
    fn node(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The Sentinels of one target, held in the run's resource table.
pub struct SentinelSet {
    label: String,
    master_name: String,
    members: Vec<(String, u16)>,
}

/// `redis` needs: `LABEL` (read / write / admin), `LABEL:sentinel-failover`.
pub(crate) const GATE: crate::caps::kit::gate::Gate = crate::caps::kit::gate::Gate {
    capability: "redis",
    covers,
    advice: need_lines,
    changes: |grants| {
        use grant::RedisAccess::{Admin, SentinelFailover, Write};
        crate::caps::kit::gate::changed_targets(&grants.redis, &[Write, Admin, SentinelFailover])
    },
};

/// `[targets.redis.LABEL]`.
pub(crate) const TARGETS: crate::caps::kit::gate::TargetTable = crate::caps::kit::gate::TargetTable {
    capability: "redis",
    title: "Redis",
    keys: "url = \"redis://HOST:6379\"",
};
