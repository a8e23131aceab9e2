// Turns the raw runs of every measurement into the results document:
// median and min–max per figure, ratios paired run by run.
import type { CeilingResult } from "./ceiling.ts";
import type { Machine } from "./machine.ts";
import type { MemoryResult } from "./memory.ts";
import { historyFigures, type HistoryRuns } from "./history_figures.ts";
import { loadFigures, type LoadRuns } from "./load_figures.ts";
import { STEPS_PER_SAGA } from "./orders.ts";
import { overloadFigures, type OverloadRuns } from "./overload_figures.ts";
import { type PeerRuns, peersFigures } from "./peers_figures.ts";
import type { ProducerCostRun } from "./producer_cost.ts";
import {
  type BenchResults,
  type CeilingFigures,
  type CpuFigures,
  type ProducerFigures,
  SKIPPED,
} from "./report.ts";
import { slowServiceFigures, type SlowServiceRuns } from "./slow_service_figures.ts";
import { mapSpread, pairedSpread, spreadOf } from "./stats.ts";
import type { ThroughputResult } from "./throughput.ts";
import type { LatencyResult } from "./wakeup.ts";

export interface CeilingRuns {
  connections: number;
  /** The engine's transitions per statement the replay copied. */
  transitionsPerStatement: number;
  runs: CeilingResult[];
}

export interface ProducerRuns {
  /** What inserted: pgbench and its version, or the Deno fallback. */
  client: string;
  clients: number;
  seconds: number;
  statement: string;
  runs: ProducerCostRun[];
}

/** Every phase but the throughput runs may be absent: left out by --only (or the peers' flags). */
export interface RawRuns {
  one: ThroughputResult[];
  two: ThroughputResult[];
  wakeup?: { notify: LatencyResult[]; polling: LatencyResult[] };
  ceiling?: {
    one: CeilingRuns;
    two: CeilingRuns;
    /** The same writes, a commit per transition (no group commit). */
    solo: CeilingRuns;
  };
  memory?: MemoryResult[];
  producer?: ProducerRuns;
  /** Our latency under load, at 50 % and 80 % of our 1-instance maximum. */
  load?: LoadRuns[];
  slow?: SlowServiceRuns;
  overload?: OverloadRuns;
  history?: HistoryRuns;
  /** Absent when the peers were not run (--quick without --peers, or --no-peers). */
  peers?: PeerRuns;
}

export interface Meta {
  mode: BenchResults["mode"];
  startedAt: string;
  machine: Machine;
  transitionsPerSaga: number;
  settings: BenchResults["settings"];
}

const of = spreadOf;
const paired = pairedSpread;

function ceiling(
  c: CeilingRuns,
  achieved: ThroughputResult[],
): CeilingFigures {
  return {
    connections: c.connections,
    transitionsPerStatement: c.transitionsPerStatement,
    sagasPerSecond: of(c.runs, (r) => r.sagasPerSecond),
    commitsPerSecond: of(c.runs, (r) => r.commitsPerSecond),
    writeCommitsPerSaga: of(c.runs, (r) => r.cost.writeCommitsPerSaga),
    ratio: paired(achieved, c.runs, (a, r) => a.sagasPerSecond / r.sagasPerSecond),
  };
}

function cpu(runs: ThroughputResult[]): CpuFigures {
  return {
    orchestratorMsPerSaga: of(runs, (r) => r.cpu.msPerSaga.orchestrator ?? NaN),
    servicesMsPerSaga: of(runs, (r) => r.cpu.msPerSaga.services ?? NaN),
    postgresMsPerSaga: of(runs, (r) => r.cpu.msPerSaga.postgres ?? NaN),
    machineBusy: of(runs, (r) => r.cpu.machineBusy),
  };
}

function latency(runs: LatencyResult[], which: "wake" | "e2e") {
  return which === "wake"
    ? { p50Ms: of(runs, (r) => r.wakeP50Ms), p99Ms: of(runs, (r) => r.wakeP99Ms) }
    : { p50Ms: of(runs, (r) => r.e2eP50Ms), p99Ms: of(runs, (r) => r.e2eP99Ms) };
}

function memory(runs: MemoryResult[]) {
  return {
    sagas: runs[0]!.sagas,
    rssMiB: of(runs, (m) => m.rssMiB),
    peakMiB: of(runs, (m) => m.peakMiB),
    idleRssMiB: of(runs, (m) => m.idleRssMiB),
    secondsToWaiting: of(runs, (m) => m.secondsToWaiting),
  };
}

