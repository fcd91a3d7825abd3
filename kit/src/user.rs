//! Accounts that tests make and take away again: sessions must run as someone other than root,
//! and a test leaves the host's account database as it found it.

use std::{
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

use anyhow::{bail, Context as _};
use nix::{
    sys::signal::{kill, Signal},
    unistd::{Pid, User},
};

/// useradd and userdel lock the account files; one at a time in this process.
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// A login account (a home, bash) that exists as long as this handle: on drop, whatever still
/// runs as it is killed by pid, and the account and its home are removed.
#[derive(Debug)]
pub struct TemporaryUser {
    name: String,
}

impl TemporaryUser {
    /// Creates `<prefix><pid>-<n>` (needs root).
    pub fn create(prefix: &str) -> anyhow::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}{}-{n}", std::process::id());
        anyhow::ensure!(
            name.len() <= 32,
            "{name} is longer than a login name may be"
        );
        let _one = ACCOUNTS.lock().unwrap_or_else(|p| p.into_inner());
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", &name])
            .stdin(Stdio::null())
            .output()
            .context("running useradd")?;
        if !out.status.success() {
            bail!(
                "useradd {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(Self { name })
    }

    /// The login name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TemporaryUser {
    fn drop(&mut self) {
        if let Ok(Some(user)) = User::from_name(&self.name) {
            for pid in processes_of(user.uid.as_raw()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _one = ACCOUNTS.lock().unwrap_or_else(|p| p.into_inner());
        let _ = Command::new("userdel")
            .args(["--remove", "--force", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The pids of the processes whose real uid is `uid`.
fn processes_of(uid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Uid:"))
                    .and_then(|ids| ids.split_whitespace().next())
                    .and_then(|real| real.parse::<u32>().ok())
                    == Some(uid)
            })
        })
        .collect()
}
