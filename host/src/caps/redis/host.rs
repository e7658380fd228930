//! The `redis` interface: one small function per WIT function; the checks
//! and the real client calls are in the inner `operations` module.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

/// What the reply in flight on one connection may still read from the
/// socket: set before each call, spent by [`Metered`]; when it runs out the
/// read fails, the connection is dropped and the call says why.
#[derive(Debug, Default)]
pub struct ReplyBudget {
    left: AtomicI64,
    exceeded: AtomicBool,
}

impl ReplyBudget {
    /// A fresh budget of [`super::MAX_REPLY_BYTES`].
    pub fn full() -> Arc<ReplyBudget> {
        Arc::new(ReplyBudget {
            left: AtomicI64::new(super::MAX_REPLY_BYTES),
            exceeded: AtomicBool::new(false),
        })
    }

    fn refill(&self) {
        self.exceeded.store(false, Ordering::SeqCst);
        self.left.store(super::MAX_REPLY_BYTES, Ordering::SeqCst);
    }

    fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::SeqCst)
    }
}

/// A socket (TCP or TLS) whose reads spend a [`ReplyBudget`].
struct Metered<S> {
    inner: S,
    budget: Arc<ReplyBudget>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let read = (buf.filled().len() - before) as i64;
            if self.budget.left.fetch_sub(read, Ordering::SeqCst) - read < 0 {
                self.budget.exceeded.store(true, Ordering::SeqCst);
                return Poll::Ready(Err(std::io::Error::other("the reply exceeds drhost's cap")));
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

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
        let (label, link, client, budget, host, port) = {
            let c = self.table.get(conn)?;
            (
                c.label.clone(),
                c.link.clone(),
                c.client.clone(),
                c.budget.clone(),
                c.host.clone(),
                c.port,
            )
        };
        let (result, link) = operations::query(&ctx, &label, &client, &budget, link, &host, port, cmd).await;
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
                        Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": crate::caps::kit::call::error_parts(e).0 }),
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
                    Err(e) => json!({ "sentinel": addr_json(&a.sentinel), "error": crate::caps::kit::call::error_parts(e).0 }),
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
                    Err(e) =>
                        json!({ "sentinel": addr_json(&a.sentinel), "error": crate::caps::kit::call::error_parts(e) }),
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
    use std::time::Duration;

    use redis::aio::MultiplexedConnection;
    use redis::Value;

    use super::*;
    use crate::bindings::drhost::runbook::redis::{MasterState, PeerState, ReplicaLink, ReplicaState, Scalar};
    use crate::caps::redis::grant::{denial, split_host_port};
    use crate::caps::redis::{allows, classify, command_name, replicaof_node, CommandClass, RedisAccess, RedisTarget};
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
            Reply::Text(t) => json!({ "text": crate::caps::kit::text::truncate(t, 64) }),
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
        if args.is_empty() {
            return Err(CapError::InvalidArgument("a command needs at least its name".into()));
        }
        let shown = command_name(args);
        match classify(args) {
            CommandClass::Unsupported(why) => Err(CapError::InvalidArgument(format!(
                "redis command `{shown}` is not available through `command`: {why}"
            ))),
            CommandClass::Refused(why) => Err(CapError::AccessDenied(format!(
                "redis command `{shown}` on target `{label}` is refused to every plugin: {why}; no drhost.toml grant allows it"
            ))),
            CommandClass::Needs(access) => {
                check(ctx, label, &format!("command `{shown}`"), access)?;
                if let Some((host, port)) = replicaof_node(args) {
                    let target = target(ctx, label)?;
                    let allowed = port.parse().is_ok_and(|port| target.allows_node(&host, port));
                    if !allowed {
                        return Err(CapError::AccessDenied(format!(
                            "redis `{shown}` on target `{label}`: {} is neither its url nor in its `nodes`, and the server would send its masterauth there; if that node belongs to the set, add to [targets.redis.{label}] in drhost.toml: {}",
                            crate::caps::kit::text::toml_string(&format!("{host}:{port}")),
                            port.parse().map(|p| target.nodes_line_with(&host, p)).unwrap_or_else(|_| "nodes = [\"HOST:PORT\"]".into())
                        )));
                    }
                }
                Ok(())
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
        let left = ctx.time_left();
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

    /// Connects to the client's node (TCP, or TLS with the system's roots,
    /// as the redis crate would) through a [`Metered`] socket, then
    /// authenticates and selects the database.
    async fn connect(
        client: &redis::Client,
        budget: &Arc<ReplyBudget>,
        timeout: Duration,
    ) -> Result<MultiplexedConnection, CapError> {
        let info = client.get_connection_info();
        let addr = info.addr.to_string();
        budget.refill();
        let setup = async {
            let config = redis::AsyncConnectionConfig::new().set_response_timeout(timeout);
            let (con, driver) = match &info.addr {
                redis::ConnectionAddr::Tcp(host, port) => {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(|e| CapError::Unavailable(format!("redis at {addr}: {e}")))?;
                    let _ = tcp.set_nodelay(true);
                    let stream = Metered {
                        inner: tcp,
                        budget: budget.clone(),
                    };
                    let (con, driver) = MultiplexedConnection::new_with_config(&info.redis, stream, config)
                        .await
                        .map_err(|e| error(&addr, &e))?;
                    (con, tokio::spawn(driver))
                }
                redis::ConnectionAddr::TcpTls { host, port, .. } => {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(|e| CapError::Unavailable(format!("redis at {addr}: {e}")))?;
                    let _ = tcp.set_nodelay(true);
                    let name = rustls::pki_types::ServerName::try_from(host.clone())
                        .map_err(|e| CapError::Failed(format!("redis at {addr}: {e}")))?;
                    let tls = tls_connector()
                        .map_err(|e| CapError::Failed(format!("redis at {addr}: TLS setup: {e}")))?
                        .connect(name, tcp)
                        .await
                        .map_err(|e| CapError::Unavailable(format!("redis at {addr}: TLS: {e}")))?;
                    let stream = Metered {
                        inner: tls,
                        budget: budget.clone(),
                    };
                    let (con, driver) = MultiplexedConnection::new_with_config(&info.redis, stream, config)
                        .await
                        .map_err(|e| error(&addr, &e))?;
                    (con, tokio::spawn(driver))
                }
                _ => {
                    return Err(CapError::Failed(format!(
                        "redis at {addr}: only TCP and TLS are supported"
                    )))
                }
            };
            // The driver ends when the last handle to the connection is dropped.
            drop(driver);
            Ok::<_, CapError>(con)
        };
        match tokio::time::timeout(timeout, setup).await {
            Err(_) => Err(CapError::Timeout(format!(
                "connecting to redis at {addr}: no answer within {}",
                humantime::format_duration(timeout)
            ))),
            Ok(result) => result,
        }
    }

    /// TLS with the system's root certificates (what the redis crate uses).
    fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(format!(
                "no usable root certificates on this system ({} errors loading them)",
                native.errors.len()
            ));
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
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
                let (host, port) = votes
                    .into_iter()
                    .max_by_key(|(_, n)| *n)
                    .map(|(a, _)| a)
                    .ok_or_else(|| {
                        CapError::Unavailable(format!(
                            "no Sentinel of target `{label}` reported master `{}`",
                            set.master_name
                        ))
                    })?;
                let what = format!("its Sentinels report master `{}` at", set.master_name);
                check_node(label, target, &what, &host, port)?;
                (host, port)
            }
            Node::Given(host, port) => {
                check_node(label, target, "the plugin asked for", &host, port)?;
                (host, port)
            }
        };
        let client = client(ctx, target, &host, port, target.url.db, false).await?;
        let budget = ReplyBudget::full();
        let link = connect(&client, &budget, timeout).await?;
        Ok(Connection {
            label: label.to_string(),
            host,
            port,
            client,
            budget,
            link: Some(link),
        })
    }

