//! Step 3, restore the certificates: each backed-up file written
//! atomically into `certificates/` of the files target `infrastructure`
//! (missing directories made 0700; private keys 0600,
//! whatever the backup says), unless the file there already holds exactly
//! the backup (same sha256, compared in the host). Then each certificate
//! is verified by `openssl` on the host: it parses, it has not expired,
//! and it matches its private key (`NAME.crt` ↔ `NAME.key`, compared by
//! public key). The plugin sees public keys and dates, never a private key.

use drhost_sdk::files::Directory;
use drhost_sdk::prelude::*;

use crate::assess::CertificateBackup;
use crate::{Settings, CERTIFICATES, INFRASTRUCTURE};

const STEP: &str = "restore the certificates and verify each";

/// Whether `path` holds a private key (written 0600).
fn is_key(path: &str) -> bool {
    path.ends_with(".key") || path.ends_with("-key.pem") || path.ends_with("_key.pem")
}

/// Whether `path` holds a certificate (verified with `openssl x509`).
fn is_certificate(path: &str) -> bool {
    path.ends_with(".crt") || (path.ends_with(".pem") && !is_key(path))
}

/// The key file that belongs to certificate `path`, by name.
fn key_of(path: &str) -> String {
    let stem = path.rsplit_once('.').map_or(path, |(stem, _)| stem);
    format!("{stem}.key")
}

/// `openssl ARGS`; its stdout when it exits 0, else a failure naming `what`.
fn openssl(args: &[&str], what: &str) -> Result<String, Failure> {
    let done = run_program("openssl", args).map_err(|e| Failure::from(e).in_step(STEP))?;
    if done.exit_code == Some(0) {
        return Ok(done.stdout);
    }
    let why = done
        .stderr
        .lines()
        .chain(done.stdout.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string();
    Err(fail(format!("{what} ({}: {why})", exit_text(done.exit_code)))
        .in_step(STEP)
        .hint("regenerate the certificates (the runbook's generate-certs.sh) and run infra-backup, then infra-restore again"))
}

/// Step 3: returns how many files were written, and what changed.
pub(crate) fn restore(s: &Settings, backups: &[CertificateBackup]) -> Result<(usize, String), Failure> {
    let step = Step::start(STEP);
    let dir = Directory::open(INFRASTRUCTURE).map_err(|e| Failure::from(e).in_step(STEP))?;
    let mut written = Vec::new();
    for b in backups {
        let at = format!("{CERTIFICATES}/{}", b.path);
        let same = match dir.stat(&at) {
            Ok(_) => dir
                .read(&at)
                .map(|have| have.sha256() == b.blob.sha256())
                .unwrap_or(false),
            Err(Error::NotFound(_)) => false,
            Err(e) => return Err(Failure::from(e).in_step(STEP)),
        };
        let mode = if is_key(&b.path) { 0o600 } else { b.mode & 0o644 };
        if same {
            step.note(format!("{}: unchanged", b.path));
            continue;
        }
        dir.write(&at, &b.blob, mode)
            .map_err(|e| Failure::from(e).in_step(STEP))?;
        step.note(format!("{}: written, mode {mode:o}", b.path));
        written.push(b.path.clone());
    }

    let paths: Vec<&str> = backups.iter().map(|b| b.path.as_str()).collect();
    let mut verified = 0;
    for path in paths.iter().filter(|p| is_certificate(p)) {
        let file = format!("{}/{path}", s.certificates_dir);
        let dates = openssl(
            &["x509", "-in", &file, "-noout", "-enddate", "-checkend", "0"],
            &format!("certificate {path} does not parse or has expired"),
        )?;
        let until = dates
            .lines()
            .find_map(|l| l.strip_prefix("notAfter="))
            .unwrap_or("?")
            .to_string();
        let key = key_of(path);
        if paths.contains(&key.as_str()) {
            let from_cert = openssl(
                &["x509", "-in", &file, "-noout", "-pubkey"],
                &format!("certificate {path} has no readable public key"),
            )?;
            let key_file = format!("{}/{key}", s.certificates_dir);
            let from_key = openssl(
                &["pkey", "-in", &key_file, "-pubout"],
                &format!("key {key} does not parse"),
            )?;
            if from_cert.trim() != from_key.trim() {
                return Err(fail(format!("certificate {path} does not match its key {key}"))
                    .in_step(STEP)
                    .hint("the backup holds a certificate and a key of different pairs: regenerate them and run infra-backup"));
            }
            step.note(format!("{path}: valid until {until}, matches {key}"));
        } else {
            step.note(format!("{path}: valid until {until}"));
        }
        verified += 1;
    }
    step.note(format!("{verified} certificate(s) verified"));
    step.ok();
    let changed = if written.is_empty() {
        "nothing (all files hold the backup)".to_string()
    } else {
        format!("wrote {}", written.join(", "))
    };
    Ok((written.len(), changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_certificates_are_told_apart() {
        assert!(is_key("server.key") && is_key("tls/redis-key.pem"));
        assert!(is_certificate("server.crt") && is_certificate("ca.pem"));
        assert!(!is_certificate("server.key") && !is_key("server.crt"));
        assert_eq!(key_of("tls/server.crt"), "tls/server.key");
    }
}
