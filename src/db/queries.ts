// Every SQL statement the orchestrator runs, as named functions over
// postgres.js tagged templates (values are always parameters). The rest of the
// code never writes SQL.
//
// Leases: a claimed saga row carries lease_owner, lease_until and a fencing
// token lease_epoch, bumped by every claim. Every write of a running saga is
// fenced with `lease_owner = me AND lease_epoch = mine AND revision = seen`:
// zero rows updated means another instance has it, and we stop.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

export interface OutboxRow {
  id: string; // bigint arrives as a string
  order_id: string;
  event_type: string;
  payload: unknown;
  attempts: number;
}

/**
 * Intake may commit without waiting for the WAL flush: if the server loses
 * that commit in a crash, the events are simply pending again and re-applied,
 * and any downstream call made meanwhile is repeated with the same
 * Idempotency-Key, exactly as after a crash before a step is persisted.
 * Step persists keep synchronous commits. This takes an fsync off the path
 * from an OrderPlaced to its first downstream call.
 */
export function asyncCommit(tx: TransactionSql) {
  return tx`SET LOCAL synchronous_commit = off`;
}

/** Claims a batch of pending events; the row locks last until `tx` ends. */
export function claimOutbox(tx: TransactionSql, limit: number) {
  return tx<OutboxRow[]>`
    SELECT id, order_id, event_type, payload, attempts
    FROM outbox
    WHERE status = 'PENDING' AND available_at <= now()
    ORDER BY id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
}

/** Claims one pending event by id (the slow path after a failed batch). */
export function claimOutboxEvent(tx: TransactionSql, id: string) {
  return tx<OutboxRow[]>`
    SELECT id, order_id, event_type, payload, attempts
    FROM outbox
    WHERE id = ${id} AND status = 'PENDING'
    FOR UPDATE SKIP LOCKED`;
}

export function pendingOutboxIds(sql: Db, limit: number) {
  return sql<{ id: string }[]>`
    SELECT id FROM outbox WHERE status = 'PENDING' AND available_at <= now()
    ORDER BY id LIMIT ${limit}`;
}

export interface NewSaga {
  order_id: string;
  state: string;
  snapshot: unknown;
  machine_version: string;
  pending: unknown;
  source_event_id: string;
  /** Take the lease at once, so this instance runs it without another claim. */
  claim: boolean;
}

/**
 * Inserts sagas that do not exist yet and logs their first history row.
 * Returns the ones inserted (an existing order is a duplicate: left alone).
 */
export function insertSagas(
  tx: TransactionSql,
  rows: NewSaga[],
  me: string,
  leaseMs: number,
) {
  return tx<{ order_id: string; lease_epoch: string; revision: string; claimed: boolean }[]>`
    WITH r AS (
      SELECT * FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb) AS r(
        order_id uuid, state text, snapshot jsonb, machine_version text, pending jsonb,
        source_event_id bigint, claim boolean)
    ), ins AS (
      INSERT INTO order_ledger AS l (order_id, status, state, snapshot, machine_version, pending,
        source_event_id, run_at, lease_owner, lease_until, lease_epoch)
      SELECT order_id, 'RUNNING', state, snapshot, machine_version, pending, source_event_id,
        CASE WHEN claim THEN now() + ${leaseMs} * interval '1 millisecond' ELSE now() END,
        CASE WHEN claim THEN ${me} END,
        CASE WHEN claim THEN now() + ${leaseMs} * interval '1 millisecond' END,
        CASE WHEN claim THEN 1 ELSE 0 END
      FROM r
      ON CONFLICT (order_id) DO NOTHING
      RETURNING l.order_id, l.state, l.lease_epoch, l.revision, l.lease_owner IS NOT NULL AS claimed
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id)
      SELECT order_id, 'OrderPlaced', NULL, state, ${me} FROM ins
    )
    SELECT order_id, lease_epoch, revision, claimed FROM ins`;
}

export interface CancelRequest {
  order_id: string;
  reason: string;
  /** The operator who asked, for an admin API cancellation; recorded in the history row. */
  requested_by?: string | null;
}

/**
 * What became of a cancellation request: `recorded` on its saga (whatever the
 * saga's status: what it does about it is the machine's decision, when the
 * saga next runs), `busy` (the saga's row is locked by another session right
 * now: nothing written, try again shortly), or `unknown` (no saga yet).
 */
export type CancelOutcome = "recorded" | "busy" | "unknown";

/**
 * Records cancellation requests on their sagas, and makes a running saga that
 * nobody holds runnable now. Never waits for a row lock (see CancelOutcome).
 */
export function requestCancels(tx: TransactionSql, rows: CancelRequest[], me: string) {
  return tx<{ order_id: string; outcome: CancelOutcome; status: string | null }[]>`
    WITH c AS (
      SELECT DISTINCT ON (order_id) * FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb)
        AS c(order_id uuid, reason text, requested_by text)
    ), locked AS MATERIALIZED (
      SELECT l.order_id FROM order_ledger l JOIN c ON c.order_id = l.order_id
      FOR UPDATE OF l SKIP LOCKED
    ), u AS (
      UPDATE order_ledger l SET
        cancel_requested_at = coalesce(l.cancel_requested_at, now()),
        cancel_reason = coalesce(l.cancel_reason, c.reason),
        run_at = CASE WHEN l.status = 'RUNNING' AND l.lease_owner IS NULL
          THEN least(l.run_at, now()) ELSE l.run_at END,
        updated_at = CASE WHEN l.status IN ('RUNNING', 'NEEDS_ATTENTION')
          THEN now() ELSE l.updated_at END
      FROM c JOIN locked ON locked.order_id = c.order_id
      WHERE l.order_id = c.order_id
      RETURNING l.order_id, l.status, l.state, c.reason, c.requested_by
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
      SELECT order_id, 'OrderCancellationRequested', state, state, ${me},
        jsonb_strip_nulls(jsonb_build_object('reason', reason, 'status', status,
          'requested_by', requested_by))
      FROM u
    )
    SELECT c.order_id,
      CASE WHEN u.order_id IS NOT NULL THEN 'recorded'
        WHEN EXISTS (SELECT 1 FROM order_ledger l WHERE l.order_id = c.order_id) THEN 'busy'
        ELSE 'unknown' END AS outcome,
      u.status
    FROM c LEFT JOIN u ON u.order_id = c.order_id`;
}

export interface EventDisposition {
  id: string;
  /** PROCESSED, DEAD, or PENDING (deferred: retried after delay_ms). */
  status: "PROCESSED" | "DEAD" | "PENDING";
  error: string | null;
  delay_ms: number;
  /** Whether this try counts towards OUTBOX_MAX_ATTEMPTS (a deferral for a lock does not). */
  counts: boolean;
}

/** Settles every claimed event of a batch in one statement. */
export function settleEvents(tx: Db, rows: EventDisposition[]) {
  return tx`
    UPDATE outbox o SET
      status = r.status,
      last_error = r.error,
      attempts = o.attempts + CASE WHEN r.counts THEN 1 ELSE 0 END,
      processed_at = CASE WHEN r.status = 'PENDING' THEN NULL ELSE now() END,
      available_at = CASE WHEN r.status = 'PENDING'
        THEN now() + r.delay_ms * interval '1 millisecond' ELSE o.available_at END
    FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb)
      AS r(id bigint, status text, error text, delay_ms int, counts boolean)
    WHERE o.id = r.id`;
}

/**
 * After an event failed on its own, for a reason that lies in the event (see
 * src/db/errors.ts): back off, or dead-letter it once it has used its tries.
 */
export function recordIntakeFailure(
  sql: Db,
  id: string,
  error: string,
  maxAttempts: number,
  delayMs: number,
) {
  return sql`
    UPDATE outbox SET
      attempts = attempts + 1,
      last_error = ${error},
      status = CASE WHEN attempts + 1 >= ${maxAttempts} THEN 'DEAD' ELSE status END,
      processed_at = CASE WHEN attempts + 1 >= ${maxAttempts} THEN now() ELSE processed_at END,
      available_at = now() + ${delayMs} * interval '1 millisecond'
    WHERE id = ${id} AND status = 'PENDING'`;
}

export interface ClaimedSaga {
  order_id: string;
  snapshot: { value: unknown; context: unknown } & Record<string, unknown>;
  machine_version: string;
  pending: unknown;
  lease_epoch: string;
  revision: string;
  cancel_requested: boolean;
  cancel_reason: string | null;
  retry_requested: boolean;
  /** Recorded successful step outcomes: step → { status, body }. */
  done_steps: Record<string, { status: number | null; body: unknown }>;
  /** The server's clock at the claim (epoch ms); absent for sagas intake adopted. */
  db_now_ms?: number;
}

/** Claims runnable sagas in one statement, taking a fresh lease on each. */
export function claimSagas(sql: Db, me: string, limit: number, leaseMs: number) {
  return sql<ClaimedSaga[]>`
    WITH c AS (
      SELECT order_id FROM order_ledger
      WHERE status = 'RUNNING' AND run_at <= now()
        AND (lease_until IS NULL OR lease_until < now())
      ORDER BY run_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE order_ledger l SET
      lease_owner = ${me},
      lease_until = now() + ${leaseMs} * interval '1 millisecond',
      run_at = now() + ${leaseMs} * interval '1 millisecond',
      lease_epoch = l.lease_epoch + 1
    FROM c
    WHERE l.order_id = c.order_id
    RETURNING l.order_id, l.snapshot, l.machine_version, l.pending, l.lease_epoch, l.revision,
      l.cancel_requested_at IS NOT NULL AS cancel_requested, l.cancel_reason,
      l.retry_requested_at IS NOT NULL AS retry_requested,
      (SELECT coalesce(jsonb_object_agg(s.step,
          jsonb_build_object('status', s.http_status, 'body', s.response)), '{}'::jsonb)
        FROM saga_step s WHERE s.order_id = l.order_id AND s.outcome = 'ok') AS done_steps,
      (extract(epoch FROM now()) * 1000)::float8 AS db_now_ms`;
}

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
  history: { event: string; from: string | null; to: string; detail: unknown };
}

export interface Persisted {
  order_id: string;
  revision: string;
  cancel_requested: boolean;
  cancel_reason: string | null;
}

/** A row of persistTransitions: written, or `busy` (locked elsewhere, not written: try again). */
export type PersistResult = (Persisted & { busy: false }) | {
  order_id: string;
  revision: null;
  cancel_requested: null;
  cancel_reason: null;
  busy: true;
};

/**
 * Persists transitions of many sagas in one statement (one commit): per saga
 * the fenced ledger update, the step outcome (never overwriting a success)
 * and the history line. A saga's inserts only happen when its fenced update
 * matched; a saga whose lease was lost is simply missing from the result.
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
    h_event: t.history.event,
    h_from: t.history.from,
    h_to: t.history.to,
    h_detail: t.history.detail,
  }));
  return sql<PersistResult[]>`
    WITH t AS (
      SELECT * FROM jsonb_to_recordset(${sql.json(rows as never)}::jsonb) AS t(
        order_id uuid, me text, epoch bigint, revision bigint, snapshot jsonb, state text,
        status text, pending jsonb, release boolean, run_at timestamptz, clear_retry boolean,
        last_error text, step text, outcome text, http_status int, response jsonb,
        h_event text, h_from text, h_to text, h_detail jsonb)
    ), locked AS MATERIALIZED (
      SELECT l.order_id FROM order_ledger l JOIN t ON t.order_id = l.order_id
      WHERE l.lease_owner = t.me AND l.lease_epoch = t.epoch AND l.revision = t.revision
      FOR UPDATE OF l SKIP LOCKED
    ), busy AS (
      -- Ours as of this statement's snapshot, but locked by someone else just now.
      SELECT t.order_id FROM t JOIN order_ledger l ON l.order_id = t.order_id
      WHERE l.lease_owner = t.me AND l.lease_epoch = t.epoch AND l.revision = t.revision
        AND NOT EXISTS (SELECT 1 FROM locked WHERE locked.order_id = t.order_id)
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
      RETURNING l.order_id, l.revision, l.cancel_requested_at IS NOT NULL AS cancel_requested,
        l.cancel_reason
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
      SELECT t.order_id, t.h_event, t.h_from, t.h_to, t.me, t.h_detail
      FROM u JOIN t ON t.order_id = u.order_id
    )
    SELECT order_id, revision, cancel_requested, cancel_reason, false AS busy FROM u
    UNION ALL
    SELECT order_id, NULL, NULL, NULL, true FROM busy`;
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

export interface Renewal {
  /** Leases renewed until now() + leaseMs. */
  renewed: string[];
  /** Still ours, but locked by another session right now: not renewed this time. */
  busy: string[];
  /** The server's clock when it answered (epoch ms). */
  dbNowMs: number;
}

/**
 * Renews the leases we still hold. Never waits for a row lock: a row someone
 * else holds (an operator's open transaction) is reported busy and tried at
 * the next beat, so one locked row cannot stall the heartbeat of every other
 * saga. An id in neither list was lost to another instance.
 */
export async function renewLeases(
  sql: Db,
  me: string,
  orderIds: string[],
  leaseMs: number,
): Promise<Renewal> {
  const rows = await sql<{ order_id: string | null; busy: boolean; db_now_ms: number }[]>`
    WITH held AS MATERIALIZED (
      SELECT order_id FROM order_ledger
      WHERE order_id = ANY(${orderIds}::uuid[]) AND lease_owner = ${me} AND status = 'RUNNING'
      FOR UPDATE SKIP LOCKED
    ), renewed AS (
      UPDATE order_ledger l SET
        lease_until = now() + ${leaseMs} * interval '1 millisecond',
        run_at = now() + ${leaseMs} * interval '1 millisecond'
      FROM held
      WHERE l.order_id = held.order_id
      RETURNING l.order_id
    ), busy AS (
      SELECT l.order_id FROM order_ledger l
      WHERE l.order_id = ANY(${orderIds}::uuid[]) AND l.lease_owner = ${me}
        AND l.status = 'RUNNING'
        AND NOT EXISTS (SELECT 1 FROM held WHERE held.order_id = l.order_id)
    )
    SELECT order_id, false AS busy, 0::float8 AS db_now_ms FROM renewed
    UNION ALL
    SELECT order_id, true, 0 FROM busy
    UNION ALL
    SELECT NULL, false, (extract(epoch FROM now()) * 1000)::float8`;
  const result: Renewal = { renewed: [], busy: [], dbNowMs: Number.NaN };
  for (const r of rows) {
    if (r.order_id === null) result.dbNowMs = Number(r.db_now_ms);
    else (r.busy ? result.busy : result.renewed).push(r.order_id);
  }
  return result;
}

/** On shutdown: give back every lease so other instances resume at once. */
export function releaseLeases(sql: Db, me: string) {
  return sql`
    UPDATE order_ledger SET lease_owner = NULL, lease_until = NULL,
      run_at = CASE WHEN status = 'RUNNING' THEN now() ELSE run_at END
    WHERE lease_owner = ${me}`;
}

export interface IdleCheck {
  /** An outbox event can be applied right now. */
  outboxReady: boolean;
  /**
   * How long until something next becomes runnable without a notification
   * (a retry deadline, a lease expiry, a deferred event), in ms on the
   * server's clock so no instance's clock skew matters; null when nothing waits.
   */
  nextInMs: number | null;
}

/** What a claim loop about to go idle needs to know, in one statement. */
export async function idleCheck(sql: Db, me: string): Promise<IdleCheck> {
  // greatest() skips NULLs, so "nothing waiting" must stay NULL explicitly.
  const [row] = await sql<{ ready: boolean; in_ms: number | null }[]>`
    SELECT
      EXISTS (SELECT 1 FROM outbox WHERE status = 'PENDING' AND available_at <= now()) AS ready,
      CASE WHEN at IS NULL THEN NULL
        ELSE greatest(0, extract(epoch FROM at - now()) * 1000)::float8 END AS in_ms
    FROM (SELECT least(
      (SELECT min(run_at) FROM order_ledger
        WHERE status = 'RUNNING' AND lease_owner IS DISTINCT FROM ${me}),
      (SELECT min(available_at) FROM outbox WHERE status = 'PENDING')
    ) AS at) w`;
  return {
    outboxReady: row?.ready ?? false,
    nextInMs: row?.in_ms == null ? null : Number(row.in_ms),
  };
}

// ---- Admin
// Read models and operator actions behind the admin API (src/admin/).

export type SagaStatus = "RUNNING" | "COMPLETED" | "CANCELLED" | "NEEDS_ATTENTION";
export const SAGA_STATUSES: readonly SagaStatus[] = [
  "RUNNING",
  "COMPLETED",
  "CANCELLED",
  "NEEDS_ATTENTION",
];

/** Outbox events not yet applied (the partial index outbox_pending_idx makes this cheap). */
export async function countPendingOutbox(sql: Db): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM outbox WHERE status = 'PENDING'`;
  return row?.n ?? 0;
}