    /// Refuses, before anything connects, an address the target's
    /// credentials may not go to (not its `url`, not in its `nodes`).
    fn check_node(label: &str, target: &RedisTarget, what: &str, host: &str, port: u16) -> Result<(), CapError> {
        if target.allows_node(host, port) {
            return Ok(());
        }
        let shown = crate::caps::kit::text::toml_string(&format!("{host}:{port}"));
        Err(CapError::AccessDenied(format!(
            "redis target `{label}`: {what} {shown}, which is neither its url nor in its `nodes`, so drhost will not send it the target's credentials; if that node belongs to the set, add to [targets.redis.{label}] in drhost.toml: {}",
            target.nodes_line_with(host, port)
        )))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn query(
        ctx: &RunContext,
        label: &str,
        client: &redis::Client,
        reply_budget: &Arc<ReplyBudget>,
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
            None => match connect(client, reply_budget, timeout).await {
                Ok(con) => con,
                Err(e) => return (Err(e), None),
            },
        };
        reply_budget.refill();
        let answer = tokio::time::timeout(timeout, cmd.query_async::<Value>(&mut con)).await;
        if reply_budget.exceeded() {
            return (Err(too_large(&addr)), None);
        }
        match answer {
            Ok(Ok(value)) if elements(&value) > super::super::MAX_REPLY_ELEMENTS => (
                Err(CapError::InvalidArgument(format!(
                    "redis at {addr}: the reply has more than {} elements, drhost's cap per call; ask in parts (SCAN/HSCAN/SSCAN/ZSCAN with COUNT, LRANGE/ZRANGE with bounds)",
                    super::super::MAX_REPLY_ELEMENTS
                ))),
                Some(con),
            ),
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

    fn too_large(addr: &str) -> CapError {
        CapError::InvalidArgument(format!(
            "redis at {addr}: the reply is larger than {} MiB, drhost's cap per call; ask in parts (GETRANGE, LRANGE/ZRANGE with bounds, HSCAN/SSCAN/ZSCAN with COUNT)",
            super::super::MAX_REPLY_BYTES / (1024 * 1024)
        ))
    }

    /// The number of elements in a reply, nested ones included.
    fn elements(value: &Value) -> usize {
        match value {
            Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
                items.len() + items.iter().map(elements).sum::<usize>()
            }
            Value::Map(pairs) => 2 * pairs.len() + pairs.iter().map(|(k, v)| elements(k) + elements(v)).sum::<usize>(),
            Value::Attribute { data, .. } => elements(data),
            _ => 0,
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
                    let reply_budget = ReplyBudget::full();
                    let mut con = connect(&client, &reply_budget, timeout).await?;
                    let answer = tokio::time::timeout(timeout, cmd.query_async::<Value>(&mut con)).await;
                    if reply_budget.exceeded() {
                        return Err(too_large(&addr));
                    }
                    match answer {
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
                    crate::caps::kit::call::error_parts(&e).1
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
