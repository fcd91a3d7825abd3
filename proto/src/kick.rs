//! The kick grammar of `/luban/notify_server`: text frames `kick_vm <type> <action> <params…>`
//! from the server, and `accept:`/`unknow:`/`reject:` replies from the agent.

use std::fmt;

/// A kick the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kick {
    /// `kick_vm session start <channelId>`: pull that channel's spec and run it.
    SessionStart(String),
    /// `kick_vm session stop <channelId>`: cancel that session.
    SessionStop(String),
    /// `kick_vm noop`.
    Noop,
}

impl fmt::Display for Kick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SessionStart(id) => write!(f, "kick_vm session start {id}"),
            Self::SessionStop(id) => write!(f, "kick_vm session stop {id}"),
            Self::Noop => f.write_str("kick_vm noop"),
        }
    }
}

impl Kick {
    /// Parses a kick the way the stock agent does (the first word is not checked); `None` for
    /// anything else, which an agent answers with `unknow:`.
    pub fn parse(text: &str) -> Option<Self> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [_, "session", "start", id, ..] => Some(Self::SessionStart((*id).to_owned())),
            [_, "session", "stop", id, ..] => Some(Self::SessionStop((*id).to_owned())),
            [_, "noop"] => Some(Self::Noop),
            _ => None,
        }
    }
}

/// An agent's answer to a kick: advisory only, sent before any work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KickReply {
    /// `accept:<kick>`: parsed.
    Accept(String),
    /// `unknow:<kick>` (sic): not understood.
    Unknown(String),
    /// `reject:<kick>`: busy (an update runs).
    Reject(String),
}

impl KickReply {
    /// The reply an agent sends for `text`.
    pub fn for_kick(text: &str) -> Self {
        match Kick::parse(text) {
            Some(_) => Self::Accept(text.to_owned()),
            None => Self::Unknown(text.to_owned()),
        }
    }

    /// Parses a reply; `None` if it has none of the three prefixes.
    pub fn parse(text: &str) -> Option<Self> {
        let (prefix, rest) = text.split_once(':')?;
        let rest = rest.to_owned();
        match prefix {
            "accept" => Some(Self::Accept(rest)),
            "unknow" => Some(Self::Unknown(rest)),
            "reject" => Some(Self::Reject(rest)),
            _ => None,
        }
    }
}

impl fmt::Display for KickReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept(k) => write!(f, "accept:{k}"),
            Self::Unknown(k) => write!(f, "unknow:{k}"),
            Self::Reject(k) => write!(f, "reject:{k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kicks_round_trip_and_parse_like_the_stock_agent() {
        let k = Kick::SessionStart("c-t3-shell".into());
        assert_eq!(k.to_string(), "kick_vm session start c-t3-shell");
        assert_eq!(Kick::parse(&k.to_string()), Some(k));
        assert_eq!(
            Kick::parse("xx session start c-x"),
            Some(Kick::SessionStart("c-x".into()))
        );
        assert_eq!(Kick::parse("kick_vm session"), None);
        assert_eq!(Kick::parse("kick_vm session bogus c1"), None);
        assert_eq!(Kick::parse("hello world"), None);
        assert_eq!(Kick::parse("kick_vm noop"), Some(Kick::Noop));
    }

    #[test]
    fn replies_have_the_stock_spelling() {
        assert_eq!(
            KickReply::for_kick("kick_vm noop").to_string(),
            "accept:kick_vm noop"
        );
        assert_eq!(
            KickReply::for_kick("kick_vm foo bar").to_string(),
            "unknow:kick_vm foo bar"
        );
        assert_eq!(
            KickReply::parse("reject:x"),
            Some(KickReply::Reject("x".into()))
        );
        assert_eq!(KickReply::parse("nope"), None);
    }
}
