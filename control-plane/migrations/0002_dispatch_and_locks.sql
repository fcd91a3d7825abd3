-- Which gateway holds each agent's kick channel. StartTerminalSession dispatches a session only
-- to an instance whose kick channel some gateway holds (InternalError.Dispatch otherwise).
-- Gateways report a kick channel when it opens and when it closes, again with every heart-beat
-- they relay, and forget all of theirs when they start. `link` tells one channel of a gateway
-- from the next, so that the late report of an old channel's end erases nothing.
CREATE TABLE kick_channels (
    instance_id  TEXT PRIMARY KEY,
    gateway_id   TEXT NOT NULL,
    link         INTEGER NOT NULL,
    since        INTEGER NOT NULL
);
CREATE INDEX kick_channels_gateway ON kick_channels(gateway_id);

-- An ECS operation lock (OperationLocks.LockReason: security, financial, …) that the lab's
-- administrator put on an instance: no session may be opened on it (Operation.Forbidden).
ALTER TABLE instances ADD COLUMN lock_reason TEXT NOT NULL DEFAULT '';
