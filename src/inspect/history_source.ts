// The one read the replay tool needs: a saga's ledger row and its full
// history, with each row's detail (the applied XState event).
import type { Sql } from "../db/client.ts";
import { fullSagaHistory, sagaForReplay } from "../db/tool_queries.ts";
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
  const saga = await sagaForReplay(sql, orderId);
  if (!saga) return undefined;
  const history = await fullSagaHistory(sql, orderId);
  return { ...saga, history: [...history] };
}
