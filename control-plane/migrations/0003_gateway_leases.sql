-- Gateways hold connections under a lease they renew (and with every call naming them). A run
-- of a gateway (`boot`, new at every start) silent past its lease has its live connections
-- recorded Failed (GatewayLost), so that a crashed gateway cannot keep an instance or a region
-- at its limit. Times are Unix seconds.
CREATE TABLE gateways (
    gateway_id   TEXT NOT NULL,
    boot         TEXT NOT NULL,
    lease_until  INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, boot)
);

-- The run of the gateway relaying each connection.
ALTER TABLE connections ADD COLUMN gateway_boot TEXT NOT NULL DEFAULT '';
