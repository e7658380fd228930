//! The Engine calls on containers, made after the grant checks: the
//! container as the contract reports it, the list of granted containers,
//! logs, one stats sample, start, stop and restart.

use std::collections::HashMap;

use bollard::models::{ContainerInspectResponse, EndpointSettings};
use bollard::query_parameters as q;
use futures_util::StreamExt;

use super::engine_error;
use super::grant::{ContainerIdentity, DockerAccess, COMPOSE_PROJECT, COMPOSE_SERVICE};
use crate::bindings::drhost::runbook::docker::{
    ContainerFilter, ContainerInfo, ContainerSummary, Endpoint, Label, LogOutput, PortBinding, StatsSample,
};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::pattern::ArgPattern;
use crate::sandbox::RunContext;

/// Default and largest log size handed to the plugin.
const LOG_CAP: usize = 256 * 1024;
/// Most log lines asked of the engine: a larger `tail` would make it
/// read (and this host discard) a log of any size.
const MAX_LOG_TAIL: u32 = 10_000;
/// Stop grace period when the plugin sets none (docker's own default).
const STOP_GRACE_SECS: u32 = 10;

pub(crate) fn grace(timeout_secs: Option<u32>) -> i32 {
    timeout_secs.unwrap_or(STOP_GRACE_SECS).min(3600) as i32
}

pub(crate) fn labels(map: Option<HashMap<String, String>>) -> Vec<Label> {
    let mut list: Vec<Label> = map
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| Label { key, value })
        .collect();
    list.sort_by(|a, b| a.key.cmp(&b.key));
    list
}

/// The container's aliases without the short id the engine adds itself.
pub(crate) fn own_aliases(endpoint: &EndpointSettings, id: &str) -> Vec<String> {
    let short = &id[..id.len().min(12)];
    endpoint
        .aliases
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a != short && a != id)
        .collect()
}

pub(crate) fn container_info(raw: ContainerInspectResponse) -> ContainerInfo {
    let id = raw.id.clone().unwrap_or_default();
    let state = raw.state.clone().unwrap_or_default();
    let config = raw.config.clone().unwrap_or_default();
    let mut networks: Vec<Endpoint> = raw
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(network, e)| Endpoint {
            aliases: own_aliases(&e, &id),
            ip_address: e.ip_address.clone().unwrap_or_default(),
            network,
        })
        .collect();
    networks.sort_by(|a, b| a.network.cmp(&b.network));
    let mut ports = Vec::new();
    let bindings = raw
        .host_config
        .as_ref()
        .and_then(|h| h.port_bindings.clone())
        .unwrap_or_default();
    let live = raw
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.clone())
        .unwrap_or_default();
    for (container_port, list) in if live.values().any(Option::is_some) {
        live
    } else {
        bindings
    } {
        for b in list.unwrap_or_default() {
            ports.push(PortBinding {
                container_port: container_port.clone(),
                host_ip: b.host_ip.unwrap_or_default(),
                host_port: b.host_port.unwrap_or_default(),
            });
        }
    }
    ports.sort_by(|a, b| (&a.container_port, &a.host_port).cmp(&(&b.container_port, &b.host_port)));
    let label_map = config.labels.clone().unwrap_or_default();
    ContainerInfo {
        name: raw.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
        image: config.image.clone().unwrap_or_default(),
        image_id: raw.image.clone().unwrap_or_default(),
        state: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        health: state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
        restart_count: raw.restart_count.unwrap_or(0).max(0) as u32,
        exit_code: state.exit_code.unwrap_or(0),
        oom_killed: state.oom_killed.unwrap_or(false),
        error: state.error.unwrap_or_default(),
        started_at: state.started_at.unwrap_or_default(),
        finished_at: state.finished_at.unwrap_or_default(),
        memory_limit: raw.host_config.as_ref().and_then(|h| h.memory).unwrap_or(0).max(0) as u64,
        networks,
        ports,
        compose_project: label_map.get(COMPOSE_PROJECT).cloned(),
        compose_service: label_map.get(COMPOSE_SERVICE).cloned(),
        labels: labels(Some(label_map)),
        id,
    }
}

