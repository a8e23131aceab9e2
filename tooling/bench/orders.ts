// Orders for the benchmark: all happy, inserted into the outbox the way the
// edge API does, and a wait until their sagas have finished.
import type { Sql } from "../../src/db/client.ts";
import { rng, sampleOrder } from "../cluster/orders.ts";
import type { OrderPayload } from "../cluster/orders.ts";

/** Downstream calls of a happy saga: createOrder, reserveInventory, capturePayment, confirmOrder. */
export const STEPS_PER_SAGA = 4;

export function happyOrders(count: number, seed = 1): OrderPayload[] {
  const random = rng(seed);
  return Array.from({ length: count }, () => sampleOrder(random));
}

/** All of them in one transaction (one statement); resolves after the commit. */
export async function insertAll(sql: Sql, orders: OrderPayload[]): Promise<void> {
  for (let i = 0; i < orders.length; i += 5000) {
    const chunk = orders.slice(i, i + 5000);
    await sql.begin((tx) =>
      tx`INSERT INTO outbox (order_id, event_type, payload)
        SELECT (p->>'order_id')::uuid, 'OrderPlaced', p
        FROM jsonb_array_elements(${tx.json(chunk as never)}::jsonb) AS p`
    );
  }
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes. */
export const nowMs = () => performance.timeOrigin + performance.now();

/** The statuses a saga ends in. */
export const FINISHED = ["COMPLETED", "CANCELLED", "NEEDS_ATTENTION"];
const STATUSES = ["RUNNING", ...FINISHED];

/** The database server's clock, as a timestamp to compare with created_at. */
export async function serverNow(sql: Sql): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`SELECT now() AS now`;
  return row!.now;
}

/**
 * Polls until `count` sagas are no longer RUNNING; returns how many reached
 * each status. `onProgress` gets the number finished so far. With `since`,
 * only sagas created from then on count (the status index keeps that cheap
 * beside a long history).
 */
export async function waitFinished(
  sql: Sql,
  count: number,
  opts: { timeoutMs: number; onProgress?(finished: number): void; everyMs?: number; since?: Date },
): Promise<Record<string, number>> {
  const until = Date.now() + opts.timeoutMs;
  const since = opts.since ?? new Date(0);
  for (;;) {
    const rows = await sql<{ status: string; n: number }[]>`
      SELECT status, count(*)::int AS n FROM order_ledger
      WHERE status = ANY(${STATUSES}) AND created_at >= ${since}
      GROUP BY status`;
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    const finished = rows.filter((r) => r.status !== "RUNNING").reduce((a, r) => a + r.n, 0);
    opts.onProgress?.(finished);
    if (finished >= count) return byStatus;
    if (Date.now() > until) {
      throw new Error(`only ${finished} of ${count} sagas finished within ${opts.timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 100));
  }
}

/**
 * Epoch ms at which each saga created from `since` on reached COMPLETED (its
 * ledger updated_at, as every engine's finish is timed), by order id.
 */
export async function completedAt(sql: Sql, since: Date): Promise<Map<string, number>> {
  const rows = await sql<{ order_id: string; ms: number }[]>`
    SELECT order_id, extract(epoch FROM updated_at) * 1000 AS ms FROM order_ledger
    WHERE status = 'COMPLETED' AND created_at >= ${since}`;
  return new Map(rows.map((r) => [r.order_id, Number(r.ms)]));
}
