// What the database says at the end of a chaos run: every saga, the outbox,
// and (when it did not settle) what is stuck.
import type { Sql } from "../../src/db/client.ts";

export interface LedgerRow {
  order_id: string;
  status: string;
  state: string;
  last_error: string | null;
}

export interface OutboxRow {
  event_type: string;
  status: string;
  n: number;
}

export interface OutboxEvent {
  id: string;
  order_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

export interface FinalState {
  ledger: LedgerRow[];
  /** Events by type and status. */
  outbox: OutboxRow[];
  /** Events still PENDING or DEAD (first 50). */
  unsettledEvents: OutboxEvent[];
}

export async function readFinalState(sql: Sql): Promise<FinalState> {
  const ledger = await sql<LedgerRow[]>`
    SELECT order_id::text, status, state, last_error FROM order_ledger`;
  const outbox = await sql<OutboxRow[]>`
    SELECT event_type, status, count(*)::int AS n FROM outbox
    GROUP BY event_type, status ORDER BY event_type, status`;
  const unsettledEvents = await sql<OutboxEvent[]>`
    SELECT id::text, order_id::text, event_type, status, attempts, last_error FROM outbox
    WHERE status IN ('PENDING', 'DEAD') ORDER BY id LIMIT 50`;
  return { ledger, outbox, unsettledEvents };
}

export interface StuckSaga {
  order_id: string;
  state: string;
  pending: unknown;
  run_at: string;
  lease_owner: string | null;
  lease_until: string | null;
  last_error: string | null;
  updated_at: string;
}

/** The sagas still RUNNING (first 20), for a run that did not settle in time. */
export async function stuckSagas(sql: Sql): Promise<StuckSaga[]> {
  return await sql<StuckSaga[]>`
    SELECT order_id::text, state, pending, run_at::text, lease_owner, lease_until::text,
      last_error, updated_at::text
    FROM order_ledger WHERE status = 'RUNNING' ORDER BY updated_at LIMIT 20`;
}

/** Sagas not yet finished, outbox events not yet applied, ledger rows. */
export async function progress(
  sql: Sql,
): Promise<{ running: number; pending: number; rows: number; byStatus: Record<string, number> }> {
  const [rows, [pending]] = await Promise.all([
    sql<{ status: string; n: number }[]>`
      SELECT status, count(*)::int AS n FROM order_ledger GROUP BY status`,
    sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE status = 'PENDING'`,
  ]);
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
  return {
    running: byStatus.RUNNING ?? 0,
    pending: pending?.n ?? 0,
    rows: rows.reduce((sum, r) => sum + r.n, 0),
    byStatus,
  };
}
