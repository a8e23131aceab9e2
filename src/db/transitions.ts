// Run by the transition writer (engine/transition_writer.ts); parkSaga by the saga runner.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

export interface Transition {
  orderId: string;
  me: string;
  epoch: string;
  revision: string;
  snapshot: unknown;
  state: string;
  status: string;
  pending: unknown;
  /** Release the lease; the saga is next runnable at `runAt` (default now). */
  release: boolean;
  runAt: Date | null;
  clearRetry: boolean;
  lastError: string | null;
  step: { name: string; outcome: "ok" | "rejected"; httpStatus: number; body: unknown } | null;
  /** The history lines, oldest first: one per event applied (two when a write-ahead rides along). */
  history: HistoryLine[];
  /**
   * Write nothing if a cancellation has been recorded on the saga: set when
   * the write carries more than the runner has seen the row allow (a
   * write-ahead ATTEMPT, which a cancellation recorded first must beat).
   */
  unlessCancelled?: boolean;
}

export interface HistoryLine {
  event: string;
  from: string | null;
  to: string;
  detail: unknown;
}

export type Persisted = {
  order_id: string;
  revision: string;
  cancel_requested: boolean;
  cancel_reason: string | null;
  refused: false;
} | {
  /** `unlessCancelled` and a cancellation was recorded: nothing was written. */
  order_id: string;
  revision: null;
  cancel_requested: true;
  cancel_reason: null;
  refused: true;
};

/** A row of persistTransitions: written or refused, or `busy` (locked elsewhere, not written: try again). */
export type PersistResult = (Persisted & { busy: false }) | {
  order_id: string;
  revision: null;
  cancel_requested: null;
  cancel_reason: null;
  refused: false;
  busy: true;
};

/**
 * Persists transitions of many sagas in one statement (one commit): per saga
 * the fenced ledger update, the step outcome (never overwriting a success)
 * and the history lines. A saga's inserts only happen when its fenced update
 * matched; a saga whose lease was lost is simply missing from the result,
 * and one written `unlessCancelled` whose cancellation is recorded comes
 * back `refused`, unwritten.
 *
 * The statement never waits for a row lock: a row someone else holds right
 * now (a heartbeat, an operator's transaction) comes back `busy`, unwritten,
 * to be tried again, so one locked row cannot hold up the other sagas, and
 * the batch can never be part of a deadlock. At most one transition per
 * saga: a saga waits for its write before it acts again.
 */
