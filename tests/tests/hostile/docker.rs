//! Hostile docker: the `docker-poke` fixture, granted exactly one scratch
//! container (selected by its compose project label) and networks named
//! with one scratch prefix, tries to reach beyond that grant on the lab's
//! real Docker Engine: environment variables in exec, network drivers,
//! driver options and subnets, network ids matching a name glob, DNS
//! aliases, image references with digests, and a huge log tail.
//!
//! Every test creates its own container and networks (named
//! `drhost-hostile-<test>-<pid>…`) and a [`Scratch`] guard removes them,
//! whatever happens. The ToolboxAI containers and networks are not touched.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, NetworkCreateRequest};
use bollard::query_parameters as q;
use drhost_tests::cli::{calls, config, Outcome, Run};
use drhost_tests::lab::Lab;
use drhost_tests::lab::{runtime as rt, up as lab};
use drhost_tests::tmp::TmpFile;
use serde_json::Value;

const IMAGE: &str = "toolboxai/backend:latest";
const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";
/// The compose service label of every scratch container.
const SERVICE: &str = "poke";

/// One scratch container (and the networks and tags a test makes), removed
/// on drop.
struct Scratch {
    lab: Lab,
    /// The container's name, also its compose project label and the prefix
    /// of every network and tag this test creates.
    name: String,
    /// Image tags to remove on drop.
    tags: Vec<String>,
}

impl Scratch {
    /// Creates and starts `drhost-hostile-<test>-<pid>` from the lab's
    /// backend image running `script` under `sh -c`.
    fn new(lab: &Lab, test: &str, script: &str) -> Scratch {
        let scratch = Scratch {
            lab: lab.clone(),
            name: format!("drhost-hostile-{test}-{}", std::process::id()),
            tags: Vec::new(),
        };
        scratch.cleanup();
        rt().block_on(async {
            let docker = lab.docker().await.expect("docker");
            let body = ContainerCreateBody {
                image: Some(IMAGE.into()),
                entrypoint: Some(vec!["sh".into(), "-c".into()]),
                cmd: Some(vec![script.into()]),
                labels: Some(HashMap::from([
                    (PROJECT_LABEL.to_string(), scratch.name.clone()),
                    (SERVICE_LABEL.to_string(), SERVICE.to_string()),
                ])),
                ..Default::default()
            };
            let create = q::CreateContainerOptions {
                name: Some(scratch.name.clone()),
                ..Default::default()
            };
            docker
                .create_container(Some(create), body)
                .await
                .expect("create the scratch container");
            docker
                .start_container(&scratch.name, None::<q::StartContainerOptions>)
                .await
                .expect("start the scratch container");
        });
        scratch
    }

    /// The prefix of the networks the grant covers.
    fn net(&self, suffix: &str) -> String {
        format!("{}-net-{suffix}", self.name)
    }

    /// A config granting read+write on this container only (by its compose
    /// project), networks `<name>-net-*`, plus `extra` lines.
    fn grant(&self, extra: &str) -> TmpFile {
        config(&format!(
            "[[plugins.docker-poke.docker]]\ncompose_project = \"{}\"\naccess = [\"read\", \"write\"]\nnetworks = [\"{}-net-*\"]\n{extra}\n",
            self.name, self.name
        ))
    }

