//! One security group rule as the API speaks it: read from the newer `Permissions.N.*` list or
//! the older flat parameters (never both), checked with the service's codes, stored in a
//! normal form (protocol and policy in lower case, CIDR blocks truncated to their network), and
//! answered as DescribeSecurityGroupAttribute shows it (`TCP`, `Accept`, Priority as text).

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Value};

use crate::{
    api::{ApiError, Args, ErrorCode},
    store::{iso, RuleSpec, SecurityGroupRule},
};

/// Most rules in one Authorize/Revoke call, and most rule ids in one Revoke.
pub const MAX_PER_CALL: usize = 100;
/// Longest rule description, in characters.
const MAX_DESCRIPTION: usize = 512;

/// Every per-rule parameter, flat or under `Permissions.N.`; one of them flat together with a
/// `Permissions.N.*` (or a `SecurityGroupRuleId.N`) is `InvalidParam.Permissions`.
const FIELDS: &[&str] = &[
    "IpProtocol",
    "PortRange",
    "SourceCidrIp",
    "Ipv6SourceCidrIp",
    "DestCidrIp",
    "Ipv6DestCidrIp",
    "Policy",
    "Priority",
    "NicType",
    "Description",
    "SourcePortRange",
    "SourceGroupId",
    "SourceGroupOwnerId",
    "SourceGroupOwnerAccount",
    "SourcePrefixListId",
    "DestGroupId",
    "DestGroupOwnerId",
    "DestGroupOwnerAccount",
    "DestPrefixListId",
    "PortRangeListId",
];

/// Which way a rule's traffic goes, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }
}

/// The `N`s of the `Permissions.N.*` parameters, in order.
fn permission_indices(args: &Args<'_>) -> Vec<u32> {
    let mut indices: Vec<u32> = args
        .0
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(k, _)| {
            k.strip_prefix("Permissions.")?
                .split_once('.')?
                .0
                .parse()
                .ok()
        })
        .collect();
    indices.sort_unstable();
    indices.dedup();
    indices
}

/// Whether the call names any rule by its fields, flat or as `Permissions.N.*`.
pub fn names_rule_fields(args: &Args<'_>) -> bool {
    FIELDS.iter().any(|f| args.str(f).is_some()) || !permission_indices(args).is_empty()
}

