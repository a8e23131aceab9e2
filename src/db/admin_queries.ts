// SQL behind the admin API's day-two operations (src/admin/outbox.ts,
// src/admin/sagas.ts) and the operational gauges (src/metrics.ts): dead
// letters, redrive, bulk retry, and counts that stay cheap at any size.
// Each query names the index it relies on; where a partial index must be
// chosen, the status is literal SQL text (never a parameter), so that no
// generic plan can lose the index.
import type { Sql } from "./client.ts";
import type { SagaStatus } from "./queries.ts";

export type OutboxStatus = "PENDING" | "PROCESSED" | "DEAD";
export const OUTBOX_STATUSES: readonly OutboxStatus[] = ["PENDING", "PROCESSED", "DEAD"];

/** Sagas by status, summed over the 16 shards that migration 005's triggers maintain. */
export async function sagaCounts(sql: Sql): Promise<Record<SagaStatus, number>> {
  const [row] = await sql<Record<SagaStatus, number>[]>`
    SELECT coalesce(sum(running), 0)::float8 AS "RUNNING",
      coalesce(sum(completed), 0)::float8 AS "COMPLETED",
      coalesce(sum(cancelled), 0)::float8 AS "CANCELLED",
      coalesce(sum(needs_attention), 0)::float8 AS "NEEDS_ATTENTION"
    FROM saga_status_counts`;
  return row!;
}

export interface OutboxItem {
  id: string; // bigint arrives as a string
  order_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  processed_at: Date | null;
}

/**
 * One page of outbox events, newest first, after `afterId` (exclusive).
 * PENDING walks outbox_pending_idx and DEAD outbox_dead_idx (003, 007), both
 * partial, backwards; PROCESSED and "any" walk the primary key backwards,
 * which stops after `limit` matches: processed events are the bulk of the
 * table, so matches come quickly.
 */
export function listOutbox(
  sql: Sql,
  p: { status: OutboxStatus | null; afterId: string | null; limit: number },
) {
  const byStatus = p.status === "PENDING"
    ? sql`AND status = 'PENDING'`
    : p.status === "DEAD"
    ? sql`AND status = 'DEAD'`
    : p.status === "PROCESSED"
    ? sql`AND status = 'PROCESSED'`
    : sql``;
  const after = p.afterId === null ? sql`` : sql`AND id < ${p.afterId}::bigint`;
  return sql<OutboxItem[]>`
    SELECT id, order_id, event_type, status, attempts, last_error, created_at, processed_at
    FROM outbox
    WHERE true ${byStatus} ${after}
    ORDER BY id DESC
    LIMIT ${p.limit}`;
}

export type RedriveResult =
  | { outcome: "not_found" }
  | { outcome: "conflict"; status: string }
  | {
    outcome: "accepted";
    orderId: string;
    eventType: string;
    previousError: string | null;
    /** Whether the event's order has a saga, whose history now names the operator. */
    recordedOnSaga: boolean;
  };

/**
 * Puts a DEAD event back to PENDING: its tries start again from zero and it
 * is claimable now. `last_error` stays as it was (the reason it died) until
 * intake settles the event again, so a listing shows why it had died; a saga
 * of its order gets an `AdminRedrive` history row naming `actor`. The NOTIFY
 * carries the event id, as the outbox trigger's does, and wakes an instance.
 */
export async function redriveEvent(sql: Sql, id: string, actor: string): Promise<RedriveResult> {
  const [row] = await sql<
    {
      updated: boolean;
      status: string;
      order_id: string;
      event_type: string;
      last_error: string | null;
      recorded: boolean;
    }[]
  >`
    WITH u AS (
      UPDATE outbox SET status = 'PENDING', attempts = 0, available_at = now(), processed_at = NULL
      WHERE id = ${id}::bigint AND status = 'DEAD'
      RETURNING id, order_id, event_type, last_error
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
      SELECT l.order_id, 'AdminRedrive', l.state, l.state, ${actor},
        jsonb_build_object('event_id', u.id, 'event_type', u.event_type,
          'previous_error', u.last_error)
      FROM u JOIN order_ledger l ON l.order_id = u.order_id
      RETURNING order_id
    ), n AS (
      SELECT pg_notify('order_events', id::text) FROM u
    )
    SELECT true AS updated, 'PENDING' AS status, u.order_id, u.event_type, u.last_error,
      EXISTS (SELECT 1 FROM h) AS recorded
    FROM u, (SELECT count(*) FROM n) notified
    UNION ALL
    SELECT false, o.status, o.order_id, o.event_type, o.last_error, false
    FROM outbox o
    WHERE o.id = ${id}::bigint AND NOT EXISTS (SELECT 1 FROM u)`;
  if (!row) return { outcome: "not_found" };
  if (!row.updated) return { outcome: "conflict", status: row.status };
  return {
    outcome: "accepted",
    orderId: row.order_id,
    eventType: row.event_type,
    previousError: row.last_error,
    recordedOnSaga: row.recorded,
  };
}

