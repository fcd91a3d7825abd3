//! What the `Host` a call was addressed to says: on a product's endpoint name
//! (`ram.aliyuncs.com`, `ecs-cn-hangzhou.aliyuncs.com`, …, served over HTTPS by `--https-listen`)
//! the call is that product's, as on the real service, where each name is its own product's
//! gateway; on any other host (an IP address, `localhost`) one listener serves every product and
//! the signed `Version` alone says which. Also the Action a call claims before its signature is
//! checked, which only the log sees.

use axt_proto::openapi::{endpoints::version_of_host, Params};

use super::{ApiError, ErrorCode, Product};

/// The product whose endpoint name `host` is, if it is one.
pub fn product(host: Option<&str>) -> Option<Product> {
    host.and_then(version_of_host).and_then(Product::of_version)
}

/// Refuses a call for `product` addressed to another product's endpoint name: an ECS `Version`
/// on `ram.aliyuncs.com` is, for RAM's endpoint, a version it does not have. The reference
/// (ecs-openapi.md) documents no code for that, so it gets the one for a version the service
/// does not know: `InvalidVersion`, "Specified parameter Version is not valid.", HTTP 400,
/// under the endpoint's own product.
pub fn check(host: Option<&str>, product: Product) -> Result<(), ApiError> {
    match self::product(host) {
        Some(served) if served != product => Err(ApiError::from(ErrorCode::InvalidVersion)),
        _ => Ok(()),
    }
}

/// Longest claimed Action the log shows.
const MAX_CLAIMED: usize = 64;

/// The Action a call claims — the `Action` parameter, else the `x-acs-action` header — before
/// any signature is checked: for the log only, so that a refused call still says what it
/// tried. Unverified, so kept to what an Action name may hold (letters, digits, `.`, `_`, `-`)
/// and to 64 characters; anything else reads as `?`.
pub fn claimed_action(params: &Params, headers: &[(String, String)]) -> String {
    let claimed = params.get("Action").map(String::as_str).or_else(|| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-acs-action"))
            .map(|(_, v)| v.as_str())
    });
    let Some(claimed) = claimed.map(str::trim).filter(|c| !c.is_empty()) else {
        return String::new();
    };
    let shown: String = claimed
        .chars()
        .take(MAX_CLAIMED)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '?'
            }
        })
        .collect();
    shown
}

#[cfg(test)]
mod tests {
    use axt_proto::openapi::{API_VERSION, RAM_VERSION};

    use super::*;

    #[test]
    fn an_endpoint_name_takes_its_own_product_only() {
        let ram = Some("ram.aliyuncs.com:8443");
        assert_eq!(product(ram), Some(Product::Ram));
        assert!(check(ram, Product::Ram).is_ok());
        assert_eq!(
            check(ram, Product::Ecs).unwrap_err().code,
            ErrorCode::InvalidVersion
        );
        assert!(check(Some("ecs.cn-beijing.aliyuncs.com"), Product::Ecs).is_ok());
        for anywhere in [Some("127.0.0.1:8080"), Some("localhost"), None] {
            assert_eq!(product(anywhere), None);
            assert!(check(anywhere, Product::Kms).is_ok());
        }
        assert_eq!(Product::of_version(API_VERSION), Some(Product::Ecs));
        assert_eq!(Product::of_version(RAM_VERSION), Some(Product::Ram));
        assert_eq!(Product::of_version("2016-03-14"), None);
    }

    #[test]
    fn a_claimed_action_is_shown_tamed() {
        let params: Params = [("Action".to_owned(), "DescribeRegions".to_owned())].into();
        assert_eq!(claimed_action(&params, &[]), "DescribeRegions");
        let header = [(
            "X-Acs-Action".to_owned(),
            "Start\nSession\u{1b}[0m".to_owned(),
        )];
        assert_eq!(claimed_action(&Params::new(), &header), "Start?Session??0m");
        let long = [("Action".to_owned(), "A".repeat(1000))].into();
        assert_eq!(claimed_action(&long, &[]).len(), MAX_CLAIMED);
        assert_eq!(claimed_action(&Params::new(), &[]), "");
    }
}
