//! Which proxy, if any, a session WebSocket goes through: `HTTPS_PROXY` for `wss://` and
//! `HTTP_PROXY` for `ws://` (each upper case first, then lower case), never for loopback, and
//! not for what `NO_PROXY` names. These are Go's rules (golang.org/x/net/http/httpproxy), which
//! the stock client follows, so one environment sends both clients the same way. The OpenAPI
//! calls get the same variables from reqwest.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;
use url::Host;

/// The proxy variables, read once.
#[derive(Debug, Default, Clone)]
pub struct ProxyEnv {
    /// `(variable, value)` of the proxy for `wss://`.
    https: Option<(&'static str, String)>,
    /// `(variable, value)` of the proxy for `ws://`.
    http: Option<(&'static str, String)>,
    no_proxy: NoProxy,
}

/// A proxy to tunnel through: where it is and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// The variable it came from, for messages.
    pub variable: &'static str,
    /// `host:port` to connect to.
    pub addr: String,
    /// `Proxy-Authorization` value, when the URL carries a user.
    pub authorization: Option<String>,
}

/// Why a proxy variable cannot be used. The value is not repeated: it may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not usable for the session WebSocket: {reason}")]
pub struct BadProxy {
    pub variable: &'static str,
    pub reason: String,
}

impl ProxyEnv {
    /// The variables of this process.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The variables as `get` gives them (empty ones count as unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
        };
        Self {
            https: first(["HTTPS_PROXY", "https_proxy"]),
            http: first(["HTTP_PROXY", "http_proxy"]),
            no_proxy: NoProxy::parse(&first(["NO_PROXY", "no_proxy"]).unwrap_or_default().1),
        }
    }

    /// The proxy for a `secure` (`wss://`) or plain connection to `host:port`, if one applies.
    pub fn proxy_for(
        &self,
        secure: bool,
        host: &Host<&str>,
        port: u16,
    ) -> Option<Result<ProxyUrl, BadProxy>> {
        let (variable, value) = if secure { &self.https } else { &self.http }.as_ref()?;
        if !self.no_proxy.use_proxy(host, port) {
            return None;
        }
        Some(parse_proxy(variable, value))
    }
}

