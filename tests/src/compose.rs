//! Compose projects a test owns on the lab's Docker Engine, driven from
//! the test by the real compose CLI (`docker-compose`) and read back
//! through the engine: a unique project name over a compose file (a
//! fixture, or one the test writes), taken down with its volumes when the
//! [`Stack`] is dropped, also when the test fails. And the lab's own main
//! stack, the project `toolboxai` from `lab/stack/docker-compose.yml`
//! ([`lab_stack_compose`]), which no [`Stack`] ever names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters as q;

use crate::cli::repo_root;
use crate::lab::{runtime as rt, up as lab, Lab};
use crate::tmp::TmpDir;
use crate::util::unique;

/// A compose project a test owns, named uniquely; taken down with its
/// volumes by the real CLI when dropped.
pub struct Stack {
    /// The lab (its `DOCKER_HOST`).
    pub lab: Lab,
    /// The project name (`-p`).
    pub project: String,
    file: PathBuf,
    /// Holds a file the test wrote, removed after the project is down.
    _dir: Option<TmpDir>,
}

/// One container of a project, as the engine reports it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The container's name.
    pub name: String,
    /// `running`, `exited`, …
    pub state: String,
    /// `healthy`, `starting`, `unhealthy`, or empty without a health check.
    pub health: String,
    /// When it last started (RFC 3339).
    pub started_at: String,
    /// Its exit code (0 while running).
    pub exit_code: i64,
}

impl Stack {
    /// A project over the fixture file `file`, named `<prefix>-<unique>`.
    pub fn over(prefix: &str, file: PathBuf) -> Stack {
        Stack {
            lab: lab(),
            project: unique(prefix),
            file,
            _dir: None,
        }
    }

    /// A project over a compose file with `yaml` as its text, written to a
    /// temporary directory of its own.
    pub fn with_yaml(prefix: &str, yaml: &str) -> Stack {
        let dir = TmpDir::new("drhost-compose-");
        let file = dir.write("docker-compose.yml", yaml);
        Stack {
            lab: lab(),
            project: unique(prefix),
            file,
            _dir: Some(dir),
        }
    }

    /// The compose file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The lab's `DOCKER_HOST`.
    pub fn docker_host(&self) -> &str {
        self.lab.get("DOCKER_HOST").expect("DOCKER_HOST in the lab env")
    }

    /// `[targets.compose.LABEL]` for this project (with a 60 s call timeout).
    pub fn target_toml(&self, label: &str) -> String {
        format!(
            "[targets.compose.{label}]\nfile = \"{}\"\nproject = \"{}\"\ntimeout = \"60s\"\n",
            self.file.display(),
            self.project
        )
    }

    /// The real CLI, from the test, on this project.
    pub fn compose(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("docker-compose")
            .args(["--ansi", "never", "-f"])
            .arg(&self.file)
            .args(["-p", &self.project])
            .args(args)
            .env("DOCKER_HOST", self.docker_host())
            .output()
            .expect("docker-compose runs (apt-get install docker-compose)")
    }

    /// `up -d --no-build` from the test; panics when it fails.
    pub fn up(&self) {
        let out = self.compose(&["up", "-d", "--no-build"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Service → its container, for every container of the project.
    pub fn containers(&self) -> HashMap<String, Seen> {
        containers_of(&self.lab, &self.project)
    }

    /// Waits until every one of `services` runs and is healthy (when it has
    /// a health check); panics after `limit`.
    pub fn wait_healthy(&self, services: &[&str], limit: Duration) -> HashMap<String, Seen> {
        let started = Instant::now();
        loop {
            let seen = self.containers();
            let ok = services.iter().all(|s| {
                seen.get(*s)
                    .is_some_and(|c| c.state == "running" && (c.health.is_empty() || c.health == "healthy"))
            });
            if ok {
                return seen;
            }
            assert!(started.elapsed() < limit, "not healthy within {limit:?}: {seen:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Runs `argv` in the service's container (`docker-compose exec -T`).
    pub fn exec(&self, service: &str, argv: &[&str]) {
        let mut args = vec!["exec", "-T", service];
        args.extend_from_slice(argv);
        let out = self.compose(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Whether the project's named volume `name` exists.
    pub fn volume_exists(&self, name: &str) -> bool {
        let name = format!("{}_{name}", self.project);
        rt().block_on(async {
            let docker = self.lab.docker().await.expect("docker");
            docker.inspect_volume(&name).await.is_ok()
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let out = self.compose(&["down", "-v", "--remove-orphans", "-t", "1"]);
        if !out.status.success() {
            eprintln!(
                "cleanup of compose project {}: {}",
                self.project,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Service → its container, for every container of compose project
/// `project` on the lab's engine.
pub fn containers_of(lab: &Lab, project: &str) -> HashMap<String, Seen> {
    let project = project.to_string();
    rt().block_on(async {
        let docker = lab.docker().await.expect("docker");
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("com.docker.compose.project={project}")],
        )]);
        let list = docker
            .list_containers(Some(q::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .expect("list containers");
        let mut seen = HashMap::new();
        for c in list {
            let id = c.id.unwrap_or_default();
            let raw = docker
                .inspect_container(&id, None::<q::InspectContainerOptions>)
                .await
                .expect("inspect");
            let service = raw
                .config
                .and_then(|c| c.labels)
                .and_then(|l| l.get("com.docker.compose.service").cloned())
                .unwrap_or_default();
            let state = raw.state.unwrap_or_default();
            seen.insert(
                service,
                Seen {
                    name: raw.name.unwrap_or_default().trim_start_matches('/').to_string(),
                    state: state.status.map(|s| s.to_string()).unwrap_or_default(),
                    health: state
                        .health
                        .and_then(|h| h.status)
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    started_at: state.started_at.unwrap_or_default(),
                    exit_code: state.exit_code.unwrap_or_default(),
                },
            );
        }
        seen
    })
}

/// The compose file of the lab's main stack (project `toolboxai`), as
/// `lab/stack/containers.sh` brings it up.
pub fn lab_stack_file() -> PathBuf {
    repo_root().join("lab/stack/docker-compose.yml")
}

/// The main stack's project directory (its `.env`): `COMPOSE_PROJECT_DIR`,
/// or where `lab/stack/containers.sh` puts it, `.lab/compose`, for a
/// `.lab/env` written before that key existed.
pub fn lab_stack_dir(lab: &Lab) -> PathBuf {
    lab.get("COMPOSE_PROJECT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| lab.path(".lab/compose"))
}

/// The real CLI on the lab's main stack: [`lab_stack_file`] as project
/// `COMPOSE_PROJECT` in `COMPOSE_PROJECT_DIR` (its `.env`), with only
/// `PATH`, `HOME` and `DOCKER_HOST` in its environment — as
/// `lab/stack/containers.sh` and drhost's compose target run it, so it
/// computes the same config hashes they do.
pub fn lab_stack_compose(lab: &Lab, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("docker-compose");
    cmd.env_clear()
        .args(["--ansi", "never", "-f"])
        .arg(lab_stack_file())
        .arg("--project-directory")
        .arg(lab_stack_dir(lab))
        .args(["-p", lab.get("COMPOSE_PROJECT").expect("COMPOSE_PROJECT")])
        .args(args)
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").expect("DOCKER_HOST"));
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.output()
        .expect("docker-compose runs (apt-get install docker-compose)")
}
