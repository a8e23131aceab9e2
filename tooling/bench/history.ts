// Cost as history grows: throughput and claim-cycle latency of one
// instance in three databases:
//
//   empty     a fresh database, as every other figure uses;
//   retained  `sagas` finished sagas with their events, steps and history
//             (history_seed.ts), kept: RETENTION_SECONDS=0;
//   sweeping  the same history, all of it older than the retention
//             (RETENTION_SECONDS at its default, 30 days), with the sweep
//             running every MAINTENANCE_INTERVAL_MS = 1 s, so it deletes
//             while the orders run; the sagas it deleted in the throughput
//             window are counted (orchestrator_retention_deleted_total).
//
// The history is seeded once into a template database; each run gets a copy
// (CREATE DATABASE … TEMPLATE, a file copy), so every run starts alike.
//
// Two runs per case, each on its own copy:
//   throughput     the 1-instance batch run (throughput.ts), as is (for the
//                  empty database, the main 1-instance runs are that run);
//   claim cycles   orders at a steady rate (load_latency.ts) while the
//                  orchestrator exports its spans with Deno's built-in
//                  OpenTelemetry to a receiver in this process
//                  (span_receiver.ts): the durations of its claim-cycle spans
//                  (src/telemetry.ts) that started in that run's window.
//                  Every span is exported (cycles chain as parent and child,
//                  so a sampler would keep whole chains or none), which costs
//                  the orchestrator CPU: hence a run of its own, at a rate it
//                  sustains, never the throughput run.
import postgres from "postgres";
import { createSql } from "../../src/db/client.ts";
import { freshDatabase } from "../cluster/mod.ts";
import { CYCLE_SPAN } from "../../src/telemetry.ts";
import { type BenchEnv, DB_NAME } from "./cluster.ts";
import type { CpuCost } from "./cpu.ts";
import { seedHistory } from "./history_seed.ts";
import { startSpanReceiver } from "./span_receiver.ts";
import { measureLoadLatency } from "./load_latency.ts";
import { type LatencySummary, summarizeLatency } from "./stats.ts";
import { measureThroughput, type ThroughputResult } from "./throughput.ts";

export type HistoryCase = "empty" | "retained" | "sweeping";
export const HISTORY_CASES: HistoryCase[] = ["empty", "retained", "sweeping"];

const TEMPLATE = "bench_history";
/** The orchestrator's default RETENTION_SECONDS: 30 days. */
const RETENTION_SECONDS = 30 * 24 * 3600;
const SWEEP_INTERVAL_MS = 1000;

export interface HistoryRun {
  sagasPerSecond: number;
  seconds: number;
  cpu: CpuCost;
  /** Finished sagas the retention sweep deleted during the throughput window. */
  sweptSagas: number;
  /** Orders per second offered in the claim-cycle run. */
  claimRatePerSecond: number;
  /** Durations of the claim cycles that started in the claim-cycle run's window. */
  claimCycle: LatencySummary;
}

/** Seeds the template once: migrated, with `sagas` finished sagas older than the retention. */
export async function seedHistoryTemplate(env: BenchEnv, sagas: number): Promise<void> {
  const fresh = await freshDatabase(env.db, TEMPLATE, { max: 1 });
  await fresh.sql.end({ timeout: 2 });
  // A day past the retention: the sweep deletes every one of them.
  await seedHistory(fresh.url, { sagas, olderThanSeconds: RETENTION_SECONDS + 86_400 });
}

/** Database DB_NAME as a copy of the seeded template. */
async function copyOfTemplate(env: BenchEnv) {
  const admin = postgres(env.db.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${DB_NAME} TEMPLATE ${TEMPLATE} STRATEGY FILE_COPY`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const url = env.db.url(DB_NAME);
  return { url, sql: createSql(url, { max: 4 }) };
}

const CASE_VARS: Record<HistoryCase, Record<string, string>> = {
  empty: {},
  retained: { RETENTION_SECONDS: "0" },
  sweeping: {
    RETENTION_SECONDS: String(RETENTION_SECONDS),
    MAINTENANCE_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
  },
};

export async function measureHistoryCase(
  env: BenchEnv,
  opts: {
    historyCase: HistoryCase;
    orders: number;
    warmup: number;
    /** Steady arrival rate and duration of the claim-cycle run. */
    claimRatePerSecond: number;
    claimSeconds: number;
    timeoutMs: number;
    /** This case's throughput run when it has been measured already. */
    throughput?: ThroughputResult;
    onProgress?(label: string): void;
  },
): Promise<HistoryRun> {
  const vars = CASE_VARS[opts.historyCase];
  const database = opts.historyCase === "empty" ? undefined : () => copyOfTemplate(env);
  const batch = opts.throughput ?? await measureThroughput(env, {
    orders: opts.orders,
    warmup: opts.warmup,
    instances: 1,
    timeoutMs: opts.timeoutMs,
    vars,
    database,
    counter: 'orchestrator_retention_deleted_total{table="order_ledger"}',
    onProgress: (n) => opts.onProgress?.(`throughput: ${n}/${opts.orders} finished`),
  });
  const receiver = startSpanReceiver(CYCLE_SPAN);
  try {
    const steady = await measureLoadLatency(env, {
      ratePerSecond: opts.claimRatePerSecond,
      seconds: opts.claimSeconds,
      warmup: opts.warmup,
      timeoutMs: opts.timeoutMs,
      vars: { ...receiver.env, ...vars },
      database,
      onProgress: (label) => opts.onProgress?.(`claim cycles: ${label}`),
    });
    // The instance has stopped (measureLoadLatency stops it): it flushed its last spans at exit.
    const cycles = receiver.durations(steady.window.fromMs, steady.window.toMs);
    if (cycles.length === 0) throw new Error("no claim-cycle span arrived from the orchestrator");
    return {
      sagasPerSecond: batch.sagasPerSecond,
      seconds: batch.seconds,
      cpu: batch.cpu,
      sweptSagas: batch.counterDelta,
      claimRatePerSecond: opts.claimRatePerSecond,
      claimCycle: summarizeLatency(cycles),
    };
  } finally {
    await receiver.close();
  }
}
