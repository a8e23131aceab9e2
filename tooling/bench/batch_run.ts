// The orchestrator's own cost on a batch of sagas, as cpu_ab.ts and
// profile.ts measure it: warm-up orders run to completion untimed, then the
// measured orders inserted 100 to a statement; sagas/s from the first insert
// to the last saga finished, and the instance's CPU (/proc) in that window.
import type { Sql } from "../../src/db/client.ts";
import { readCpu } from "./cpu.ts";
import { happyOrders, insertAll, waitFinished } from "./orders.ts";

export const WARMUP_ORDERS = 500;

export interface Batch {
  /** Runs the warm-up orders to completion; call before `measure`. */
  warmUp(): Promise<void>;
  /** Inserts the measured orders and waits for them: sagas/s and CPU ms per saga. */
  measure(opts?: { everyMs?: number }): Promise<{ sagasPerSecond: number; cpuMsPerSaga: number }>;
}

export function batchRun(sql: Sql, pid: number, sagas: number, seed: number): Batch {
  const orders = happyOrders(WARMUP_ORDERS + sagas, seed);
  const cpuMs = async () =>
    (await readCpu({ processes: { orchestrator: [pid] }, trees: {} })).groups.orchestrator!;
  return {
    async warmUp() {
      await insertAll(sql, orders.slice(0, WARMUP_ORDERS));
      await waitFinished(sql, WARMUP_ORDERS, { timeoutMs: 120_000 });
    },
    async measure(opts = {}) {
      const cpuBefore = await cpuMs();
      const started = performance.now();
      for (let i = WARMUP_ORDERS; i < orders.length; i += 100) {
        await insertAll(sql, orders.slice(i, i + 100));
      }
      await waitFinished(sql, orders.length, { timeoutMs: 600_000, everyMs: opts.everyMs });
      const seconds = (performance.now() - started) / 1000;
      return {
        sagasPerSecond: sagas / seconds,
        cpuMsPerSaga: (await cpuMs() - cpuBefore) / sagas,
      };
    },
  };
}
