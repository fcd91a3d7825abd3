//! What to do when a server's certificate fails verification — the first thing most people meet
//! when they point `axt` at a lab whose CA it does not know yet. Every command that ends on
//! such a failure gets this advice from [`crate::run`]; `axt portforward` also gives it for a
//! connection whose WebSocket failed while the others go on.
//!
//! Which failure it was comes from [`super::certificate_error`]: by type, never by message.

use std::path::{Path, PathBuf};

use rustls::CertificateError;

use super::certificate_error;

/// Where a lab leaves its CA, said after the advice to pass it (the lab also prints it).
const WHERE_THE_CA_IS: &str = "the lab prints its path (by default axt-data/ca/ca.pem for \
                               scripts/lab, <lab dir>/ca/ca.pem for `axt lab up`)";

/// The advice for certificate failures, knowing which CA files (if any) `axt` trusted.
#[derive(Debug, Clone, Default)]
pub struct Advice {
    /// `--ca-cert` (or `AXT_CA_CERT`, or the profile's `axt_ca_cert`).
    ca_cert: Option<PathBuf>,
    /// The bundle `SSL_CERT_FILE` names.
    bundle: Option<PathBuf>,
}

impl Advice {
    /// Advice for a run that trusts `ca_cert` and the bundle of `SSL_CERT_FILE` besides the
    /// public roots, as [`super::client_config`] does.
    pub fn new(ca_cert: Option<&Path>) -> Self {
        Self::with_bundle(ca_cert, super::ssl_cert_file().as_deref())
    }

    /// [`Advice::new`] with the `SSL_CERT_FILE` bundle given rather than read from the
    /// environment.
    pub fn with_bundle(ca_cert: Option<&Path>, bundle: Option<&Path>) -> Self {
        Self {
            ca_cert: ca_cert.map(Path::to_path_buf),
            bundle: bundle.map(Path::to_path_buf),
        }
    }

    /// The lines that explain `err` (each to be shown after `axt: `), when it is a failed
    /// certificate verification; `None` for any other error.
    pub fn explain(&self, err: &(dyn std::error::Error + 'static)) -> Option<[String; 2]> {
        let lines = match certificate_error(err)? {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                [
                    "the server's certificate does not name the host in the URL".to_owned(),
                    "connect with a host name the certificate was issued for (the lab's own names)"
                        .to_owned(),
                ]
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => [
                "the server's certificate has expired or is not valid yet".to_owned(),
                "check the clock of this machine and of the lab".to_owned(),
            ],
            // An unknown issuer above all: the lab's own CA, not passed.
            _ => [self.untrusted(), WHERE_THE_CA_IS.to_owned()],
        };
        Some(lines)
    }

    /// What to say of a certificate no trusted CA signed: pass the lab's, or check the one
    /// passed.
    fn untrusted(&self) -> String {
        let ca_cert = self.ca_cert.as_ref().map(|p| p.display().to_string());
        let bundle = self
            .bundle
            .as_ref()
            .map(|p| format!("{} (SSL_CERT_FILE)", p.display()));
        let files: Vec<String> = ca_cert.into_iter().chain(bundle).collect();
        if files.is_empty() {
            return "the server's certificate is not trusted: pass the lab's CA with --ca-cert, \
                    AXT_CA_CERT or SSL_CERT_FILE"
                .to_owned();
        }
        format!(
            "the server's certificate is not trusted, not even with the CA in {}: is that this \
             lab's CA?",
            files.join(" or ")
        )
    }

    /// Prints [`Advice::explain`]'s lines for `err` on stderr; whether there were any.
    pub fn print(&self, err: &(dyn std::error::Error + 'static)) -> bool {
        let Some(lines) = self.explain(err) else {
            return false;
        };
        for line in lines {
            eprintln!("axt: {line}");
        }
        true
    }

    /// Reports `err`, the error that ended a command, when it is a failed certificate check:
    /// its line, then what to do. Whether it was one (any other error is left to the caller).
    pub fn report(&self, err: &anyhow::Error) -> bool {
        if self.explain(err.as_ref()).is_none() {
            return false;
        }
        eprintln!("{}", crate::error_line(err));
        self.print(err.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::tests::refused;

    #[test]
    fn an_unknown_issuer_says_to_pass_the_lab_ca() {
        let err = refused(CertificateError::UnknownIssuer);
        let [what, where_] = Advice::default().explain(err.as_ref()).unwrap();
        assert!(
            what.contains("--ca-cert, AXT_CA_CERT or SSL_CERT_FILE"),
            "{what}"
        );
        assert!(where_.contains("axt-data/ca/ca.pem"), "{where_}");
        assert!(where_.contains("<lab dir>/ca/ca.pem"), "{where_}");
    }

    #[test]
    fn an_unknown_issuer_despite_a_ca_names_the_files_trusted() {
        let err = refused(CertificateError::UnknownIssuer);
        let given = Advice::with_bundle(Some(Path::new("/old/ca.pem")), None);
        let [what, _] = given.explain(err.as_ref()).unwrap();
        assert!(
            what.contains("not even with the CA in /old/ca.pem:"),
            "{what}"
        );
        let bundle = Advice::with_bundle(None, Some(Path::new("/b.pem")));
        let [what, _] = bundle.explain(err.as_ref()).unwrap();
        assert!(what.contains("in /b.pem (SSL_CERT_FILE):"), "{what}");
        let both = Advice::with_bundle(Some(Path::new("/a.pem")), Some(Path::new("/b.pem")));
        let [what, _] = both.explain(err.as_ref()).unwrap();
        assert!(
            what.contains("in /a.pem or /b.pem (SSL_CERT_FILE):"),
            "{what}"
        );
    }

    #[test]
    fn names_and_dates_get_their_own_advice() {
        let advice = Advice::default();
        let [what, _] = advice
            .explain(refused(CertificateError::NotValidForName).as_ref())
            .unwrap();
        assert!(what.contains("does not name the host"), "{what}");
        let [what, _] = advice
            .explain(refused(CertificateError::Expired).as_ref())
            .unwrap();
        assert!(what.contains("expired"), "{what}");
    }

    #[test]
    fn other_errors_get_no_advice() {
        let refused_tcp = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let other_tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::HandshakeNotComplete,
        );
        for io in [refused_tcp, other_tls] {
            let err = anyhow::Error::new(tokio_tungstenite::tungstenite::Error::Io(io));
            assert!(Advice::default().explain(err.as_ref()).is_none(), "{err}");
        }
    }
}
