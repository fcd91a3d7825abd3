//! Wildcard matching as RAM's policy language uses it: `*` is any run of characters (the empty
//! one included), `?` is exactly one character, everything else stands for itself.
//!
//! Case rules, from RAM's "Policy elements" page: the values of `Action` are case-insensitive
//! in most cases, so actions match ignoring ASCII case. The page says nothing of `Resource`;
//! resources match case-sensitively, as ARNs do elsewhere and as `StringLike` (which RAM does
//! document as case-sensitive) does: the stricter reading can only deny, never grant, by
//! surprise.

/// Whether `text` matches `pattern`, each `*` any run of characters and each `?` one
/// character; ASCII case is ignored when `ignore_case`.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // Greedy with one backtrack point, the last `*`: linear in practice, and never worse than
    // pattern length times text length.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || same(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether the action pattern `pattern` (`ecs:Describe*`, `*`) covers `action`; case-insensitive.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_match(pattern, action, true)
}

/// Whether the resource pattern `pattern` (`acs:ecs:*:*:instance/i-*`, `*`) covers `resource`;
/// case-sensitive.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    wildcard_match(pattern, resource, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything at all", true),
            ("", "", true),
            ("", "x", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "abbc", false),
            ("*?", "", false),
            ("*?", "x", true),
            ("**a**", "xxa", true),
            ("*a*b*c*", "xaybzc", true),
            ("*a*b*c*", "xaybz", false),
            ("ecs:Describe*", "ecs:DescribeInstances", true),
            (
                "acs:ecs:*:*:instance/i-?",
                "acs:ecs:cn-hangzhou:1:instance/i-1",
                true,
            ),
            (
                "acs:ecs:*:*:instance/i-?",
                "acs:ecs:cn-hangzhou:1:instance/i-12",
                false,
            ),
            ("i-ä?", "i-äö", true),
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(
                wildcard_match(pattern, text, false),
                want,
                "{pattern} vs {text}"
            );
        }
    }

    #[test]
    fn actions_ignore_case_resources_do_not() {
        assert!(action_matches("ecs:describe*", "ecs:DescribeInstances"));
        assert!(action_matches(
            "ECS:StartTerminalSession",
            "ecs:StartTerminalSession"
        ));
        assert!(!action_matches("ecs:Stop*", "ecs:StartInstance"));
        assert!(resource_matches(
            "acs:ecs:*:*:instance/i-abc",
            "acs:ecs:r:1:instance/i-abc"
        ));
        assert!(!resource_matches(
            "acs:ecs:*:*:instance/I-ABC",
            "acs:ecs:r:1:instance/i-abc"
        ));
        assert!(!resource_matches("acs:ecs:*:*:instance/i-abc", "*"));
        assert!(resource_matches("*", "*"));
    }

    #[test]
    fn long_inputs_stay_fast() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!wildcard_match(&pattern, &text, false));
    }
}