export interface SagaListItem {
  order_id: string;
  status: string;
  state: string;
  updated_at: Date;
  /** created_at in microseconds since the epoch, exact: the keyset cursor. */
  sort_us: string;
}

/**
 * One page of sagas, newest first, keyset-paginated after (`afterUs`,
 * `afterId`). One index range scan per status on order_ledger_status_created_idx
 * (status, created_at, order_id), merged: no extra index on this hot table.
 *
 * Each status is its own branch naming the status as a literal (from the
 * fixed list, never from a request): with the status a parameter of a
 * lateral join, the planner estimated a status's rows as a quarter of the
 * table and, with a state filter, chose to scan all of it.
 */
export function listSagas(
  sql: Sql,
  p: {
    statuses: readonly SagaStatus[];
    state: string | null;
    after: { us: string; orderId: string } | null;
    limit: number;
  },
) {
  const statuses = p.statuses.filter((s) => SAGA_STATUSES.includes(s));
  if (statuses.length === 0) return Promise.resolve([] as SagaListItem[]);
  // Optional conditions are fragments, not `$n IS NULL OR …`: each shape gets
  // its own prepared statement, so a generic plan never loses the index bound.
  const byState = p.state === null ? sql`` : sql`AND state = ${p.state}`;
  const after = p.after === null ? sql`` : sql`AND (created_at, order_id) <
    ('epoch'::timestamptz + ${p.after.us}::bigint * interval '1 microsecond',
     ${p.after.orderId}::uuid)`;
  const branch = (status: SagaStatus) =>
    sql`(
      SELECT order_id, status, state, updated_at, created_at,
        (extract(epoch FROM created_at) * 1000000)::bigint::text AS sort_us
      FROM order_ledger
      WHERE status = ${sql.unsafe(`'${status}'`)} ${byState} ${after}
      ORDER BY created_at DESC, order_id DESC
      LIMIT ${p.limit})`;
  const branches = statuses.map(branch).reduce((all, b) => sql`${all} UNION ALL ${b}`);
  return sql<SagaListItem[]>`
    SELECT l.order_id, l.status, l.state, l.updated_at, l.sort_us, l.created_at
    FROM (${branches}) AS l
    ORDER BY l.created_at DESC, l.order_id DESC
    LIMIT ${p.limit}`;
}

