// The peers in the results: each engine's runs as figures (throughput, CPU
// per saga by process group, our ratio to it, run by run against our
// 1-instance runs), and their rows in the table.
import type { CpuCost } from "./cpu.ts";
import {
  failedRow,
  type LoadFigures,
  loadFigures,
  loadRows,
  type LoadRuns,
} from "./load_figures.ts";
import type { DbosQueue, DbosRun } from "./peer/dbos.ts";
import type { GraphileWorkerRun } from "./peer/graphile_worker.ts";
import type { RestateRun } from "./peer/restate.ts";
import { STEPS_PER_SAGA } from "./orders.ts";
import { pairedSpread, type Spread, spreadOf } from "./stats.ts";
import { row } from "./table_row.ts";
import type { ThroughputResult } from "./throughput.ts";

/** An engine's run, with our sagas/s in the run of ours just before it. */
export type Beside<T> = T & { oursBeside: number };

export interface PeerRuns {
  graphileWorker: {
    concurrency: number;
    unbatched: GraphileWorkerRun[];
    batched: GraphileWorkerRun[];
  };
  dbos: { queue: DbosQueue; direct: Beside<DbosRun>[]; queued: Beside<DbosRun>[] };
  restate: {
    sendConcurrency: number;
    workflow: Beside<RestateRun>[];
    machine: Beside<RestateRun>[];
    /** Latency under load at the same absolute rates as ours (50 %, 80 % of our max). */
    load: LoadRuns[];
  };
}

/** One saga engine against ours. */
export interface SagaEngineFigures {
  sagas: number;
  /** Measured sagas finished without completing, summed over the runs. */
  failed: number;
  sagasPerSecond: Spread;
  /** First order handed over → the engine had accepted the last one. */
  handOverSeconds: Spread;
  /** CPU milliseconds per saga by process group, and their sum. */
  cpuMsPerSaga: Record<string, Spread>;
  cpuTotalMsPerSaga: Spread;
  /** Our 1-instance sagas/s divided by this engine's, run by run. */
  ourThroughputRatio: Spread;
  /** Our 1-instance sagas/s in the run of ours just before each of this engine's runs. */
  oursBesideSagasPerSecond: Spread;
  /** Those divided by this engine's, run by run: the machine's drift falls on both alike. */
  ourThroughputRatioBeside: Spread;
  /** This engine's total CPU per saga divided by ours (1 instance), run by run. */
  cpuRatioToOurs: Spread;
}

export interface GraphileWorkerFigures {
  name: "graphile-worker";
  version: string;
  node: string;
  jobs: number;
  concurrency: number;
  unbatched: { jobsPerSecond: Spread; cpuMsPerJob: Record<string, Spread> };
  batched: { jobsPerSecond: Spread; cpuMsPerJob: Record<string, Spread> };
  /** Our downstream steps/s (1 instance) divided by its no-op jobs/s. */
  ratioUnbatched: Spread;
  ratioBatched: Spread;
}

export interface PeersFigures {
  graphileWorker: GraphileWorkerFigures;
  dbos: {
    version: string;
    node: string;
    queueConcurrency: number;
    queuePollMs: number;
    direct: SagaEngineFigures;
    queue: SagaEngineFigures;
  };
  restate: {
    server: string;
    sdk: string;
    xstate: string;
    node: string;
    sendConcurrency: number;
    workflow: SagaEngineFigures;
    machine: SagaEngineFigures;
    loadLatency: LoadFigures[];
  };
}

const totalCpu = (cpu: CpuCost) => Object.values(cpu.msPerSaga).reduce((a, b) => a + b, 0);

function byGroup(runs: { cpu: CpuCost }[]): Record<string, Spread> {
  const groups = Object.keys(runs[0]!.cpu.msPerSaga);
  return Object.fromEntries(groups.map((g) => [g, spreadOf(runs, (r) => r.cpu.msPerSaga[g]!)]));
}

function engineFigures(
  runs: Beside<DbosRun | RestateRun>[],
  ours: ThroughputResult[],
): SagaEngineFigures {
  return {
    sagas: runs[0]!.sagas,
    failed: runs.reduce((sum, r) => sum + r.failed, 0),
    sagasPerSecond: spreadOf(runs, (r) => r.sagasPerSecond),
    handOverSeconds: spreadOf(runs, (r) => r.handOverSeconds),
    cpuMsPerSaga: byGroup(runs),
    cpuTotalMsPerSaga: spreadOf(runs, (r) => totalCpu(r.cpu)),
    ourThroughputRatio: pairedSpread(ours, runs, (o, r) => o.sagasPerSecond / r.sagasPerSecond),
    oursBesideSagasPerSecond: spreadOf(runs, (r) => r.oursBeside),
    ourThroughputRatioBeside: spreadOf(runs, (r) => r.oursBeside / r.sagasPerSecond),
    cpuRatioToOurs: pairedSpread(ours, runs, (o, r) => totalCpu(r.cpu) / totalCpu(o.cpu)),
  };
}

