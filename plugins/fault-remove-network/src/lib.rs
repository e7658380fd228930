//! `fault-remove-network`: a drill's fault for runbook scenario 5 (network
//! partition). It disconnects every container from one of the stack's
//! Docker networks (`docker network disconnect -f`) and removes the
//! network, then checks it is gone. The containers keep running; only
//! that network is gone. It changes nothing else.
//!
//! Undo: `network-recover` (the recovery under test), which recreates a
//! missing network from what it knows belongs on it and reconnects the
//! containers with their compose aliases; by hand, `docker network create`
//! it and `docker network connect --alias SERVICE` each container.

use drhost_sdk::docker;
use drhost_sdk::prelude::*;

struct FaultRemoveNetwork;

const STEP: &str = "remove the network";

impl Plugin for FaultRemoveNetwork {
    fn describe() -> Manifest {
        manifest(
            "fault-remove-network",
            env!("CARGO_PKG_VERSION"),
            "Drill fault: disconnects every container from one of the stack's Docker networks and removes it (undo: run network-recover)",
        )
        .param("network", "the network to remove", Some("toolboxai_backend"))
        .need("docker", "toolboxai-*", Access::Write, "disconnects the network's containers from it")
        .need("docker", "network:toolboxai_*", Access::Write, "inspects and removes the network")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let network = params.get("network")?;
        let step = Step::start(STEP);
        let here = |e: Error| Failure::from(e).in_step(STEP);
        let info = match docker::inspect_network(network) {
            Ok(info) => info,
            Err(Error::NotFound(_)) => {
                step.fail();
                return Err(
                    fail(format!("network {network} does not exist: there is nothing to remove"))
                        .in_step(STEP)
                        .hint("recreate it first (network-recover), then run the drill on a healthy stack"),
                );
            }
            Err(e) => return Err(here(e)),
        };
        let members: Vec<String> = info.containers.iter().map(|m| m.container.clone()).collect();
        for container in &members {
            docker::disconnect_network(network, container, true).map_err(here)?;
        }
        docker::remove_network(network).map_err(here)?;
        match docker::inspect_network(network) {
            Err(Error::NotFound(_)) => {}
            Ok(_) => {
                step.fail();
                return Err(fail(format!("network {network} is still there after docker network rm")).in_step(STEP));
            }
            Err(e) => return Err(here(e)),
        }
        step.note(format!(
            "removed {network} after disconnecting {} container(s): {}",
            members.len(),
            members.join(", ")
        ));
        step.ok();
        Ok(outcome(format!(
            "removed network {network} ({} container(s) disconnected); undo: network-recover",
            members.len()
        ))
        .fact("network", network)
        .fact("disconnected", members.join(",")))
    }
}

export_plugin!(FaultRemoveNetwork);
