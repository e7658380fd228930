//! The TOML a `docker` refusal suggests: the `[[plugins.<id>.docker]]`
//! table that would allow what was asked, and the one that covers a need
//! a plugin declares in `describe`.

use super::grant::DockerAccess;
use crate::caps::kit::pattern::glob_escape;
use crate::caps::kit::text::toml_string;

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

/// The TOML that would grant exec of `argv` in `container`, setting the
/// environment variables named `env` (any value).
pub fn exec_lines(id: &str, container: &str, argv: &[String], env: &[&str]) -> String {
    let argv = argv
        .iter()
        .map(|a| toml_string(&glob_escape(a)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = format!(
        "[[plugins.{id}.docker]]\ncontainers = [{}]\n{}\nexec = [[{argv}]]",
        toml_string(&glob_escape(container)),
        access_line(DockerAccess::Write)
    );
    if !env.is_empty() {
        let names = env.iter().map(|n| toml_string(n)).collect::<Vec<_>>().join(", ");
        lines.push_str(&format!("\nexec_env = [{names}]"));
    }
    lines
}

/// The TOML that would let network `network` be written with `extra` (one
/// more grant line, e.g. `network_drivers = ["macvlan"]`).
pub fn network_spec_lines(id: &str, network: &str, extra: &str) -> String {
    format!("{}\n{extra}", network_lines(id, network, true, DockerAccess::Write))
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

/// The TOML that would grant `access` on Docker secret `name` (literal or glob).
pub fn secret_lines(id: &str, name: &str, literal: bool, access: DockerAccess) -> String {
    let glob = if literal { glob_escape(name) } else { name.to_string() };
    format!(
        "[[plugins.{id}.docker]]\nsecrets = [{}]\n{}",
        toml_string(&glob),
        access_line(access)
    )
}

/// The TOML that would let the plugin make the engine a swarm manager.
pub fn swarm_lines(id: &str) -> String {
    format!("[[plugins.{id}.docker]]\nswarm = true")
}

/// The TOML that would cover a `describe` need (see [`DockerGrant::covers`]).
pub fn need_lines(id: &str, target: &str, access: DockerAccess) -> String {
    if let Some(network) = target.strip_prefix("network:") {
        network_lines(id, network, false, access)
    } else if let Some(image) = target.strip_prefix("image:") {
        image_lines(id, image, false)
    } else if let Some(secret) = target.strip_prefix("secret:") {
        secret_lines(id, secret, false, access)
    } else if target == "swarm" {
        swarm_lines(id)
    } else {
        container_lines(id, target, false, access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::docker::grant::tests::{argv, container};
    use crate::caps::docker::grant::{DockerGrant, NetworkRefusal};

    #[test]
    fn suggested_lines_parse_back_and_allow() {
        let lines = exec_lines(
            "p",
            "toolboxai-backend1",
            &argv(&["ping", "-c1", "backend*2"]),
            &["LANG"],
        );
        let table: toml::Value = toml::from_str(&lines.replace("[[plugins.p.docker]]\n", "")).unwrap();
        let g: DockerGrant = table.try_into().unwrap();
        let lang = vec![("LANG".to_string(), "C".to_string())];
        assert!(g.allows_exec(
            &container("toolboxai-backend1", None),
            &argv(&["ping", "-c1", "backend*2"]),
            &lang
        ));
        assert!(!g.allows_exec(
            &container("toolboxai-backend1", None),
            &argv(&["ping", "-c1", "backend22"]),
            &lang
        ));
        let preload = vec![("LD_PRELOAD".to_string(), "/x.so".to_string())];
        assert!(!g.allows_exec(
            &container("toolboxai-backend1", None),
            &argv(&["ping", "-c1", "backend*2"]),
            &preload
        ));
        let lines = network_spec_lines("p", "net_a", &NetworkRefusal::Option("k.x".into(), "v*".into()).line());
        let table: toml::Value = toml::from_str(&lines.replace("[[plugins.p.docker]]\n", "")).unwrap();
        let g: DockerGrant = table.try_into().unwrap();
        assert_eq!(
            g.refuses_network_spec("bridge", &[("k.x".into(), "v*".into())], &[]),
            None
        );
        assert!(g
            .refuses_network_spec("bridge", &[("k.x".into(), "vv".into())], &[])
            .is_some());
        for (lines, name) in [
            (
                secret_lines("p", "toolboxai-db*", true, DockerAccess::Write),
                "toolboxai-db*",
            ),
            (
                need_lines("p", "secret:toolboxai-*", DockerAccess::Write),
                "toolboxai-db",
            ),
        ] {
            let table: toml::Value = toml::from_str(&lines.replace("[[plugins.p.docker]]\n", "")).unwrap();
            let g: DockerGrant = table.try_into().unwrap();
            assert!(g.allows_secret(name, DockerAccess::Write), "{lines}");
            assert!(!g.allows_secret("toolboxai-dbx", DockerAccess::Write) || name != "toolboxai-db*");
        }
        let table: toml::Value =
            toml::from_str(&need_lines("p", "swarm", DockerAccess::Write).replace("[[plugins.p.docker]]\n", ""))
                .unwrap();
        let g: DockerGrant = table.try_into().unwrap();
        assert!(g.covers("swarm", DockerAccess::Write));
        let lines = container_lines("p", "toolboxai-nginx-proxy", true, DockerAccess::Write);
        assert!(
            lines.contains("containers = [\"toolboxai-nginx-proxy\"]") && lines.contains("\"write\""),
            "{lines}"
        );
    }
}
