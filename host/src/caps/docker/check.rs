//! The grant checks of every `docker` call, made before anything changes:
//! the pre-checks on what the plugin named (no connection yet), then the
//! checks on the container or network as the engine reports it (its real
//! name and compose labels, found by inspecting, which changes nothing).
//! A refusal names what was asked and the TOML that would allow it.

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters as q;

use super::advice::{
    container_lines, exec_lines, image_lines, network_lines, network_spec_lines, secret_lines, swarm_lines,
};
use super::engine_error;
use super::grant::{ContainerIdentity, DockerAccess, NetworkRefusal};
use super::syntax::{check_image_reference, check_secret_name, shorten, Cidr, MAX_KEY_LEN};
use crate::bindings::drhost::runbook::docker::{Label, NetworkSpec};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::pattern::glob_escape;
use crate::caps::kit::text::{not_granted, toml_string};
use crate::sandbox::{RunContext, RunState};

/// Most labels, driver options, IPAM pools or aliases one call may pass.
pub(crate) const MAX_SPEC_LABELS: usize = 64;
const MAX_POOLS: usize = 8;
pub(crate) const MAX_ALIASES: usize = 16;

impl RunState {
    /// The sequence every call on one container starts with: the grant by
    /// name, the client, then the grant by the container's compose labels.
    /// Returns the client and the container as inspected.
    pub(crate) async fn granted_container(
        &mut self,
        name: &str,
        access: DockerAccess,
    ) -> Result<(bollard::Docker, ContainerInspectResponse), CapError> {
        let ctx = self.ctx.clone();
        precheck_container(&ctx, name, access)?;
        let docker = self.docker_client().await?;
        let container = authorize_container(&ctx, &docker, name, access).await?;
        Ok((docker, container))
    }
}

/// The id of an inspected container, to address it by from then on: the
/// name the plugin gave may be re-pointed (rename) between the check and
/// the call.
pub(crate) fn id_of(raw: &ContainerInspectResponse, fallback: &str) -> String {
    raw.id
        .clone()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}

fn denied(ctx: &RunContext, what: String, lines: String) -> CapError {
    CapError::AccessDenied(not_granted(&what, &ctx.plugin_id, &lines))
}

fn access_word(access: DockerAccess) -> &'static str {
    match access {
        DockerAccess::Read => "read",
        DockerAccess::Write => "write",
    }
}

/// Before connecting: could any grant allow `access` on a container
/// named `name`? Grants selecting by compose labels need the labels, so
/// they pass here and are decided after inspecting.
pub(crate) fn precheck_container(ctx: &RunContext, name: &str, access: DockerAccess) -> Result<(), CapError> {
    let named = name.trim_start_matches('/');
    // Grants selecting by compose labels need the labels: they pass here
    // (when their name globs allow) and are decided after inspecting.
    let possible = ctx.grants.docker.iter().any(|g| {
        let has_selector = !g.containers.is_empty() || g.compose_project.is_some() || g.compose_service.is_some();
        g.allows_access(access)
            && has_selector
            && (g.containers.is_empty() || g.containers.iter().any(|c| c.matches(named)))
    });
    if possible {
        return Ok(());
    }
    Err(denied(
        ctx,
        format!("docker {} on container `{name}`", access_word(access)),
        container_lines(&ctx.plugin_id, named, true, access),
    ))
}

pub(crate) fn precheck_any_container(ctx: &RunContext, access: DockerAccess) -> Result<(), CapError> {
    let any = ctx.grants.docker.iter().any(|g| {
        g.allows_access(access)
            && (!g.containers.is_empty() || g.compose_project.is_some() || g.compose_service.is_some())
    });
    if any {
        return Ok(());
    }
    Err(denied(
        ctx,
        format!("docker {} on containers", access_word(access)),
        container_lines(&ctx.plugin_id, "NAME-GLOB", false, access),
    ))
}

fn env_names(env: &[(String, String)]) -> Vec<&str> {
    env.iter().map(|(k, _)| k.as_str()).collect()
}

