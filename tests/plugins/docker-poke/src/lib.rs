//! `docker-poke`: makes the docker calls named by `ops` (comma-separated:
//! list, inspect, logs, restart, stop, exec, and the hostile ones below) on
//! container `name`, in order, and reports each result as a fact — so tests
//! can check what a grant allows at the call, whatever `describe` declared.
//! With `strict=true` the first refused call fails the run.
//!
//! Hostile ops: `exec-env` (runs `env` with the `env` parameter's
//! `NAME=value;…` added; the fact is its output), `create-network` (network
//! `network` with `driver`, `options` `K=V;…` and `subnet`/`gateway`),
//! `remove-network`, `connect` (with `aliases` `a,b`), `disconnect`,
//! `inspect-network`, `tag` (`image` as `target`), `recreate` (from
//! `image`), `logs-tail` (`tail` lines).

use drhost_sdk::docker;
use drhost_sdk::prelude::*;

struct DockerPoke;

fn text<T>(result: Result<T, Error>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(v) => format!("ok: {}", ok(v)),
        Err(e) => e.describe(),
    }
}

impl Plugin for DockerPoke {
    fn describe() -> Manifest {
        manifest(
            "docker-poke",
            env!("CARGO_PKG_VERSION"),
            "Makes the docker calls it is told to (tests only)",
        )
        .param(
            "ops",
            "list | inspect | logs | restart | stop | exec, comma-separated",
            Some("list"),
        )
        .param("name", "the container to poke", Some("toolboxai-backend1"))
        .param("env", "exec-env: NAME=value entries, `;`-separated", Some(""))
        .param("network", "the network to poke", Some(""))
        .param("driver", "create-network: the driver (empty: none given)", Some(""))
        .param("options", "create-network: driver options K=V, `;`-separated", Some(""))
        .param("subnet", "create-network: one IPAM subnet (empty: none)", Some(""))
        .param("gateway", "create-network: its gateway (empty: none)", Some(""))
        .param("aliases", "connect: DNS aliases, comma-separated", Some(""))
        .param("image", "tag: the source; recreate: the new image", Some(""))
        .param("target", "tag: the new reference", Some(""))
        .param("tail", "logs-tail: how many lines", Some("100"))
        .param("strict", "true: the first refused call fails the run", Some("false"))
        .need("docker", "toolboxai-backend*", Access::Write, "pokes the backends")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let name = params.get("name")?;
        let network = params.get("network")?;
        let strict = params.get("strict")? == "true";
        let list = |p: &str, sep: char| -> Result<Vec<String>, Failure> {
            Ok(params
                .get(p)?
                .split(sep)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect())
        };
        let pairs = |p: &str| -> Result<Vec<docker::Label>, Failure> {
            Ok(list(p, ';')?
                .into_iter()
                .map(|kv| {
                    let (key, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                    docker::Label {
                        key: key.into(),
                        value: value.into(),
                    }
                })
                .collect())
        };
        let mut result = outcome("poked");
        for op in params.get("ops")?.split(',') {
            let step = Step::start(format!("{op} {name}"));
            let said = match op {
                "list" => text(docker::list_containers(&containers_named("*")), |l| {
                    l.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(",")
                }),
                "inspect" => text(docker::inspect_container(name), |i| i.state),
                "logs" => text(docker::container_logs(name, Some(5), None, None), |l| {
                    l.lines.len().to_string()
                }),
                "restart" => text(docker::restart_container(name, Some(1)), |_| "restarted".into()),
                "stop" => text(docker::stop_container(name, Some(1)), |_| "stopped".into()),
                "exec" => text(docker_exec(name, &["true"], 5000), |r| format!("{:?}", r.exit_code)),
                "exec-env" => {
                    let request = docker::ExecRequest {
                        argv: vec!["env".into()],
                        env: list("env", ';')?,
                        timeout_ms: Some(5000),
                    };
                    text(docker::exec(name, &request), |r| r.stdout)
                }
                "create-network" => {
                    let subnet = params.get("subnet")?;
                    let gateway = params.get("gateway")?;
                    let spec = docker::NetworkSpec {
                        name: network.into(),
                        driver: Some(params.get("driver")?.to_string()).filter(|d| !d.is_empty()),
                        internal: false,
                        attachable: false,
                        ipam: if subnet.is_empty() {
                            Vec::new()
                        } else {
                            vec![docker::IpamPool {
                                subnet: subnet.into(),
                                gateway: Some(gateway.to_string()).filter(|g| !g.is_empty()),
                                ip_range: None,
                            }]
                        },
                        labels: Vec::new(),
                        options: pairs("options")?,
                    };
                    text(docker::create_network(&spec), |n| format!("{} {}", n.name, n.driver))
                }
                "remove-network" => text(docker::remove_network(network), |_| "removed".into()),
                "inspect-network" => text(docker::inspect_network(network), |n| n.name),
                "connect" => text(docker::connect_network(network, name, &list("aliases", ',')?), |_| {
                    "connected".into()
                }),
                "disconnect" => text(docker::disconnect_network(network, name, true), |_| {
                    "disconnected".into()
                }),
                "tag" => text(docker::tag_image(params.get("image")?, params.get("target")?), |_| {
                    "tagged".into()
                }),
                "recreate" => text(docker::recreate_with_image(name, params.get("image")?, Some(1)), |c| {
                    c.image
                }),
                "logs-tail" => text(
                    docker::container_logs(name, Some(params.parse("tail")?), None, None),
                    |l| format!("{} lines, truncated {}", l.lines.len(), l.truncated),
                ),
                other => return Err(fail(format!("unknown op `{other}`"))),
            };
            if strict && !said.starts_with("ok: ") {
                let step_name = step.name().to_string();
                step.note(&said);
                step.fail();
                return Err(fail(said).in_step(&step_name));
            }
            step.note(&said);
            step.ok();
            result = result.fact(op, said);
        }
        Ok(result)
    }
}

export_plugin!(DockerPoke);
