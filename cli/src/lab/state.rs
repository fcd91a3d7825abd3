//! What a lab is made of, in `<dir>/state.json`: written as `axt lab up` builds it, so that
//! `axt lab down` — or a failed `up` — undoes exactly that: processes by pid (and start
//! time, so a recycled pid is never signalled), namespaces, links and routes by name.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use axt_kit::process::Record;
use serde::{Deserialize, Serialize};

/// The state file's name inside the lab directory.
pub const STATE_FILE: &str = "state.json";

/// How the lab's hosts are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One network namespace per instance and one for the target (root and `ip` needed).
    #[default]
    Netns,
    /// Everything on loopback: the target is reachable from this host too.
    Loopback,
}

/// One instance: a host running axt-agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Instance {
    /// `instance-N`, also its InstanceName.
    pub name: String,
    /// Its InstanceId (`mi-…`).
    pub id: String,
    /// Its network namespace (netns mode).
    pub netns: Option<String>,
    /// Its address on the region's network (netns mode).
    pub public_ip: Option<String>,
    /// Its address on the private network it shares with the target (netns mode).
    pub private_ip: Option<String>,
}

/// The private target host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// Its network namespace (netns mode).
    pub netns: Option<String>,
    /// Its address: what `--target-server` names.
    pub ip: String,
    /// The port of its web service.
    pub http_port: u16,
    /// The port of its sshd, when one runs.
    pub ssh_port: Option<u16>,
    /// The private key sshd accepts (for root), when sshd runs.
    pub ssh_key: Option<PathBuf>,
}

/// Everything `axt lab up` created or started.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LabState {
    pub mode: Mode,
    /// N of 10.213.N.0/24 (netns mode).
    pub net_index: Option<u8>,
    /// Network namespaces, by name.
    pub namespaces: Vec<String>,
    /// Links of the root namespace (a bridge, veth ends), by name.
    pub links: Vec<String>,
    /// Routes of the root namespace, as `ip route add` arguments.
    pub routes: Vec<String>,
    /// Processes, in start order.
    pub processes: Vec<Record>,
    /// The control plane's `host:port`.
    pub api: String,
    /// The gateway's `host:port`.
    pub gateway: String,
    /// The lab CA's PEM file.
    pub ca_cert: PathBuf,
    /// The control plane's HTTPS listener, serving the real endpoint names.
    #[serde(default)]
    pub https_api: Option<String>,
    /// The web console's URL.
    #[serde(default)]
    pub console: Option<String>,
    /// The CONNECT proxy that takes the real names to the lab (`HTTPS_PROXY`).
    #[serde(default)]
    pub proxy: Option<String>,
    /// The account the agents may create as their default session user (root, no
    /// `--default-user`), and whether it was there before.
    #[serde(default)]
    pub default_user: Option<super::account::DefaultUser>,
    /// The `/etc/netns/<ns>` directories holding the namespaces' hosts files.
    #[serde(default)]
    pub hosts_dirs: Vec<PathBuf>,
    pub instances: Vec<Instance>,
    pub target: Option<Target>,
    /// The RAM users, role and profiles the lab made (absent when its control plane had no
    /// RAM API, or in a state file of an older `axt`).
    #[serde(default)]
    pub iam: Option<super::identities::Cast>,
}

impl LabState {
    /// Reads `<dir>/state.json`; `None` when there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is not a lab state file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes `<dir>/state.json` (through a temporary file, so a reader never sees half).
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(STATE_FILE);
        let temp = dir.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&temp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// Removes `<dir>/state.json`.
    pub fn remove(dir: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(dir.join(STATE_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LabState::load(dir.path()).unwrap().is_none());
        let state = LabState {
            mode: Mode::Loopback,
            processes: vec![Record {
                name: "gateway".into(),
                pid: 42,
                start_time: 7,
            }],
            api: "127.0.0.1:8080".into(),
            ..Default::default()
        };
        state.save(dir.path()).unwrap();
        let back = LabState::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.mode, Mode::Loopback);
        assert_eq!(back.processes, state.processes);
        LabState::remove(dir.path()).unwrap();
        LabState::remove(dir.path()).unwrap();
        assert!(LabState::load(dir.path()).unwrap().is_none());
    }
}
