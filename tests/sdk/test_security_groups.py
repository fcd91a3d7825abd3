"""Security groups through the current Tea SDK (alibabacloud-ecs20140526), signature V3 and V1:
the groups, their rules in both parameter styles, instances joining and leaving, and the check a
port session passes. Every assertion reads the SDK's parsed models, so field names and shapes
are the SDK's own."""

import pytest
from alibabacloud_ecs20140526 import models
from alibabacloud_tea_openapi.exceptions import ClientException

from conftest import REGION
from test_tea_sdk import client


def refused(call, status, code):
    with pytest.raises(ClientException) as e:
        call()
    assert (e.value.status_code, e.value.code) == (status, code), e.value.message
    assert e.value.request_id
    return e.value


def rules(ecs, sg, **kw):
    body = ecs.describe_security_group_attribute(
        models.DescribeSecurityGroupAttributeRequest(region_id=REGION, security_group_id=sg, **kw)).body
    return body.permissions.permission


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3", "v1"])
def test_groups_and_rules(plane, algorithm):
    ecs = client(plane, algorithm)
    sg = ecs.create_security_group(models.CreateSecurityGroupRequest(
        region_id=REGION, security_group_name="web-tier", description="the web tier", vpc_id="vpc-lab1",
        security_group_type="normal", tag=[models.CreateSecurityGroupRequestTag(key="env", value="lab")])).body.security_group_id
    assert sg.startswith("sg-")

    listed = ecs.describe_security_groups(models.DescribeSecurityGroupsRequest(
        region_id=REGION, security_group_name="web-tier")).body
    assert listed.total_count == 1 and listed.region_id == REGION
    group = listed.security_groups.security_group[0]
    assert (group.security_group_id, group.vpc_id, group.security_group_type) == (sg, "vpc-lab1", "normal")
    assert group.tags.tag[0].tag_key == "env" and group.creation_time.endswith("Z")

    # The newer Permissions list and the older flat parameters.
    ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(region_id=REGION, security_group_id=sg, permissions=[
        models.AuthorizeSecurityGroupRequestPermissions(ip_protocol="TCP", port_range="22/22", source_cidr_ip="10.0.0.0/8",
                                                        policy="Drop", priority="5", description="no ssh"),
        models.AuthorizeSecurityGroupRequestPermissions(ip_protocol="ICMP", port_range="-1/-1", source_cidr_ip="0.0.0.0/0"),
    ]))
    ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="tcp", port_range="80/80", source_cidr_ip="0.0.0.0/0"))
    ecs.authorize_security_group_egress(models.AuthorizeSecurityGroupEgressRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="udp", port_range="53/53", dest_cidr_ip="10.0.0.2"))
    attribute = ecs.describe_security_group_attribute(
        models.DescribeSecurityGroupAttributeRequest(region_id=REGION, security_group_id=sg)).body
    assert (attribute.security_group_name, attribute.inner_access_policy, attribute.vpc_id) == ("web-tier", "Accept", "vpc-lab1")
    ssh, ping, http, dns = attribute.permissions.permission
    assert ssh.security_group_rule_id.startswith("sgr-")
    assert (ssh.ip_protocol, ssh.port_range, ssh.source_cidr_ip, ssh.policy, ssh.priority, ssh.direction, ssh.description) == (
        "TCP", "22/22", "10.0.0.0/8", "Drop", "5", "ingress", "no ssh")
    assert (ping.ip_protocol, ping.port_range, ping.policy, ping.priority) == ("ICMP", "-1/-1", "Accept", "1")
    assert (http.port_range, http.nic_type) == ("80/80", "intranet") and http.create_time.endswith("Z")
    assert (dns.direction, dns.ip_protocol, dns.dest_cidr_ip) == ("egress", "UDP", "10.0.0.2")
    assert [r.port_range for r in rules(ecs, sg, direction="ingress")] == ["22/22", "-1/-1", "80/80"]

    # Revoke by fields and by rule id.
    ecs.revoke_security_group(models.RevokeSecurityGroupRequest(region_id=REGION, security_group_id=sg, permissions=[
        models.RevokeSecurityGroupRequestPermissions(ip_protocol="icmp", port_range="-1/-1", source_cidr_ip="0.0.0.0/0")]))
    ecs.revoke_security_group(models.RevokeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, security_group_rule_id=[ssh.security_group_rule_id]))
    assert [r.port_range for r in rules(ecs, sg, direction="ingress")] == ["80/80"]
    refused(lambda: ecs.revoke_security_group(models.RevokeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, security_group_rule_id=[ssh.security_group_rule_id])),
        404, "InvalidSecurityGroupRuleId.NotFound")
    refused(lambda: ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="tcp", port_range="0/80", source_cidr_ip="0.0.0.0/0")),
        400, "InvalidParam.PortRange")
    refused(lambda: ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="tcp", port_range="80/80", source_cidr_ip="10.0.0.300")),
        400, "InvalidSourceCidrIp.Malformed")
    refused(lambda: ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg, ip_protocol="tcp", port_range="80/80", source_cidr_ip="0.0.0.0/0", priority="101")),
        400, "InvalidPriority.ValueNotSupported")

    ecs.delete_security_group(models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=sg))
    refused(lambda: rules(ecs, sg), 404, "InvalidSecurityGroupId.NotFound")


