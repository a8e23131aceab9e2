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

/** A saga as an operator rule judges it (src/admin/operator_rules.ts). */
export interface RetryCandidate {
  order_id: string;
  status: string;
  state: string;
  machine_version: string;
  snapshot: unknown;
}

/** The caller's rule: whether this saga may be retried, and why not. */
export type RetryJudge = (row: RetryCandidate) => { allowed: true } | {
  allowed: false;
  reason: string;
};

/**
 * Resumes a saga `judge` allows: RUNNING again, claimable now, with a retry
 * requested (the runner asks the machine what a retry means in its state).
 * The row is locked while it is judged, so the judgement and the change cannot
 * be torn apart (a wait is bounded by the session's lock_timeout); a NOTIFY
 * wakes an instance at once.
 */
export function retrySaga(
  sql: Sql,
  orderId: string,
  actor: string,
  judge: RetryJudge,
): Promise<AdminActionResult> {
  return sql.begin(async (tx) => {
    const [row] = await tx<RetryCandidate[]>`
      SELECT order_id, status, state, machine_version, snapshot FROM order_ledger
      WHERE order_id = ${orderId} FOR UPDATE`;
    if (!row) return { outcome: "not_found" } as const;
    const verdict = judge(row);
    if (!verdict.allowed) {
      return { outcome: "conflict", status: row.status, state: row.state, reason: verdict.reason };
    }
    await markRetried(tx, [row.order_id], actor, null);
    return { outcome: "accepted", status: "RUNNING", state: row.state } as const;
  });
}

/** RUNNING, retry requested, runnable now, an `AdminRetry` history row, one NOTIFY. */
function markRetried(tx: TransactionSql, ids: string[], actor: string, detail: unknown) {
  return tx`
    WITH u AS (
      UPDATE order_ledger SET
        status = 'RUNNING',
        retry_requested_at = now(),
        run_at = now(),
        last_error = NULL,
        revision = revision + 1,
        updated_at = now()
      WHERE order_id = ANY(${ids}::uuid[])
      RETURNING order_id, state
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
      SELECT order_id, 'AdminRetry', state, state, ${actor},
        ${detail === null ? null : tx.json(detail as never)}::jsonb FROM u
    )
    SELECT pg_notify('order_events', 'retry:' || order_id::text)
    FROM (SELECT order_id FROM u LIMIT 1) one`;
}

/**
 * An operator's cancellation, as the outbox event its saga's definition says
 * (its trigger notifies): it takes the same path as a producer's, with the
 * operator in the payload for intake to record. Whether it may still
 * compensate is the definition's rule, asked by the caller first and applied
 * again by the saga itself when the event reaches it.
 */
export async function insertCancellation(
  sql: Db,
  orderId: string,
  event: { eventType: string; payload: Record<string, unknown> },
) {
  const [row] = await sql<{ id: string }[]>`
    INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${orderId}, ${event.eventType}, ${sql.json(event.payload as never)})
    RETURNING id`;
  return row!.id;
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
 * Retries many parked (NEEDS_ATTENTION) sagas at once, each as retrySaga
 * (above) does one, where `judge` allows it. At most `limit` per call, oldest
 * first (order_ledger_status_created_idx). Never waits for a row lock: a saga
 * locked elsewhere right now is left for the next call. `more` says that
 * matching sagas were left (over the limit, or locked): call again. One
 * NOTIFY wakes an instance, which claims runnable sagas in batches.
 */
export function retrySagas(
  sql: Sql,
  p: {
    state: string | null;
    orderIds: string[] | null;
    limit: number;
    actor: string;
    judge: RetryJudge;
  },
): Promise<{ retried: number; more: boolean }> {
  const byState = p.state === null ? sql`` : sql`AND state = ${p.state}`;
  const byIds = p.orderIds === null ? sql`` : sql`AND order_id = ANY(${p.orderIds}::uuid[])`;
  return sql.begin(async (tx) => {
    const candidates = await tx<RetryCandidate[]>`
      SELECT order_id, status, state, machine_version, snapshot FROM order_ledger
      WHERE status = 'NEEDS_ATTENTION' ${byState} ${byIds}
      ORDER BY created_at, order_id
      LIMIT ${p.limit}
      FOR UPDATE SKIP LOCKED`;
    const allowed = candidates.filter((c) => p.judge(c).allowed).map((c) => c.order_id);
    if (allowed.length > 0) await markRetried(tx, allowed, p.actor, { bulk: true });
    const seen = candidates.map((c) => c.order_id);
    const [row] = await tx<{ more: boolean }[]>`
      SELECT EXISTS (
        SELECT 1 FROM order_ledger
        WHERE status = 'NEEDS_ATTENTION' ${byState} ${byIds}
          AND order_id <> ALL(${seen}::uuid[])
      ) AS more`;
    return { retried: allowed.length, more: row?.more ?? false };
  });
}
