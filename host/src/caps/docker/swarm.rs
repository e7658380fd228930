//! The Engine calls on the swarm and its secrets, made after the grant
//! checks: what the swarm is, making the engine a single-node swarm
//! manager, and Docker secrets — listed (never a value: the Engine does not
//! return one), created from a host-held secret, removed.
//!
//! A secret's value goes from the host's memory into the create request
//! only; it is never journaled, logged or put in an error. (The request
//! body bollard builds is an ordinary buffer, freed but not wiped.)

use std::collections::HashMap;

use base64::Engine as _;
use bollard::models::{LocalNodeState, SecretSpec, SwarmInitRequest};
use bollard::query_parameters as q;
use zeroize::Zeroizing;

use super::containers::labels;
use super::engine_error;
use super::grant::DockerAccess;
use crate::bindings::drhost::runbook::docker::{Label, SecretInfo, SwarmInfo};
use crate::bindings::types::Error as CapError;
use crate::sandbox::RunContext;

/// The swarm port (`docker swarm init`'s default).
const SWARM_PORT: u16 = 2377;

/// An Engine error on a swarm call; "not a swarm manager" becomes
/// `unavailable` with the fix.
fn swarm_error(error: bollard::errors::Error) -> CapError {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code: 503, message } => CapError::Unavailable(format!(
            "the Docker Engine is not a swarm manager ({message}); Docker secrets need one: call swarm-init (grant `swarm = true`) or run `docker swarm init` on the host"
        )),
        other => engine_error(other),
    }
}

/// The swarm this engine manages, or `None` when it is not a manager.
pub(crate) async fn inspect(docker: &bollard::Docker) -> Result<Option<SwarmInfo>, CapError> {
    let info = docker.info().await.map_err(engine_error)?;
    let swarm = info.swarm.unwrap_or_default();
    if swarm.control_available != Some(true) {
        return Ok(None);
    }
    let cluster = swarm.cluster.unwrap_or_default();
    let count = |n: Option<i64>| n.unwrap_or(0).clamp(0, u32::MAX as i64) as u32;
    Ok(Some(SwarmInfo {
        node_id: swarm.node_id.unwrap_or_default(),
        cluster_id: cluster.id.unwrap_or_default(),
        created_at: cluster.created_at.map(|t| t.to_string()).unwrap_or_default(),
        managers: count(swarm.managers),
        nodes: count(swarm.nodes),
    }))
}

/// The addresses `swarm-init` listens on and advertises: `advertise` (an IP
/// address, with or without a port) for both, else 127.0.0.1 — a
/// single-node swarm needs no other node to reach it, so none is opened to
/// the network unless the plugin names an address.
pub(crate) fn init_addresses(advertise: Option<&str>) -> Result<(String, String), CapError> {
    let Some(text) = advertise.filter(|a| !a.is_empty()) else {
        let local = format!("127.0.0.1:{SWARM_PORT}");
        return Ok((local.clone(), local));
    };
    let addr = if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        std::net::SocketAddr::new(ip, SWARM_PORT)
    } else {
        text.parse::<std::net::SocketAddr>().map_err(|_| {
            CapError::InvalidArgument(format!(
                "advertise-addr `{}` is not an IP address (e.g. `10.0.0.5` or `10.0.0.5:2377`)",
                super::syntax::shorten(&text.escape_debug().to_string(), 64)
            ))
        })?
    };
    Ok((addr.to_string(), addr.to_string()))
}

/// Makes the engine a single-node swarm manager; one that already manages
/// a swarm is left as it is. An engine that is a *worker* of another swarm
/// is `conflict`: it cannot manage secrets, and leaving that swarm is not
/// drhost's decision.
pub(crate) async fn init(docker: &bollard::Docker, advertise: Option<&str>) -> Result<SwarmInfo, CapError> {
    let (listen, advertise) = init_addresses(advertise)?;
    if let Some(swarm) = inspect(docker).await? {
        return Ok(swarm);
    }
    let info = docker.info().await.map_err(engine_error)?;
    let state = info.swarm.and_then(|s| s.local_node_state);
    match state {
        None | Some(LocalNodeState::INACTIVE) | Some(LocalNodeState::EMPTY) => {}
        Some(LocalNodeState::ACTIVE) => {
            return Err(CapError::Conflict(
                "the Docker Engine is a worker of another swarm, not a manager: it cannot hold secrets; promote it (`docker node promote`) or leave that swarm first".into(),
            ))
        }
        Some(other) => {
            return Err(CapError::Failed(format!(
                "the Docker Engine's swarm is `{other}`; resolve that on the host (`docker info`) first"
            )))
        }
    }
    let request = SwarmInitRequest {
        listen_addr: Some(listen),
        advertise_addr: Some(advertise),
        ..Default::default()
    };
    docker.init_swarm(request).await.map_err(swarm_error)?;
    inspect(docker).await?.ok_or_else(|| {
        CapError::Failed(
            "the Docker Engine accepted swarm init but is not a manager afterwards; see `docker info`".into(),
        )
    })
}

