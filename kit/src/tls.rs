//! The lab's TLS: one lab CA, generated into its directory on the first start of whichever
//! service comes first (the CA is what agents and clients trust), and the server certificates
//! each service issues itself from it — the gateway for its address, the control plane for the
//! OpenAPI's real endpoint names. Later starts reuse both. A server speaks HTTP/1.1 only and
//! needs no SNI, as the stock agent sends none for an IP address.

use std::{
    fs,
    io::{ErrorKind, Write as _},
    net::IpAddr,
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    sync::{atomic::AtomicU64, Arc},
};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PublicKeyData as _, SanType,
};
use rustls::pki_types::{pem::PemObject as _, CertificateDer, PrivateKeyDer};

use crate::files::{private_dir, write_private};

/// The CA certificate file, the one to hand to clients and agents.
pub const CA_FILE: &str = "ca.pem";
/// The CA's private key, next to it.
pub const CA_KEY_FILE: &str = "ca.key";

/// Makes sure the lab CA exists in `ca_dir` and a server certificate for `names` signed by it
/// exists in `cert_dir` (as `<label>.pem` and `<label>.key`), and returns the rustls
/// configuration serving it, offering ALPN `http/1.1`. A server certificate missing one of
/// `names`, or signed by another CA, is issued anew. `ca_dir` and `cert_dir` may be one
/// directory; two services may share one `ca_dir`, with labels or certificate directories of
/// their own.
pub fn server_config(
    ca_dir: &Path,
    cert_dir: &Path,
    label: &str,
    names: &[String],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    // The CA's private key lives here: the directory is its owner's alone.
    private_dir(ca_dir)?;
    private_dir(cert_dir)?;
    let (ca_cert, ca_key) = ca(ca_dir)?;
    let (cert_file, key_file) = cert_files(cert_dir, label);
    let stamp = cert_dir.join(format!("{label}.names"));
    // The names and the CA's public key: a certificate of the same names from another CA (a
    // changed --ca-dir) would not verify for clients of this one.
    let wanted = format!("{}\n{}", names.join(","), hex(ca_key.der_bytes()));
    if fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str())
        || !cert_file.exists()
        || !key_file.exists()
    {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("axtlab {label}"));
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()
            .context("a certificate name is neither an IP address nor a DNS name")?;
        let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
        write_private(&key_file, key.serialize_pem().as_bytes())?;
        write_public(&cert_file, (cert.pem() + &ca_cert.pem()).as_bytes())?;
        fs::write(&stamp, &wanted).with_context(|| format!("writing {}", stamp.display()))?;
        tracing::info!(label, names = %names.join(","), "issued a server certificate from the lab CA");
    }
    let certs = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading {}", cert_file.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificate and key files of the server certificate `label` in `dir`.
pub fn cert_files(dir: &Path, label: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{label}.pem")),
        dir.join(format!("{label}.key")),
    )
}

/// Loads the CA of `dir`, or creates it (valid until 2036) on first start.
fn ca(dir: &Path) -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
    let key = ca_key(&dir.join(CA_KEY_FILE))?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "axtlab lab CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    // Self-signing again with the same key and fields gives a certificate that verifies the
    // same chain (its serial comes from the key, too), so only the key has to be kept.
    let cert = params.self_signed(&key)?;
    let ca_path = dir.join(CA_FILE);
    if !ca_path.exists() {
        // Whole or not at all: a client may be reading it while a second service starts.
        write_public(&ca_path, cert.pem().as_bytes())?;
        tracing::info!(path = %ca_path.display(), "generated the lab CA: trust this file in agents and clients");
    }
    Ok((cert, key))
}