def test_instances_and_port_sessions(plane):
    ecs = client(plane, None)

    def new_group():
        return ecs.create_security_group(models.CreateSecurityGroupRequest(region_id=REGION)).body.security_group_id

    sg, other = new_group(), new_group()
    run = ecs.run_instances(models.RunInstancesRequest(region_id=REGION, amount=1, security_group_id=sg)).body
    instance = run.instance_id_sets.instance_id_set[0]
    act = ecs.create_activation(models.CreateActivationRequest(region_id=REGION, instance_count=1)).body
    plane.register_agent(act.activation_id, act.activation_code, claim=instance)
    shown = ecs.describe_instances(models.DescribeInstancesRequest(region_id=REGION, instance_ids=f'["{instance}"]')).body
    assert shown.instances.instance[0].security_group_ids.security_group_id == [sg]
    refused(lambda: ecs.run_instances(models.RunInstancesRequest(region_id=REGION, security_group_id="sg-nope")),
            404, "InvalidSecurityGroupId.NotFound")

    ecs.join_security_group(models.JoinSecurityGroupRequest(instance_id=instance, security_group_id=other))
    refused(lambda: ecs.join_security_group(models.JoinSecurityGroupRequest(instance_id=instance, security_group_id=other)),
            403, "InvalidInstanceId.AlreadyExists")
    ecs.leave_security_group(models.LeaveSecurityGroupRequest(instance_id=instance, security_group_id=other))
    refused(lambda: ecs.leave_security_group(models.LeaveSecurityGroupRequest(instance_id=instance, security_group_id=sg)),
            403, "InstanceLastSecurityGroup")
    refused(lambda: ecs.delete_security_group(models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=sg)),
            403, "DependencyViolation")

    def port_session(port):
        return ecs.start_terminal_session(models.StartTerminalSessionRequest(
            region_id=REGION, instance_id=[instance], port_number=port)).body

    # No rule accepts the port: refused, while a shell is not checked.
    denied = refused(lambda: port_session(22), 403, "InvalidOperation.SecurityGroupRuleDenied")
    assert sg in denied.message
    assert ecs.start_terminal_session(models.StartTerminalSessionRequest(region_id=REGION, instance_id=[instance])).body.session_id
    ecs.authorize_security_group(models.AuthorizeSecurityGroupRequest(region_id=REGION, security_group_id=sg, permissions=[
        models.AuthorizeSecurityGroupRequestPermissions(ip_protocol="all", port_range="-1/-1", source_cidr_ip="0.0.0.0/0",
                                                        policy="drop", priority="2"),
        models.AuthorizeSecurityGroupRequestPermissions(ip_protocol="tcp", port_range="22/22", source_cidr_ip="127.0.0.1",
                                                        priority="1"),
    ]))
    assert port_session(22).session_id.startswith("s-")
    refused(lambda: port_session(80), 403, "InvalidOperation.SecurityGroupRuleDenied")
