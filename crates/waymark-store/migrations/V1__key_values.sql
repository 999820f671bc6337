-- Waymark's state as bytes under keys, one row per (keyspace, key), as
-- the Store trait sees it. bytea compares byte by byte, so key order is
-- the order the keys encode (timers by due time, outbox by sequence).
CREATE TABLE waymark_kv (
    space smallint NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (space, key)
);
