// What the database says about the sagas: counts by status, and each order's outcome.
import type { Sql } from "../../src/db/client.ts";

export const STATUSES = ["RUNNING", "COMPLETED", "CANCELLED", "NEEDS_ATTENTION"] as const;
export const TERMINAL = ["COMPLETED", "CANCELLED", "NEEDS_ATTENTION"];

export interface Counts {
  byStatus: Record<string, number>;
  /** Sagas that have finished (any terminal status). */
  terminal: number;
  /** Outbox events not yet applied. */
  outboxPending: number;
}

export async function counts(sql: Sql): Promise<Counts> {
  const [rows, [pending]] = await Promise.all([
    sql<{ status: string; n: number }[]>`
      SELECT status, count(*)::int AS n FROM order_ledger GROUP BY status`,
    sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE status = 'PENDING'`,
  ]);
  const byStatus: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of rows) byStatus[r.status] = r.n;
  const terminal = TERMINAL.reduce((sum, s) => sum + (byStatus[s] ?? 0), 0);
  return { byStatus, terminal, outboxPending: pending?.n ?? 0 };
}

export async function outcomes(sql: Sql): Promise<Map<string, string>> {
  const rows = await sql<{ order_id: string; status: string }[]>`
    SELECT order_id, status FROM order_ledger`;
  return new Map(rows.map((r) => [r.order_id, r.status]));
}

export function formatCounts(c: Counts): string {
  return `RUNNING ${c.byStatus.RUNNING} · COMPLETED ${c.byStatus.COMPLETED} · ` +
    `CANCELLED ${c.byStatus.CANCELLED} · NEEDS_ATTENTION ${c.byStatus.NEEDS_ATTENTION}`;
}
