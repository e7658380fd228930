//! What the operator configures for `postgres`: targets by label
//! (`[targets.postgres.<label>]`), grants per plugin
//! (`[[plugins.<id>.postgres]]`), and the check made at every call.
//!
//! This module never reads a secret's value; it only knows where it is.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bindings::types::Access;
use crate::caps::kit::pattern::glob_matches;
use crate::caps::kit::text::{not_granted, toml_string};
use crate::config::PluginGrants;
use crate::secret::SecretRef;

/// `[targets.postgres.<label>]`: one database a plugin may open by label.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "TargetFields")]
pub struct PostgresTarget {
    /// `postgresql://user@host:port/db`, no password (use `password`).
    /// `?sslmode=require` turns TLS on (see [`PgUrl::tls`]).
    pub url: PgUrl,
    /// The user's password: `env:NAME`, `file:PATH` or `vault:…`, never the value.
    pub password: Option<SecretRef>,
    /// PEM file of the CA certificates that sign the server's certificate
    /// (TLS only). Without it the public web roots are trusted: Mozilla's
    /// (`webpki-roots`) for drhost's own connections, the system bundle for
    /// `pg_dump` / `pg_restore`.
    pub ca_file: Option<PathBuf>,
    /// A role with read rights only (e.g. a member of `pg_read_all_data`,
    /// never a superuser) that drhost logs in as for plugins granted `read`
    /// but not `write` on this target. Without it, `read` is enforced by a
    /// read-only transaction alone, which stops DDL and DML but not what a
    /// privileged role can do from a query (`COPY … TO PROGRAM`,
    /// `lo_export`, `pg_read_file`): configure one for production.
    pub read_user: Option<String>,
    /// `read_user`'s password: `env:NAME`, `file:PATH` or `vault:…`.
    pub read_password: Option<SecretRef>,
}

/// The fields of `[targets.postgres.<label>]` as written, before the check
/// that `ca_file` comes with a URL asking for TLS.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFields {
    url: PgUrl,
    #[serde(default)]
    password: Option<SecretRef>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    read_user: Option<String>,
    #[serde(default)]
    read_password: Option<SecretRef>,
}

impl TryFrom<TargetFields> for PostgresTarget {
    type Error = String;
    fn try_from(fields: TargetFields) -> Result<Self, String> {
        if fields.ca_file.is_some() && !fields.url.tls {
            return Err("ca_file is set but the URL does not ask for TLS; add ?sslmode=require to the url".to_string());
        }
        if fields.read_password.is_some() && fields.read_user.is_none() {
            return Err(
                "read_password is set without read_user; add read_user = \"ROLE\" (a read-only role)".to_string(),
            );
        }
        if fields
            .read_user
            .as_deref()
            .is_some_and(|u| u.is_empty() || u.contains('\0'))
        {
            return Err("read_user must be a role name".to_string());
        }
        Ok(PostgresTarget {
            url: fields.url,
            password: fields.password,
            ca_file: fields.ca_file,
            read_user: fields.read_user,
            read_password: fields.read_password,
        })
    }
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
    /// Whether connections use TLS: the URL says `sslmode=require`. drhost
    /// then verifies the server's certificate against the target's
    /// `ca_file` (else the public roots) *and* that it names the host — as
    /// libpq's `verify-full`, stricter than libpq's `require`, which checks
    /// nothing. Any other `sslmode` (`prefer`, the default, or `disable`)
    /// means plain TCP, for `pg_dump` / `pg_restore` too.
    pub tls: bool,
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
        let tls = config.get_ssl_mode() == tokio_postgres::config::SslMode::Require;
        Ok(PgUrl {
            config,
            host,
            port,
            user,
            dbname,
            tls,
        })
    }
}

/// `[[plugins.<id>.postgres]]`: what a plugin may do on one target.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresGrant {
    /// The target label (`[targets.postgres.<label>]`).
    pub target: String,
    /// `read` (query, info), `write` (execute), `dump` (pg_dump), `restore`
    /// (pg_restore), `admin` (create-database).
    pub access: BTreeSet<PgAccess>,
    /// With `restore`: other databases of the target's server that a restore
    /// may go into, as globs (`drhost_restore_*`). The target's own
    /// database needs no entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<String>,
    /// With `restore`: the plugin may also restore a blob it made itself
    /// (`blob.from-bytes`: e.g. a dump it decrypted), which the host cannot
    /// vouch for. Without it, only blobs the host read from a granted
    /// source (s3 get, a dump, a files read) are restored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_from_plugin_blobs: bool,
}

