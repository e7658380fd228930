//! Branches of the shipped docker runbooks that the scenario tests in
//! `docker.rs` do not reach, each through the real binary on the real lab,
//! asserting the real effect on the engine, the journal and the exit code:
//!
//! * service-recover: a running container answering 503, more than one
//!   restart attempt, a rollback that still fails, no matching container;
//! * network-recover: the no-op path on a healthy stack, and every
//!   recreated network compared field by field (driver, IPAM, labels,
//!   options, members and aliases) with what it was.
//!
//! The service-recover tests run their own backend container from the lab's
//! image, on their own image tags, so the lab's three backends and its
//! `:latest`/`:previous` tags are never touched; [`OwnBackend`] removes
//! all of it on drop (`tests/src/docker.rs`). The network test breaks the lab's networks under
//! [`Restore`].

use std::collections::HashMap;

use bollard::query_parameters as q;
use drhost_tests::cli::{calls, events, Outcome, Run};
use drhost_tests::docker::{fact, image_id, inspect, on_lab, OwnBackend, Restore, BACKEND2, LATEST, PREVIOUS};
use drhost_tests::lab::{runtime as rt, serial, up as lab, Lab};
use drhost_tests::util::unique;

/// When each lab backend started, to show a run left them alone.
fn lab_backends_started(lab: &Lab) -> Vec<Option<String>> {
    rt().block_on(async {
        let docker = lab.docker().await.expect("docker");
        let mut started = Vec::new();
        for i in 1..=3 {
            let c = inspect(&docker, &format!("toolboxai-backend{i}")).await;
            started.push(c.state.and_then(|s| s.started_at));
        }
        started
    })
}

fn summary(out: &Outcome) -> String {
    out.json()["summary"].as_str().unwrap_or_default().to_string()
}

/// A running backend whose `/health` answers 503 (its database socket does
/// not exist): service-recover sees the 503, restarts it twice
/// (`attempts=2`), rolls back to the given image — the tag the container
/// runs now names the rollback image and the container runs it — and,
/// since the rollback does not cure a dependency, fails with exit 1 naming
/// both, leaving every other backend alone.
#[test]
fn a_503_that_two_restarts_and_a_rollback_do_not_cure_fails_with_exit_1() {
    let _serial = serial();
    let lab = lab();
    let (latest, previous) = rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        (
            image_id(&docker, LATEST).await.expect(":latest exists"),
            image_id(&docker, PREVIOUS).await.expect(":previous exists"),
        )
    });
    assert_ne!(latest, previous, "the lab's two backend images differ");
    let current = format!("toolboxai/backend:{}", unique("truth-current"));
    let rollback = format!("toolboxai/backend:{}", unique("truth-rollback"));
    let own = OwnBackend::start(
        &lab,
        &[(LATEST, current.clone()), (PREVIOUS, rollback.clone())],
        &[
            "SERVICE_NAME=truth",
            "PORT=8000",
            "PG_SOCKET_DIR=/nonexistent",
            "REDIS_SOCKET=/nonexistent/redis.sock",
        ],
    );
    let (before_id, before_started) = rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        assert_eq!(own.health(&docker).await, 503, "it runs and answers 503");
        let c = inspect(&docker, &own.name).await;
        assert_eq!(c.state.as_ref().and_then(|s| s.running), Some(true));
        assert_eq!(c.image.as_deref(), Some(latest.as_str()));
        (c.id.unwrap(), c.state.and_then(|s| s.started_at))
    });
    let lab_before = lab_backends_started(&lab);

    let out = on_lab(&lab, Run::plugin("service-recover"))
        .param("services", &own.name)
        .param("attempts", "2")
        .param("wait-seconds", "1")
        .param("rollback-image", &rollback)
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(
        report["failed_step"],
        format!("roll back {} to {rollback}", own.name),
        "{report:#}"
    );
    let said = summary(&out);
    assert!(
        said.starts_with(&format!(
            "{} is still failing after 2 restart(s) and a rollback to {rollback}: ",
            own.name
        )),
        "{said}"
    );
    assert!(said.contains("/health answered 503"), "{said}");

    let journal = out.journal();
    // The 503 was seen on the container's own published port.
    let gets = calls(&journal, "http.get");
    assert!(gets.iter().any(|g| g["outcome"]["ok"]["status"] == 503), "{gets:?}");
    // Two restarts of this container, both answered by the engine.
    let restarts = calls(&journal, "docker.restart-container");
    assert_eq!(restarts.len(), 2, "{restarts:?}");
    for r in &restarts {
        assert_eq!(r["args"]["name"], own.name.as_str());
        assert!(r["outcome"].get("error").is_none(), "{r}");
    }
    for attempt in ["attempt 1/2", "attempt 2/2"] {
        let ended: Vec<_> = events(&journal, "step-end")
            .into_iter()
            .filter(|e| e["step"] == format!("restart {} ({attempt})", own.name))
            .collect();
        assert_eq!(ended.len(), 1, "{attempt}: {journal:?}");
        assert_eq!(ended[0]["ok"], false, "{attempt} still failing");
    }
    // Then one rollback: the tag re-pointed, the container recreated.
    let tags = calls(&journal, "docker.tag-image");
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags[0]["args"]["source"], rollback.as_str());
    assert_eq!(tags[0]["args"]["target"], current.as_str());
    let recreated = calls(&journal, "docker.recreate-with-image");
    assert_eq!(recreated.len(), 1, "{recreated:?}");
    assert_eq!(recreated[0]["args"]["name"], own.name.as_str());
    assert_eq!(journal.last().unwrap()["exit_code"], 1);

    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        assert_eq!(image_id(&docker, &current).await.as_deref(), Some(previous.as_str()));
        let c = inspect(&docker, &own.name).await;
        assert_ne!(c.id.as_deref(), Some(before_id.as_str()), "recreated");
        assert_ne!(c.state.as_ref().and_then(|s| s.started_at.clone()), before_started);
        assert_eq!(c.image.as_deref(), Some(previous.as_str()), "runs the rollback image");
        assert_eq!(c.state.and_then(|s| s.running), Some(true));
        assert_eq!(own.health(&docker).await, 503, "still failing, as reported");
        // The lab's own tags are untouched.
        assert_eq!(image_id(&docker, LATEST).await.as_deref(), Some(latest.as_str()));
        assert_eq!(image_id(&docker, PREVIOUS).await.as_deref(), Some(previous.as_str()));
    });
    assert_eq!(
        lab_backends_started(&lab),
        lab_before,
        "the lab's backends were not restarted"
    );
}

