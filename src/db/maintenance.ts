// Statements the retention sweep runs (src/engine/retention.ts). Each batch
// is one short statement in its own transaction: it takes rows nobody holds
// (SKIP LOCKED), so producers, intake and running sagas never wait for it,
// and it walks the partial indexes of migration 008 oldest first.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

/** Any constant shared by every instance: the sweep runs on one at a time. */
const SWEEP_LOCK_KEY = 727_002;

/**
 * Takes the sweep's lock for the rest of this transaction, if no other
 * instance holds it. Transaction-scoped, so it works through a pooler and
 * can never outlive a batch.
 */
export async function trySweepLock(tx: TransactionSql): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) AS ok`;
  return row?.ok ?? false;
}

export interface DeletedSagas {
  sagas: number;
  steps: number;
  history: number;
}

/** Deletes up to `limit` sagas that finished before the retention, with their steps and history. */
export async function deleteFinishedSagas(
  tx: TransactionSql,
  retentionSeconds: number,
  limit: number,
): Promise<DeletedSagas> {
  const [row] = await tx<{ sagas: number; steps: number; history: number }[]>`
    WITH doomed AS MATERIALIZED (
      SELECT order_id FROM order_ledger
      WHERE finished_at IS NOT NULL
        AND finished_at < now() - ${retentionSeconds} * interval '1 second'
        AND status IN ('COMPLETED', 'CANCELLED')
      ORDER BY finished_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), steps AS (
      DELETE FROM saga_step s USING doomed WHERE s.order_id = doomed.order_id RETURNING 1
    ), history AS (
      DELETE FROM saga_history h USING doomed WHERE h.order_id = doomed.order_id RETURNING 1
    ), sagas AS (
      DELETE FROM order_ledger l USING doomed WHERE l.order_id = doomed.order_id RETURNING 1
    )
    SELECT (SELECT count(*) FROM sagas)::int AS sagas, (SELECT count(*) FROM steps)::int AS steps,
      (SELECT count(*) FROM history)::int AS history`;
  return row ?? { sagas: 0, steps: 0, history: 0 };
}

/** Deletes up to `limit` events processed before the retention. DEAD and PENDING ones stay. */
export async function deleteProcessedEvents(
  tx: TransactionSql,
  retentionSeconds: number,
  limit: number,
): Promise<number> {
  const rows = await tx`
    DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox
      WHERE status = 'PROCESSED'
        AND processed_at < now() - ${retentionSeconds} * interval '1 second'
      ORDER BY processed_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )`;
  return rows.count;
}

/** Age in seconds of the oldest finished saga still kept (0 when none). */
export async function oldestFinishedAgeSeconds(sql: Db): Promise<number> {
  const [row] = await sql<{ age: number | null }[]>`
    SELECT extract(epoch FROM now() - min(finished_at))::float8 AS age
    FROM order_ledger WHERE finished_at IS NOT NULL`;
  return row?.age == null ? 0 : Math.max(0, Number(row.age));
}