    /// Removes the container, every network whose name holds `<name>` and the tags.
    fn cleanup(&self) {
        let name = self.name.clone();
        let tags = self.tags.clone();
        rt().block_on(async {
            let Ok(docker) = self.lab.docker().await else { return };
            let _ = docker
                .remove_container(
                    &name,
                    Some(q::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
            for n in docker
                .list_networks(None::<q::ListNetworksOptions>)
                .await
                .unwrap_or_default()
            {
                if let (Some(id), Some(n)) = (n.id, n.name) {
                    if n.contains(&name) {
                        let _ = docker.remove_network(&id).await;
                    }
                }
            }
            for tag in tags {
                let _ = docker.remove_image(&tag, None::<q::RemoveImageOptions>, None).await;
            }
        });
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// `drhost run docker-poke --config CFG --json --quiet --param k=v…` against
/// the lab's engine.
fn poke(lab: &Lab, cfg: &std::path::Path, params: &[(&str, &str)]) -> Outcome {
    Run::fixture("docker-poke")
        .config(cfg)
        .json()
        .quiet()
        .params(params)
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap())
        .exec()
}

/// The one `call` event of `call`: its error kind and message.
fn refusal(out: &Outcome, call: &str) -> (String, String, Value) {
    let journal = out.journal();
    let c = calls(&journal, call);
    assert_eq!(c.len(), 1, "one {call} call:\n{}\n{}", out.stdout, out.stderr);
    let error = &c[0]["outcome"]["error"];
    (
        error["kind"].as_str().unwrap_or("(none)").to_string(),
        error["message"].as_str().unwrap_or("").to_string(),
        c[0]["args"].clone(),
    )
}

/// Asserts a strict run failed on `call` with access-denied naming `line`.
fn assert_denied(out: &Outcome, call: &str, line: &str) {
    let (kind, message, _) = refusal(out, call);
    assert_eq!(kind, "access-denied", "{message}\n{}\n{}", out.stdout, out.stderr);
    assert!(
        message.contains("[[plugins.docker-poke.docker]]") && message.contains(line),
        "the refusal names `{line}`: {message}"
    );
    assert_eq!(out.code, 1, "the plugin failed on the refusal:\n{}", out.stderr);
}

async fn network_exists(docker: &bollard::Docker, name: &str) -> bool {
    docker
        .inspect_network(name, None::<q::InspectNetworkOptions>)
        .await
        .is_ok()
}

/// The networks the container is attached to, with their aliases.
async fn attachments(docker: &bollard::Docker, container: &str) -> HashMap<String, Vec<String>> {
    docker
        .inspect_container(container, None::<q::InspectContainerOptions>)
        .await
        .expect("inspect the scratch container")
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(net, e)| (net, e.aliases.unwrap_or_default()))
        .collect()
}

#[test]
fn exec_environment_outside_the_grant_never_reaches_the_process() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let scratch = Scratch::new(&lab, "env", "exec sleep 600");
    // The argv is granted; no variable is (the default).
    let cfg = scratch.grant("exec = [[\"env\"]]");

    // Setting variables is refused, naming the line that would allow them.
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "exec-env"),
            ("name", &scratch.name),
            ("strict", "true"),
            ("env", "LANG=C.drhost;PGOPTIONS=-c drhost_hostile=1"),
        ],
    );
    assert_denied(&out, "docker.exec", "exec_env = [\"LANG\", \"PGOPTIONS\"]");
    let (_, message, args) = refusal(&out, "docker.exec");
    assert!(message.contains("`LANG`"), "{message}");
    // The call's journal entry names the variables, never their values.
    assert_eq!(args["env"], serde_json::json!(["LANG", "PGOPTIONS"]), "{args}");
    let journal = out.journal();
    assert!(!calls(&journal, "docker.exec")[0].to_string().contains("drhost_hostile"));

    // A name no shell would take as a variable (bash function import) is
    // refused as an invalid argument before any grant is consulted.
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "exec-env"),
            ("name", &scratch.name),
            ("strict", "true"),
            ("env", "BASH_FUNC_env%%=() { id; }"),
        ],
    );
    let (kind, message, _) = refusal(&out, "docker.exec");
    assert_eq!(kind, "invalid-argument", "{message}");
    assert_eq!(out.code, 1);

    // With LANG granted, PGOPTIONS alone is refused…
    let cfg = scratch.grant("exec = [[\"env\"]]\nexec_env = [\"LANG\"]");
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "exec-env"),
            ("name", &scratch.name),
            ("strict", "true"),
            ("env", "LANG=C.drhost;PGOPTIONS=-c drhost_hostile=1"),
        ],
    );
    assert_denied(&out, "docker.exec", "exec_env = [\"LANG\", \"PGOPTIONS\"]");
    let (_, message, _) = refusal(&out, "docker.exec");
    assert!(message.contains("`PGOPTIONS`"), "{message}");

    // …and what the grant allows does reach the process, nothing else: the
    // real `env` inside the container shows LANG and no PGOPTIONS.
    let out = poke(
        &lab,
        &cfg,
        &[("ops", "exec-env"), ("name", &scratch.name), ("env", "LANG=C.drhost")],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let said = out.fact("exec-env").expect("an exec-env fact");
    assert!(said.starts_with("ok: ") && said.contains("LANG=C.drhost"), "{said}");
    assert!(!said.contains("PGOPTIONS") && !said.contains("BASH_FUNC"), "{said}");
}

