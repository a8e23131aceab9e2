// Orders arriving as an edge API inserts them: at a steady rate (open loop),
// each in a transaction of its own (one single-row INSERT into the outbox,
// autocommit) from a pool of PRODUCER_CONNECTIONS opened beforehand. Shared
// by every figure that offers a rate: latency under load, a struggling
// service, overload.
import postgres from "postgres";
import type { OrderPayload } from "../cluster/orders.ts";
import { nowMs } from "./orders.ts";
import { type OpenLoopResult, runOpenLoop } from "./open_loop.ts";

/** The edge API's connections: more than enough for the rates measured here. */
export const PRODUCER_CONNECTIONS = 16;

export interface EdgeProduced {
  loop: OpenLoopResult;
  /** Epoch ms at which each order's INSERT was issued, by order id. */
  sentAt: Map<string, number>;
  /** Epoch ms at which each order's commit returned, by order id. */
  committedAt: Map<string, number>;
}

export async function produceAtRate(
  url: string,
  orders: OrderPayload[],
  opts: {
    ratePerSecond: number;
    onProgress?(sent: number): void;
    /** Called as order `i` is due, before its INSERT is issued (e.g. to change a fault on cue). */
    onDue?(i: number): void;
  },
): Promise<EdgeProduced> {
  const producer = postgres(url, {
    max: PRODUCER_CONNECTIONS,
    onnotice: () => {},
    connection: { application_name: "bench-producer" },
  });
  const sentAt = new Map<string, number>();
  const committedAt = new Map<string, number>();
  try {
    // Every connection open before the first order, as an edge API's pool is.
    await Promise.all(Array.from({ length: PRODUCER_CONNECTIONS }, () => producer`SELECT 1`));
    const loop = await runOpenLoop({
      count: orders.length,
      ratePerSecond: opts.ratePerSecond,
      onProgress: opts.onProgress,
    }, async (i) => {
      opts.onDue?.(i);
      const order = orders[i]!;
      sentAt.set(order.order_id, nowMs());
      await producer`INSERT INTO outbox (order_id, event_type, payload)
        VALUES (${order.order_id}, 'OrderPlaced', ${producer.json(order as never)})`;
      committedAt.set(order.order_id, nowMs());
    });
    return { loop, sentAt, committedAt };
  } finally {
    await producer.end({ timeout: 2 });
  }
}
