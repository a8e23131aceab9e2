-- migrate: no-transaction
-- Leases by owner and order id, instead of by owner alone. A transition
-- finds its saga by order id, fenced by lease owner. With an index on the
-- owner alone, statistics gathered while nothing was leased (a quiet hour's
-- ANALYZE) make every owner look as if it held no rows, and the planner
-- then found each saga among all of its instance's leases, and among every
-- dead entry the index keeps until the next vacuum, which comes rarely on a
-- big table: with a million finished sagas kept, a saga cost PostgreSQL 2 to 2.7
-- times the CPU. With the order id in the index, either way is one lookup.
-- Shutdown's release of an instance's leases still walks it by owner.
CREATE INDEX CONCURRENTLY IF NOT EXISTS order_ledger_lease_order_idx
  ON order_ledger (lease_owner, order_id) WHERE lease_owner IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS order_ledger_lease_idx;
