// Run by the operator tools (src/tools/): check-snapshots, and replay (inspect/history_source.ts).
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

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

export interface ReplayLedgerRow {
  order_id: string;
  status: string;
  state: string;
  machine_version: string;
  snapshot: unknown;
}

export async function sagaForReplay(
  sql: Sql,
  orderId: string,
): Promise<ReplayLedgerRow | undefined> {
  const [saga] = await sql<ReplayLedgerRow[]>`
    SELECT order_id, status, state, machine_version, snapshot
    FROM order_ledger WHERE order_id = ${orderId}`;
  return saga;
}

/**
 * A saga's full history, with each row's detail (the applied XState event).
 * The admin API's history (sagaHistory, admin_reads.ts) leaves detail out and
 * is capped; a replay needs every row, oldest first.
 */
export function fullSagaHistory(sql: Sql, orderId: string) {
  return sql<{ event: string; to: string; detail: unknown }[]>`
    SELECT event, to_state AS to, detail FROM saga_history
    WHERE order_id = ${orderId} ORDER BY id`;
}
