//! The one TLS client configuration of `axt`: the public web roots plus, optionally, the lab's
//! CA from a PEM file (`--ca-cert`), plus the certificates of `SSL_CERT_FILE` as Go and
//! OpenSSL read it, so a lab certificate is trusted without touching the system store — and
//! with the same variable that makes the stock tools trust it.
//!
//! Both the WebSocket (`wss://`) and the OpenAPI client (`https://`) use it, so there is a
//! single answer to "which certificates does axt trust"; [`certificate_error`] tells a refused
//! certificate apart from other failures, and [`hint`] says what to do about it.

pub mod hint;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

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
    #[error("the SSL_CERT_FILE bundle {path}")]
    Bundle { path: String, source: Box<TlsError> },
    #[error("TLS setup failed: {0}")]
    Setup(#[from] rustls::Error),
}

/// The variable naming a PEM bundle of trusted certificates, read by Go's and OpenSSL's
/// clients (and so by ali-instance-cli and the aliyun CLI).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// A client configuration trusting the public roots, every certificate in `ca_pem`, and those
/// of the file `SSL_CERT_FILE` names, if set.
pub fn client_config(ca_pem: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_with(ca_pem, ssl_cert_file().as_deref())
}

/// The bundle `SSL_CERT_FILE` names; empty counts as unset, as it does for OpenSSL.
pub fn ssl_cert_file() -> Option<PathBuf> {
    std::env::var_os(SSL_CERT_FILE)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// [`client_config`] with the `SSL_CERT_FILE` bundle given rather than read from the
/// environment.
pub fn client_config_with(
    ca_pem: Option<&Path>,
    bundle: Option<&Path>,
) -> Result<Arc<ClientConfig>, TlsError> {
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
    if let Some(path) = bundle {
        let shown = || path.display().to_string();
        let bundle_error = |source| TlsError::Bundle {
            path: shown(),
            source: Box::new(source),
        };
        // A system bundle may hold a certificate webpki cannot use (an old v1 root); like
        // OpenSSL, the rest are still trusted. A bundle with none usable is a mistake to report.
        let (added, _) =
            roots.add_parsable_certificates(read_certificates(path).map_err(bundle_error)?);
        if added == 0 {
            return Err(bundle_error(TlsError::BadCertificate {
                path: shown(),
                reason: "no certificate in it can be a trust anchor".into(),
            }));
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

/// The certificate problem behind `error`, if a server's certificate was refused (an unknown
/// issuer: the lab CA is not trusted; a name mismatch: the URL names another host). Found by
/// type, not by reading messages, anywhere in the chain of sources — also inside the
/// `io::Error`s that tokio-rustls, hyper and tungstenite wrap rustls's errors in, whose
/// `source` skips the error they carry, so each is opened with `get_ref` as well.
pub fn certificate_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::CertificateError> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(rustls::Error::InvalidCertificate(problem)) = error.downcast_ref() {
            return Some(problem);
        }
        let wrapped = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref);
        if let Some(problem) = wrapped.and_then(|inner| certificate_error(inner)) {
            return Some(problem);
        }
        next = error.source();
    }
    None
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

    #[test]
    fn the_ssl_cert_file_bundle_adds_its_certificates_and_must_hold_some() {
        let dir = tempfile::tempdir().unwrap();
        axt_gateway::tls::server_config(dir.path(), &["lab.test".to_owned()]).unwrap();
        let ca = dir.path().join(axt_gateway::tls::CA_FILE);
        assert!(client_config_with(None, Some(&ca)).is_ok());
        assert!(client_config_with(Some(&ca), Some(&ca)).is_ok());
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = client_config_with(None, Some(&empty)).unwrap_err();
        assert!(matches!(err, TlsError::Bundle { .. }), "{err}");
        assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");
    }

    /// How tokio-tungstenite reports a refused certificate, inside `axt`'s own errors.
    pub(in crate::tls) fn refused(problem: rustls::CertificateError) -> anyhow::Error {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(problem),
        );
        let failed = crate::ws::ConnectError::Failed {
            host: "gw:443".into(),
            source: tokio_tungstenite::tungstenite::Error::Io(io),
        };
        anyhow::Error::new(failed).context("opening the session")
    }

    #[test]
    fn a_refused_certificate_is_found_inside_io_errors() {
        let refused = refused(rustls::CertificateError::UnknownIssuer);
        assert_eq!(
            certificate_error(refused.as_ref()),
            Some(&rustls::CertificateError::UnknownIssuer)
        );
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(certificate_error(&other), None);
    }
}
