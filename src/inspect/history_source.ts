// The one read the replay tool needs: a saga's ledger row and its full
// history, with each row's detail (the applied XState event). The admin API's
// history (src/db/queries.ts) leaves detail out and is capped; a replay needs
// every row, oldest first.
import type { Sql } from "../db/client.ts";
import type { HistoryRow } from "./replay.ts";

export interface SagaForReplay {
  order_id: string;
  status: string;
  state: string;
  machine_version: string;
  snapshot: unknown;
  history: HistoryRow[];
}

export async function loadSagaForReplay(
  sql: Sql,
  orderId: string,
): Promise<SagaForReplay | undefined> {
  const [saga] = await sql<Omit<SagaForReplay, "history">[]>`
    SELECT order_id, status, state, machine_version, snapshot
    FROM order_ledger WHERE order_id = ${orderId}`;
  if (!saga) return undefined;
  const history = await sql<HistoryRow[]>`
    SELECT event, to_state AS to, detail FROM saga_history
    WHERE order_id = ${orderId} ORDER BY id`;
  return { ...saga, history: [...history] };
}
