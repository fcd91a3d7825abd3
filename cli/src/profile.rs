//! Where a command's AccessKey, region, endpoint and CA come from: flags, then environment
//! (clap merges those two), then a profile of the aliyun CLI's `config.json`, then defaults.
//!
//! The config file is read only when a flag or variable left something unset, so a shell that
//! exports everything never depends on it.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::args::{GlobalArgs, Protocol};

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
    #[error("profile {name:?} has mode {mode:?}; axt supports AK and StsToken")]
    UnsupportedMode { name: String, mode: String },
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

/// The ECS OpenAPI endpoint: a scheme and the `host:port` that goes into the `Host` header.
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
    access_key: Option<AccessKey>,
    /// The region every call is made in.
    pub region: String,
    /// Where the OpenAPI is.
    pub endpoint: Endpoint,
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

        let id = args.access_key_id.clone().or(profile.access_key_id);
        let secret = args.access_key_secret.clone().or(profile.access_key_secret);
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
        Ok(Self {
            access_key,
            region,
            endpoint: Endpoint::parse(&args.endpoint, args.endpoint_protocol),
            ca_cert: args.ca_cert.clone().or(profile.axt_ca_cert),
            config_path,
        })
    }

    /// The AccessKey, or the error that says the three ways to provide one.
    pub fn access_key(&self) -> Result<&AccessKey, ProfileError> {
        self.access_key
            .as_ref()
            .ok_or_else(|| ProfileError::MissingCredentials(self.config_path.display().to_string()))
    }
}

/// The aliyun CLI's config file; unknown fields are ignored.
#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

/// One profile: the fields axt reads.
#[derive(Deserialize, Default)]
struct Profile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    sts_token: Option<String>,
    region_id: Option<String>,
    /// axtlab's extension: the lab CA's PEM file.
    axt_ca_cert: Option<PathBuf>,
}

/// The profile `name`, else the file's `current`, else `default`; `None` when a profile that
/// was not named explicitly is absent.
fn load_profile(path: &Path, name: Option<&str>) -> Result<Option<Profile>, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: ConfigFile = serde_json::from_str(&text).map_err(|source| ProfileError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let explicit = name.is_some_and(|n| !n.is_empty());
    let name = match name.filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None if !file.current.is_empty() => file.current.clone(),
        None => "default".to_owned(),
    };
    let Some(profile) = file.profiles.into_iter().find(|p| p.name == name) else {
        return if explicit {
            Err(ProfileError::ProfileNotFound {
                name,
                path: path.to_owned(),
            })
        } else {
            Ok(None)
        };
    };
    match profile.mode.as_str() {
        "" | "AK" | "StsToken" => Ok(Some(profile)),
        other => Err(ProfileError::UnsupportedMode {
            name,
            mode: other.to_owned(),
        }),
    }
}
