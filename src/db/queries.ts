// Every SQL statement the orchestrator runs, as named functions over
// postgres.js tagged templates (values are always parameters). The rest of the
// code never writes SQL.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

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