pub(crate) fn precheck_exec(
    ctx: &RunContext,
    name: &str,
    argv: &[String],
    env: &[(String, String)],
) -> Result<(), CapError> {
    if argv.is_empty() {
        return Err(CapError::InvalidArgument("exec needs a program: argv is empty".into()));
    }
    precheck_container(ctx, name, DockerAccess::Write)?;
    let named = name.trim_start_matches('/');
    let exec_grants: Vec<_> = ctx
        .grants
        .docker
        .iter()
        .filter(|g| g.allows_access(DockerAccess::Write) && !g.exec.is_empty())
        .collect();
    if exec_grants.is_empty() {
        return Err(denied(
            ctx,
            format!("docker exec of {argv:?} in container `{name}`"),
            exec_lines(&ctx.plugin_id, named, argv, &env_names(env)),
        ));
    }
    // Every variable must be allowed by one grant that can exec at all;
    // the full check (same grant for argv and environment) follows.
    if let Some((var, _)) = env
        .iter()
        .find(|(k, v)| !exec_grants.iter().any(|g| g.allows_exec_env(k, v)))
    {
        return Err(denied(
            ctx,
            format!("docker exec of {argv:?} in container `{name}` setting environment variable `{var}`"),
            exec_lines(&ctx.plugin_id, named, argv, &env_names(env)),
        ));
    }
    Ok(())
}

pub(crate) fn check_image(ctx: &RunContext, image: &str) -> Result<(), CapError> {
    check_image_reference(image).map_err(CapError::InvalidArgument)?;
    if ctx.grants.docker.iter().any(|g| g.allows_image(image)) {
        return Ok(());
    }
    Err(denied(
        ctx,
        format!("docker write on image `{image}`"),
        image_lines(&ctx.plugin_id, image, true),
    ))
}

pub(crate) fn check_network(ctx: &RunContext, name: &str, access: DockerAccess) -> Result<(), CapError> {
    if ctx.grants.docker.iter().any(|g| g.allows_network(name, access)) {
        return Ok(());
    }
    Err(denied(
        ctx,
        format!("docker {} on network `{name}`", access_word(access)),
        network_lines(&ctx.plugin_id, name, true, access),
    ))
}

/// Docker secret `name` (checked to be a name the engine accepts) needs a
/// grant whose `secrets` globs match it, with `access`.
pub(crate) fn check_secret(ctx: &RunContext, name: &str, access: DockerAccess) -> Result<(), CapError> {
    check_secret_name(name).map_err(CapError::InvalidArgument)?;
    if ctx.grants.docker.iter().any(|g| g.allows_secret(name, access)) {
        return Ok(());
    }
    Err(denied(
        ctx,
        format!("docker {} on secret `{name}`", access_word(access)),
        secret_lines(&ctx.plugin_id, name, true, access),
    ))
}

/// Listing secrets needs a grant with `secrets` globs.
pub(crate) fn precheck_any_secret(ctx: &RunContext) -> Result<(), CapError> {
    if ctx
        .grants
        .docker
        .iter()
        .any(|g| g.allows_access(DockerAccess::Read) && !g.secrets.is_empty())
    {
        return Ok(());
    }
    Err(denied(
        ctx,
        "docker read on secrets".into(),
        secret_lines(&ctx.plugin_id, "NAME-GLOB", false, DockerAccess::Read),
    ))
}

/// `swarm-inspect` needs `swarm = true` or some `secrets`; `swarm-init`
/// (`write`) needs `swarm = true`.
pub(crate) fn check_swarm(ctx: &RunContext, access: DockerAccess) -> Result<(), CapError> {
    let allowed = ctx.grants.docker.iter().any(|g| match access {
        DockerAccess::Read => g.allows_swarm_inspect(),
        DockerAccess::Write => g.swarm,
    });
    if allowed {
        return Ok(());
    }
    let what = match access {
        DockerAccess::Read => "docker swarm-inspect",
        DockerAccess::Write => "docker swarm-init, which makes the engine a swarm manager for every user of it,",
    };
    Err(denied(ctx, what.into(), swarm_lines(&ctx.plugin_id)))
}

