-- KMS (2016-01-20): an account's customer master keys, one region each. The key material is 32
-- random bytes, kept sealed with the data directory's key (sealing.rs, the key id as associated
-- data), so a copy of the database alone decrypts no ciphertext blob. A key is never deleted
-- early: ScheduleKeyDeletion sets delete_at, and past it the key counts as gone everywhere.

CREATE TABLE kms_keys (
    id                TEXT PRIMARY KEY,                    -- the KeyId, a UUID
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    region_id         TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    key_spec          TEXT NOT NULL,                       -- Aliyun_AES_256
    key_usage         TEXT NOT NULL,                       -- ENCRYPT/DECRYPT
    origin            TEXT NOT NULL,                       -- Aliyun_KMS
    protection_level  TEXT NOT NULL,                       -- SOFTWARE
    state             TEXT NOT NULL CHECK (state IN ('Enabled', 'Disabled', 'PendingDeletion')),
    version_id        TEXT NOT NULL,                       -- PrimaryKeyVersion, a UUID
    material          TEXT NOT NULL,                       -- sealed hex of the 32 bytes
    creator           TEXT NOT NULL,                       -- the account or user id that created it
    created_at        INTEGER NOT NULL,
    delete_at         INTEGER                              -- set while PendingDeletion
);
CREATE INDEX kms_keys_by_account ON kms_keys(account_id, region_id, created_at);
