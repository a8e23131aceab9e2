// Run by the admin API's operator actions (src/admin/sagas.ts, src/admin/outbox.ts).
//
// Each query names the index it relies on; where a partial index must be
// chosen, the status is literal SQL text (never a parameter), so that no
// generic plan can lose the index.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

export type AdminActionResult =
  | { outcome: "not_found" }
  | { outcome: "conflict"; status: string; state: string; reason: string }
  | { outcome: "accepted"; status: string; state: string };

/**
 * Resumes a NEEDS_ATTENTION saga: RUNNING again, claimable now, with a retry
 * requested (the runner asks the machine what a retry means in its state).
 * One statement, so the status check and the change cannot be torn apart;
 * a NOTIFY wakes an instance at once.
 */
export async function retrySaga(
  sql: Sql,
  orderId: string,
  actor: string,
): Promise<AdminActionResult> {
  const [row] = await sql<{ state: string; updated: boolean; status: string }[]>`
    WITH u AS (
      UPDATE order_ledger SET
        status = 'RUNNING',
        retry_requested_at = now(),
        run_at = now(),
        last_error = NULL,
        revision = revision + 1,
        updated_at = now()
      WHERE order_id = ${orderId} AND status = 'NEEDS_ATTENTION'
      RETURNING order_id, state
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id)
      SELECT order_id, 'AdminRetry', state, state, ${actor} FROM u
    ), n AS (
      SELECT pg_notify('order_events', 'retry:' || order_id::text) FROM u
    )
    SELECT u.state, true AS updated, 'RUNNING' AS status FROM u, (SELECT count(*) FROM n) x
    UNION ALL
    SELECT l.state, false, l.status FROM order_ledger l
    WHERE l.order_id = ${orderId} AND NOT EXISTS (SELECT 1 FROM u)`;
  if (!row) return { outcome: "not_found" };
  if (!row.updated) {
    return {
      outcome: "conflict",
      status: row.status,
      state: row.state,
      reason: `saga is ${row.status}; only a NEEDS_ATTENTION saga can be retried`,
    };
  }
  return { outcome: "accepted", status: "RUNNING", state: row.state };
}

/**
 * An operator's cancellation, as an OrderCancellationRequested outbox event
 * (its trigger notifies): it takes the same path as a producer's, with the
 * operator in `requested_by` for intake to record. Whether it may still
 * compensate is the machine's rule, asked by the caller first and applied
 * again by the saga itself when the event reaches it.
 */
export async function insertCancellation(
  sql: Db,
  orderId: string,
  reason: string,
  requestedBy: string,
) {
  const payload = { order_id: orderId, reason, requested_by: requestedBy };
  const [event] = await sql<{ id: string }[]>`
    INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${orderId}, 'OrderCancellationRequested', ${sql.json(payload)})
    RETURNING id`;
  return event!.id;
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
 * (above) does one: RUNNING, retry requested, runnable now, an
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
