// The history figures' phases: seed the template once, then each database
// case (empty, kept, swept) as a phase of its own.
import type { BenchEnv } from "./cluster.ts";
import type { HistoryRuns } from "./history_figures.ts";
import {
  HISTORY_CASES,
  type HistoryCase,
  type HistoryRun,
  measureHistoryCase,
  seedHistoryTemplate,
} from "./history.ts";
import type { Phases } from "./phases.ts";
import { percentile } from "./stats.ts";
import type { ThroughputResult } from "./throughput.ts";

/** The claim-cycle runs at half our maximum: a rate every case sustains. */
const CLAIM_SHARE = 0.5;

export const HISTORY_PHASES = HISTORY_CASES.length;

export async function historyPhases(
  env: BenchEnv,
  phases: Phases,
  opts: {
    sagas: number;
    orders: number;
    warmup: number;
    claimSeconds: number;
    /** The main 1-instance runs: the empty database's throughput, and the claim runs' rate. */
    oneInstance: ThroughputResult[];
  },
): Promise<HistoryRuns> {
  phases.update(`seeding ${opts.sagas} finished sagas for the history figures…`);
  await seedHistoryTemplate(env, opts.sagas);
  const runs = {} as Record<HistoryCase, HistoryRun[]>;
  const maxRate = percentile(opts.oneInstance.map((r) => r.sagasPerSecond), 50);
  const claimRatePerSecond = Math.max(1, Math.round(CLAIM_SHARE * maxRate));
  for (const historyCase of HISTORY_CASES) {
    const label = `history: ${historyCase}${
      historyCase === "empty" ? "" : ` (${opts.sagas} finished sagas)`
    }`;
    runs[historyCase] = await phases.repeat(label, (run) =>
      measureHistoryCase(env, {
        historyCase,
        orders: opts.orders,
        warmup: opts.warmup,
        claimRatePerSecond,
        claimSeconds: opts.claimSeconds,
        timeoutMs: 600_000,
        // A fresh, empty database is what the main 1-instance runs used.
        throughput: historyCase === "empty"
          ? opts.oneInstance[(run - 1) % opts.oneInstance.length]
          : undefined,
        onProgress: (detail) => phases.status(label, run, detail),
      }));
  }
  return { seededSagas: opts.sagas, claimSeconds: opts.claimSeconds, runs };
}