/// A glob that matches no container: exit 1, one line naming the glob and
/// the grant, and nothing but the listing was called.
#[test]
fn no_matching_container_fails_with_exit_1_and_touches_nothing() {
    let _serial = serial();
    let lab = lab();
    let glob = format!("{}*", unique("toolboxai-backend-none"));
    let lab_before = lab_backends_started(&lab);
    let out = on_lab(&lab, Run::plugin("service-recover"))
        .param("services", &glob)
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["failed_step"], "find failing services");
    assert_eq!(
        summary(&out),
        format!("no container matches `{glob}` (or none is granted)")
    );
    assert!(
        report["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("[[plugins.service-recover.docker]]"),
        "{report:#}"
    );
    let journal = out.journal();
    let listed = calls(&journal, "docker.list-containers");
    assert_eq!(listed.len(), 1, "{journal:?}");
    assert!(listed[0]["outcome"].get("error").is_none(), "{}", listed[0]);
    for call in [
        "docker.inspect-container",
        "docker.restart-container",
        "docker.tag-image",
        "docker.recreate-with-image",
        "http.get",
    ] {
        assert!(calls(&journal, call).is_empty(), "{call} was called");
    }
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
    assert_eq!(lab_backends_started(&lab), lab_before);
}

/// Everything a network is, as `docker network inspect` shows it, minus
/// what a recreate must change (id, creation time, endpoints).
#[derive(Debug, PartialEq)]
struct NetworkShape {
    driver: Option<String>,
    scope: Option<String>,
    internal: Option<bool>,
    attachable: Option<bool>,
    ipv6: Option<bool>,
    ipam_driver: Option<String>,
    ipam: Vec<(Option<String>, Option<String>, Option<String>)>,
    labels: Option<HashMap<String, String>>,
    options: Option<HashMap<String, String>>,
    /// container name → its aliases on this network (sorted).
    members: Vec<(String, Vec<String>)>,
}

