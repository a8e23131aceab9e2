// Cost as history grows, in the results: each database case's runs as
// figures (throughput and its ratio to the empty database run by run, CPU,
// claim-cycle latency, sagas swept), and their rows in the table.
import type { HistoryCase, HistoryRun } from "./history.ts";
import { pairedSpread, type Spread, spreadOf } from "./stats.ts";
import { row } from "./table_row.ts";

export interface HistoryCaseFigures {
  sagasPerSecond: Spread;
  /** This case's sagas/s divided by the empty database's, run by run. */
  ratioToEmpty: Spread;
  orchestratorMsPerSaga: Spread;
  postgresMsPerSaga: Spread;
  servicesMsPerSaga: Spread;
  sweptSagas: Spread;
  claimRatePerSecond: number;
  claimCycle: { samples: Spread; p50Ms: Spread; p99Ms: Spread; maxMs: Spread };
}

export interface HistoryFigures {
  /** Finished sagas seeded (with their events, steps and history) for retained and sweeping. */
  seededSagas: number;
  claimSeconds: number;
  cases: Record<HistoryCase, HistoryCaseFigures>;
}

export interface HistoryRuns {
  seededSagas: number;
  claimSeconds: number;
  runs: Record<HistoryCase, HistoryRun[]>;
}

function caseFigures(runs: HistoryRun[], empty: HistoryRun[]): HistoryCaseFigures {
  return {
    sagasPerSecond: spreadOf(runs, (r) => r.sagasPerSecond),
    ratioToEmpty: pairedSpread(empty, runs, (e, r) => r.sagasPerSecond / e.sagasPerSecond),
    orchestratorMsPerSaga: spreadOf(runs, (r) => r.cpu.msPerSaga.orchestrator ?? NaN),
    postgresMsPerSaga: spreadOf(runs, (r) => r.cpu.msPerSaga.postgres ?? NaN),
    servicesMsPerSaga: spreadOf(runs, (r) => r.cpu.msPerSaga.services ?? NaN),
    sweptSagas: spreadOf(runs, (r) => r.sweptSagas),
    claimRatePerSecond: runs[0]!.claimRatePerSecond,
    claimCycle: {
      samples: spreadOf(runs, (r) => r.claimCycle.samples),
      p50Ms: spreadOf(runs, (r) => r.claimCycle.p50Ms),
      p99Ms: spreadOf(runs, (r) => r.claimCycle.p99Ms),
      maxMs: spreadOf(runs, (r) => r.claimCycle.maxMs),
    },
  };
}

export function historyFigures(h: HistoryRuns): HistoryFigures {
  const empty = h.runs.empty;
  return {
    seededSagas: h.seededSagas,
    claimSeconds: h.claimSeconds,
    cases: {
      empty: caseFigures(empty, empty),
      retained: caseFigures(h.runs.retained, empty),
      sweeping: caseFigures(h.runs.sweeping, empty),
    },
  };
}

const LABELS: Record<HistoryCase, (sagas: string) => string> = {
  empty: () => "empty database (the 1-instance runs)",
  retained: (n) => `${n} finished sagas kept`,
  sweeping: (n) => `${n} finished sagas, retention sweep running`,
};

export function historyRows(f: HistoryFigures): string[][] {
  const sagas = f.seededSagas.toLocaleString("en-US");
  const rows: string[][] = [];
  for (const key of ["empty", "retained", "sweeping"] as const) {
    const c = f.cases[key];
    rows.push(
      row(`history: sagas/s, 1 instance, ${LABELS[key](sagas)}`, c.sagasPerSecond, "sagas/s"),
      ...(key === "empty" ? [] : [row("  ÷ empty database", c.ratioToEmpty, "ratio", 2)]),
      row("  CPU per saga: orchestrator", c.orchestratorMsPerSaga, "ms", 2),
      row("  CPU per saga: PostgreSQL", c.postgresMsPerSaga, "ms", 2),
      row(
        `  claim cycle p50 (at ${c.claimRatePerSecond.toFixed(0)} orders/s)`,
        c.claimCycle.p50Ms,
        "ms",
      ),
      row("  claim cycle p99", c.claimCycle.p99Ms, "ms"),
      row("  claim cycle max", c.claimCycle.maxMs, "ms"),
      ...(key === "sweeping"
        ? [row("  sagas deleted by the sweep in the window", c.sweptSagas, "sagas", 0)]
        : []),
    );
  }
  return rows;
}
