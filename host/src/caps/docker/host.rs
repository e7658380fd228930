//! The `docker` interface: one small function per WIT function; the grant
//! check and the Engine calls live in the inner `operations` module.
//!
//! Order of every call: grant pre-check on what the plugin named (no
//! connection yet) → client (connect once per run) → identify the target by
//! inspecting it (changes nothing) → full grant check → the call → journal.

use std::time::Instant;

use serde_json::json;

use crate::bindings::drhost::runbook::docker::{
    ContainerFilter, ContainerInfo, ContainerSummary, ExecRequest, ExecResult, Host, LogOutput, NetworkInfo,
    NetworkSpec, StatsSample,
};
use crate::bindings::types::Error as CapError;
use crate::caps::docker::grant::DockerAccess::{Read, Write};
use crate::caps::journal_call;
use crate::sandbox::RunState;

type Answer<T> = wasmtime::Result<Result<T, CapError>>;

fn info_summary(c: &ContainerInfo) -> serde_json::Value {
    json!({ "name": c.name, "state": c.state, "health": c.health, "image": c.image })
}

fn network_summary(n: &NetworkInfo) -> serde_json::Value {
    json!({ "name": n.name, "containers": n.containers.iter().map(|m| &m.container).collect::<Vec<_>>() })
}

impl Host for RunState {
    async fn list_containers(&mut self, filter: ContainerFilter) -> Answer<Vec<ContainerSummary>> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::precheck_any_container(&ctx, Read)?;
            let docker = self.docker_client().await?;
            operations::list_containers(&ctx, &docker, &filter).await
        }
        .await;
        let args = json!({ "name": filter.name, "compose_project": filter.compose_project, "compose_service": filter.compose_service, "state": filter.state });
        journal_call(
            self,
            "docker.list-containers",
            args,
            started,
            &result,
            |list| json!({ "containers": list.iter().map(|c| json!({ "name": c.name, "state": c.state })).collect::<Vec<_>>() }),
        );
        Ok(result)
    }

    async fn inspect_container(&mut self, name: String) -> Answer<ContainerInfo> {
        let started = Instant::now();
        let result = async {
            let (_, raw) = self.granted_container(&name, Read).await?;
            Ok(operations::container_info(raw))
        }
        .await;
        journal_call(
            self,
            "docker.inspect-container",
            json!({ "name": name }),
            started,
            &result,
            info_summary,
        );
        Ok(result)
    }

    async fn container_logs(
        &mut self,
        name: String,
        tail: Option<u32>,
        since: Option<i64>,
        max_bytes: Option<u32>,
    ) -> Answer<LogOutput> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            let (docker, raw) = self.granted_container(&name, Read).await?;
            operations::logs(&ctx, &docker, &operations::id_of(&raw, &name), tail, since, max_bytes).await
        }
        .await;
        let args = json!({ "name": name, "tail": tail, "since": since, "max_bytes": max_bytes });
        journal_call(
            self,
            "docker.container-logs",
            args,
            started,
            &result,
            |l| json!({ "lines": l.lines.len(), "truncated": l.truncated }),
        );
        Ok(result)
    }

    async fn container_stats(&mut self, name: String) -> Answer<StatsSample> {
        let started = Instant::now();
        let result = async {
            let (docker, raw) = self.granted_container(&name, Read).await?;
            operations::stats(&docker, &operations::id_of(&raw, &name)).await
        }
        .await;
        journal_call(
            self,
            "docker.container-stats",
            json!({ "name": name }),
            started,
            &result,
            |s| json!({ "cpu_percent": s.cpu_percent, "memory_usage": s.memory_usage, "memory_limit": s.memory_limit }),
        );
        Ok(result)
    }

    async fn start_container(&mut self, name: String) -> Answer<()> {
        let started = Instant::now();
        let result = async {
            let (docker, raw) = self.granted_container(&name, Write).await?;
            docker
                .start_container(
                    &operations::id_of(&raw, &name),
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
                .map_err(operations::engine_error)
        }
        .await;
        journal_call(
            self,
            "docker.start-container",
            json!({ "name": name }),
            started,
            &result,
            |_| json!(null),
        );
        Ok(result)
    }

    async fn stop_container(&mut self, name: String, timeout_secs: Option<u32>) -> Answer<()> {
        let started = Instant::now();
        let result = async {
            let (docker, raw) = self.granted_container(&name, Write).await?;
            let options = bollard::query_parameters::StopContainerOptions {
                t: Some(operations::grace(timeout_secs)),
                signal: None,
            };
            docker
                .stop_container(&operations::id_of(&raw, &name), Some(options))
                .await
                .map_err(operations::engine_error)
        }
        .await;
        journal_call(
            self,
            "docker.stop-container",
            json!({ "name": name, "timeout_secs": timeout_secs }),
            started,
            &result,
            |_| json!(null),
        );
        Ok(result)
    }

    async fn restart_container(&mut self, name: String, timeout_secs: Option<u32>) -> Answer<()> {
        let started = Instant::now();
        let result = async {
            let (docker, raw) = self.granted_container(&name, Write).await?;
            let options = bollard::query_parameters::RestartContainerOptions {
                t: Some(operations::grace(timeout_secs)),
                signal: None,
            };
            docker
                .restart_container(&operations::id_of(&raw, &name), Some(options))
                .await
                .map_err(operations::engine_error)
        }
        .await;
        journal_call(
            self,
            "docker.restart-container",
            json!({ "name": name, "timeout_secs": timeout_secs }),
            started,
            &result,
            |_| json!(null),
        );
        Ok(result)
    }

    async fn exec(&mut self, name: String, request: ExecRequest) -> Answer<ExecResult> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            let env = crate::caps::docker::grant::parse_exec_env(&request.env).map_err(CapError::InvalidArgument)?;
            operations::precheck_exec(&ctx, &name, &request.argv, &env)?;
            let docker = self.docker_client().await?;
            let id = operations::authorize_exec(&ctx, &docker, &name, &request.argv, &env).await?;
            operations::exec(&ctx, &docker, &id, &name, &request).await
        }
        .await;
        // Environment values may hold secrets: journal the names only, cut
        // to a readable length (a refused name may be anything).
        let env_names: Vec<String> = request
            .env
            .iter()
            .take(crate::caps::docker::grant::MAX_EXEC_ENV + 1)
            .map(|e| crate::caps::docker::grant::shorten(e.split_once('=').map_or(e.as_str(), |(k, _)| k), 128))
            .collect();
        let args = json!({ "name": name, "argv": request.argv, "env": env_names, "timeout_ms": request.timeout_ms });
        journal_call(
            self,
            "docker.exec",
            args,
            started,
            &result,
            |r| json!({ "exit_code": r.exit_code, "truncated": r.truncated }),
        );
        Ok(result)
    }

    async fn recreate_with_image(
        &mut self,
        name: String,
        image: String,
        timeout_secs: Option<u32>,
    ) -> Answer<ContainerInfo> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::precheck_container(&ctx, &name, Write)?;
            operations::check_image(&ctx, &image)?;
            let docker = self.docker_client().await?;
            let old = operations::authorize_container(&ctx, &docker, &name, Write).await?;
            operations::recreate(&docker, old, &image, timeout_secs).await
        }
        .await;
        let args = json!({ "name": name, "image": image, "timeout_secs": timeout_secs });
        journal_call(self, "docker.recreate-with-image", args, started, &result, info_summary);
        Ok(result)
    }

    async fn tag_image(&mut self, source: String, target: String) -> Answer<()> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::check_image(&ctx, &source)?;
            operations::check_image(&ctx, &target)?;
            let docker = self.docker_client().await?;
            operations::tag(&docker, &source, &target).await
        }
        .await;
        journal_call(
            self,
            "docker.tag-image",
            json!({ "source": source, "target": target }),
            started,
            &result,
            |_| json!(null),
        );
        Ok(result)
    }

    async fn list_networks(&mut self, name: Option<String>) -> Answer<Vec<NetworkInfo>> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::precheck_any_network(&ctx)?;
            let docker = self.docker_client().await?;
            operations::list_networks(&ctx, &docker, name.as_deref()).await
        }
        .await;
        journal_call(
            self,
            "docker.list-networks",
            json!({ "name": name }),
            started,
            &result,
            |list| json!({ "networks": list.iter().map(|n| &n.name).collect::<Vec<_>>() }),
        );
        Ok(result)
    }

    async fn inspect_network(&mut self, name: String) -> Answer<NetworkInfo> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::check_network(&ctx, &name, Read)?;
            let docker = self.docker_client().await?;
            operations::inspect_network(&ctx, &docker, &name, Read).await
        }
        .await;
        journal_call(
            self,
            "docker.inspect-network",
            json!({ "name": name }),
            started,
            &result,
            network_summary,
        );
        Ok(result)
    }

    async fn create_network(&mut self, spec: NetworkSpec) -> Answer<NetworkInfo> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::check_network(&ctx, &spec.name, Write)?;
            operations::check_network_spec(&ctx, &spec)?;
            let docker = self.docker_client().await?;
            operations::create_network(&ctx, &docker, &spec).await
        }
        .await;
        let args = json!({
            "name": spec.name, "driver": spec.driver, "internal": spec.internal, "attachable": spec.attachable,
            "ipam": spec.ipam.iter().map(|p| json!({ "subnet": p.subnet, "gateway": p.gateway, "ip_range": p.ip_range })).collect::<Vec<_>>(),
            "labels": spec.labels.iter().take(operations::MAX_SPEC_LABELS + 1).map(|l| crate::caps::docker::grant::shorten(&format!("{}={}", l.key, l.value), 256)).collect::<Vec<_>>(),
            "options": spec.options.iter().take(operations::MAX_SPEC_LABELS + 1).map(|l| crate::caps::docker::grant::shorten(&format!("{}={}", l.key, l.value), 256)).collect::<Vec<_>>(),
        });
        journal_call(self, "docker.create-network", args, started, &result, network_summary);
        Ok(result)
    }

    async fn remove_network(&mut self, name: String) -> Answer<()> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::check_network(&ctx, &name, Write)?;
            let docker = self.docker_client().await?;
            let network = operations::inspect_network(&ctx, &docker, &name, Write).await?;
            docker
                .remove_network(&network.id)
                .await
                .map_err(operations::engine_error)
        }
        .await;
        journal_call(
            self,
            "docker.remove-network",
            json!({ "name": name }),
            started,
            &result,
            |_| json!(null),
        );
        Ok(result)
    }

    async fn connect_network(&mut self, network: String, container: String, aliases: Vec<String>) -> Answer<()> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::check_network(&ctx, &network, Write)?;
            let (docker, raw) = self.granted_container(&container, Write).await?;
            let net = operations::inspect_network(&ctx, &docker, &network, Write).await?;
            operations::check_aliases(&ctx, &net.name, &raw, &aliases)?;
            operations::connect(&docker, &net.id, &operations::id_of(&raw, &container), &aliases).await
        }
        .await;
        let shown: Vec<String> = aliases
            .iter()
            .take(operations::MAX_ALIASES + 1)
            .map(|a| crate::caps::docker::grant::shorten(a, 128))
            .collect();
        let args = json!({ "network": network, "container": container, "aliases": shown });
        journal_call(self, "docker.connect-network", args, started, &result, |_| json!(null));
        Ok(result)
    }

    async fn disconnect_network(&mut self, network: String, container: String, force: bool) -> Answer<()> {
        let started = Instant::now();
        let ctx = self.ctx.clone();
        let result = async {
            operations::check_network(&ctx, &network, Write)?;
            let (docker, raw) = self.granted_container(&container, Write).await?;
            let net = operations::inspect_network(&ctx, &docker, &network, Write).await?;
            let request = bollard::models::NetworkDisconnectRequest {
                container: Some(operations::id_of(&raw, &container)),
                force: Some(force),
            };
            docker
                .disconnect_network(&net.id, request)
                .await
                .map_err(operations::engine_error)
        }
        .await;
        let args = json!({ "network": network, "container": container, "force": force });
        journal_call(self, "docker.disconnect-network", args, started, &result, |_| {
            json!(null)
        });
        Ok(result)
    }
}

