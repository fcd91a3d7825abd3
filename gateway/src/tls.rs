//! The gateway's TLS: a server certificate for its address, issued from the lab CA
//! ([`axt_kit::tls`]) — by default the CA of its own data directory, as on every start before
//! the control plane served HTTPS too; `--ca-dir` shares another one.

use std::{path::Path, sync::Arc};

pub use axt_kit::tls::CA_FILE;

/// The name of the gateway's certificate files in its data directory (`server.pem`,
/// `server.key`).
const LABEL: &str = "server";

/// Makes sure the lab CA and a server certificate for `names` exist in `dir`, and returns the
/// rustls configuration serving them. A server certificate missing one of `names` is reissued.
pub fn server_config(dir: &Path, names: &[String]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    server_config_from(dir, dir, names)
}

/// The same, with the CA in `ca_dir` and the server certificate in `dir`.
pub fn server_config_from(
    ca_dir: &Path,
    dir: &Path,
    names: &[String],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    axt_kit::tls::server_config(ca_dir, dir, LABEL, names)
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
            (
                mode(&dir.join(axt_kit::tls::CA_KEY_FILE)),
                mode(&dir.join("server.key"))
            ),
            (0o600, 0o600)
        );
    }

    /// With `--ca-dir`, the CA is that directory's and the data directory holds only the
    /// gateway's own certificate.
    #[test]
    fn a_ca_directory_of_its_own_is_shared() {
        let root = tempfile::tempdir().unwrap();
        let (ca, dir) = (root.path().join("ca"), root.path().join("gateway"));
        server_config_from(&ca, &dir, &["127.0.0.1".to_owned()]).unwrap();
        assert!(ca.join(CA_FILE).is_file() && ca.join(axt_kit::tls::CA_KEY_FILE).is_file());
        assert!(dir.join("server.pem").is_file());
        assert!(!dir.join(CA_FILE).exists() && !dir.join(axt_kit::tls::CA_KEY_FILE).exists());
    }
}
