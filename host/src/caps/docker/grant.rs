//! What the operator grants for `docker`, and the checks made at every call.
//!
//! One `[[plugins.<id>.docker]]` table selects containers (name globs and/or
//! compose project/service labels), says what may be done to them
//! (`access`), which argv may be exec'd in them, which networks and which
//! image references the plugin may use. Several tables add up.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::caps::shell::{glob_escape, toml_string, ArgPattern};

/// The compose label naming the project.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// The compose label naming the service.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// `[[plugins.<id>.docker]]`: what one plugin may do with Docker.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DockerGrant {
    /// Globs over container names, e.g. `["toolboxai-backend*"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ArgPattern>,
    /// Only containers whose `com.docker.compose.project` label is this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_project: Option<String>,
    /// Only containers whose `com.docker.compose.service` label matches this glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose_service: Option<ArgPattern>,
    /// `["read"]` (list, inspect, logs, stats, network list/inspect) or
    /// `["read", "write"]` (also start, stop, restart, exec, recreate, tag,
    /// network create/remove/connect/disconnect). `write` implies `read`.
    #[serde(default = "read_only")]
    pub access: Vec<DockerAccess>,
    /// Argv patterns for `exec`, one glob per argument (`"**"` last matches
    /// the rest), e.g. `[["nc", "-z", "-w", "*", "*", "*"]]`. Empty: no exec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<Vec<ArgPattern>>,
    /// Globs over network names, e.g. `["toolboxai_*"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<ArgPattern>,
    /// Globs over image references for tag and recreate, e.g. `["toolboxai/backend:*"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ArgPattern>,
}

/// An operation class a docker grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DockerAccess {
    /// Looks only.
    Read,
    /// Changes state (implies read).
    Write,
}

fn read_only() -> Vec<DockerAccess> {
    vec![DockerAccess::Read]
}

/// A container as the checks see it: its name and labels.
#[derive(Debug, Clone, Default)]
pub struct ContainerIdentity {
    /// Without the leading `/`.
    pub name: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
}

impl ContainerIdentity {
    /// The compose project label, if any.
    pub fn compose_project(&self) -> Option<&str> {
        self.labels.get(COMPOSE_PROJECT).map(String::as_str)
    }

    /// The compose service label, if any.
    pub fn compose_service(&self) -> Option<&str> {
        self.labels.get(COMPOSE_SERVICE).map(String::as_str)
    }
}

impl DockerGrant {
    /// Whether this grant allows `access`.
    pub fn allows_access(&self, access: DockerAccess) -> bool {
        self.access.contains(&DockerAccess::Write) || self.access.contains(&access)
    }

    /// Whether this grant selects the container at all (a grant with no
    /// container selector selects none).
    pub fn selects(&self, container: &ContainerIdentity) -> bool {
        if self.containers.is_empty() && self.compose_project.is_none() && self.compose_service.is_none() {
            return false;
        }
        let name_ok = self.containers.is_empty() || self.containers.iter().any(|g| g.matches(&container.name));
        let project_ok = self
            .compose_project
            .as_deref()
            .is_none_or(|p| container.compose_project() == Some(p));
        let service_ok = self
            .compose_service
            .as_ref()
            .is_none_or(|g| container.compose_service().is_some_and(|s| g.matches(s)));
        name_ok && project_ok && service_ok
    }

    /// Whether this grant allows `access` on the container.
    pub fn allows_container(&self, container: &ContainerIdentity, access: DockerAccess) -> bool {
        self.allows_access(access) && self.selects(container)
    }

    /// Whether this grant allows exec of `argv` in the container.
    pub fn allows_exec(&self, container: &ContainerIdentity, argv: &[String]) -> bool {
        self.allows_container(container, DockerAccess::Write) && self.exec.iter().any(|p| argv_matches(p, argv))
    }

    /// Whether this grant allows `access` on network `name`.
    pub fn allows_network(&self, name: &str, access: DockerAccess) -> bool {
        self.allows_access(access) && self.networks.iter().any(|g| g.matches(name))
    }

    /// Whether this grant allows writing image reference `reference`.
    pub fn allows_image(&self, reference: &str) -> bool {
        self.allows_access(DockerAccess::Write) && self.images.iter().any(|g| g.matches(reference))
    }

