//! The `redis` interface: one small function per WIT function; the checks
//! and the real client calls are in the inner `operations` module.

use std::time::Instant;

use serde_json::json;
use wasmtime::component::Resource;

use super::{Connection, SentinelSet};
use crate::bindings::drhost::runbook::redis::{
    Address, AddressAnswer, Host, HostConnection, HostSentinel, PeersAnswer, QuorumAnswer, ReplicasAnswer,
    ReplicationInfo, Reply, StateAnswer,
};
use crate::bindings::types::Error as CapError;
use crate::caps::journal_call;
use crate::sandbox::RunState;

impl Host for RunState {}

fn addr_json(a: &Address) -> String {
    format!("{}:{}", a.host, a.port)
}

impl HostConnection for RunState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<Connection>, CapError>> {
        let started = Instant::now();
        let result = operations::open(&self.ctx, &label, operations::Node::Url).await;
        self.finish_open("redis.open", json!({ "target": label }), started, result)
    }

    async fn open_master(&mut self, label: String) -> wasmtime::Result<Result<Resource<Connection>, CapError>> {
        let started = Instant::now();
        let result = operations::open(&self.ctx, &label, operations::Node::Master).await;
        self.finish_open("redis.open-master", json!({ "target": label }), started, result)
    }

    async fn open_node(
        &mut self,
        label: String,
        node: Address,
    ) -> wasmtime::Result<Result<Resource<Connection>, CapError>> {
        let started = Instant::now();
        let args = json!({ "target": label, "node": addr_json(&node) });
        let result = operations::open(&self.ctx, &label, operations::Node::Given(node.host, node.port)).await;
        self.finish_open("redis.open-node", args, started, result)
    }

    async fn address(&mut self, conn: Resource<Connection>) -> wasmtime::Result<Address> {
        let conn = self.table.get(&conn)?;
        Ok(Address {
            host: conn.host.clone(),
            port: conn.port,
        })
    }

    async fn command(
        &mut self,
        conn: Resource<Connection>,
        args: Vec<String>,
    ) -> wasmtime::Result<Result<Reply, CapError>> {
        let started = Instant::now();
        let (label, node) = self.connection_names(&conn)?;
        let journal_args = json!({ "target": label, "node": node, "args": super::redacted_args(&args) });
        let result = match operations::check_command(&self.ctx, &label, &args) {
            Ok(()) => {
                let cmd = operations::build(&args);
                match self.query(&conn, cmd).await? {
                    Ok(value) => Ok(operations::reply(value)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        journal_call(
            self,
            "redis.command",
            journal_args,
            started,
            &result,
            |r| json!({ "reply": operations::reply_kind(r) }),
        );
        Ok(result)
    }

    async fn ping(&mut self, conn: Resource<Connection>) -> wasmtime::Result<Result<u64, CapError>> {
        let started = Instant::now();
        let (label, node) = self.connection_names(&conn)?;
        let result = match operations::check(&self.ctx, &label, "PING", super::RedisAccess::Read) {
            Ok(()) => self
                .query(&conn, redis::cmd("PING"))
                .await?
                .map(|_| started.elapsed().as_micros() as u64),
            Err(e) => Err(e),
        };
        journal_call(
            self,
            "redis.ping",
            json!({ "target": label, "node": node }),
            started,
            &result,
            |us| json!({ "round_trip_us": us }),
        );
        Ok(result)
    }

    async fn info(
        &mut self,
        conn: Resource<Connection>,
        section: String,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, CapError>> {
        let started = Instant::now();
        let (label, node) = self.connection_names(&conn)?;
        let result = match operations::check(&self.ctx, &label, "INFO", super::RedisAccess::Read) {
            Ok(()) => {
                let mut cmd = redis::cmd("INFO");
                if !section.is_empty() {
                    cmd.arg(&section);
                }
                self.query(&conn, cmd)
                    .await?
                    .map(|v| operations::info_pairs(&operations::text(&v)))
            }
            Err(e) => Err(e),
        };
        let args = json!({ "target": label, "node": node, "section": section });
        journal_call(
            self,
            "redis.info",
            args,
            started,
            &result,
            |pairs| json!({ "fields": pairs.len() }),
        );
        Ok(result)
    }

    async fn replication(&mut self, conn: Resource<Connection>) -> wasmtime::Result<Result<ReplicationInfo, CapError>> {
        let started = Instant::now();
        let (label, node) = self.connection_names(&conn)?;
        let result = match operations::check(&self.ctx, &label, "INFO replication", super::RedisAccess::Read) {
            Ok(()) => self
                .query(&conn, redis::cmd("INFO").arg("replication").clone())
                .await?
                .map(|v| operations::replication(&operations::info_pairs(&operations::text(&v)))),
            Err(e) => Err(e),
        };
        journal_call(
            self,
            "redis.replication",
            json!({ "target": label, "node": node }),
            started,
            &result,
            |r| json!({ "role": r.role, "replicas": r.replicas.len(), "offset": r.master_repl_offset, "link": r.master_link_status }),
        );
        Ok(result)
    }

    async fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl RunState {
    fn finish_open(
        &mut self,
        call: &str,
        args: serde_json::Value,
        started: Instant,
        result: Result<Connection, CapError>,
    ) -> wasmtime::Result<Result<Resource<Connection>, CapError>> {
        journal_call(
            self,
            call,
            args,
            started,
            &result,
            |c| json!({ "node": format!("{}:{}", c.host, c.port) }),
        );
        Ok(match result {
            Ok(conn) => Ok(self.table.push(conn)?),
            Err(e) => Err(e),
        })
    }

    fn connection_names(&self, conn: &Resource<Connection>) -> wasmtime::Result<(String, String)> {
        let c = self.table.get(conn)?;
        Ok((c.label.clone(), format!("{}:{}", c.host, c.port)))
    }

    /// Runs one command on the connection, reconnecting when the link broke.
    async fn query(
        &mut self,
        conn: &Resource<Connection>,
        cmd: redis::Cmd,
    ) -> wasmtime::Result<Result<redis::Value, CapError>> {
        let ctx = self.ctx.clone();
        let (label, link, client, host, port) = {
            let c = self.table.get(conn)?;
            (
                c.label.clone(),
                c.link.clone(),
                c.client.clone(),
                c.host.clone(),
                c.port,
            )
        };
        let (result, link) = operations::query(&ctx, &label, &client, link, &host, port, cmd).await;
        self.table.get_mut(conn)?.link = link;
        Ok(result)
    }

    /// (label, master name, members) of a Sentinel set.
    fn sentinel_names(&self, set: &Resource<SentinelSet>) -> wasmtime::Result<SentinelNames> {
        let s = self.table.get(set)?;
        Ok((s.label.clone(), s.master_name.clone(), s.members.clone()))
    }
}

/// A Sentinel set's target label, master name and members.
type SentinelNames = (String, String, Vec<(String, u16)>);

impl HostSentinel for RunState {
    async fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<SentinelSet>, CapError>> {
        let started = Instant::now();
        let result = operations::open_sentinels(&self.ctx, &label);
        journal_call(
            self,
            "redis.sentinel.open",
            json!({ "target": label }),
            started,
            &result,
            |s| json!({ "sentinels": s.members.iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>() }),
        );
        Ok(match result {
            Ok(set) => Ok(self.table.push(set)?),
            Err(e) => Err(e),
        })
    }

    async fn members(&mut self, set: Resource<SentinelSet>) -> wasmtime::Result<Vec<Address>> {
        let set = self.table.get(&set)?;
        Ok(set
            .members
            .iter()
            .map(|(host, port)| Address {
                host: host.clone(),
                port: *port,
            })
            .collect())
    }

    async fn master_name(&mut self, set: Resource<SentinelSet>) -> wasmtime::Result<String> {
        Ok(self.table.get(&set)?.master_name.clone())
    }

    async fn master_address(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> wasmtime::Result<Result<Vec<AddressAnswer>, CapError>> {
        let started = Instant::now();
        let (label, configured, members) = self.sentinel_names(&set)?;
        let result = operations::master_address(&self.ctx, &label, &configured, &members, &name, only.as_ref()).await;
        let args = json!({ "target": label, "name": name, "only": only.as_ref().map(addr_json) });
        journal_call(
            self,
            "redis.sentinel.master-address",
            args,
            started,
            &result,
            |answers| {
                json!(answers
                    .iter()
                    .map(|a| match &a.answer {
                        Ok(Some(addr)) => json!({ "sentinel": addr_json(&a.sentinel), "master": addr_json(addr) }),
                        Ok(None) => json!({ "sentinel": addr_json(&a.sentinel), "master": null }),
                        Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": crate::caps::error_parts(e).0 }),
                    })
                    .collect::<Vec<_>>())
            },
        );
        Ok(result)
    }

    async fn master_state(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> wasmtime::Result<Result<Vec<StateAnswer>, CapError>> {
        let started = Instant::now();
        let (label, configured, members) = self.sentinel_names(&set)?;
        let result = operations::master_state(&self.ctx, &label, &configured, &members, &name, only.as_ref()).await;
        let args = json!({ "target": label, "name": name, "only": only.as_ref().map(addr_json) });
        journal_call(self, "redis.sentinel.master-state", args, started, &result, |answers| {
            json!(answers
                .iter()
                .map(|a| match &a.answer {
                    Ok(s) => json!({ "sentinel": addr_json(&a.sentinel), "master": addr_json(&s.address), "flags": s.flags }),
                    Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": crate::caps::error_parts(e).0 }),
                })
                .collect::<Vec<_>>())
        });
        Ok(result)
    }

    async fn replicas(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> wasmtime::Result<Result<Vec<ReplicasAnswer>, CapError>> {
        let started = Instant::now();
        let (label, configured, members) = self.sentinel_names(&set)?;
        let result = operations::replicas(&self.ctx, &label, &configured, &members, &name, only.as_ref()).await;
        let args = json!({ "target": label, "name": name, "only": only.as_ref().map(addr_json) });
        journal_call(
            self,
            "redis.sentinel.replicas",
            args,
            started,
            &result,
            |answers| json!({ "answers": answers.len() }),
        );
        Ok(result)
    }

    async fn sentinels(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> wasmtime::Result<Result<Vec<PeersAnswer>, CapError>> {
        let started = Instant::now();
        let (label, configured, members) = self.sentinel_names(&set)?;
        let result = operations::peers(&self.ctx, &label, &configured, &members, &name, only.as_ref()).await;
        let args = json!({ "target": label, "name": name, "only": only.as_ref().map(addr_json) });
        journal_call(
            self,
            "redis.sentinel.sentinels",
            args,
            started,
            &result,
            |answers| json!({ "answers": answers.len() }),
        );
        Ok(result)
    }

    async fn ckquorum(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> wasmtime::Result<Result<Vec<QuorumAnswer>, CapError>> {
        let started = Instant::now();
        let (label, configured, members) = self.sentinel_names(&set)?;
        let result = operations::ckquorum(&self.ctx, &label, &configured, &members, &name, only.as_ref()).await;
        let args = json!({ "target": label, "name": name, "only": only.as_ref().map(addr_json) });
        journal_call(self, "redis.sentinel.ckquorum", args, started, &result, |answers| {
            json!(answers
                .iter()
                .map(|a| match &a.answer {
                    Ok(text) => json!({ "sentinel": addr_json(&a.sentinel), "ok": text }),
                    Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": crate::caps::error_parts(e) }),
                })
                .collect::<Vec<_>>())
        });
        Ok(result)
    }

    async fn failover(
        &mut self,
        set: Resource<SentinelSet>,
        name: String,
        only: Option<Address>,
    ) -> wasmtime::Result<Result<Address, CapError>> {
        let started = Instant::now();
        let (label, configured, members) = self.sentinel_names(&set)?;
        let result = operations::failover(&self.ctx, &label, &configured, &members, &name, only.as_ref()).await;
        let args = json!({ "target": label, "name": name, "only": only.as_ref().map(addr_json) });
        journal_call(
            self,
            "redis.sentinel.failover",
            args,
            started,
            &result,
            |a| json!({ "accepted_by": addr_json(a) }),
        );
        Ok(result)
    }

    async fn drop(&mut self, set: Resource<SentinelSet>) -> wasmtime::Result<()> {
        self.table.delete(set)?;
        Ok(())
    }
}

mod operations {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use redis::aio::MultiplexedConnection;
    use redis::Value;

    use super::*;
    use crate::bindings::drhost::runbook::redis::{MasterState, PeerState, ReplicaLink, ReplicaState, Scalar};
    use crate::caps::redis::grant::{denial, split_host_port};
    use crate::caps::redis::{allows, classify, CommandClass, RedisAccess, RedisTarget};
    use crate::sandbox::RunContext;

    /// Which node `open` connects to.
    pub(super) enum Node {
        Url,
        Master,
        Given(String, u16),
    }

    /// Bytes of a bulk reply kept in the journal summary: none (only kinds).
    pub(super) fn reply_kind(reply: &Reply) -> serde_json::Value {
        match reply {
            Reply::Nil => json!("nil"),
            Reply::Int(n) => json!({ "int": n }),
            Reply::Text(t) => json!({ "text": crate::caps::log::truncate(t, 64) }),
            Reply::Bulk(b) => json!({ "bulk_bytes": b.len() }),
            Reply::Double(d) => json!({ "double": d }),
            Reply::Boolean(b) => json!({ "boolean": b }),
            Reply::Array(a) => json!({ "array_len": a.len() }),
        }
    }

    pub(super) fn check(ctx: &RunContext, label: &str, what: &str, access: RedisAccess) -> Result<(), CapError> {
        if allows(&ctx.grants.redis, label, access) {
            Ok(())
        } else {
            Err(CapError::AccessDenied(denial(&ctx.plugin_id, label, what, access)))
        }
    }

    pub(super) fn check_command(ctx: &RunContext, label: &str, args: &[String]) -> Result<(), CapError> {
        let Some(name) = args.first() else {
            return Err(CapError::InvalidArgument("a command needs at least its name".into()));
        };
        match classify(args) {
            CommandClass::Refused(why) => Err(CapError::InvalidArgument(format!(
                "redis command `{}` is not allowed: {why}",
                name.to_ascii_uppercase()
            ))),
            CommandClass::Needs(access) => {
                check(ctx, label, &format!("command `{}`", name.to_ascii_uppercase()), access)
            }
        }
    }

    fn target<'a>(ctx: &'a RunContext, label: &str) -> Result<&'a RedisTarget, CapError> {
        if !ctx.grants.redis.iter().any(|g| g.target == label) {
            return Err(CapError::AccessDenied(denial(
                &ctx.plugin_id,
                label,
                "open",
                RedisAccess::Read,
            )));
        }
        ctx.grants.redis_targets.get(label).ok_or_else(|| {
            CapError::NotFound(format!("redis target `{label}` is not defined: add a [targets.redis.{label}] table with its url to drhost.toml"))
        })
    }

    /// The call's timeout: the target's, never beyond the run's deadline.
    fn budget(ctx: &RunContext, target: &RedisTarget) -> Result<Duration, CapError> {
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(CapError::Timeout("the run's deadline has passed".into()));
        }
        Ok(target.call_timeout().min(left))
    }

    async fn client(
        ctx: &RunContext,
        target: &RedisTarget,
        host: &str,
        port: u16,
        db: i64,
        sentinel: bool,
    ) -> Result<redis::Client, CapError> {
        let secret = if sentinel {
            &target.sentinel_password
        } else {
            &target.password
        };
        let password = match secret {
            Some(s) => Some(s.resolve(&ctx.grants.secret_vaults).await.map_err(CapError::Failed)?),
            None => None,
        };
        let addr = if target.uses_tls() {
            let _ = rustls::crypto::ring::default_provider().install_default();
            redis::ConnectionAddr::TcpTls {
                host: host.to_string(),
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            redis::ConnectionAddr::Tcp(host.to_string(), port)
        };
        let info = redis::ConnectionInfo {
            addr,
            redis: redis::RedisConnectionInfo {
                db,
                username: if sentinel { None } else { target.username.clone() },
                password,
                ..Default::default()
            },
        };
        redis::Client::open(info).map_err(|e| CapError::Failed(format!("redis client for {host}:{port}: {e}")))
    }

    async fn connect(client: &redis::Client, timeout: Duration) -> Result<MultiplexedConnection, CapError> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout);
        let addr = client.get_connection_info().addr.to_string();
        match tokio::time::timeout(timeout, client.get_multiplexed_async_connection_with_config(&config)).await {
            Err(_) => Err(CapError::Timeout(format!(
                "connecting to redis at {addr}: no answer within {}",
                humantime::format_duration(timeout)
            ))),
            Ok(Err(e)) => Err(error(&addr, &e)),
            Ok(Ok(con)) => Ok(con),
        }
    }

    /// Maps a client error to a typed error; the text never holds a secret.
    fn error(addr: &str, e: &redis::RedisError) -> CapError {
        if e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() {
            if e.is_timeout() {
                return CapError::Timeout(format!("redis at {addr}: {e}"));
            }
            return CapError::Unavailable(format!("redis at {addr}: {e}"));
        }
        if e.is_timeout() {
            return CapError::Timeout(format!("redis at {addr}: {e}"));
        }
        match e.kind() {
            redis::ErrorKind::AuthenticationFailed => {
                CapError::AccessDenied(format!("redis at {addr} refused the configured credentials: {e}"))
            }
            _ if e.code() == Some("INPROG") => CapError::Conflict(format!("redis at {addr}: {e}")),
            _ => CapError::Failed(format!("redis at {addr}: {e}")),
        }
    }

    pub(super) async fn open(ctx: &RunContext, label: &str, node: Node) -> Result<Connection, CapError> {
        let target = target(ctx, label)?;
        let timeout = budget(ctx, target)?;
        let (host, port) = match node {
            Node::Url => (target.url.host.clone(), target.url.port),
            Node::Master => {
                let set = open_sentinels(ctx, label)?;
                let answers =
                    master_address(ctx, label, &set.master_name, &set.members, &set.master_name, None).await?;
                let mut votes: BTreeMap<(String, u16), usize> = BTreeMap::new();
                for a in &answers {
                    if let Ok(Some(addr)) = &a.answer {
                        *votes.entry((addr.host.clone(), addr.port)).or_default() += 1;
                    }
                }
                votes
                    .into_iter()
                    .max_by_key(|(_, n)| *n)
                    .map(|(a, _)| a)
                    .ok_or_else(|| {
                        CapError::Unavailable(format!(
                            "no Sentinel of target `{label}` reported master `{}`",
                            set.master_name
                        ))
                    })?
            }
            Node::Given(host, port) => {
                let is_url = host == target.url.host && port == target.url.port;
                if !is_url && !known_node(ctx, label, &host, port).await? {
                    return Err(CapError::AccessDenied(format!(
                        "{host}:{port} is neither the url of target `{label}` nor a node its Sentinels report for `{}`",
                        target.master_name.as_deref().unwrap_or("?")
                    )));
                }
                (host, port)
            }
        };
        let client = client(ctx, target, &host, port, target.url.db, false).await?;
        let link = connect(&client, timeout).await?;
        Ok(Connection {
            label: label.to_string(),
            host,
            port,
            client,
            link: Some(link),
        })
    }

    /// Whether the target's Sentinels report `host:port` as its master or a replica.
    async fn known_node(ctx: &RunContext, label: &str, host: &str, port: u16) -> Result<bool, CapError> {
        let Ok(set) = open_sentinels(ctx, label) else {
            return Ok(false);
        };
        let name = set.master_name.clone();
        let masters = master_address(ctx, label, &name, &set.members, &name, None).await?;
        if masters
            .iter()
            .any(|a| matches!(&a.answer, Ok(Some(m)) if m.host == host && m.port == port))
        {
            return Ok(true);
        }
        let replicas = replicas(ctx, label, &name, &set.members, &name, None).await?;
        Ok(replicas.iter().any(
            |a| matches!(&a.answer, Ok(list) if list.iter().any(|r| r.address.host == host && r.address.port == port)),
        ))
    }

    pub(super) async fn query(
        ctx: &RunContext,
        label: &str,
        client: &redis::Client,
        link: Option<MultiplexedConnection>,
        host: &str,
        port: u16,
        cmd: redis::Cmd,
    ) -> (Result<Value, CapError>, Option<MultiplexedConnection>) {
        let addr = format!("{host}:{port}");
        let Some(target) = ctx.grants.redis_targets.get(label) else {
            return (
                Err(CapError::NotFound(format!("redis target `{label}` is not defined"))),
                None,
            );
        };
        let timeout = match budget(ctx, target) {
            Ok(t) => t,
            Err(e) => return (Err(e), link),
        };
        let mut con = match link {
            Some(con) => con,
            None => match connect(client, timeout).await {
                Ok(con) => con,
                Err(e) => return (Err(e), None),
            },
        };
        match tokio::time::timeout(timeout, cmd.query_async::<Value>(&mut con)).await {
            Err(_) => (
                Err(CapError::Timeout(format!(
                    "redis at {addr}: no reply within {}",
                    humantime::format_duration(timeout)
                ))),
                None,
            ),
            Ok(Err(e)) => {
                let broken = e.is_io_error() || e.is_connection_dropped() || e.is_timeout();
                (Err(error(&addr, &e)), if broken { None } else { Some(con) })
            }
            Ok(Ok(value)) => (Ok(value), Some(con)),
        }
    }

    pub(super) fn build(args: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a.as_bytes());
        }
        cmd
    }

    // --- replies ------------------------------------------------------------

    pub(super) fn text(value: &Value) -> String {
        match value {
            Value::Nil => String::new(),
            Value::Int(n) => n.to_string(),
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::SimpleString(s) => s.clone(),
            Value::Okay => "OK".into(),
            Value::Double(d) => d.to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::VerbatimString { text, .. } => text.clone(),
            Value::BigNumber(n) => n.to_string(),
            Value::ServerError(e) => format!("{e:?}"),
            Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
                items.iter().map(text).collect::<Vec<_>>().join(" ")
            }
            Value::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| format!("{} {}", text(k), text(v)))
                .collect::<Vec<_>>()
                .join(" "),
            Value::Attribute { data, .. } => text(data),
        }
    }

    fn items(value: Value) -> Vec<Value> {
        match value {
            Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => items,
            Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            Value::Attribute { data, .. } => items(*data),
            Value::Nil => Vec::new(),
            other => vec![other],
        }
    }

    fn scalar(value: Value) -> Scalar {
        match value {
            Value::Nil => Scalar::Nil,
            Value::Int(n) => Scalar::Int(n),
            Value::BulkString(b) => Scalar::Bulk(b),
            Value::SimpleString(s) => Scalar::Text(s),
            Value::Okay => Scalar::Text("OK".into()),
            Value::Double(d) => Scalar::Double(d),
            Value::Boolean(b) => Scalar::Boolean(b),
            Value::VerbatimString { text, .. } => Scalar::Text(text),
            Value::BigNumber(n) => Scalar::Text(n.to_string()),
            Value::ServerError(e) => Scalar::Error(format!("{e:?}")),
            Value::Attribute { data, .. } => scalar(*data),
            nested => Scalar::Nested(items(nested).iter().map(text).collect()),
        }
    }

    pub(super) fn reply(value: Value) -> Reply {
        match value {
            Value::Nil => Reply::Nil,
            Value::Int(n) => Reply::Int(n),
            Value::BulkString(b) => Reply::Bulk(b),
            Value::SimpleString(s) => Reply::Text(s),
            Value::Okay => Reply::Text("OK".into()),
            Value::Double(d) => Reply::Double(d),
            Value::Boolean(b) => Reply::Boolean(b),
            Value::VerbatimString { text, .. } => Reply::Text(text),
            Value::BigNumber(n) => Reply::Text(n.to_string()),
            Value::ServerError(e) => Reply::Text(format!("{e:?}")),
            Value::Attribute { data, .. } => reply(*data),
            array => Reply::Array(items(array).into_iter().map(scalar).collect()),
        }
    }

    pub(super) fn info_pairs(text: &str) -> Vec<(String, String)> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
        pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn num<T: std::str::FromStr + Default>(pairs: &[(String, String)], key: &str) -> T {
        field(pairs, key).and_then(|v| v.parse().ok()).unwrap_or_default()
    }

    pub(super) fn replication(pairs: &[(String, String)]) -> ReplicationInfo {
        let replicas = pairs
            .iter()
            .filter(|(k, _)| k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit()) && k.len() > 5)
            .map(|(_, v)| {
                let kv: Vec<(String, String)> = v
                    .split(',')
                    .filter_map(|p| p.split_once('='))
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                ReplicaLink {
                    address: Address {
                        host: field(&kv, "ip").unwrap_or_default().to_string(),
                        port: num(&kv, "port"),
                    },
                    state: field(&kv, "state").unwrap_or_default().to_string(),
                    offset: num(&kv, "offset"),
                    lag: num(&kv, "lag"),
                }
            })
            .collect();
        let master = field(pairs, "master_host").map(|host| Address {
            host: host.to_string(),
            port: num(pairs, "master_port"),
        });
        ReplicationInfo {
            role: field(pairs, "role").unwrap_or_default().to_string(),
            replicas,
            master,
            master_link_status: field(pairs, "master_link_status").map(String::from),
            master_last_io_seconds_ago: field(pairs, "master_last_io_seconds_ago").and_then(|v| v.parse().ok()),
            master_sync_in_progress: field(pairs, "master_sync_in_progress") == Some("1"),
            master_repl_offset: num(pairs, "master_repl_offset"),
            replica_repl_offset: field(pairs, "slave_repl_offset").and_then(|v| v.parse().ok()),
            replication_id: field(pairs, "master_replid").unwrap_or_default().to_string(),
        }
    }

    /// A flat `k v k v …` reply (or a RESP3 map) as pairs.
    fn pairs(value: Value) -> Vec<(String, String)> {
        let items = items(value);
        items
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (text(&c[0]), text(&c[1])))
            .collect()
    }

    fn flags(pairs: &[(String, String)]) -> Vec<String> {
        field(pairs, "flags")
            .unwrap_or_default()
            .split(',')
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect()
    }

    fn address_of(pairs: &[(String, String)], host: &str, port: &str) -> Address {
        Address {
            host: field(pairs, host).unwrap_or_default().to_string(),
            port: num(pairs, port),
        }
    }

    // --- Sentinel -----------------------------------------------------------

    pub(super) fn open_sentinels(ctx: &RunContext, label: &str) -> Result<SentinelSet, CapError> {
        let target = target(ctx, label)?;
        check(ctx, label, "SENTINEL queries", RedisAccess::Read)?;
        if target.sentinels.is_empty() {
            return Err(CapError::NotFound(format!(
                "redis target `{label}` has no `sentinels` in drhost.toml"
            )));
        }
        let master_name = target
            .master_name
            .clone()
            .ok_or_else(|| CapError::NotFound(format!("redis target `{label}` has no `master_name` in drhost.toml")))?;
        let members = target
            .sentinels
            .iter()
            .map(|s| split_host_port(s, 26379))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CapError::Failed(format!("[targets.redis.{label}] sentinels: {e}")))?;
        Ok(SentinelSet {
            label: label.to_string(),
            master_name,
            members,
        })
    }

    /// Sends `SENTINEL args…` to every member (or `only`) concurrently and
    /// returns each answer, in the members' order.
    async fn ask(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
        args: &[&str],
    ) -> Result<Vec<(Address, Result<Value, CapError>)>, CapError> {
        if name != configured {
            return Err(CapError::InvalidArgument(format!(
                "target `{label}` monitors master `{configured}`, not `{name}`"
            )));
        }
        let target = target(ctx, label)?;
        let timeout = budget(ctx, target)?;
        let chosen: Vec<(String, u16)> = match only {
            Some(a) => {
                let m = members.iter().find(|(h, p)| *h == a.host && *p == a.port).cloned();
                vec![m.ok_or_else(|| {
                    CapError::InvalidArgument(format!("{}:{} is not a Sentinel of target `{label}`", a.host, a.port))
                })?]
            }
            None => members.to_vec(),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (host, port)) in chosen.iter().enumerate() {
            let client = client(ctx, target, host, *port, 0, true).await?;
            let mut cmd = redis::cmd("SENTINEL");
            for a in args {
                cmd.arg(*a);
            }
            cmd.arg(name);
            let addr = format!("{host}:{port}");
            tasks.spawn(async move {
                let result = async {
                    let mut con = connect(&client, timeout).await?;
                    match tokio::time::timeout(timeout, cmd.query_async::<Value>(&mut con)).await {
                        Err(_) => Err(CapError::Timeout(format!(
                            "sentinel {addr}: no reply within {}",
                            humantime::format_duration(timeout)
                        ))),
                        Ok(Err(e)) => Err(error(&format!("sentinel {addr}"), &e)),
                        Ok(Ok(v)) => Ok(v),
                    }
                }
                .await;
                (i, result)
            });
        }
        let mut answers: Vec<Option<Result<Value, CapError>>> = chosen.iter().map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            if let Ok((i, result)) = joined {
                answers[i] = Some(result);
            }
        }
        Ok(chosen
            .into_iter()
            .zip(answers)
            .map(|((host, port), a)| {
                (
                    Address { host, port },
                    a.unwrap_or_else(|| Err(CapError::Failed("the query task failed".into()))),
                )
            })
            .collect())
    }

    fn not_found(name: &str, e: CapError) -> CapError {
        match e {
            CapError::Failed(m) if m.contains("No such master") => {
                CapError::NotFound(format!("no master named `{name}`: {m}"))
            }
            other => other,
        }
    }

    pub(super) async fn master_address(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
    ) -> Result<Vec<AddressAnswer>, CapError> {
        let answers = ask(
            ctx,
            label,
            configured,
            members,
            name,
            only,
            &["GET-MASTER-ADDR-BY-NAME"],
        )
        .await?;
        Ok(answers
            .into_iter()
            .map(|(sentinel, v)| AddressAnswer {
                sentinel,
                answer: v.map(|v| match items(v).as_slice() {
                    [host, port] => Some(Address {
                        host: text(host),
                        port: text(port).parse().unwrap_or_default(),
                    }),
                    _ => None,
                }),
            })
            .collect())
    }

    pub(super) async fn master_state(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
    ) -> Result<Vec<StateAnswer>, CapError> {
        let answers = ask(ctx, label, configured, members, name, only, &["MASTER"]).await?;
        Ok(answers
            .into_iter()
            .map(|(sentinel, v)| StateAnswer {
                sentinel,
                answer: v.map_err(|e| not_found(name, e)).map(|v| {
                    let p = pairs(v);
                    MasterState {
                        address: address_of(&p, "ip", "port"),
                        flags: flags(&p),
                        num_replicas: num(&p, "num-slaves"),
                        num_other_sentinels: num(&p, "num-other-sentinels"),
                        quorum: num(&p, "quorum"),
                        config_epoch: num(&p, "config-epoch"),
                        fields: p,
                    }
                }),
            })
            .collect())
    }

    pub(super) async fn replicas(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
    ) -> Result<Vec<ReplicasAnswer>, CapError> {
        let answers = ask(ctx, label, configured, members, name, only, &["REPLICAS"]).await?;
        Ok(answers
            .into_iter()
            .map(|(sentinel, v)| ReplicasAnswer {
                sentinel,
                answer: v.map_err(|e| not_found(name, e)).map(|v| {
                    items(v)
                        .into_iter()
                        .map(|r| {
                            let p = pairs(r);
                            ReplicaState {
                                address: address_of(&p, "ip", "port"),
                                flags: flags(&p),
                                master_link_status: field(&p, "master-link-status").unwrap_or_default().to_string(),
                                master: field(&p, "master-host")
                                    .filter(|h| !h.is_empty() && *h != "?")
                                    .map(|_| address_of(&p, "master-host", "master-port")),
                                replica_repl_offset: num(&p, "slave-repl-offset"),
                                fields: p,
                            }
                        })
                        .collect()
                }),
            })
            .collect())
    }

    pub(super) async fn peers(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
    ) -> Result<Vec<PeersAnswer>, CapError> {
        let answers = ask(ctx, label, configured, members, name, only, &["SENTINELS"]).await?;
        Ok(answers
            .into_iter()
            .map(|(sentinel, v)| PeersAnswer {
                sentinel,
                answer: v.map_err(|e| not_found(name, e)).map(|v| {
                    items(v)
                        .into_iter()
                        .map(|r| {
                            let p = pairs(r);
                            PeerState {
                                address: address_of(&p, "ip", "port"),
                                run_id: field(&p, "runid").unwrap_or_default().to_string(),
                                flags: flags(&p),
                            }
                        })
                        .collect()
                }),
            })
            .collect())
    }

    pub(super) async fn ckquorum(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
    ) -> Result<Vec<QuorumAnswer>, CapError> {
        let answers = ask(ctx, label, configured, members, name, only, &["CKQUORUM"]).await?;
        Ok(answers
            .into_iter()
            .map(|(sentinel, v)| QuorumAnswer {
                sentinel,
                answer: v.map_err(|e| not_found(name, e)).map(|v| text(&v)),
            })
            .collect())
    }

    pub(super) async fn failover(
        ctx: &RunContext,
        label: &str,
        configured: &str,
        members: &[(String, u16)],
        name: &str,
        only: Option<&Address>,
    ) -> Result<Address, CapError> {
        check(ctx, label, "SENTINEL FAILOVER", RedisAccess::SentinelFailover)?;
        let order: Vec<Address> = match only {
            Some(a) => vec![a.clone()],
            None => members
                .iter()
                .map(|(h, p)| Address {
                    host: h.clone(),
                    port: *p,
                })
                .collect(),
        };
        let mut refusals = Vec::new();
        for sentinel in order {
            let answers = ask(ctx, label, configured, members, name, Some(&sentinel), &["FAILOVER"]).await?;
            match answers.into_iter().next() {
                Some((_, Ok(_))) => return Ok(sentinel),
                // A failover already under way is not something another Sentinel can fix.
                Some((_, Err(e @ CapError::Conflict(_)))) => return Err(e),
                Some((_, Err(e))) => refusals.push(format!(
                    "{}:{}: {}",
                    sentinel.host,
                    sentinel.port,
                    crate::caps::error_parts(&e).1
                )),
                None => {}
            }
        }
        Err(CapError::Failed(format!(
            "no Sentinel accepted FAILOVER {name}: {}",
            refusals.join("; ")
        )))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_replication_info() {
            let text = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=27380,state=online,offset=4242,lag=0\r\nmaster_replid:abc\r\nmaster_repl_offset:4242\r\n";
            let info = replication(&info_pairs(text));
            assert_eq!(info.role, "master");
            assert_eq!(info.replicas.len(), 1);
            assert_eq!(info.replicas[0].address.port, 27380);
            assert_eq!(info.replicas[0].offset, 4242);
            assert_eq!(info.master_repl_offset, 4242);
            assert!(info.master.is_none());
            let text = "role:slave\nmaster_host:127.0.0.1\nmaster_port:27379\nmaster_link_status:up\nslave_repl_offset:10\nmaster_repl_offset:10\n";
            let info = replication(&info_pairs(text));
            assert_eq!(info.master.map(|m| m.port), Some(27379));
            assert_eq!(info.master_link_status.as_deref(), Some("up"));
            assert_eq!(info.replica_repl_offset, Some(10));
        }

        #[test]
        fn flattens_nested_arrays() {
            let v = Value::Array(vec![
                Value::Int(1),
                Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::Int(2)]),
            ]);
            match reply(v) {
                Reply::Array(items) => {
                    assert!(matches!(items[0], Scalar::Int(1)));
                    assert!(matches!(&items[1], Scalar::Nested(t) if t == &["a", "2"]));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
