// Latency under load: orders arrive at a steady rate (open loop), each in a
// transaction of its own as an edge API inserts them (edge_producer.ts), for
// a fixed time, into one orchestrator instance with its defaults. Per order:
// commit → COMPLETED (ledger updated_at) and the wake-up latency, commit →
// first downstream call (the Orders service's own timestamp of the order's
// creation), as the idle wake-up figure measures it (wakeup.ts).
//
// The instance first runs the warm-up orders in one batch, untimed, as the
// throughput runs do.
import { fetchStats } from "../reference_services/mod.ts";
import { type BenchEnv, type RunOptions, withInstances } from "./cluster.ts";
import { FINISHED, happyOrders, insertAll, serverNow, waitFinished } from "./orders.ts";
import { produceAtRate } from "./edge_producer.ts";
import { type LatencySummary, summarizeLatency } from "./stats.ts";

export interface LoadLatencyResult {
  /** Offered orders per second. */
  ratePerSecond: number;
  orders: number;
  /** Orders the engine finished without completing (a failed invocation, a compensated
   * saga): counted here, left out of the latencies, never a reason to abort the run. */
  failed: number;
  /** Orders committed per second over the producer's run: below the rate when it fell behind. */
  committedPerSecond: number;
  /** The latest an order was started after its scheduled time (the producer's own lag). */
  producerMaxLagMs: number;
  endToEnd: LatencySummary;
  wakeup: LatencySummary;
  /** First order committed → last saga finished, epoch milliseconds. */
  window: { fromMs: number; toMs: number };
}

/** Commit → effect for every order: `effectAt` epoch ms of the first effect per order. */
export function latencies(
  committedAt: Map<string, number>,
  effectAt: Map<string, number>,
  what: string,
): number[] {
  const out: number[] = [];
  for (const [id, at] of committedAt) {
    const effect = effectAt.get(id);
    if (effect === undefined) throw new Error(`no ${what} seen for order ${id}`);
    out.push(effect - at);
  }
  return out;
}

/** How one order ended in the engine: completed or not, and when (epoch ms). */
export interface Outcome {
  id: string;
  completed: boolean;
  atMs: number;
}

/**
 * The orders whose latency counts (every committed one that completed) and
 * how many finished without completing: those are counted, not timed.
 */
export function splitOutcomes(
  committedAt: Map<string, number>,
  outcomes: Outcome[],
): { measured: Map<string, number>; completedAt: Map<string, number>; failed: number } {
  const completedAt = new Map<string, number>();
  const failedIds = new Set<string>();
  for (const o of outcomes) {
    if (o.completed) completedAt.set(o.id, o.atMs);
    else failedIds.add(o.id);
  }
  const measured = new Map([...committedAt].filter(([id]) => !failedIds.has(id)));
  return { measured, completedAt, failed: failedIds.size };
}

/** Commits per second between the first and the last commit (or over the whole run for one). */
export function commitRate(committedAt: Map<string, number>, runSeconds: number): number {
  let first = Infinity;
  let last = -Infinity;
  for (const at of committedAt.values()) {
    first = Math.min(first, at);
    last = Math.max(last, at);
  }
  const span = (last - first) / 1000;
  return span > 0 ? (committedAt.size - 1) / span : committedAt.size / runSeconds;
}

/** The first commit and the last completion of the measured orders. */
export function measuredWindow(
  committedAt: Map<string, number>,
  completedAt: Map<string, number>,
): { fromMs: number; toMs: number } {
  let fromMs = Infinity;
  let toMs = -Infinity;
  for (const [id, at] of committedAt) {
    fromMs = Math.min(fromMs, at);
    toMs = Math.max(toMs, completedAt.get(id) ?? -Infinity);
  }
  return { fromMs, toMs };
}

/** Epoch ms at which the Orders service created each order (its first "created" effect). */
export async function createdAt(ordersUrl: string): Promise<Map<string, number>> {
  const stats = await fetchStats(ordersUrl);
  const first = new Map<string, number>();
  for (const entry of stats.log ?? []) {
    if (entry.effect === "created" && !first.has(entry.order_id)) {
      first.set(entry.order_id, entry.at);
    }
  }
  return first;
}

export async function measureLoadLatency(
  env: BenchEnv,
  opts: {
    ratePerSecond: number;
    seconds: number;
    warmup: number;
    timeoutMs: number;
    /** Extra orchestrator environment (default: none, i.e. its defaults). */
    vars?: Record<string, string>;
    /** Makes the database (default: fresh and empty). */
    database?: RunOptions["database"];
    onProgress?(label: string): void;
  },
): Promise<LoadLatencyResult> {
  return await withInstances(env, 1, opts.vars ?? {}, async (run) => {
    const count = Math.max(1, Math.round(opts.ratePerSecond * opts.seconds));
    const all = happyOrders(opts.warmup + count, 77 + count);
    // Only this run's sagas count: the database may hold a seeded history (history.ts).
    const since = await serverNow(run.sql);
    if (opts.warmup > 0) {
      await insertAll(run.sql, all.slice(0, opts.warmup));
      await waitFinished(run.sql, opts.warmup, { since, timeoutMs: opts.timeoutMs, everyMs: 50 });
    }
    const { loop, committedAt } = await produceAtRate(run.url, all.slice(opts.warmup), {
      ratePerSecond: opts.ratePerSecond,
      onProgress: (n) => opts.onProgress?.(`${n}/${count} orders placed`),
    });
    await waitFinished(run.sql, opts.warmup + count, {
      since,
      timeoutMs: opts.timeoutMs,
      everyMs: 100,
      onProgress: (n) => opts.onProgress?.(`${n - opts.warmup}/${count} finished`),
    });
    const done = await run.sql<{ order_id: string; status: string; ms: number }[]>`
      SELECT order_id, status, extract(epoch FROM updated_at) * 1000 AS ms FROM order_ledger
      WHERE status = ANY(${FINISHED}) AND created_at >= ${since}`;
    const { measured, completedAt, failed } = splitOutcomes(
      committedAt,
      done.map((r) => ({
        id: r.order_id,
        completed: r.status === "COMPLETED",
        atMs: Number(r.ms),
      })),
    );
    return {
      ratePerSecond: opts.ratePerSecond,
      orders: count,
      failed,
      committedPerSecond: commitRate(committedAt, loop.seconds),
      producerMaxLagMs: loop.maxLagMs,
      endToEnd: summarizeLatency(latencies(measured, completedAt, "COMPLETED")),
      wakeup: summarizeLatency(
        latencies(measured, await createdAt(env.services.urls.orders), "createOrder call"),
      ),
      window: measuredWindow(measured, completedAt),
    };
  }, { database: opts.database });
}