/// A class of Postgres operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgAccess {
    /// `query`, `info`.
    Read,
    /// `execute`.
    Write,
    /// `dump`.
    Dump,
    /// `restore`.
    Restore,
    /// `create-database`.
    Admin,
}

impl PgAccess {
    /// The name used in `access = [...]`.
    pub fn name(self) -> &'static str {
        match self {
            PgAccess::Read => "read",
            PgAccess::Write => "write",
            PgAccess::Dump => "dump",
            PgAccess::Restore => "restore",
            PgAccess::Admin => "admin",
        }
    }
}

/// The label and grant a manifest need asks for. Needs name the label
/// (`read` / `write`; `admin` means `dump`, as plugins built before
/// `restore` existed ask), or `dump:LABEL`, `restore:LABEL`, `admin:LABEL`.
pub fn need_access(target: &str, access: Access) -> (&str, PgAccess) {
    if let Some(label) = target.strip_prefix("dump:") {
        (label, PgAccess::Dump)
    } else if let Some(label) = target.strip_prefix("restore:") {
        (label, PgAccess::Restore)
    } else if let Some(label) = target.strip_prefix("admin:") {
        (label, PgAccess::Admin)
    } else {
        let access = match access {
            Access::Read => PgAccess::Read,
            Access::Write => PgAccess::Write,
            Access::Admin => PgAccess::Dump,
        };
        (target, access)
    }
}

/// Whether `grants` give `access` on target `label`.
pub fn allows(grants: &[PostgresGrant], label: &str, access: PgAccess) -> bool {
    crate::caps::kit::gate::allows_access(grants, label, &access)
}

/// Whether a restore on `label` may go into `database`, another database
/// than the target's own: a grant with `restore` lists a matching glob.
pub fn allows_database(grants: &[PostgresGrant], label: &str, database: &str) -> bool {
    grants
        .iter()
        .filter(|g| g.target == label && g.access.contains(&PgAccess::Restore))
        .any(|g| g.databases.iter().any(|glob| glob_matches(glob, database)))
}

/// Whether a grant with `restore` on `label` opts in to restoring blobs
/// the plugin made (`restore_from_plugin_blobs = true`).
pub fn allows_plugin_blobs(grants: &[PostgresGrant], label: &str) -> bool {
    grants
        .iter()
        .any(|g| g.target == label && g.access.contains(&PgAccess::Restore) && g.restore_from_plugin_blobs)
}

/// The refusal text for a restore on `label` of a blob the plugin made.
pub fn plugin_blob_denial(id: &str, label: &str) -> String {
    crate::caps::blob::plugin_blob_denial(
        &format!("postgres restore on target `{label}`"),
        &grant_lines(id, label, PgAccess::Restore),
    )
}

/// Whether a manifest need (`LABEL`, `dump:LABEL`, `restore:LABEL`,
/// `admin:LABEL`) is covered, and the target configured.
pub fn covers(grants: &PluginGrants, target: &str, access: Access) -> bool {
    let (label, access) = need_access(target, access);
    allows(&grants.postgres, label, access) && grants.postgres_targets.contains_key(label)
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
    let subject = format!(
        "postgres {what} on target `{label}` needs `{}` access, which",
        access.name()
    );
    not_granted(&subject, id, &grant_lines(id, label, access))
}

/// The refusal text for a restore on `label` into `database`, another
/// database than the target's own.
pub fn database_denial(id: &str, label: &str, database: &str) -> String {
    let subject = format!(
        "postgres restore on target `{label}` into database `{database}` (not the target's own) needs `restore` access listing it in `databases`, which"
    );
    let grant = format!(
        "{}\ndatabases = [{}]",
        grant_lines(id, label, PgAccess::Restore),
        toml_string(database)
    );
    not_granted(&subject, id, &grant)
}

