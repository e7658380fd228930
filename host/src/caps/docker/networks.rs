//! The Engine calls on networks, made after the grant checks: inspect
//! (checked again against the real name), list, create, remove, connect
//! and disconnect a container.

use std::collections::HashMap;

use bollard::models::{EndpointSettings, Ipam, IpamConfig, Network, NetworkConnectRequest, NetworkCreateRequest};
use bollard::query_parameters as q;

use super::check::check_network;
use super::containers::labels;
use super::engine_error;
use super::grant::DockerAccess;
use crate::bindings::drhost::runbook::docker::{IpamPool, Label, NetworkInfo, NetworkMember, NetworkSpec};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::pattern::ArgPattern;
use crate::sandbox::RunContext;

fn to_map(labels: &[Label]) -> HashMap<String, String> {
    labels.iter().map(|l| (l.key.clone(), l.value.clone())).collect()
}

pub(crate) async fn connect(
    docker: &bollard::Docker,
    network: &str,
    container: &str,
    aliases: &[String],
) -> Result<(), CapError> {
    let request = NetworkConnectRequest {
        container: Some(container.to_string()),
        endpoint_config: Some(EndpointSettings {
            aliases: Some(aliases.to_vec()),
            ..Default::default()
        }),
    };
    docker.connect_network(network, request).await.map_err(engine_error)
}

fn network_info(n: Network) -> NetworkInfo {
    let ipam = n.ipam.clone().unwrap_or_default();
    let mut containers: Vec<NetworkMember> = n
        .containers
        .clone()
        .unwrap_or_default()
        .into_values()
        .map(|c| NetworkMember {
            container: c.name.unwrap_or_default(),
            ipv4_address: c.ipv4_address.unwrap_or_default(),
        })
        .collect();
    containers.sort_by(|a, b| a.container.cmp(&b.container));
    NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        driver: n.driver.unwrap_or_default(),
        scope: n.scope.unwrap_or_default(),
        internal: n.internal.unwrap_or(false),
        attachable: n.attachable.unwrap_or(false),
        ipam_driver: ipam.driver.unwrap_or_default(),
        ipam: ipam
            .config
            .unwrap_or_default()
            .into_iter()
            .map(|c| IpamPool {
                subnet: c.subnet.unwrap_or_default(),
                gateway: c.gateway,
                ip_range: c.ip_range,
            })
            .collect(),
        labels: labels(n.labels),
        options: labels(n.options),
        containers,
    }
}

/// Inspects network `name` (a name, id or id prefix to the engine) and
/// checks `access` against its real name: a glob over names must never
/// reach another network through an id that happens to match it. Calls
/// that change the network then address it by the returned id.
pub(crate) async fn inspect_network(
    ctx: &RunContext,
    docker: &bollard::Docker,
    name: &str,
    access: DockerAccess,
) -> Result<NetworkInfo, CapError> {
    let n = docker
        .inspect_network(name, None::<q::InspectNetworkOptions>)
        .await
        .map_err(engine_error)?;
    let info = network_info(n);
    check_network(ctx, &info.name, access)?;
    Ok(info)
}

pub(crate) async fn list_networks(
    ctx: &RunContext,
    docker: &bollard::Docker,
    glob: Option<&str>,
) -> Result<Vec<NetworkInfo>, CapError> {
    let glob = match glob {
        Some(g) => Some(ArgPattern::try_from(g.to_string()).map_err(CapError::InvalidArgument)?),
        None => None,
    };
    let found = docker
        .list_networks(None::<q::ListNetworksOptions>)
        .await
        .map_err(engine_error)?;
    let mut list: Vec<NetworkInfo> = Vec::new();
    for n in found {
        let name = n.name.clone().unwrap_or_default();
        if !ctx
            .grants
            .docker
            .iter()
            .any(|g| g.allows_network(&name, DockerAccess::Read))
            || glob.as_ref().is_some_and(|g| !g.matches(&name))
        {
            continue;
        }
        // The list endpoint leaves out attached containers: inspect each.
        let full = docker
            .inspect_network(&name, None::<q::InspectNetworkOptions>)
            .await
            .unwrap_or(n);
        list.push(network_info(full));
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

pub(crate) async fn create_network(
    ctx: &RunContext,
    docker: &bollard::Docker,
    spec: &NetworkSpec,
) -> Result<NetworkInfo, CapError> {
    let ipam = Ipam {
        driver: Some("default".into()),
        config: (!spec.ipam.is_empty()).then(|| {
            spec.ipam
                .iter()
                .map(|p| IpamConfig {
                    subnet: Some(p.subnet.clone()),
                    gateway: p.gateway.clone(),
                    ip_range: p.ip_range.clone(),
                    auxiliary_addresses: None,
                })
                .collect()
        }),
        options: None,
    };
    let request = NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some(
            spec.driver
                .clone()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "bridge".into()),
        ),
        internal: Some(spec.internal),
        attachable: Some(spec.attachable),
        ipam: Some(ipam),
        labels: Some(to_map(&spec.labels)),
        options: Some(to_map(&spec.options)),
        ..Default::default()
    };
    let created = docker.create_network(request).await.map_err(engine_error)?;
    inspect_network(ctx, docker, &created.id, DockerAccess::Write).await
}

pub(crate) async fn remove(docker: &bollard::Docker, id: &str) -> Result<(), CapError> {
    docker.remove_network(id).await.map_err(engine_error)
}

pub(crate) async fn disconnect(
    docker: &bollard::Docker,
    network: &str,
    container: &str,
    force: bool,
) -> Result<(), CapError> {
    let request = bollard::models::NetworkDisconnectRequest {
        container: Some(container.to_string()),
        force: Some(force),
    };
    docker.disconnect_network(network, request).await.map_err(engine_error)
}
