//! `redis`: Redis commands with typed replies, parsed replication info, and
//! Redis Sentinel queries and failover, by target label.
//!
//! The operator's `[targets.redis.<label>]` says where a label is and how to
//! authenticate (`env:`/`file:` secrets, read here and only here, when
//! connecting); `[[plugins.<id>.redis]]` grants operation classes per label.
//! Every command is classified (read / write / admin; unknown = admin) and
//! checked at the call; every call has a timeout bounded by the run's
//! deadline and is journaled with credentials redacted. This module never
//! hands a password, the URL's credentials or a TLS setting to the plugin.

mod grant;
mod host;

pub use grant::{
    allows, classify, covers, grant_lines, need_lines, redacted_args, CommandClass, NodeUrl, RedisAccess, RedisGrant,
    RedisTarget,
};

/// An open connection to one Redis node, held in the run's resource table.
pub struct Connection {
    label: String,
    host: String,
    port: u16,
    client: redis::Client,
    /// Dropped after an I/O error and reopened on the next call.
    link: Option<redis::aio::MultiplexedConnection>,
}

/// The Sentinels of one target, held in the run's resource table.
pub struct SentinelSet {
    label: String,
    master_name: String,
    members: Vec<(String, u16)>,
}
