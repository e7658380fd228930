//! The compose operations on one project: open (the grant, the target and
//! the file's services), ps (the project's containers and their states
//! from the Docker Engine, by compose's labels), up (and the wait until the services run), down,
//! restart and logs. The grant checks per operation are made by the
//! caller (`host.rs`) before any of these runs.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, RestartPolicyNameEnum};
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};

use super::cli::{Budget, ComposeCli};
use super::grant::{check_service_name, grant_lines, ComposeAccess};
use super::Project;
use crate::bindings::drhost::runbook::compose::ServiceState;
use crate::bindings::types::Error as CapError;
use crate::caps::docker::{engine_error, COMPOSE_PROJECT, COMPOSE_SERVICE};
use crate::sandbox::RunContext;

/// Stdout kept from `config --services` and `up`/`restart`; more fails the call.
const LIST_CAP: usize = 1 << 20;
/// Most lines `logs` returns.
pub const MAX_LOG_LINES: u32 = 10_000;
/// Most bytes of log output read (the newest are kept).
const LOG_BYTES: usize = 4 << 20;
/// Longest log line returned; the rest of the line is dropped.
const LOG_LINE_BYTES: usize = 16 * 1024;
/// How often `up` looks whether the services run yet.
const POLL: Duration = Duration::from_millis(250);
/// The label compose puts on containers of `run` (one-off), not services'.
const COMPOSE_ONEOFF: &str = "com.docker.compose.oneoff";

/// Opens `label`: a grant must name it (else `access-denied`), the target
/// must be defined (else `not-found` naming the table to add) and its file
/// must exist; the file's services are read with `config --services`.
pub(super) async fn open(ctx: &RunContext, cli: ComposeCli, label: &str) -> Result<Project, CapError> {
    let refusal = || {
        let grant = grant_lines(&ctx.plugin_id, label, &[ComposeAccess::Read]);
        crate::caps::kit::text::not_granted(&format!("compose target `{label}`"), &ctx.plugin_id, &grant)
    };
    let target = super::TARGETS.granted(&ctx.grants.compose, &ctx.grants.compose_targets, label, refusal)?;
    if !target.file.is_file() {
        return Err(CapError::Unavailable(format!(
            "the compose file {} of target `{label}` is not there; fix `file` in [targets.compose.{}]",
            target.file.display(),
            crate::caps::kit::text::toml_key(label)
        )));
    }
    let budget = Budget::of(ctx, target);
    let ran = cli
        .run(label, target, "open", &["config", "--services"], LIST_CAP, budget)
        .await?;
    let services = list_lines(&ran.stdout, ran.stdout_cut, label, "config --services")?;
    Ok(Project {
        label: label.to_string(),
        target: target.clone(),
        cli,
        services,
    })
}

