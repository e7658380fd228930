//! What the operator grants for `docker`, and what one grant allows.
//!
//! One `[[plugins.<id>.docker]]` table selects containers (name globs and/or
//! compose project/service labels), says what may be done to them
//! (`access`), which argv may be exec'd in them, which networks, image
//! references and Docker secrets the plugin may use, and whether it may
//! make the engine a swarm manager. Several tables add up. The checks
//! a call makes against all of a plugin's grants are in `check.rs`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::syntax::{Cidr, KeyPattern};
use crate::caps::kit::pattern::{glob_escape, ArgPattern};
use crate::caps::kit::text::toml_string;

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
    /// A reference is always `name[:tag]`: digests (`@sha256:…`) and image
    /// ids are refused, whatever the glob says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ArgPattern>,
    /// Environment variables an `exec` of this grant may set: `NAME` (any
    /// value) or `NAME=GLOB` (values matching the glob), e.g.
    /// `["LANG", "PGCONNECT_TIMEOUT=[0-9]*"]`. Names are exact. Empty (the
    /// default): an exec may set none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec_env: Vec<KeyPattern>,
    /// Drivers `create-network` may use (exact names). Default `["bridge"]`.
    #[serde(default = "bridge_only")]
    pub network_drivers: Vec<String>,
    /// Driver options `create-network` may set: `KEY` (any value) or
    /// `KEY=GLOB`, e.g. `["com.docker.network.driver.mtu=1[0-9][0-9][0-9]"]`.
    /// Empty (the default): none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_options: Vec<KeyPattern>,
    /// Address ranges (CIDR) IPAM subnets, gateways and ip ranges of
    /// `create-network` must lie in, e.g. `["172.16.0.0/12"]`. Empty (the
    /// default): the plugin may not choose addresses; the engine picks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_subnets: Vec<Cidr>,
    /// Globs over DNS aliases `connect-network` may give a container on the
    /// networks of this grant, besides its own name and compose service
    /// (always allowed). Empty (the default): only those two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<ArgPattern>,
    /// Globs over Docker secret names, e.g. `["toolboxai-*"]`: `read` lists
    /// them (never a value: Docker does not return one), `write` creates
    /// them from host-held secrets and removes them. Also lets the plugin
    /// see whether the engine is a swarm manager (`swarm-inspect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<ArgPattern>,
    /// `true`: the plugin may make the engine a single-node swarm manager
    /// (`swarm-init`, which changes the engine for every user of it) and
    /// inspect the swarm. Default `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub swarm: bool,
}

