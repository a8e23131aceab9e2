// Latency under load in the results: the runs of one arrival rate (ours or
// a peer's) as figures, and their rows in the table.
import type { LoadLatencyResult } from "./load_latency.ts";
import { type Spread, spreadOf } from "./stats.ts";
import { row } from "./table_row.ts";

export interface LatencyFigures {
  p50Ms: Spread;
  p99Ms: Spread;
  maxMs: Spread;
}

export interface LoadFigures {
  /** The rate as a share of our measured 1-instance maximum (0.5, 0.8). */
  share: number;
  /** Offered orders per second. */
  ratePerSecond: number;
  seconds: number;
  orders: number;
  /** Orders finished without completing, summed over the runs (left out of the latencies). */
  failed: number;
  /** Commits (or accepted sends) per second: below the rate if the producer fell behind. */
  committedPerSecond: Spread;
  producerMaxLagMs: Spread;
  /** Commit → finished (COMPLETED, or the peer's completion). */
  endToEnd: LatencyFigures;
  /** Commit → first downstream call. */
  wakeup: LatencyFigures;
}

export interface LoadRuns {
  share: number;
  seconds: number;
  runs: LoadLatencyResult[];
}

export function loadFigures(load: LoadRuns): LoadFigures {
  const { runs } = load;
  const latency = (key: "endToEnd" | "wakeup"): LatencyFigures => ({
    p50Ms: spreadOf(runs, (r) => r[key].p50Ms),
    p99Ms: spreadOf(runs, (r) => r[key].p99Ms),
    maxMs: spreadOf(runs, (r) => r[key].maxMs),
  });
  return {
    share: load.share,
    ratePerSecond: runs[0]!.ratePerSecond,
    seconds: load.seconds,
    orders: runs[0]!.orders,
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    committedPerSecond: spreadOf(runs, (r) => r.committedPerSecond),
    producerMaxLagMs: spreadOf(runs, (r) => r.producerMaxLagMs),
    endToEnd: latency("endToEnd"),
    wakeup: latency("wakeup"),
  };
}

/** `engine` names whose latency it is, e.g. "ours" or "Restate workflow". */
export function loadRows(engine: string, f: LoadFigures, done = "COMPLETED"): string[][] {
  const pct = Math.round(f.share * 100);
  return [
    row(
      `${engine}: commit → ${done} p50, ${f.ratePerSecond.toFixed(0)} orders/s ` +
        `(${pct} % of our max) for ${f.seconds} s`,
      f.endToEnd.p50Ms,
      "ms",
    ),
    row("  p99", f.endToEnd.p99Ms, "ms"),
    row("  max", f.endToEnd.maxMs, "ms"),
    row("  wake-up p50 (commit → first call)", f.wakeup.p50Ms, "ms"),
    row("  wake-up p99", f.wakeup.p99Ms, "ms"),
    row("  wake-up max", f.wakeup.maxMs, "ms"),
    row("  orders committed per second (producer)", f.committedPerSecond, "orders/s"),
    ...(f.failed > 0 ? [failedRow(f.failed, "left out of the latencies above")] : []),
  ];
}

/** Shown only when something failed: a count over all runs, not a spread. */
export function failedRow(failed: number, how: string): string[] {
  return [`  finished without completing, all runs (${how})`, String(failed), "—", "sagas"];
}
