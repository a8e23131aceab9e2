-- migrate: no-transaction
-- The partial index behind dead letters: GET /outbox?status=DEAD pages them
-- newest first, and the orchestrator_outbox_dead gauge counts them, both in
-- index order. Without it either would walk the primary key through every
-- processed event to find the few dead ones. Built CONCURRENTLY, like 003's,
-- so a producer's inserts are never blocked while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_dead_idx ON outbox (id) WHERE status = 'DEAD';