/**
 * Retries many NEEDS_ATTENTION sagas at once, each exactly as retrySaga
 * (src/db/queries.ts) does one: RUNNING, retry requested, runnable now, an
 * `AdminRetry` history row naming `actor`. At most `limit` per call, oldest
 * first (order_ledger_status_created_idx). Never waits for a row lock: a saga
 * locked elsewhere right now is left for the next call. `more` says that
 * matching sagas were left (over the limit, or locked): call again. One
 * NOTIFY wakes an instance, which claims runnable sagas in batches.
 */
export async function retrySagas(
  sql: Sql,
  p: { state: string | null; orderIds: string[] | null; limit: number; actor: string },
): Promise<{ retried: number; more: boolean }> {
  const byState = p.state === null ? sql`` : sql`AND state = ${p.state}`;
  const byIds = p.orderIds === null ? sql`` : sql`AND order_id = ANY(${p.orderIds}::uuid[])`;
  const [row] = await sql<{ retried: number; more: boolean }[]>`
    WITH matching AS MATERIALIZED (
      SELECT order_id FROM order_ledger
      WHERE status = 'NEEDS_ATTENTION' ${byState} ${byIds}
      ORDER BY created_at, order_id
      LIMIT ${p.limit}
      FOR UPDATE SKIP LOCKED
    ), u AS (
      UPDATE order_ledger l SET
        status = 'RUNNING',
        retry_requested_at = now(),
        run_at = now(),
        last_error = NULL,
        revision = l.revision + 1,
        updated_at = now()
      FROM matching m
      WHERE l.order_id = m.order_id AND l.status = 'NEEDS_ATTENTION'
      RETURNING l.order_id, l.state
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
      SELECT order_id, 'AdminRetry', state, state, ${p.actor}, '{"bulk": true}'::jsonb FROM u
    ), n AS (
      SELECT pg_notify('order_events', 'retry:' || order_id::text)
      FROM (SELECT order_id FROM u LIMIT 1) one
    )
    SELECT (SELECT count(*) FROM u)::int AS retried,
      EXISTS (
        SELECT 1 FROM order_ledger
        WHERE status = 'NEEDS_ATTENTION' ${byState} ${byIds}
          AND order_id NOT IN (SELECT order_id FROM matching)
      ) AS more
    FROM (SELECT count(*) FROM n) notified`;
  return { retried: row?.retried ?? 0, more: row?.more ?? false };
}

export interface OperationalGauges {
  /** NEEDS_ATTENTION sagas, from the maintained counts (005). */
  sagasParked: number;
  /** DEAD outbox events, counted on outbox_dead_idx (007). */
  outboxDead: number;
  /** Age of the first PENDING event in id order (outbox_pending_idx), on the database's clock; 0 when none. */
  oldestPendingAgeSeconds: number;
}

/** The gauges of src/metrics.ts that need the database, in one round trip. */
export async function operationalGauges(sql: Sql): Promise<OperationalGauges> {
  const [row] = await sql<OperationalGauges[]>`
    SELECT
      (SELECT coalesce(sum(needs_attention), 0) FROM saga_status_counts)::float8 AS "sagasParked",
      (SELECT count(*) FROM outbox WHERE status = 'DEAD')::float8 AS "outboxDead",
      coalesce((
        SELECT greatest(0, extract(epoch FROM now() - created_at))
        FROM outbox WHERE status = 'PENDING' ORDER BY id LIMIT 1
      ), 0)::float8 AS "oldestPendingAgeSeconds"`;
  return row!;
}
