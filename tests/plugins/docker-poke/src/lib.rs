//! `docker-poke`: makes the docker calls named by `ops` (comma-separated:
//! list, inspect, logs, restart, stop, exec) on container `name`, in order,
//! and reports each result as a fact — so tests can check what a grant
//! allows at the call, whatever `describe` declared.

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
        .need("docker", "toolboxai-backend*", Access::Write, "pokes the backends")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let name = params.get("name")?;
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
                other => return Err(fail(format!("unknown op `{other}`"))),
            };
            step.note(&said);
            step.ok();
            result = result.fact(op, said);
        }
        Ok(result)
    }
}

export_plugin!(DockerPoke);