/// The rules of an Authorize or Revoke call.
pub fn parse_rules(args: &Args<'_>, direction: Direction) -> Result<Vec<RuleSpec>, ApiError> {
    let indices = permission_indices(args);
    if indices.is_empty() {
        return Ok(vec![parse_one(&|f| args.str(f), direction)?]);
    }
    if FIELDS.iter().any(|f| args.str(f).is_some()) {
        return Err(ApiError::from(ErrorCode::PermissionsConflict));
    }
    if indices.len() > MAX_PER_CALL {
        return Err(ApiError::invalid(
            "Permissions",
            format_args!("at most {MAX_PER_CALL} rules"),
        ));
    }
    let mut rules: Vec<RuleSpec> = Vec::with_capacity(indices.len());
    for n in indices {
        let rule = parse_one(&|f| args.str(&format!("Permissions.{n}.{f}")), direction)?;
        if rules.iter().any(|r| same_rule(r, &rule)) {
            return Err(ApiError::from(ErrorCode::DuplicatePermissions));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// Whether two rules are the same rule to the service: priority and description aside.
pub fn same_rule(a: &RuleSpec, b: &RuleSpec) -> bool {
    let bare = |r: &RuleSpec| RuleSpec {
        priority: 0,
        description: String::new(),
        ..r.clone()
    };
    bare(a) == bare(b)
}

fn parse_one<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    direction: Direction,
) -> Result<RuleSpec, ApiError> {
    let ip_protocol = protocol(get("IpProtocol"))?;
    let port_range = port_range(ip_protocol, get("PortRange"))?;
    // Quintuple rules and port lists are not modelled: refused rather than silently widened.
    for unsupported in ["SourcePortRange", "PortRangeListId"] {
        if get(unsupported).is_some() {
            return Err(ApiError::invalid(unsupported, "axtlab does not support it"));
        }
    }
    let source_cidr_ip = block(get("SourceCidrIp"), false, ErrorCode::SourceCidrIpMalformed)?;
    let ipv6_source_cidr_ip = block(get("Ipv6SourceCidrIp"), true, ErrorCode::Ipv6SourceInvalid)?;
    let dest_cidr_ip = block(get("DestCidrIp"), false, ErrorCode::DestCidrIpMalformed)?;
    let ipv6_dest_cidr_ip = block(get("Ipv6DestCidrIp"), true, ErrorCode::Ipv6DestInvalid)?;
    if !source_cidr_ip.is_empty() && !ipv6_source_cidr_ip.is_empty() {
        return Err(ApiError::from(ErrorCode::SourceIpConflict));
    }
    if !dest_cidr_ip.is_empty() && !ipv6_dest_cidr_ip.is_empty() {
        return Err(ApiError::from(ErrorCode::DestIpConflict));
    }
    // The peer the rule is about: the source of inbound traffic, the destination of outbound.
    let (peer, group, list, missing) = match direction {
        Direction::Ingress => (
            [&source_cidr_ip, &ipv6_source_cidr_ip],
            "SourceGroupId",
            "SourcePrefixListId",
            ErrorCode::MissingRuleSource,
        ),
        Direction::Egress => (
            [&dest_cidr_ip, &ipv6_dest_cidr_ip],
            "DestGroupId",
            "DestPrefixListId",
            ErrorCode::MissingRuleDest,
        ),
    };
    if peer.iter().all(|p| p.is_empty()) {
        // Groups and prefix lists as peers are not modelled (a CIDR block takes precedence
        // over both, as in the service, so they only matter when no block is given).
        for name in [group, list] {
            if get(name).is_some() {
                return Err(ApiError::invalid(name, "axtlab supports CIDR blocks only"));
            }
        }
        return Err(ApiError::from(missing));
    }
    let v6 = !ipv6_source_cidr_ip.is_empty() || !ipv6_dest_cidr_ip.is_empty();
    let v4 = !source_cidr_ip.is_empty() || !dest_cidr_ip.is_empty();
    if ip_protocol == "icmp" && v6 {
        return Err(ApiError::from(ErrorCode::Ipv4ProtocolWithIpv6Address));
    }
    if ip_protocol == "icmpv6" && v4 {
        return Err(ApiError::from(ErrorCode::Ipv6ProtocolWithIpv4Address));
    }
    let policy = get("Policy").unwrap_or("accept").to_ascii_lowercase();
    if policy != "accept" && policy != "drop" {
        return Err(ApiError::from(ErrorCode::PolicyMalformed));
    }
    let priority = match get("Priority") {
        None => 1,
        Some(p) => p
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::from(ErrorCode::PriorityMalformed))?,
    };
    if !(1..=100).contains(&priority) {
        return Err(ApiError::from(ErrorCode::PriorityNotSupported));
    }
    if let Some(nic) = get("NicType") {
        // A VPC group's rules are always `intranet`; `internet` is accepted and ignored.
        if !["internet", "intranet"].contains(&nic) {
            return Err(ApiError::from(ErrorCode::NicTypeNotSupported));
        }
    }
    let description = get("Description").unwrap_or("").to_owned();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::from(ErrorCode::RuleDescriptionMalformed));
    }
    Ok(RuleSpec {
        direction: direction.as_str().to_owned(),
        ip_protocol: ip_protocol.to_owned(),
        port_range,
        source_cidr_ip,
        ipv6_source_cidr_ip,
        dest_cidr_ip,
        ipv6_dest_cidr_ip,
        policy,
        priority,
        description,
    })
}

