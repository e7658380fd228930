//! Docker helpers shared by the tests that run the docker runbooks
//! (service-recover, network-recover, status) on the lab's real engine:
//! running a plugin against it, inspecting what changed, reading the
//! `--json` report, [`OwnBackend`] (a backend container of a test's own),
//! and [`Restore`], the guard that puts the Docker side
//! of the lab back whatever a test did.
//!
//! Nothing here starts or stops the lab itself; [`Restore`] only re-runs
//! `lab/stack/containers.sh` (idempotent) when the stack is not as it was.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters as q;

use crate::cli::{Outcome, Run};
use crate::lab::{runtime as rt, Lab};

/// The backend the fault tests break.
pub const BACKEND2: &str = "toolboxai-backend2";
/// The stack's proxy container.
pub const NGINX: &str = "toolboxai-nginx-proxy";
/// The image every backend runs.
pub const LATEST: &str = "toolboxai/backend:latest";
/// The image service-recover rolls back to.
pub const PREVIOUS: &str = "toolboxai/backend:previous";

/// `run` with `--config .lab/drhost.toml --json --quiet` against the lab's
/// engine (`DOCKER_HOST`); another `.config(…)` replaces the lab's.
pub fn on_lab(lab: &Lab, run: Run) -> Run {
    run.config(lab.path(".lab/drhost.toml"))
        .json()
        .quiet()
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap_or_default())
}

