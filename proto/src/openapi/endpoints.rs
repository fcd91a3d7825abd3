//! The public endpoint names of the products a lab region serves, as the official SDKs and
//! tools resolve them (`ecs-cn-hangzhou.aliyuncs.com`, `ram.aliyuncs.com`, …) and the
//! gateway's `<region>.axt.aliyuncs.com`: what the lab's certificate names, what its CONNECT
//! proxy lets through, which product a `Host` header means, and the endpoint `axt` calls when
//! it is given none.
//!
//! The SDKs' own rules, read from their released clients: a product is "regional"
//! (`<product>.<region>.aliyuncs.com`) unless its region map says otherwise. ECS maps many
//! regions to `ecs-cn-hangzhou.aliyuncs.com` (the Go SDK that ali-instance-cli uses maps
//! `cn-beijing`, `cn-shanghai`, … there too) and some to the central `ecs.aliyuncs.com`; RAM is
//! central (`ram.aliyuncs.com`) for every listed region; STS is central for some regions and
//! regional for the rest; KMS is always regional. The lab serves every name a tool might pick
//! for one of its regions, so whichever rule a tool follows, it lands on the lab.

use super::{API_VERSION, KMS_VERSION, RAM_VERSION, STS_VERSION};

/// The DNS suffix of every public endpoint.
pub const SUFFIX: &str = "aliyuncs.com";

/// ECS's shared regional name, which the SDKs use for `cn-hangzhou` and many other regions.
pub const ECS_SHARED: &str = "ecs-cn-hangzhou.aliyuncs.com";

/// The port every OpenAPI and gateway name is reached on.
pub const HTTPS_PORT: u16 = 443;

/// Every OpenAPI endpoint name that may mean one of `regions`, sorted and without repeats:
/// for each region ECS's `ecs-<r>` and `ecs.<r>`, STS's and KMS's regional names, plus the
/// central names of ECS, RAM and STS and ECS's shared one.
pub fn api_names<S: AsRef<str>>(regions: &[S]) -> Vec<String> {
    let mut names = vec![
        ECS_SHARED.to_owned(),
        format!("ecs.{SUFFIX}"),
        format!("ram.{SUFFIX}"),
        format!("sts.{SUFFIX}"),
    ];
    for region in regions {
        let r = region.as_ref();
        names.extend([
            format!("ecs-{r}.{SUFFIX}"),
            format!("ecs.{r}.{SUFFIX}"),
            format!("ram.{r}.{SUFFIX}"),
            format!("sts.{r}.{SUFFIX}"),
            format!("kms.{r}.{SUFFIX}"),
        ]);
    }
    names.sort();
    names.dedup();
    names
}

/// The gateway's public name for `region`, as the real service's WebSocketUrls carry it.
pub fn gateway_name(region: &str) -> String {
    format!("{region}.axt.{SUFFIX}")
}

/// The API version of the product a `Host` header names (its port, if any, ignored), when it
/// is one of the public endpoint names; `None` for anything else (an IP address, `localhost`).
pub fn version_of_host(host: &str) -> Option<&'static str> {
    let name = strip_port(host).to_ascii_lowercase();
    let label = name.strip_suffix(SUFFIX)?.strip_suffix('.')?;
    // `ecs`, `ecs-<region>` or `ecs.<region>` (and the same for the others).
    let product = label.split(['.', '-']).next().filter(|p| !p.is_empty())?;
    match product {
        "ecs" => Some(API_VERSION),
        "ram" => Some(RAM_VERSION),
        "sts" => Some(STS_VERSION),
        "kms" => Some(KMS_VERSION),
        _ => None,
    }
}

/// The endpoint name an SDK resolves for `product` (`ecs`, `ram`, `sts` or `kms`) in `region`:
/// the one `axt` calls when no endpoint is configured.
pub fn default_name(product: &str, region: &str) -> String {
    match product {
        "ecs" if region == "cn-hangzhou" => ECS_SHARED.to_owned(),
        "ram" => format!("ram.{SUFFIX}"),
        _ => format!("{product}.{region}.{SUFFIX}"),
    }
}

/// `host` without a trailing `:port` (an IPv6 literal in brackets keeps its brackets).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_brings_every_name_a_tool_may_resolve() {
        let names = api_names(&["cn-hangzhou", "cn-shanghai"]);
        for name in [
            "ecs-cn-hangzhou.aliyuncs.com",
            "ecs.cn-hangzhou.aliyuncs.com",
            "ecs-cn-shanghai.aliyuncs.com",
            "ecs.aliyuncs.com",
            "ram.aliyuncs.com",
            "sts.aliyuncs.com",
            "sts.cn-shanghai.aliyuncs.com",
            "kms.cn-hangzhou.aliyuncs.com",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        assert_eq!(gateway_name("cn-hangzhou"), "cn-hangzhou.axt.aliyuncs.com");
    }

    #[test]
    fn a_host_names_its_product_and_nothing_else_does() {
        assert_eq!(
            version_of_host("ecs-cn-hangzhou.aliyuncs.com"),
            Some(API_VERSION)
        );
        assert_eq!(
            version_of_host("ECS.cn-beijing.aliyuncs.com:443"),
            Some(API_VERSION)
        );
        assert_eq!(version_of_host("ram.aliyuncs.com"), Some(RAM_VERSION));
        assert_eq!(
            version_of_host("sts.cn-hangzhou.aliyuncs.com"),
            Some(STS_VERSION)
        );
        assert_eq!(
            version_of_host("kms.cn-hangzhou.aliyuncs.com"),
            Some(KMS_VERSION)
        );
        for other in [
            "127.0.0.1:8080",
            "localhost",
            "[::1]:8080",
            "cn-hangzhou.axt.aliyuncs.com",
            "aliyuncs.com",
            "ecs.aliyuncs.com.evil.example",
            "xecs.aliyuncs.com",
        ] {
            assert_eq!(version_of_host(other), None, "{other}");
        }
    }

    #[test]
    fn the_default_name_follows_the_sdks() {
        assert_eq!(
            default_name("ecs", "cn-hangzhou"),
            "ecs-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            default_name("ecs", "eu-central-1"),
            "ecs.eu-central-1.aliyuncs.com"
        );
        assert_eq!(default_name("ram", "cn-hangzhou"), "ram.aliyuncs.com");
        assert_eq!(
            default_name("sts", "cn-hangzhou"),
            "sts.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            default_name("kms", "cn-hangzhou"),
            "kms.cn-hangzhou.aliyuncs.com"
        );
    }
}
