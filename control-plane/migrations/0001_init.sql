-- axtlab control plane: every durable fact of the emulated region.
-- Times are Unix seconds (UTC). Secrets of sessions are kept only as SHA-256 hashes.

-- An Alibaba Cloud account. Its switches (DescribeUserBusinessBehavior) live here.
CREATE TABLE accounts (
    id                       TEXT PRIMARY KEY,             -- 16 digits, like a real account id
    name                     TEXT NOT NULL,
    session_manager_enabled  INTEGER NOT NULL DEFAULT 1,
    created_at               INTEGER NOT NULL
);

-- AccessKey pairs. The secret must be kept in clear: HMAC verification needs it.
CREATE TABLE access_keys (
    id          TEXT PRIMARY KEY,                          -- the AccessKeyId
    secret      TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);

-- SignatureNonce values seen within the timestamp window (replay protection).
CREATE TABLE signature_nonces (
    access_key_id  TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    seen_at        INTEGER NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX signature_nonces_seen ON signature_nonces(seen_at);

-- Activations: what an agent presents to register as a managed instance.
CREATE TABLE activations (
    id                   TEXT PRIMARY KEY,                 -- the ActivationId
    code_hash            TEXT NOT NULL,                    -- SHA-256 of the ActivationCode
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    region_id            TEXT NOT NULL,
    instance_name        TEXT NOT NULL DEFAULT '',
    description          TEXT NOT NULL DEFAULT '',
    instance_count       INTEGER NOT NULL,
    registered_count     INTEGER NOT NULL DEFAULT 0,
    deregistered_count   INTEGER NOT NULL DEFAULT 0,
    ttl_hours            INTEGER NOT NULL,
    ip_address_range     TEXT NOT NULL DEFAULT '0.0.0.0/0',
    resource_group_id    TEXT NOT NULL DEFAULT '',
    tags                 TEXT NOT NULL DEFAULT '[]',      -- JSON [{"TagKey","TagValue"}]
    disabled             INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL
);

-- Instances: simulated ECS instances (i-…) and managed instances (mi-…).
CREATE TABLE instances (
    id                 TEXT PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('ecs', 'managed')),
    account_id         TEXT NOT NULL REFERENCES accounts(id),
    region_id          TEXT NOT NULL,
    zone_id            TEXT NOT NULL DEFAULT '',
    name               TEXT NOT NULL DEFAULT '',
    hostname           TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,                      -- Running | Stopped | …
    instance_type      TEXT NOT NULL DEFAULT '',
    image_id           TEXT NOT NULL DEFAULT '',
    os_type            TEXT NOT NULL DEFAULT 'linux',
    os_name            TEXT NOT NULL DEFAULT '',
    intranet_ip        TEXT NOT NULL DEFAULT '',
    internet_ip        TEXT NOT NULL DEFAULT '',
    activation_id      TEXT,
    machine_id         TEXT NOT NULL DEFAULT '',
    agent_version      TEXT NOT NULL DEFAULT '',
    agent_public_key   TEXT,                               -- PEM; set when an agent registers
    registered_at      INTEGER,
    last_heartbeat_at  INTEGER,
    tags               TEXT NOT NULL DEFAULT '[]',
    deregistered       INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL
);
CREATE INDEX instances_region ON instances(region_id, created_at);

-- Terminal sessions created by StartTerminalSession.
CREATE TABLE sessions (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,    -- creation order, for paging
    id               TEXT NOT NULL UNIQUE,                 -- s-…
    region_id        TEXT NOT NULL,
    instance_id      TEXT NOT NULL REFERENCES instances(id), -- the first of instance_ids
    instance_ids     TEXT NOT NULL,                        -- JSON array, in request order
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    access_key_id    TEXT NOT NULL,
    identity_type    TEXT NOT NULL,
    principal_id     TEXT NOT NULL,
    client_ip        TEXT NOT NULL DEFAULT '',
    port_number      INTEGER,
    target_server    TEXT NOT NULL DEFAULT '',
    command_line     TEXT NOT NULL DEFAULT '',
    username         TEXT NOT NULL DEFAULT '',
    password_name    TEXT NOT NULL DEFAULT '',
    connection_type  TEXT NOT NULL,
    encryption       TEXT,                                 -- JSON of EncryptionOptions, if given
    client_token     TEXT,
    state            TEXT NOT NULL,                        -- Pending | Active | Ended
    created_at       INTEGER NOT NULL,
    url_expires_at   INTEGER NOT NULL,
    ended_at         INTEGER,
    end_reason       TEXT
);
CREATE INDEX sessions_region ON sessions(region_id, state);
CREATE INDEX sessions_instance ON sessions(instance_id, created_at);

-- SecurityTokens of a session, hashed. Several when an idempotent retry minted a new one.
CREATE TABLE session_tokens (
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    token_hash  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, token_hash)
);

-- One row per client WebSocket of a session: the agent channel the gateway paired it with.
CREATE TABLE connections (
    channel_id     TEXT PRIMARY KEY,                       -- ≤ 32 characters, as the agent needs
    session_id     TEXT NOT NULL REFERENCES sessions(id),
    instance_id    TEXT NOT NULL,
    gateway_id     TEXT NOT NULL DEFAULT '',
    client_ip      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,                          -- Connecting | Connected | Terminated | Failed
    start_time     INTEGER NOT NULL,
    end_time       INTEGER,
    closed_reason  TEXT NOT NULL DEFAULT '',
    failed_detail  TEXT NOT NULL DEFAULT '',
    bytes_in       INTEGER NOT NULL DEFAULT 0,             -- client → instance
    bytes_out      INTEGER NOT NULL DEFAULT 0              -- instance → client
);
CREATE INDEX connections_session ON connections(session_id, start_time);

-- ClientToken records of idempotent calls.
CREATE TABLE idempotency (
    account_id    TEXT NOT NULL,
    action        TEXT NOT NULL,
    client_token  TEXT NOT NULL,
    params_hash   TEXT NOT NULL,
    state         TEXT NOT NULL,                           -- Processing | Done
    result_id     TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, action, client_token)
);

-- Who did what: one row per mutating API call that succeeded.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    access_key_id  TEXT NOT NULL,
    action         TEXT NOT NULL,
    resource_id    TEXT NOT NULL DEFAULT ''
);
