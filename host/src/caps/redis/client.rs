//! The `redis` capability's checks and node connections: the grant and
//! command checks, the target by label, each call's timeout, opening a
//! node (its `url`, the master its Sentinels report, or one of its
//! `nodes`) over TCP or TLS through a [`Metered`] socket, and running one
//! command on an open connection.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;

use super::budget::{elements, too_large, too_many_elements, Metered, ReplyBudget};
use super::grant::denial;
use super::sentinel::{master_address, open_sentinels};
use super::{
    allows, classify, command_name, replicaof_node, CommandClass, Connection, RedisAccess, RedisTarget,
    MAX_REPLY_ELEMENTS,
};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::gate::require;
use crate::caps::kit::text::root_cause;
use crate::sandbox::RunContext;

/// Which node `open` connects to.
pub(crate) enum Node {
    Url,
    Master,
    Given(String, u16),
}

/// Refuses `what` (a command or Sentinel operation) on target `label`
/// unless a grant gives `access` on it.
pub(crate) fn check(ctx: &RunContext, label: &str, what: &str, access: RedisAccess) -> Result<(), CapError> {
    require(allows(&ctx.grants.redis, label, access), || {
        denial(&ctx.plugin_id, label, what, access)
    })
}

/// Refuses a command its class does not allow: unsupported or refused to
/// every plugin, not granted, or a `REPLICAOF` to a node not of the target.
pub(crate) fn check_command(ctx: &RunContext, label: &str, args: &[String]) -> Result<(), CapError> {
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

/// The configured target `label`, when some grant names it.
pub(crate) fn target<'a>(ctx: &'a RunContext, label: &str) -> Result<&'a RedisTarget, CapError> {
    let refusal = || denial(&ctx.plugin_id, label, "open", RedisAccess::Read);
    super::TARGETS.granted(&ctx.grants.redis, &ctx.grants.redis_targets, label, refusal)
}

/// The call's timeout: the target's, never beyond the run's deadline
/// (a `timeout` error once it has passed).
pub(crate) fn call_timeout(ctx: &RunContext, target: &RedisTarget) -> Result<Duration, CapError> {
    if ctx.time_left().is_zero() {
        return Err(CapError::Timeout("the run's deadline has passed".into()));
    }
    Ok(ctx.time_left_within(target.call_timeout()))
}

/// A client of node `host:port` with the target's credentials (the
/// Sentinels' password and no user when `sentinel`), TLS when it uses it.
pub(crate) async fn client(
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
    node_client(target, host, port, db, sentinel, password).map_err(CapError::Failed)
}

/// A client of node `host:port` of `target` with `password` already
/// resolved: TLS when the target uses it, the target's user unless
/// `sentinel`. Shared by the capability and the drill's Redis probe.
pub(crate) fn node_client(
    target: &RedisTarget,
    host: &str,
    port: u16,
    db: i64,
    sentinel: bool,
    password: Option<String>,
) -> Result<redis::Client, String> {
    if target.ca_file.is_some() && !target.uses_tls() {
        return Err(format!(
            "redis at {host}:{port}: ca_file is set but TLS is off; set tls = true (or a rediss:// url) in the target"
        ));
    }
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
    let client = match (&target.ca_file, target.uses_tls()) {
        (Some(ca), true) => {
            let root_cert = std::fs::read(ca).map_err(|e| {
                format!(
                    "redis at {host}:{port}: cannot read ca_file {} ({}); fix ca_file in the target",
                    ca.display(),
                    crate::config::os_reason(&e)
                )
            })?;
            redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            )
        }
        _ => redis::Client::open(info),
    };
    client.map_err(|e| format!("redis client for {host}:{port}: {e}"))
}

