//! Typed access to decoded request parameters, with the service's errors for a missing or
//! malformed one. Empty values count as absent: the SDKs send no empty business parameter.

use axt_proto::openapi::Params;

use super::ApiError;

/// Largest `PageNumber`, and largest number a `NextToken` may carry. The SDK models type paging
/// numbers as a 32-bit Integer, and this bound keeps every offset computed from them (at most
/// this times a page size) far inside an i64, where an unbounded one overflowed.
pub const MAX_PAGE_NUMBER: i64 = i32::MAX as i64;
/// See [`MAX_PAGE_NUMBER`].
pub const MAX_TOKEN: i64 = i32::MAX as i64;

/// Offset-style paging, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// `PageNumber`, from 1.
    pub number: i64,
    /// `PageSize`.
    pub size: i64,
    /// Rows before the page.
    pub offset: i64,
}

/// The business parameters of one call.
pub struct Args<'a>(pub &'a Params);

impl<'a> Args<'a> {
    /// An optional string.
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A mandatory string (`Missing{Name}` otherwise).
    pub fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.str(name).ok_or_else(|| ApiError::missing(name))
    }

    /// An optional integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.str(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| ApiError::invalid(name, "not an integer"))
            })
            .transpose()
    }

    /// An optional boolean, case-insensitive (Python sends `True`, Node `true`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.str(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::invalid(name, "not a boolean")),
            })
            .transpose()
    }

    /// A repeated list `Name.1`, `Name.2`, … in index order (1-based, gaps allowed).
    pub fn list(&self, name: &str) -> Vec<&'a str> {
        let prefix = format!("{name}.");
        let mut items: Vec<(u32, &str)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(&prefix)?.parse().ok()?;
                Some((index, v.as_str())).filter(|(_, v)| !v.is_empty())
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// A list given as one JSON-array text, such as DescribeInstances' `InstanceIds`.
    pub fn json_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.str(name)
            .map(|v| {
                serde_json::from_str::<Vec<String>>(v)
                    .map_err(|_| ApiError::invalid(name, "not a JSON array of strings"))
            })
            .transpose()
    }

    /// `Tag.N.Key` / `Tag.N.Value` pairs as the JSON the store keeps (`[{TagKey, TagValue}]`).
    pub fn tags(&self) -> String {
        let keys = self.indexed("Tag", "Key");
        let tags: Vec<serde_json::Value> = keys
            .into_iter()
            .map(|(i, key)| {
                let value = self.str(&format!("Tag.{i}.Value")).unwrap_or("");
                serde_json::json!({"TagKey": key, "TagValue": value})
            })
            .collect();
        serde_json::Value::Array(tags).to_string()
    }

    fn indexed(&self, name: &str, field: &str) -> Vec<(u32, &'a str)> {
        let mut items: Vec<(u32, &str)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(name)?.strip_prefix('.')?;
                let (index, f) = rest.split_once('.')?;
                (f == field && !v.is_empty()).then_some((index.parse().ok()?, v.as_str()))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items
    }

    /// Offset-style paging: `PageNumber` (1..=[`MAX_PAGE_NUMBER`]) and `PageSize` (1..=max,
    /// default given).
    pub fn page(&self, default_size: i64, max_size: i64) -> Result<Page, ApiError> {
        let number = self.int("PageNumber")?.unwrap_or(1);
        let size = self.int("PageSize")?.unwrap_or(default_size);
        if !(1..=MAX_PAGE_NUMBER).contains(&number) {
            return Err(ApiError::invalid(
                "PageNumber",
                format_args!("must be 1 to {MAX_PAGE_NUMBER}"),
            ));
        }
        if !(1..=max_size).contains(&size) {
            return Err(ApiError::invalid(
                "PageSize",
                format_args!("must be 1 to {max_size}"),
            ));
        }
        // Cannot fail for the sizes the actions allow; checked all the same, not assumed.
        let offset = (number - 1)
            .checked_mul(size)
            .ok_or_else(|| ApiError::invalid("PageNumber", "too large for this PageSize"))?;
        Ok(Page {
            number,
            size,
            offset,
        })
    }

    /// Token-style paging: `MaxResults` (1..=max) and an offset carried in `NextToken`
    /// (0..=[`MAX_TOKEN`]). Returns `(offset, limit)`, or `None` when the call pages by number
    /// instead.
    pub fn tokens(&self, default: i64, max: i64) -> Result<Option<(i64, i64)>, ApiError> {
        let max_results = self.int("MaxResults")?;
        let next = self.str("NextToken");
        if max_results.is_none() && next.is_none() {
            return Ok(None);
        }
        let limit = max_results.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::invalid(
                "MaxResults",
                format_args!("must be 1 to {max}"),
            ));
        }
        let offset = match next {
            Some(t) => token_number(t, 0)?,
            None => 0,
        };
        Ok(Some((offset, limit)))
    }
}

