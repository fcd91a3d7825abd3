//! `axt api [--product P] ACTION [--Name value]…`: one signed call of any product, its answer
//! printed as pretty JSON. Errors go back to `lib`, which prints them (a refusal by RAM
//! policies as its whole JSON body, and explained when asked).

use std::process::ExitCode;

use anyhow::bail;

use super::{parse_params, take_explain, ApiClient, Product};
use crate::{args::ApiArgs, profile::Settings};

/// `axt api`: prints the answer pretty-printed; an error body goes to stderr (exit 1).
pub async fn run(settings: &Settings, args: &ApiArgs) -> anyhow::Result<ExitCode> {
    let (product, action) = product_and_action(args)?;
    // `--explain` among the parameters is the global flag, which `lib` reads from there.
    let (params, _) = take_explain(&args.params);
    let params = parse_params(&params)?;
    let client = ApiClient::new(settings)?;
    let answer = client.call_to(product, action, params).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(ExitCode::SUCCESS)
}

/// The product (`--product`, else the action's prefix, else ECS) and the bare action.
fn product_and_action(args: &ApiArgs) -> anyhow::Result<(Product, &str)> {
    let (prefixed, action) = Product::split_prefix(&args.action);
    if action.is_empty() {
        bail!("{:?} names no action", args.action);
    }
    match (args.product, prefixed) {
        (Some(flag), Some(prefix)) if flag != prefix => bail!(
            "--product {} and the prefix of {} disagree",
            flag.name(),
            args.action
        ),
        (flag, prefix) => Ok((flag.or(prefix).unwrap_or_default(), action)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(product: Option<Product>, action: &str) -> ApiArgs {
        ApiArgs {
            product,
            action: action.into(),
            params: Vec::new(),
        }
    }

    #[test]
    fn the_flag_or_the_prefix_chooses_and_they_must_agree() {
        let pick = |product, action| {
            product_and_action(&args(product, action))
                .map(|(p, a)| (p, a.to_owned()))
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            pick(None, "DescribeRegions").unwrap(),
            (Product::Ecs, "DescribeRegions".into())
        );
        assert_eq!(
            pick(Some(Product::Ram), "CreateUser").unwrap(),
            (Product::Ram, "CreateUser".into())
        );
        assert_eq!(
            pick(None, "Sts.GetCallerIdentity").unwrap(),
            (Product::Sts, "GetCallerIdentity".into())
        );
        assert_eq!(
            pick(Some(Product::Ram), "ram.ListUsers").unwrap(),
            (Product::Ram, "ListUsers".into())
        );
        let err = pick(Some(Product::Sts), "Ram.ListUsers").unwrap_err();
        assert!(err.contains("--product sts"), "{err}");
        assert!(pick(None, "Ram.").is_err());
    }
}
