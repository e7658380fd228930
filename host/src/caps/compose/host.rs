//! The `compose` interface as the plugin sees it: one short function per
//! WIT function, each `args → check → call` through
//! [`crate::sandbox::RunContext::audited`]; the grant checks are in
//! `grant.rs`, the operations in `project.rs`.

use serde_json::{json, Value};
use wasmtime::component::Resource;

use super::cli::Budget;
use super::grant::{check, ComposeAccess};
use super::{project, Project};
use crate::bindings::drhost::runbook::compose::{Host, HostProject, ServiceState};
use crate::caps::kit::Answer;
use crate::sandbox::{RunContext, RunState};

fn states_summary(states: &[ServiceState]) -> Value {
    json!({ "containers": states.iter().map(|s| json!({ "service": s.service, "container": s.container, "state": s.state })).collect::<Vec<_>>() })
}

/// Most service names a call's journal event lists (a plugin's list is
/// journaled as given, within reason: past this, the first ones and the count).
const JOURNALED_NAMES: usize = 64;
/// Most bytes of each service name journaled.
const JOURNALED_NAME_BYTES: usize = 256;

/// The services a plugin named, as the journal keeps them.
fn named(services: &[String]) -> Value {
    let shown: Vec<&str> = services
        .iter()
        .take(JOURNALED_NAMES)
        .map(|s| crate::caps::kit::text::truncate(s, JOURNALED_NAME_BYTES))
        .collect();
    if services.len() > JOURNALED_NAMES {
        json!({ "first": shown, "count": services.len() })
    } else {
        json!(shown)
    }
}

/// `Ok` when the plugin may do `what` (needing `access`) on `p`.
fn granted(
    ctx: &RunContext,
    p: &Project,
    what: &str,
    access: ComposeAccess,
) -> Result<(), crate::bindings::types::Error> {
    check(&ctx.grants.compose, &ctx.plugin_id, p.label(), what, access)
}

impl Host for RunState {}

impl HostProject for RunState {
    async fn open(&mut self, label: String) -> Answer<Resource<Project>> {
        let ctx = self.ctx.clone();
        let summary = |p: &Project| json!({ "cli": p.cli.name(), "version": p.cli.version(), "services": p.services });
        let project = ctx
            .audited("compose.open", json!({ "target": label }), summary, async {
                let cli = self.compose_cli().await?;
                Ok(project::open(&ctx, cli, &label).await?)
            })
            .await?;
        Ok(self.table.push(project)?)
    }

    async fn ps(&mut self, project: Resource<Project>) -> Answer<Vec<ServiceState>> {
        let ctx = self.ctx.clone();
        let p = self.table.get(&project)?.clone();
        ctx.audited(
            "compose.ps",
            json!({ "target": p.label() }),
            |s: &Vec<ServiceState>| states_summary(s),
            async {
                granted(&ctx, &p, "ps", ComposeAccess::Read)?;
                let docker = self.docker_client().await?;
                Ok(p.ps(&docker, &[], Budget::of(&ctx, &p.target)).await?)
            },
        )
        .await
    }

    async fn up(&mut self, project: Resource<Project>, services: Vec<String>) -> Answer<Vec<ServiceState>> {
        let ctx = self.ctx.clone();
        let p = self.table.get(&project)?.clone();
        let args = json!({ "target": p.label(), "services": named(&services), "build": p.target.build });
        ctx.audited_checked(
            "compose.up",
            args,
            |s: &Vec<ServiceState>| states_summary(s),
            async {
                granted(&ctx, &p, "up", ComposeAccess::Up)?;
                Ok(())
            },
            |()| async {
                let services = p.services_named(&services)?;
                let docker = self.docker_client().await?;
                Ok(p.up(&docker, &services, Budget::of(&ctx, &p.target)).await?)
            },
        )
        .await
    }

    async fn down(&mut self, project: Resource<Project>, volumes: bool) -> Answer<()> {
        let ctx = self.ctx.clone();
        let p = self.table.get(&project)?.clone();
        let args = json!({ "target": p.label(), "volumes": volumes });
        ctx.audited_checked(
            "compose.down",
            args,
            |_| json!(null),
            async {
                granted(&ctx, &p, "down", ComposeAccess::Down)?;
                Ok(())
            },
            |()| async { Ok(p.down(volumes, Budget::of(&ctx, &p.target)).await?) },
        )
        .await
    }

    async fn restart(&mut self, project: Resource<Project>, services: Vec<String>) -> Answer<Vec<ServiceState>> {
        let ctx = self.ctx.clone();
        let p = self.table.get(&project)?.clone();
        let args = json!({ "target": p.label(), "services": named(&services) });
        ctx.audited_checked(
            "compose.restart",
            args,
            |s: &Vec<ServiceState>| states_summary(s),
            async {
                granted(&ctx, &p, "restart", ComposeAccess::Restart)?;
                Ok(())
            },
            |()| async {
                let services = p.services_named(&services)?;
                let docker = self.docker_client().await?;
                Ok(p.restart(&docker, &services, Budget::of(&ctx, &p.target)).await?)
            },
        )
        .await
    }

    async fn logs(&mut self, project: Resource<Project>, service: String, tail: u32) -> Answer<Vec<String>> {
        let ctx = self.ctx.clone();
        let p = self.table.get(&project)?.clone();
        let args = json!({ "target": p.label(), "service": named(std::slice::from_ref(&service))[0], "tail": tail });
        let summary = |lines: &Vec<String>| json!({ "lines": lines.len() });
        ctx.audited("compose.logs", args, summary, async {
            granted(&ctx, &p, "logs", ComposeAccess::Read)?;
            p.services_named(std::slice::from_ref(&service))?;
            Ok(p.logs(&service, tail, Budget::of(&ctx, &p.target)).await?)
        })
        .await
    }

    async fn drop(&mut self, project: Resource<Project>) -> wasmtime::Result<()> {
        self.table.delete(project)?;
        Ok(())
    }
}
