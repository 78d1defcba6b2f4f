-- Cluster mode (issue 19): snowflake worker ids leased by nodes. A node
-- without a fixed `snowflake.worker` holds the lowest free worker id
-- (0-31) for as long as it renews its row before `expires_at` (unix
-- milliseconds by the database's clock, so nodes' clocks never decide who
-- holds what). `floor_ms` is above every millisecond (since Discord's
-- epoch) a holder could still mint an id at: whoever holds the worker id
-- next starts above it, so no id is minted twice.
CREATE TABLE node_leases (
    worker BIGINT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    floor_ms BIGINT NOT NULL DEFAULT 0
);