impl RunState {
    /// The sequence every call on one container starts with: the grant by
    /// name, the client, then the grant by the container's compose labels.
    /// Returns the client and the container as inspected.
    async fn granted_container(
        &mut self,
        name: &str,
        access: crate::caps::docker::grant::DockerAccess,
    ) -> Result<(bollard::Docker, bollard::models::ContainerInspectResponse), CapError> {
        let ctx = self.ctx.clone();
        operations::precheck_container(&ctx, name, access)?;
        let docker = self.docker_client().await?;
        let container = operations::authorize_container(&ctx, &docker, name, access).await?;
        Ok((docker, container))
    }
}

mod operations {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use bollard::models::{
        ContainerCreateBody, ContainerInspectResponse, EndpointSettings, Ipam, IpamConfig, Network,
        NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig,
    };
    use bollard::query_parameters as q;
    use futures_util::StreamExt;

    use super::*;
    use crate::bindings::drhost::runbook::docker::{Endpoint, IpamPool, Label, NetworkMember, PortBinding};
    use crate::caps::docker::grant::{
        check_image_reference, container_lines, exec_lines, image_lines, network_lines, network_spec_lines, shorten,
        Cidr, ContainerIdentity, DockerAccess, NetworkRefusal, COMPOSE_PROJECT, COMPOSE_SERVICE,
    };
    use crate::sandbox::RunContext;

