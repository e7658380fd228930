//! `network-recover`: runbook scenario 5, network partition.
//!
//! Test connectivity between named containers (`ping` via exec), inspect
//! the networks and their IPAM, and when something is broken — a probe
//! fails, a network is missing, an expected container is not attached —
//! recreate the affected networks: record their config and attached
//! containers with aliases → disconnect → remove → create with the same
//! config → reconnect with the aliases → start what is stopped → run the
//! after-commands (e.g. `nginx -s reload`) → verify connectivity again.
//!
//! A network that is gone is recreated from `members` (which containers
//! belong on it, the lab-known/compose config) with compose's labels; its
//! containers get their compose service name as alias, as compose does.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use drhost_sdk::docker::{self, IpamPool, Label, NetworkInfo, NetworkSpec};
use drhost_sdk::prelude::*;

struct NetworkRecover;

struct Probe {
    from: String,
    to: String,
}

struct Settings {
    networks: Vec<String>,
    probes: Vec<Probe>,
    /// network → container-name globs expected on it.
    members: BTreeMap<String, Vec<String>>,
    project: String,
    /// container → argv to exec once the networks are back.
    after: Vec<(String, Vec<String>)>,
    wait: Duration,
}

fn list(text: &str, sep: char) -> Vec<String> {
    text.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn settings(params: &Params) -> Result<Settings, Failure> {
    let probes = list(params.get("probes")?, ',')
        .into_iter()
        .map(|p| match p.split_once("->") {
            Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => Ok(Probe {
                from: from.trim().into(),
                to: to.trim().into(),
            }),
            _ => Err(fail(format!("probe `{p}` is not CONTAINER->HOST"))
                .hint("pass --param probes=toolboxai-backend1->backend2")),
        })
        .collect::<Result<_, _>>()?;
    let mut members = BTreeMap::new();
    for entry in list(params.get("members")?, ';') {
        let Some((net, globs)) = entry.split_once('=') else {
            return Err(fail(format!("members entry `{entry}` is not NETWORK=GLOB|GLOB"))
                .hint("e.g. toolboxai_backend=toolboxai-backend*|toolboxai-nginx-proxy"));
        };
        members.insert(net.trim().to_string(), list(globs, '|'));
    }
    let after = list(params.get("after")?, ';')
        .into_iter()
        .map(|a| match a.split_once('=') {
            Some((c, argv)) if !argv.trim().is_empty() => Ok((
                c.trim().to_string(),
                argv.split_whitespace().map(String::from).collect(),
            )),
            _ => Err(fail(format!("after entry `{a}` is not CONTAINER=COMMAND ARGS"))
                .hint("e.g. toolboxai-nginx-proxy=nginx -s reload")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Settings {
        networks: list(params.get("networks")?, ','),
        probes,
        members,
        project: params.get("project")?.to_string(),
        after,
        wait: Duration::from_secs_f64(params.parse::<f64>("wait-seconds")?.max(0.5)),
    })
}

/// Runs every probe once; returns the failing ones as text. A probe the
/// host refuses (not granted, or malformed) proves nothing about the
/// network: the run stops there, before anything is changed.
fn probe_all(s: &Settings) -> Result<Vec<String>, Failure> {
    let mut failing = Vec::new();
    for p in &s.probes {
        match docker_exec(&p.from, &["ping", "-c", "1", "-W", "1", &p.to], 5000) {
            Ok(r) if r.exit_code == Some(0) => {}
            Ok(r) => failing.push(format!("{} -> {}: {}", p.from, p.to, first_line(&r.stderr, &r.stdout))),
            Err(e @ (Error::AccessDenied(_) | Error::InvalidArgument(_) | Error::Planned(_))) => {
                let hint = if e.is_planned() {
                    "plan mode records a docker exec instead of running it, so connectivity cannot be tested in a plan; run without --plan"
                } else {
                    "grant the ping exec (the refusal above names the drhost.toml lines), then run again"
                };
                return Err(fail(format!(
                    "cannot test connectivity from {} to {}, so nothing was changed: {}",
                    p.from,
                    p.to,
                    e.describe()
                ))
                .hint(hint));
            }
            Err(e) => failing.push(format!("{} -> {}: {}", p.from, p.to, e.describe())),
        }
    }
    Ok(failing)
}

fn first_line(a: &str, b: &str) -> String {
    a.lines()
        .chain(b.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no answer")
        .to_string()
}

/// Container names matching the network's member globs.
fn expected_members(s: &Settings, network: &str) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for glob in s.members.get(network).into_iter().flatten() {
        for c in docker::list_containers(&containers_named(glob))? {
            if !names.contains(&c.name) {
                names.push(c.name);
            }
        }
    }
    Ok(names)
}

/// What a network is and should be, recorded before it is touched.
struct Plan {
    spec: NetworkSpec,
    exists: bool,
    /// (container, aliases) to attach to the new network.
    attach: Vec<(String, Vec<String>)>,
    /// Containers attached now (to disconnect before removing).
    attached: Vec<String>,
}

fn default_spec(s: &Settings, name: &str) -> NetworkSpec {
    let short = name.strip_prefix(&format!("{}_", s.project)).unwrap_or(name);
    NetworkSpec {
        name: name.into(),
        driver: Some("bridge".into()),
        internal: false,
        attachable: false,
        ipam: Vec::new(),
        labels: vec![
            Label {
                key: "com.docker.compose.network".into(),
                value: short.into(),
            },
            Label {
                key: "com.docker.compose.project".into(),
                value: s.project.clone(),
            },
        ],
        options: Vec::new(),
    }
}

fn spec_of(info: &NetworkInfo) -> NetworkSpec {
    NetworkSpec {
        name: info.name.clone(),
        driver: Some(info.driver.clone()).filter(|d| !d.is_empty()),
        internal: info.internal,
        attachable: info.attachable,
        ipam: info
            .ipam
            .iter()
            .map(|p| IpamPool {
                subnet: p.subnet.clone(),
                gateway: p.gateway.clone(),
                ip_range: p.ip_range.clone(),
            })
            .collect(),
        labels: info.labels.clone(),
        options: info.options.clone(),
    }
}

fn plan(s: &Settings, network: &str, step: &Step) -> Result<(Plan, bool), Error> {
    let expected = expected_members(s, network)?;
    let (spec, exists, attached) = match docker::inspect_network(network) {
        Ok(info) => {
            let pools: Vec<String> = info
                .ipam
                .iter()
                .map(|p| format!("{} gw {}", p.subnet, p.gateway.as_deref().unwrap_or("-")))
                .collect();
            step.note(format!(
                "{network}: driver {}, IPAM [{}], {} container(s): {}",
                info.driver,
                pools.join(", "),
                info.containers.len(),
                info.containers
                    .iter()
                    .map(|m| m.container.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            (
                spec_of(&info),
                true,
                info.containers.iter().map(|m| m.container.clone()).collect::<Vec<_>>(),
            )
        }
        Err(Error::NotFound(_)) => {
            step.note(format!("{network}: MISSING; will be created from the expected config"));
            (default_spec(s, network), false, Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut attach = Vec::new();
    let mut complete = exists;
    for name in attached.iter().chain(expected.iter().filter(|e| !attached.contains(e))) {
        if attach.iter().any(|(n, _)| n == name) {
            continue;
        }
        let info = docker::inspect_container(name)?;
        let mut aliases = info
            .networks
            .iter()
            .find(|e| e.network == network)
            .map(|e| e.aliases.clone())
            .unwrap_or_default();
        if aliases.is_empty() {
            aliases.extend(info.compose_service.clone());
        }
        if !attached.contains(name) {
            complete = false;
            step.note(format!(
                "{name} is not attached to {network} (aliases to restore: {})",
                aliases.join(", ")
            ));
        }
        attach.push((name.clone(), aliases));
    }
    Ok((
        Plan {
            spec,
            exists,
            attach,
            attached,
        },
        complete,
    ))
}

fn recreate(network: &str, plan: &Plan) -> Result<(), Error> {
    let step = Step::start(format!("recreate network {network}"));
    for c in &plan.attached {
        docker::disconnect_network(network, c, true)?;
    }
    if plan.exists {
        docker::remove_network(network)?;
        step.note(format!("removed {network} after disconnecting {}", plan.attached.len()));
    }
    let created = docker::create_network(&plan.spec)?;
    let pools: Vec<String> = created.ipam.iter().map(|p| p.subnet.clone()).collect();
    step.note(format!(
        "created {network} ({}, subnet {})",
        created.driver,
        pools.join(", ")
    ));
    for (c, aliases) in &plan.attach {
        // A container may still hold an endpoint for the old network (it was
        // stopped when the network went away): drop it first.
        let stale = docker::inspect_container(c)?
            .networks
            .iter()
            .any(|e| e.network == network);
        if stale {
            let _ = docker::disconnect_network(network, c, true);
        }
        docker::connect_network(network, c, aliases)?;
        step.note(format!("connected {c} as {}", aliases.join(", ")));
    }
    step.ok();
    Ok(())
}

impl Plugin for NetworkRecover {
    fn describe() -> Manifest {
        manifest("network-recover", env!("CARGO_PKG_VERSION"), "Runbook scenario 5: tests connectivity between containers, inspects networks and IPAM, recreates broken networks with the same config and reconnects containers with their aliases")
            .param("networks", "networks to check and, when broken, recreate", Some("toolboxai_backend,toolboxai_cache"))
            .param("probes", "connectivity checks CONTAINER->HOST (ping from inside CONTAINER)", Some("toolboxai-backend1->backend2,toolboxai-backend2->backend3,toolboxai-nginx-proxy->backend1"))
            .param("members", "containers expected on each network: NETWORK=GLOB|GLOB;…", Some("toolboxai_backend=toolboxai-backend*|toolboxai-nginx-proxy;toolboxai_cache=toolboxai-backend*"))
            .param("project", "compose project: labels for a network that must be created from scratch", Some("toolboxai"))
            .param("after", "commands run once networks are back: CONTAINER=COMMAND ARGS;…", Some("toolboxai-nginx-proxy=nginx -s reload"))
            .param("wait-seconds", "how long connectivity may take to come back", Some("10"))
            .need("docker", "toolboxai-*", Access::Write, "pings between containers, reconnects them to recreated networks, starts stopped ones")
            .need("docker", "network:toolboxai_*", Access::Write, "inspects, removes and recreates the stack's networks")
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let started = Instant::now();
        let s = settings(&params)?;

        let step = Step::start("test connectivity");
        let failing = probe_all(&s).map_err(|f| f.in_step(step.name()))?;
        for f in &failing {
            step.note(format!("FAILING: {f}"));
        }
        step.note(format!(
            "{} of {} probe(s) pass",
            s.probes.len() - failing.len(),
            s.probes.len()
        ));
        step.ok();

        let step = Step::start("inspect networks and IPAM");
        let mut plans = Vec::new();
        let mut broken = Vec::new();
        for net in &s.networks {
            let (p, complete) =
                plan(&s, net, &step).map_err(|e| Failure::from(e).in_step("inspect networks and IPAM"))?;
            if !complete {
                broken.push(net.clone());
            }
            plans.push((net.clone(), p));
        }
        step.ok();

        if failing.is_empty() && broken.is_empty() {
            return Ok(outcome(format!(
                "connectivity is fine ({} probes) and {} network(s) complete; nothing to recover",
                s.probes.len(),
                s.networks.len()
            ))
            .fact("probes", s.probes.len())
            .fact("recreated", ""));
        }
        // Probes fail but every network looks complete: the runbook's answer
        // is to recreate them all.
        let targets: Vec<String> = if broken.is_empty() { s.networks.clone() } else { broken };
        for (net, p) in plans.iter().filter(|(n, _)| targets.contains(n)) {
            recreate(net, p).map_err(|e| Failure::from(e).in_step(&format!("recreate network {net}")))?;
        }

        let step = Step::start("start stopped containers");
        for (_, p) in plans.iter().filter(|(n, _)| targets.contains(n)) {
            for (c, _) in &p.attach {
                let info = docker::inspect_container(c).map_err(|e| Failure::from(e).in_step(step.name()))?;
                if !info.running {
                    docker::start_container(c).map_err(|e| Failure::from(e).in_step(step.name()))?;
                    step.note(format!("started {c}"));
                }
            }
        }
        step.ok();

        if !s.after.is_empty() {
            let step = Step::start("run after-commands");
            for (c, argv) in &s.after {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let r = docker_exec(c, &argv, 15000).map_err(|e| Failure::from(e).in_step(step.name()))?;
                step.note(format!("{c}: `{}` {}", argv.join(" "), exit_text(r.exit_code)));
            }
            step.ok();
        }

        let step = Step::start("verify connectivity");
        let wait = Wait::up_to(s.wait);
        let mut still = probe_all(&s).map_err(|f| f.in_step(step.name()))?;
        while !still.is_empty() && !wait.over() {
            wait.sleep(Duration::from_millis(200));
            still = probe_all(&s).map_err(|f| f.in_step(step.name()))?;
        }
        if !still.is_empty() {
            for f in &still {
                step.note(format!("FAILING: {f}"));
            }
            step.fail();
            return Err(fail(format!("connectivity still broken {} after recreating {}: {}", wait.waited_text(), targets.join(", "), still.join("; ")))
                .in_step("verify connectivity")
                .hint("check `docker network inspect` and the containers' network settings; a full `docker-compose down && up -d` may be needed"));
        }
        step.note(format!("all {} probe(s) pass", s.probes.len()));
        step.ok();
        let ttr = started.elapsed();
        Ok(outcome(format!(
            "recreated {} and restored connectivity in {}",
            targets.join(", "),
            duration_text(ttr)
        ))
        .fact("probes", s.probes.len())
        .fact("recreated", targets.join(","))
        .fact("time-to-recovery-ms", ttr.as_millis()))
    }
}

export_plugin!(NetworkRecover);
