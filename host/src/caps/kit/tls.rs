//! A private CA for a target's TLS (`ca_file`): the one place that reads
//! a PEM bundle into rustls roots, for every capability that offers it.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

/// The roots in PEM file `path`, or why they are unusable (unreadable,
/// not PEM, or no certificate in it) — the caller adds which target and
/// key to fix.
pub fn ca_roots(path: &Path) -> Result<RootCertStore, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err("no PEM certificate in it".to_string());
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_certificate_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert_eq!(ca_roots(&empty).unwrap_err(), "no PEM certificate in it");
        assert!(ca_roots(&dir.path().join("missing.pem")).is_err());
    }
}
