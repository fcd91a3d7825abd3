//! OpenSSH for the lab's target and the tests' hosts: keys, the one sshd configuration (public
//! keys only, nothing read from the system's own configuration), and the client options that
//! go with it.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context as _};

/// The OpenSSH server, started by absolute path as it requires.
pub const SSHD: &str = "/usr/sbin/sshd";

/// A host key for sshd, a client key, and the file that authorises the client key.
#[derive(Debug, Clone)]
pub struct Keys {
    pub host_key: PathBuf,
    pub client_key: PathBuf,
    pub authorized_keys: PathBuf,
}

impl Keys {
    /// Generates both keys (ed25519, no passphrase) into `dir`, unless they are there already.
    pub fn generate(dir: &Path, comment: &str) -> anyhow::Result<Self> {
        let keygen = |path: &Path| -> anyhow::Result<()> {
            if path.exists() {
                return Ok(());
            }
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(path)
                .stdin(Stdio::null())
                .status()
                .context("running ssh-keygen")?;
            if !status.success() {
                bail!("ssh-keygen {} failed", path.display());
            }
            Ok(())
        };
        let keys = Self {
            host_key: dir.join("ssh_host_ed25519_key"),
            client_key: dir.join("id_ed25519"),
            authorized_keys: dir.join("authorized_keys"),
        };
        keygen(&keys.host_key)?;
        keygen(&keys.client_key)?;
        std::fs::copy(dir.join("id_ed25519.pub"), &keys.authorized_keys)?;
        Ok(keys)
    }

    /// The client options that make `ssh`/`scp` use only this key, trust any host key and
    /// read no user or system configuration.
    pub fn client_options(&self) -> Vec<String> {
        let mut options = vec![
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.client_key.display().to_string(),
        ];
        for option in [
            "IdentitiesOnly=yes",
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
            "ConnectTimeout=20",
        ] {
            options.extend(["-o".into(), option.into()]);
        }
        options
    }
}

/// The configuration of an sshd listening on `listen` that lets root in with the client key
/// of `keys` only (and no one else when `allow_users` names who may log in), serves sftp (what
/// scp speaks) in-process, and runs in the foreground without a pid file.
pub fn config(listen: SocketAddr, keys: &Keys, allow_users: Option<&str>) -> String {
    let mut text = format!(
        "ListenAddress {listen}\n\
         HostKey {}\n\
         PidFile none\n\
         UsePAM no\n\
         PermitRootLogin prohibit-password\n",
        keys.host_key.display()
    );
    if let Some(users) = allow_users {
        let _ = writeln!(text, "AllowUsers {users}");
    }
    let _ = write!(
        text,
        "PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         AuthorizedKeysFile {}\n\
         StrictModes no\n\
         UseDNS no\n\
         PrintMotd no\n\
         Subsystem sftp internal-sftp\n",
        keys.authorized_keys.display()
    );
    text
}

/// Writes `config` to `path` and returns the command that runs sshd on it in the foreground,
/// logging to stderr (it says `Server listening on` when ready), through `launcher`.
pub fn command(launcher: &[String], path: &Path, config: &str) -> anyhow::Result<Command> {
    std::fs::write(path, config).with_context(|| format!("writing {}", path.display()))?;
    // The privilege-separation directory sshd insists on.
    std::fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
    let mut cmd = crate::process::command(launcher, SSHD);
    cmd.args(["-D", "-e", "-f"]).arg(path);
    Ok(cmd)
}

/// What sshd logs once it listens.
pub const READY: &str = "Server listening on";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_admits_keys_only() {
        let keys = Keys {
            host_key: "/k/host".into(),
            client_key: "/k/id".into(),
            authorized_keys: "/k/auth".into(),
        };
        let text = config("10.0.0.1:22".parse().unwrap(), &keys, Some("root"));
        for line in [
            "ListenAddress 10.0.0.1:22",
            "HostKey /k/host",
            "AllowUsers root",
            "PasswordAuthentication no",
            "AuthorizedKeysFile /k/auth",
            "Subsystem sftp internal-sftp",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(!config("10.0.0.1:22".parse().unwrap(), &keys, None).contains("AllowUsers"));
    }
}