    /// Whether this grant covers a need declared in `describe`: `target` is
    /// a container-name glob, `network:GLOB` or `image:GLOB`. A glob covers
    /// a need when it is the same text or matches the need's text literally
    /// (`toolboxai-*` covers `toolboxai-backend*`). A grant selecting by
    /// compose labels only covers any container need; the call-time check
    /// still applies.
    pub fn covers(&self, target: &str, access: DockerAccess) -> bool {
        if !self.allows_access(access) {
            return false;
        }
        let covered = |globs: &[ArgPattern], want: &str| globs.iter().any(|g| g.as_str() == want || g.matches(want));
        if let Some(network) = target.strip_prefix("network:") {
            covered(&self.networks, network)
        } else if let Some(image) = target.strip_prefix("image:") {
            covered(&self.images, image)
        } else if self.containers.is_empty() {
            self.compose_project.is_some() || self.compose_service.is_some()
        } else {
            covered(&self.containers, target)
        }
    }
}

/// Whether `argv` matches the per-position globs of `patterns`, under the
/// same argument rules as `shell` grants (no NUL, no option through `*`,
/// normal paths only against a path pattern).
fn argv_matches(patterns: &[ArgPattern], argv: &[String]) -> bool {
    crate::caps::shell::check_argv(patterns, argv).is_ok()
}

fn access_line(access: DockerAccess) -> &'static str {
    match access {
        DockerAccess::Read => "access = [\"read\"]",
        DockerAccess::Write => "access = [\"read\", \"write\"]",
    }
}

/// The TOML that would grant `access` on a container named `name` (given
/// literally) or on the containers matching glob `glob`.
pub fn container_lines(id: &str, container: &str, literal: bool, access: DockerAccess) -> String {
    let glob = if literal {
        glob_escape(container)
    } else {
        container.to_string()
    };
    format!(
        "[[plugins.{id}.docker]]\ncontainers = [{}]\n{}",
        toml_string(&glob),
        access_line(access)
    )
}

/// The TOML that would grant exec of `argv` in `container`.
pub fn exec_lines(id: &str, container: &str, argv: &[String]) -> String {
    let argv = argv
        .iter()
        .map(|a| toml_string(&glob_escape(a)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[plugins.{id}.docker]]\ncontainers = [{}]\n{}\nexec = [[{argv}]]",
        toml_string(&glob_escape(container)),
        access_line(DockerAccess::Write)
    )
}

/// The TOML that would grant `access` on network `network` (literal or glob).
pub fn network_lines(id: &str, network: &str, literal: bool, access: DockerAccess) -> String {
    let glob = if literal {
        glob_escape(network)
    } else {
        network.to_string()
    };
    format!(
        "[[plugins.{id}.docker]]\nnetworks = [{}]\n{}",
        toml_string(&glob),
        access_line(access)
    )
}

/// The TOML that would grant writing image reference `image` (literal or glob).
pub fn image_lines(id: &str, image: &str, literal: bool) -> String {
    let glob = if literal { glob_escape(image) } else { image.to_string() };
    format!(
        "[[plugins.{id}.docker]]\nimages = [{}]\n{}",
        toml_string(&glob),
        access_line(DockerAccess::Write)
    )
}

