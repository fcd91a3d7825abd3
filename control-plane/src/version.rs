//! Agent versions (`2.2.3.256`) and the gates built on them.

use std::cmp::Ordering;

/// Compares dotted versions numerically, part by part; a missing part counts as 0 and a part
/// that is not a number as 0, so garbage never passes a gate it should not.
pub fn compare(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> Vec<u64> {
        v.split('.')
            .map(|p| p.trim().parse().unwrap_or(0))
            .collect()
    };
    let (a, b) = (parse(a), parse(b));
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Whether `version` is at least `minimum`. An empty version (no agent) never is.
pub fn at_least(version: &str, minimum: &str) -> bool {
    !version.trim().is_empty() && compare(version, minimum) != Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numerically() {
        assert!(at_least("2.2.3.256", "2.2.3.256"));
        assert!(at_least("2.2.3.578", "2.2.3.256"));
        assert!(at_least("2.10.0.1", "2.2.3.256"));
        assert!(!at_least("2.2.3.255", "2.2.3.256"));
        assert!(!at_least("1.0.0.1", "2.2.3.256"));
        assert!(!at_least("", "2.2.3.256"));
        assert!(!at_least("x.y", "2.2.3.256"));
    }
}
