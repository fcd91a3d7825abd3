-- Recordings of shell connections (asciicast v2), which gateways append as sessions run. The
-- text lives in <data-dir>/recordings/<session id>/<channel id>.cast; this row is what is known
-- of it: `size` is how many bytes of that file are the recording (the file may hold more after
-- a crash between its write and this row's update: those are cut off at the next append), and
-- the owner and region, copied from the session, so that listing needs no join.
-- Times are Unix seconds.
CREATE TABLE recordings (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,        -- creation order, for paging
    channel_id   TEXT NOT NULL UNIQUE,                     -- the connection (ConnectionId)
    session_id   TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    region_id    TEXT NOT NULL,
    size         INTEGER NOT NULL DEFAULT 0,               -- bytes stored
    truncated    INTEGER NOT NULL DEFAULT 0,               -- past --recording-max-bytes
    complete     INTEGER NOT NULL DEFAULT 0,               -- the gateway's last append came
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX recordings_by_account ON recordings(account_id, region_id, seq);
CREATE INDEX recordings_by_session ON recordings(session_id);
CREATE INDEX recordings_by_age ON recordings(updated_at);
