// A struggling downstream service: orders arrive at a steady rate (open loop,
// edge_producer.ts) into one orchestrator instance with its defaults; after
// `healthySeconds` Payments answers ten times slower for `slowSeconds`, then
// recovers, and the load goes on for `healthySeconds` more.
//
// "Ten times slower" needs a normal time to multiply. The reference services
// add no latency by default, and their bare answer (well under a
// millisecond, mostly this machine's scheduling) is too noisy to be a
// baseline, so Payments gets a fixed added latency for the whole run: 5 ms
// healthy (warm-up included), 50 ms while struggling. The service's own
// processing comes on top of both.
//
// Per window (healthy, slow, recovered): sagas/s to COMPLETED (by when they
// completed), and the calls the three services received per saga (for the
// sagas whose order was sent in the window, every call each of them made,
// counted by the services per Idempotency-Key: service_calls.ts). A happy
// saga makes 4; a figure below 4 is a counting bug, not a fast saga.
//
// Recovery: from the moment the service answers fast again, the time until a
// 1 s window of completions is back at 90 % of the healthy window's rate.
import { setFaults } from "../reference_services/mod.ts";
import type { ServiceName } from "../reference_services/mod.ts";
import { type BenchEnv, type Run, withInstances } from "./cluster.ts";
import { produceAtRate } from "./edge_producer.ts";
import { commitRate } from "./load_latency.ts";
import { completedAt, happyOrders, insertAll, nowMs, serverNow, waitFinished } from "./orders.ts";
import { callsByOrder } from "./service_calls.ts";
import { percentile } from "./stats.ts";
import { rateBetween, secondsUntilRate } from "./timeline.ts";

export const SLOW_SERVICE: ServiceName = "payments";
/** Payments' added latency while healthy, and while struggling (ten times that). */
export const HEALTHY_LATENCY_MS = 5;
export const SLOW_LATENCY_MS = 10 * HEALTHY_LATENCY_MS;
/** "Back": a window of completions at this share of the healthy rate. */
export const RECOVERED_SHARE = 0.9;
const RECOVERY_WINDOW_MS = 1000;
const RECOVERY_STEP_MS = 100;

export interface SlowWindow {
  seconds: number;
  /** Sagas that reached COMPLETED in the window, per second. */
  sagasPerSecond: number;
  /** Orders sent in the window, and the calls their sagas made. */
  sagas: number;
  calls: number;
  callsPerSaga: number;
  /** Their commit → COMPLETED, median. */
  endToEndP50Ms: number;
}

export interface SlowServiceResult {
  ratePerSecond: number;
  orders: number;
  /** Orders committed per second by the producer: below the rate if it fell behind. */
  committedPerSecond: number;
  producerMaxLagMs: number;
  healthy: SlowWindow;
  slow: SlowWindow;
  /** From the service's recovery to the last order sent. */
  recovered: SlowWindow;
  /** Every saga's calls ÷ every saga. */
  callsPerSaga: number;
  /**
   * Seconds from the service's recovery until throughput was back (see
   * above); when it never was within the run, the recovered window's length
   * (a lower bound) and `backWithinRun` false.
   */
  recoverySeconds: number;
  backWithinRun: boolean;
}

interface SlowOptions {
  ratePerSecond: number;
  healthySeconds: number;
  slowSeconds: number;
  warmup: number;
  timeoutMs: number;
  onProgress?(detail: string): void;
}

export async function measureSlowService(
  env: BenchEnv,
  opts: SlowOptions,
): Promise<SlowServiceResult> {
  return await withInstances(env, 1, {}, async (run) => {
    try {
      return await slowRun(env, run, opts);
    } finally {
      // The next run's reset would do it too; a phase leaves nothing slow behind.
      await setFaults(env.services.urls[SLOW_SERVICE], {});
    }
  });
}