/** Transactions/s of each case, and each trigger's divided by no trigger's, run by run. */
function producer(p: ProducerRuns): ProducerFigures {
  const idle = p.runs.map((r) => r.withoutOrchestrator);
  const busy = p.runs.map((r) => r.withOrchestrator);
  const idleCase = (key: keyof ProducerCostRun["withoutOrchestrator"]) => ({
    tps: of(idle, (r) => r[key].tps),
    ratio: of(idle, (r) => r[key].tps / r.noTrigger.tps),
  });
  const busyCase = (key: keyof ProducerCostRun["withOrchestrator"]) => ({
    tps: of(busy, (r) => r[key].tps),
    ratio: of(busy, (r) => r[key].tps / r.noTrigger.tps),
    notificationsPerEvent: of(busy, (r) => r[key].notifications / r[key].events),
  });
  return {
    client: p.client,
    clients: p.clients,
    seconds: p.seconds,
    statement: p.statement,
    withoutOrchestrator: {
      noTrigger: { tps: of(idle, (r) => r.noTrigger.tps) },
      alwaysNotify: idleCase("alwaysNotify"),
      gatedDisarmed: idleCase("gatedDisarmed"),
      gatedArmed: idleCase("gatedArmed"),
    },
    withOrchestrator: {
      noTrigger: {
        tps: of(busy, (r) => r.noTrigger.tps),
        notificationsPerEvent: of(busy, (r) => r.noTrigger.notifications / r.noTrigger.events),
      },
      alwaysNotify: busyCase("alwaysNotify"),
      gated: busyCase("gated"),
    },
  };
}

export function assembleResults(raw: RawRuns, meta: Meta): BenchResults {
  const sagasOne = of(raw.one, (r) => r.sagasPerSecond);
  const sagasTwo = of(raw.two, (r) => r.sagasPerSecond);
  const stepsOne = mapSpread(sagasOne, (v) => v * STEPS_PER_SAGA);
  return {
    benchmark: "order-saga-orchestrator",
    mode: meta.mode,
    startedAt: meta.startedAt,
    finishedAt: new Date().toISOString(),
    machine: meta.machine,
    settings: meta.settings,
    results: {
      throughput: {
        oneInstance: sagasOne,
        twoInstances: sagasTwo,
        handOverSeconds: {
          oneInstance: of(raw.one, (r) => r.handOverSeconds),
          twoInstances: of(raw.two, (r) => r.handOverSeconds),
        },
      },
      stepsPerSecond: {
        oneInstance: stepsOne,
        twoInstances: mapSpread(sagasTwo, (v) => v * STEPS_PER_SAGA),
      },
      wakeup: raw.wakeup
        ? {
          notify: latency(raw.wakeup.notify, "wake"),
          polling: latency(raw.wakeup.polling, "wake"),
        }
        : SKIPPED,
      endToEnd: raw.wakeup
        ? { notify: latency(raw.wakeup.notify, "e2e"), polling: latency(raw.wakeup.polling, "e2e") }
        : SKIPPED,
      cpu: {
        oneInstance: cpu(raw.one),
        twoInstances: cpu(raw.two),
      },
      groupCommit: {
        oneInstance: of(raw.one, (r) => r.transitions.perStatement),
        twoInstances: of(raw.two, (r) => r.transitions.perStatement),
      },
      cost: {
        commitsPerSaga: of(raw.one, (r) => r.cost.commitsPerSaga),
        writeCommitsPerSaga: of(raw.one, (r) => r.cost.writeCommitsPerSaga),
        rowsInsertedPerSaga: of(raw.one, (r) => r.cost.rowsInsertedPerSaga),
        rowsUpdatedPerSaga: of(raw.one, (r) => r.cost.rowsUpdatedPerSaga),
      },
      ceiling: raw.ceiling
        ? {
          transitionsPerSaga: meta.transitionsPerSaga,
          oneInstance: ceiling(raw.ceiling.one, raw.one),
          twoInstances: ceiling(raw.ceiling.two, raw.two),
          withoutGroupCommit: ceiling(raw.ceiling.solo, raw.one),
        }
        : SKIPPED,
      memory: raw.memory ? memory(raw.memory) : SKIPPED,
      producer: raw.producer ? producer(raw.producer) : SKIPPED,
      loadLatency: raw.load ? raw.load.map(loadFigures) : SKIPPED,
      slowService: raw.slow ? slowServiceFigures(raw.slow) : SKIPPED,
      // CPU per saga against the steady 1-instance runs', run by run.
      overload: raw.overload ? overloadFigures(raw.overload, raw.one) : SKIPPED,
      history: raw.history ? historyFigures(raw.history) : SKIPPED,
      peers: raw.peers ? peersFigures(raw.peers, raw.one) : SKIPPED,
    },
  };
}