/// The TOML that would cover a `describe` need (see [`DockerGrant::covers`]).
pub fn need_lines(id: &str, target: &str, access: DockerAccess) -> String {
    if let Some(network) = target.strip_prefix("network:") {
        network_lines(id, network, false, access)
    } else if let Some(image) = target.strip_prefix("image:") {
        image_lines(id, image, false)
    } else {
        container_lines(id, target, false, access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DockerGrant {
        toml::from_str(text).unwrap()
    }

    fn container(name: &str, service: Option<&str>) -> ContainerIdentity {
        let mut labels = HashMap::new();
        if let Some(s) = service {
            labels.insert(COMPOSE_PROJECT.to_string(), "toolboxai".to_string());
            labels.insert(COMPOSE_SERVICE.to_string(), s.to_string());
        }
        ContainerIdentity {
            name: name.into(),
            labels,
        }
    }

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn read_is_the_default_and_write_implies_read() {
        let g = parse("containers = [\"toolboxai-backend*\"]");
        let b2 = container("toolboxai-backend2", Some("backend2"));
        assert!(g.allows_container(&b2, DockerAccess::Read));
        assert!(!g.allows_container(&b2, DockerAccess::Write));
        let g = parse("containers = [\"toolboxai-backend*\"]\naccess = [\"write\"]");
        assert!(g.allows_container(&b2, DockerAccess::Read));
        assert!(g.allows_container(&b2, DockerAccess::Write));
        assert!(!g.allows_container(
            &container("toolboxai-nginx-proxy", Some("nginx-proxy")),
            DockerAccess::Read
        ));
    }

    #[test]
    fn compose_labels_narrow_and_select() {
        let g =
            parse("compose_project = \"toolboxai\"\ncompose_service = \"backend*\"\naccess = [\"read\", \"write\"]");
        assert!(g.selects(&container("anything", Some("backend1"))));
        assert!(!g.selects(&container("anything", Some("nginx-proxy"))));
        assert!(!g.selects(&container("toolboxai-backend1", None)));
        let nothing = parse("networks = [\"toolboxai_*\"]");
        assert!(!nothing.selects(&container("toolboxai-backend1", Some("backend1"))));
        assert!(nothing.allows_network("toolboxai_cache", DockerAccess::Read));
        assert!(!nothing.allows_network("toolboxai_cache", DockerAccess::Write));
        assert!(!nothing.allows_network("bridge", DockerAccess::Read));
    }

    #[test]
    fn exec_needs_write_and_a_matching_argv() {
        let g = parse("containers = [\"toolboxai-*\"]\naccess = [\"read\", \"write\"]\nexec = [[\"nc\", \"-z\", \"-w\", \"*\", \"*\", \"*\"], [\"ping\", \"**\"]]");
        let b1 = container("toolboxai-backend1", None);
        assert!(g.allows_exec(&b1, &argv(&["nc", "-z", "-w", "2", "redis", "6379"])));
        assert!(g.allows_exec(&b1, &argv(&["ping", "-c1", "backend2"])));
        assert!(!g.allows_exec(&b1, &argv(&["sh", "-c", "rm -rf /"])));
        assert!(!g.allows_exec(&b1, &argv(&["nc", "-z"])));
        let read = parse("containers = [\"toolboxai-*\"]\nexec = [[\"**\"]]");
        assert!(!read.allows_exec(&b1, &argv(&["true"])));
    }

    #[test]
    fn needs_are_covered_by_wider_globs() {
        let g = parse("containers = [\"toolboxai-*\"]\nnetworks = [\"toolboxai_*\"]\nimages = [\"toolboxai/backend:*\"]\naccess = [\"read\", \"write\"]");
        assert!(g.covers("toolboxai-backend*", DockerAccess::Write));
        assert!(g.covers("network:toolboxai_backend", DockerAccess::Write));
        assert!(g.covers("image:toolboxai/backend:*", DockerAccess::Write));
        assert!(!g.covers("other-*", DockerAccess::Read));
        assert!(!g.covers("image:postgres:*", DockerAccess::Write));
        let r = parse("containers = [\"*\"]");
        assert!(r.covers("toolboxai-*", DockerAccess::Read));
        assert!(!r.covers("toolboxai-*", DockerAccess::Write));
    }

    #[test]
    fn suggested_lines_parse_back_and_allow() {
        let lines = exec_lines("p", "toolboxai-backend1", &argv(&["ping", "-c1", "backend*2"]));
        let table: toml::Value = toml::from_str(&lines.replace("[[plugins.p.docker]]\n", "")).unwrap();
        let g: DockerGrant = table.try_into().unwrap();
        assert!(g.allows_exec(
            &container("toolboxai-backend1", None),
            &argv(&["ping", "-c1", "backend*2"])
        ));
        assert!(!g.allows_exec(
            &container("toolboxai-backend1", None),
            &argv(&["ping", "-c1", "backend22"])
        ));
        let lines = container_lines("p", "toolboxai-nginx-proxy", true, DockerAccess::Write);
        assert!(
            lines.contains("containers = [\"toolboxai-nginx-proxy\"]") && lines.contains("\"write\""),
            "{lines}"
        );
    }
}
