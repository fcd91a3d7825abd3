//! The products one axtlab endpoint serves, as `axt api` names them: ECS, RAM, STS and KMS,
//! each selected by the API version the call is signed with.

use axt_proto::openapi::{API_VERSION, KMS_VERSION, RAM_VERSION, STS_VERSION};

/// The cloud products one axtlab endpoint serves; the signed `Version` says which is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Product {
    /// ECS, version 2014-05-26: instances, activations, sessions.
    #[default]
    Ecs,
    /// RAM, version 2015-05-01: users, groups, roles, policies.
    Ram,
    /// STS, version 2015-04-01: AssumeRole, GetCallerIdentity.
    Sts,
    /// KMS, version 2016-01-20: keys and the data keys of encrypted sessions.
    Kms,
}

impl Product {
    /// The API version that selects the product.
    pub fn version(self) -> &'static str {
        match self {
            Self::Ecs => API_VERSION,
            Self::Ram => RAM_VERSION,
            Self::Sts => STS_VERSION,
            Self::Kms => KMS_VERSION,
        }
    }

    /// The name --product takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Ram => "ram",
            Self::Sts => "sts",
            Self::Kms => "kms",
        }
    }

    /// Splits a `Ram.`/`Sts.`/`Kms.`/`Ecs.` prefix (any case) off `action`: `Ram.CreateUser` is
    /// `(Some(Ram), "CreateUser")`; an action without one is `(None, action)`.
    pub fn split_prefix(action: &str) -> (Option<Self>, &str) {
        let Some((prefix, rest)) = action.split_once('.') else {
            return (None, action);
        };
        let product = match prefix.to_ascii_lowercase().as_str() {
            "ecs" => Self::Ecs,
            "ram" => Self::Ram,
            "sts" => Self::Sts,
            "kms" => Self::Kms,
            _ => return (None, action),
        };
        (Some(product), rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_the_product() {
        assert_eq!(
            Product::split_prefix("Ram.CreateUser"),
            (Some(Product::Ram), "CreateUser")
        );
        assert_eq!(
            Product::split_prefix("sts.AssumeRole"),
            (Some(Product::Sts), "AssumeRole")
        );
        assert_eq!(
            Product::split_prefix("DescribeRegions"),
            (None, "DescribeRegions")
        );
        assert_eq!(
            Product::split_prefix("Kms.Encrypt"),
            (Some(Product::Kms), "Encrypt")
        );
        assert_eq!(Product::split_prefix("Oss.Put"), (None, "Oss.Put"));
        assert_eq!(Product::Kms.version(), "2016-01-20");
        assert_eq!(Product::Ram.version(), "2015-05-01");
        assert_eq!(Product::Sts.version(), "2015-04-01");
        assert_eq!(Product::default().version(), "2014-05-26");
    }
}