/// The number a `NextToken` this service issued carries: `min..=`[`MAX_TOKEN`], else
/// `InvalidParameter` (a token of ours is never outside, so it is not one of ours).
pub fn token_number(token: &str, min: i64) -> Result<i64, ApiError> {
    token
        .parse()
        .ok()
        .filter(|n| (min..=MAX_TOKEN).contains(n))
        .ok_or_else(|| ApiError::invalid("NextToken", "unknown token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lists_follow_their_index_not_the_text_order() {
        let p = params(&[
            ("InstanceId.10", "c"),
            ("InstanceId.2", "b"),
            ("InstanceId.1", "a"),
            ("InstanceIdX", "z"),
        ]);
        assert_eq!(Args(&p).list("InstanceId"), ["a", "b", "c"]);
    }

    #[test]
    fn booleans_ignore_case_and_bad_values_are_errors() {
        let p = params(&[("A", "True"), ("B", "false"), ("C", "yes")]);
        let a = Args(&p);
        assert_eq!(a.bool("A"), Ok(Some(true)));
        assert_eq!(a.bool("B"), Ok(Some(false)));
        assert_eq!(a.bool("C").unwrap_err().code, ErrorCode::InvalidParameter);
        assert_eq!(a.bool("D"), Ok(None));
    }

    #[test]
    fn tags_pair_keys_with_values() {
        let p = params(&[
            ("Tag.1.Key", "env"),
            ("Tag.1.Value", "lab"),
            ("Tag.2.Key", "team"),
        ]);
        assert_eq!(
            Args(&p).tags(),
            r#"[{"TagKey":"env","TagValue":"lab"},{"TagKey":"team","TagValue":""}]"#
        );
    }

    #[test]
    fn paging_numbers_are_bounded_before_any_arithmetic() {
        let huge = i64::MAX.to_string();
        let p = params(&[("PageNumber", &huge), ("PageSize", "100")]);
        let e = Args(&p).page(10, 100).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.message.contains("PageNumber"), "{}", e.message);
        let last = MAX_PAGE_NUMBER.to_string();
        let p = params(&[("PageNumber", &last), ("PageSize", "100")]);
        assert_eq!(
            Args(&p).page(10, 100).unwrap().offset,
            (MAX_PAGE_NUMBER - 1) * 100
        );
        for token in [huge.as_str(), "-1", "99999999999999999999999"] {
            let p = params(&[("NextToken", token)]);
            assert_eq!(
                Args(&p).tokens(10, 50).unwrap_err().code,
                ErrorCode::InvalidParameter,
                "{token}"
            );
        }
        let p = params(&[("NextToken", "20")]);
        assert_eq!(Args(&p).tokens(10, 50), Ok(Some((20, 10))));
    }

    #[test]
    fn missing_names_follow_the_service() {
        let p = params(&[]);
        let e = Args(&p).required("RegionId").unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.wire_code.as_str()),
            (400, "MissingRegionId")
        );
        assert_eq!(e.message, "RegionId is mandatory for this action.");
    }
}
