//! Before `run`: does the operator's config grant what `describe` asks for?
//!
//! This is the up-front check that lets the operator fix the config before
//! anything changes. It is not the enforcement: every capability call is
//! checked again at the call, whatever `describe` said.

use crate::bindings::types::Need;
use crate::caps::{GATES, UNGATED};
use crate::config::PluginGrants;

/// One need the grants do not cover, with the TOML that would cover it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingGrant {
    /// `capability target`, e.g. `shell echo`.
    pub what: String,
    /// The access the plugin needs there: `read`, `write` or `admin`.
    pub access: &'static str,
    /// Why the plugin needs it (from `describe`).
    pub why: String,
    /// TOML lines that would grant it, or `None` when no grant can.
    pub toml: Option<String>,
}

/// The needs of plugin `id` that `grants` do not cover.
pub fn missing_grants(id: &str, needs: &[Need], grants: &PluginGrants) -> Vec<MissingGrant> {
    let mut missing = Vec::new();
    for need in needs {
        let capability = need.capability.as_str();
        let target = need.target.as_str();
        let gate = GATES.iter().find(|g| g.capability == capability);
        let covered = UNGATED.contains(&capability) || gate.is_some_and(|g| (g.covers)(grants, target, need.access));
        if covered {
            continue;
        }
        // A target table the config already defines is not advised again
        // (pasting it would define it twice), granted or not.
        let toml = gate.map(|g| {
            let advice = (g.advice)(grants, id, target, need.access);
            without_tables(&advice, &grants.configured_tables)
        });
        missing.push(MissingGrant {
            what: format!("{} {}", one_line(capability), one_line(target)),
            access: access_name(need.access),
            why: need.why.clone(),
            toml,
        });
    }
    missing
}

