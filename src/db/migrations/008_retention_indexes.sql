-- migrate: no-transaction
-- What the retention sweep walks, oldest first, and nothing else: finished
-- sagas by finished_at, processed events by processed_at. Partial, so running
-- sagas and pending events (the hot rows) are not in them. CONCURRENTLY: the
-- outbox may be a producer's busy table, and the ledger is ours but busy too.
CREATE INDEX CONCURRENTLY IF NOT EXISTS order_ledger_finished_idx
  ON order_ledger (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_processed_idx
  ON outbox (processed_at) WHERE status = 'PROCESSED';