fn bridge_only() -> Vec<String> {
    vec!["bridge".to_string()]
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

    /// Whether this grant allows exec of `argv` in the container, whatever
    /// the environment.
    pub fn allows_exec_argv(&self, container: &ContainerIdentity, argv: &[String]) -> bool {
        self.allows_container(container, DockerAccess::Write) && self.exec.iter().any(|p| argv_matches(p, argv))
    }

    /// Whether an exec of this grant may set variable `name` to `value`.
    pub fn allows_exec_env(&self, name: &str, value: &str) -> bool {
        self.exec_env.iter().any(|p| p.allows(name, value))
    }

    /// Whether this grant allows exec of `argv` in the container with the
    /// environment `env` (`(name, value)` pairs) added: the same grant must
    /// allow the argv and every variable.
    pub fn allows_exec(&self, container: &ContainerIdentity, argv: &[String], env: &[(String, String)]) -> bool {
        self.allows_exec_argv(container, argv) && env.iter().all(|(k, v)| self.allows_exec_env(k, v))
    }

    /// Why this grant would not let a network be created with `driver`,
    /// `options` and the address ranges `ranges` (None: it would). The
    /// network's name is checked separately ([`DockerGrant::allows_network`]).
    pub fn refuses_network_spec(
        &self,
        driver: &str,
        options: &[(String, String)],
        ranges: &[Cidr],
    ) -> Option<NetworkRefusal> {
        if !self.network_drivers.iter().any(|d| d == driver) {
            return Some(NetworkRefusal::Driver(driver.to_string()));
        }
        if let Some((k, v)) = options
            .iter()
            .find(|(k, v)| !self.network_options.iter().any(|p| p.allows(k, v)))
        {
            return Some(NetworkRefusal::Option(k.clone(), v.clone()));
        }
        if let Some(r) = ranges
            .iter()
            .find(|r| !self.network_subnets.iter().any(|g| g.contains(r)))
        {
            return Some(NetworkRefusal::Range(*r));
        }
        None
    }

    /// Whether this grant lets `alias` be given on its networks (the
    /// container's own name and compose service are checked by the caller).
    pub fn allows_alias(&self, alias: &str) -> bool {
        self.network_aliases.iter().any(|g| g.matches(alias))
    }

    /// Whether this grant allows `access` on network `name`.
    pub fn allows_network(&self, name: &str, access: DockerAccess) -> bool {
        self.allows_access(access) && self.networks.iter().any(|g| g.matches(name))
    }

    /// Whether this grant allows `access` on the Docker secret `name`.
    pub fn allows_secret(&self, name: &str, access: DockerAccess) -> bool {
        self.allows_access(access) && self.secrets.iter().any(|g| g.matches(name))
    }

    /// Whether this grant lets the plugin see the swarm (`swarm-inspect`):
    /// `swarm = true`, or any Docker secrets.
    pub fn allows_swarm_inspect(&self) -> bool {
        self.swarm || !self.secrets.is_empty()
    }

    /// Whether this grant allows writing image reference `reference`.
    pub fn allows_image(&self, reference: &str) -> bool {
        self.allows_access(DockerAccess::Write) && self.images.iter().any(|g| g.matches(reference))
    }

    /// Whether this grant covers a need declared in `describe`: `target` is
    /// a container-name glob, `network:GLOB`, `image:GLOB`, `secret:GLOB`,
    /// or `swarm` (read: see the swarm; write or admin: `swarm = true`). A glob covers
    /// a need when it is the same text or matches the need's text literally
    /// (`toolboxai-*` covers `toolboxai-backend*`). A grant selecting by
    /// compose labels only covers any container need; the call-time check
    /// still applies.
    pub fn covers(&self, target: &str, access: DockerAccess) -> bool {
        // `swarm` is its own grant, whatever `access` says.
        if target == "swarm" {
            return match access {
                DockerAccess::Read => self.allows_swarm_inspect(),
                DockerAccess::Write => self.swarm,
            };
        }
        if !self.allows_access(access) {
            return false;
        }
        let covered = |globs: &[ArgPattern], want: &str| globs.iter().any(|g| g.as_str() == want || g.matches(want));
        if let Some(network) = target.strip_prefix("network:") {
            covered(&self.networks, network)
        } else if let Some(image) = target.strip_prefix("image:") {
            covered(&self.images, image)
        } else if let Some(secret) = target.strip_prefix("secret:") {
            covered(&self.secrets, secret)
        } else if self.containers.is_empty() {
            self.compose_project.is_some() || self.compose_service.is_some()
        } else {
            covered(&self.containers, target)
        }
    }
}

/// What part of a network spec a grant refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkRefusal {
    /// The driver is not in `network_drivers`.
    Driver(String),
    /// The driver option `key=value` is not in `network_options`.
    Option(String, String),
    /// The address range is in none of `network_subnets`.
    Range(Cidr),
}

impl NetworkRefusal {
    /// What is refused, for the error line.
    pub fn what(&self) -> String {
        match self {
            NetworkRefusal::Driver(d) => format!("network driver `{d}`"),
            NetworkRefusal::Option(k, v) => format!("network driver option `{k}={v}`"),
            NetworkRefusal::Range(r) => format!("network addresses {r}"),
        }
    }

