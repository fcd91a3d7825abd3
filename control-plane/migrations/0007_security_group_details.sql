-- What 0004's security-group tables lacked for the ECS API as the SDKs speak it: a group's type
-- (basic `normal` or advanced `enterprise`, which decides its default intra-group policy) and
-- tags, and a rule's IPv6 source and destination. Rules keep the rowid order they were created
-- in, which is the order DescribeSecurityGroupAttribute answers them in.

ALTER TABLE security_groups ADD COLUMN security_group_type TEXT NOT NULL DEFAULT 'normal'
    CHECK (security_group_type IN ('normal', 'enterprise'));
ALTER TABLE security_groups ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';   -- [{"TagKey","TagValue"}]

ALTER TABLE security_group_rules ADD COLUMN ipv6_source_cidr_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE security_group_rules ADD COLUMN ipv6_dest_cidr_ip TEXT NOT NULL DEFAULT '';
