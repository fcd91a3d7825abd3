//! The one account the lab may make on this host: a root `axt-agent` without `--default-user`
//! creates `ecs-assist-user` (as the stock agent does) the first time a session names no user.
//! The lab says so when it comes up, remembers whether the account was already there, and at
//! `down` says how to remove it if the lab's agents made it — it never removes an account
//! itself, since a session may have left work in its home.

use serde::{Deserialize, Serialize};

/// axt-agent's `--default-user` default.
pub const AGENT_DEFAULT_USER: &str = "ecs-assist-user";

/// The default session user of a lab whose agents may create it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DefaultUser {
    pub name: String,
    /// Whether the account existed before the lab came up.
    pub existed: bool,
}

impl DefaultUser {
    /// What a lab started with `default_user` (its `--default-user`) may create: nothing when
    /// a user is named or when the agents do not run as root (they then run shells as
    /// themselves).
    pub fn planned(default_user: Option<&str>) -> Option<Self> {
        if default_user.is_some() || !nix::unistd::geteuid().is_root() {
            return None;
        }
        Some(Self {
            name: AGENT_DEFAULT_USER.to_owned(),
            existed: exists(AGENT_DEFAULT_USER),
        })
    }

    /// The note `axt lab up` prints, when the account is not there yet.
    pub fn note_at_up(&self) -> Option<String> {
        (!self.existed).then(|| {
            format!(
                "Note: shells that name no user run as {name}, which the agents create on this \
                 host (useradd -m) at the first such session; `axt lab down` leaves it (remove \
                 it with `userdel -r {name}`), or start the lab with --default-user NAME.\n",
                name = self.name
            )
        })
    }

    /// The note `axt lab down` prints, when the lab's agents made the account.
    pub fn note_at_down(&self) -> Option<String> {
        (!self.existed && exists(&self.name)).then(|| {
            format!(
                "axt lab: the agents created the account {name} on this host; remove it with: \
                 userdel -r {name}",
                name = self.name
            )
        })
    }
}

fn exists(name: &str) -> bool {
    nix::unistd::User::from_name(name).ok().flatten().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_user_or_an_existing_account_needs_no_note() {
        assert!(DefaultUser::planned(Some("someone")).is_none());
        let existing = DefaultUser {
            name: "root".into(),
            existed: true,
        };
        assert_eq!(existing.note_at_up(), None);
        assert_eq!(existing.note_at_down(), None);
        let made = DefaultUser {
            name: "root".into(),
            existed: false,
        };
        assert!(made.note_at_up().unwrap().contains("userdel -r root"));
        assert!(made.note_at_down().unwrap().contains("userdel -r root"));
        let never_made = DefaultUser {
            name: "axt-no-such-account".into(),
            existed: false,
        };
        assert_eq!(never_made.note_at_down(), None);
    }
}
