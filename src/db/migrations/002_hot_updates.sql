-- A mid-saga transition changes the snapshot, state, pending work, revision
-- and updated_at, but not the status, run_at or the lease. If no index covers
-- updated_at and the page has room, PostgreSQL can update such a row in place
-- (a HOT update: no new index entries). So the admin listing is ordered by the
-- immutable created_at, and ledger pages keep 20% free (finished rows never change again).
DROP INDEX IF EXISTS order_ledger_status_idx;
CREATE INDEX IF NOT EXISTS order_ledger_status_created_idx
  ON order_ledger (status, created_at, order_id);
ALTER TABLE order_ledger SET (fillfactor = 80);