/// Labels a plugin puts on what it creates (a network, a secret): at most
/// [`MAX_SPEC_LABELS`], names non-empty and at most [`MAX_KEY_LEN`] bytes,
/// values at most 4096. `what` names the object for the message.
pub(crate) fn check_labels(what: &str, labels: &[Label]) -> Result<(), CapError> {
    if labels.len() > MAX_SPEC_LABELS {
        return Err(CapError::InvalidArgument(format!(
            "{what}: at most {MAX_SPEC_LABELS} labels, not {}",
            labels.len()
        )));
    }
    match labels
        .iter()
        .find(|l| l.key.is_empty() || l.key.len() > MAX_KEY_LEN || l.value.len() > 4096)
    {
        None => Ok(()),
        Some(l) => Err(CapError::InvalidArgument(format!(
            "{what}: label `{}` is empty or too long (names up to {MAX_KEY_LEN} bytes, values up to 4096)",
            shorten(&l.key, 64)
        ))),
    }
}

/// What the grant says about a network to create beyond its name: its
/// driver, driver options and addresses must be allowed by one grant
/// that allows writing the name. Labels are metadata (no grant is
/// decided by a network's labels) and only capped in size; `internal`
/// only takes connectivity away and `attachable` only matters to swarm
/// drivers, which need `network_drivers` anyway.
pub(crate) fn check_network_spec(ctx: &RunContext, spec: &NetworkSpec) -> Result<(), CapError> {
    if spec.labels.len() > MAX_SPEC_LABELS || spec.options.len() > MAX_SPEC_LABELS || spec.ipam.len() > MAX_POOLS {
        return Err(CapError::InvalidArgument(format!(
            "network `{}`: at most {MAX_SPEC_LABELS} labels, {MAX_SPEC_LABELS} options and {MAX_POOLS} IPAM pools",
            spec.name
        )));
    }
    if let Some(l) = spec
        .labels
        .iter()
        .chain(&spec.options)
        .find(|l| l.key.is_empty() || l.key.len() > MAX_KEY_LEN || l.value.len() > 4096)
    {
        return Err(CapError::InvalidArgument(format!(
            "network `{}`: label or option `{}` is empty or too long (names up to {} bytes, values up to 4096)",
            spec.name,
            shorten(&l.key, 64),
            MAX_KEY_LEN
        )));
    }
    let driver = spec
        .driver
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "bridge".into());
    let options: Vec<(String, String)> = spec.options.iter().map(|l| (l.key.clone(), l.value.clone())).collect();
    let mut ranges = Vec::new();
    for pool in &spec.ipam {
        let subnet = Cidr::parse(&pool.subnet)
            .map_err(|e| CapError::InvalidArgument(format!("network `{}`: IPAM subnet {e}", spec.name)))?;
        ranges.push(subnet);
        for (what, text) in [("gateway", &pool.gateway), ("ip-range", &pool.ip_range)] {
            let Some(text) = text.as_deref().filter(|t| !t.is_empty()) else {
                continue;
            };
            let inner = Cidr::parse(text)
                .map_err(|e| CapError::InvalidArgument(format!("network `{}`: IPAM {what} {e}", spec.name)))?;
            if !subnet.contains(&inner) {
                return Err(CapError::InvalidArgument(format!(
                    "network `{}`: IPAM {what} {text} is outside its subnet {subnet}",
                    spec.name
                )));
            }
        }
    }
    let candidates: Vec<_> = ctx
        .grants
        .docker
        .iter()
        .filter(|g| g.allows_network(&spec.name, DockerAccess::Write))
        .collect();
    let mut refusal = None;
    for g in &candidates {
        match g.refuses_network_spec(&driver, &options, &ranges) {
            None => return Ok(()),
            Some(r) => {
                refusal.get_or_insert(r);
            }
        }
    }
    let refusal = refusal.unwrap_or(NetworkRefusal::Driver(driver));
    Err(denied(
        ctx,
        format!("{} for network `{}`", refusal.what(), spec.name),
        network_spec_lines(&ctx.plugin_id, &spec.name, &refusal.line()),
    ))
}

