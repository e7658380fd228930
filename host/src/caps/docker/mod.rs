//! `docker`: containers, compose services (by label), images, networks,
//! the swarm and its secrets through the Docker Engine API (bollard), on
//! `DOCKER_HOST` or the default socket.
//!
//! The client is built once per run, on the first call, and the API version
//! negotiated then. Every call is checked against the plugin's
//! `[[plugins.<id>.docker]]` grants before it changes anything; a container
//! is named by the plugin and identified by inspecting it (name and labels),
//! which changes nothing. This module never pulls images and never touches a
//! container or network the grant does not cover.
//!
//! The files: `host.rs` is the interface as the plugin sees it, one short
//! function per WIT function; `check.rs` the grant checks every call makes;
//! `containers.rs`, `exec.rs`, `images.rs`, `networks.rs` and `swarm.rs`
//! the Engine calls; `grant.rs` what the operator grants, `syntax.rs` the rules for
//! what grants and plugins write, `advice.rs` the TOML a refusal suggests.

mod advice;
mod check;
mod containers;
mod exec;
mod grant;
mod host;
mod images;
mod networks;
mod swarm;
pub(crate) mod syntax;

pub use advice::need_lines;
pub use grant::{ContainerIdentity, DockerAccess, DockerGrant, COMPOSE_PROJECT, COMPOSE_SERVICE};

use crate::bindings::types::Error as CapError;
use crate::sandbox::RunState;

/// The Docker Engine address used when `DOCKER_HOST` is unset.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// The Engine address this host talks to: `$DOCKER_HOST`, else the default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string())
}

/// The one line a plugin (and the operator) sees when dockerd does not answer.
pub(crate) fn unreachable(host: &str, cause: &str) -> CapError {
    CapError::Unavailable(format!(
        "Docker Engine at {host} does not answer: is dockerd running? ({cause})"
    ))
}

/// Maps an Engine error to the contract's typed error.
pub(crate) fn engine_error(error: bollard::errors::Error) -> CapError {
    use bollard::errors::Error as E;
    match error {
        E::DockerResponseServerError { status_code, message } => match status_code {
            404 => CapError::NotFound(message),
            409 => CapError::Conflict(message),
            400 => CapError::InvalidArgument(message),
            _ => CapError::Failed(format!("Docker Engine answered {status_code}: {message}")),
        },
        E::RequestTimeoutError => CapError::Timeout("the Docker Engine did not answer in time".into()),
        E::SocketNotFoundError(_) | E::IOError { .. } | E::HyperResponseError { .. } | E::HyperLegacyError { .. } => {
            unreachable(&docker_host(), &error.to_string())
        }
        other => CapError::Failed(format!("Docker Engine: {other}")),
    }
}

/// The run's Docker client, connected on first use.
#[derive(Default)]
struct Client(Option<bollard::Docker>);

impl RunState {
    /// The run's Docker client, connected and version-negotiated on first use.
    pub(crate) async fn docker_client(&mut self) -> Result<bollard::Docker, CapError> {
        if let Client(Some(client)) = self.kept::<Client>() {
            return Ok(client.clone());
        }
        let host = docker_host();
        // Requests are bounded by the run's deadline; this only caps a stuck socket.
        const CLIENT_TIMEOUT_SECS: u64 = 600;
        let client = if host.starts_with("unix://") {
            bollard::Docker::connect_with_unix(&host, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            bollard::Docker::connect_with_http(&host, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(CapError::Unavailable(format!(
                "DOCKER_HOST={host} is not supported: use unix:///path/to/docker.sock or tcp://host:port"
            )));
        };
        let client = client.map_err(|e| unreachable(&host, &e.to_string()))?;
        let negotiate = tokio::time::timeout(std::time::Duration::from_secs(10), client.negotiate_version());
        let client = match negotiate.await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(unreachable(&host, &e.to_string())),
            Err(_) => return Err(unreachable(&host, "no answer within 10s")),
        };
        self.kept::<Client>().0 = Some(client.clone());
        Ok(client)
    }
}

/// `docker` needs: a container name, `network:NAME`, `image:REF`,
/// `secret:NAME`, `swarm`; `admin` asks for write (for `swarm`: `swarm = true`).
pub(crate) const GATE: crate::caps::kit::gate::Gate = crate::caps::kit::gate::Gate {
    capability: "docker",
    covers: |grants, target, access| grants.docker.iter().any(|g| g.covers(target, docker_access(access))),
    advice: |_, id, target, access| need_lines(id, target, docker_access(access)),
    // The container and network globs of grants that write or exec, as written.
    changes: |grants| {
        let changing = grants
            .docker
            .iter()
            .filter(|g| g.access.contains(&DockerAccess::Write) || !g.exec.is_empty());
        changing
            .flat_map(|g| {
                let containers = g.containers.iter().map(|c| c.as_str().to_string());
                containers.chain(g.networks.iter().map(|n| format!("network:{}", n.as_str())))
            })
            .collect()
    },
};

/// Docker has read and write; an `admin` need asks for write.
fn docker_access(access: crate::bindings::types::Access) -> DockerAccess {
    match access {
        crate::bindings::types::Access::Read => DockerAccess::Read,
        crate::bindings::types::Access::Write | crate::bindings::types::Access::Admin => DockerAccess::Write,
    }
}