/// Renders the refusal: one line saying what is missing, then the TOML.
pub fn refusal(id: &str, config: Option<&std::path::Path>, missing: &[MissingGrant]) -> String {
    let file = config.map_or_else(|| "drhost.toml".to_string(), |p| p.display().to_string());
    // Each `capability target` once, with every access it lacks.
    let mut needed: Vec<(&str, Vec<&str>)> = Vec::new();
    for m in missing {
        match needed.iter_mut().find(|(what, _)| *what == m.what) {
            Some((_, accesses)) if !accesses.contains(&m.access) => accesses.push(m.access),
            Some(_) => {}
            None => needed.push((&m.what, vec![m.access])),
        }
    }
    let mut text = format!(
        "plugin `{id}` needs {} grant(s) that {file} does not give: {}",
        missing.len(),
        needed
            .iter()
            .map(|(what, accesses)| format!("{what} ({})", accesses.join(", ")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut lines = String::new();
    let mut impossible = Vec::new();
    let mut tables = PlainTables::default();
    for m in missing {
        match &m.toml {
            // The plugin's `why` is one comment line, whatever it holds.
            Some(toml) => lines.push_str(&format!("\n# {}\n{}\n", one_line(&m.why), tables.take_from(toml))),
            None => impossible.push(m.what.clone()),
        }
    }
    lines.push_str(&tables.render());
    if !lines.is_empty() {
        text.push_str(&format!("\nTo grant them, add to {file}:\n{lines}"));
    }
    if !impossible.is_empty() {
        text.push_str(&format!(
            "\nThis drhost has no such capability: {} (it implements {} {})",
            impossible.join(", "),
            crate::bindings::CONTRACT_PACKAGE,
            crate::bindings::CONTRACT_VERSION
        ));
    }
    text
}

/// The plain tables (`[targets.redis.cache]`, `[secrets]`, with their keys)
/// of all the advice, printed once each after the grants: several needs on
/// one target each say which target table they want, needs for several
/// operator secrets each add a line to `[secrets]`, and TOML allows a
/// table once. Arrays of tables (`[[plugins.…]]`) may repeat and stay with
/// their need.
#[derive(Default)]
struct PlainTables {
    /// Header and its distinct lines, in the order first seen.
    tables: Vec<(String, Vec<String>)>,
}

impl PlainTables {
    /// `toml` without its plain tables, which are kept for [`PlainTables::render`].
    fn take_from(&mut self, toml: &str) -> String {
        let mut kept = Vec::new();
        let mut table: Option<usize> = None;
        for line in toml.lines() {
            if line.starts_with('[') {
                table = None;
                if !line.starts_with("[[") {
                    // The whole line: a quoted label may hold `#`.
                    let header = line.trim().to_string();
                    let at = match self.tables.iter().position(|(h, _)| *h == header) {
                        Some(at) => at,
                        None => {
                            self.tables.push((header, Vec::new()));
                            self.tables.len() - 1
                        }
                    };
                    table = Some(at);
                    continue;
                }
            }
            match table {
                Some(at) => {
                    let body = &mut self.tables[at].1;
                    if !body.iter().any(|l| l == line) {
                        body.push(line.to_string());
                    }
                }
                None => kept.push(line),
            }
        }
        kept.join("\n")
    }

    /// The plain tables, each once, with every line any need gave it.
    fn render(&self) -> String {
        self.tables
            .iter()
            .map(|(header, body)| format!("\n{header}\n{}\n", body.join("\n")))
            .collect()
    }
}

/// `toml` without the plain tables (with their keys) named in `defined`.
fn without_tables(toml: &str, defined: &std::collections::BTreeSet<String>) -> String {
    let mut kept = Vec::new();
    let mut skipping = false;
    for line in toml.lines() {
        if line.starts_with('[') {
            skipping = !line.starts_with("[[") && defined.contains(line.trim());
        }
        if !skipping {
            kept.push(line);
        }
    }
    kept.join("\n")
}

/// Plugin text as one line of printable characters (see
/// [`crate::console::plugin_text`]).
fn access_name(access: crate::bindings::types::Access) -> &'static str {
    use crate::bindings::types::Access;
    match access {
        Access::Read => "read",
        Access::Write => "write",
        Access::Admin => "admin",
    }
}

fn one_line(text: &str) -> String {
    crate::console::plugin_text(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::Access;

    /// Needs of (capability, target, access), each with the same `why`.
    fn needs(list: &[(&str, &str, Access)]) -> Vec<Need> {
        list.iter()
            .map(|(capability, target, access)| Need {
                capability: (*capability).into(),
                target: (*target).into(),
                access: *access,
                why: "w".into(),
            })
            .collect()
    }

    #[test]
    fn advice_for_several_accesses_on_one_target_is_valid_toml() {
        let needs = needs(&[
            ("postgres", "primary", Access::Read),
            ("postgres", "dump:primary", Access::Admin),
        ]);
        let text = refusal("p", None, &missing_grants("p", &needs, &PluginGrants::default()));
        let advice = text.split_once(":\n").unwrap().1;
        let config = crate::config::Config::parse(std::path::Path::new("advice.toml"), advice).expect("valid TOML");
        assert!(
            missing_grants("p", &needs, &config.grants_for("p")).is_empty(),
            "{advice}"
        );
        assert_eq!(advice.matches("[targets.postgres.primary]").count(), 1, "{advice}");
    }

    #[test]
    fn the_headline_names_each_target_once_with_every_access_it_lacks() {
        let needs = needs(&[
            ("redis", "cache", Access::Read),
            ("redis", "cache", Access::Write),
            ("redis", "cache:sentinel-failover", Access::Admin),
        ]);
        let text = refusal("p", None, &missing_grants("p", &needs, &PluginGrants::default()));
        let headline = text.lines().next().unwrap();
        assert_eq!(
            headline,
            "plugin `p` needs 3 grant(s) that drhost.toml does not give: redis cache (read, write), redis cache:sentinel-failover (admin)"
        );
    }

    /// A target the config defines but does not grant: the advice is the
    /// grant alone, and the config with it pasted in is valid and enough.
    #[test]
    fn advice_does_not_repeat_a_target_the_config_defines() {
        let needs = [
            ("redis", "cache", Access::Read),
            ("s3", "backups", Access::Read),
            ("vault", "main", Access::Read),
            ("postgres", "primary", Access::Read),
        ]
        .map(|(capability, target, access)| Need {
            capability: capability.into(),
            target: target.into(),
            access,
            why: "w".into(),
        });
        let defined = "[targets.redis.cache]\nurl = \"redis://127.0.0.1:6379\"\n\
            [targets.s3.backups]\nendpoint = \"http://127.0.0.1:9000\"\nregion = \"us-east-1\"\nbucket = \"b\"\naccess_key = \"env:A\"\nsecret_key = \"env:S\"\n\
            [targets.vault.main]\naddress = \"http://127.0.0.1:8200\"\ntoken = \"env:T\"\n\
            [targets.postgres.primary]\nurl = \"postgresql://app@127.0.0.1:5432/app\"\n";
        let path = std::path::Path::new("drhost.toml");
        let config = crate::config::Config::parse(path, defined).expect("valid base");
        let text = refusal("p", None, &missing_grants("p", &needs, &config.grants_for("p")));
        let advice = text.split_once(":\n").unwrap().1;
        assert!(!advice.contains("[targets."), "{advice}");
        let pasted = format!("{defined}\n{advice}");
        let config = crate::config::Config::parse(path, &pasted).unwrap_or_else(|e| panic!("{e}\n{pasted}"));
        assert!(
            missing_grants("p", &needs, &config.grants_for("p")).is_empty(),
            "{pasted}"
        );
    }

    #[test]
    fn unseal_advice_configures_the_keys_in_the_one_target_table() {
        let needs = [
            need("vault", "main"),
            Need {
                access: Access::Admin,
                ..need("vault", "unseal:main")
            },
        ];
        let text = refusal("p", None, &missing_grants("p", &needs, &PluginGrants::default()));
        let advice = text.split_once(":\n").unwrap().1;
        assert_eq!(advice.matches("[targets.vault.main]").count(), 1, "{advice}");
        assert!(advice.contains("access = [\"unseal\"]"), "{advice}");
        let config = crate::config::Config::parse(std::path::Path::new("advice.toml"), advice).expect("valid TOML");
        assert!(config.targets.vault["main"].unseal_keys.is_some(), "{advice}");
        assert!(
            missing_grants("p", &needs, &config.grants_for("p")).is_empty(),
            "{advice}"
        );
        // A target without keys: the unseal need is not covered, and the
        // advice says which line to add to it.
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[targets.vault.main]\naddress = \"http://127.0.0.1:1\"\ntoken = \"env:T\"\n[[plugins.p.vault]]\ntarget = \"main\"\naccess = [\"unseal\"]\n",
        )
        .unwrap();
        let missing = missing_grants("p", &needs[1..], &config.grants_for("p"));
        let toml = missing[0].toml.as_deref().unwrap();
        assert!(toml.contains("# unseal_keys = \"file:"), "{toml}");
    }

    #[test]
    fn operator_secret_needs_are_refused_with_grant_and_secrets_lines() {
        let needs = [
            need("secret", "root-token"),
            need("secret", "reveal:unseal-key"),
            need("secret", ""),
        ];
        let missing = missing_grants("p", &needs, &PluginGrants::default());
        let what: Vec<_> = missing.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(what, ["secret root-token", "secret reveal:unseal-key"]);
        let text = refusal("p", None, &missing);
        let advice = text.split_once(":\n").unwrap().1;
        assert_eq!(advice.matches("[secrets]").count(), 1, "{advice}");
        let config = crate::config::Config::parse(std::path::Path::new("advice.toml"), advice).expect("valid TOML");
        assert_eq!(config.secrets.len(), 2, "{advice}");
        assert!(
            missing_grants("p", &needs, &config.grants_for("p")).is_empty(),
            "{advice}"
        );
    }

    #[test]
    fn advice_cannot_be_steered_by_the_plugin() {
        let needs = [Need {
            capability: "postgres".into(),
            target: "x]\n[[plugins.evil.shell]]\nprogram = \"sh\"\n#".into(),
            access: Access::Read,
            why: "restores\n[[plugins.evil.shell]]\nprogram = \"sh\"\u{1b}[2J".into(),
        }];
        let text = refusal("p", None, &missing_grants("p", &needs, &PluginGrants::default()));
        let advice = text.split_once(":\n").unwrap().1;
        assert!(!advice.contains("\n[[plugins.evil"), "{advice}");
        assert!(!advice.contains('\u{1b}'), "{advice}");
        let parsed: toml::Table = toml::from_str(advice).expect("the advice is TOML");
        let plugins = parsed["plugins"].as_table().unwrap();
        assert_eq!(plugins.keys().collect::<Vec<_>>(), ["p"], "{advice}");
    }

    fn need(capability: &str, target: &str) -> Need {
        Need {
            capability: capability.into(),
            target: target.into(),
            access: Access::Read,
            why: "because".into(),
        }
    }

    #[test]
    fn default_deny_lists_every_gated_need() {
        let needs = [
            need("shell", "echo"),
            need("http", "127.0.0.1:8080"),
            need("log", ""),
            need("vault", "main"),
            need("kafka", "x"),
        ];
        let missing = missing_grants("hello", &needs, &PluginGrants::default());
        let what: Vec<_> = missing.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(what, ["shell echo", "http 127.0.0.1:8080", "vault main", "kafka x"]);
        let text = refusal("hello", None, &missing);
        assert!(text.contains("[[plugins.hello.shell]]\nprogram = \"echo\""), "{text}");
        assert!(
            text.contains("[[plugins.hello.http]]\nhost = \"127.0.0.1:8080\""),
            "{text}"
        );
        assert!(
            text.contains("[[plugins.hello.vault]]\ntarget = \"main\"") && text.contains("[targets.vault.main]"),
            "{text}"
        );
        assert!(text.contains("no such capability: kafka x"), "{text}");
    }

    #[test]
    fn granted_needs_pass() {
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[[plugins.hello.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n[[plugins.hello.http]]\nhost = \"127.0.0.1:*\"\n",
        )
        .unwrap();
        let needs = [need("shell", "echo"), need("http", "127.0.0.1:8080")];
        assert!(missing_grants("hello", &needs, &config.grants_for("hello")).is_empty());
        assert_eq!(missing_grants("other", &needs, &config.grants_for("other")).len(), 2);
    }

    #[test]
    fn docker_needs_are_checked_with_their_access() {
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[[plugins.p.docker]]\ncontainers = [\"toolboxai-*\"]\nnetworks = [\"toolboxai_*\"]\naccess = [\"read\"]\n",
        )
        .unwrap();
        let grants = config.grants_for("p");
        let read = Need {
            capability: "docker".into(),
            target: "toolboxai-backend*".into(),
            access: Access::Read,
            why: "w".into(),
        };
        let write = Need {
            access: Access::Write,
            ..read.clone()
        };
        let net = Need {
            target: "network:toolboxai_cache".into(),
            ..read.clone()
        };
        assert!(missing_grants("p", &[read, net], &grants).is_empty());
        let missing = missing_grants("p", &[write], &grants);
        assert_eq!(missing.len(), 1);
        let toml = missing[0].toml.as_deref().unwrap();
        assert!(
            toml.contains(
                "[[plugins.p.docker]]\ncontainers = [\"toolboxai-backend*\"]\naccess = [\"read\", \"write\"]"
            ),
            "{toml}"
        );
    }
}