/// The protocol, case-insensitive in, lower case stored.
fn protocol(value: Option<&str>) -> Result<&'static str, ApiError> {
    let value = value.unwrap_or("").trim().to_ascii_lowercase();
    ["tcp", "udp", "icmp", "icmpv6", "gre", "all"]
        .into_iter()
        .find(|p| *p == value)
        .ok_or_else(|| ApiError::from(ErrorCode::IpProtocolNotSupported))
}

/// `start/end` for tcp and udp (1 ≤ start ≤ end ≤ 65535), `-1/-1` for the others.
fn port_range(protocol: &str, value: Option<&str>) -> Result<String, ApiError> {
    let text = value.ok_or_else(|| ApiError::from(ErrorCode::PortRangeMissing))?;
    let (start, end) = text
        .trim()
        .split_once('/')
        .and_then(|(a, b)| Some((a.trim().parse::<i32>().ok()?, b.trim().parse::<i32>().ok()?)))
        .ok_or_else(|| ApiError::with(ErrorCode::PortRangeInvalid, format_args!("({text})")))?;
    let any = (start, end) == (-1, -1);
    match protocol {
        "tcp" | "udp" if any => Err(ApiError::from(ErrorCode::ProtocolPortRangeMismatch)),
        "tcp" | "udp" if !(1 <= start && start <= end && end <= 65535) => Err(ApiError::with(
            ErrorCode::PortRangeInvalid,
            format_args!("({text})"),
        )),
        "tcp" | "udp" => Ok(format!("{start}/{end}")),
        _ if any => Ok("-1/-1".to_owned()),
        _ => Err(ApiError::from(ErrorCode::ProtocolPortRangeMismatch)),
    }
}

/// An address or CIDR block of one family, in normal form (a block truncated to its network);
/// empty when not given.
fn block(value: Option<&str>, v6: bool, code: ErrorCode) -> Result<String, ApiError> {
    let Some(text) = value.map(str::trim) else {
        return Ok(String::new());
    };
    let parsed = match text.parse::<IpAddr>() {
        Ok(addr) => Some((addr.is_ipv6(), addr.to_string())),
        Err(_) => text
            .parse::<IpNet>()
            .ok()
            .map(|net| (matches!(net, IpNet::V6(_)), net.trunc().to_string())),
    };
    match parsed {
        Some((family, normal)) if family == v6 => Ok(normal),
        _ => Err(ApiError::with(code, format_args!("({text})"))),
    }
}

/// Parses a stored address or block back.
pub fn stored_block(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// One rule as DescribeSecurityGroupAttribute answers it.
pub fn render(rule: &SecurityGroupRule) -> Value {
    let s = &rule.spec;
    let protocol = match s.ip_protocol.as_str() {
        "icmpv6" => "ICMPv6".to_owned(),
        p => p.to_ascii_uppercase(),
    };
    let policy = if s.policy == "drop" { "Drop" } else { "Accept" };
    json!({
        "SecurityGroupRuleId": rule.id,
        "Direction": s.direction,
        "IpProtocol": protocol,
        "PortRange": s.port_range,
        "SourcePortRange": "",
        "SourceCidrIp": s.source_cidr_ip,
        "Ipv6SourceCidrIp": s.ipv6_source_cidr_ip,
        "DestCidrIp": s.dest_cidr_ip,
        "Ipv6DestCidrIp": s.ipv6_dest_cidr_ip,
        "SourceGroupId": "", "SourceGroupName": "", "SourceGroupOwnerAccount": "",
        "SourcePrefixListId": "", "SourcePrefixListName": "",
        "DestGroupId": "", "DestGroupName": "", "DestGroupOwnerAccount": "",
        "DestPrefixListId": "", "DestPrefixListName": "",
        "PortRangeListId": "", "PortRangeListName": "",
        "Policy": policy,
        // Text, as the current SDK models type it.
        "Priority": s.priority.to_string(),
        "NicType": "intranet",
        "Description": s.description,
        "CreateTime": iso(rule.created_at),
    })
}
