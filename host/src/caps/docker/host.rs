//! The `docker` interface as the plugin sees it: one short function per
//! WIT function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the grant checks are in
//! `check.rs`, the Engine calls in `containers.rs`, `exec.rs`, `images.rs`,
//! `networks.rs` and `swarm.rs`. A Docker secret is journaled by name,
//! labels and where its value came from, never by value.
//!
//! Order of every call: grant pre-check on what the plugin named (no
//! connection yet) → client (connect once per run) → identify the target by
//! inspecting it (changes nothing) → full grant check → the call → journal.

use serde_json::json;
use wasmtime::component::Resource;
use zeroize::Zeroizing;

use super::check::{self, id_of, MAX_ALIASES, MAX_SPEC_LABELS};
use super::grant::DockerAccess::{Read, Write};
use super::syntax::{parse_exec_env, shorten, MAX_EXEC_ENV};
use super::{containers, exec, images, networks, swarm};
use crate::bindings::drhost::runbook::docker::{
    ContainerFilter, ContainerInfo, ContainerSummary, ExecRequest, ExecResult, Host, Label, LogOutput, NetworkInfo,
    NetworkSpec, SecretInfo, StatsSample, SwarmInfo,
};
use crate::bindings::types::Error as CapError;
use crate::caps::kit::Answer;
use crate::caps::secret::Secret;
use crate::sandbox::RunState;

fn info_summary(c: &ContainerInfo) -> serde_json::Value {
    json!({ "name": c.name, "state": c.state, "health": c.health, "image": c.image })
}

fn swarm_summary(s: &SwarmInfo) -> serde_json::Value {
    json!({ "node_id": s.node_id, "cluster_id": s.cluster_id, "managers": s.managers, "nodes": s.nodes })
}

fn network_summary(n: &NetworkInfo) -> serde_json::Value {
    json!({ "name": n.name, "containers": n.containers.iter().map(|m| &m.container).collect::<Vec<_>>() })
}

