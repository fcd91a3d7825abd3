//! The lab's TLS: on first start a CA and a server certificate signed by it are generated into
//! the data directory (the CA is what agents and clients trust); later starts reuse them. The
//! server speaks HTTP/1.1 only and needs no SNI or ALPN, as the stock agent sends neither for an
//! IP address.

use std::{net::IpAddr, path::Path, sync::Arc};

use anyhow::Context as _;
use axt_kit::files::write_private;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{pem::PemObject as _, CertificateDer, PrivateKeyDer};

/// The CA certificate file, the one to hand to clients and agents.
pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";
const CERT_FILE: &str = "server.pem";
const KEY_FILE: &str = "server.key";

/// Makes sure the CA and a server certificate for `names` exist in `dir`, and returns the
/// rustls configuration serving them. A server certificate missing one of `names` is reissued.
pub fn server_config(dir: &Path, names: &[String]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    // The CA's private key lives here: the directory is its owner's alone.
    axt_kit::files::private_dir(dir)?;
    let (ca_cert, ca_key) = ca(dir)?;
    let stamp = dir.join("server.names");
    let wanted = names.join(",");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str())
        || !dir.join(CERT_FILE).exists()
    {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "axtlab gateway");
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
        write_private(&dir.join(KEY_FILE), key.serialize_pem().as_bytes())?;
        std::fs::write(dir.join(CERT_FILE), cert.pem() + &ca_cert.pem())?;
        std::fs::write(&stamp, &wanted)?;
        tracing::info!(names = %wanted, "issued the gateway's server certificate");
    }
    let certs = CertificateDer::pem_file_iter(dir.join(CERT_FILE))
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .context("reading the server certificate")?;
    let key = PrivateKeyDer::from_pem_file(dir.join(KEY_FILE)).context("reading server.key")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Loads the CA, or creates it (valid ten years) on first start.
fn ca(dir: &Path) -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
    let key_path = dir.join(CA_KEY_FILE);
    let key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => KeyPair::from_pem(&pem)?,
        Err(_) => {
            let key = KeyPair::generate()?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            key
        }
    };
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "axtlab lab CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    // Self-signing again with the same key and fields gives a certificate that verifies the
    // same chain, so only the key has to be kept; the PEM is rewritten for clients to read.
    let cert = params.self_signed(&key)?;
    let ca_path = dir.join(CA_FILE);
    if !ca_path.exists() {
        std::fs::write(&ca_path, cert.pem())?;
        tracing::info!(path = %ca_path.display(), "generated the lab CA: trust this file in agents and clients");
    }
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_data_directory_and_the_keys_are_their_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("gateway");
        // An existing, loose directory is tightened too.
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        server_config(&dir, &["127.0.0.1".to_owned()]).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            (mode(&dir.join(CA_KEY_FILE)), mode(&dir.join(KEY_FILE))),
            (0o600, 0o600)
        );
    }
}