pub(crate) async fn list_containers(
    ctx: &RunContext,
    docker: &bollard::Docker,
    filter: &ContainerFilter,
) -> Result<Vec<ContainerSummary>, CapError> {
    let name_glob = match &filter.name {
        Some(glob) => Some(ArgPattern::try_from(glob.clone()).map_err(CapError::InvalidArgument)?),
        None => None,
    };
    let service_glob = match &filter.compose_service {
        Some(glob) => Some(ArgPattern::try_from(glob.clone()).map_err(CapError::InvalidArgument)?),
        None => None,
    };
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(project) = &filter.compose_project {
        filters.insert("label".into(), vec![format!("{COMPOSE_PROJECT}={project}")]);
    }
    if let Some(state) = &filter.state {
        filters.insert("status".into(), vec![state.clone()]);
    }
    let options = q::ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let found = docker.list_containers(Some(options)).await.map_err(engine_error)?;
    let mut list = Vec::new();
    for c in found {
        // `Names` also holds legacy link aliases (`/web/db`): the
        // container's own name is the one without an inner `/`.
        let name = c
            .names
            .as_ref()
            .and_then(|names| {
                names
                    .iter()
                    .map(|n| n.trim_start_matches('/'))
                    .find(|n| !n.contains('/'))
            })
            .unwrap_or_default()
            .to_string();
        let who = ContainerIdentity {
            name: name.clone(),
            labels: c.labels.clone().unwrap_or_default(),
        };
        if !ctx
            .grants
            .docker
            .iter()
            .any(|g| g.allows_container(&who, DockerAccess::Read))
        {
            continue;
        }
        if name_glob.as_ref().is_some_and(|g| !g.matches(&name)) {
            continue;
        }
        if service_glob
            .as_ref()
            .is_some_and(|g| !who.compose_service().is_some_and(|s| g.matches(s)))
        {
            continue;
        }
        list.push(ContainerSummary {
            id: c.id.unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            status: c.status.unwrap_or_default(),
            compose_project: who.compose_project().map(String::from),
            compose_service: who.compose_service().map(String::from),
            name,
        });
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

pub(crate) async fn logs(
    ctx: &RunContext,
    docker: &bollard::Docker,
    name: &str,
    tail: Option<u32>,
    since: Option<i64>,
    max_bytes: Option<u32>,
) -> Result<LogOutput, CapError> {
    let cap = max_bytes.map_or(LOG_CAP, |b| (b as usize).min(LOG_CAP));
    let wanted = tail.unwrap_or(100);
    let options = q::LogsOptions {
        stdout: true,
        stderr: true,
        tail: wanted.min(MAX_LOG_TAIL).to_string(),
        since: since.unwrap_or(0).clamp(0, i32::MAX as i64) as i32,
        ..Default::default()
    };
    let mut stream = docker.logs(name, Some(options));
    let mut text = Vec::new();
    let read = async {
        while let Some(item) = stream.next().await {
            let item = item.map_err(engine_error)?;
            text.extend_from_slice(&item.into_bytes());
            // Keep at most twice the cap in memory; the newest bytes win.
            if text.len() > 2 * cap {
                text.drain(..text.len() - cap);
            }
        }
        Ok::<_, CapError>(())
    };
    let left = ctx.time_left();
    match tokio::time::timeout(left, read).await {
        Ok(done) => done?,
        Err(_) => {
            return Err(CapError::Timeout(format!(
                "the logs of `{name}` did not arrive before the run's deadline"
            )))
        }
    }
    let text = String::from_utf8_lossy(&text).into_owned();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut total: usize = lines.iter().map(|l| l.len() + 1).sum();
    // Lines beyond the tail limit were never asked for: say so.
    let mut truncated = wanted > MAX_LOG_TAIL && lines.len() >= MAX_LOG_TAIL as usize;
    while total > cap && !lines.is_empty() {
        total -= lines.remove(0).len() + 1;
        truncated = true;
    }
    Ok(LogOutput { lines, truncated })
}

pub(crate) async fn stats(docker: &bollard::Docker, name: &str) -> Result<StatsSample, CapError> {
    let options = q::StatsOptions {
        stream: false,
        one_shot: false,
    };
    let mut stream = docker.stats(name, Some(options));
    let Some(sample) = stream.next().await else {
        return Err(CapError::Failed(format!(
            "the Docker Engine sent no stats for `{name}`"
        )));
    };
    let s = sample.map_err(engine_error)?;
    let cpu = s.cpu_stats.unwrap_or_default();
    let pre = s.precpu_stats.unwrap_or_default();
    let total = |c: &bollard::models::ContainerCpuStats| c.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let cpu_delta = total(&cpu).saturating_sub(total(&pre)) as f64;
    let system_delta = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = cpu.online_cpus.unwrap_or(1).max(1) as f64;
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.unwrap_or_default();
    Ok(StatsSample {
        cpu_percent,
        memory_usage: memory.usage.unwrap_or(0),
        memory_limit: memory.limit.unwrap_or(0),
    })
}

pub(crate) async fn start(docker: &bollard::Docker, id: &str) -> Result<(), CapError> {
    docker
        .start_container(id, None::<q::StartContainerOptions>)
        .await
        .map_err(engine_error)
}

pub(crate) async fn stop(docker: &bollard::Docker, id: &str, timeout_secs: Option<u32>) -> Result<(), CapError> {
    let options = q::StopContainerOptions {
        t: Some(grace(timeout_secs)),
        signal: None,
    };
    docker.stop_container(id, Some(options)).await.map_err(engine_error)
}

pub(crate) async fn restart(docker: &bollard::Docker, id: &str, timeout_secs: Option<u32>) -> Result<(), CapError> {
    let options = q::RestartContainerOptions {
        t: Some(grace(timeout_secs)),
        signal: None,
    };
    docker.restart_container(id, Some(options)).await.map_err(engine_error)
}
