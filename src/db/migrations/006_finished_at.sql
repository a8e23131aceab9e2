-- Retention deletes finished sagas some time after they finished. The ledger
-- records when: finished_at is set once, by the transition that finishes the
-- saga (which changes the status anyway, so it costs no HOT update; running
-- sagas never touch it). Its index is built by 008, concurrently.
ALTER TABLE order_ledger ADD COLUMN IF NOT EXISTS finished_at timestamptz;
-- Sagas that finished before this column existed: their last update is when.
-- Finished rows are never written by anyone else, so this blocks no saga.
UPDATE order_ledger SET finished_at = updated_at
WHERE status IN ('COMPLETED', 'CANCELLED') AND finished_at IS NULL;