/// Aliases on a network are DNS names every container there resolves:
/// besides the container's own name and compose service, an alias must
/// match a `network_aliases` glob of a grant that allows writing the
/// network (else a plugin could answer for `postgres` or `redis`).
pub(crate) fn check_aliases(
    ctx: &RunContext,
    network: &str,
    container: &ContainerInspectResponse,
    aliases: &[String],
) -> Result<(), CapError> {
    if aliases.len() > MAX_ALIASES {
        return Err(CapError::InvalidArgument(format!(
            "at most {MAX_ALIASES} aliases per connection, not {}",
            aliases.len()
        )));
    }
    let who = identity(container);
    for alias in aliases {
        let own = *alias == who.name || who.compose_service() == Some(alias.as_str());
        if own
            || ctx
                .grants
                .docker
                .iter()
                .any(|g| g.allows_network(network, DockerAccess::Write) && g.allows_alias(alias))
        {
            continue;
        }
        let line = format!("network_aliases = [{}]", toml_string(&glob_escape(alias)));
        return Err(denied(
            ctx,
            format!(
                "docker alias `{}` for container `{}` on network `{network}`",
                shorten(alias, 128),
                who.name
            ),
            network_spec_lines(&ctx.plugin_id, network, &line),
        ));
    }
    Ok(())
}

pub(crate) fn precheck_any_network(ctx: &RunContext) -> Result<(), CapError> {
    if ctx
        .grants
        .docker
        .iter()
        .any(|g| g.allows_access(DockerAccess::Read) && !g.networks.is_empty())
    {
        return Ok(());
    }
    Err(denied(
        ctx,
        "docker read on networks".into(),
        network_lines(&ctx.plugin_id, "NAME-GLOB", false, DockerAccess::Read),
    ))
}

fn identity(raw: &ContainerInspectResponse) -> ContainerIdentity {
    ContainerIdentity {
        name: raw
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        labels: raw.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default(),
    }
}

/// Inspects the container (changes nothing) and checks the grant against
/// its real name and labels. A container the grant cannot see is reported
/// as denied, not as missing or present.
pub(crate) async fn authorize_container(
    ctx: &RunContext,
    docker: &bollard::Docker,
    name: &str,
    access: DockerAccess,
) -> Result<ContainerInspectResponse, CapError> {
    let raw = docker
        .inspect_container(name, None::<q::InspectContainerOptions>)
        .await
        .map_err(engine_error)?;
    let who = identity(&raw);
    if ctx.grants.docker.iter().any(|g| g.allows_container(&who, access)) {
        return Ok(raw);
    }
    Err(denied(
        ctx,
        format!("docker {} on container `{}`", access_word(access), who.name),
        container_lines(&ctx.plugin_id, &who.name, true, access),
    ))
}

/// Checks exec of `argv` with `env` in the container as inspected: one
/// grant must select it, match the argv and allow every variable.
/// Returns the container's id, to exec in.
pub(crate) async fn authorize_exec(
    ctx: &RunContext,
    docker: &bollard::Docker,
    name: &str,
    argv: &[String],
    env: &[(String, String)],
) -> Result<String, CapError> {
    let raw = authorize_container(ctx, docker, name, DockerAccess::Write).await?;
    let who = identity(&raw);
    if ctx.grants.docker.iter().any(|g| g.allows_exec(&who, argv, env)) {
        return Ok(id_of(&raw, name));
    }
    let argv_grant = ctx.grants.docker.iter().find(|g| g.allows_exec_argv(&who, argv));
    let what = match argv_grant.and_then(|g| env.iter().find(|(k, v)| !g.allows_exec_env(k, v))) {
        Some((var, _)) => format!(
            "docker exec of {argv:?} in container `{}` setting environment variable `{var}`",
            who.name
        ),
        None => format!("docker exec of {argv:?} in container `{}`", who.name),
    };
    Err(denied(
        ctx,
        what,
        exec_lines(&ctx.plugin_id, &who.name, argv, &env_names(env)),
    ))
}
