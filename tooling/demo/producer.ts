// Writes outbox events the way an edge API would: each in its own
// transaction, at a steady rate. Cancellations follow their order after a
// short random delay.
import type { Sql } from "../../src/db/client.ts";
import type { OrderPayload } from "../cluster/orders.ts";
import type { PlannedOrder } from "./plan.ts";

/** INSERT one OrderPlaced in a transaction; resolves once it has committed. */
export async function placeOrder(sql: Sql, order: OrderPayload): Promise<void> {
  await sql.begin((tx) =>
    tx`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${order.order_id}, 'OrderPlaced', ${tx.json(order as never)})`
  );
}

export async function requestCancel(sql: Sql, orderId: string, reason: string): Promise<void> {
  await sql.begin((tx) =>
    tx`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${orderId}, 'OrderCancellationRequested',
        ${tx.json({ order_id: orderId, reason })})`
  );
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });

/**
 * Places every planned order at `rate` per second (0: as fast as possible),
 * stopping early when `signal` aborts. Resolves when every event it started
 * has committed.
 */
export async function produce(
  sql: Sql,
  plan: PlannedOrder[],
  opts: { rate: number; signal: AbortSignal; onPlaced?(placed: number): void },
): Promise<number> {
  const start = performance.now();
  const cancels: Promise<void>[] = [];
  let placed = 0;
  for (const p of plan) {
    if (opts.signal.aborted) break;
    if (opts.rate > 0) {
      await sleep(start + (placed * 1000) / opts.rate - performance.now(), opts.signal);
      if (opts.signal.aborted) break;
    }
    await placeOrder(sql, p.order);
    placed++;
    opts.onPlaced?.(placed);
    if (p.cancelAfterMs !== undefined) {
      const id = p.order.order_id;
      cancels.push(
        sleep(p.cancelAfterMs, opts.signal).then(() =>
          opts.signal.aborted ? undefined : requestCancel(sql, id, "customer changed their mind")
        ),
      );
    }
  }
  await Promise.all(cancels);
  return placed;
}
