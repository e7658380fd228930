//! What the operator configures for `postgres`: targets by label
//! (`[targets.postgres.<label>]`), grants per plugin
//! (`[[plugins.<id>.postgres]]`), and the check made at every call.
//!
//! This module never reads a secret's value; it only knows where it is.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bindings::types::Access;
use crate::caps::redis::SecretRef;
use crate::caps::shell::toml_string;
use crate::config::PluginGrants;

/// `[targets.postgres.<label>]`: one database a plugin may open by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresTarget {
    /// `postgresql://user@host:port/db`, no password (use `password`).
    pub url: PgUrl,
    /// The user's password: `env:NAME` or `file:PATH`, never the value.
    #[serde(default)]
    pub password: Option<SecretRef>,
}

/// A validated `postgresql://` URL without a password.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct PgUrl {
    /// The parsed connection settings (no password).
    pub config: tokio_postgres::Config,
    /// Host (first one) for `pg_dump`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Database name.
    pub dbname: String,
}

impl TryFrom<String> for PgUrl {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if !(text.starts_with("postgresql://") || text.starts_with("postgres://")) {
            return Err(
                "a Postgres URL must start with postgresql://; write e.g. \"postgresql://postgres@127.0.0.1:5432/app\""
                    .to_string(),
            );
        }
        // Not echoed: it may hold a credential.
        let config = tokio_postgres::Config::from_str(&text).map_err(|e| {
            format!("not a Postgres URL ({e}); write e.g. \"postgresql://postgres@127.0.0.1:5432/app\"")
        })?;
        if config.get_password().is_some() {
            return Err(
                "put no password in the Postgres URL; set password = \"env:NAME\" or \"file:PATH\" instead".to_string(),
            );
        }
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(
                "this drhost connects to Postgres without TLS; sslmode=require is not supported yet".to_string(),
            );
        }
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => return Err("the Postgres URL names no host".to_string()),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config
            .get_user()
            .ok_or("the Postgres URL names no user; write postgresql://USER@host:port/db")?
            .to_string();
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        Ok(PgUrl {
            config,
            host,
            port,
            user,
            dbname,
        })
    }
}

/// `[[plugins.<id>.postgres]]`: what a plugin may do on one target.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresGrant {
    /// The target label (`[targets.postgres.<label>]`).
    pub target: String,
    /// `read` (query), `write` (execute), `dump` (pg_dump).
    pub access: BTreeSet<PgAccess>,
}

/// A class of Postgres operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgAccess {
    /// `query`.
    Read,
    /// `execute`.
    Write,
    /// `dump`.
    Dump,
}

impl PgAccess {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            PgAccess::Read => "read",
            PgAccess::Write => "write",
            PgAccess::Dump => "dump",
        }
    }

    /// The grant a manifest need asks for (admin = dump).
    pub fn for_need(access: Access) -> PgAccess {
        match access {
            Access::Read => PgAccess::Read,
            Access::Write => PgAccess::Write,
            Access::Admin => PgAccess::Dump,
        }
    }
}

/// Whether `grants` give `access` on target `label`.
pub fn allows(grants: &[PostgresGrant], label: &str, access: PgAccess) -> bool {
    grants.iter().any(|g| g.target == label && g.access.contains(&access))
}

/// Whether a manifest need on `label` is covered (and the target configured).
pub fn covers(grants: &PluginGrants, label: &str, access: Access) -> bool {
    allows(&grants.postgres, label, PgAccess::for_need(access)) && grants.postgres_targets.contains_key(label)
}

/// The TOML lines that would grant `access` on `label` to plugin `id`.
pub fn grant_lines(id: &str, label: &str, access: PgAccess) -> String {
    format!(
        "[[plugins.{id}.postgres]]\ntarget = {}\naccess = [\"{}\"]",
        toml_string(label),
        access.name()
    )
}

/// The refusal text for `what` on `label`.
pub fn denial(id: &str, label: &str, what: &str, access: PgAccess) -> String {
    format!(
        "postgres {what} on target `{label}` needs `{}` access, which is not granted to plugin `{id}`; to allow it add to drhost.toml:\n{}",
        access.name(),
        grant_lines(id, label, access)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_passwords_are_refused() {
        assert!(PgUrl::try_from("postgresql://u:secret@h:5432/db".to_string()).is_err());
        let url = PgUrl::try_from("postgresql://postgres@127.0.0.1:27432/toolboxai".to_string()).unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.user.as_str(), url.dbname.as_str()),
            ("127.0.0.1", 27432, "postgres", "toolboxai")
        );
    }

    #[test]
    fn grants_are_per_label_and_access() {
        let g = vec![PostgresGrant {
            target: "primary".into(),
            access: [PgAccess::Read, PgAccess::Dump].into(),
        }];
        assert!(allows(&g, "primary", PgAccess::Dump));
        assert!(!allows(&g, "primary", PgAccess::Write));
        assert!(!allows(&g, "other", PgAccess::Read));
        assert!(denial("p", "primary", "execute", PgAccess::Write)
            .contains("[[plugins.p.postgres]]\ntarget = \"primary\"\naccess = [\"write\"]"));
    }
}
