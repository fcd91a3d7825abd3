//! Where a command's credentials, region, endpoint and CA come from: flags, then environment
//! (clap merges those two), then a profile of the aliyun CLI's `config.json` ([`file`]), then
//! defaults.
//!
//! The config file is read only when a flag or variable left something unset, so a shell that
//! exports everything never depends on it. One exception to "flags first": a profile named with
//! `--profile` (or `ALIBABA_CLOUD_PROFILE`) brings its own AccessKey, which the key flags and
//! variables do not override — a lab shell exports the admin key, and `--profile lab-operator`
//! must still mean the operator. Profiles sign in mode `AK`, `StsToken` or `RamRoleArn` (a
//! role assumed through STS with the profile's key, see `api::assume`).

pub mod file;

use std::{
    fmt,
    path::{Path, PathBuf},
};

use axt_proto::openapi::{endpoints::default_name, Params};

use crate::{
    api::Product,
    args::{GlobalArgs, Protocol},
};
use file::{load_profile, Mode};

/// `DurationSeconds` of AssumeRole when a profile gives no `expired_seconds` (STS's default).
pub const DEFAULT_ROLE_DURATION: u32 = 3600;

/// The region when neither a flag, the environment nor the profile names one.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// Why settings could not be resolved. Callers branch on `MissingCredentials` (only commands
/// that call the API need a key).
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "no AccessKey: pass --access-key-id and --access-key-secret, or set \
         ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or add an AK profile to \
         {0} (choose it with --profile, another file with --config-path)"
    )]
    MissingCredentials(String),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an aliyun CLI config file")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("profile {name:?} is not in {path}")]
    ProfileNotFound { name: String, path: PathBuf },
    #[error("profile {name:?} has mode {mode:?}; axt supports AK, StsToken and RamRoleArn")]
    UnsupportedMode { name: String, mode: String },
    #[error("profile {0:?} has mode RamRoleArn but no ram_role_arn")]
    MissingRoleArn(String),
    #[error("region {0:?} is not a region id (letters, digits and '-')")]
    InvalidRegion(String),
}

/// An AccessKey pair, with the STS token of a `StsToken` profile.
#[derive(Clone)]
pub struct AccessKey {
    /// The public half.
    pub id: String,
    /// The secret half; never printed.
    pub secret: String,
    /// Sent as `SecurityToken` when the key is temporary.
    pub sts_token: Option<String>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The role a `RamRoleArn` profile assumes before any call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleToAssume {
    /// `ram_role_arn`.
    pub arn: String,
    /// `ram_session_name`, else `axt-<unix time>` (the SDKs name theirs the same way).
    pub session_name: String,
    /// `expired_seconds`, else [`DEFAULT_ROLE_DURATION`].
    pub duration_seconds: u32,
    /// `external_id`, when the trust policy wants one.
    pub external_id: Option<String>,
}

impl RoleToAssume {
    /// The parameters of STS AssumeRole.
    pub fn params(&self) -> Params {
        let mut params = Params::new();
        params.insert("RoleArn".into(), self.arn.clone());
        params.insert("RoleSessionName".into(), self.session_name.clone());
        params.insert("DurationSeconds".into(), self.duration_seconds.to_string());
        if let Some(id) = &self.external_id {
            params.insert("ExternalId".into(), id.clone());
        }
        params
    }
}

/// An OpenAPI endpoint: a scheme and the `host:port` that goes into the `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// http or https.
    pub protocol: Protocol,
    /// `host:port`, exactly as given.
    pub host_port: String,
}

impl Endpoint {
    /// Reads `HOST:PORT`, tolerating a `http://`/`https://` prefix (which then wins over
    /// `protocol`) and a trailing `/`, since URLs are what people paste.
    pub fn parse(text: &str, protocol: Protocol) -> Self {
        let (protocol, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Protocol::Https, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Protocol::Http, rest)
        } else {
            (protocol, text)
        };
        Self {
            protocol,
            host_port: rest.trim_end_matches('/').to_owned(),
        }
    }

    /// The URL every RPC call is posted to.
    pub fn url(&self) -> String {
        format!("{}://{}/", self.protocol.scheme(), self.host_port)
    }
}

