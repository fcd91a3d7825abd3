//! The environment a session's program starts with: the login environment of its user, built
//! from nothing. The agent's own environment may hold what no session user should see (the
//! admin AccessKey of a lab's entrypoint, `AXT_*` settings, tokens), so none of it is passed
//! on — LANG, only when it is a plain locale name, is the one value taken from the agent.

use std::ffi::{OsStr, OsString};

use super::user::RunAs;

/// PATH for uid 0: login(1)'s `ENV_SUPATH` on Debian and its relatives.
pub const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// PATH for every other user: the same without the sbin directories, as login(1) gives (its
/// `ENV_PATH`, less the games directories). Sessions never run as root (see [`super::user`]),
/// so in practice this is every session's PATH; an administrator's tools are one `sudo` (with
/// its own `secure_path`) or one full path away.
pub const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// The terminal type. A session spec names none and the clients (ali-instance-cli, the web
/// console's xterm.js) emulate xterm with 256 colours, as the stock agent assumes too.
pub const TERM: &str = "xterm-256color";
/// LANG when the agent's is unset or not a plain locale name.
pub const FALLBACK_LANG: &str = "C.UTF-8";

/// The complete environment of a session running as `user`; `agent_lang` is the agent's LANG.
pub fn login_env(user: &RunAs, agent_lang: Option<&OsStr>) -> Vec<(&'static str, OsString)> {
    vec![
        ("HOME", user.home.clone().into_os_string()),
        ("USER", user.name.clone().into()),
        ("LOGNAME", user.name.clone().into()),
        ("SHELL", user.shell.clone().into_os_string()),
        ("PATH", path_for(user.uid).into()),
        ("TERM", TERM.into()),
        ("LANG", lang(agent_lang)),
    ]
}

/// The PATH of a session running as `uid`.
pub fn path_for(uid: u32) -> &'static str {
    if uid == 0 {
        ROOT_PATH
    } else {
        USER_PATH
    }
}

/// The agent's LANG if it is a plain locale name (`en_US.UTF-8`, `C`, `de_DE@euro`), else
/// [`FALLBACK_LANG`]. glibc reads a LANG holding a slash as a path to locale files, and a
/// free-form value is one more place something secret could ride along; a name of this shape
/// is neither.
pub fn lang(agent_lang: Option<&OsStr>) -> OsString {
    let plain = agent_lang.and_then(OsStr::to_str).filter(|text| {
        let mut chars = text.chars();
        text.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'))
    });
    plain.unwrap_or(FALLBACK_LANG).into()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn user(uid: u32) -> RunAs {
        RunAs {
            name: "alice".into(),
            uid,
            home: PathBuf::from("/home/alice"),
            shell: PathBuf::from("/bin/zsh"),
            switch: true,
        }
    }

    #[test]
    fn the_environment_is_the_login_one_and_nothing_else() {
        let env = login_env(&user(1000), Some(OsStr::new("de_DE.UTF-8")));
        let get = |name: &str| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_str().unwrap())
        };
        assert_eq!(get("HOME"), Some("/home/alice"));
        assert_eq!(get("USER"), Some("alice"));
        assert_eq!(get("LOGNAME"), Some("alice"));
        assert_eq!(get("SHELL"), Some("/bin/zsh"));
        assert_eq!(get("PATH"), Some(USER_PATH));
        assert_eq!(get("TERM"), Some("xterm-256color"));
        assert_eq!(get("LANG"), Some("de_DE.UTF-8"));
        assert_eq!(env.len(), 7, "{env:?}");
        assert!(!USER_PATH.contains("sbin"));
        let root = login_env(&user(0), None);
        assert!(root.contains(&("PATH", ROOT_PATH.into())), "{root:?}");
    }

    #[test]
    fn only_a_plain_locale_name_is_taken_from_the_agent() {
        for plain in [
            "C",
            "POSIX",
            "C.UTF-8",
            "en_US.utf8",
            "de_DE@euro",
            "sr_RS.UTF-8@latin",
        ] {
            assert_eq!(lang(Some(OsStr::new(plain))), plain);
        }
        let long = "a".repeat(65);
        for odd in [
            "",
            "/tmp/evil-locale",
            "../x",
            "en_US.UTF-8 x",
            "en_US;rm",
            "_x",
            "ключ",
            long.as_str(),
        ] {
            assert_eq!(lang(Some(OsStr::new(odd))), FALLBACK_LANG, "{odd:?}");
        }
        assert_eq!(lang(None), FALLBACK_LANG);
    }
}