const NETWORKS: [&str; 2] = ["toolboxai_backend", "toolboxai_cache"];

/// Each lab network's id and shape.
fn networks(lab: &Lab) -> Vec<(String, NetworkShape)> {
    rt().block_on(async {
        let docker = lab.docker().await.expect("docker");
        let mut all = Vec::new();
        for net in NETWORKS {
            let n = docker
                .inspect_network(net, None::<q::InspectNetworkOptions>)
                .await
                .unwrap_or_else(|e| panic!("inspect {net}: {e}"));
            let ipam = n.ipam.clone().unwrap_or_default();
            let mut members = Vec::new();
            for c in n.containers.clone().unwrap_or_default().values() {
                let name = c.name.clone().unwrap_or_default();
                let info = inspect(&docker, &name).await;
                let id = info.id.clone().unwrap_or_default();
                let mut aliases: Vec<String> = info
                    .network_settings
                    .and_then(|s| s.networks)
                    .and_then(|m| m.get(net).cloned())
                    .and_then(|e| e.aliases)
                    .unwrap_or_default()
                    .into_iter()
                    // The engine adds the short container id as an alias.
                    .filter(|a| !id.starts_with(a.as_str()))
                    .collect();
                aliases.sort();
                members.push((name, aliases));
            }
            members.sort();
            all.push((
                n.id.clone().unwrap_or_default(),
                NetworkShape {
                    driver: n.driver,
                    scope: n.scope,
                    internal: n.internal,
                    attachable: n.attachable,
                    ipv6: n.enable_ipv6,
                    ipam_driver: ipam.driver,
                    ipam: ipam
                        .config
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| (c.subnet, c.gateway, c.ip_range))
                        .collect(),
                    labels: n.labels,
                    options: n.options,
                    members,
                },
            ));
        }
        all
    })
}

/// A healthy stack: every probe passes, both networks are complete, and
/// network-recover says so and changes nothing (no write call, same ids).
#[test]
fn network_recover_on_a_healthy_stack_changes_nothing() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let before = networks(&lab);
    let out = on_lab(&lab, Run::plugin("network-recover")).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "recovered");
    assert_eq!(
        summary(&out),
        "connectivity is fine (3 probes) and 2 network(s) complete; nothing to recover"
    );
    assert_eq!(fact(&out, "recreated"), "");
    let journal = out.journal();
    assert_eq!(calls(&journal, "docker.exec").len(), 3, "one ping per probe");
    assert_eq!(calls(&journal, "docker.inspect-network").len(), 2);
    for write in [
        "docker.disconnect-network",
        "docker.remove-network",
        "docker.create-network",
        "docker.connect-network",
        "docker.start-container",
        "docker.restart-container",
    ] {
        assert!(calls(&journal, write).is_empty(), "{write} was called");
    }
    assert_eq!(networks(&lab), before, "same networks, same ids, same members");
}

/// Backend2 disconnected from both networks: both are incomplete, so both
/// are recreated — new ids — and each comes back exactly as it was:
/// driver, scope, IPAM (driver, subnet, gateway, range), labels, options,
/// and every member with its aliases.
#[test]
fn every_recreated_network_keeps_its_driver_ipam_labels_and_members() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let before = networks(&lab);
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        for net in NETWORKS {
            docker
                .disconnect_network(
                    net,
                    bollard::models::NetworkDisconnectRequest {
                        container: Some(BACKEND2.into()),
                        force: Some(true),
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("disconnect {BACKEND2} from {net}: {e}"));
        }
    });
    assert_ne!(networks(&lab), before, "backend2 is off both networks");

    let out = on_lab(&lab, Run::plugin("network-recover")).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "recreated"), NETWORKS.join(","));
    let journal = out.journal();
    let created = calls(&journal, "docker.create-network");
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(calls(&journal, "docker.remove-network").len(), 2);

    let after = networks(&lab);
    for ((old_id, old), (new_id, new)) in before.iter().zip(after.iter()) {
        assert_ne!(old_id, new_id, "{:?} was recreated", old.labels);
        assert_eq!(new, old, "recreated as it was");
    }
    for (_, shape) in &after {
        assert!(
            shape
                .members
                .iter()
                .any(|(name, aliases)| name == BACKEND2 && aliases == &["backend2"]),
            "{shape:?}"
        );
    }
}