export function peersFigures(raw: PeerRuns, ours: ThroughputResult[]): PeersFigures {
  const g = raw.graphileWorker;
  const stepsPerJob = (runs: GraphileWorkerRun[]) =>
    pairedSpread(ours, runs, (o, p) => (o.sagasPerSecond * STEPS_PER_SAGA) / p.jobsPerSecond);
  const graphile = (runs: GraphileWorkerRun[]) => ({
    jobsPerSecond: spreadOf(runs, (p) => p.jobsPerSecond),
    cpuMsPerJob: byGroup(runs),
  });
  const first = g.unbatched[0]!;
  const restate = raw.restate.workflow[0]!.versions;
  return {
    graphileWorker: {
      name: "graphile-worker",
      version: first.version,
      node: first.node,
      jobs: first.jobs,
      concurrency: g.concurrency,
      unbatched: graphile(g.unbatched),
      batched: graphile(g.batched),
      ratioUnbatched: stepsPerJob(g.unbatched),
      ratioBatched: stepsPerJob(g.batched),
    },
    dbos: {
      version: raw.dbos.direct[0]!.version,
      node: raw.dbos.direct[0]!.node,
      queueConcurrency: raw.dbos.queue.concurrency,
      queuePollMs: raw.dbos.queue.pollMs,
      direct: engineFigures(raw.dbos.direct, ours),
      queue: engineFigures(raw.dbos.queued, ours),
    },
    restate: {
      ...restate,
      sendConcurrency: raw.restate.sendConcurrency,
      workflow: engineFigures(raw.restate.workflow, ours),
      machine: engineFigures(raw.restate.machine, ours),
      loadLatency: raw.restate.load.map(loadFigures),
    },
  };
}

/** Process groups in the order the table shows them, with what each holds. */
const GROUP_LABELS: Record<string, string> = {
  engine: "engine",
  endpoint: "service endpoint (SDK)",
  postgres: "PostgreSQL",
  services: "reference services",
};

function engineRows(label: string, f: SagaEngineFigures, engineIs: string): string[][] {
  const groups = Object.keys(GROUP_LABELS).filter((g) => g in f.cpuMsPerSaga);
  return [
    row(`${label}: sagas/s to done (${f.sagas} orders)`, f.sagasPerSecond, "sagas/s"),
    row("  our sagas/s (1 instance) ÷ this", f.ourThroughputRatio, "ratio", 2),
    row(
      "  ours, 1 instance, in a run just before each of its runs",
      f.oursBesideSagasPerSecond,
      "sagas/s",
    ),
    row(
      "    ÷ this, run by run (the pair shares the machine's drift)",
      f.ourThroughputRatioBeside,
      "ratio",
      2,
    ),
    row("  hand-over of every order (producer)", f.handOverSeconds, "s", 2),
    ...groups.map((g) =>
      row(
        `  CPU per saga: ${g === "engine" ? engineIs : GROUP_LABELS[g]}`,
        f.cpuMsPerSaga[g]!,
        "ms",
        2,
      )
    ),
    row("  CPU per saga, all groups", f.cpuTotalMsPerSaga, "ms", 2),
    row("  ÷ ours (1 instance, all groups)", f.cpuRatioToOurs, "ratio", 2),
    ...(f.failed > 0 ? [failedRow(f.failed, "counted as done in sagas/s")] : []),
  ];
}

export function peersRows(f: PeersFigures): string[][] {
  const g = f.graphileWorker;
  const d = f.dbos;
  const r = f.restate;
  return [
    ...engineRows(
      `DBOS ${d.version}, DBOS.startWorkflow`,
      d.direct,
      "engine (DBOS in the app's Node process)",
    ),
    ...engineRows(
      `DBOS, queue of ${d.queueConcurrency} (poll ${d.queuePollMs} ms)`,
      d.queue,
      "engine (DBOS in the app's Node process)",
    ),
    ...engineRows(
      `Restate ${r.server}, workflow (4 ctx.run)`,
      r.workflow,
      "engine (restate-server, its log)",
    ),
    ...engineRows(
      `Restate + @restatedev/xstate ${r.xstate}, machine`,
      r.machine,
      "engine (restate-server, its log)",
    ),
    ...r.loadLatency.flatMap((l) => loadRows("Restate workflow", l, "completed")),
    row(
      `graphile-worker ${g.version} no-op jobs/s, unbatched (${g.concurrency} workers)`,
      g.unbatched.jobsPerSecond,
      "jobs/s",
    ),
    row("  CPU per job: worker", g.unbatched.cpuMsPerJob.engine!, "ms", 3),
    row("  CPU per job: PostgreSQL", g.unbatched.cpuMsPerJob.postgres!, "ms", 3),
    row("  our steps/s ÷ this", g.ratioUnbatched, "ratio", 2),
    row("graphile-worker no-op jobs/s, batched (local queue)", g.batched.jobsPerSecond, "jobs/s"),
    row("  CPU per job: worker", g.batched.cpuMsPerJob.engine!, "ms", 3),
    row("  CPU per job: PostgreSQL", g.batched.cpuMsPerJob.postgres!, "ms", 3),
    row("  our steps/s ÷ this", g.ratioBatched, "ratio", 2),
  ];
}
