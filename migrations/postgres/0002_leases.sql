-- Several daemons on one database (PostgreSQL only; SQLite has one daemon per file, held by
-- its lock file).
--
-- daemons: every process that polls, while it runs. `heartbeat_at` is renewed with its leases;
-- a row whose heartbeat is older than its lease time is a daemon that died (`status` shows
-- only the live ones). A clean exit deletes its row.
CREATE TABLE daemons (
    id            text PRIMARY KEY,
    host          text NOT NULL,
    pid           bigint NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    lease_secs    bigint NOT NULL
);

-- feed_leases: a feed being polled, by whom, until when. Claimed with
-- SELECT ... FOR UPDATE SKIP LOCKED on the feed rows, so two daemons never take one feed; a
-- lease past `expires_at` (its daemon died or hung) may be taken by another. The poll's commit
-- deletes it in the same transaction as the feed's new state.
CREATE TABLE feed_leases (
    feed_id     bigint PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
    owner       text NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX feed_leases_owner ON feed_leases(owner);

-- Per-host politeness across daemons (`[fetch] per_host_concurrency`, `per_host_min_gap`):
-- hosts.next_start is when the next request to the host may start, booked atomically by
-- whichever daemon asks (the row lock orders them); host_slots are the requests in flight,
-- at most per_host_concurrency per host, each expiring so that a dead daemon's slots free
-- themselves.
CREATE TABLE hosts (
    host        text PRIMARY KEY,
    next_start  timestamptz NOT NULL
);

CREATE TABLE host_slots (
    host        text NOT NULL,
    slot        integer NOT NULL,
    owner       text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (host, slot)
);
