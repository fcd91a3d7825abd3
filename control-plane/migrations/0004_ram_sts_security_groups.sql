-- Who may do what: RAM users, groups, roles and policies; STS temporary credentials; and the
-- ECS security groups that decide which ports a session may reach. Names are unique within an
-- account, and RAM's calls address principals and policies by name. Times are Unix seconds.

-- RAM users. An AccessKey whose user_id is NULL is the account's own (root) key.
CREATE TABLE ram_users (
    id            TEXT PRIMARY KEY,                 -- 16 digits, like the real UserId
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    name          TEXT NOT NULL,                    -- UserName (RAM: 1-64, a-z A-Z 0-9 . _ -)
    display_name  TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    mobile_phone  TEXT NOT NULL DEFAULT '',
    comments      TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

ALTER TABLE access_keys ADD COLUMN user_id TEXT REFERENCES ram_users(id);

-- RAM user groups and their members.
CREATE TABLE ram_groups (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    comments    TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE ram_group_members (
    group_id   TEXT NOT NULL REFERENCES ram_groups(id),
    user_id    TEXT NOT NULL REFERENCES ram_users(id),
    joined_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);

-- RAM roles: who may assume them is the trust policy (AssumeRolePolicyDocument).
CREATE TABLE ram_roles (
    id                    TEXT PRIMARY KEY,         -- 19 digits, like the real RoleId
    account_id            TEXT NOT NULL REFERENCES accounts(id),
    name                  TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    trust_policy          TEXT NOT NULL,            -- the document as given (JSON text)
    max_session_duration  INTEGER NOT NULL DEFAULT 3600,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- Custom policies (system policies are built in, never stored) and their versions.
CREATE TABLE ram_policies (
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    default_version  TEXT NOT NULL,                 -- v1, v2, …
    next_version     INTEGER NOT NULL DEFAULT 2,    -- the number the next version gets
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE ram_policy_versions (
    account_id   TEXT NOT NULL,
    policy_name  TEXT NOT NULL,
    version_id   TEXT NOT NULL,
    document     TEXT NOT NULL,                     -- the document as given (JSON text)
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, policy_name, version_id),
    FOREIGN KEY (account_id, policy_name) REFERENCES ram_policies(account_id, name)
);

-- Which policy is attached to which principal (a user, a group or a role, by name).
CREATE TABLE ram_attachments (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    policy_type     TEXT NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name     TEXT NOT NULL,
    principal_type  TEXT NOT NULL CHECK (principal_type IN ('User', 'Group', 'Role')),
    principal_name  TEXT NOT NULL,
    attached_at     INTEGER NOT NULL,
    PRIMARY KEY (account_id, policy_type, policy_name, principal_type, principal_name)
);
CREATE INDEX ram_attachments_principal ON ram_attachments(account_id, principal_type, principal_name);

-- STS temporary credentials from AssumeRole. The secret is sealed like an AccessKey's; the
-- SecurityToken is kept only as its SHA-256. A credential dies at expires_at, or when revoked
-- (its role deleted, or its trust withdrawn by an administrator).
CREATE TABLE sts_credentials (
    access_key_id   TEXT PRIMARY KEY,               -- STS.…
    secret          TEXT NOT NULL,                  -- sealed
    token_hash      TEXT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    role_id         TEXT NOT NULL,
    role_name       TEXT NOT NULL,
    session_name    TEXT NOT NULL,                  -- RoleSessionName
    session_policy  TEXT,                           -- the Policy parameter of AssumeRole, if any
    caller_arn      TEXT NOT NULL,                  -- who assumed the role
    expires_at      INTEGER NOT NULL,
    revoked         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX sts_credentials_role ON sts_credentials(account_id, role_name);

-- ECS security groups, their rules and the instances in them.
CREATE TABLE security_groups (
    id           TEXT PRIMARY KEY,                  -- sg-…
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    region_id    TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    vpc_id       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX security_groups_region ON security_groups(account_id, region_id, created_at);

CREATE TABLE security_group_rules (
    id                 TEXT PRIMARY KEY,            -- sgr-…
    security_group_id  TEXT NOT NULL REFERENCES security_groups(id),
    direction          TEXT NOT NULL CHECK (direction IN ('ingress', 'egress')),
    ip_protocol        TEXT NOT NULL,               -- tcp | udp | icmp | gre | all (lower case)
    port_range         TEXT NOT NULL,               -- "22/22", "-1/-1"
    source_cidr_ip     TEXT NOT NULL DEFAULT '',
    dest_cidr_ip       TEXT NOT NULL DEFAULT '',
    policy             TEXT NOT NULL CHECK (policy IN ('accept', 'drop')),
    priority           INTEGER NOT NULL,            -- 1 (first) to 100
    description        TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL
);
CREATE INDEX security_group_rules_group ON security_group_rules(security_group_id, direction);

CREATE TABLE instance_security_groups (
    instance_id        TEXT NOT NULL REFERENCES instances(id),
    security_group_id  TEXT NOT NULL REFERENCES security_groups(id),
    joined_at          INTEGER NOT NULL,
    PRIMARY KEY (instance_id, security_group_id)
);
CREATE INDEX instance_security_groups_group ON instance_security_groups(security_group_id);
