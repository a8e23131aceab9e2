// How every saga engine is timed, the same way as the orchestrator
// (tooling/bench/throughput.ts): warm-up orders first, run to completion untimed
// on the same processes; then the clock starts at the moment the first
// measured order is handed to the engine and stops at the last completion
// the engine itself recorded (its own timestamp, read afterwards), so the
// producer's hand-over is inside the window. CPU is read per process group
// around the same window.
//
// A saga the engine finished but did not complete (a failed invocation) is
// counted and reported, never a reason to abort: one peer's failure must not
// discard every other figure of a half-hour run.
import { type CpuCost, type CpuGroups, cpuPerSaga, readCpu } from "../cpu.ts";
import { nowMs } from "../orders.ts";

export interface SagaPeerRun {
  sagas: number;
  /** Measured sagas the engine finished without completing them (failed invocations). */
  failed: number;
  /** Every measured saga the engine finished, completed or not, per second. */
  sagasPerSecond: number;
  /** First order handed over → last saga finished. */
  seconds: number;
  /** First order handed over → the engine had accepted the last one. */
  handOverSeconds: number;
  cpu: CpuCost;
}

/** What the timing needs from one engine. */
export interface SagaEngineDriver {
  /** Hands orders from..from+count-1 to the engine; resolves once it has accepted all. */
  hand(from: number, count: number): Promise<void>;
  /** Sagas finished so far (every order ever handed), and how many of them did not complete. */
  progress(): Promise<{ finished: number; failed: number }>;
  /** Epoch milliseconds of the last completion the engine recorded. */
  lastFinishedMs(): Promise<number>;
  cpuGroups: CpuGroups;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFinished(
  driver: SagaEngineDriver,
  count: number,
  opts: { timeoutMs: number; pollMs: number; onProgress?(finished: number): void },
): Promise<{ failed: number }> {
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    const { finished, failed } = await driver.progress();
    opts.onProgress?.(finished);
    if (finished >= count) return { failed };
    if (Date.now() > until) {
      throw new Error(`only ${finished} of ${count} sagas finished within ${opts.timeoutMs} ms`);
    }
    await sleep(opts.pollMs);
  }
}

export async function timeSagaEngine(
  driver: SagaEngineDriver,
  opts: {
    warmup: number;
    orders: number;
    timeoutMs: number;
    /** How often completion is checked; the window's end comes from the engine's timestamps. */
    pollMs: number;
    onProgress?(finished: number): void;
  },
): Promise<SagaPeerRun> {
  let failedBefore = 0;
  if (opts.warmup > 0) {
    await driver.hand(0, opts.warmup);
    ({ failed: failedBefore } = await waitFinished(driver, opts.warmup, {
      timeoutMs: opts.timeoutMs,
      pollMs: opts.pollMs,
    }));
  }
  const before = await readCpu(driver.cpuGroups);
  const started = nowMs();
  await driver.hand(opts.warmup, opts.orders);
  const handOverSeconds = (nowMs() - started) / 1000;
  const { failed } = await waitFinished(driver, opts.warmup + opts.orders, {
    timeoutMs: opts.timeoutMs,
    pollMs: opts.pollMs,
    onProgress: (n) => opts.onProgress?.(n - opts.warmup),
  });
  const after = await readCpu(driver.cpuGroups);
  const seconds = (await driver.lastFinishedMs() - started) / 1000;
  return {
    sagas: opts.orders,
    failed: failed - failedBefore,
    sagasPerSecond: opts.orders / seconds,
    seconds,
    handOverSeconds,
    cpu: cpuPerSaga(before, after, opts.orders),
  };
}
