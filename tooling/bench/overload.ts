// Overload: orders arrive faster than one instance can finish them (open
// loop, one order per transaction, edge_producer.ts) for `seconds`, then stop;
// the backlog drains. One orchestrator instance with its defaults, its
// warm-up orders first, untimed, as every other run.
//
//   achieved   sagas reaching COMPLETED per second while orders arrive
//   backlog    RUNNING sagas + PENDING outbox events (backlog.ts), polled;
//              its peak over the whole run
//   drain      sagas reaching COMPLETED per second from the last order's
//              commit to the last saga finished
//   CPU        per saga, by process group, from the first order to the last
//              saga finished (overload and drain together), as the
//              throughput runs read it (cpu.ts)
import { type BenchEnv, type Run, withInstances } from "./cluster.ts";
import { type CpuCost, type CpuGroups, cpuPerSaga, readCpu } from "./cpu.ts";
import { readBacklog, watchBacklog } from "./backlog.ts";
import { produceAtRate } from "./edge_producer.ts";
import { commitRate } from "./load_latency.ts";
import { completedAt, happyOrders, insertAll, serverNow, waitFinished } from "./orders.ts";
import { countBetween, rateBetween } from "./timeline.ts";

/** How often the backlog is read: often enough for its peak, cheap for the database. */
const BACKLOG_EVERY_MS = 100;

export interface OverloadResult {
  /** Offered orders per second (the schedule). */
  ratePerSecond: number;
  orders: number;
  /** Orders committed per second by the producer: below the rate if it fell behind. */
  committedPerSecond: number;
  producerMaxLagMs: number;
  /** Sagas reaching COMPLETED per second while orders arrived. */
  achievedPerSecond: number;
  /** Largest RUNNING + PENDING seen. */
  backlogPeak: number;
  /** RUNNING + PENDING as the last order committed. */
  backlogAtStop: number;
  /** Sagas finished after the last order committed, and per second until the last finished. */
  drainSagas: number;
  drainSeconds: number;
  drainPerSecond: number;
  /** Overload and drain together. */
  cpu: CpuCost;
}

interface OverloadOptions {
  ratePerSecond: number;
  seconds: number;
  warmup: number;
  timeoutMs: number;
  onProgress?(detail: string): void;
}

export async function measureOverload(
  env: BenchEnv,
  opts: OverloadOptions,
): Promise<OverloadResult> {
  return await withInstances(env, 1, {}, (run) => overloadRun(env, run, opts));
}

async function overloadRun(env: BenchEnv, run: Run, opts: OverloadOptions) {
  const count = Math.max(1, Math.round(opts.ratePerSecond * opts.seconds));
  const all = happyOrders(opts.warmup + count, 53 + count);
  if (opts.warmup > 0) {
    await insertAll(run.sql, all.slice(0, opts.warmup));
    await waitFinished(run.sql, opts.warmup, { timeoutMs: opts.timeoutMs, everyMs: 50 });
  }
  const since = await serverNow(run.sql);
  const groups: CpuGroups = {
    processes: {
      orchestrator: run.instances.map((i) => i.child.pid),
      services: Object.values(env.services.children).map((c) => c.pid),
    },
    trees: { postgres: env.db.postmasterPid },
  };
  let stage = "orders arriving";
  const watching = watchBacklog(run.sql, {
    finished: opts.warmup + count,
    everyMs: BACKLOG_EVERY_MS,
    timeoutMs: opts.timeoutMs,
    onProgress: (b) =>
      opts.onProgress?.(
        `${stage} · backlog ${b.running + b.pending} · ${
          b.finished - opts.warmup
        }/${count} finished`,
      ),
  });
  // The watcher's failure surfaces where it is awaited, not as an unhandled rejection meanwhile.
  watching.catch(() => {});
  const cpuBefore = await readCpu(groups);
  const produced = await produceAtRate(run.url, all.slice(opts.warmup), {
    ratePerSecond: opts.ratePerSecond,
  });
  // From the first INSERT issued to the last commit: not the producer's pool opening or closing.
  const startMs = extreme(produced.sentAt, Math.min);
  const stopMs = extreme(produced.committedAt, Math.max);
  stage = "draining";
  const atStop = await readBacklog(run.sql);
  const { peak } = await watching;
  const cpuAfter = await readCpu(groups);

  const byStatus = await waitFinished(run.sql, opts.warmup + count, {
    timeoutMs: opts.timeoutMs,
  });
  if (byStatus.COMPLETED !== opts.warmup + count) {
    throw new Error(`expected ${opts.warmup + count} COMPLETED, got ${JSON.stringify(byStatus)}`);
  }
  const sorted = [...(await completedAt(run.sql, since)).values()].sort((a, b) => a - b);
  const lastMs = sorted.at(-1)!;
  const drainSagas = countBetween(sorted, stopMs, Infinity);
  const drainSeconds = (lastMs - stopMs) / 1000;
  return {
    ratePerSecond: opts.ratePerSecond,
    orders: count,
    committedPerSecond: commitRate(produced.committedAt, produced.loop.seconds),
    producerMaxLagMs: produced.loop.maxLagMs,
    achievedPerSecond: rateBetween(sorted, startMs, stopMs),
    backlogPeak: Math.max(peak, atStop.running + atStop.pending),
    backlogAtStop: atStop.running + atStop.pending,
    drainSagas,
    drainSeconds,
    drainPerSecond: drainSeconds > 0 ? drainSagas / drainSeconds : NaN,
    cpu: cpuPerSaga(cpuBefore, cpuAfter, count),
  };
}

function extreme(times: Map<string, number>, pick: (a: number, b: number) => number): number {
  let out = NaN;
  for (const t of times.values()) out = Number.isNaN(out) ? t : pick(out, t);
  return out;
}
