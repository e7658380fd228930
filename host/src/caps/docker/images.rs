//! Images: tagging one reference as another, and recreating a container
//! from another (local, never pulled) image the way `docker-compose up -d`
//! does after a re-tag, putting the old container back if that fails.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkingConfig};
use bollard::query_parameters as q;

use super::containers::{container_info, grace, own_aliases};
use super::engine_error;
use super::networks::connect;
use crate::bindings::drhost::runbook::docker::ContainerInfo;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::call::error_parts;

pub(crate) async fn tag(docker: &bollard::Docker, source: &str, target: &str) -> Result<(), CapError> {
    let (repo, tag) = split_reference(target);
    let options = q::TagImageOptions {
        repo: Some(repo.to_string()),
        tag: Some(tag.to_string()),
    };
    docker.tag_image(source, Some(options)).await.map_err(engine_error)
}

/// `repo[:tag]` → (repo, tag); a `:` inside a registry host:port is not a tag.
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

/// `docker-compose up -d SERVICE` after a re-tag: stop the old container,
/// move it aside, create the new one with the same config from `image`,
/// attach its networks with their aliases, start it, remove the old one.
/// If creating or starting the new one fails, the old one is put back.
pub(crate) async fn recreate(
    docker: &bollard::Docker,
    old: ContainerInspectResponse,
    image: &str,
    timeout_secs: Option<u32>,
) -> Result<ContainerInfo, CapError> {
    // The image must exist locally: nothing is ever pulled.
    let new_image = docker.inspect_image(image).await.map_err(|e| match engine_error(e) {
        CapError::NotFound(_) => CapError::NotFound(format!(
            "image `{image}` is not present on this Docker Engine (drhost never pulls)"
        )),
        other => other,
    })?;
    let id = old.id.clone().unwrap_or_default();
    let name = old.name.clone().unwrap_or_default().trim_start_matches('/').to_string();
    let was_running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    let config = old.config.clone().unwrap_or_default();
    let host_config = old.host_config.clone().unwrap_or_default();

    // What came from the old image rather than from the service's config.
    let old_image = match &old.image {
        Some(image_id) => docker.inspect_image(image_id).await.ok().and_then(|i| i.config),
        None => None,
    };
    // A label or variable the old image set and the new image sets too
    // is left for the new image to supply; everything else is the
    // service's own config and is kept as it is.
    let new_config = new_image.config.clone().unwrap_or_default();
    let image_labels = old_image.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
    let new_labels = new_config.labels.clone().unwrap_or_default();
    let labels: HashMap<String, String> = config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| !(image_labels.get(k) == Some(v) && new_labels.contains_key(k)))
        .collect();
    let image_env = old_image.as_ref().and_then(|c| c.env.clone()).unwrap_or_default();
    let new_env = new_config.env.clone().unwrap_or_default();
    let var = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let env: Vec<String> = config
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !(image_env.contains(e) && new_env.iter().any(|n| var(n) == var(e))))
        .collect();
    // Cmd/entrypoint given at create time are kept; ones that came from
    // the old image are left for the new image to supply.
    let own = |value: &Option<Vec<String>>, from_image: Option<&Vec<String>>| match value {
        Some(v) if Some(v) != from_image => Some(v.clone()),
        _ => None,
    };
    let cmd = own(&config.cmd, old_image.as_ref().and_then(|c| c.cmd.as_ref()));
    let entrypoint = own(
        &config.entrypoint,
        old_image.as_ref().and_then(|c| c.entrypoint.as_ref()),
    );

    let mut endpoints: Vec<(String, Vec<String>)> = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(net, e)| (net, own_aliases(&e, &id)))
        .collect();
    let mode = host_config.network_mode.clone().unwrap_or_default();
    endpoints.sort_by_key(|(net, _)| (net != &mode, net.clone()));

    let hostname = config.hostname.clone().filter(|h| !id.starts_with(h.as_str()));
    let body = ContainerCreateBody {
        hostname,
        domainname: config.domainname.clone(),
        user: config.user.clone(),
        exposed_ports: config.exposed_ports.clone(),
        tty: config.tty,
        open_stdin: config.open_stdin,
        env: Some(env),
        cmd,
        entrypoint,
        healthcheck: config.healthcheck.clone(),
        image: Some(image.to_string()),
        volumes: config.volumes.clone(),
        working_dir: config.working_dir.clone().filter(|w| !w.is_empty()),
        labels: Some(labels),
        stop_signal: config.stop_signal.clone(),
        stop_timeout: config.stop_timeout,
        host_config: Some(bollard::models::HostConfig {
            network_mode: endpoints
                .first()
                .map(|(n, _)| n.clone())
                .or(host_config.network_mode.clone()),
            ..host_config.clone()
        }),
        networking_config: endpoints.first().map(|(net, aliases)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    aliases: Some(aliases.clone()),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    };

    if was_running {
        let stop = q::StopContainerOptions {
            t: Some(grace(timeout_secs)),
            signal: None,
        };
        docker.stop_container(&id, Some(stop)).await.map_err(engine_error)?;
    }
    let aside = format!("{name}-drhost-replaced-{}", &id[..id.len().min(12)]);
    docker
        .rename_container(&id, q::RenameContainerOptions { name: aside.clone() })
        .await
        .map_err(engine_error)?;

    let created = async {
        let create = q::CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let new = docker
            .create_container(Some(create), body)
            .await
            .map_err(engine_error)?;
        for (net, aliases) in endpoints.iter().skip(1) {
            if let Err(e) = connect(docker, net, &new.id, aliases).await {
                let _ = docker
                    .remove_container(
                        &new.id,
                        Some(q::RemoveContainerOptions {
                            force: true,
                            ..Default::default()
                        }),
                    )
                    .await;
                return Err(e);
            }
        }
        if let Err(e) = docker.start_container(&new.id, None::<q::StartContainerOptions>).await {
            let _ = docker
                .remove_container(
                    &new.id,
                    Some(q::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
            return Err(engine_error(e));
        }
        Ok(new.id)
    }
    .await;
    let new_id = match created {
        Ok(new_id) => new_id,
        Err(e) => {
            // Put the old container back as it was.
            let _ = docker
                .rename_container(&id, q::RenameContainerOptions { name: name.clone() })
                .await;
            if was_running {
                let _ = docker.start_container(&id, None::<q::StartContainerOptions>).await;
            }
            let (kind, message) = error_parts(&e);
            return Err(CapError::Failed(format!(
                "recreating `{name}` from `{image}` failed ({kind}: {message}); the old container was put back"
            )));
        }
    };
    docker
        .remove_container(
            &id,
            Some(q::RemoveContainerOptions {
                force: true,
                v: false,
                link: false,
            }),
        )
        .await
        .map_err(engine_error)?;
    let raw = docker
        .inspect_container(&new_id, None::<q::InspectContainerOptions>)
        .await
        .map_err(engine_error)?;
    Ok(container_info(raw))
}
