-- Sagas by status, maintained as they change, so GET /sagas/counts and the
-- parked-sagas gauge cost 16 rows at any table size (count(*) over millions
-- of finished rows does not).
--
-- Sharded so concurrent writers do not queue on one row: a transaction adds
-- its changes to the row of its backend, pg_backend_pid() % 16, and a count
-- is the sum over the shards (one shard may go negative: a saga can start on
-- one backend and finish on another; the sum is what counts). All four
-- statuses live in one row per shard, so a transaction only ever locks one
-- counter row: a transaction that parks one saga and completes another
-- cannot deadlock with one that retries in the opposite order, as it could
-- with a row per (shard, status).
CREATE TABLE IF NOT EXISTS saga_status_counts (
  shard smallint PRIMARY KEY,
  running bigint NOT NULL DEFAULT 0,
  completed bigint NOT NULL DEFAULT 0,
  cancelled bigint NOT NULL DEFAULT 0,
  needs_attention bigint NOT NULL DEFAULT 0
);
INSERT INTO saga_status_counts (shard) SELECT generate_series(0, 15) ON CONFLICT DO NOTHING;

-- Inserts and deletes are counted once per statement, from its transition
-- table: intake inserts a batch of sagas per statement and retention deletes
-- a batch, and one counter update per row would make the same counter row
-- change hundreds of times in one transaction (each change a new row
-- version the next one has to step over: measured, a 5,000-row delete took
-- 30 times as long). A statement that inserted nothing (every OrderPlaced a
-- duplicate) writes nothing.
CREATE OR REPLACE FUNCTION saga_status_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sign int := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  UPDATE saga_status_counts s SET
    running = s.running + sign * c.running,
    completed = s.completed + sign * c.completed,
    cancelled = s.cancelled + sign * c.cancelled,
    needs_attention = s.needs_attention + sign * c.needs_attention
  FROM (
    SELECT count(*) AS n,
      count(*) FILTER (WHERE status = 'RUNNING') AS running,
      count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
      count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
      count(*) FILTER (WHERE status = 'NEEDS_ATTENTION') AS needs_attention
    FROM changed
  ) c
  WHERE s.shard = pg_backend_pid() % 16 AND c.n > 0;
  RETURN NULL;
END
$$;

-- A status change, row by row: statement-level transition tables cannot be
-- limited to one column, and capturing every updated row would burden every
-- saga transition and lease renewal. The trigger's WHEN clause keeps this
-- from even being called unless the status really changes: a saga's start
-- and end, a park, a retry; never its step-by-step transitions.
CREATE OR REPLACE FUNCTION saga_status_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE saga_status_counts SET
    running = running + (NEW.status = 'RUNNING')::int - (OLD.status = 'RUNNING')::int,
    completed = completed + (NEW.status = 'COMPLETED')::int - (OLD.status = 'COMPLETED')::int,
    cancelled = cancelled + (NEW.status = 'CANCELLED')::int - (OLD.status = 'CANCELLED')::int,
    needs_attention = needs_attention
      + (NEW.status = 'NEEDS_ATTENTION')::int - (OLD.status = 'NEEDS_ATTENTION')::int
  WHERE shard = pg_backend_pid() % 16;
  RETURN NULL;
END
$$;

-- TRUNCATE fires no row trigger: start again from zero.
CREATE OR REPLACE FUNCTION saga_status_count_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE saga_status_counts SET running = 0, completed = 0, cancelled = 0, needs_attention = 0;
  RETURN NULL;
END
$$;

-- The count below must see every row written before the trigger exists and
-- none after: this lock (which CREATE TRIGGER takes anyway) keeps writers of
-- order_ledger out until the migration commits. On an installation with
-- millions of sagas the count takes a moment (about a second per few million
-- rows), and sagas wait for it (each statement up to its lock timeout, then
-- tried again); on a new installation it is instant.
LOCK TABLE order_ledger IN SHARE ROW EXCLUSIVE MODE;
DROP TRIGGER IF EXISTS saga_status_count_insert ON order_ledger;
CREATE TRIGGER saga_status_count_insert AFTER INSERT ON order_ledger
  REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION saga_status_count_rows();
DROP TRIGGER IF EXISTS saga_status_count_delete ON order_ledger;
CREATE TRIGGER saga_status_count_delete AFTER DELETE ON order_ledger
  REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION saga_status_count_rows();
DROP TRIGGER IF EXISTS saga_status_count_update ON order_ledger;
CREATE TRIGGER saga_status_count_update AFTER UPDATE OF status ON order_ledger
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION saga_status_count_change();
DROP TRIGGER IF EXISTS saga_status_count_truncate ON order_ledger;
CREATE TRIGGER saga_status_count_truncate AFTER TRUNCATE ON order_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION saga_status_count_reset();

UPDATE saga_status_counts SET running = 0, completed = 0, cancelled = 0, needs_attention = 0;
UPDATE saga_status_counts SET
  running = c.running, completed = c.completed, cancelled = c.cancelled,
  needs_attention = c.needs_attention
FROM (
  SELECT count(*) FILTER (WHERE status = 'RUNNING') AS running,
    count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
    count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
    count(*) FILTER (WHERE status = 'NEEDS_ATTENTION') AS needs_attention
  FROM order_ledger
) c
WHERE shard = 0;
