// A struggling downstream service in the results: each window's throughput
// and calls per saga, the slow window's calls per saga against the healthy
// one's run by run, the recovery time, the goals, and their rows.
import { atMost, type Goal, goalText } from "./goals.ts";
import {
  HEALTHY_LATENCY_MS,
  RECOVERED_SHARE,
  SLOW_LATENCY_MS,
  SLOW_SERVICE,
  type SlowServiceResult,
  type SlowWindow,
} from "./slow_service.ts";
import { percentile, type Spread, spreadOf } from "./stats.ts";
import { row } from "./table_row.ts";

/** The goals: calls per saga while slow at most 1.2 × healthy; back within 10 s. */
export const CALLS_RATIO_GOAL = 1.2;
export const RECOVERY_GOAL_SECONDS = 10;

export interface SlowWindowFigures {
  seconds: number;
  sagasPerSecond: Spread;
  /** For the orders sent in the window: every call their sagas made ÷ their number. */
  callsPerSaga: Spread;
  /** Their commit → COMPLETED, median. */
  endToEndP50Ms: Spread;
}

export interface SlowServiceFigures {
  service: string;
  /** Added latency of the service while healthy and while slow, ms. */
  healthyLatencyMs: number;
  slowLatencyMs: number;
  /** The offered rate, and as a share of our measured 1-instance maximum. */
  ratePerSecond: number;
  share: number;
  committedPerSecond: Spread;
  healthy: SlowWindowFigures;
  slow: SlowWindowFigures;
  recovered: SlowWindowFigures;
  /** Calls per saga over the whole run. */
  callsPerSaga: Spread;
  /** Calls per saga while slow ÷ while healthy, run by run. */
  callsPerSagaRatio: Spread;
  /** Seconds from recovery until a 1 s window is back at `recoveredShare` of the healthy rate. */
  recoverySeconds: Spread;
  recoveredShare: number;
  /** Runs whose throughput was back before their orders ran out (the others count as never). */
  runsBack: number;
  goals: { callsPerSagaRatio: Goal; recoverySeconds: Goal };
}

export interface SlowServiceRuns {
  share: number;
  runs: SlowServiceResult[];
}

function windowFigures(runs: SlowServiceResult[], pick: (r: SlowServiceResult) => SlowWindow) {
  return {
    seconds: pick(runs[0]!).seconds,
    sagasPerSecond: spreadOf(runs, (r) => pick(r).sagasPerSecond),
    callsPerSaga: spreadOf(runs, (r) => pick(r).callsPerSaga),
    endToEndP50Ms: spreadOf(runs, (r) => pick(r).endToEndP50Ms),
  };
}

export function slowServiceFigures(s: SlowServiceRuns): SlowServiceFigures {
  const { runs } = s;
  const ratio = spreadOf(runs, (r) => r.slow.callsPerSaga / r.healthy.callsPerSaga);
  // A run never back within its orders is "never" for the goal, not its lower bound.
  const recovery = percentile(
    runs.map((r) => r.backWithinRun ? r.recoverySeconds : Infinity),
    50,
  );
  return {
    service: SLOW_SERVICE,
    healthyLatencyMs: HEALTHY_LATENCY_MS,
    slowLatencyMs: SLOW_LATENCY_MS,
    ratePerSecond: runs[0]!.ratePerSecond,
    share: s.share,
    committedPerSecond: spreadOf(runs, (r) => r.committedPerSecond),
    healthy: windowFigures(runs, (r) => r.healthy),
    slow: windowFigures(runs, (r) => r.slow),
    recovered: windowFigures(runs, (r) => r.recovered),
    callsPerSaga: spreadOf(runs, (r) => r.callsPerSaga),
    callsPerSagaRatio: ratio,
    recoverySeconds: spreadOf(runs, (r) => r.recoverySeconds),
    recoveredShare: RECOVERED_SHARE,
    runsBack: runs.filter((r) => r.backWithinRun).length,
    goals: {
      callsPerSagaRatio: atMost(ratio.median, CALLS_RATIO_GOAL),
      recoverySeconds: atMost(recovery, RECOVERY_GOAL_SECONDS),
    },
  };
}

export function slowServiceRows(f: SlowServiceFigures): string[][] {
  const runs = f.recoverySeconds.runs.length;
  return [
    row(
      `struggling ${f.service}: ${f.healthyLatencyMs} → ${f.slowLatencyMs} ms for ${
        f.slow.seconds.toFixed(0)
      } s, ` +
        `${f.ratePerSecond} orders/s (${Math.round(f.share * 100)} % of our max): ` +
        `calls per saga, healthy`,
      f.healthy.callsPerSaga,
      "calls",
      2,
    ),
    row("  calls per saga while slow", f.slow.callsPerSaga, "calls", 2),
    row(
      `  slow ÷ healthy (${goalText(f.goals.callsPerSagaRatio)})`,
      f.callsPerSagaRatio,
      "ratio",
      2,
    ),
    row("  calls per saga, whole run", f.callsPerSaga, "calls", 2),
    row("  sagas/s to COMPLETED before the slowdown", f.healthy.sagasPerSecond, "sagas/s"),
    row("  during the slowdown", f.slow.sagasPerSecond, "sagas/s"),
    row("  after recovery", f.recovered.sagasPerSecond, "sagas/s"),
    row("  commit → COMPLETED p50, orders sent before the slowdown", f.healthy.endToEndP50Ms, "ms"),
    row("  orders sent during the slowdown", f.slow.endToEndP50Ms, "ms"),
    row(
      `  recovery → throughput at ${f.recoveredShare * 100} % of before ` +
        `(${goalText(f.goals.recoverySeconds, " s")}; back in ${f.runsBack}/${runs} runs)`,
      f.recoverySeconds,
      "s",
    ),
  ];
}