/// The lines of a listing's stdout; `failed` when it was cut.
fn list_lines(stdout: &[u8], cut: bool, label: &str, what: &str) -> Result<Vec<String>, CapError> {
    if cut {
        return Err(CapError::Failed(format!(
            "compose {what} on target `{label}` printed more than {} KiB",
            LIST_CAP >> 10
        )));
    }
    Ok(String::from_utf8_lossy(stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

impl Project {
    /// The label, as the journal shows it.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// `names` checked (compose's characters, and defined in the file) and
    /// without repeats; `invalid-argument` or `not-found` otherwise.
    pub(super) fn services_named(&self, names: &[String]) -> Result<Vec<String>, CapError> {
        let mut checked: Vec<String> = Vec::new();
        for name in names {
            check_service_name(name)?;
            if !self.services.contains(name) {
                return Err(CapError::NotFound(format!(
                    "compose target `{}` has no service `{name}`; its file {} defines: {}",
                    self.label,
                    self.target.file.display(),
                    self.services.join(", ")
                )));
            }
            if !checked.contains(name) {
                checked.push(name.clone());
            }
        }
        Ok(checked)
    }

    /// The compose CLI's `SUBCOMMAND [OPTIONS] [-- SERVICES]` arguments.
    fn args<'a>(sub: &[&'a str], services: &'a [String]) -> Vec<&'a str> {
        let mut args = sub.to_vec();
        if !services.is_empty() {
            args.push("--");
            args.extend(services.iter().map(String::as_str));
        }
        args
    }

    /// Every container of `services` (all when empty), running or not, as
    /// the Docker Engine reports it now.
    pub(super) async fn ps(
        &self,
        docker: &bollard::Docker,
        services: &[String],
        budget: Budget,
    ) -> Result<Vec<ServiceState>, CapError> {
        let ids = self.container_ids(docker, services, "ps", budget).await?;
        let containers = self.inspect(docker, &ids, budget).await?;
        Ok(containers.iter().map(state_of).collect())
    }

    /// The ids of the containers of `services` (all when empty), running
    /// or not: what `ps -a -q` prints, asked of the Docker Engine by the
    /// project's label as compose itself does (one engine call instead of
    /// a compose process, which costs 0.3-1 s of start-up per call).
    /// One-off `run` containers and other projects' are left out by
    /// [`Project::inspect`].
    async fn container_ids(
        &self,
        docker: &bollard::Docker,
        services: &[String],
        what: &str,
        budget: Budget,
    ) -> Result<Vec<String>, CapError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{COMPOSE_PROJECT}={}", self.target.project)],
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let found = self
            .engine(what, budget, docker.list_containers(Some(options)))
            .await?
            .map_err(engine_error)?;
        Ok(found
            .into_iter()
            .filter(|c| {
                services.is_empty()
                    || c.labels
                        .as_ref()
                        .and_then(|l| l.get(COMPOSE_SERVICE))
                        .is_some_and(|s| services.contains(s))
            })
            .filter_map(|c| c.id)
            .filter(|id| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit()))
            .collect())
    }

    /// One Docker Engine call of compose `what`, bounded by the target's
    /// budget: its own result, or `timeout` naming the target and budget.
    async fn engine<T>(
        &self,
        what: &str,
        budget: Budget,
        call: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<Result<T, bollard::errors::Error>, CapError> {
        tokio::time::timeout_at(tokio::time::Instant::from_std(budget.until), call)
            .await
            .map_err(|_| {
                CapError::Timeout(format!(
                    "compose {what} on target `{}`: the Docker Engine did not answer within {}",
                    self.label,
                    budget.text(&self.label)
                ))
            })
    }

    /// The project's service containers among `ids` (a container removed
    /// meanwhile, another project's or a one-off `run` is left out),
    /// ordered as the file's services are (`config --services`, which
    /// compose lists in dependency order: a service after those it
    /// depends on), then by name.
    async fn inspect(
        &self,
        docker: &bollard::Docker,
        ids: &[String],
        budget: Budget,
    ) -> Result<Vec<Container>, CapError> {
        let mut found = Vec::new();
        for id in ids {
            let asked = docker.inspect_container(id, None::<InspectContainerOptions>);
            let raw = match self.engine("ps", budget, asked).await? {
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => continue,
                Err(e) => return Err(engine_error(e)),
                Ok(raw) => raw,
            };
            if let Some(container) = Container::of(raw, &self.target.project) {
                found.push(container);
            }
        }
        let rank = |service: &str| {
            self.services
                .iter()
                .position(|s| s == service)
                .unwrap_or(self.services.len())
        };
        found.sort_by(|a, b| (rank(&a.service), &a.service, &a.name).cmp(&(rank(&b.service), &b.service, &b.name)));
        Ok(found)
    }

    /// `up -d --no-build [-- SERVICES]` (`--build` when the target says
    /// `build = true`), then waits until every container
    /// of `services` (all the project's when empty) runs: `failed` when a
    /// named service has no container or one stopped and will not be
    /// restarted, `timeout` when the budget is up first.
    pub(super) async fn up(
        &self,
        docker: &bollard::Docker,
        services: &[String],
        budget: Budget,
    ) -> Result<Vec<ServiceState>, CapError> {
        let build = if self.target.build { "--build" } else { "--no-build" };
        let args = Self::args(&["up", "-d", build], services);
        self.cli
            .run(&self.label, &self.target, "up", &args, LIST_CAP, budget)
            .await?;
        let ids = self.container_ids(docker, services, "up", budget).await?;
        loop {
            let containers = self.inspect(docker, &ids, budget).await?;
            // Named services must have a container; with none named, the
            // ones compose started (a service in an inactive profile has none).
            let missing: Vec<&str> = services
                .iter()
                .filter(|s| !containers.iter().any(|c| &c.service == *s))
                .map(|s| s.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(CapError::Failed(format!(
                    "compose up on target `{}` left no container for {}",
                    self.label,
                    missing.join(", ")
                )));
            }
            if let Some(stopped) = containers.iter().find(|c| c.stopped_for_good()) {
                return Err(CapError::Failed(format!(
                    "compose up on target `{}`: service `{}` (container {}) {} with code {} and has no restart policy; see its logs",
                    self.label,
                    stopped.service,
                    stopped.name,
                    stopped.state,
                    stopped.exit_code.unwrap_or_default()
                )));
            }
            let waiting: Vec<String> = containers
                .iter()
                .filter(|c| c.state != "running")
                .map(|c| format!("{} ({})", c.name, c.state))
                .collect();
            if waiting.is_empty() {
                return Ok(containers.iter().map(state_of).collect());
            }
            if std::time::Instant::now() + POLL >= budget.until {
                return Err(CapError::Timeout(format!(
                    "compose up on target `{}`: not running within {}: {}",
                    self.label,
                    budget.text(&self.label),
                    waiting.join(", ")
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `restart [-- SERVICES]`, then the containers of `services` (all
    /// when empty) as they are afterwards.
    pub(super) async fn restart(
        &self,
        docker: &bollard::Docker,
        services: &[String],
        budget: Budget,
    ) -> Result<Vec<ServiceState>, CapError> {
        let args = Self::args(&["restart"], services);
        self.cli
            .run(&self.label, &self.target, "restart", &args, LIST_CAP, budget)
            .await?;
        self.ps(docker, services, budget).await
    }

    /// `down --remove-orphans`, with `-v` (the named volumes too) when `volumes`.
    pub(super) async fn down(&self, volumes: bool, budget: Budget) -> Result<(), CapError> {
        let args: &[&str] = if volumes {
            &["down", "-v", "--remove-orphans"]
        } else {
            &["down", "--remove-orphans"]
        };
        self.cli
            .run(&self.label, &self.target, "down", args, LIST_CAP, budget)
            .await?;
        Ok(())
    }

    /// The last `tail` lines (at most [`MAX_LOG_LINES`]) of `service`'s
    /// logs, oldest first, each starting with the time the engine took it
    /// (RFC 3339 in UTC with nanoseconds and a space, as `docker logs -t`
    /// prints it), so a plugin can merge services' lines by time and read
    /// only what is new: `logs --no-color --no-log-prefix --timestamps
    /// --tail N -- SERVICE`.
    pub(super) async fn logs(&self, service: &str, tail: u32, budget: Budget) -> Result<Vec<String>, CapError> {
        if tail > MAX_LOG_LINES {
            return Err(CapError::InvalidArgument(format!(
                "compose logs: tail {tail} is over {MAX_LOG_LINES} lines; ask for fewer"
            )));
        }
        let count = tail.to_string();
        let args = [
            "logs",
            "--no-color",
            "--no-log-prefix",
            "--timestamps",
            "--tail",
            &count,
            "--",
            service,
        ];
        let ran = self
            .cli
            .run(&self.label, &self.target, "logs", &args, LOG_BYTES, budget)
            .await?;
        Ok(log_lines(&ran.stdout, ran.stdout_cut, self.cli.is_v1(), tail as usize))
    }
}

/// The log lines in `stdout`: without a first partial line when earlier
/// output was dropped, without v1's `Attaching to …` header, each cut to
/// [`LOG_LINE_BYTES`], the last `tail` of them.
fn log_lines(stdout: &[u8], cut: bool, v1: bool, tail: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    // A cut stream starts mid-line; v1 starts with `Attaching to …`.
    let header = v1 && lines.first().is_some_and(|l| l.starts_with("Attaching to "));
    if (cut || header) && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(tail);
    lines
        .into_iter()
        .skip(skip)
        .map(|l| crate::caps::kit::text::truncate(l.strip_suffix('\r').unwrap_or(l), LOG_LINE_BYTES).to_string())
        .collect()
}

/// One service container, as read from the Docker Engine.
struct Container {
    service: String,
    name: String,
    state: String,
    health: Option<String>,
    exit_code: Option<i32>,
    /// No restart policy: once stopped, it stays stopped.
    no_restart: bool,
}

impl Container {
    /// `raw`, when it is a service container of `project`.
    fn of(raw: ContainerInspectResponse, project: &str) -> Option<Container> {
        let labels: HashMap<String, String> = raw.config.and_then(|c| c.labels).unwrap_or_default();
        if labels.get(COMPOSE_PROJECT).map(String::as_str) != Some(project)
            || labels
                .get(COMPOSE_ONEOFF)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return None;
        }
        let service = labels.get(COMPOSE_SERVICE)?.clone();
        let state = raw.state.unwrap_or_default();
        let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
        let stopped = matches!(
            status,
            ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD
        );
        let policy = raw
            .host_config
            .and_then(|h| h.restart_policy)
            .and_then(|p| p.name)
            .unwrap_or(RestartPolicyNameEnum::EMPTY);
        Some(Container {
            service,
            name: raw.name.unwrap_or_default().trim_start_matches('/').to_string(),
            state: status.to_string(),
            health: state
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none"),
            exit_code: stopped
                .then(|| state.exit_code.and_then(|c| i32::try_from(c).ok()))
                .flatten(),
            no_restart: matches!(policy, RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO),
        })
    }

    /// Stopped, and nothing will start it again.
    fn stopped_for_good(&self) -> bool {
        self.exit_code.is_some() && self.no_restart
    }
}

fn state_of(c: &Container) -> ServiceState {
    ServiceState {
        service: c.service.clone(),
        container: c.name.clone(),
        state: c.state.clone(),
        health: c.health.clone(),
        exit_code: c.exit_code,
    }
}

#[cfg(test)]
mod tests {
    use super::log_lines;

    #[test]
    fn log_lines_are_the_newest_without_headers() {
        let out = b"Attaching to p_a_1\none\ntwo\r\nthree\n";
        assert_eq!(log_lines(out, false, true, 10), ["one", "two", "three"]);
        assert_eq!(log_lines(out, false, true, 2), ["two", "three"]);
        assert_eq!(
            log_lines(out, false, false, 10),
            ["Attaching to p_a_1", "one", "two", "three"]
        );
        // Cut output starts mid-line: that line is dropped.
        assert_eq!(log_lines(b"ne\ntwo\n", true, true, 10), ["two"]);
        assert!(log_lines(b"", false, true, 10).is_empty());
        assert!(log_lines(b"Attaching to p_a_1\n", false, true, 10).is_empty());
        let long = format!("{}\n", "x".repeat(20_000));
        assert_eq!(
            log_lines(long.as_bytes(), false, true, 1)[0].len(),
            super::LOG_LINE_BYTES
        );
    }
}