#[test]
fn network_create_needs_a_granted_driver_options_and_subnet() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let scratch = Scratch::new(&lab, "netspec", "exec sleep 600");
    // Networks by name only: default drivers (bridge), no options, no subnets.
    let cfg = scratch.grant("");
    let docker_state = |name: &str| rt().block_on(async { network_exists(&lab.docker().await.unwrap(), name).await });

    // A driver option outside network_options (default: none): turning
    // off masquerading, renaming the host bridge, routed gateways…
    let name = scratch.net("opts");
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "create-network"),
            ("network", &name),
            ("options", "com.docker.network.bridge.enable_ip_masquerade=false"),
            ("strict", "true"),
        ],
    );
    assert_denied(
        &out,
        "docker.create-network",
        "network_options = [\"com.docker.network.bridge.enable_ip_masquerade=false\"]",
    );
    assert!(!docker_state(&name), "no {name} on the engine");

    // A subnet outside network_subnets: a host route the plugin chose.
    let name = scratch.net("subnet");
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "create-network"),
            ("network", &name),
            ("subnet", "10.213.77.0/24"),
            ("strict", "true"),
        ],
    );
    assert_denied(&out, "docker.create-network", "network_subnets = [\"10.213.77.0/24\"]");
    assert!(!docker_state(&name), "no {name} on the engine");

    // A driver outside network_drivers (default: bridge only).
    let name = scratch.net("macvlan");
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "create-network"),
            ("network", &name),
            ("driver", "macvlan"),
            ("strict", "true"),
        ],
    );
    assert_denied(&out, "docker.create-network", "network_drivers = [\"macvlan\"]");
    assert!(!docker_state(&name), "no {name} on the engine");

    // A /16 of the engine's default pool that no network uses now (the lab's
    // networks move when they are recreated): granted below, so a subnet
    // inside it can really be created.
    let free = rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        let used: Vec<String> = docker
            .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
            .await
            .unwrap()
            .into_iter()
            .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
            .filter_map(|c| c.subnet)
            .collect();
        (16..32)
            .rev()
            .find(|x| !used.iter().any(|s| s.starts_with(&format!("172.{x}."))))
            .expect("a free 172.x.0.0/16")
    });
    let granted = format!("network_subnets = [\"172.{free}.0.0/16\"]");
    let inside = format!("172.{free}.213.0/24");

    // A gateway outside its own subnet is malformed.
    let cfg = scratch.grant(&granted);
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "create-network"),
            ("network", &name),
            ("subnet", &inside),
            ("gateway", "10.213.77.1"),
            ("strict", "true"),
        ],
    );
    let (kind, message, _) = refusal(&out, "docker.create-network");
    assert_eq!(kind, "invalid-argument", "{message}");
    assert!(!docker_state(&name), "no {name} on the engine");

    // Inside the granted range, with the default driver: created.
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "create-network"),
            ("network", &name),
            ("subnet", &inside),
            ("strict", "true"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(docker_state(&name), "{name} was created");
}

