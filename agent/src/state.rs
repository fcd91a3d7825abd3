//! The state directory: what `register` learns and `run` needs, one small file each, every
//! file mode 0600 (the private key is among them).
//!
//! ```text
//! instance-id   the id the server gave (mi-… or a claimed i-…)
//! machine-id    the machine id the signatures cover (the server kept it from registration)
//! pri-key       PKCS#1 "RSA PRIVATE KEY" PEM
//! pub-key       PKIX "PUBLIC KEY" PEM
//! agent.json    {"server","plain","caCert"}: how to reach the server, so `run` needs no flags
//! boot-id       written by `run`: the boot it last started in, for heart-beats' cold_start
//! ```

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use axt_proto::identity::AgentKey;
use serde::{Deserialize, Serialize};

/// File names inside the state directory.
pub mod files {
    /// The instance id.
    pub const INSTANCE_ID: &str = "instance-id";
    /// The machine id.
    pub const MACHINE_ID: &str = "machine-id";
    /// The private key.
    pub const PRIVATE_KEY: &str = "pri-key";
    /// The public key.
    pub const PUBLIC_KEY: &str = "pub-key";
    /// How to reach the server.
    pub const AGENT_JSON: &str = "agent.json";
    /// The boot id of the last start, to tell a cold start (first run since boot) from a
    /// restart, as the stock agent's flag file in /dev/shm does.
    pub const BOOT_ID: &str = "boot-id";
}

/// The contents of `agent.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerConfig {
    /// HOST:PORT of the gateway.
    pub server: String,
    /// http:// and ws:// instead of https:// and wss://.
    #[serde(default)]
    pub plain: bool,
    /// The CA PEM to trust, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

/// Everything a registered agent knows about itself.
pub struct Registration {
    /// The instance id.
    pub instance_id: String,
    /// The machine id.
    pub machine_id: String,
    /// The signing key.
    pub key: AgentKey,
    /// How to reach the server.
    pub server: ServerConfig,
}

/// A state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The directory at `path` (not created yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a file of the directory, trimmed; `None` when it does not exist or is empty.
    pub fn read(&self, name: &str) -> anyhow::Result<Option<String>> {
        let path = self.path.join(name);
        match fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Ok(Some(text.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes a file with mode 0600, atomically: a reader sees the old or the new content.
    pub fn write(&self, name: &str, contents: &str) -> anyhow::Result<()> {
        axt_kit::files::private_dir(&self.path)?;
        axt_kit::files::write_private(&self.path.join(name), contents.as_bytes())
    }

    /// Stores a registration: every file of the module doc.
    pub fn save(&self, registration: &Registration) -> anyhow::Result<()> {
        self.write(files::PRIVATE_KEY, &registration.key.private_pem()?)?;
        self.write(files::PUBLIC_KEY, &registration.key.public_pem()?)?;
        self.write(files::MACHINE_ID, &registration.machine_id)?;
        self.write(
            files::AGENT_JSON,
            &serde_json::to_string_pretty(&registration.server)?,
        )?;
        // Last, so that a directory with an instance id is a complete one.
        self.write(files::INSTANCE_ID, &registration.instance_id)
    }

    /// Loads what `register` stored.
    pub fn load(&self) -> anyhow::Result<Registration> {
        let missing = |name: &str| {
            anyhow::anyhow!(
                "{} has no {name}: run `axt-agent register` first",
                self.path.display()
            )
        };
        let instance_id = self
            .read(files::INSTANCE_ID)?
            .ok_or_else(|| missing(files::INSTANCE_ID))?;
        let machine_id = self
            .read(files::MACHINE_ID)?
            .ok_or_else(|| missing(files::MACHINE_ID))?;
        let pem = self
            .read(files::PRIVATE_KEY)?
            .ok_or_else(|| missing(files::PRIVATE_KEY))?;
        let key = AgentKey::from_pem(&pem).context("reading pri-key")?;
        let json = self
            .read(files::AGENT_JSON)?
            .ok_or_else(|| missing(files::AGENT_JSON))?;
        let server = serde_json::from_str(&json).context("reading agent.json")?;
        Ok(Registration {
            instance_id,
            machine_id,
            key,
            server,
        })
    }

    /// Whether this start is the first since the host booted, remembering this boot.
    pub fn cold_start(&self) -> bool {
        let Some(boot) = crate::host::boot_id() else {
            return true;
        };
        let cold = self.read(files::BOOT_ID).ok().flatten().as_deref() != Some(boot.as_str());
        if let Err(e) = self.write(files::BOOT_ID, &boot) {
            tracing::warn!(error = %format!("{e:#}"), "could not remember the boot id");
        }
        cold
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn every_file_is_private_and_a_registration_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        let key = AgentKey::generate().unwrap();
        let public = key.public_pem().unwrap();
        state
            .save(&Registration {
                instance_id: "mi-1".into(),
                machine_id: "0123abcd".into(),
                key,
                server: ServerConfig {
                    server: "127.0.0.1:8443".into(),
                    plain: false,
                    ca_cert: Some("/etc/lab-ca.pem".into()),
                },
            })
            .unwrap();
        for name in [
            files::INSTANCE_ID,
            files::MACHINE_ID,
            files::PRIVATE_KEY,
            files::PUBLIC_KEY,
            files::AGENT_JSON,
        ] {
            let mode = fs::metadata(state.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let mode = fs::metadata(state.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let loaded = state.load().unwrap();
        assert_eq!(
            (loaded.instance_id.as_str(), loaded.machine_id.as_str()),
            ("mi-1", "0123abcd")
        );
        assert_eq!(loaded.key.public_pem().unwrap(), public);
        assert_eq!(loaded.server.ca_cert, Some("/etc/lab-ca.pem".into()));
        assert_eq!(
            state.read(files::PUBLIC_KEY).unwrap().unwrap(),
            public.trim()
        );
    }

    #[test]
    fn an_empty_directory_says_to_register() {
        let dir = tempfile::tempdir().unwrap();
        let err = StateDir::new(dir.path()).load().err().unwrap();
        assert!(err.to_string().contains("register"), "{err}");
    }
}
