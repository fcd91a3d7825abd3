-- The hot path of StartTerminalSession and of every signed call: no work that grows with the
-- sessions ever created (docs/architecture.md, issue 15).

-- How many of a session's connections are live, kept by the triggers below.
ALTER TABLE sessions ADD COLUMN live_connections INTEGER NOT NULL DEFAULT 0;
-- Whether the session may still count against its region's limit: not ended, and either its
-- URL had not expired when last looked at or it has a live connection. The exact count
-- subtracts the counted sessions whose URL has expired since (without a live connection), and a
-- sweep once a second clears their flag, so that the subtraction stays small.
ALTER TABLE sessions ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;

UPDATE sessions SET live_connections = (
    SELECT count(*) FROM connections c
    WHERE c.session_id = sessions.id AND c.status IN ('Connecting', 'Connected'));
UPDATE sessions SET counted = (state != 'Ended');

-- The sessions of each region whose flag `counted` is set.
CREATE TABLE region_sessions (
    region_id  TEXT PRIMARY KEY,
    counted    INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO region_sessions (region_id, counted)
    SELECT region_id, count(*) FROM sessions WHERE counted = 1 GROUP BY region_id;

-- What the exact count subtracts and the sweep clears: counted sessions without a live
-- connection, by region and expiry of their URL (a range that reaches only the expired ones).
CREATE INDEX sessions_expiring ON sessions(region_id, url_expires_at)
    WHERE counted = 1 AND live_connections = 0;
-- The live connections of an instance, for its limit (bounded by the limits themselves).
CREATE INDEX connections_live_instance ON connections(instance_id, session_id)
    WHERE status IN ('Connecting', 'Connected');
-- The live connections of a gateway's run, for its lease.
CREATE INDEX connections_live_gateway ON connections(gateway_id, gateway_boot)
    WHERE status IN ('Connecting', 'Connected');

-- A connection that is live (from its insert, or back to live) counts for its session, and
-- makes a session that has not ended count again.
CREATE TRIGGER connection_opened AFTER INSERT ON connections
WHEN NEW.status IN ('Connecting', 'Connected')
BEGIN
    UPDATE sessions SET live_connections = live_connections + 1,
        counted = CASE WHEN state = 'Ended' THEN counted ELSE 1 END
    WHERE id = NEW.session_id;
END;

CREATE TRIGGER connection_revived AFTER UPDATE OF status ON connections
WHEN OLD.status NOT IN ('Connecting', 'Connected') AND NEW.status IN ('Connecting', 'Connected')
BEGIN
    UPDATE sessions SET live_connections = live_connections + 1,
        counted = CASE WHEN state = 'Ended' THEN counted ELSE 1 END
    WHERE id = NEW.session_id;
END;

CREATE TRIGGER connection_ended AFTER UPDATE OF status ON connections
WHEN OLD.status IN ('Connecting', 'Connected') AND NEW.status NOT IN ('Connecting', 'Connected')
BEGIN
    UPDATE sessions SET live_connections = live_connections - 1 WHERE id = NEW.session_id;
END;

-- An ended session stops counting, whoever ends it.
CREATE TRIGGER session_ended AFTER UPDATE OF state ON sessions
WHEN NEW.state = 'Ended' AND NEW.counted != 0
BEGIN
    UPDATE sessions SET counted = 0 WHERE id = NEW.id;
END;

-- The region's counter follows every change of the flag.
CREATE TRIGGER session_counted AFTER INSERT ON sessions
WHEN NEW.counted != 0
BEGIN
    INSERT INTO region_sessions (region_id, counted) VALUES (NEW.region_id, 1)
        ON CONFLICT (region_id) DO UPDATE SET counted = counted + 1;
END;

CREATE TRIGGER session_count_changed AFTER UPDATE OF counted ON sessions
WHEN (OLD.counted != 0) != (NEW.counted != 0)
BEGIN
    INSERT INTO region_sessions (region_id, counted)
        VALUES (NEW.region_id, CASE WHEN NEW.counted != 0 THEN 1 ELSE -1 END)
        ON CONFLICT (region_id) DO UPDATE SET counted = counted + excluded.counted;
END;

-- SignatureNonces, by a digest of (AccessKeyId, nonce): the control plane keeps them in memory
-- and writes them here in batches, to reload them after a restart (docs/security.md §1). A row
-- is of no use once `expires_at` (the request's timestamp plus the accepted skew) has passed.
CREATE TABLE nonces (
    digest      BLOB PRIMARY KEY,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces(expires_at);
-- signature_nonces (raw nonces by the time they were seen) is read once more at the first
-- start, digested into `nonces`, and emptied.
