//! The PostgreSQL client tools the host runs for plugins: `pg_dump` and
//! `pg_restore`. One builder gives both the target's connection settings
//! (host, port, user, TLS) with the password in a 0600 `PGPASSFILE` in a
//! private host-only directory (never in the child's environment, where
//! `/proc/PID/environ` would show it); one runner bounds the child by the run's deadline and reads its
//! stderr into a bounded [`ToolLog`], from which a failure becomes one
//! readable, classified line.
//!
//! This module never journals and never puts a credential on a command line.

use std::ffi::OsString;
use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

use zeroize::Zeroizing;

use tokio::io::AsyncReadExt;

use super::PostgresTarget;
use crate::bindings::types::Error as CapError;
use crate::sandbox::RunContext;

/// System CA bundles, tried in order, for TLS targets without `ca_file`
/// (libpq 15 has no `sslrootcert=system`).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Longest stderr line kept (the rest of the line is dropped).
const LINE_CAP: usize = 4096;
/// Warnings kept for the report.
const WARNINGS_KEPT: usize = 20;
/// Seconds libpq may spend connecting (`PGCONNECT_TIMEOUT`).
const CONNECT_TIMEOUT_SECS: &str = "10";

/// A pg tool's command and what must outlive its child: the private
/// directory holding its `PGPASSFILE`, removed when this is dropped (after
/// [`run`]). Derefs to the command, so arguments are added as usual.
pub(super) struct ToolCommand {
    cmd: tokio::process::Command,
    _private: Option<tempfile::TempDir>,
}

impl Deref for ToolCommand {
    type Target = tokio::process::Command;
    fn deref(&self) -> &Self::Target {
        &self.cmd
    }
}

impl DerefMut for ToolCommand {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cmd
    }
}

/// `program --no-password -h HOST -p PORT -U USER` for `target`, with
/// stdin and stdout closed, stderr piped and the child killed when dropped.
///
/// The child's environment is cleared: it gets drhost's `PATH` (to find
/// the tools), `PGPASSFILE` (when the target has a password: a 0600 file
/// in a fresh 0700 directory of its own, removed after the run),
/// `PGSSLMODE`, `PGCONNECT_TIMEOUT` and, with TLS, `PGSSLROOTCERT` — no
/// password and none of drhost's other variables (`env:` secrets live
/// there). TLS is `verify-full`: the certificate must
/// chain to `ca_file` (else the system bundle) and name the host, as
/// drhost's own connections check it. libpq 15+ matches an IP address
/// host against the certificate's IP SANs, so connecting by IP works when
/// the certificate lists it. Without TLS, `PGSSLMODE=disable`: the child
/// connects as drhost does.
pub(super) async fn command(ctx: &RunContext, target: &PostgresTarget, program: &str) -> Result<ToolCommand, CapError> {
    let url = &target.url;
    let mut cmd = tokio::process::Command::new(program);
    crate::caps::kit::process::only_stdio(&mut cmd);
    cmd.arg("--no-password")
        .arg("-h")
        .arg(&url.host)
        .arg("-p")
        .arg(url.port.to_string())
        .arg("-U")
        .arg(&url.user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("PGCONNECT_TIMEOUT", CONNECT_TIMEOUT_SECS);
    if url.tls {
        cmd.env("PGSSLMODE", "verify-full");
        let roots = target.ca_file.clone().map(OsString::from).or_else(|| {
            SYSTEM_CA_BUNDLES
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(OsString::from)
        });
        if let Some(roots) = roots {
            cmd.env("PGSSLROOTCERT", roots);
        }
    } else {
        cmd.env("PGSSLMODE", "disable");
    }
    let mut private = None;
    if let Some(secret) = &target.password {
        let password = Zeroizing::new(
            secret
                .resolve(&ctx.grants.secret_vaults)
                .await
                .map_err(CapError::Unavailable)?,
        );
        let dir = tempfile::Builder::new()
            .prefix("drhost-pg-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| CapError::Failed(format!("{program}: cannot create a private directory: {e}")))?;
        let file = dir.path().join("pgpass");
        write_passfile(&file, &password).map_err(|e| {
            CapError::Failed(format!(
                "{program}: cannot write the password file for {}@{}: {e}",
                url.user, url.host
            ))
        })?;
        cmd.env("PGPASSFILE", &file);
        private = Some(dir);
    }
    Ok(ToolCommand { cmd, _private: private })
}

/// Writes a `.pgpass` file holding only `password` for any host, port,
/// database and user, created new with mode 0600 (libpq ignores a file
/// others can read). A password with a line break cannot be written.
fn write_passfile(path: &Path, password: &str) -> std::io::Result<()> {
    if password.contains(['\n', '\r']) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the password holds a line break, which a PGPASSFILE cannot carry",
        ));
    }
    let mut line = Zeroizing::new(String::from("*:*:*:*:"));
    for c in password.chars() {
        if matches!(c, '\\' | ':') {
            line.push('\\');
        }
        line.push(c);
    }
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_all()
}