/// Reads a proxy URL as Go does: without a scheme it is `http://`; only `http://` proxies are
/// supported here (port 80 unless given).
fn parse_proxy(variable: &'static str, value: &str) -> Result<ProxyUrl, BadProxy> {
    let bad = |reason: &str| BadProxy {
        variable,
        reason: reason.to_owned(),
    };
    let value = value.trim();
    let url = match url::Url::parse(value) {
        Ok(url) if url.has_host() => url,
        _ => url::Url::parse(&format!("http://{value}"))
            .map_err(|_| bad("not a proxy URL like http://host:port"))?,
    };
    if url.scheme() != "http" {
        return Err(bad(&format!(
            "only http:// proxies are supported, not {}://",
            url.scheme()
        )));
    }
    let host = url.host_str().ok_or_else(|| bad("the URL names no host"))?;
    let addr = format!("{host}:{}", url.port().unwrap_or(80));
    let authorization = (!url.username().is_empty()).then(|| {
        let pair = format!(
            "{}:{}",
            percent_decode(url.username()),
            percent_decode(url.password().unwrap_or(""))
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    });
    Ok(ProxyUrl {
        variable,
        addr,
        authorization,
    })
}

/// `%XX` escapes of a URL's user or password undone; invalid ones are left as they are, and
/// `+` stays a plus (turning it into a space is a form's rule, not a URL's).
fn percent_decode(text: &str) -> String {
    let input = text.as_bytes();
    let hex = |i: usize| input.get(i).and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match (input[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `NO_PROXY`, parsed: `*`, IP addresses (with an optional port), CIDR blocks, and domains
/// (`example.test` matches it and its subdomains, `.example.test` and `*.example.test` only
/// its subdomains; an optional port).
#[derive(Debug, Default, Clone)]
struct NoProxy {
    all: bool,
    ips: Vec<(IpAddr, Option<u16>)>,
    nets: Vec<IpNet>,
    /// `(".suffix", port, whether the bare name matches too)`.
    domains: Vec<(String, Option<u16>, bool)>,
}

impl NoProxy {
    fn parse(text: &str) -> Self {
        let mut parsed = Self::default();
        for entry in text.split(',').map(|e| e.trim().to_ascii_lowercase()) {
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                parsed.all = true;
                continue;
            }
            if let Ok(net) = entry.parse::<IpNet>() {
                parsed.nets.push(net);
                continue;
            }
            let (host, port) = split_port(&entry);
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if let Ok(ip) = host.parse::<IpAddr>() {
                parsed.ips.push((ip, port));
                continue;
            }
            let host = host.strip_prefix('*').unwrap_or(host);
            if host.is_empty() || host == "." {
                continue;
            }
            match host.strip_prefix('.') {
                Some(_) => parsed.domains.push((host.to_owned(), port, false)),
                None => parsed.domains.push((format!(".{host}"), port, true)),
            }
        }
        parsed
    }

    /// Whether a connection to `host:port` goes through the proxy.
    fn use_proxy(&self, host: &Host<&str>, port: u16) -> bool {
        let port_matches = |p: &Option<u16>| p.is_none_or(|p| p == port);
        let ip = match host {
            Host::Domain(name) => {
                let name = name.to_ascii_lowercase();
                if name == "localhost" || self.all {
                    return false;
                }
                return !self.domains.iter().any(|(suffix, p, bare)| {
                    (name.ends_with(suffix.as_str()) || (*bare && name == suffix[1..]))
                        && port_matches(p)
                });
            }
            Host::Ipv4(ip) => IpAddr::V4(*ip),
            Host::Ipv6(ip) => IpAddr::V6(*ip),
        };
        !(ip.is_loopback()
            || self.all
            || self.ips.iter().any(|(i, p)| *i == ip && port_matches(p))
            || self.nets.iter().any(|net| net.contains(&ip)))
    }
}

/// `host:port` → `(host, Some(port))`; anything else (a bare host, a bare IPv6 address) whole.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        ProxyEnv::from_lookup(|name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
    }

    fn via(env: &ProxyEnv, secure: bool, host: &str, port: u16) -> Option<String> {
        let host = Host::parse(host).unwrap();
        let host = match &host {
            Host::Domain(d) => Host::Domain(d.as_str()),
            Host::Ipv4(ip) => Host::Ipv4(*ip),
            Host::Ipv6(ip) => Host::Ipv6(*ip),
        };
        env.proxy_for(secure, &host, port)
            .map(|p| p.map(|p| p.addr).unwrap_or_else(|e| e.to_string()))
    }

    #[test]
    fn the_scheme_picks_the_variable_and_upper_case_wins() {
        let both = env(&[
            ("HTTPS_PROXY", "http://127.0.0.1:8088"),
            ("https_proxy", "http://127.0.0.1:1"),
            ("http_proxy", "127.0.0.1:3128"),
        ]);
        let gw = "cn-hangzhou.axt.aliyuncs.com";
        assert_eq!(via(&both, true, gw, 443).as_deref(), Some("127.0.0.1:8088"));
        assert_eq!(via(&both, false, gw, 80).as_deref(), Some("127.0.0.1:3128"));
        let https_only = env(&[("https_proxy", "http://proxy.test")]);
        assert_eq!(
            via(&https_only, true, gw, 443).as_deref(),
            Some("proxy.test:80")
        );
        assert_eq!(via(&https_only, false, gw, 80), None);
        assert_eq!(via(&env(&[("HTTPS_PROXY", "")]), true, gw, 443), None);
    }

    #[test]
    fn loopback_and_no_proxy_go_direct() {
        let no_proxy = "example.test, .only-subs.test,*.star.test,10.1.0.0/16,192.0.2.7,\
                        ports.test:8443,[2001:db8::1]:443";
        let proxies = env(&[
            ("HTTPS_PROXY", "http://127.0.0.1:8088"),
            ("no_proxy", no_proxy),
        ]);
        let direct = [
            ("localhost", 443),
            ("127.0.0.1", 443),
            ("[::1]", 443),
            ("example.test", 443),
            ("a.example.test", 443),
            ("a.only-subs.test", 443),
            ("a.star.test", 443),
            ("10.1.2.3", 443),
            ("192.0.2.7", 443),
            ("ports.test", 8443),
            ("[2001:db8::1]", 443),
        ];
        for (host, port) in direct {
            assert_eq!(via(&proxies, true, host, port), None, "{host}:{port}");
        }
        let proxied = [
            ("notexample.test", 443),
            ("only-subs.test", 443),
            ("star.test", 443),
            ("10.2.0.1", 443),
            ("ports.test", 443),
            ("[2001:db8::1]", 8443),
            ("ecs-cn-hangzhou.aliyuncs.com", 443),
        ];
        for (host, port) in proxied {
            assert!(via(&proxies, true, host, port).is_some(), "{host}:{port}");
        }
        let all = env(&[("HTTPS_PROXY", "http://127.0.0.1:8088"), ("NO_PROXY", "*")]);
        assert_eq!(via(&all, true, "ecs.example.test", 443), None);
    }

    #[test]
    fn proxy_urls_are_read_as_go_reads_them() {
        let url = parse_proxy("HTTPS_PROXY", "http://us%40r:p%3Ass+1@proxy.test:3128/").unwrap();
        assert_eq!(url.addr, "proxy.test:3128");
        let expected = base64::engine::general_purpose::STANDARD.encode("us@r:p:ss+1");
        assert_eq!(url.authorization, Some(format!("Basic {expected}")));
        assert_eq!(
            parse_proxy("HTTPS_PROXY", "[::1]:8088").unwrap().addr,
            "[::1]:8088"
        );
        let err = parse_proxy("HTTPS_PROXY", "socks5://u:secret@proxy.test:1080").unwrap_err();
        assert!(err.to_string().contains("only http://"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
