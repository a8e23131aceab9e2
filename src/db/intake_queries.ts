// Run by intake (engine/intake.ts): claims outbox events, starts and cancels sagas, settles them.
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
  /** The event that started it, for the first history row (e.g. OrderPlaced). */
  event_type: string;
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
        source_event_id bigint, event_type text, claim boolean)
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
      SELECT ins.order_id, r.event_type, NULL, ins.state, ${me}
      FROM ins JOIN r ON r.order_id = ins.order_id
    )
    SELECT order_id, lease_epoch, revision, claimed FROM ins`;
}

export interface CancelRequest {
  order_id: string;
  reason: string;
  /** The operator who asked, for an admin API cancellation; recorded in the history row. */
  requested_by?: string | null;
  /** The event that asked (e.g. OrderCancellationRequested), named in the history row. */
  event_type: string;
  /** The machine versions of the saga type that accepts it: a saga of another type is `foreign`. */
  versions: string[];
}

/**
 * What became of a cancellation request: `recorded` on its saga (whatever the
 * saga's status: what it does about it is the machine's decision, when the
 * saga next runs), `busy` (the saga's row is locked by another session right
 * now: nothing written, try again shortly), `unknown` (no saga yet), or
 * `foreign` (the saga is of a type that does not accept this event).
 */
export type CancelOutcome = "recorded" | "busy" | "unknown" | "foreign";

/**
 * Records cancellation requests on their sagas, and makes a running saga that
 * nobody holds runnable now. Never waits for a row lock (see CancelOutcome).
 */
export function requestCancels(tx: TransactionSql, rows: CancelRequest[], me: string) {
  return tx<{ order_id: string; outcome: CancelOutcome; status: string | null }[]>`
    WITH c AS (
      SELECT DISTINCT ON (order_id) * FROM jsonb_to_recordset(${tx.json(rows as never)}::jsonb)
        AS c(order_id uuid, reason text, requested_by text, event_type text, versions jsonb)
    ), locked AS MATERIALIZED (
      SELECT l.order_id FROM order_ledger l JOIN c ON c.order_id = l.order_id
      WHERE c.versions ? l.machine_version
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
      RETURNING l.order_id, l.status, l.state, c.reason, c.requested_by, c.event_type
    ), h AS (
      INSERT INTO saga_history (order_id, event, from_state, to_state, instance_id, detail)
      SELECT order_id, event_type, state, state, ${me},
        jsonb_strip_nulls(jsonb_build_object('reason', reason, 'status', status,
          'requested_by', requested_by))
      FROM u
    )
    SELECT c.order_id,
      CASE WHEN u.order_id IS NOT NULL THEN 'recorded'
        WHEN EXISTS (SELECT 1 FROM order_ledger l
          WHERE l.order_id = c.order_id AND c.versions ? l.machine_version) THEN 'busy'
        WHEN EXISTS (SELECT 1 FROM order_ledger l WHERE l.order_id = c.order_id) THEN 'foreign'
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
export function recordDispositions(tx: Db, rows: EventDisposition[]) {
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