async function slowRun(env: BenchEnv, run: Run, opts: SlowOptions): Promise<SlowServiceResult> {
  const latency = (latencyMs: number) => setFaults(env.services.urls[SLOW_SERVICE], { latencyMs });
  // A boundary between windows: the moment the service's latency changed.
  const mark = async (latencyMs: number): Promise<number> => {
    await latency(latencyMs);
    return nowMs();
  };
  await latency(HEALTHY_LATENCY_MS);
  const rate = opts.ratePerSecond;
  const slowAt = Math.round(rate * opts.healthySeconds);
  const backAt = Math.round(rate * (opts.healthySeconds + opts.slowSeconds));
  const count = Math.round(rate * (2 * opts.healthySeconds + opts.slowSeconds));
  const all = happyOrders(opts.warmup + count, 91 + count);
  if (opts.warmup > 0) {
    await insertAll(run.sql, all.slice(0, opts.warmup));
    await waitFinished(run.sql, opts.warmup, { timeoutMs: opts.timeoutMs, everyMs: 50 });
  }
  const since = await serverNow(run.sql);
  const orders = all.slice(opts.warmup);

  // The boundaries are cued by the orders themselves, as they fall due, so
  // the windows are exactly the load's schedule; each waits for the last.
  const marks: Promise<number>[] = [];
  const cue = (latencyMs: number) => {
    const previous = marks.at(-1);
    marks.push((previous ?? Promise.resolve()).then(() => mark(latencyMs)));
  };
  let phase = "healthy";
  const produced = await produceAtRate(run.url, orders, {
    ratePerSecond: rate,
    onDue: (i) => {
      if (i === slowAt) {
        cue(SLOW_LATENCY_MS);
        phase = `${SLOW_SERVICE} at ${SLOW_LATENCY_MS} ms`;
      }
      if (i === backAt) {
        cue(HEALTHY_LATENCY_MS);
        phase = "recovered";
      }
    },
    onProgress: (n) => opts.onProgress?.(`${phase} · ${n}/${count} orders placed`),
  });
  const loopEndMs = nowMs();
  const [slow, back] = await Promise.all(marks);
  const start = produced.sentAt.get(orders[0]!.order_id)!;
  const byStatus = await waitFinished(run.sql, opts.warmup + count, {
    timeoutMs: opts.timeoutMs,
    everyMs: 100,
    onProgress: (n) => opts.onProgress?.(`${n - opts.warmup}/${count} finished`),
  });
  if (byStatus.COMPLETED !== opts.warmup + count) {
    throw new Error(`expected ${opts.warmup + count} COMPLETED, got ${JSON.stringify(byStatus)}`);
  }
  const done = await completedAt(run.sql, since);
  const calls = await callsByOrder(env.services.urls);
  const sorted = [...done.values()].sort((a, b) => a - b);
  const window = (fromMs: number, toMs: number): SlowWindow => {
    let sagas = 0;
    let made = 0;
    const latencies: number[] = [];
    for (const [id, sent] of produced.sentAt) {
      if (sent < fromMs || sent >= toMs) continue;
      sagas++;
      made += calls.get(id) ?? 0;
      latencies.push(done.get(id)! - produced.committedAt.get(id)!);
    }
    return {
      seconds: (toMs - fromMs) / 1000,
      sagasPerSecond: rateBetween(sorted, fromMs, toMs),
      sagas,
      calls: made,
      callsPerSaga: sagas > 0 ? made / sagas : NaN,
      endToEndP50Ms: percentile(latencies, 50),
    };
  };
  const healthy = window(start, slow!);
  const recoverySeconds = secondsUntilRate(sorted, {
    fromMs: back!,
    untilMs: loopEndMs,
    targetPerSecond: RECOVERED_SHARE * healthy.sagasPerSecond,
    windowMs: RECOVERY_WINDOW_MS,
    stepMs: RECOVERY_STEP_MS,
  });
  return {
    ratePerSecond: rate,
    orders: count,
    committedPerSecond: commitRate(produced.committedAt, produced.loop.seconds),
    producerMaxLagMs: produced.loop.maxLagMs,
    healthy,
    slow: window(slow!, back!),
    // Throughput while orders still arrive.
    recovered: window(back!, loopEndMs),
    callsPerSaga: orders.reduce((sum, o) => sum + (calls.get(o.order_id) ?? 0), 0) / count,
    recoverySeconds: recoverySeconds ?? (loopEndMs - back!) / 1000,
    backWithinRun: recoverySeconds !== undefined,
  };
}
