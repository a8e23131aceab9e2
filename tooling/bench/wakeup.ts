// Wake-up latency: from an outbox INSERT's commit (taken right after the
// commit returns) to the first downstream call (the Orders service's own
// timestamp of the order's creation), and end-to-end latency, commit to
// COMPLETED (ledger updated_at). Orders arrive one at a time with random
// gaps, so each finds the orchestrator idle and the poll phase is uniform.
import type { Sql } from "../../src/db/client.ts";
import { fetchStats } from "../reference_services/mod.ts";
import { type BenchEnv, withInstances } from "./cluster.ts";
import { happyOrders, nowMs, waitFinished } from "./orders.ts";
import { percentile } from "./stats.ts";

export interface LatencyResult {
  samples: number;
  wakeP50Ms: number;
  wakeP99Ms: number;
  e2eP50Ms: number;
  e2eP99Ms: number;
}

async function commitOne(sql: Sql, order: { order_id: string }): Promise<number> {
  await sql.begin((tx) =>
    tx`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${order.order_id}, 'OrderPlaced', ${tx.json(order as never)})`
  );
  return nowMs();
}

export async function measureWakeup(
  env: BenchEnv,
  opts: {
    orders: number;
    listen: boolean;
    pollIntervalMs: number;
    gapMs: [number, number];
    onProgress?(done: number): void;
  },
): Promise<LatencyResult> {
  const vars: Record<string, string> = opts.listen
    ? { LISTEN: "true" }
    : { LISTEN: "false", POLL_INTERVAL_MS: String(opts.pollIntervalMs) };
  return await withInstances(env, 1, vars, async (run) => {
    const orders = happyOrders(opts.orders, opts.listen ? 11 : 12);
    const committedAt = new Map<string, number>();
    const [lo, hi] = opts.gapMs;
    for (const order of orders) {
      await new Promise((r) => setTimeout(r, lo + Math.random() * (hi - lo)));
      committedAt.set(order.order_id, await commitOne(run.sql, order));
      opts.onProgress?.(committedAt.size);
    }
    const byStatus = await waitFinished(run.sql, orders.length, { timeoutMs: 120_000 });
    if (byStatus.COMPLETED !== orders.length) {
      throw new Error(`expected ${orders.length} COMPLETED, got ${JSON.stringify(byStatus)}`);
    }
    const stats = await fetchStats(env.services.urls.orders);
    const firstCall = new Map<string, number>();
    for (const entry of stats.log ?? []) {
      if (entry.effect === "created" && !firstCall.has(entry.order_id)) {
        firstCall.set(entry.order_id, entry.at);
      }
    }
    const done = await run.sql<{ order_id: string; ms: number }[]>`
      SELECT order_id, extract(epoch FROM updated_at) * 1000 AS ms FROM order_ledger`;
    const wake: number[] = [];
    const e2e: number[] = [];
    for (const [id, at] of committedAt) {
      const first = firstCall.get(id);
      if (first === undefined) throw new Error(`no createOrder call seen for ${id}`);
      wake.push(first - at);
    }
    for (const row of done) e2e.push(Number(row.ms) - committedAt.get(row.order_id)!);
    return {
      samples: wake.length,
      wakeP50Ms: percentile(wake, 50),
      wakeP99Ms: percentile(wake, 99),
      e2eP50Ms: percentile(e2e, 50),
      e2eP99Ms: percentile(e2e, 99),
    };
  });
}