/// The CA key at `path`, generated when there is none. Two services may start at once on one
/// CA directory: the new key is written whole under a name of its own and then linked into
/// place, which fails when a key is already there (the create-new of a complete file) — then
/// the one that won is read, so both issue from the same CA and neither reads half a key.
fn ca_key(path: &Path) -> anyhow::Result<KeyPair> {
    let read = |path: &Path| -> anyhow::Result<Option<KeyPair>> {
        match fs::read_to_string(path) {
            Ok(pem) => Ok(Some(
                KeyPair::from_pem(&pem).with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    };
    if let Some(key) = read(path)? {
        return Ok(key);
    }
    let key = KeyPair::generate()?;
    let tmp = unique_sibling(path);
    let published = write_new(&tmp, key.serialize_pem().as_bytes(), 0o600)
        .and_then(|()| Ok(fs::hard_link(&tmp, path)?));
    let _ = fs::remove_file(&tmp);
    match published {
        Ok(()) => Ok(key),
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == ErrorKind::AlreadyExists) =>
        {
            read(path)?.with_context(|| format!("{} vanished", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Writes a public file (a certificate) atomically: a temporary sibling of its own, renamed
/// over `path`.
fn write_public(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = unique_sibling(path);
    let written = write_new(&tmp, bytes, 0o644)
        .and_then(|()| Ok(fs::rename(&tmp, path)?))
        .with_context(|| format!("writing {}", path.display()));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Creates `path` (it must not exist) with `mode`, and writes and syncs `bytes`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// A hidden name next to `path` no other writer uses: this process's id and a counter.
fn unique_sibling(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use rustls::{client::danger::ServerCertVerifier as _, pki_types::ServerName};

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// The roots a client of `ca_dir`'s CA trusts.
    fn roots(ca_dir: &Path) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca_dir.join(CA_FILE)).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        Arc::new(roots)
    }

    /// Whether the certificate `label` of `cert_dir` verifies for `name` under `ca_dir`'s CA.
    fn verifies(ca_dir: &Path, cert_dir: &Path, label: &str, name: &str) -> bool {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots(ca_dir), provider)
                .build()
                .unwrap();
        let chain: Vec<_> = CertificateDer::pem_file_iter(cert_files(cert_dir, label).0)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        verifier
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &name,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .is_ok()
    }

    #[test]
    fn the_directories_and_the_keys_are_their_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let (ca_dir, cert_dir) = (root.path().join("ca"), root.path().join("cp"));
        // An existing, loose directory is tightened too.
        fs::create_dir(&ca_dir).unwrap();
        fs::set_permissions(&ca_dir, fs::Permissions::from_mode(0o755)).unwrap();
        server_config(&ca_dir, &cert_dir, "https", &names(&["127.0.0.1"])).unwrap();
        assert_eq!((mode(&ca_dir), mode(&cert_dir)), (0o700, 0o700));
        assert_eq!(
            (
                mode(&ca_dir.join(CA_KEY_FILE)),
                mode(&cert_files(&cert_dir, "https").1)
            ),
            (0o600, 0o600)
        );
        assert_eq!(mode(&ca_dir.join(CA_FILE)), 0o644);
    }

    /// Services starting at once on a fresh CA directory make one CA between them, and each
    /// one's certificate verifies under it.
    #[test]
    fn services_starting_at_once_share_one_ca() {
        let root = tempfile::tempdir().unwrap();
        let ca_dir = root.path().join("ca");
        let starts: Vec<_> = (0..6)
            .map(|i| {
                let (ca_dir, cert_dir) = (ca_dir.clone(), root.path().join(format!("s{i}")));
                std::thread::spawn(move || {
                    server_config(&ca_dir, &cert_dir, "server", &names(&["localhost"])).unwrap();
                    cert_dir
                })
            })
            .collect();
        for start in starts {
            let cert_dir = start.join().unwrap();
            assert!(verifies(&ca_dir, &cert_dir, "server", "localhost"));
        }
        let left: Vec<_> = fs::read_dir(&ca_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporaries left: {left:?}");
    }

    /// A certificate is issued anew when a name is added or the CA is another one.
    #[test]
    fn a_new_name_or_another_ca_issues_anew() {
        let root = tempfile::tempdir().unwrap();
        let (first, second, dir) = (
            root.path().join("ca1"),
            root.path().join("ca2"),
            root.path().join("svc"),
        );
        server_config(&first, &dir, "server", &names(&["a.example"])).unwrap();
        assert!(!verifies(&first, &dir, "server", "b.example"));
        server_config(&first, &dir, "server", &names(&["a.example", "b.example"])).unwrap();
        assert!(verifies(&first, &dir, "server", "b.example"));
        server_config(&second, &dir, "server", &names(&["a.example", "b.example"])).unwrap();
        assert!(verifies(&second, &dir, "server", "a.example"));
        assert!(!verifies(&first, &dir, "server", "a.example"));
    }

    /// A real handshake on loopback: the client trusts the CA file and asks for a name of the
    /// certificate, and the server offers HTTP/1.1.
    #[tokio::test]
    async fn a_client_trusting_the_ca_file_completes_a_handshake() {
        let root = tempfile::tempdir().unwrap();
        let (ca_dir, cert_dir) = (root.path().join("ca"), root.path().join("cp"));
        let name = "ecs-cn-hangzhou.aliyuncs.com";
        let server = server_config(&ca_dir, &cert_dir, "https", &names(&[name])).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepting = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio_rustls::TlsAcceptor::from(server).accept(tcp).await
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(&ca_dir))
            .with_no_client_auth();
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tokio_rustls::TlsConnector::from(Arc::new(client))
                .connect(ServerName::try_from(name).unwrap(), tcp),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        accepting.await.unwrap().unwrap();
    }
}
