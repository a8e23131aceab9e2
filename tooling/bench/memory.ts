// Resident memory of one orchestrator process holding N sagas that all wait
// on a slow service: Payments answers captures only after a long delay (a
// fault rule), HTTP_TIMEOUT_MS is longer still, SAGA_CONCURRENCY and
// SERVICE_CONCURRENCY_MAX = N. VmRSS once every capture call has arrived at
// Payments.
import { fetchStats, setFaults } from "../reference_services/mod.ts";
import { startService } from "../cluster/mod.ts";
import { type BenchEnv, type Run, withInstances } from "./cluster.ts";
import { residentMemory } from "./machine.ts";
import { happyOrders, insertAll } from "./orders.ts";

export interface MemoryResult {
  sagas: number;
  /** VmRSS while every saga waits, MiB. */
  rssMiB: number;
  /** VmHWM (peak resident) at that moment, MiB. */
  peakMiB: number;
  /** VmRSS of the same process idle, before the orders, MiB. */
  idleRssMiB: number;
  /** Seconds until every capture call had arrived. */
  secondsToWaiting: number;
}

const HOLD_MS = 300_000;

async function captureCalls(paymentsUrl: string): Promise<number> {
  const stats = await fetchStats(paymentsUrl, { log: false });
  return Object.entries(stats.calls)
    .filter(([route]) => route.includes("/payments/capture"))
    .reduce((sum, [, n]) => sum + n, 0);
}

export async function measureMemory(
  env: BenchEnv,
  opts: { sagas: number; timeoutMs: number; onProgress?(waiting: number): void },
): Promise<MemoryResult> {
  const vars = {
    SAGA_CONCURRENCY: String(Math.max(64, opts.sagas)),
    // Every saga's capture must be in flight at once; the per-service limit
    // (128 by default) would hold the rest back in the orchestrator's queue.
    SERVICE_CONCURRENCY_MAX: String(Math.max(128, opts.sagas)),
    HTTP_TIMEOUT_MS: String(2 * HOLD_MS),
  };
  // A Payments process of its own: stopping it afterwards ends the hanging calls.
  const slow = await startService(env.group, "payments", {
    logFile: `${env.logDir}/payments-slow.log`,
  });
  const payments = slow.url;
  try {
    return await withInstances(env, 1, vars, (run) => hold(run, payments, env, opts), {
      services: { ...env.services.urls, payments },
    });
  } finally {
    await env.group.stop(slow.child);
  }
}

async function hold(
  run: Run,
  payments: string,
  env: BenchEnv,
  opts: { sagas: number; timeoutMs: number; onProgress?(waiting: number): void },
): Promise<MemoryResult> {
  // After withInstances' reset: every capture hangs for HOLD_MS.
  await setFaults(payments, { rules: [{ path: "/payments/capture", delayMs: HOLD_MS }] });
  const pid = run.instances[0]!.child.pid;
  await new Promise((r) => setTimeout(r, 1000));
  const idle = await residentMemory(pid);
  const started = performance.now();
  await insertAll(run.sql, happyOrders(opts.sagas, 4242));
  const until = Date.now() + opts.timeoutMs;
  for (;;) {
    const waiting = await captureCalls(payments);
    opts.onProgress?.(waiting);
    if (waiting >= opts.sagas) break;
    if (Date.now() > until) {
      throw new Error(`only ${waiting} of ${opts.sagas} sagas reached the capture in time`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const secondsToWaiting = (performance.now() - started) / 1000;
  // Let the last transitions settle, then read.
  await new Promise((r) => setTimeout(r, 2000));
  const held = await residentMemory(pid);
  // Nothing more to learn: do not wait for the grace period on hanging calls.
  await env.group.stop(run.instances[0]!.child, "SIGKILL");
  return {
    sagas: opts.sagas,
    rssMiB: held.rssMiB,
    peakMiB: held.hwmMiB,
    idleRssMiB: idle.rssMiB,
    secondsToWaiting,
  };
}
