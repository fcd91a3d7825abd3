//! The proxy's allow-list: exact `host:port` pairs, each mapped to a socket address. Names
//! are only ever compared, never resolved, so the proxy cannot be talked into reaching
//! anything its operator did not list.

use std::{collections::BTreeMap, fmt, net::SocketAddr, str::FromStr};

use axt_proto::openapi::endpoints::{api_names, gateway_name, HTTPS_PORT};

/// One `--route HOST:PORT=IP:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The name (or address) a client asks for, normalised by [`normalise_host`].
    pub host: String,
    /// The port it asks for.
    pub port: u16,
    /// Where the proxy connects instead.
    pub to: SocketAddr,
}

/// Why a `--route` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{0:?} is not HOST:PORT=IP:PORT")]
    Shape(String),
    #[error("{0:?} is not a host name or a bracketed IPv6 address")]
    Host(String),
    #[error("{0:?} is not a port (1-65535)")]
    Port(String),
    #[error("{0:?} is not IP:PORT (the proxy resolves no names)")]
    Address(String),
}

impl FromStr for Route {
    type Err = RouteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (from, to) = text
            .split_once('=')
            .ok_or_else(|| RouteError::Shape(text.to_owned()))?;
        let (host, port) = split_authority(from.trim())?;
        let to = to
            .trim()
            .parse()
            .map_err(|_| RouteError::Address(to.to_owned()))?;
        Ok(Self { host, port, to })
    }
}

/// `host:port` (the authority of a CONNECT request, or the left side of a route) split and
/// normalised; the port is required, as CONNECT requires it.
pub fn split_authority(text: &str) -> Result<(String, u16), RouteError> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| RouteError::Shape(text.to_owned()))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| RouteError::Port(port.to_owned()))?;
    let host = normalise_host(host).ok_or_else(|| RouteError::Host(host.to_owned()))?;
    Ok((host, port))
}

/// A host as the table keys it: lower case, without the final dot of a fully qualified name.
/// `None` unless it is a plain name (letters, digits, `-`, `.`) or a bracketed IPv6 address.
pub fn normalise_host(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let valid = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && host.len() <= 253 && host.chars().all(plain),
    };
    valid.then_some(host)
}

/// The allow-list, sorted so that it prints in a stable order.
#[derive(Debug, Default, Clone)]
pub struct Routes(BTreeMap<(String, u16), SocketAddr>);

impl Routes {
    /// Every OpenAPI name of `regions` to `api`, each region's gateway name to `gateway` (both
    /// on port 443), then `extra`, which wins over both.
    pub fn new(
        regions: &[String],
        api: Option<SocketAddr>,
        gateway: Option<SocketAddr>,
        extra: &[Route],
    ) -> Self {
        let mut table = BTreeMap::new();
        if let Some(api) = api {
            for name in api_names(regions) {
                table.insert((name, HTTPS_PORT), api);
            }
        }
        if let Some(gateway) = gateway {
            for region in regions {
                table.insert((gateway_name(region), HTTPS_PORT), gateway);
            }
        }
        for route in extra {
            table.insert((route.host.clone(), route.port), route.to);
        }
        Self(table)
    }

    /// Where a CONNECT to `host:port` (already normalised) goes, if anywhere.
    pub fn get(&self, host: &str, port: u16) -> Option<SocketAddr> {
        self.0.get(&(host.to_owned(), port)).copied()
    }

    /// Whether nothing is let through.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One line per route: `  name:port -> address`.
impl fmt::Display for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ((host, port), to) in &self.0 {
            writeln!(f, "  {host}:{port} -> {to}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_strictly() {
        let route: Route = "ECS.Example.test.:8443=127.0.0.1:9".parse().unwrap();
        assert_eq!(
            route,
            Route {
                host: "ecs.example.test".into(),
                port: 8443,
                to: "127.0.0.1:9".parse().unwrap()
            }
        );
        let v6: Route = "[::1]:443=[::1]:8443".parse().unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 443));
        for bad in [
            "ecs.example.test=127.0.0.1:9",
            "ecs.example.test:0=127.0.0.1:9",
            "ecs.example.test:443=localhost:9",
            "ecs example:443=127.0.0.1:9",
            "[zz]:443=127.0.0.1:9",
            ":443=127.0.0.1:9",
            "ecs.example.test:443",
        ] {
            assert!(bad.parse::<Route>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_table_holds_the_regions_names_and_extra_routes_win() {
        let api: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let gateway: SocketAddr = "127.0.0.1:9443".parse().unwrap();
        let extra: Route = "ram.aliyuncs.com:443=127.0.0.1:1".parse().unwrap();
        let routes = Routes::new(&["cn-hangzhou".into()], Some(api), Some(gateway), &[extra]);
        assert_eq!(routes.get("ecs-cn-hangzhou.aliyuncs.com", 443), Some(api));
        assert_eq!(routes.get("kms.cn-hangzhou.aliyuncs.com", 443), Some(api));
        assert_eq!(
            routes.get("cn-hangzhou.axt.aliyuncs.com", 443),
            Some(gateway)
        );
        assert_eq!(
            routes.get("ram.aliyuncs.com", 443),
            "127.0.0.1:1".parse().ok()
        );
        assert_eq!(routes.get("ecs-cn-hangzhou.aliyuncs.com", 80), None);
        assert_eq!(routes.get("ecs-cn-shanghai.aliyuncs.com", 443), None);
        assert!(Routes::new(&["cn-hangzhou".into()], None, None, &[]).is_empty());
        let shown = routes.to_string();
        assert!(shown.contains("  cn-hangzhou.axt.aliyuncs.com:443 -> 127.0.0.1:9443\n"));
    }
}