/// The value of `-d` for database `name`: a connection string setting only
/// `dbname`, so a name holding `=` or a URL cannot redirect the child to
/// another server (libpq reads a `-d` value with `=` as a connection string).
pub(super) fn dbname_arg(name: &str) -> String {
    format!("dbname='{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Runs `cmd` until it exits or the run's deadline passes (then it is
/// killed). `what` names the job in messages, e.g. "pg_restore into
/// database `app` of target `primary`". Ok carries what stderr said.
pub(super) async fn run(ctx: &RunContext, mut cmd: ToolCommand, what: &str) -> Result<ToolLog, CapError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|e| {
        CapError::Unavailable(format!(
            "{what}: cannot start {program} ({e}); is the PostgreSQL client installed?"
        ))
    })?;
    let stderr = child.stderr.take();
    let finished = async {
        let mut log = ToolLog::default();
        if let Some(mut stderr) = stderr {
            let mut buf = [0u8; 8192];
            loop {
                let n = stderr.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                log.push(&buf[..n]);
            }
        }
        log.finish();
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, log))
    };
    let limit = ctx.time_left();
    match tokio::time::timeout(limit, finished).await {
        Err(_) => Err(CapError::Timeout(format!(
            "{what} did not finish before the run's deadline"
        ))),
        Ok(Err(e)) => Err(CapError::Failed(format!("{what}: {e}"))),
        Ok(Ok((status, log))) if status.success() => Ok(log),
        Ok(Ok((status, log))) => Err(log.failure(what, &status.to_string())),
    }
}

/// What a tool said on stderr, kept small: the first error line, the
/// count of ignored errors, the first warnings, and what kind of trouble
/// any line names. Lines are read as they come; memory stays bounded
/// whatever the child prints.
#[derive(Debug, Default)]
pub(super) struct ToolLog {
    /// The line being read (at most [`LINE_CAP`] bytes of it).
    partial: Vec<u8>,
    /// The first line with `error:`.
    first_error: Option<String>,
    /// The last non-empty line (when no line says `error:`).
    last_line: Option<String>,
    /// N of `errors ignored on restore: N`.
    errors_ignored: Option<u64>,
    /// The first [`WARNINGS_KEPT`] `warning:` lines.
    pub(super) warnings: Vec<String>,
    /// A line says a database does not exist.
    missing_database: bool,
    /// A line says the login or the server's certificate was refused.
    refused: bool,
    /// A line says the server could not be reached or went away.
    connection_lost: bool,
}

