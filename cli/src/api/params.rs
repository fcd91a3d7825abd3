//! The parameters of `axt api`: `--Name value` and `--Name=value` pairs after the action, and
//! `--explain`, which may stand anywhere among them.

use axt_proto::openapi::Params;

/// The flag `axt api` takes after the action too, where clap no longer looks for options.
const EXPLAIN: &str = "--explain";

/// Removes every bare `--explain` from `args`; true if there was one. A parameter's value can
/// never be `--explain` (values starting with `--` are refused), so nothing else is lost.
pub fn take_explain(args: &[String]) -> (Vec<String>, bool) {
    let rest: Vec<String> = args.iter().filter(|a| *a != EXPLAIN).cloned().collect();
    let found = rest.len() != args.len();
    (rest, found)
}

/// Why a `--Name value` list could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("expected a parameter name like --InstanceId.1, got {0:?}")]
    NotAName(String),
    #[error("--{0} needs a value (write --{0}= for an empty one)")]
    MissingValue(String),
    #[error("--{0} is an option of axt: put it before the action")]
    GlobalOption(String),
}

/// The options of `axt` that users may type after the action by habit.
const GLOBAL_OPTIONS: &[&str] = &[
    "access-key-id",
    "access-key-secret",
    "profile",
    "config-path",
    "endpoint",
    "endpoint-protocol",
    "region",
    "ca-cert",
    "product",
    "help",
];

/// Reads `--Name value` and `--Name=value` pairs into parameters.
pub fn parse_params(args: &[String]) -> Result<Params, ParamError> {
    let mut params = Params::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(name) = arg.strip_prefix("--").filter(|n| !n.is_empty()) else {
            return Err(ParamError::NotAName(arg.clone()));
        };
        let (name, value) = match name.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => {
                // A value may itself start with a dash (`--Description -x-`), but not with `--`.
                let value = rest
                    .next()
                    .filter(|v| !v.starts_with("--"))
                    .ok_or_else(|| ParamError::MissingValue(name.to_owned()))?;
                (name.to_owned(), value.clone())
            }
        };
        if GLOBAL_OPTIONS.contains(&name.as_str()) {
            return Err(ParamError::GlobalOption(name));
        }
        params.insert(name, value);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_pairs_in_both_spellings() {
        let params = parse_params(&strings(&[
            "--InstanceId.1",
            "i-x",
            "--PortNumber=22",
            "--Empty=",
        ]))
        .unwrap();
        let got: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [("Empty", ""), ("InstanceId.1", "i-x"), ("PortNumber", "22")]
        );
        assert_eq!(
            parse_params(&strings(&["--Description", "-x-"])).unwrap()["Description"],
            "-x-"
        );
    }

    #[test]
    fn refuses_what_is_not_a_pair() {
        let err = |args: &[&str]| parse_params(&strings(args)).unwrap_err();
        assert_eq!(err(&["i-x"]), ParamError::NotAName("i-x".into()));
        assert_eq!(
            err(&["--PortNumber"]),
            ParamError::MissingValue("PortNumber".into())
        );
        assert_eq!(
            err(&["--A", "--B", "1"]),
            ParamError::MissingValue("A".into())
        );
        assert_eq!(
            err(&["--region", "cn-beijing"]),
            ParamError::GlobalOption("region".into())
        );
    }

    #[test]
    fn explain_is_taken_out_wherever_it_stands() {
        let (rest, found) = take_explain(&strings(&["--InstanceId.1", "i-x", "--explain"]));
        assert!(found);
        assert_eq!(rest, ["--InstanceId.1", "i-x"]);
        let (rest, found) = take_explain(&strings(&["--Description=--explain"]));
        assert!(!found);
        assert_eq!(rest, ["--Description=--explain"]);
        assert_eq!(
            parse_params(&strings(&["--product", "ram"])).unwrap_err(),
            ParamError::GlobalOption("product".into())
        );
    }
}
