-- A poll's time queued behind the politeness limits (a per-host slot, the gap between two
-- requests to one host, a global slot, a pipeline slot), kept apart from `duration_ms`, the
-- time spent working on it. Before, `duration_ms` held both: a feed on a busy host looked slow
-- (59,960 ms for a 30 s timeout) when it had only waited its turn. NULL for older rows.
ALTER TABLE fetches ADD COLUMN queue_ms INTEGER;
