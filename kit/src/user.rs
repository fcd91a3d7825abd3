//! Accounts that tests make and take away again: sessions must run as someone other than root,
//! and a test leaves the host's account database as it found it — `/etc/passwd`, `/etc/group`,
//! their shadows, `/etc/subuid` and `/etc/subgid`, the home directory (and so its shell
//! history) and the mail spool, which `userdel --remove` all takes back.
//!
//! A handle removes its account on drop, a panicking test's too (unwinding drops it). A run
//! killed outright (SIGKILL, a CI timeout) cannot: its accounts carry its pid in their names,
//! and the next run that makes one with the same prefix removes those whose process is gone.

use std::{
    collections::BTreeSet,
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

/// useradd and userdel lock the account files; one at a time in this process (between
/// processes, the tools' own lock serialises them).
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// A login account (a home, bash) that exists as long as this handle: on drop, whatever still
/// runs as it is killed by pid, and the account and its home are removed.
#[derive(Debug)]
pub struct TemporaryUser {
    name: String,
}

impl TemporaryUser {
    /// Creates `<prefix><pid>-<n>` (needs root), after removing the accounts of this prefix
    /// that killed runs left behind.
    pub fn create(prefix: &str) -> anyhow::Result<Self> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        sweep_once(prefix);
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
        if let Err(why) = remove(&self.name) {
            // Said even by a passing test: the host has an account it did not have before.
            eprintln!("{why}");
        }
    }
}

/// Kills what runs as `name`, then removes the account, its group, home and mail spool. Fails,
/// saying how to remove it by hand, when the account is still there afterwards.
fn remove(name: &str) -> Result<(), String> {
    if let Ok(Some(user)) = User::from_name(name) {
        for pid in processes_of(user.uid.as_raw()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    let _one = ACCOUNTS.lock().unwrap_or_else(|p| p.into_inner());
    // `--force` removes it even if something it started survived the kill.
    let out = Command::new("userdel")
        .args(["--remove", "--force", name])
        .stdin(Stdio::null())
        .output();
    match User::from_name(name) {
        Ok(None) => Ok(()),
        _ => {
            let said = match &out {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                Err(e) => format!("running userdel: {e}"),
            };
            Err(format!(
                "could not remove the test account {name} ({said}); remove it with: userdel -r {name}"
            ))
        }
    }
}

/// Removes, once per process and prefix, the accounts named `<prefix><pid>-<n>` whose process
/// no longer runs.
fn sweep_once(prefix: &str) {
    static SWEPT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if !SWEPT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(prefix.to_owned())
    {
        return;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for (name, pid) in leftovers(prefix, &passwd) {
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match remove(&name) {
            Ok(()) => eprintln!("removed the test account {name}, left by a run that was killed"),
            Err(why) => eprintln!("{why}"),
        }
    }
}

/// The accounts of `passwd` (the text of `/etc/passwd`) named as [`TemporaryUser::create`]
/// names them with `prefix`, and the pid each name holds.
fn leftovers(prefix: &str, passwd: &str) -> Vec<(String, u32)> {
    passwd
        .lines()
        .filter_map(|line| {
            let name = line.split(':').next()?;
            let (pid, n) = name.strip_prefix(prefix)?.split_once('-')?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if !(digits(pid) && digits(n)) {
                return None;
            }
            Some((name.to_owned(), pid.parse().ok()?))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of the account files that name `name`.
    fn traces(name: &str) -> Vec<String> {
        let files = [
            "/etc/passwd",
            "/etc/group",
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/subuid",
            "/etc/subgid",
        ];
        let mut found: Vec<String> = files
            .iter()
            .flat_map(|file| {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                text.lines()
                    .filter(|line| line.split(':').next() == Some(name))
                    .map(|line| format!("{file}: {line}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        for place in [format!("/home/{name}"), format!("/var/mail/{name}")] {
            if std::path::Path::new(&place).exists() {
                found.push(place);
            }
        }
        found
    }

    #[test]
    fn only_names_made_with_the_prefix_are_leftovers() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      axt-e2e-123-0:x:1002:1002::/home/axt-e2e-123-0:/bin/bash\n\
                      axt-e2e-123-x:x:1003:1003::/:/bin/bash\n\
                      axt-e2e-admin:x:1004:1004::/:/bin/bash\n\
                      axt-agent-9-14:x:1005:1005::/:/bin/bash\n\
                      ecs-assist-user:x:1001:1001::/home/ecs-assist-user:/bin/bash\n";
        assert_eq!(
            leftovers("axt-e2e-", passwd),
            vec![("axt-e2e-123-0".to_owned(), 123)]
        );
        assert_eq!(
            leftovers("axt-agent-", passwd),
            vec![("axt-agent-9-14".to_owned(), 9)]
        );
        assert!(leftovers("axtbench", passwd).is_empty());
    }

    #[test]
    fn an_account_goes_with_its_home_even_when_its_test_panics() {
        if !nix::unistd::geteuid().is_root() {
            return; // useradd needs root: the e2e stories exercise this as root.
        }
        let made = std::panic::catch_unwind(|| {
            let user = TemporaryUser::create("axt-kit-").unwrap();
            let name = user.name().to_owned();
            assert!(traces(&name).iter().any(|t| t.starts_with("/home/")));
            std::panic::panic_any(name);
        });
        let name = *made.unwrap_err().downcast::<String>().unwrap();
        assert_eq!(traces(&name), Vec::<String>::new());
    }

    #[test]
    fn an_account_left_by_a_killed_run_is_removed_by_the_next() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        // A pid that no longer runs: a child reaped here.
        let mut child = Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let prefix = "axt-kit-swept-";
        let name = format!("{prefix}{gone}-0");
        let status = Command::new("useradd")
            .args(["--create-home", &name])
            .status()
            .unwrap();
        assert!(status.success());
        let user = TemporaryUser::create(prefix).unwrap();
        assert_eq!(traces(&name), Vec::<String>::new());
        let own = user.name().to_owned();
        drop(user);
        assert_eq!(traces(&own), Vec::<String>::new());
    }
}
