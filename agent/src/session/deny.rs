//! Where port forwards may not go. A session spec comes from the server, so without a
//! deny-list anyone who can start a session could use the host to reach its cloud metadata
//! service (instance credentials) or link-local services. The check runs on every address a
//! name resolved to, after resolution, so that a name pointing at a refused address is
//! refused too.

use std::{fmt, net::IpAddr, str::FromStr};

use ipnet::IpNet;

/// Always refused: Alibaba Cloud's and the common metadata address, IPv4 and IPv6
/// link-local.
pub const DEFAULT_DENY: &[&str] = &[
    "100.100.100.200/32",
    "169.254.169.254/32",
    "169.254.0.0/16",
    "fe80::/10",
];

/// One refused address or block (`--deny`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyEntry(IpNet);

impl FromStr for DenyEntry {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(|net| Self(net.trunc()))
            .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
    }
}

impl fmt::Display for DenyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The refused blocks.
#[derive(Debug, Clone)]
pub struct DenyList {
    blocks: Vec<IpNet>,
}

impl DenyList {
    /// The defaults plus `extra`.
    pub fn new(extra: &[DenyEntry]) -> Self {
        let blocks = DEFAULT_DENY
            .iter()
            .filter_map(|text| text.parse().ok())
            .chain(extra.iter().map(|entry| entry.0))
            .collect();
        Self { blocks }
    }

    /// The block that refuses `ip`, if any. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
    /// are checked as the IPv4 address they reach.
    pub fn refuses(&self, ip: IpAddr) -> Option<IpNet> {
        let ip = ip.to_canonical();
        self.blocks
            .iter()
            .copied()
            .find(|block| block.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_defaults_refuse_metadata_and_link_local() {
        let list = DenyList::new(&[]);
        for refused in [
            "100.100.100.200",
            "169.254.169.254",
            "169.254.1.2",
            "fe80::1",
            "febf:ffff::1",
            "::ffff:169.254.169.254",
            "::ffff:100.100.100.200",
        ] {
            assert!(list.refuses(ip(refused)).is_some(), "{refused}");
        }
        for allowed in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "100.100.100.201",
            "fec0::1",
            "2001:db8::1",
        ] {
            assert_eq!(list.refuses(ip(allowed)), None, "{allowed}");
        }
    }

    #[test]
    fn extra_entries_take_addresses_and_blocks() {
        let extra: Vec<DenyEntry> = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", " 10.1.2.3/8 "]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        assert_eq!(extra[3].to_string(), "10.0.0.0/8", "host bits are dropped");
        let list = DenyList::new(&extra);
        assert!(list.refuses(ip("10.200.0.1")).is_some());
        assert!(list.refuses(ip("192.168.1.7")).is_some());
        assert!(list.refuses(ip("192.168.1.8")).is_none());
        assert!(list.refuses(ip("2001:db8:1::5")).is_some());
        assert!(list.refuses(ip("2001:db9::5")).is_none());
        assert!("example.com".parse::<DenyEntry>().is_err());
        assert!("10.0.0.0/33".parse::<DenyEntry>().is_err());
    }
}