/// Everything a command needs to reach the lab, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The key that signs, or for a role the key that assumes it.
    access_key: Option<AccessKey>,
    /// The role to assume first (RamRoleArn profiles).
    role: Option<RoleToAssume>,
    /// The region every call is made in.
    pub region: String,
    /// Where the OpenAPI is: the endpoint given, else ECS's public name in the region (and
    /// then each product has its own, see [`Settings::endpoint_for`]).
    pub endpoint: Endpoint,
    /// Whether `endpoint` was given (flag or environment) and serves every product.
    endpoint_given: bool,
    /// A CA to trust besides the public roots.
    pub ca_cert: Option<PathBuf>,
    /// The config file consulted (for messages).
    config_path: PathBuf,
}

impl Settings {
    /// Resolves `args`; `home` is where `.aliyun/config.json` lives by default.
    pub fn resolve(args: &GlobalArgs, home: Option<&Path>) -> Result<Self, ProfileError> {
        let default_path = home
            .unwrap_or_else(|| Path::new("~"))
            .join(".aliyun/config.json");
        let explicit_file = args.config_path.is_some();
        let config_path = args.config_path.clone().unwrap_or(default_path);
        let complete = args.access_key_id.is_some()
            && args.access_key_secret.is_some()
            && args.region.is_some()
            && args.ca_cert.is_some();
        // An explicitly named profile or file must exist; the default file and the implicit
        // profile (`current`, else `default`) are optional.
        let profile = if complete && args.profile.is_none() {
            None
        } else if explicit_file || args.profile.is_some() || config_path.exists() {
            load_profile(&config_path, args.profile.as_deref())?
        } else {
            None
        };
        let profile = profile.unwrap_or_default();
        let mode = profile.mode()?;
        let role = (mode == Mode::RamRoleArn).then(|| role_of(&profile));

        let named = args.profile.as_deref().is_some_and(|n| !n.is_empty());
        let profile_has_key = profile
            .access_key_id
            .as_deref()
            .is_some_and(|k| !k.is_empty());
        let (id, secret) = if named && profile_has_key {
            (profile.access_key_id, profile.access_key_secret)
        } else {
            (
                args.access_key_id.clone().or(profile.access_key_id),
                args.access_key_secret.clone().or(profile.access_key_secret),
            )
        };
        let access_key = match (id, secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Some(AccessKey {
                id,
                secret,
                sts_token: profile.sts_token.filter(|t| !t.is_empty()),
            }),
            _ => None,
        };
        let region = args
            .region
            .clone()
            .or(profile.region_id.filter(|r| !r.is_empty()))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ProfileError::InvalidRegion(region));
        }
        let endpoint_given = !args.endpoint.trim().is_empty();
        let endpoint = if endpoint_given {
            Endpoint::parse(
                args.endpoint.trim(),
                args.endpoint_protocol.unwrap_or_default(),
            )
        } else {
            public_endpoint(Product::Ecs, &region, args.endpoint_protocol)
        };
        Ok(Self {
            access_key,
            role,
            endpoint,
            endpoint_given,
            region,
            ca_cert: args.ca_cert.clone().or(profile.axt_ca_cert),
            config_path,
        })
    }

    /// Where calls to `product` go: the endpoint given, else the product's public name in
    /// the region (`ram.aliyuncs.com`, `sts.cn-hangzhou.aliyuncs.com`, …) over HTTPS.
    pub fn endpoint_for(&self, product: Product) -> Endpoint {
        if self.endpoint_given {
            return self.endpoint.clone();
        }
        Endpoint {
            protocol: self.endpoint.protocol,
            host_port: default_name(product.name(), &self.region),
        }
    }

    /// Whether the endpoint was given rather than taken from the public names.
    pub fn endpoint_given(&self) -> bool {
        self.endpoint_given
    }

    /// The AccessKey, or the error that says the three ways to provide one.
    pub fn access_key(&self) -> Result<&AccessKey, ProfileError> {
        self.access_key
            .as_ref()
            .ok_or_else(|| ProfileError::MissingCredentials(self.config_path.display().to_string()))
    }

    /// The role calls are made as, for a RamRoleArn profile.
    pub fn role(&self) -> Option<&RoleToAssume> {
        self.role.as_ref()
    }

    /// The same settings signing with the key itself, no role assumed: what decodes the
    /// refusal of an AssumeRole.
    pub fn without_role(&self) -> Self {
        Self {
            role: None,
            ..self.clone()
        }
    }
}

