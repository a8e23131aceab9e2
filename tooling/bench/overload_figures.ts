// Overload in the results: offered, committed and achieved rates, the backlog
// peak, the drain rate against our measured maximum and the orchestrator's
// CPU per saga against the steady throughput runs' (run by run), the issue's
// goals, and their rows.
import { atLeast, atMost, type Goal, goalText } from "./goals.ts";
import type { OverloadResult } from "./overload.ts";
import { mapSpread, pairedSpread, type Spread, spreadOf } from "./stats.ts";
import { row } from "./table_row.ts";
import type { ThroughputResult } from "./throughput.ts";

/** The goals: CPU per saga within 1.2 × the steady figure; drain at ≥ 0.9 × the maximum. */
export const CPU_RATIO_GOAL = 1.2;
export const DRAIN_RATIO_GOAL = 0.9;

export interface OverloadFigures {
  /** The offered rate, and as a multiple of our measured 1-instance maximum. */
  ratePerSecond: number;
  share: number;
  seconds: number;
  /** The maximum the ratios are taken against: the 1-instance throughput's median. */
  maxRatePerSecond: number;
  committedPerSecond: Spread;
  producerMaxLagMs: Spread;
  achievedPerSecond: Spread;
  backlogPeak: Spread;
  backlogAtStop: Spread;
  drainPerSecond: Spread;
  /** Drain sagas/s ÷ our maximum. */
  drainRatio: Spread;
  orchestratorMsPerSaga: Spread;
  postgresMsPerSaga: Spread;
  /** Orchestrator CPU per saga ÷ the 1-instance throughput run's, run by run. */
  cpuRatio: Spread;
  goals: { cpuRatio: Goal; drainRatio: Goal };
}

export interface OverloadRuns {
  share: number;
  seconds: number;
  maxRatePerSecond: number;
  runs: OverloadResult[];
}

export function overloadFigures(o: OverloadRuns, steady: ThroughputResult[]): OverloadFigures {
  const { runs } = o;
  const drainPerSecond = spreadOf(runs, (r) => r.drainPerSecond);
  const drainRatio = mapSpread(drainPerSecond, (v) => v / o.maxRatePerSecond);
  const cpuRatio = pairedSpread(
    steady,
    runs,
    (s, r) => (r.cpu.msPerSaga.orchestrator ?? NaN) / (s.cpu.msPerSaga.orchestrator ?? NaN),
  );
  return {
    ratePerSecond: runs[0]!.ratePerSecond,
    share: o.share,
    seconds: o.seconds,
    maxRatePerSecond: o.maxRatePerSecond,
    committedPerSecond: spreadOf(runs, (r) => r.committedPerSecond),
    producerMaxLagMs: spreadOf(runs, (r) => r.producerMaxLagMs),
    achievedPerSecond: spreadOf(runs, (r) => r.achievedPerSecond),
    backlogPeak: spreadOf(runs, (r) => r.backlogPeak),
    backlogAtStop: spreadOf(runs, (r) => r.backlogAtStop),
    drainPerSecond,
    drainRatio,
    orchestratorMsPerSaga: spreadOf(runs, (r) => r.cpu.msPerSaga.orchestrator ?? NaN),
    postgresMsPerSaga: spreadOf(runs, (r) => r.cpu.msPerSaga.postgres ?? NaN),
    cpuRatio,
    goals: {
      cpuRatio: atMost(cpuRatio.median, CPU_RATIO_GOAL),
      drainRatio: atLeast(drainRatio.median, DRAIN_RATIO_GOAL),
    },
  };
}

export function overloadRows(f: OverloadFigures): string[][] {
  return [
    row(
      `overload: ${f.ratePerSecond} orders/s offered (${Math.round(f.share * 100)} % of our max) ` +
        `for ${f.seconds} s, committed by the producer`,
      f.committedPerSecond,
      "orders/s",
    ),
    row("  achieved: sagas/s to COMPLETED while orders arrived", f.achievedPerSecond, "sagas/s"),
    row("  backlog peak (RUNNING + pending outbox)", f.backlogPeak, "sagas", 0),
    row("  backlog when the orders stopped", f.backlogAtStop, "sagas", 0),
    row("  drain: sagas/s to COMPLETED after the orders stopped", f.drainPerSecond, "sagas/s"),
    row(
      `  drain ÷ our max, ${f.maxRatePerSecond.toFixed(1)} sagas/s ` +
        `(${goalText(f.goals.drainRatio)})`,
      f.drainRatio,
      "ratio",
      2,
    ),
    row(
      "  orchestrator CPU per saga, overload + drain",
      f.orchestratorMsPerSaga,
      "ms",
      2,
    ),
    row(
      `  ÷ the 1-instance throughput run's (${goalText(f.goals.cpuRatio)})`,
      f.cpuRatio,
      "ratio",
      2,
    ),
  ];
}