impl ToolLog {
    /// Takes the next bytes of stderr.
    pub(super) fn push(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.take_partial(&bytes[..end]);
            let line = std::mem::take(&mut self.partial);
            self.line(&String::from_utf8_lossy(&line));
            bytes = &bytes[end + 1..];
        }
        self.take_partial(bytes);
    }

    /// Takes a last line without a newline.
    pub(super) fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&String::from_utf8_lossy(&line));
        }
    }

    fn take_partial(&mut self, bytes: &[u8]) {
        let room = LINE_CAP.saturating_sub(self.partial.len());
        self.partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn line(&mut self, line: &str) {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            return;
        }
        let lower = line.to_lowercase();
        if let Some(n) = lower.split("errors ignored on restore:").nth(1) {
            self.errors_ignored = n.trim().parse().ok();
        } else if lower.contains("warning:") && self.warnings.len() < WARNINGS_KEPT {
            self.warnings.push(line.clone());
        }
        if lower.contains("error:") && self.first_error.is_none() {
            self.first_error = Some(line.clone());
        }
        self.missing_database |= lower.contains("database \"") && lower.contains("\" does not exist");
        self.refused |= [
            "password authentication failed",
            "no password supplied",
            "no pg_hba.conf entry",
            "ssl error",
            "certificate verify failed",
            "server certificate",
            "root certificate file",
        ]
        .iter()
        .any(|p| lower.contains(p));
        self.connection_lost |= [
            "could not connect",
            "server closed the connection unexpectedly",
            "terminating connection",
            "no connection to the server",
        ]
        .iter()
        .any(|p| lower.contains(p))
            || (lower.contains("connection to server") && lower.contains("failed"));
        self.last_line = Some(line);
    }

    /// One line for a failed run of the tool (`status` is its exit status),
    /// classified: a missing database is `not-found`; an unreachable or
    /// lost server `unavailable`; everything else (a refused login or
    /// certificate, a bad archive, SQL errors) `failed`.
    pub(super) fn failure(&self, what: &str, status: &str) -> CapError {
        let said = match (&self.first_error, &self.last_line) {
            (Some(line), _) | (None, Some(line)) => match line.split_once("error: ") {
                Some((_, rest)) => rest.to_string(),
                None => line.clone(),
            },
            (None, None) => format!("{status}, nothing on stderr"),
        };
        let mut text = format!("{what} failed: {said}");
        if let Some(n) = self.errors_ignored {
            text.push_str(&format!(" (pg_restore reported {n} errors)"));
        }
        if self.missing_database {
            CapError::NotFound(text)
        } else if self.refused {
            CapError::Failed(text)
        } else if self.connection_lost {
            CapError::Unavailable(text)
        } else {
            CapError::Failed(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> ToolLog {
        let mut log = ToolLog::default();
        // Fed in odd-sized pieces, as a pipe delivers them.
        for piece in text.as_bytes().chunks(7) {
            log.push(piece);
        }
        log.finish();
        log
    }

    fn failure(text: &str) -> (&'static str, String) {
        let error = log(text).failure("pg_restore into database `app` of target `primary`", "exit status: 1");
        let (kind, message) = crate::caps::kit::call::error_parts(&error);
        assert!(!message.contains('\n'), "{message}");
        (kind, message.to_string())
    }

    #[test]
    fn sql_errors_name_the_first_and_the_count() {
        let (kind, message) = failure(
            "pg_restore: error: could not execute query: ERROR:  relation \"users\" already exists\n\
             Command was: CREATE TABLE public.users (\n    id integer\n);\n\
             pg_restore: error: could not execute query: ERROR:  relation \"orders\" already exists\n\
             pg_restore: warning: errors ignored on restore: 2\n",
        );
        assert_eq!(kind, "failed");
        assert_eq!(
            message,
            "pg_restore into database `app` of target `primary` failed: could not execute query: ERROR: relation \"users\" already exists (pg_restore reported 2 errors)"
        );
    }

    #[test]
    fn a_file_that_is_not_a_dump_is_one_line() {
        let (kind, message) = failure("pg_restore: error: input file does not appear to be a valid archive\n");
        assert_eq!(kind, "failed");
        assert!(
            message.ends_with("failed: input file does not appear to be a valid archive"),
            "{message}"
        );
    }

    #[test]
    fn connection_trouble_is_unavailable() {
        for text in [
            "pg_restore: error: connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?\n",
            "pg_restore: error: could not execute query: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n",
            "pg_restore: error: could not execute query: FATAL:  terminating connection due to administrator command\n",
            "pg_restore: error: could not execute query: no connection to the server\n",
            "pg_dump: error: could not connect to server\n",
        ] {
            assert_eq!(failure(text).0, "unavailable", "{text}");
        }
    }

    #[test]
    fn a_missing_database_is_not_found_and_a_refused_login_failed() {
        let (kind, message) = failure(
            "pg_restore: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nope\" does not exist\n",
        );
        assert_eq!(kind, "not-found");
        assert!(message.contains("database \"nope\" does not exist"), "{message}");
        for text in [
            "pg_restore: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"postgres\"\n",
            "pg_restore: error: connection to server at \"127.0.0.1\", port 5432 failed: SSL error: certificate verify failed\n",
        ] {
            assert_eq!(failure(text).0, "failed", "{text}");
        }
    }

    #[test]
    fn warnings_are_kept_up_to_twenty_and_lines_are_bounded() {
        let mut text = String::new();
        for i in 0..30 {
            text.push_str(&format!("pg_restore: warning: thing {i}\n"));
        }
        text.push_str(&"x".repeat(100_000));
        let log = log(&text);
        assert_eq!(log.warnings.len(), 20);
        assert_eq!(log.warnings[0], "pg_restore: warning: thing 0");
        assert_eq!(log.last_line.as_deref().map(str::len), Some(LINE_CAP));
        assert!(log.first_error.is_none());
    }

    #[test]
    fn database_names_cannot_become_connection_strings() {
        assert_eq!(dbname_arg("app"), "dbname='app'");
        assert_eq!(dbname_arg("x' host='evil"), "dbname='x\\' host=\\'evil'");
        assert_eq!(dbname_arg("a\\b"), "dbname='a\\\\b'");
    }

    #[test]
    fn the_password_file_is_private_and_escaped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        write_passfile(&path, "p:a\\ss*").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "*:*:*:*:p\\:a\\\\ss*\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(write_passfile(&path, "again").is_err(), "never overwrites a file");
        let other = dir.path().join("other");
        assert!(write_passfile(&other, "two\nlines").is_err());
        assert!(!other.exists());
    }
}
