// The edge API under chaos: places the planned orders at a steady rate and
// retries an insert that fails (the database is restarting) until it commits.
// A retried insert whose first try did commit is a duplicate OrderPlaced,
// which the orchestrator must ignore.
//
// Each event is one autocommitted INSERT, not a `sql.begin` transaction like
// the demo's producer: when the server goes away mid-transaction, postgres.js
// 3.4.9 writes the ROLLBACK to the closed socket from a setImmediate and the
// process dies with "Cannot read properties of null (reading 'write')"
// (porsager/postgres#1208) — the runner must outlive what it provokes.
import type { Sql } from "../../src/db/client.ts";
import type { OrderPayload } from "../cluster/orders.ts";
import type { ChaosOrder } from "./plan.ts";
import { sleep } from "./time.ts";

export interface ProducerStats {
  placed: number;
  cancellations: number;
  /** Inserts that failed and were tried again. */
  retriedInserts: number;
}

async function placeOrder(sql: Sql, order: OrderPayload): Promise<void> {
  await sql`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${order.order_id}, 'OrderPlaced', ${sql.json(order as never)})`;
}

async function requestCancel(sql: Sql, orderId: string, reason: string): Promise<void> {
  await sql`INSERT INTO outbox (order_id, event_type, payload)
    VALUES (${orderId}, 'OrderCancellationRequested', ${sql.json({ order_id: orderId, reason })})`;
}

async function retrying(
  insert: () => Promise<void>,
  stats: ProducerStats,
  giveUpAfterMs: number,
): Promise<void> {
  const until = Date.now() + giveUpAfterMs;
  for (;;) {
    try {
      return await insert();
    } catch (err) {
      if (Date.now() > until) throw new Error(`insert still failing: ${err}`, { cause: err });
      stats.retriedInserts++;
      await sleep(200);
    }
  }
}

/** Resolves once every order and cancellation has committed. */
export async function produceWithRetries(
  sql: Sql,
  plan: ChaosOrder[],
  opts: { rate: number; stats: ProducerStats; giveUpAfterMs?: number },
): Promise<void> {
  const giveUp = opts.giveUpAfterMs ?? 120_000;
  const start = performance.now();
  const cancels: Promise<void>[] = [];
  for (const [i, p] of plan.entries()) {
    await sleep(start + (i * 1000) / opts.rate - performance.now());
    await retrying(() => placeOrder(sql, p.order), opts.stats, giveUp);
    opts.stats.placed++;
    if (p.cancelAfterMs !== undefined) {
      const id = p.order.order_id;
      const cancel = sleep(p.cancelAfterMs).then(() =>
        retrying(() => requestCancel(sql, id, "customer changed their mind"), opts.stats, giveUp)
      ).then(() => void opts.stats.cancellations++);
      cancel.catch(() => {});
      cancels.push(cancel);
    }
  }
  await Promise.all(cancels);
}