#[test]
fn network_ids_and_aliases_do_not_widen_the_grant() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let scratch = Scratch::new(&lab, "netid", "exec sleep 600");
    // A network outside the grant's names (`v` is no hex digit: no glob
    // below matches this name)…
    let victim = format!("victim-{}", scratch.name);
    let granted = scratch.net("a");
    let victim_id = rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        for n in [&victim, &granted] {
            docker
                .create_network(NetworkCreateRequest {
                    name: n.clone(),
                    ..Default::default()
                })
                .await
                .expect("create a scratch network");
        }
        docker
            .inspect_network(&victim, None::<q::InspectNetworkOptions>)
            .await
            .unwrap()
            .id
            .unwrap()
    });
    // …whose id happens to match a glob of the grant (any glob starting
    // with a hex digit matches some id).
    let cfg = config(&format!(
        "[[plugins.docker-poke.docker]]\ncompose_project = \"{}\"\naccess = [\"read\", \"write\"]\nnetworks = [\"{granted}\", \"{}*\"]\n",
        scratch.name,
        &victim_id[..1]
    ));
    let by_id = &victim_id[..12];
    let attached = || rt().block_on(async { attachments(&lab.docker().await.unwrap(), &scratch.name).await });

    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "connect"),
            ("name", &scratch.name),
            ("network", by_id),
            ("strict", "true"),
        ],
    );
    assert_denied(&out, "docker.connect-network", &format!("networks = [\"{victim}\"]"));
    assert!(!attached().contains_key(&victim), "not attached to {victim}");

    // Attached by someone else: the plugin cannot detach it by id either.
    rt().block_on(async {
        lab.docker()
            .await
            .unwrap()
            .connect_network(
                &victim,
                bollard::models::NetworkConnectRequest {
                    container: Some(scratch.name.clone()),
                    ..Default::default()
                },
            )
            .await
            .expect("connect from the test")
    });
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "disconnect"),
            ("name", &scratch.name),
            ("network", by_id),
            ("strict", "true"),
        ],
    );
    assert_denied(&out, "docker.disconnect-network", &format!("networks = [\"{victim}\"]"));
    assert!(attached().contains_key(&victim), "still attached to {victim}");

    // On a granted network, an alias that is neither the container's name
    // nor its compose service would answer DNS for another service.
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "connect"),
            ("name", &scratch.name),
            ("network", &granted),
            ("aliases", "redis"),
            ("strict", "true"),
        ],
    );
    assert_denied(&out, "docker.connect-network", "network_aliases = [\"redis\"]");
    assert!(!attached().contains_key(&granted), "not attached to {granted}");

    // Its own compose service is fine.
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "connect"),
            ("name", &scratch.name),
            ("network", &granted),
            ("aliases", SERVICE),
            ("strict", "true"),
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let now = attached();
    assert!(
        now.get(&granted).is_some_and(|a| a.iter().any(|a| a == SERVICE)),
        "{now:?}"
    );
}

#[test]
fn image_references_with_digests_are_refused() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let mut scratch = Scratch::new(&lab, "image", "exec sleep 600");
    let target = format!("toolboxai/backend:{}", scratch.name);
    scratch.tags.push(target.clone());
    let nginx_id = rt().block_on(async {
        lab.docker()
            .await
            .unwrap()
            .inspect_image("toolboxai/nginx:latest")
            .await
            .expect("the lab's nginx image")
            .id
            .unwrap()
    });
    let cfg = scratch.grant("images = [\"toolboxai/backend:*\"]");
    // `toolboxai/backend:*` matches this text, but an engine that resolves
    // a digest by image id would tag the proxy's image as a backend.
    let source = format!("toolboxai/backend:latest@{nginx_id}");
    let out = poke(
        &lab,
        &cfg,
        &[
            ("ops", "tag"),
            ("image", &source),
            ("target", &target),
            ("strict", "true"),
        ],
    );
    let (kind, message, _) = refusal(&out, "docker.tag-image");
    assert_eq!(kind, "invalid-argument", "{message}");
    assert!(
        message.contains("digest") && message.contains("REPOSITORY[:TAG]"),
        "{message}"
    );
    assert_eq!(out.code, 1);
    let tagged = rt().block_on(async { lab.docker().await.unwrap().inspect_image(&target).await.is_ok() });
    assert!(!tagged, "{target} was not created");
}

#[test]
fn a_huge_log_tail_is_capped() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let scratch = Scratch::new(&lab, "logs", "seq 1 12000; exec sleep 600");
    // Wait until the engine has every line.
    let started = Instant::now();
    loop {
        let lines = rt().block_on(async {
            use futures_util::StreamExt;
            let docker = lab.docker().await.unwrap();
            let mut stream = docker.logs(
                &scratch.name,
                Some(q::LogsOptions {
                    stdout: true,
                    tail: "1".into(),
                    ..Default::default()
                }),
            );
            let mut text = String::new();
            while let Some(Ok(item)) = stream.next().await {
                text.push_str(&String::from_utf8_lossy(&item.into_bytes()));
            }
            text
        });
        if lines.trim() == "12000" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the scratch container logged {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let cfg = scratch.grant("");
    let out = poke(
        &lab,
        &cfg,
        &[("ops", "logs-tail"), ("name", &scratch.name), ("tail", "4000000000")],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let said = out.fact("logs-tail").expect("a logs-tail fact");
    assert_eq!(said, "ok: 10000 lines, truncated true");
}