    /// Output kept per exec stream.
    const EXEC_OUTPUT_CAP: usize = 256 * 1024;
    /// Default and largest log size handed to the plugin.
    const LOG_CAP: usize = 256 * 1024;
    /// Most log lines asked of the engine: a larger `tail` would make it
    /// read (and this host discard) a log of any size.
    pub(super) const MAX_LOG_TAIL: u32 = 10_000;
    /// Most labels, driver options, IPAM pools or aliases one call may pass.
    pub(super) const MAX_SPEC_LABELS: usize = 64;
    const MAX_POOLS: usize = 8;
    pub(super) const MAX_ALIASES: usize = 16;

    /// The id of an inspected container, to address it by from then on: the
    /// name the plugin gave may be re-pointed (rename) between the check and
    /// the call.
    pub(super) fn id_of(raw: &ContainerInspectResponse, fallback: &str) -> String {
        raw.id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| fallback.to_string())
    }
    /// Used when the plugin sets no exec timeout.
    const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
    /// Stop grace period when the plugin sets none (docker's own default).
    const STOP_GRACE_SECS: u32 = 10;

    pub(super) fn grace(timeout_secs: Option<u32>) -> i32 {
        timeout_secs.unwrap_or(STOP_GRACE_SECS).min(3600) as i32
    }

    /// Maps an Engine error to the contract's typed error.
    pub(super) fn engine_error(error: bollard::errors::Error) -> CapError {
        use bollard::errors::Error as E;
        match error {
            E::DockerResponseServerError { status_code, message } => match status_code {
                404 => CapError::NotFound(message),
                409 => CapError::Conflict(message),
                400 => CapError::InvalidArgument(message),
                _ => CapError::Failed(format!("Docker Engine answered {status_code}: {message}")),
            },
            E::RequestTimeoutError => CapError::Timeout("the Docker Engine did not answer in time".into()),
            E::SocketNotFoundError(_)
            | E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. } => {
                crate::caps::docker::unreachable(&crate::caps::docker::docker_host(), &error.to_string())
            }
            other => CapError::Failed(format!("Docker Engine: {other}")),
        }
    }

    fn denied(ctx: &RunContext, what: String, lines: String) -> CapError {
        CapError::AccessDenied(crate::caps::kit::text::not_granted(&what, &ctx.plugin_id, &lines))
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
    pub(super) fn precheck_container(ctx: &RunContext, name: &str, access: DockerAccess) -> Result<(), CapError> {
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

    pub(super) fn precheck_any_container(ctx: &RunContext, access: DockerAccess) -> Result<(), CapError> {
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

    pub(super) fn precheck_exec(
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

    pub(super) fn check_image(ctx: &RunContext, image: &str) -> Result<(), CapError> {
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

    pub(super) fn check_network(ctx: &RunContext, name: &str, access: DockerAccess) -> Result<(), CapError> {
        if ctx.grants.docker.iter().any(|g| g.allows_network(name, access)) {
            return Ok(());
        }
        Err(denied(
            ctx,
            format!("docker {} on network `{name}`", access_word(access)),
            network_lines(&ctx.plugin_id, name, true, access),
        ))
    }

    /// What the grant says about a network to create beyond its name: its
    /// driver, driver options and addresses must be allowed by one grant
    /// that allows writing the name. Labels are metadata (no grant is
    /// decided by a network's labels) and only capped in size; `internal`
    /// only takes connectivity away and `attachable` only matters to swarm
    /// drivers, which need `network_drivers` anyway.
    pub(super) fn check_network_spec(ctx: &RunContext, spec: &NetworkSpec) -> Result<(), CapError> {
        if spec.labels.len() > MAX_SPEC_LABELS || spec.options.len() > MAX_SPEC_LABELS || spec.ipam.len() > MAX_POOLS {
            return Err(CapError::InvalidArgument(format!(
                "network `{}`: at most {MAX_SPEC_LABELS} labels, {MAX_SPEC_LABELS} options and {MAX_POOLS} IPAM pools",
                spec.name
            )));
        }
        if let Some(l) =
            spec.labels.iter().chain(&spec.options).find(|l| {
                l.key.is_empty() || l.key.len() > crate::caps::docker::grant::MAX_KEY_LEN || l.value.len() > 4096
            })
        {
            return Err(CapError::InvalidArgument(format!(
                "network `{}`: label or option `{}` is empty or too long (names up to {} bytes, values up to 4096)",
                spec.name,
                shorten(&l.key, 64),
                crate::caps::docker::grant::MAX_KEY_LEN
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
    pub(super) fn check_aliases(
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
            let line = format!(
                "network_aliases = [{}]",
                crate::caps::kit::text::toml_string(&crate::caps::kit::pattern::glob_escape(alias))
            );
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

    pub(super) fn precheck_any_network(ctx: &RunContext) -> Result<(), CapError> {
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
    pub(super) async fn authorize_container(
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
    pub(super) async fn authorize_exec(
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

    fn labels(map: Option<HashMap<String, String>>) -> Vec<Label> {
        let mut list: Vec<Label> = map
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| Label { key, value })
            .collect();
        list.sort_by(|a, b| a.key.cmp(&b.key));
        list
    }

    fn to_map(labels: &[Label]) -> HashMap<String, String> {
        labels.iter().map(|l| (l.key.clone(), l.value.clone())).collect()
    }

    /// The container's aliases without the short id the engine adds itself.
    fn own_aliases(endpoint: &EndpointSettings, id: &str) -> Vec<String> {
        let short = &id[..id.len().min(12)];
        endpoint
            .aliases
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a != short && a != id)
            .collect()
    }

    pub(super) fn container_info(raw: ContainerInspectResponse) -> ContainerInfo {
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

    pub(super) async fn list_containers(
        ctx: &RunContext,
        docker: &bollard::Docker,
        filter: &ContainerFilter,
    ) -> Result<Vec<ContainerSummary>, CapError> {
        let name_glob = match &filter.name {
            Some(glob) => {
                Some(crate::caps::kit::pattern::ArgPattern::try_from(glob.clone()).map_err(CapError::InvalidArgument)?)
            }
            None => None,
        };
        let service_glob = match &filter.compose_service {
            Some(glob) => {
                Some(crate::caps::kit::pattern::ArgPattern::try_from(glob.clone()).map_err(CapError::InvalidArgument)?)
            }
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

    pub(super) async fn logs(
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

    pub(super) async fn stats(docker: &bollard::Docker, name: &str) -> Result<StatsSample, CapError> {
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
        let total =
            |c: &bollard::models::ContainerCpuStats| c.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
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

    /// Runs the (checked) request in container `id`; `name` is for messages.
    /// The exec runs as the container's user, unprivileged, in its working
    /// directory: the contract has no way to ask otherwise, and this host
    /// sets them explicitly so no engine default can change that.
    pub(super) async fn exec(
        ctx: &RunContext,
        docker: &bollard::Docker,
        id: &str,
        name: &str,
        request: &ExecRequest,
    ) -> Result<ExecResult, CapError> {
        use bollard::container::LogOutput as Out;
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let timeout = request
            .timeout_ms
            .map_or(EXEC_TIMEOUT, |ms| Duration::from_millis(ms.into()))
            .min(ctx.time_left());
        let started = Instant::now();
        let options = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(request.argv.clone()),
            env: (!request.env.is_empty()).then(|| request.env.clone()),
            privileged: Some(false),
            attach_stdin: Some(false),
            tty: Some(false),
            ..Default::default()
        };
        let created = docker.create_exec(id, options).await.map_err(engine_error)?;
        let run = async {
            let mut out = (Vec::new(), false);
            let mut err = (Vec::new(), false);
            if let StartExecResults::Attached { mut output, .. } =
                docker.start_exec(&created.id, None).await.map_err(engine_error)?
            {
                while let Some(item) = output.next().await {
                    let (buf, cut) = match item.map_err(engine_error)? {
                        Out::StdErr { message } => (&mut err, message),
                        Out::StdOut { message } | Out::Console { message } => (&mut out, message),
                        Out::StdIn { .. } => continue,
                    };
                    let room = EXEC_OUTPUT_CAP - buf.0.len();
                    if cut.len() > room {
                        buf.1 = true;
                    }
                    buf.0.extend_from_slice(&cut[..cut.len().min(room)]);
                }
            }
            Ok::<_, CapError>((out, err))
        };
        let ((out, out_cut), (err, err_cut)) = match tokio::time::timeout(timeout, run).await {
            Ok(done) => done?,
            Err(_) => {
                return Err(CapError::Timeout(format!(
                    "`{}` in `{name}` did not finish within {} (it may still be running in the container)",
                    request.argv.join(" "),
                    humantime::format_duration(Duration::from_millis(timeout.as_millis() as u64))
                )))
            }
        };
        let inspected = docker.inspect_exec(&created.id).await.map_err(engine_error)?;
        Ok(ExecResult {
            exit_code: inspected.exit_code.map(|c| c as i32),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            truncated: out_cut || err_cut,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    pub(super) async fn tag(docker: &bollard::Docker, source: &str, target: &str) -> Result<(), CapError> {
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
    pub(super) async fn recreate(
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
                let (kind, message) = crate::caps::kit::call::error_parts(&e);
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

    pub(super) async fn connect(
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
    pub(super) async fn inspect_network(
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

    pub(super) async fn list_networks(
        ctx: &RunContext,
        docker: &bollard::Docker,
        glob: Option<&str>,
    ) -> Result<Vec<NetworkInfo>, CapError> {
        let glob = match glob {
            Some(g) => Some(
                crate::caps::kit::pattern::ArgPattern::try_from(g.to_string()).map_err(CapError::InvalidArgument)?,
            ),
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

    pub(super) async fn create_network(
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
}
