//! The aliyun CLI's `config.json`, read and written: `{current, profiles: [...]}` with the
//! field names the aliyun CLI itself writes, so that one file serves both tools. axtlab adds
//! one field, `axt_ca_cert`, which the aliyun CLI ignores.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ProfileError;

/// The whole file. Unknown fields are ignored on reading (and so dropped by a rewrite: only
/// files axt made itself are ever written).
/// Not `Debug`: it holds secrets.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    /// The profile used when none is named.
    #[serde(default)]
    pub current: String,
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

/// One profile: the fields axt reads, named as the aliyun CLI names them. Not `Debug`: it
/// holds secrets.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
    /// `AK`, `StsToken` or `RamRoleArn` (others are the aliyun CLI's, unsupported here); empty
    /// means guessed from the fields, as the aliyun CLI guesses.
    #[serde(default)]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_secret: Option<String>,
    /// The token of a temporary key (StsToken; or the source key of a RamRoleArn profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_token: Option<String>,
    /// RamRoleArn: the role to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_role_arn: Option<String>,
    /// RamRoleArn: the `RoleSessionName` of AssumeRole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ram_session_name: Option<String>,
    /// RamRoleArn: the `DurationSeconds` of AssumeRole (0 or absent: 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_seconds: Option<u32>,
    /// RamRoleArn: the `ExternalId` of AssumeRole, when the trust policy asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// RamRoleArn: the region of the STS endpoint. Read and ignored: axtlab serves STS on the
    /// same endpoint as everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// What the aliyun CLI prints; axt always prints JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// axtlab's extension: the lab CA's PEM file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axt_ca_cert: Option<PathBuf>,
}

/// How a profile signs, of the modes axt supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A long-term AccessKey.
    Ak,
    /// A temporary key and its `sts_token`.
    StsToken,
    /// A key that assumes `ram_role_arn` first and signs with the role's temporary key.
    RamRoleArn,
}

impl Profile {
    /// The profile's mode. Without one, the aliyun CLI's guess: a token makes it StsToken, a
    /// role RamRoleArn, else AK. Names are matched in any case, as the aliyun CLI matches them.
    pub fn mode(&self) -> Result<Mode, ProfileError> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        match self.mode.to_ascii_lowercase().as_str() {
            "" if set(&self.sts_token) => Ok(Mode::StsToken),
            "" if set(&self.ram_role_arn) => Ok(Mode::RamRoleArn),
            "" | "ak" => Ok(Mode::Ak),
            "ststoken" => Ok(Mode::StsToken),
            "ramrolearn" if set(&self.ram_role_arn) => Ok(Mode::RamRoleArn),
            "ramrolearn" => Err(ProfileError::MissingRoleArn(self.name.clone())),
            _ => Err(ProfileError::UnsupportedMode {
                name: self.name.clone(),
                mode: self.mode.clone(),
            }),
        }
    }
}

impl ConfigFile {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ProfileError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// The file as the aliyun CLI writes it (pretty JSON, a final newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a config file is plain data");
        text.push('\n');
        text
    }
}

/// The profile `name`, else the file's `current`, else `default`; `None` when a profile that
/// was not named explicitly is absent.
pub(super) fn load_profile(
    path: &Path,
    name: Option<&str>,
) -> Result<Option<Profile>, ProfileError> {
    let file = ConfigFile::load(path)?;
    let explicit = name.is_some_and(|n| !n.is_empty());
    let name = match name.filter(|n| !n.is_empty()) {
        Some(name) => name.to_owned(),
        None if !file.current.is_empty() => file.current.clone(),
        None => "default".to_owned(),
    };
    let Some(profile) = file.profile(&name).cloned() else {
        return if explicit {
            Err(ProfileError::ProfileNotFound {
                name,
                path: path.to_owned(),
            })
        } else {
            Ok(None)
        };
    };
    profile.mode()?;
    Ok(Some(profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> Profile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn modes_are_read_or_guessed_as_the_aliyun_cli_does() {
        let mode = |json: &str| profile(json).mode();
        assert_eq!(mode(r#"{"mode": "AK"}"#).unwrap(), Mode::Ak);
        assert_eq!(mode(r#"{"mode": "ststoken"}"#).unwrap(), Mode::StsToken);
        assert_eq!(mode(r#"{"sts_token": "t"}"#).unwrap(), Mode::StsToken);
        assert_eq!(
            mode(r#"{"ram_role_arn": "acs:ram::1:role/r"}"#).unwrap(),
            Mode::RamRoleArn
        );
        assert_eq!(mode(r#"{"ram_role_arn": ""}"#).unwrap(), Mode::Ak);
        assert!(matches!(
            mode(r#"{"name": "p", "mode": "RamRoleArn"}"#),
            Err(ProfileError::MissingRoleArn(name)) if name == "p"
        ));
        assert!(matches!(
            mode(r#"{"mode": "EcsRamRole"}"#),
            Err(ProfileError::UnsupportedMode { .. })
        ));
    }

    #[test]
    fn writes_what_it_reads_without_empty_fields() {
        let file = ConfigFile {
            current: "a".into(),
            profiles: vec![Profile {
                name: "a".into(),
                mode: "RamRoleArn".into(),
                access_key_id: Some("LTAIa".into()),
                access_key_secret: Some("s".into()),
                ram_role_arn: Some("acs:ram::1:role/r".into()),
                ram_session_name: Some("me".into()),
                expired_seconds: Some(900),
                ..Profile::default()
            }],
        };
        let text = file.to_json();
        assert!(
            !text.contains("sts_token") && !text.contains("null"),
            "{text}"
        );
        let back: ConfigFile = serde_json::from_str(&text).unwrap();
        let read = back.profile("a").unwrap();
        assert_eq!(read.expired_seconds, Some(900));
        assert_eq!(read.mode().unwrap(), Mode::RamRoleArn);
    }
}
