// Restate's latency under load, measured as ours is (tooling/bench/load_latency.ts):
// the workflow form of the saga, orders sent one per request through the
// ingress at a steady rate (open loop) for a fixed time. "Committed" is the
// moment the ingress answered the send (the invocation is in Restate's log);
// done is the workflow invocation's completed_at; the wake-up is the Orders
// service's own timestamp of the order's creation. A workflow that failed is
// counted and left out of the latencies (the run keeps its other figures).
import type { BenchEnv } from "../cluster.ts";
import {
  commitRate,
  createdAt,
  latencies,
  type LoadLatencyResult,
  measuredWindow,
  splitOutcomes,
} from "../load_latency.ts";
import { runOpenLoop } from "../open_loop.ts";
import { happyOrders, nowMs } from "../orders.ts";
import { summarizeLatency } from "../stats.ts";
import { RESTATE_SERVICE, sendOrder, withRestate } from "./restate.ts";
import { restateQuery } from "./restate_server.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureRestateLoadLatency(
  env: BenchEnv,
  opts: {
    node: string;
    peerDir: string;
    ratePerSecond: number;
    seconds: number;
    warmup: number;
    timeoutMs: number;
    onProgress?(label: string): void;
  },
): Promise<LoadLatencyResult> {
  return await withRestate(env, opts, async ({ server }) => {
    const count = Math.max(1, Math.round(opts.ratePerSecond * opts.seconds));
    const all = happyOrders(opts.warmup + count, 79 + count);
    const workflow = RESTATE_SERVICE.workflow;
    const finished = async () => {
      const [row] = await restateQuery<{ n: number }>(
        server,
        `SELECT count(*) AS n FROM sys_invocation_status
         WHERE target_service_name = '${workflow}' AND status = 'completed'`,
      );
      return Number(row!.n);
    };
    const waitAll = async (n: number, progress: boolean) => {
      const until = Date.now() + opts.timeoutMs;
      for (let done = await finished(); done < n; done = await finished()) {
        if (progress) opts.onProgress?.(`${done - opts.warmup}/${count} finished`);
        if (Date.now() > until) throw new Error(`only ${done} of ${n} workflows finished in time`);
        await sleep(200);
      }
    };
    // Warm-up: the same orders in one burst, untimed.
    await Promise.all(all.slice(0, opts.warmup).map((o) => sendOrder(server, "workflow", o)));
    await waitAll(opts.warmup, false);

    const orders = all.slice(opts.warmup);
    const committedAt = new Map<string, number>();
    const loop = await runOpenLoop({
      count,
      ratePerSecond: opts.ratePerSecond,
      onProgress: (n) => opts.onProgress?.(`${n}/${count} orders sent`),
    }, async (i) => {
      const order = orders[i]!;
      await sendOrder(server, "workflow", order);
      committedAt.set(order.order_id, nowMs());
    });
    await waitAll(opts.warmup + count, true);

    const rows = await restateQuery<{ key: string; completed_at: string; result: string }>(
      server,
      `SELECT target_service_key AS key, completed_at, completion_result AS result
       FROM sys_invocation_status WHERE target_service_name = '${workflow}'`,
    );
    const { measured, completedAt, failed } = splitOutcomes(
      committedAt,
      rows.map((r) => ({
        id: r.key,
        completed: r.result === "success",
        atMs: Date.parse(r.completed_at),
      })),
    );
    return {
      ratePerSecond: opts.ratePerSecond,
      orders: count,
      failed,
      committedPerSecond: commitRate(committedAt, loop.seconds),
      producerMaxLagMs: loop.maxLagMs,
      endToEnd: summarizeLatency(latencies(measured, completedAt, "completed workflow")),
      wakeup: summarizeLatency(
        latencies(measured, await createdAt(env.services.urls.orders), "createOrder call"),
      ),
      window: measuredWindow(measured, completedAt),
    };
  });
}