export interface SagaDetailRow {
  order_id: string;
  status: string;
  state: string;
  machine_version: string;
  snapshot: unknown;
  last_error: string | null;
  cancel_requested: boolean;
  cancel_reason: string | null;
  retry_requested: boolean;
  lease_owner: string | null;
  lease_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export async function getSaga(sql: Db, orderId: string): Promise<SagaDetailRow | undefined> {
  const [row] = await sql<SagaDetailRow[]>`
    SELECT order_id, status, state, machine_version, snapshot, last_error,
      cancel_requested_at IS NOT NULL AS cancel_requested, cancel_reason,
      retry_requested_at IS NOT NULL AS retry_requested, lease_owner, lease_until,
      created_at, updated_at
    FROM order_ledger WHERE order_id = ${orderId}`;
  return row;
}

/** The saga's transitions, oldest first (capped: a page, not an export). */
export function sagaHistory(sql: Db, orderId: string, limit: number) {
  return sql<{ at: Date; event: string; from: string | null; to: string }[]>`
    SELECT at, event, from_state AS from, to_state AS to FROM (
      SELECT id, at, event, from_state, to_state FROM saga_history
      WHERE order_id = ${orderId} ORDER BY id DESC LIMIT ${limit}
    ) h ORDER BY id`;
}

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

// ---- Tools

/** Every saga that has not finished, for `check-snapshots`. */
export function listUnfinishedSagas(sql: Db) {
  return sql<
    {
      order_id: string;
      status: string;
      state: string;
      machine_version: string;
      snapshot: { value: unknown; context: unknown };
      pending: unknown;
    }[]
  >`
    SELECT order_id, status, state, machine_version, snapshot, pending
    FROM order_ledger WHERE status IN ('RUNNING', 'NEEDS_ATTENTION')
    ORDER BY order_id`;
}