/// The status of `GET {url}/health`, 0 when nothing answers within 3 s.
pub async fn health(lab: &Lab, url: &str) -> u16 {
    match lab
        .http()
        .get(format!("{url}/health"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// `docker inspect NAME`; panics when it is gone.
pub async fn inspect(docker: &bollard::Docker, name: &str) -> bollard::models::ContainerInspectResponse {
    docker
        .inspect_container(name, None::<q::InspectContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("inspect {name}: {e}"))
}

/// The id `reference` names now, `None` when there is no such image.
pub async fn image_id(docker: &bollard::Docker, reference: &str) -> Option<String> {
    docker.inspect_image(reference).await.ok().and_then(|i| i.id)
}

/// `docker exec NAME ARGV` from the test: the exit code (-1 when it could not run).
pub async fn exec(docker: &bollard::Docker, name: &str, argv: &[&str]) -> i64 {
    exec_output(docker, name, argv).await.0
}

/// `docker exec NAME ARGV` from the test: the exit code (-1 when it could
/// not run) and what it wrote to stdout and stderr, together.
pub async fn exec_output(docker: &bollard::Docker, name: &str, argv: &[&str]) -> (i64, String) {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    use futures_util::StreamExt;
    let created = match docker
        .create_exec(
            name,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(argv.to_vec()),
                ..Default::default()
            },
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return (-1, e.to_string()),
    };
    let mut text = Vec::new();
    if let Ok(StartExecResults::Attached { mut output, .. }) = docker.start_exec(&created.id, None).await {
        while let Some(Ok(chunk)) = output.next().await {
            text.extend_from_slice(&chunk.into_bytes());
        }
    }
    let code = docker
        .inspect_exec(&created.id)
        .await
        .ok()
        .and_then(|i| i.exit_code)
        .unwrap_or(-1);
    (code, String::from_utf8_lossy(&text).into_owned())
}

/// Puts the Docker side of the lab back as `lab/stack` made it, whatever a
/// test did: original `:latest`/`:previous` tags, networks, containers on
/// the current image with their aliases, everything healthy. While a
/// failed test unwinds it only reports what it could not restore (a
/// second panic would abort the test binary and hide the first).
pub struct Restore {
    lab: Lab,
    latest: Option<String>,
    /// The id `:previous` named when the guard was taken.
    pub previous: Option<String>,
    /// Images the test made, removed at the end.
    pub extra_images: Vec<String>,
}

impl Restore {
    /// Records the tags to put back.
    pub fn new(lab: &Lab) -> Restore {
        let (latest, previous) = rt().block_on(async {
            let docker = lab.docker().await.expect("docker");
            (image_id(&docker, LATEST).await, image_id(&docker, PREVIOUS).await)
        });
        Restore {
            lab: lab.clone(),
            latest,
            previous,
            extra_images: Vec::new(),
        }
    }

    async fn healthy(&self, docker: &bollard::Docker) -> Result<(), String> {
        let nginx = self.lab.nginx_url().map_err(|e| e.to_string())?.to_string();
        for url in self
            .lab
            .backend_urls()
            .map_err(|e| e.to_string())?
            .iter()
            .chain([nginx].iter())
        {
            let status = health(&self.lab, url).await;
            if status != 200 {
                return Err(format!("{url}/health answers {status}"));
            }
        }
        let latest = image_id(docker, LATEST).await;
        for i in 1..=3 {
            let name = format!("toolboxai-backend{i}");
            let c = docker
                .inspect_container(&name, None::<q::InspectContainerOptions>)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            if c.image != latest {
                return Err(format!("{name} does not run {LATEST}"));
            }
            let nets = c.network_settings.and_then(|n| n.networks).unwrap_or_default();
            for net in ["toolboxai_backend", "toolboxai_cache"] {
                let aliases = nets.get(net).and_then(|e| e.aliases.clone()).unwrap_or_default();
                if !aliases.contains(&format!("backend{i}")) {
                    return Err(format!("{name} is not on {net} as backend{i}"));
                }
            }
        }
        Ok(())
    }

    async fn restore(&self) -> Result<(), String> {
        let docker = self.lab.docker().await.map_err(|e| format!("{e:#}"))?;
        for (reference, id) in [(LATEST, &self.latest), (PREVIOUS, &self.previous)] {
            if let Some(id) = id {
                if image_id(&docker, reference).await.as_ref() != Some(id) {
                    let (repo, tag) = reference.split_once(':').unwrap_or((reference, "latest"));
                    let _ = docker
                        .tag_image(
                            id,
                            Some(q::TagImageOptions {
                                repo: Some(repo.into()),
                                tag: Some(tag.into()),
                            }),
                        )
                        .await;
                }
            }
        }
        // `lab/stack/containers.sh` (compose) keeps a network that exists,
        // so one a recreate left without the labels compose gave it (its
        // project and network, and `drhost.lab`, which `lab/down.sh`
        // removes by) is put back with them here; compose's version label
        // may be there or not (a network from before the lab was a compose
        // project has none).
        let mut relabeled = Ok(());
        for short in ["backend", "cache"] {
            let net = format!("toolboxai_{short}");
            let mut labels = HashMap::from([
                ("com.docker.compose.project".to_string(), "toolboxai".to_string()),
                ("com.docker.compose.network".to_string(), short.to_string()),
                ("drhost.lab".to_string(), "1".to_string()),
            ]);
            let now = docker
                .inspect_network(&net, None::<q::InspectNetworkOptions>)
                .await
                .ok()
                .map(|n| n.labels.unwrap_or_default());
            if let Some(now) = now.filter(|now| labels.iter().any(|(k, v)| now.get(k) != Some(v))) {
                if let Some(version) = now.get("com.docker.compose.version") {
                    labels.insert("com.docker.compose.version".to_string(), version.clone());
                }
                if let Err(why) = relabel(&docker, &net, labels).await {
                    relabeled = relabeled.and(Err(format!("{net} lost its labels and could not get them back: {why}")));
                }
            }
        }
        let result = match self.healthy(&docker).await {
            Ok(()) => Ok(()),
            Err(why) => {
                eprintln!("restore: {why}; running lab/stack/containers.sh");
                let status = self.lab.bash().arg("lab/stack/containers.sh").status();
                if !status.map(|s| s.success()).unwrap_or(false) {
                    Err("lab/stack/containers.sh failed: run `make lab`".to_string())
                } else {
                    self.healthy(&docker).await.map_err(|why| {
                        format!("the lab is still not healthy after restoring it: {why}; run `make lab`")
                    })
                }
            }
        };
        let result = relabeled.and(result);
        for image in &self.extra_images {
            let _ = docker.remove_image(image, None::<q::RemoveImageOptions>, None).await;
        }
        result
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            eprintln!("restore: no tokio runtime; run `make lab`");
            return;
        };
        if let Err(why) = rt.block_on(self.restore()) {
            if std::thread::panicking() {
                eprintln!("restore: {why}");
            } else {
                panic!("{why}");
            }
        }
    }
}

/// A backend container of the test's own, `toolboxai-backend-truth-…` (so
/// the lab grant `toolboxai-backend*` covers it), labelled with the compose
/// project, publishing 8000/tcp on an ephemeral loopback port, running
/// `image` (a tag of the test's own). Whatever happens, drop removes the
/// container, the one a recreate moved aside, and the test's tags (an
/// untag: the lab's images stay).
pub struct OwnBackend {
    lab: Lab,
    /// Its container name.
    pub name: String,
    tags: Vec<String>,
}

impl OwnBackend {
    /// Tags `source` as each of `tags`, then creates and starts the
    /// container from the first tag with `env`.
    pub fn start(lab: &Lab, tags: &[(&str, String)], env: &[&str]) -> OwnBackend {
        let name = crate::util::unique("toolboxai-backend-truth");
        let own = OwnBackend {
            lab: lab.clone(),
            name: name.clone(),
            tags: tags.iter().map(|(_, t)| t.clone()).collect(),
        };
        rt().block_on(async {
            let docker = lab.docker().await.expect("docker");
            for (source, target) in tags {
                let (repo, tag) = target.split_once(':').expect("repo:tag");
                docker
                    .tag_image(
                        source,
                        Some(q::TagImageOptions {
                            repo: Some(repo.into()),
                            tag: Some(tag.into()),
                        }),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("tag {source} as {target}: {e}"));
            }
            let port = "8000/tcp".to_string();
            let body = bollard::models::ContainerCreateBody {
                image: Some(tags[0].1.clone()),
                env: Some(env.iter().map(|e| e.to_string()).collect()),
                labels: Some(HashMap::from([
                    ("com.docker.compose.project".into(), "toolboxai".into()),
                    ("com.docker.compose.service".into(), "backend-truth".into()),
                ])),
                exposed_ports: Some(HashMap::from([(port.clone(), HashMap::new())])),
                host_config: Some(bollard::models::HostConfig {
                    port_bindings: Some(HashMap::from([(
                        port,
                        Some(vec![bollard::models::PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(String::new()),
                        }]),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            };
            docker
                .create_container(
                    Some(q::CreateContainerOptions {
                        name: Some(name.clone()),
                        ..Default::default()
                    }),
                    body,
                )
                .await
                .unwrap_or_else(|e| panic!("create {name}: {e}"));
            docker
                .start_container(&name, None::<q::StartContainerOptions>)
                .await
                .unwrap_or_else(|e| panic!("start {name}: {e}"));
        });
        own
    }

    /// `http://127.0.0.1:PORT` of its published 8000/tcp, as it is now.
    pub async fn url(&self, docker: &bollard::Docker) -> String {
        let c = inspect(docker, &self.name).await;
        let port = c
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get("8000/tcp").cloned().flatten())
            .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
            .unwrap_or_else(|| panic!("{} publishes no 8000/tcp", self.name));
        format!("http://127.0.0.1:{port}")
    }

    /// Waits (up to 10 s) until its `/health` answers, then the status.
    pub async fn health(&self, docker: &bollard::Docker) -> u16 {
        let url = self.url(docker).await;
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let status = health(&self.lab, &url).await;
            if status != 0 || Instant::now() > until {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for OwnBackend {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            eprintln!("cleanup: no tokio runtime; remove {} by hand", self.name);
            return;
        };
        rt.block_on(async {
            let Ok(docker) = self.lab.docker().await else {
                eprintln!("cleanup: no Docker; remove {} and {:?} by hand", self.name, self.tags);
                return;
            };
            let listed = docker
                .list_containers(Some(q::ListContainersOptions {
                    all: true,
                    filters: Some(HashMap::from([("name".to_string(), vec![self.name.clone()])])),
                    ..Default::default()
                }))
                .await
                .unwrap_or_default();
            for c in listed {
                let own = c
                    .names
                    .unwrap_or_default()
                    .iter()
                    .any(|n| n.trim_start_matches('/').starts_with(&self.name));
                if let (true, Some(id)) = (own, c.id) {
                    let removed = docker
                        .remove_container(
                            &id,
                            Some(q::RemoveContainerOptions {
                                force: true,
                                ..Default::default()
                            }),
                        )
                        .await;
                    if let Err(e) = removed {
                        eprintln!("cleanup: cannot remove container {id}: {e}");
                    }
                }
            }
            for tag in &self.tags {
                // An untag: every one of these ids has a lab tag too.
                let removed = docker
                    .remove_image(
                        tag,
                        Some(q::RemoveImageOptions {
                            noprune: true,
                            ..Default::default()
                        }),
                        None,
                    )
                    .await;
                if let Err(e) = removed {
                    eprintln!("cleanup: cannot untag {tag}: {e}");
                }
            }
        });
    }
}

/// Recreates network `net` as it is (driver, IPAM, options, members with
/// their aliases) but with `labels`: the engine cannot relabel a network.
async fn relabel(docker: &bollard::Docker, net: &str, labels: HashMap<String, String>) -> Result<(), String> {
    let info = docker
        .inspect_network(net, None::<q::InspectNetworkOptions>)
        .await
        .map_err(|e| e.to_string())?;
    let mut members = Vec::new();
    for c in info.containers.clone().unwrap_or_default().values() {
        let name = c.name.clone().unwrap_or_default();
        let detail = docker
            .inspect_container(&name, None::<q::InspectContainerOptions>)
            .await
            .map_err(|e| e.to_string())?;
        let id = detail.id.clone().unwrap_or_default();
        let aliases: Vec<String> = detail
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|m| m.get(net).cloned())
            .and_then(|e| e.aliases)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !id.starts_with(a.as_str()))
            .collect();
        members.push((name, aliases));
    }
    for (name, _) in &members {
        docker
            .disconnect_network(
                net,
                bollard::models::NetworkDisconnectRequest {
                    container: Some(name.clone()),
                    force: Some(true),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    docker.remove_network(net).await.map_err(|e| e.to_string())?;
    docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: net.to_string(),
            driver: info.driver.clone(),
            internal: info.internal,
            attachable: info.attachable,
            enable_ipv6: info.enable_ipv6,
            ipam: info.ipam.clone(),
            options: info.options.clone(),
            labels: Some(labels),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    for (name, aliases) in members {
        docker
            .connect_network(
                net,
                bollard::models::NetworkConnectRequest {
                    container: Some(name.clone()),
                    endpoint_config: Some(bollard::models::EndpointSettings {
                        aliases: Some(aliases),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| format!("connect {name}: {e}"))?;
    }
    // New addresses for the backends on the proxy's network: resolve again.
    exec(docker, NGINX, &["nginx", "-s", "reload"]).await;
    Ok(())
}

/// A `--json` fact as text; panics naming the report when it is absent.
pub fn fact(out: &Outcome, name: &str) -> String {
    out.fact(name)
        .unwrap_or_else(|| panic!("no fact `{name}` in {}\nstderr:\n{}", out.stdout, out.stderr))
}

/// The rows of the `--json` report's first table, each as column → cell.
pub fn table_rows(out: &Outcome) -> Vec<HashMap<String, String>> {
    let report = out.json();
    let table = &report["tables"][0];
    let columns: Vec<String> = table["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no table in {report:#}"))
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    table["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {report:#}"))
        .iter()
        .map(|row| {
            let cells = row.as_array().cloned().unwrap_or_default();
            columns
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| c.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .collect()
}

/// A `--json` fact as the JSON number it is typed as.
pub fn number(out: &Outcome, name: &str) -> u64 {
    let report = out.json();
    report["facts"]
        .as_array()
        .and_then(|facts| facts.iter().find(|f| f["name"] == name))
        .and_then(|f| f["number"].as_u64())
        .unwrap_or_else(|| panic!("no number fact `{name}` in {report:#}"))
}