/// `product`'s public name in `region`, as the SDKs resolve it, over HTTPS unless told otherwise.
fn public_endpoint(product: Product, region: &str, protocol: Option<Protocol>) -> Endpoint {
    Endpoint {
        protocol: protocol.unwrap_or(Protocol::Https),
        host_port: default_name(product.name(), region),
    }
}

/// The role of a RamRoleArn profile, with the defaults of the SDKs for what it leaves out.
fn role_of(profile: &file::Profile) -> RoleToAssume {
    let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    RoleToAssume {
        arn: text(&profile.ram_role_arn).unwrap_or_default(),
        session_name: text(&profile.ram_session_name)
            .unwrap_or_else(|| format!("axt-{}", chrono::Utc::now().timestamp())),
        duration_seconds: profile
            .expired_seconds
            .filter(|&s| s > 0)
            .unwrap_or(DEFAULT_ROLE_DURATION),
        external_id: text(&profile.external_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(endpoint: &str, protocol: Option<Protocol>, region: &str) -> Settings {
        let home = tempfile::tempdir().unwrap();
        let args = GlobalArgs {
            endpoint: endpoint.into(),
            endpoint_protocol: protocol,
            region: Some(region.into()),
            ..GlobalArgs::default()
        };
        Settings::resolve(&args, Some(home.path())).unwrap()
    }

    #[test]
    fn without_an_endpoint_each_product_is_called_at_its_public_name() {
        let settings = resolve("", None, "cn-hangzhou");
        assert!(!settings.endpoint_given());
        let url = |p| settings.endpoint_for(p).url();
        assert_eq!(url(Product::Ecs), "https://ecs-cn-hangzhou.aliyuncs.com/");
        assert_eq!(url(Product::Ram), "https://ram.aliyuncs.com/");
        assert_eq!(url(Product::Sts), "https://sts.cn-hangzhou.aliyuncs.com/");
        assert_eq!(url(Product::Kms), "https://kms.cn-hangzhou.aliyuncs.com/");
        assert_eq!(settings.endpoint.url(), url(Product::Ecs));
        let elsewhere = resolve(" ", Some(Protocol::Http), "cn-shanghai");
        assert_eq!(
            elsewhere.endpoint_for(Product::Kms).url(),
            "http://kms.cn-shanghai.aliyuncs.com/"
        );
    }

    #[test]
    fn a_given_endpoint_serves_every_product_as_before() {
        let settings = resolve("127.0.0.1:8080", None, "cn-hangzhou");
        assert!(settings.endpoint_given());
        for product in [Product::Ecs, Product::Ram, Product::Sts, Product::Kms] {
            assert_eq!(
                settings.endpoint_for(product).url(),
                "http://127.0.0.1:8080/"
            );
        }
        let https = resolve("lab.test:8443", Some(Protocol::Https), "cn-hangzhou");
        assert_eq!(
            https.endpoint_for(Product::Ram).url(),
            "https://lab.test:8443/"
        );
    }
}
