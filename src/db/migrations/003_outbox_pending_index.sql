-- migrate: no-transaction
-- The partial index behind the claim of PENDING events. The outbox may be a
-- producer's busy table, already big: CONCURRENTLY builds the index without
-- blocking their inserts, and cannot run in a transaction (hence the marker
-- on the first line). 001 built this index inside its transaction until this
-- file existed: installations from then have it, and IF NOT EXISTS makes this
-- a no-op for them.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_pending_idx ON outbox (id) WHERE status = 'PENDING';