impl Host for RunState {
    async fn list_containers(&mut self, filter: ContainerFilter) -> Answer<Vec<ContainerSummary>> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": filter.name, "compose_project": filter.compose_project, "compose_service": filter.compose_service, "state": filter.state });
        let summary = |list: &Vec<ContainerSummary>| json!({ "containers": list.iter().map(|c| json!({ "name": c.name, "state": c.state })).collect::<Vec<_>>() });
        ctx.audited("docker.list-containers", args, summary, async {
            check::precheck_any_container(&ctx, Read)?;
            let docker = self.docker_client().await?;
            Ok(containers::list_containers(&ctx, &docker, &filter).await?)
        })
        .await
    }

    async fn inspect_container(&mut self, name: String) -> Answer<ContainerInfo> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name });
        ctx.audited("docker.inspect-container", args, info_summary, async {
            let (_, raw) = self.granted_container(&name, Read).await?;
            Ok(containers::container_info(raw))
        })
        .await
    }

    async fn container_logs(
        &mut self,
        name: String,
        tail: Option<u32>,
        since: Option<i64>,
        max_bytes: Option<u32>,
    ) -> Answer<LogOutput> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name, "tail": tail, "since": since, "max_bytes": max_bytes });
        let summary = |l: &LogOutput| json!({ "lines": l.lines.len(), "truncated": l.truncated });
        ctx.audited("docker.container-logs", args, summary, async {
            let (docker, raw) = self.granted_container(&name, Read).await?;
            Ok(containers::logs(&ctx, &docker, &id_of(&raw, &name), tail, since, max_bytes).await?)
        })
        .await
    }

    async fn container_stats(&mut self, name: String) -> Answer<StatsSample> {
        let ctx = self.ctx.clone();
        let summary = |s: &StatsSample| json!({ "cpu_percent": s.cpu_percent, "memory_usage": s.memory_usage, "memory_limit": s.memory_limit });
        ctx.audited("docker.container-stats", json!({ "name": name }), summary, async {
            let (docker, raw) = self.granted_container(&name, Read).await?;
            Ok(containers::stats(&docker, &id_of(&raw, &name)).await?)
        })
        .await
    }

    async fn start_container(&mut self, name: String) -> Answer<()> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name });
        ctx.audited_checked(
            "docker.start-container",
            args,
            |_| json!(null),
            self.granted_container(&name, Write),
            |(docker, raw)| {
                let name = &name;
                async move { Ok(containers::start(&docker, &id_of(&raw, name)).await?) }
            },
        )
        .await
    }

    async fn stop_container(&mut self, name: String, timeout_secs: Option<u32>) -> Answer<()> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name, "timeout_secs": timeout_secs });
        ctx.audited_checked(
            "docker.stop-container",
            args,
            |_| json!(null),
            self.granted_container(&name, Write),
            |(docker, raw)| {
                let name = &name;
                async move { Ok(containers::stop(&docker, &id_of(&raw, name), timeout_secs).await?) }
            },
        )
        .await
    }

    async fn restart_container(&mut self, name: String, timeout_secs: Option<u32>) -> Answer<()> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name, "timeout_secs": timeout_secs });
        ctx.audited_checked(
            "docker.restart-container",
            args,
            |_| json!(null),
            self.granted_container(&name, Write),
            |(docker, raw)| {
                let name = &name;
                async move { Ok(containers::restart(&docker, &id_of(&raw, name), timeout_secs).await?) }
            },
        )
        .await
    }

    async fn exec(&mut self, name: String, request: ExecRequest) -> Answer<ExecResult> {
        let ctx = self.ctx.clone();
        // Environment values may hold secrets: journal the names only, cut
        // to a readable length (a refused name may be anything).
        let env_names: Vec<String> = request
            .env
            .iter()
            .take(MAX_EXEC_ENV + 1)
            .map(|e| shorten(e.split_once('=').map_or(e.as_str(), |(k, _)| k), 128))
            .collect();
        let args = json!({ "name": name, "argv": request.argv, "env": env_names, "timeout_ms": request.timeout_ms });
        let summary = |r: &ExecResult| json!({ "exit_code": r.exit_code, "truncated": r.truncated });
        // The grant check (argv, env, and the engine's answer about the
        // container) comes first, so plan mode refuses an exec the grants
        // would refuse instead of planning it.
        let check = async {
            let env = parse_exec_env(&request.env).map_err(CapError::InvalidArgument)?;
            check::precheck_exec(&ctx, &name, &request.argv, &env)?;
            let docker = self.docker_client().await?;
            let id = check::authorize_exec(&ctx, &docker, &name, &request.argv, &env).await?;
            Ok((docker, id))
        };
        ctx.audited_checked("docker.exec", args, summary, check, |(docker, id)| {
            let (ctx, name, request) = (&ctx, &name, &request);
            async move { Ok(exec::exec(ctx, &docker, &id, name, request).await?) }
        })
        .await
    }

    async fn recreate_with_image(
        &mut self,
        name: String,
        image: String,
        timeout_secs: Option<u32>,
    ) -> Answer<ContainerInfo> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name, "image": image, "timeout_secs": timeout_secs });
        ctx.audited_checked(
            "docker.recreate-with-image",
            args,
            info_summary,
            async {
                check::precheck_container(&ctx, &name, Write)?;
                check::check_image(&ctx, &image)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                let old = check::authorize_container(&ctx, &docker, &name, Write).await?;
                Ok(images::recreate(&docker, old, &image, timeout_secs).await?)
            },
        )
        .await
    }

    async fn tag_image(&mut self, source: String, target: String) -> Answer<()> {
        let ctx = self.ctx.clone();
        let args = json!({ "source": source, "target": target });
        ctx.audited_checked(
            "docker.tag-image",
            args,
            |_| json!(null),
            async {
                check::check_image(&ctx, &source)?;
                check::check_image(&ctx, &target)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                Ok(images::tag(&docker, &source, &target).await?)
            },
        )
        .await
    }

    async fn list_networks(&mut self, name: Option<String>) -> Answer<Vec<NetworkInfo>> {
        let ctx = self.ctx.clone();
        let summary = |list: &Vec<NetworkInfo>| json!({ "networks": list.iter().map(|n| &n.name).collect::<Vec<_>>() });
        ctx.audited("docker.list-networks", json!({ "name": name }), summary, async {
            check::precheck_any_network(&ctx)?;
            let docker = self.docker_client().await?;
            Ok(networks::list_networks(&ctx, &docker, name.as_deref()).await?)
        })
        .await
    }

    async fn inspect_network(&mut self, name: String) -> Answer<NetworkInfo> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name });
        ctx.audited("docker.inspect-network", args, network_summary, async {
            check::check_network(&ctx, &name, Read)?;
            let docker = self.docker_client().await?;
            Ok(networks::inspect_network(&ctx, &docker, &name, Read).await?)
        })
        .await
    }

    async fn create_network(&mut self, spec: NetworkSpec) -> Answer<NetworkInfo> {
        let ctx = self.ctx.clone();
        let args = json!({
            "name": spec.name, "driver": spec.driver, "internal": spec.internal, "attachable": spec.attachable,
            "ipam": spec.ipam.iter().map(|p| json!({ "subnet": p.subnet, "gateway": p.gateway, "ip_range": p.ip_range })).collect::<Vec<_>>(),
            "labels": spec.labels.iter().take(MAX_SPEC_LABELS + 1).map(|l| shorten(&format!("{}={}", l.key, l.value), 256)).collect::<Vec<_>>(),
            "options": spec.options.iter().take(MAX_SPEC_LABELS + 1).map(|l| shorten(&format!("{}={}", l.key, l.value), 256)).collect::<Vec<_>>(),
        });
        ctx.audited_checked(
            "docker.create-network",
            args,
            network_summary,
            async {
                check::check_network(&ctx, &spec.name, Write)?;
                check::check_network_spec(&ctx, &spec)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                Ok(networks::create_network(&ctx, &docker, &spec).await?)
            },
        )
        .await
    }

    async fn remove_network(&mut self, name: String) -> Answer<()> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name });
        ctx.audited_checked(
            "docker.remove-network",
            args,
            |_| json!(null),
            async {
                check::check_network(&ctx, &name, Write)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                let network = networks::inspect_network(&ctx, &docker, &name, Write).await?;
                Ok(networks::remove(&docker, &network.id).await?)
            },
        )
        .await
    }

    async fn connect_network(&mut self, network: String, container: String, aliases: Vec<String>) -> Answer<()> {
        let ctx = self.ctx.clone();
        let shown: Vec<String> = aliases.iter().take(MAX_ALIASES + 1).map(|a| shorten(a, 128)).collect();
        let args = json!({ "network": network, "container": container, "aliases": shown });
        ctx.audited_checked(
            "docker.connect-network",
            args,
            |_| json!(null),
            async {
                check::check_network(&ctx, &network, Write)?;
                Ok(())
            },
            |()| async {
                let (docker, raw) = self.granted_container(&container, Write).await?;
                let net = networks::inspect_network(&ctx, &docker, &network, Write).await?;
                check::check_aliases(&ctx, &net.name, &raw, &aliases)?;
                Ok(networks::connect(&docker, &net.id, &id_of(&raw, &container), &aliases).await?)
            },
        )
        .await
    }

    async fn disconnect_network(&mut self, network: String, container: String, force: bool) -> Answer<()> {
        let ctx = self.ctx.clone();
        let args = json!({ "network": network, "container": container, "force": force });
        ctx.audited_checked(
            "docker.disconnect-network",
            args,
            |_| json!(null),
            async {
                check::check_network(&ctx, &network, Write)?;
                Ok(())
            },
            |()| async {
                let (docker, raw) = self.granted_container(&container, Write).await?;
                let net = networks::inspect_network(&ctx, &docker, &network, Write).await?;
                Ok(networks::disconnect(&docker, &net.id, &id_of(&raw, &container), force).await?)
            },
        )
        .await
    }

    async fn swarm_inspect(&mut self) -> Answer<Option<SwarmInfo>> {
        let ctx = self.ctx.clone();
        let summary =
            |s: &Option<SwarmInfo>| json!({ "manager": s.is_some(), "cluster_id": s.as_ref().map(|s| &s.cluster_id) });
        ctx.audited("docker.swarm-inspect", json!({}), summary, async {
            check::check_swarm(&ctx, Read)?;
            let docker = self.docker_client().await?;
            Ok(swarm::inspect(&docker).await?)
        })
        .await
    }

    async fn swarm_init(&mut self, advertise_addr: Option<String>) -> Answer<SwarmInfo> {
        let ctx = self.ctx.clone();
        let args = json!({ "advertise_addr": advertise_addr });
        ctx.audited_checked(
            "docker.swarm-init",
            args,
            swarm_summary,
            async {
                check::check_swarm(&ctx, Write)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                Ok(swarm::init(&docker, advertise_addr.as_deref()).await?)
            },
        )
        .await
    }

    async fn list_secrets(&mut self) -> Answer<Vec<SecretInfo>> {
        let ctx = self.ctx.clone();
        let summary = |list: &Vec<SecretInfo>| json!({ "secrets": list.iter().map(|s| &s.name).collect::<Vec<_>>() });
        ctx.audited("docker.list-secrets", json!({}), summary, async {
            check::precheck_any_secret(&ctx)?;
            let docker = self.docker_client().await?;
            Ok(swarm::list(&ctx, &docker).await?)
        })
        .await
    }

    async fn create_secret(&mut self, name: String, value: Resource<Secret>, labels: Vec<Label>) -> Answer<SecretInfo> {
        let ctx = self.ctx.clone();
        let secret = self.table.get(&value)?;
        // Where the value came from and the labels; never the value.
        let args = json!({
            "name": name,
            "value": secret.origin,
            "labels": labels.iter().take(MAX_SPEC_LABELS + 1).map(|l| shorten(&format!("{}={}", l.key, l.value), 256)).collect::<Vec<_>>(),
        });
        let summary = |s: &SecretInfo| json!({ "id": s.id, "name": s.name });
        // Copied out before the call (the table stays on this side of every
        // await), into memory wiped when the call ends.
        let value = Zeroizing::new(secret.value.to_string());
        ctx.audited_checked(
            "docker.create-secret",
            args,
            summary,
            async {
                check::check_secret(&ctx, &name, Write)?;
                check::check_labels(&format!("Docker secret `{name}`"), &labels)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                Ok(swarm::create(&docker, &name, &value, &labels).await?)
            },
        )
        .await
    }

    async fn remove_secret(&mut self, name: String) -> Answer<bool> {
        let ctx = self.ctx.clone();
        let args = json!({ "name": name });
        ctx.audited_checked(
            "docker.remove-secret",
            args,
            |removed| json!({ "removed": removed }),
            async {
                check::check_secret(&ctx, &name, Write)?;
                Ok(())
            },
            |()| async {
                let docker = self.docker_client().await?;
                Ok(swarm::remove(&ctx, &docker, &name).await?)
            },
        )
        .await
    }
}
