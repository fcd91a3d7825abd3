//! What to do when a server's certificate fails verification — the first thing most people meet
//! when they point `axt` at a lab whose CA it does not know yet.
//!
//! The failure is found by walking the error's chain for rustls's `InvalidCertificate`, not by
//! reading messages. tokio-tungstenite and reqwest both carry it inside an `io::Error`, whose
//! `source()` skips the error it wraps, so each `io::Error` is opened with `get_ref` as well.

use std::{
    error::Error as StdError,
    path::{Path, PathBuf},
    process::ExitCode,
};

use rustls::CertificateError;

/// Where a lab leaves its CA, said after the advice to pass it (the lab also prints it).
const WHERE_THE_CA_IS: &str = "the lab prints its path (by default axt-data/ca/ca.pem for \
                               scripts/lab, <lab dir>/ca/ca.pem for `axt lab up`)";

/// The advice for certificate failures, knowing which CA file (if any) `axt` was given.
#[derive(Debug, Clone, Default)]
pub struct Advice {
    ca_cert: Option<PathBuf>,
}

impl Advice {
    /// Advice for a run that trusts `ca_cert` besides the public roots.
    pub fn new(ca_cert: Option<&Path>) -> Self {
        Self {
            ca_cert: ca_cert.map(Path::to_path_buf),
        }
    }

    /// The lines that explain `err` (each to be shown after `axt: `), when it is a failed
    /// certificate verification; `None` for any other error.
    pub fn explain(&self, err: &(dyn StdError + 'static)) -> Option<[String; 2]> {
        let problem = certificate_error(err)?;
        let lines = match problem {
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
            _ => match &self.ca_cert {
                None => [
                    "the server's certificate is not trusted: pass the lab's CA with --ca-cert \
                     or AXT_CA_CERT"
                        .to_owned(),
                    WHERE_THE_CA_IS.to_owned(),
                ],
                Some(path) => [
                    format!(
                        "the server's certificate is not trusted, not even with the CA in {}: \
                         is that this lab's CA?",
                        path.display()
                    ),
                    WHERE_THE_CA_IS.to_owned(),
                ],
            },
        };
        Some(lines)
    }

    /// Prints [`Advice::explain`]'s lines for `err` on stderr; whether there were any.
    pub fn print(&self, err: &(dyn StdError + 'static)) -> bool {
        let Some(lines) = self.explain(err) else {
            return false;
        };
        for line in lines {
            eprintln!("axt: {line}");
        }
        true
    }

    /// Ends a command on `err`: a failed certificate check is shown here, its line and then
    /// what to do, and becomes exit code 1; any other error goes back to `main` as it is.
    pub fn report(&self, err: anyhow::Error) -> anyhow::Result<ExitCode> {
        if self.explain(err.as_ref()).is_none() {
            return Err(err);
        }
        eprintln!("{}", crate::error_line(&err));
        self.print(err.as_ref());
        Ok(ExitCode::FAILURE)
    }
}

/// rustls's `InvalidCertificate` anywhere in `err`'s chain, inside `io::Error`s too.
pub fn certificate_error<'e>(err: &'e (dyn StdError + 'static)) -> Option<&'e CertificateError> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(rustls::Error::InvalidCertificate(problem)) = err.downcast_ref() {
            return Some(problem);
        }
        // `io::Error::source` is the wrapped error's source: the wrapped one itself is only
        // reachable this way.
        let wrapped = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref);
        if let Some(found) = wrapped.and_then(|inner| certificate_error(inner)) {
            return Some(found);
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite;

    /// How tokio-tungstenite reports a refused certificate, inside `axt`'s own errors.
    fn refused(problem: CertificateError) -> anyhow::Error {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(problem),
        );
        let failed = crate::ws::ConnectError::Failed {
            host: "gw:8443".into(),
            source: tungstenite::Error::Io(io),
        };
        anyhow::Error::new(failed).context("opening the session")
    }

    #[test]
    fn an_unknown_issuer_says_to_pass_the_lab_ca() {
        let err = refused(CertificateError::UnknownIssuer);
        assert!(matches!(
            certificate_error(err.as_ref()),
            Some(CertificateError::UnknownIssuer)
        ));
        let [what, where_] = Advice::new(None).explain(err.as_ref()).unwrap();
        assert!(what.contains("--ca-cert or AXT_CA_CERT"), "{what}");
        assert!(where_.contains("axt-data/ca/ca.pem"), "{where_}");
        assert!(where_.contains("<lab dir>/ca/ca.pem"), "{where_}");
        let given = Advice::new(Some(Path::new("/old/ca.pem")));
        let [what, _] = given.explain(err.as_ref()).unwrap();
        assert!(what.contains("/old/ca.pem"), "{what}");
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
            let err = anyhow::Error::new(tungstenite::Error::Io(io));
            assert!(Advice::default().explain(err.as_ref()).is_none(), "{err}");
        }
    }
}