    /// The grant line that would allow it.
    pub fn line(&self) -> String {
        match self {
            NetworkRefusal::Driver(d) => format!("network_drivers = [{}]", toml_string(d)),
            NetworkRefusal::Option(k, v) => {
                format!(
                    "network_options = [{}]",
                    toml_string(&format!("{k}={}", glob_escape(v)))
                )
            }
            NetworkRefusal::Range(r) => format!("network_subnets = [{}]", toml_string(&r.to_string())),
        }
    }
}

/// Whether `argv` matches the per-position globs of `patterns`, under the
/// same argument rules as `shell` grants (no NUL, no option through `*`,
/// normal paths only against a path pattern).
fn argv_matches(patterns: &[ArgPattern], argv: &[String]) -> bool {
    crate::caps::kit::pattern::check_argv(patterns, argv).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::caps::docker::syntax::{parse_exec_env, MAX_EXEC_ENV};

    fn parse(text: &str) -> DockerGrant {
        toml::from_str(text).unwrap()
    }

    /// A container named `name`, in compose service `service` of `toolboxai`.
    pub(crate) fn container(name: &str, service: Option<&str>) -> ContainerIdentity {
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

    pub(crate) fn argv(args: &[&str]) -> Vec<String> {
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
        assert!(g.allows_exec_argv(&b1, &argv(&["nc", "-z", "-w", "2", "redis", "6379"])));
        assert!(g.allows_exec_argv(&b1, &argv(&["ping", "-c1", "backend2"])));
        assert!(!g.allows_exec_argv(&b1, &argv(&["sh", "-c", "rm -rf /"])));
        assert!(!g.allows_exec_argv(&b1, &argv(&["nc", "-z"])));
        let read = parse("containers = [\"toolboxai-*\"]\nexec = [[\"**\"]]");
        assert!(!read.allows_exec_argv(&b1, &argv(&["true"])));
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
    fn exec_env_is_denied_unless_listed_and_names_are_strict() {
        let g = parse("containers = [\"c\"]\naccess = [\"read\", \"write\"]\nexec = [[\"env\"]]\nexec_env = [\"LANG\", \"PGCONNECT_TIMEOUT=[0-9]*\"]");
        let c = container("c", None);
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(g.allows_exec(&c, &argv(&["env"]), &[]));
        assert!(g.allows_exec(&c, &argv(&["env"]), &env(&[("LANG", "anything at all")])));
        assert!(g.allows_exec(&c, &argv(&["env"]), &env(&[("PGCONNECT_TIMEOUT", "5")])));
        assert!(!g.allows_exec(&c, &argv(&["env"]), &env(&[("PGCONNECT_TIMEOUT", "x")])));
        for name in ["LD_PRELOAD", "PATH", "PGOPTIONS", "lang", "LANGUAGE"] {
            assert!(!g.allows_exec(&c, &argv(&["env"]), &env(&[(name, "v")])), "{name}");
        }
        let none = parse("containers = [\"c\"]\naccess = [\"write\"]\nexec = [[\"**\"]]");
        assert!(!none.allows_exec(&c, &argv(&["env"]), &env(&[("LANG", "C")])));
        // Names are exact: globs in a grant's names are refused at load.
        assert!(toml::from_str::<DockerGrant>("exec_env = [\"LD_*\"]").is_err());
        assert!(toml::from_str::<DockerGrant>("exec_env = [\"\"]").is_err());

        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_exec_env(&strings(&["A=1", "B_2=x=y", "C="])).unwrap(),
            env(&[("A", "1"), ("B_2", "x=y"), ("C", "")])
        );
        for bad in [
            "BASH_FUNC_x%%=() { id; }",
            "NOEQUALS",
            "=v",
            "1A=v",
            "A B=v",
            "A-B=v",
            "A=\0",
        ] {
            assert!(parse_exec_env(&strings(&[bad])).is_err(), "{bad}");
        }
        assert!(parse_exec_env(&vec!["A=1".to_string(); MAX_EXEC_ENV + 1]).is_err());
    }

    #[test]
    fn network_specs_need_granted_driver_options_and_ranges() {
        let g = parse("networks = [\"n_*\"]\naccess = [\"write\"]");
        assert_eq!(g.refuses_network_spec("bridge", &[], &[]), None);
        assert_eq!(
            g.refuses_network_spec("macvlan", &[], &[]),
            Some(NetworkRefusal::Driver("macvlan".into()))
        );
        let opt = vec![("com.docker.network.bridge.name".to_string(), "eth0".to_string())];
        assert_eq!(
            g.refuses_network_spec("bridge", &opt, &[]),
            Some(NetworkRefusal::Option(opt[0].0.clone(), opt[0].1.clone()))
        );
        let r = Cidr::parse("172.18.0.0/16").unwrap();
        assert_eq!(
            g.refuses_network_spec("bridge", &[], &[r]),
            Some(NetworkRefusal::Range(r))
        );

        let g = parse("networks = [\"n_*\"]\naccess = [\"write\"]\nnetwork_drivers = [\"bridge\", \"overlay\"]\nnetwork_options = [\"com.docker.network.driver.mtu=1[0-9][0-9][0-9]\"]\nnetwork_subnets = [\"172.16.0.0/12\", \"fd00::/8\"]");
        assert_eq!(g.refuses_network_spec("overlay", &[], &[]), None);
        let mtu = |v: &str| vec![("com.docker.network.driver.mtu".to_string(), v.to_string())];
        assert_eq!(g.refuses_network_spec("bridge", &mtu("1400"), &[]), None);
        assert!(g.refuses_network_spec("bridge", &mtu("65000"), &[]).is_some());
        for inside in ["172.18.0.0/16", "172.31.255.0/24", "172.18.0.1", "fd12:3456::/64"] {
            let r = Cidr::parse(inside).unwrap();
            assert_eq!(g.refuses_network_spec("bridge", &[], &[r]), None, "{inside}");
        }
        for outside in [
            "172.0.0.0/8",
            "169.254.169.0/24",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "192.168.1.0/24",
            "2001:db8::/32",
        ] {
            let r = Cidr::parse(outside).unwrap();
            assert!(g.refuses_network_spec("bridge", &[], &[r]).is_some(), "{outside}");
        }
        for bad in [
            "172.16.0.0/33",
            "172.16.0.0/",
            "172.16/12",
            "nope",
            "::/129",
            "1.2.3.4/+1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
    }

    #[test]
    fn secrets_need_a_glob_and_swarm_its_own_grant() {
        let g = parse("secrets = [\"toolboxai-*\"]\naccess = [\"read\", \"write\"]");
        assert!(g.allows_secret("toolboxai-db", DockerAccess::Write));
        assert!(!g.allows_secret("other-db", DockerAccess::Read));
        assert!(g.allows_swarm_inspect() && !g.swarm);
        assert!(
            !g.selects(&container("toolboxai-db", None)),
            "secret globs select no container"
        );
        let r = parse("secrets = [\"toolboxai-*\"]");
        assert!(r.allows_secret("toolboxai-db", DockerAccess::Read));
        assert!(!r.allows_secret("toolboxai-db", DockerAccess::Write));
        assert!(g.covers("secret:toolboxai-db*", DockerAccess::Write));
        assert!(!r.covers("secret:toolboxai-db*", DockerAccess::Write));
        assert!(g.covers("swarm", DockerAccess::Read) && !g.covers("swarm", DockerAccess::Write));
        let s = parse("swarm = true");
        assert!(s.covers("swarm", DockerAccess::Write) && s.allows_swarm_inspect());
        assert!(!s.allows_secret("toolboxai-db", DockerAccess::Read));
        assert!(!parse("containers = [\"*\"]\naccess = [\"write\"]").covers("swarm", DockerAccess::Read));
    }

    #[test]
    fn aliases_beyond_name_and_service_need_a_glob() {
        let g = parse("networks = [\"n\"]\naccess = [\"write\"]\nnetwork_aliases = [\"api-*\"]");
        assert!(g.allows_alias("api-1"));
        assert!(!g.allows_alias("redis"));
        assert!(!parse("networks = [\"n\"]").allows_alias("redis"));
    }
}