fn secret_info(secret: bollard::models::Secret) -> SecretInfo {
    let spec = secret.spec.unwrap_or_default();
    SecretInfo {
        id: secret.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        created_at: secret.created_at.map(|t| t.to_string()).unwrap_or_default(),
        labels: labels(spec.labels),
    }
}

/// The secrets whose names a grant lets the plugin read; the others are
/// left out, not refused.
pub(crate) async fn list(ctx: &RunContext, docker: &bollard::Docker) -> Result<Vec<SecretInfo>, CapError> {
    let secrets = docker
        .list_secrets(None::<q::ListSecretsOptions>)
        .await
        .map_err(swarm_error)?;
    let mut shown: Vec<SecretInfo> = secrets
        .into_iter()
        .map(secret_info)
        .filter(|s| {
            ctx.grants
                .docker
                .iter()
                .any(|g| g.allows_secret(&s.name, DockerAccess::Read))
        })
        .collect();
    shown.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(shown)
}

/// Creates secret `name` holding `value`; `conflict` when the name exists.
pub(crate) async fn create(
    docker: &bollard::Docker,
    name: &str,
    value: &str,
    labels: &[Label],
) -> Result<SecretInfo, CapError> {
    let mut data = Zeroizing::new(String::with_capacity(value.len().div_ceil(3) * 4));
    base64::engine::general_purpose::STANDARD.encode_string(value.as_bytes(), &mut data);
    let spec = SecretSpec {
        name: Some(name.to_string()),
        labels: Some(
            labels
                .iter()
                .map(|l| (l.key.clone(), l.value.clone()))
                .collect::<HashMap<_, _>>(),
        ),
        // The spec is consumed by the call: the encoded value moves into it.
        data: Some(std::mem::take(&mut *data)),
        ..Default::default()
    };
    let created = docker.create_secret(spec).await.map_err(|e| match swarm_error(e) {
        CapError::Conflict(m) => CapError::Conflict(format!(
            "Docker secret `{name}` exists already ({m}); remove it first or pick another name"
        )),
        other => other,
    })?;
    let secret = docker.inspect_secret(&created.id).await.map_err(swarm_error)?;
    Ok(secret_info(secret))
}

/// Removes secret `name`: found by name (the engine also takes ids and id
/// prefixes, so the real name is checked against the grant again), then
/// removed by id. False when there is no such secret.
pub(crate) async fn remove(ctx: &RunContext, docker: &bollard::Docker, name: &str) -> Result<bool, CapError> {
    let found = match docker.inspect_secret(name).await.map_err(swarm_error) {
        Ok(secret) => secret_info(secret),
        Err(CapError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    if found.name != name {
        // An id or id prefix that happens to look like a name: not the one asked for.
        return Ok(false);
    }
    super::check::check_secret(ctx, &found.name, DockerAccess::Write)?;
    match docker.delete_secret(&found.id).await.map_err(swarm_error) {
        Ok(()) => Ok(true),
        Err(CapError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_init_listens_on_loopback_unless_told() {
        let local = ("127.0.0.1:2377".to_string(), "127.0.0.1:2377".to_string());
        assert_eq!(init_addresses(None).unwrap(), local);
        assert_eq!(init_addresses(Some("")).unwrap(), local);
        assert_eq!(init_addresses(Some("10.0.0.5")).unwrap().0, "10.0.0.5:2377");
        assert_eq!(init_addresses(Some("10.0.0.5:4000")).unwrap().1, "10.0.0.5:4000");
        assert_eq!(init_addresses(Some("::1")).unwrap().0, "[::1]:2377");
        for bad in ["eth0", "10.0.0.5:", "0.0.0.0:2377 --force-new-cluster", "host:2377"] {
            assert!(
                matches!(init_addresses(Some(bad)), Err(CapError::InvalidArgument(_))),
                "{bad}"
            );
        }
    }
}
