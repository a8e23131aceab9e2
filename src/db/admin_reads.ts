// Run by the admin API's reads (src/admin/) and the metrics scrape (src/metrics.ts).
//
// Counts stay cheap at any size. Each query names the index it relies on;
// where a partial index must be chosen, the status is literal SQL text (never
// a parameter), so that no generic plan can lose the index.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

export type SagaStatus = "RUNNING" | "COMPLETED" | "CANCELLED" | "NEEDS_ATTENTION";
export const SAGA_STATUSES: readonly SagaStatus[] = [
  "RUNNING",
  "COMPLETED",
  "CANCELLED",
  "NEEDS_ATTENTION",
];

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

/** The readiness probe's question (src/admin/health.ts): does the database answer at all. */
export function pingDatabase(sql: Sql) {
  return sql`SELECT 1`;
}