/// Connects to the client's node (TCP, or TLS trusting `ca_file`, else
/// the system's roots) through a [`Metered`] socket, then authenticates
/// and selects the database.
pub(crate) async fn connect(
    client: &redis::Client,
    ca_file: Option<&Path>,
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
                    .map_err(|e| CapError::Unavailable(format!("redis at {addr}: {}", root_cause(&e))))?;
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
                    .map_err(|e| CapError::Unavailable(format!("redis at {addr}: {}", root_cause(&e))))?;
                let _ = tcp.set_nodelay(true);
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| CapError::Failed(format!("redis at {addr}: {e}")))?;
                let tls = tls_connector(ca_file)
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

/// TLS trusting `ca_file`, else the system's root certificates (what the
/// redis crate uses).
fn tls_connector(ca_file: Option<&Path>) -> Result<tokio_rustls::TlsConnector, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = match ca_file {
        Some(path) => crate::caps::kit::tls::ca_roots(path).map_err(|e| {
            format!(
                "cannot read ca_file {} ({e}); fix ca_file in the target",
                path.display()
            )
        })?,
        None => {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(format!(
                    "no usable root certificates on this system ({} errors loading them); set ca_file in the target",
                    native.errors.len()
                ));
            }
            roots
        }
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Maps a client error to a typed error; the text never holds a secret.
pub(crate) fn error(addr: &str, e: &redis::RedisError) -> CapError {
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

/// Opens a connection to `node` of target `label`: its `url`, the master
/// most of its Sentinels report, or an address the plugin gives; the last
/// two must be the `url` or in the target's `nodes`.
pub(crate) async fn open(ctx: &RunContext, label: &str, node: Node) -> Result<Connection, CapError> {
    let target = target(ctx, label)?;
    let timeout = call_timeout(ctx, target)?;
    let (host, port) = match node {
        Node::Url => (target.url.host.clone(), target.url.port),
        Node::Master => {
            let set = open_sentinels(ctx, label)?;
            let answers = master_address(ctx, &set, &set.master_name, None).await?;
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
    let slot = ctx.connections.take(&format!("redis `{label}`"))?;
    let client = client(ctx, target, &host, port, target.url.db, false).await?;
    let budget = ReplyBudget::full();
    let link = connect(&client, target.ca_file.as_deref(), &budget, timeout).await?;
    Ok(Connection {
        label: label.to_string(),
        host,
        port,
        client,
        budget,
        link: Some(link),
        _slot: slot,
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

/// Runs one command on the connection, reconnecting when the link broke;
/// keeps the link the command leaves (none after an I/O error, a timeout
/// or a reply over the byte cap).
pub(crate) async fn query(ctx: &RunContext, conn: &mut Connection, cmd: redis::Cmd) -> Result<Value, CapError> {
    let (result, link) = query_link(ctx, conn, conn.link.clone(), cmd).await;
    conn.link = link;
    result
}

/// [`query`] on `link` (a new link when none): the answer, and the link
/// still usable after it.
async fn query_link(
    ctx: &RunContext,
    conn: &Connection,
    link: Option<MultiplexedConnection>,
    cmd: redis::Cmd,
) -> (Result<Value, CapError>, Option<MultiplexedConnection>) {
    let Connection {
        label,
        client,
        budget: reply_budget,
        host,
        port,
        ..
    } = conn;
    let addr = format!("{host}:{port}");
    let Some(target) = ctx.grants.redis_targets.get(label) else {
        return (
            Err(CapError::NotFound(format!("redis target `{label}` is not defined"))),
            None,
        );
    };
    let timeout = match call_timeout(ctx, target) {
        Ok(t) => t,
        Err(e) => return (Err(e), link),
    };
    let mut con = match link {
        Some(con) => con,
        None => match connect(client, target.ca_file.as_deref(), reply_budget, timeout).await {
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
        Ok(Ok(value)) if elements(&value) > MAX_REPLY_ELEMENTS => (Err(too_many_elements(&addr)), Some(con)),
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

/// The command `args` (name first), each argument sent as its bytes.
pub(crate) fn build(args: &[String]) -> redis::Cmd {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a.as_bytes());
    }
    cmd
}