export function persistTransitions(sql: Db, ts: readonly Transition[]) {
  const rows = ts.map((t) => ({
    order_id: t.orderId,
    me: t.me,
    epoch: t.epoch,
    revision: t.revision,
    snapshot: t.snapshot,
    state: t.state,
    status: t.status,
    pending: t.pending,
    release: t.release,
    run_at: t.runAt,
    clear_retry: t.clearRetry,
    last_error: t.lastError,
    step: t.step?.name ?? null,
    outcome: t.step?.outcome ?? null,
    http_status: t.step?.httpStatus ?? null,
    response: t.step ? t.step.body ?? null : null,
    history: t.history,
    unless_cancelled: t.unlessCancelled ?? false,
  }));
  return sql<PersistResult[]>`
    WITH t AS (
      SELECT * FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb) AS t(
        order_id uuid, me text, epoch bigint, revision bigint, snapshot jsonb, state text,
        status text, pending jsonb, release boolean, run_at timestamptz, clear_retry boolean,
        last_error text, step text, outcome text, http_status int, response jsonb,
        history jsonb, unless_cancelled boolean)
    ), locked AS MATERIALIZED (
      SELECT l.order_id FROM order_ledger l JOIN t ON t.order_id = l.order_id
      WHERE l.lease_owner = t.me AND l.lease_epoch = t.epoch AND l.revision = t.revision
      FOR UPDATE OF l SKIP LOCKED
    ), busy AS (
      -- Ours as of this statement's snapshot, but locked by someone else just now.
      -- Looked up only when some row was not locked (a one-time filter): almost
      -- always every row was, and the lookup was ~5 % of the statement's time.
      SELECT t.order_id FROM t JOIN order_ledger l ON l.order_id = t.order_id
      WHERE l.lease_owner = t.me AND l.lease_epoch = t.epoch AND l.revision = t.revision
        AND NOT EXISTS (SELECT 1 FROM locked WHERE locked.order_id = t.order_id)
        AND (SELECT count(*) FROM locked) < (SELECT count(*) FROM t)
    ), u AS (
      UPDATE order_ledger l SET
        snapshot = t.snapshot,
        state = t.state,
        status = t.status,
        pending = t.pending,
        revision = l.revision + 1,
        updated_at = now(),
        last_error = t.last_error,
        run_at = CASE WHEN t.release THEN coalesce(t.run_at, now()) ELSE l.run_at END,
        lease_owner = CASE WHEN t.release THEN NULL ELSE l.lease_owner END,
        lease_until = CASE WHEN t.release THEN NULL ELSE l.lease_until END,
        retry_requested_at = CASE WHEN t.clear_retry THEN NULL ELSE l.retry_requested_at END,
        -- Set once, when the saga finishes: retention counts from it.
        finished_at = CASE WHEN t.status IN ('COMPLETED', 'CANCELLED')
          THEN coalesce(l.finished_at, now()) END
      FROM t JOIN locked ON locked.order_id = t.order_id
      WHERE l.order_id = t.order_id AND l.lease_owner = t.me
        AND l.lease_epoch = t.epoch AND l.revision = t.revision
        AND NOT (t.unless_cancelled AND l.cancel_requested_at IS NOT NULL)
      RETURNING l.order_id, l.revision, l.cancel_requested_at IS NOT NULL AS cancel_requested,
        l.cancel_reason
    ), refused AS (
      -- Locked as ours, yet not updated: only unless_cancelled does that. Looked
      -- up only when some locked row was not updated (a one-time filter): the
      -- planner, expecting one row from u, joins it in a nested loop, which at
      -- 200 rows costs milliseconds, almost always for nothing.
      SELECT locked.order_id FROM locked
      WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.order_id = locked.order_id)
        AND (SELECT count(*) FROM u) < (SELECT count(*) FROM locked)
    ), s AS (
      INSERT INTO saga_step AS s (order_id, step, outcome, http_status, response, instance_id)
      SELECT t.order_id, t.step, t.outcome, t.http_status, t.response, t.me
      FROM u JOIN t ON t.order_id = u.order_id
      WHERE t.step IS NOT NULL
      ON CONFLICT (order_id, step) DO UPDATE SET
        outcome = excluded.outcome, http_status = excluded.http_status,
        response = excluded.response, instance_id = excluded.instance_id, recorded_at = now()
      WHERE s.outcome <> 'ok'
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
      SELECT t.order_id, h.event, h.from_state, h.to_state, t.me, h.detail
      FROM u JOIN t ON t.order_id = u.order_id
      CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(t.history)
        AS (event text, "from" text, "to" text, detail jsonb))
        WITH ORDINALITY AS h(event, from_state, to_state, detail, n)
      ORDER BY t.order_id, h.n
    )
    SELECT order_id, revision, cancel_requested, cancel_reason, false AS refused, false AS busy
    FROM u
    UNION ALL
    SELECT order_id, NULL, true, NULL, true, false FROM refused
    UNION ALL
    SELECT order_id, NULL, NULL, NULL, false, true FROM busy`;
}

/** One transition (see persistTransitions); no row when the lease was lost. */
export function persistTransition(sql: Db, t: Transition) {
  return persistTransitions(sql, [t]);
}

/** Parks a saga that hit an unexpected error, keeping its state for a retry. */
export function parkSaga(
  sql: Db,
  p: { orderId: string; me: string; epoch: string; error: string; state: string },
) {
  return sql`
    WITH u AS (
      UPDATE order_ledger SET status = 'NEEDS_ATTENTION', last_error = ${p.error},
        lease_owner = NULL, lease_until = NULL, updated_at = now(), revision = revision + 1
      WHERE order_id = ${p.orderId} AND lease_owner = ${p.me} AND lease_epoch = ${p.epoch}
      RETURNING order_id
    )
    INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
    SELECT order_id, 'error', ${p.state}, ${p.state}, ${p.me},
      jsonb_build_object('error', ${p.error}::text)
    FROM u`;
}