/// Statements `query` runs: those that only read (inside a read-only
/// transaction as well). Anything else — `COPY`, `DO`, `CALL`, `SET`,
/// `LOCK`, DDL, DML, transaction control — goes through `execute`.
const READ_STATEMENTS: [&str; 6] = ["SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN"];

/// Checks that `sql` starts (after white space, comments and opening
/// parentheses) with a reading statement; the error names what it found.
pub fn check_read_statement(sql: &str) -> Result<(), String> {
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = trimmed.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            // Postgres nests block comments.
            let mut depth = 1;
            let mut chars = after.char_indices().peekable();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match (c, chars.peek().map(|(_, n)| *n)) {
                    ('/', Some('*')) => {
                        depth += 1;
                        chars.next();
                    }
                    ('*', Some('/')) => {
                        depth -= 1;
                        chars.next();
                        if depth == 0 {
                            end = i + 2;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &after[end.min(after.len())..];
        } else {
            rest = trimmed;
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    if READ_STATEMENTS.contains(&word.as_str()) {
        Ok(())
    } else {
        let found = if word.is_empty() {
            "no statement".to_string()
        } else {
            format!("`{word}`")
        };
        Err(format!(
            "`query` runs only statements that read ({}), and this one starts with {found}; statements that change anything go through `execute`, which needs `write` access",
            READ_STATEMENTS.join(", ")
        ))
    }
}

impl crate::caps::kit::gate::TargetGrant for PostgresGrant {
    type Access = PgAccess;
    fn target(&self) -> &str {
        &self.target
    }
    fn access(&self) -> &BTreeSet<PgAccess> {
        &self.access
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_runs_only_reading_statements() {
        use super::check_read_statement as check;
        for ok in [
            "SELECT 1",
            "  select count(*) from users",
            "(SELECT 1) UNION (SELECT 2)",
            "-- a comment\nWITH x AS (SELECT 1) SELECT * FROM x",
            "/* outer /* nested */ still */ SHOW server_version",
            "VALUES (1)",
            "TABLE users",
            "explain select 1",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'",
            "/* SELECT */ COPY users TO '/tmp/x'",
            "-- SELECT\nDO $$ BEGIN END $$",
            "CREATE TABLE t (x int)",
            "SET ROLE postgres",
            "COMMIT",
            "CALL p()",
            "",
            "/* unterminated SELECT",
            "SELECTED",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

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
    fn tls_is_the_url_asking_for_require() {
        let plain = PgUrl::try_from("postgresql://postgres@127.0.0.1:5432/app".to_string()).unwrap();
        assert!(!plain.tls);
        let tls = PgUrl::try_from("postgresql://postgres@127.0.0.1:5432/app?sslmode=require".to_string()).unwrap();
        assert!(tls.tls);
    }

    #[test]
    fn a_ca_file_without_tls_is_refused() {
        let parse = |text: &str| toml::from_str::<PostgresTarget>(text).map_err(|e| e.to_string());
        let err = parse("url = \"postgresql://u@h/db\"\nca_file = \"/ca.pem\"").unwrap_err();
        assert!(err.contains("add ?sslmode=require"), "{err}");
        let target = parse("url = \"postgresql://u@h/db?sslmode=require\"\nca_file = \"/ca.pem\"").unwrap();
        assert_eq!(target.ca_file.as_deref(), Some(std::path::Path::new("/ca.pem")));
        assert!(parse("url = \"postgresql://u@h/db\"\ncafile = \"/ca.pem\"").is_err());
    }

    fn grant(access: &[PgAccess], databases: &[&str]) -> PostgresGrant {
        PostgresGrant {
            target: "primary".into(),
            access: access.iter().copied().collect(),
            databases: databases.iter().map(|d| d.to_string()).collect(),
            restore_from_plugin_blobs: false,
        }
    }

    #[test]
    fn grants_are_per_label_and_access() {
        let g = vec![grant(&[PgAccess::Read, PgAccess::Dump], &[])];
        assert!(allows(&g, "primary", PgAccess::Dump));
        assert!(!allows(&g, "primary", PgAccess::Write));
        assert!(!allows(&g, "primary", PgAccess::Restore));
        assert!(!allows(&g, "other", PgAccess::Read));
        assert!(denial("p", "primary", "execute", PgAccess::Write)
            .contains("[[plugins.p.postgres]]\ntarget = \"primary\"\naccess = [\"write\"]"));
    }

    #[test]
    fn other_databases_need_a_restore_grant_listing_them() {
        let g = vec![
            grant(&[PgAccess::Restore], &["drhost_restore_*"]),
            grant(&[PgAccess::Read], &["scratch"]),
        ];
        assert!(allows_database(&g, "primary", "drhost_restore_2024"));
        assert!(!allows_database(&g, "primary", "toolboxai"));
        // `databases` on a grant without `restore` allows nothing.
        assert!(!allows_database(&g, "primary", "scratch"));
        assert!(!allows_database(&g, "other", "drhost_restore_2024"));
        let text = database_denial("p", "primary", "toolboxai");
        assert!(
            text.ends_with(
                "[[plugins.p.postgres]]\ntarget = \"primary\"\naccess = [\"restore\"]\ndatabases = [\"toolboxai\"]"
            ),
            "{text}"
        );
    }

    #[test]
    fn needs_name_the_access_in_the_target() {
        assert_eq!(need_access("primary", Access::Read), ("primary", PgAccess::Read));
        assert_eq!(need_access("primary", Access::Write), ("primary", PgAccess::Write));
        assert_eq!(need_access("primary", Access::Admin), ("primary", PgAccess::Dump));
        assert_eq!(need_access("dump:primary", Access::Admin), ("primary", PgAccess::Dump));
        assert_eq!(
            need_access("restore:primary", Access::Admin),
            ("primary", PgAccess::Restore)
        );
        assert_eq!(need_access("admin:primary", Access::Read), ("primary", PgAccess::Admin));
    }

    #[test]
    fn needs_are_covered_by_their_access_and_missing_ones_name_it() {
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "[targets.postgres.primary]\nurl = \"postgresql://u@h/db\"\n\
             [[plugins.p.postgres]]\ntarget = \"primary\"\naccess = [\"read\", \"restore\"]\n",
        )
        .unwrap();
        let grants = config.grants_for("p");
        assert!(covers(&grants, "restore:primary", Access::Admin));
        assert!(covers(&grants, "primary", Access::Read));
        assert!(!covers(&grants, "primary", Access::Admin));
        assert!(!covers(&grants, "admin:primary", Access::Admin));
        let need = crate::bindings::types::Need {
            capability: "postgres".into(),
            target: "admin:primary".into(),
            access: Access::Admin,
            why: "creates the database".into(),
        };
        let missing = crate::policy::missing_grants("p", &[need], &grants);
        let toml = missing[0].toml.as_deref().unwrap();
        assert_eq!(
            toml,
            "[[plugins.p.postgres]]\ntarget = \"primary\"\naccess = [\"admin\"]"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::check_read_statement;
    use proptest::prelude::*;

    /// Whitespace, comments (nested too) and parentheses a statement may
    /// start with.
    fn lead() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just(" ".to_string()),
                Just("\n\t".to_string()),
                Just("(".to_string()),
                Just("-- SELECT\n".to_string()),
                Just("/* SELECT */".to_string()),
                Just("/* a /* nested */ SELECT */".to_string()),
            ],
            0..5,
        )
        .prop_map(|parts| parts.concat())
    }

    /// `word` in a random mix of upper and lower case.
    fn cased(word: &'static str) -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
            word.chars()
                .zip(upper)
                .map(|(c, u)| {
                    if u {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A statement that changes anything is refused however it is
        /// cased, commented or parenthesised.
        #[test]
        fn a_changing_statement_is_never_a_read(
            lead in lead(),
            word in prop_oneof![
                cased("delete"), cased("drop"), cased("insert"), cased("update"), cased("copy"),
                cased("do"), cased("call"), cased("set"), cased("alter"), cased("truncate"),
                cased("grant"), cased("create"), cased("lock"), cased("begin"), cased("selectx"),
            ],
            rest in "[ a-z;*]{0,20}",
        ) {
            let sql = format!("{lead}{word} {rest}");
            prop_assert!(check_read_statement(&sql).is_err(), "{sql}");
        }

        /// Any text gets an answer.
        #[test]
        fn any_text_gets_an_answer(sql in any::<String>()) {
            let _ = check_read_statement(&sql);
        }
    }
}
