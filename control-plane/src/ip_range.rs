//! An activation's `IpAddressRange`: the addresses of the hosts that may register with it.
//! Addresses and CIDR blocks, IPv4 or IPv6, separated by commas; the default `0.0.0.0/0`
//! leaves registration open to every host.

use std::{
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

use ipnet::IpNet;

/// What CreateActivation stores when no range is given.
pub const ANYWHERE: &str = "0.0.0.0/0";

/// A parsed `IpAddressRange`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRange {
    blocks: Vec<IpNet>,
}

/// Why a range did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR block")]
pub struct BadRange(pub String);

impl FromStr for IpRange {
    type Err = BadRange;

    fn from_str(text: &str) -> Result<Self, BadRange> {
        let blocks = text
            .split(',')
            .map(str::trim)
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| BadRange(part.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { blocks })
    }
}

impl IpRange {
    /// Whether a host at `source` may register. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// what a dual-stack listener reports for an IPv4 peer) counts as its IPv4 address. The
    /// service's default, `0.0.0.0/0`, means no restriction, so it admits IPv6 hosts too.
    pub fn admits(&self, source: IpAddr) -> bool {
        let source = match source {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(source, IpAddr::V4),
            v4 => v4,
        };
        let anywhere =
            |b: &IpNet| b.prefix_len() == 0 && b.addr() == IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        self.blocks
            .iter()
            .any(|block| anywhere(block) || block.contains(&source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_and_single_addresses_admit_only_their_hosts() {
        let range: IpRange = "192.0.2.0/24, 198.51.100.7,2001:db8::/32".parse().unwrap();
        assert!(range.admits(ip("192.0.2.200")));
        assert!(range.admits(ip("198.51.100.7")));
        assert!(range.admits(ip("2001:db8::1")));
        assert!(!range.admits(ip("198.51.100.8")));
        assert!(!range.admits(ip("192.0.3.1")));
        assert!(!range.admits(ip("2001:db9::1")));
    }

    #[test]
    fn a_mapped_ipv6_source_is_its_ipv4_address() {
        let range: IpRange = "127.0.0.0/8".parse().unwrap();
        assert!(range.admits(ip("::ffff:127.0.0.1")));
        assert!(!range.admits(ip("::ffff:10.0.0.1")));
        assert!(!range.admits(ip("::1")));
    }

    #[test]
    fn the_default_admits_every_host() {
        let range: IpRange = ANYWHERE.parse().unwrap();
        for source in ["10.1.2.3", "::1", "2001:db8::9", "::ffff:192.0.2.1"] {
            assert!(range.admits(ip(source)), "{source}");
        }
    }

    #[test]
    fn malformed_ranges_name_the_bad_part() {
        assert_eq!(
            "10.0.0.0/8,10.0.0.0/33".parse::<IpRange>(),
            Err(BadRange("10.0.0.0/33".into()))
        );
        assert!("".parse::<IpRange>().is_err());
        assert!("10.0.0.1-10.0.0.9".parse::<IpRange>().is_err());
    }
}
