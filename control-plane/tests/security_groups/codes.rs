//! One row per refusal of the security-group actions: the code, its HTTP status, and the
//! parameters that produce it, on a lab where `{sg}` is a basic group holding `{i}` (a ready
//! instance) and the inbound rule `{rule}`, `{adv}` an advanced group, `{mi}` a managed
//! instance, and `{N}` N characters.

/// `(action, status, code, parameters beyond RegionId)`.
type Row = (
    &'static str,
    u16,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const SG: (&str, &str) = ("SecurityGroupId", "{sg}");
const TCP: (&str, &str) = ("IpProtocol", "tcp");
const SSH: (&str, &str) = ("PortRange", "22/22");
const ANY: (&str, &str) = ("SourceCidrIp", "0.0.0.0/0");
const AUTH: &str = "AuthorizeSecurityGroup";
const REVOKE: &str = "RevokeSecurityGroup";

// One row per line, so that the table reads as one.
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    ("CreateSecurityGroup", 404, "InvalidRegionId.NotFound", &[("RegionId", "xx-nowhere-1")]),
    ("CreateSecurityGroup", 400, "InvalidSecurityGroupName.Malformed", &[("SecurityGroupName", "1st")]),
    ("CreateSecurityGroup", 400, "InvalidSecurityGroupName.Malformed", &[("SecurityGroupName", "a")]),
    ("CreateSecurityGroup", 400, "InvalidSecurityGroupName.Malformed", &[("SecurityGroupName", "web/db")]),
    ("CreateSecurityGroup", 400, "InvalidDescription.Malformed", &[("Description", "https://example.com")]),
    ("CreateSecurityGroup", 400, "InvalidDescription.Malformed", &[("Description", "{257}")]),
    ("CreateSecurityGroup", 400, "InvalidParameter", &[("SecurityGroupType", "premium")]),
    ("DeleteSecurityGroup", 400, "MissingSecurityGroupId", &[]),
    ("DeleteSecurityGroup", 404, "InvalidSecurityGroupId.NotFound", &[("SecurityGroupId", "sg-nope")]),
    ("DeleteSecurityGroup", 404, "InvalidSecurityGroupId.NotFound", &[SG, ("RegionId", "cn-beijing")]),
    ("DeleteSecurityGroup", 403, "DependencyViolation", &[SG]),
    ("DescribeSecurityGroups", 400, "DryRunOperation", &[("DryRun", "true")]),
    ("DescribeSecurityGroups", 400, "InvalidParameter", &[("NetworkType", "mesh")]),
    ("DescribeSecurityGroups", 400, "InvalidParameter", &[("PageSize", "51")]),
    ("DescribeSecurityGroupAttribute", 404, "InvalidSecurityGroupId.NotFound", &[("SecurityGroupId", "sg-nope")]),
    ("DescribeSecurityGroupAttribute", 400, "InvalidNicType.ValueNotSupported", &[SG, ("NicType", "wifi")]),
    ("DescribeSecurityGroupAttribute", 400, "InvalidParameter", &[SG, ("Direction", "sideways")]),
    ("DescribeSecurityGroupAttribute", 400, "InvalidParameter", &[SG, ("MaxResults", "5")]),
    (AUTH, 404, "InvalidSecurityGroupId.NotFound", &[("SecurityGroupId", "sg-nope"), TCP, SSH, ANY]),
    (AUTH, 400, "InvalidIpProtocol.ValueNotSupported", &[SG, ("IpProtocol", "sctp"), SSH, ANY]),
    (AUTH, 400, "InvalidIpProtocol.ValueNotSupported", &[SG, SSH, ANY]),
    (AUTH, 400, "InvalidPortRange.Malformed", &[SG, TCP, ANY]),
    (AUTH, 400, "InvalidParam.PortRange", &[SG, TCP, ("PortRange", "22"), ANY]),
    (AUTH, 400, "InvalidParam.PortRange", &[SG, TCP, ("PortRange", "0/22"), ANY]),
    (AUTH, 400, "InvalidParam.PortRange", &[SG, TCP, ("PortRange", "30/20"), ANY]),
    (AUTH, 400, "InvalidParam.PortRange", &[SG, ("IpProtocol", "udp"), ("PortRange", "1/70000"), ANY]),
    (AUTH, 400, "OperationDenied", &[SG, TCP, ("PortRange", "-1/-1"), ANY]),
    (AUTH, 400, "OperationDenied", &[SG, ("IpProtocol", "ICMP"), SSH, ANY]),
    (AUTH, 400, "InvalidSourceCidrIp.Malformed", &[SG, TCP, SSH, ("SourceCidrIp", "10.0.0.300/8")]),
    (AUTH, 400, "InvalidSourceCidrIp.Malformed", &[SG, TCP, SSH, ("SourceCidrIp", "2001:db8::/32")]),
    (AUTH, 400, "InvalidDestCidrIp.Malformed", &[SG, TCP, SSH, ANY, ("DestCidrIp", "nope")]),
    (AUTH, 400, "InvalidParam.Ipv6SourceCidrIp", &[SG, TCP, SSH, ("Ipv6SourceCidrIp", "10.0.0.0/8")]),
    (AUTH, 400, "InvalidParam.Ipv6DestCidrIp", &[SG, TCP, SSH, ANY, ("Ipv6DestCidrIp", "::/129")]),
    (AUTH, 400, "InvalidParam.SourceIp", &[SG, TCP, SSH, ANY, ("Ipv6SourceCidrIp", "::/0")]),
    (AUTH, 400, "InvalidParam.DestIp", &[SG, TCP, SSH, ANY, ("DestCidrIp", "10.0.0.1"), ("Ipv6DestCidrIp", "::1")]),
    (AUTH, 400, "InvalidParam.Ipv4ProtocolConflictWithIpv6Address", &[SG, ("IpProtocol", "icmp"), ("PortRange", "-1/-1"), ("Ipv6SourceCidrIp", "::/0")]),
    (AUTH, 400, "InvalidParam.Ipv6ProtocolConflictWithIpv4Address", &[SG, ("IpProtocol", "ICMPv6"), ("PortRange", "-1/-1"), ANY]),
    (AUTH, 400, "MissingParameter.Source", &[SG, TCP, SSH]),
    (AUTH, 400, "MissingParameter.Source", &[SG, TCP, SSH, ("DestCidrIp", "10.0.0.0/8")]),
    (AUTH, 400, "InvalidParameter", &[SG, TCP, SSH, ("SourceGroupId", "{adv}")]),
    (AUTH, 400, "InvalidParameter", &[SG, TCP, SSH, ANY, ("SourcePortRange", "1/2")]),
    ("AuthorizeSecurityGroupEgress", 400, "MissingParameter.Dest", &[SG, TCP, SSH, ANY]),
    (AUTH, 400, "InvalidPolicy.Malformed", &[SG, TCP, SSH, ANY, ("Policy", "allow")]),
    (AUTH, 400, "InvalidPriority.Malformed", &[SG, TCP, SSH, ANY, ("Priority", "high")]),
    (AUTH, 400, "InvalidPriority.ValueNotSupported", &[SG, TCP, SSH, ANY, ("Priority", "101")]),
    (AUTH, 400, "InvalidPriority.ValueNotSupported", &[SG, TCP, SSH, ANY, ("Priority", "0")]),
    (AUTH, 400, "InvalidNicType.ValueNotSupported", &[SG, TCP, SSH, ANY, ("NicType", "wifi")]),
    (AUTH, 400, "InvalidSecurityGroupDiscription.Malformed", &[SG, TCP, SSH, ANY, ("Description", "{513}")]),
    (AUTH, 400, "InvalidParam.Permissions", &[SG, TCP, ("Permissions.1.IpProtocol", "tcp"), ("Permissions.1.PortRange", "22/22"), ("Permissions.1.SourceCidrIp", "0.0.0.0/0")]),
    (AUTH, 400, "InvalidParam.DuplicatePermissions", &[SG,
        ("Permissions.1.IpProtocol", "tcp"), ("Permissions.1.PortRange", "22/22"), ("Permissions.1.SourceCidrIp", "10.0.0.0/8"),
        ("Permissions.2.IpProtocol", "TCP"), ("Permissions.2.PortRange", "22/22"), ("Permissions.2.SourceCidrIp", "10.1.2.3/8"), ("Permissions.2.Priority", "7")]),
    (AUTH, 400, "InvalidGroupParameter.OperationDenied", &[("SecurityGroupId", "{adv}"), TCP, SSH, ANY, ("Policy", "drop")]),
    (REVOKE, 400, "InvalidParam.Permissions", &[SG, ("SecurityGroupRuleId.1", "{rule}"), ("Permissions.1.IpProtocol", "tcp")]),
    (REVOKE, 400, "InvalidParam.Permissions", &[SG, ("SecurityGroupRuleId.1", "{rule}"), TCP]),
    (REVOKE, 400, "InvalidParam.SecurityGroupRuleIdRepeated", &[SG, ("SecurityGroupRuleId.1", "{rule}"), ("SecurityGroupRuleId.2", "{rule}")]),
    (REVOKE, 404, "InvalidSecurityGroupRuleId.NotFound", &[SG, ("SecurityGroupRuleId.1", "{rule}"), ("SecurityGroupRuleId.2", "sgr-nope")]),
    ("RevokeSecurityGroupEgress", 404, "InvalidSecurityGroupRuleId.NotFound", &[SG, ("SecurityGroupRuleId.1", "{rule}")]),
    (REVOKE, 404, "InvalidSecurityGroupId.NotFound", &[("SecurityGroupId", "sg-nope"), ("SecurityGroupRuleId.1", "{rule}")]),
    ("JoinSecurityGroup", 400, "MissingInstanceId", &[SG]),
    ("JoinSecurityGroup", 404, "InvalidInstanceId.NotFound", &[SG, ("InstanceId", "i-nope")]),
    ("JoinSecurityGroup", 404, "InvalidInstanceId.NotFound", &[SG, ("InstanceId", "{mi}")]),
    ("JoinSecurityGroup", 404, "InvalidInstanceId.NotFound", &[SG, ("InstanceId", "{i}"), ("RegionId", "cn-beijing")]),
    ("JoinSecurityGroup", 404, "InvalidSecurityGroupId.NotFound", &[("SecurityGroupId", "sg-nope"), ("InstanceId", "{i}")]),
    ("JoinSecurityGroup", 403, "InvalidInstanceId.AlreadyExists", &[SG, ("InstanceId", "{i}")]),
    ("LeaveSecurityGroup", 403, "InstanceLastSecurityGroup", &[SG, ("InstanceId", "{i}")]),
    ("LeaveSecurityGroup", 403, "InstanceNotInSecurityGroup", &[("SecurityGroupId", "{adv}"), ("InstanceId", "{i}")]),
    ("RunInstances", 404, "InvalidSecurityGroupId.NotFound", &[("SecurityGroupId", "sg-nope")]),
    ("RunInstances", 400, "InvalidParameter", &[SG, ("SecurityGroupIds.1", "{adv}")]),
    ("RunInstances", 400, "InvalidParameter", &[("SecurityGroupIds.1", "{sg}"), ("SecurityGroupIds.2", "{sg}")]),
    ("RunInstances", 400, "InstanceSecurityGroupLimitExceeded", &[
        ("SecurityGroupIds.1", "sg-1"), ("SecurityGroupIds.2", "sg-2"), ("SecurityGroupIds.3", "sg-3"),
        ("SecurityGroupIds.4", "sg-4"), ("SecurityGroupIds.5", "sg-5"), ("SecurityGroupIds.6", "sg-6")]),
];

/// Every code of error.rs's security-group block (from `SecurityGroupIdNotFound` to
/// `InstanceLastGroup`), and StartTerminalSession's `SecurityGroupRuleDenied`, is produced by a
/// row of the table above or asserted by a story of these files.
#[test]
fn every_security_group_code_is_produced_by_a_test() {
    use axt_control_plane::api::ErrorCode;
    let all = ErrorCode::ALL;
    let at = |code| all.iter().position(|c| *c == code).unwrap();
    let block = &all[at(ErrorCode::SecurityGroupIdNotFound)..=at(ErrorCode::InstanceLastGroup)];
    let stories = [
        include_str!("groups.rs"),
        include_str!("instances.rs"),
        include_str!("sessions.rs"),
    ];
    for code in block.iter().chain([&ErrorCode::SecurityGroupRuleDenied]) {
        let wire = code.as_str();
        let in_table = TABLE
            .iter()
            .any(|(_, status, c, _)| *c == wire && *status == code.status().as_u16());
        let quoted = format!("\"{wire}\"");
        let in_story = stories.iter().any(|s| s.contains(&quoted));
        assert!(in_table || in_story, "{wire} is produced by no test");
    }
}
