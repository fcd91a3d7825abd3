//! The one TLS client configuration of `axt`: the public web roots plus, optionally, the lab's
//! CA from a PEM file, so a gateway with a lab certificate is trusted without touching the
//! system store.
//!
//! Both the WebSocket (`wss://`) and the OpenAPI client (`https://`) use it, so there is a
//! single answer to "which certificates does axt trust".

use std::{path::Path, sync::Arc};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer},
    ClientConfig, RootCertStore,
};

/// Why the CA file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("the CA file {path} has a bad certificate: {reason}")]
    BadCertificate { path: String, reason: String },
    #[error("TLS setup failed: {0}")]
    Setup(#[from] rustls::Error),
}

/// A client configuration trusting the public roots and every certificate in `ca_pem`.
pub fn client_config(ca_pem: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_pem {
        for cert in read_certificates(path)? {
            roots.add(cert).map_err(|e| TlsError::BadCertificate {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
    }
    // The provider is named rather than taken from the process default: the workspace builds
    // rustls with ring only, and naming it keeps this working if another crate adds aws-lc-rs.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every `CERTIFICATE` block of a PEM file; other blocks (a key pasted in by mistake) are skipped.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = || path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: shown(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: shown(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: shown() });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_ca_the_public_roots_are_enough() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn a_file_without_certificates_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = client_config(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(err.contains("cannot read the CA file"), "{err}");
    }
}
