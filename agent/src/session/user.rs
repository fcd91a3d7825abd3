//! Who a shell session runs as, and `axt-agent exec-as`, the step that becomes that user.
//!
//! Rules (the stock agent's, docs/protocol.md §2.4): a named user must exist and have uid and
//! gid above 0 — `root` is refused, so that a session spec from the server can never open a
//! root shell; no name means the default user, created when missing. An agent that is not
//! root cannot change user, so its sessions run as itself and any other name is refused.

use std::{convert::Infallible, ffi::CString, path::PathBuf, process::Command};

use anyhow::Context as _;
use nix::unistd::{Uid, User};

use crate::config::ExecAsArgs;

/// Why a session's user cannot be had; every case ends the session with `Open_pty_failed`.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No such account.
    #[error("user {0:?} does not exist")]
    NotFound(String),
    /// uid or gid 0.
    #[error("user {0:?} has uid or gid 0, which sessions may not use")]
    Privileged(String),
    /// A non-root agent asked to run as someone else.
    #[error("the agent runs as {running_as:?} and cannot start a session as {asked:?}")]
    NotAllowed {
        /// The requested user.
        asked: String,
        /// The agent's user.
        running_as: String,
    },
    /// The account database could not be read, or useradd failed.
    #[error("{0}")]
    System(String),
}

/// The account a session runs as.
#[derive(Debug, Clone)]
pub struct RunAs {
    /// Login name.
    pub name: String,
    /// Its uid (the session's PATH depends on whether it is 0).
    pub uid: u32,
    /// Home directory: HOME and the working directory.
    pub home: PathBuf,
    /// Login shell, for sessions without a command.
    pub shell: PathBuf,
    /// Whether the PTY child must switch to it through `exec-as` (the agent is root).
    pub switch: bool,
}

/// How the agent picks session users.
#[derive(Debug, Clone)]
pub struct UserPolicy {
    /// The user of specs that name none (when the agent is root).
    pub default_user: String,
}

impl UserPolicy {
    /// The account for a spec's `username`. Blocking (account lookups, maybe `useradd`).
    pub fn resolve(&self, requested: &str) -> Result<RunAs, UserError> {
        let me = Uid::effective();
        if !me.is_root() {
            let own = lookup_uid(me)?;
            if !requested.is_empty() && requested != own.name {
                return Err(UserError::NotAllowed {
                    asked: requested.to_owned(),
                    running_as: own.name,
                });
            }
            return Ok(run_as(own, false));
        }
        let name = if requested.is_empty() {
            &self.default_user
        } else {
            requested
        };
        let user = match lookup_name(name)? {
            Some(user) => user,
            None if requested.is_empty() => create_default(name)?,
            None => return Err(UserError::NotFound(name.to_owned())),
        };
        if user.uid.is_root() || user.gid.as_raw() == 0 {
            return Err(UserError::Privileged(user.name));
        }
        Ok(run_as(user, true))
    }
}

fn run_as(user: User, switch: bool) -> RunAs {
    let shell = Some(user.shell.clone())
        .filter(|shell| !shell.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("/bin/bash"));
    RunAs {
        name: user.name,
        uid: user.uid.as_raw(),
        home: user.dir,
        shell,
        switch,
    }
}

fn lookup_name(name: &str) -> Result<Option<User>, UserError> {
    User::from_name(name).map_err(|e| UserError::System(format!("looking up {name:?}: {e}")))
}

fn lookup_uid(uid: Uid) -> Result<User, UserError> {
    User::from_uid(uid)
        .map_err(|e| UserError::System(format!("looking up uid {uid}: {e}")))?
        .ok_or_else(|| UserError::System(format!("uid {uid} has no account")))
}

/// Creates the default user as the stock agent creates `ecs-assist-user`, minus its sudoers
/// entry: axtlab grants no privileges nobody asked for.
fn create_default(name: &str) -> Result<User, UserError> {
    // An account on the host outlives the agent: say so where the operator looks, once.
    tracing::warn!(
        user = name,
        "creating the default session user on this host (useradd -m); it stays after the \
         agent stops: remove it with `userdel -r {name}`, or run the agent with --default-user"
    );
    let status = Command::new("useradd")
        .args(["-m", "-s", "/bin/bash", name])
        .status()
        .map_err(|e| UserError::System(format!("running useradd: {e}")))?;
    // Another session may have created it meanwhile: success is the account existing.
    match lookup_name(name)? {
        Some(user) => Ok(user),
        None => Err(UserError::System(format!(
            "useradd {name} failed ({status})"
        ))),
    }
}

/// `axt-agent exec-as --user NAME -- cmd args…`: takes NAME's groups, gid and uid, in that
/// order (groups and gid need the privileges the uid change gives up), then execs the
/// command. Returns only on failure.
pub fn exec_as(args: ExecAsArgs) -> anyhow::Result<Infallible> {
    let user = User::from_name(&args.user)
        .with_context(|| format!("looking up {:?}", args.user))?
        .with_context(|| format!("user {:?} does not exist", args.user))?;
    anyhow::ensure!(
        !user.uid.is_root() && user.gid.as_raw() != 0,
        "user {:?} has uid or gid 0",
        args.user
    );
    let name = CString::new(args.user.as_str())?;
    nix::unistd::initgroups(&name, user.gid).context("initgroups")?;
    nix::unistd::setgid(user.gid).context("setgid")?;
    nix::unistd::setuid(user.uid).context("setuid")?;
    let argv = args
        .command
        .iter()
        .map(|arg| CString::new(arg.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    let program = argv.first().context("no command")?;
    let Err(errno) = nix::unistd::execvp(program, &argv);
    Err(anyhow::Error::new(errno).context(format!("executing {:?}", args.command[0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_users_are_refused() {
        let policy = UserPolicy {
            default_user: "axt-unused-default".into(),
        };
        if Uid::effective().is_root() {
            assert!(matches!(
                policy.resolve("root"),
                Err(UserError::Privileged(_))
            ));
            assert!(matches!(
                policy.resolve("axt-no-such-user"),
                Err(UserError::NotFound(_))
            ));
        } else {
            let me = lookup_uid(Uid::effective()).unwrap();
            let own = policy.resolve("").unwrap();
            assert_eq!((own.name.as_str(), own.switch), (me.name.as_str(), false));
            assert!(matches!(
                policy.resolve("root"),
                Err(UserError::NotAllowed { .. })
            ));
        }
    }
}
