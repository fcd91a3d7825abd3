//! StartTerminalSession's security-group check: whether the inbound rules of an instance's
//! groups let the caller reach the TCP port a port session forwards to. docs/security-groups.md
//! says why these rules and this order; the real documentation lists the code but not what
//! triggers it.

use std::net::IpAddr;

use super::rules::stored_block;
use crate::{
    api::{ApiError, Ctx, ErrorCode},
    store::{Instance, SecurityGroupRule},
};

/// What the inbound rules say about one TCP connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    Accepted(&'a SecurityGroupRule),
    Dropped(&'a SecurityGroupRule),
    /// No rule matches: a group's default inbound policy refuses it.
    NoRule,
}

/// Evaluates inbound `rules` (of all the instance's groups together) for a TCP connection
/// from `source` to `port` of the instance at `dest`. Of the rules that match, the one with
/// the smallest Priority decides, a drop before an accept of the same priority (as the service
/// documents); no matching rule is a refusal.
pub fn evaluate(
    rules: &[SecurityGroupRule],
    port: u16,
    source: IpAddr,
    dest: Option<IpAddr>,
) -> Verdict<'_> {
    let covers = |block: &str, addr: Option<IpAddr>| {
        addr.zip(stored_block(block))
            .is_some_and(|(addr, net)| net.contains(&addr))
    };
    let matches = |r: &&SecurityGroupRule| {
        let s = &r.spec;
        let ports = match s.ip_protocol.as_str() {
            "all" => true,
            "tcp" => s.port_range.split_once('/').is_some_and(|(a, b)| {
                let (a, b) = (a.parse().unwrap_or(1), b.parse().unwrap_or(0));
                (a..=b).contains(&port)
            }),
            _ => false,
        };
        // The source must be covered by the rule's block of its own family; each destination
        // block a rule names (a quintuple rule) must cover the instance's address.
        let from = if source.is_ipv6() {
            &s.ipv6_source_cidr_ip
        } else {
            &s.source_cidr_ip
        };
        s.direction == "ingress"
            && ports
            && covers(from, Some(source))
            && [&s.dest_cidr_ip, &s.ipv6_dest_cidr_ip]
                .iter()
                .all(|d| d.is_empty() || covers(d, dest))
    };
    // `min_by_key` keeps the first of equals: among equal rules, the oldest.
    let decisive = rules
        .iter()
        .filter(matches)
        .min_by_key(|r| (r.spec.priority, r.spec.policy != "drop"));
    match decisive {
        Some(r) if r.spec.policy == "drop" => Verdict::Dropped(r),
        Some(r) => Verdict::Accepted(r),
        None => Verdict::NoRule,
    }
}

/// `InvalidOperation.SecurityGroupRuleDenied` for a session the instance's groups refuse.
/// Only a port session to the instance's own port is checked: a shell rides the agent's own
/// outbound connection, and with `TargetServer` the port is another host's, reached by the
/// instance going out. An instance in no group (a managed instance, or one made without a
/// group) is not checked.
pub async fn check_port_session(
    ctx: &Ctx<'_>,
    instance: &Instance,
    port: Option<i64>,
    target_server: &str,
) -> Result<(), ApiError> {
    let Some(port) = port.filter(|_| target_server.is_empty()) else {
        return Ok(());
    };
    let Some((groups, rules)) = ctx
        .shared
        .store
        .instance_ingress_rules(&instance.id)
        .await?
    else {
        return Ok(());
    };
    // The caller's address, as a dual-stack listener may report an IPv4 peer (`::ffff:a.b.c.d`).
    let source = match ctx.client_ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        Ok(v4) => v4,
        Err(e) => return Err(ApiError::internal(&ctx.request_id, e)),
    };
    let port = u16::try_from(port).map_err(|e| ApiError::internal(&ctx.request_id, e))?;
    let dest = instance.intranet_ip.parse().ok();
    let id = &instance.id;
    match evaluate(&rules, port, source, dest) {
        Verdict::Accepted(_) => Ok(()),
        Verdict::Dropped(rule) => Err(ApiError::with(
            ErrorCode::SecurityGroupRuleDenied,
            format_args!(
                "Rule {} of {} drops TCP port {port} of instance {id} from {source}.",
                rule.id, rule.security_group_id
            ),
        )),
        Verdict::NoRule => Err(ApiError::with(
            ErrorCode::SecurityGroupRuleDenied,
            format_args!(
                "No inbound rule of {} accepts TCP port {port} of instance {id} from {source}.",
                groups.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RuleSpec;

    fn rule(
        id: &str,
        protocol: &str,
        ports: &str,
        source: &str,
        policy: &str,
        priority: i64,
    ) -> SecurityGroupRule {
        SecurityGroupRule {
            id: id.into(),
            security_group_id: "sg-1".into(),
            created_at: 0,
            spec: RuleSpec {
                direction: "ingress".into(),
                ip_protocol: protocol.into(),
                port_range: ports.into(),
                source_cidr_ip: source.into(),
                policy: policy.into(),
                priority,
                ..RuleSpec::default()
            },
        }
    }

    fn verdict(rules: &[SecurityGroupRule], port: u16, source: &str) -> String {
        match evaluate(
            rules,
            port,
            source.parse().unwrap(),
            "172.16.0.10".parse().ok(),
        ) {
            Verdict::Accepted(r) => format!("accept {}", r.id),
            Verdict::Dropped(r) => format!("drop {}", r.id),
            Verdict::NoRule => "none".into(),
        }
    }

    #[test]
    fn the_smallest_priority_decides_and_drop_wins_a_tie() {
        let open = rule("open", "tcp", "22/22", "0.0.0.0/0", "accept", 2);
        let shut = rule("shut", "all", "-1/-1", "0.0.0.0/0", "drop", 2);
        assert_eq!(
            verdict(&[open.clone(), shut.clone()], 22, "10.0.0.1"),
            "drop shut"
        );
        let first = rule("first", "tcp", "1/1024", "10.0.0.0/8", "accept", 1);
        assert_eq!(
            verdict(&[open, shut, first], 22, "10.0.0.1"),
            "accept first"
        );
    }

    #[test]
    fn rules_match_on_protocol_port_and_source() {
        let rules = [
            rule("udp", "udp", "22/22", "0.0.0.0/0", "accept", 1),
            rule("icmp", "icmp", "-1/-1", "0.0.0.0/0", "accept", 1),
            rule("range", "tcp", "8000/8100", "192.168.0.0/16", "accept", 1),
        ];
        assert_eq!(verdict(&rules, 22, "10.0.0.1"), "none");
        assert_eq!(verdict(&rules, 8080, "192.168.3.4"), "accept range");
        assert_eq!(verdict(&rules, 8080, "10.0.0.1"), "none");
        assert_eq!(verdict(&rules, 8101, "192.168.3.4"), "none");
        assert_eq!(
            verdict(&rules, 8080, "::1"),
            "none",
            "an IPv4 block covers no IPv6 source"
        );
    }

    #[test]
    fn a_destination_block_must_cover_the_instance() {
        let mut quintuple = rule("q", "tcp", "22/22", "0.0.0.0/0", "accept", 1);
        quintuple.spec.dest_cidr_ip = "172.16.0.0/24".into();
        assert_eq!(verdict(&[quintuple.clone()], 22, "10.0.0.1"), "accept q");
        quintuple.spec.dest_cidr_ip = "172.17.0.0/24".into();
        assert_eq!(verdict(&[quintuple], 22, "10.0.0.1"), "none");
    }
}
