// Every SQL statement the orchestrator runs, as named functions over
// postgres.js tagged templates (values are always parameters). The rest of the
// code never writes SQL.
import type { Sql, TransactionSql } from "./client.ts";

type Db = Sql | TransactionSql;

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
