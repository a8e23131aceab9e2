// The benchmark's results: their JSON shape and the printed table.
import { fmt, table } from "../demo/table.ts";
import type { Machine } from "./machine.ts";
import { mapSpread, type Spread } from "./stats.ts";
import { STEPS_PER_SAGA } from "./results.ts";

export interface LatencyPair {
  p50Ms: Spread;
  p99Ms: Spread;
}

export interface CeilingFigures {
  connections: number;
  /** Transitions per statement in the replay: the engine's group commit, as measured. */
  transitionsPerStatement: number;
  sagasPerSecond: Spread;
  commitsPerSecond: Spread;
  writeCommitsPerSaga: Spread;
  /** Achieved sagas/s divided by the ceiling's, run by run. */
  ratio: Spread;
}

/** Milliseconds of CPU per saga by process group, and the share of all cores busy. */
export interface CpuFigures {
  orchestratorMsPerSaga: Spread;
  servicesMsPerSaga: Spread;
  postgresMsPerSaga: Spread;
  machineBusy: Spread;
}

/** Outbox insert transactions/s in one case of the producer's cost. */
export interface ProducerCase {
  tps: Spread;
  /** This case's transactions/s divided by no trigger's, run by run. */
  ratio: Spread;
}

export interface ProducerFigures {
  client: string;
  clients: number;
  seconds: number;
  /** The one statement of every transaction. */
  statement: string;
  withoutOrchestrator: {
    noTrigger: { tps: Spread };
    alwaysNotify: ProducerCase;
    gatedDisarmed: ProducerCase;
    gatedArmed: ProducerCase;
  };
  /** One instance consuming; notifications counted by the benchmark's own LISTEN connection. */
  withOrchestrator: {
    noTrigger: { tps: Spread; notificationsPerEvent: Spread };
    alwaysNotify: ProducerCase & { notificationsPerEvent: Spread };
    gated: ProducerCase & { notificationsPerEvent: Spread };
  };
}

export interface BenchResults {
  benchmark: "order-saga-orchestrator";
  mode: "full" | "quick";
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  settings: {
    repeats: number;
    orders: number;
    /** Orders run untimed before each throughput run (the peer: 4 jobs each). */
    warmupOrders: number;
    wakeOrders: number;
    pollIntervalMs: number;
    memorySagas: number;
    peerJobs: number;
    peerConcurrency: number;
    orchestratorLogLevel: string;
    dbPoolSize: number;
    sagaConcurrency: number;
  };
  results: {
    throughput: { oneInstance: Spread; twoInstances: Spread };
    stepsPerSecond: { oneInstance: Spread; twoInstances: Spread };
    wakeup: { notify: LatencyPair; polling: LatencyPair };
    endToEnd: { notify: LatencyPair; polling: LatencyPair };
    /** Where the CPU went during the throughput runs. */
    cpu: { oneInstance: CpuFigures; twoInstances: CpuFigures };
    /** Saga transitions per committed statement during the throughput runs. */
    groupCommit: { oneInstance: Spread; twoInstances: Spread };
    cost: {
      commitsPerSaga: Spread;
      writeCommitsPerSaga: Spread;
      rowsInsertedPerSaga: Spread;
      rowsUpdatedPerSaga: Spread;
    };
    ceiling: {
      transitionsPerSaga: number;
      oneInstance: CeilingFigures;
      twoInstances: CeilingFigures;
      /** The same writes with a commit per transition: what an engine without group commit could reach. */
      withoutGroupCommit: CeilingFigures;
    };
    peer: {
      name: string;
      version: string;
      node: string;
      jobs: number;
      concurrency: number;
      unbatched: { jobsPerSecond: Spread };
      batched: { jobsPerSecond: Spread };
      /** Our downstream steps/s (1 instance) divided by graphile-worker's unbatched jobs/s. */
      ratioUnbatched: Spread;
      ratioBatched: Spread;
    };
    memory: {
      sagas: number;
      rssMiB: Spread;
      peakMiB: Spread;
      idleRssMiB: Spread;
      secondsToWaiting: Spread;
    };
    /** The producer's cost: outbox inserts/s with and without the NOTIFY trigger. */
    producer: ProducerFigures;
  };
}

function row(label: string, s: Spread, unit: string, digits = 1): string[] {
  const range = s.runs.length > 1 ? `${fmt(s.min, digits)}–${fmt(s.max, digits)}` : "—";
  return [label, fmt(s.median, digits), range, unit];
}

export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const x = r.results;
  const n = r.settings.repeats;
  const lines = [
    "",
    `Benchmark (${r.mode}, ${n} run${n === 1 ? "" : "s"} per figure: median and min–max)`,
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB RAM; ${m.os}; ` +
    `Deno ${m.deno}; PostgreSQL ${m.postgres ?? "?"} (embedded, same machine); ` +
    `load average ${fmt(m.loadAverageBefore ?? NaN, 2)} at start, ${
      fmt(m.loadAverageAfter ?? NaN, 2)
    } at end`,
    `Orchestrator: LOG_LEVEL=${r.settings.orchestratorLogLevel}, DB_POOL_SIZE=${r.settings.dbPoolSize}, ` +
    `SAGA_CONCURRENCY=${r.settings.sagaConcurrency}; services with zero added latency; ` +
    `${r.settings.warmupOrders} warm-up orders (peer: ${
      STEPS_PER_SAGA * r.settings.warmupOrders
    } jobs) before each throughput run`,
    "",
  ];
  const rows: string[][] = [
    row(
      `sagas/s to COMPLETED, 1 instance (${r.settings.orders} orders)`,
      x.throughput.oneInstance,
      "sagas/s",
    ),
    row(`sagas/s to COMPLETED, 2 instances`, x.throughput.twoInstances, "sagas/s"),
    row("downstream steps/s, 1 instance (4 per saga)", x.stepsPerSecond.oneInstance, "steps/s"),
    row("downstream steps/s, 2 instances", x.stepsPerSecond.twoInstances, "steps/s"),
    row("wake-up p50, NOTIFY (commit → first call)", x.wakeup.notify.p50Ms, "ms"),
    row("wake-up p99, NOTIFY", x.wakeup.notify.p99Ms, "ms"),
    row(
      `wake-up p50, polling only (${r.settings.pollIntervalMs} ms)`,
      x.wakeup.polling.p50Ms,
      "ms",
    ),
    row("wake-up p99, polling only", x.wakeup.polling.p99Ms, "ms"),
    row("end-to-end p50, NOTIFY (commit → COMPLETED)", x.endToEnd.notify.p50Ms, "ms"),
    row("end-to-end p99, NOTIFY", x.endToEnd.notify.p99Ms, "ms"),
    row("end-to-end p50, polling only", x.endToEnd.polling.p50Ms, "ms"),
    row("end-to-end p99, polling only", x.endToEnd.polling.p99Ms, "ms"),
    row("CPU per saga, 1 instance: orchestrator", x.cpu.oneInstance.orchestratorMsPerSaga, "ms", 2),
    row("  reference services", x.cpu.oneInstance.servicesMsPerSaga, "ms", 2),
    row("  PostgreSQL (all backends)", x.cpu.oneInstance.postgresMsPerSaga, "ms", 2),
    row(
      "  machine busy (share of all cores)",
      mapSpread(x.cpu.oneInstance.machineBusy, (v) => 100 * v),
      "%",
      0,
    ),
    row(
      "transitions per statement (group commit), 1 instance",
      x.groupCommit.oneInstance,
      "rows",
      1,
    ),
    row("  2 instances", x.groupCommit.twoInstances, "rows", 1),
    row("commits per saga (xact_commit, reads included)", x.cost.commitsPerSaga, "commits", 2),
    row("write commits per saga (xids assigned)", x.cost.writeCommitsPerSaga, "commits", 2),
    row("rows inserted per saga", x.cost.rowsInsertedPerSaga, "rows", 2),
    row("rows updated per saga", x.cost.rowsUpdatedPerSaga, "rows", 2),
    row(
      `ceiling: same writes, ${x.ceiling.oneInstance.connections} connections`,
      x.ceiling.oneInstance.sagasPerSecond,
      "sagas/s",
    ),
    row("  ceiling commit rate", x.ceiling.oneInstance.commitsPerSecond, "commits/s"),
    row("  achieved / ceiling, 1 instance", x.ceiling.oneInstance.ratio, "ratio", 2),
    row(
      `ceiling: same writes, ${x.ceiling.twoInstances.connections} connections`,
      x.ceiling.twoInstances.sagasPerSecond,
      "sagas/s",
    ),
    row("  ceiling commit rate", x.ceiling.twoInstances.commitsPerSecond, "commits/s"),
    row("  achieved / ceiling, 2 instances", x.ceiling.twoInstances.ratio, "ratio", 2),
    row(
      `same writes, a commit per transition (no group commit), ${x.ceiling.withoutGroupCommit.connections} conn.`,
      x.ceiling.withoutGroupCommit.sagasPerSecond,
      "sagas/s",
    ),
    row("  achieved (1 instance) / that", x.ceiling.withoutGroupCommit.ratio, "ratio", 2),
    row(
      `graphile-worker ${x.peer.version} no-op jobs/s, unbatched (${x.peer.concurrency} workers)`,
      x.peer.unbatched.jobsPerSecond,
      "jobs/s",
    ),
    row(
      "graphile-worker no-op jobs/s, batched (local queue)",
      x.peer.batched.jobsPerSecond,
      "jobs/s",
    ),
    row("  our steps/s ÷ graphile-worker unbatched", x.peer.ratioUnbatched, "ratio", 2),
    row("  our steps/s ÷ graphile-worker batched", x.peer.ratioBatched, "ratio", 2),
    row(`RSS, ${x.memory.sagas} sagas waiting on a slow capture`, x.memory.rssMiB, "MiB"),
    row("  peak RSS (VmHWM) at that point", x.memory.peakMiB, "MiB"),
    row("  RSS idle, same process before the orders", x.memory.idleRssMiB, "MiB"),
    row("  time until all were waiting", x.memory.secondsToWaiting, "s"),
    ...producerRows(x.producer),
  ];
  lines.push(table(["measurement", "median", "min–max", "unit"], rows));
  lines.push("");
  lines.push(
    `Ceiling replay: ${x.ceiling.transitionsPerSaga} fenced transitions per saga, ` +
      `${fmt(x.ceiling.oneInstance.transitionsPerStatement, 1)} (1 instance) and ` +
      `${fmt(x.ceiling.twoInstances.transitionsPerStatement, 1)} (2 instances) to a statement as ` +
      `the engine's group commit wrote them, plus intake (batches of 100): the engine's own SQL, ` +
      `from one Deno client.`,
  );
  const p = x.producer;
  lines.push(
    `Producer's cost: ${p.client}; ${p.clients} clients for ${p.seconds} s per case, each ` +
      `transaction one single-row INSERT INTO outbox of an OrderPlaced event (its order id from ` +
      `gen_random_uuid()); the outbox emptied before each case. Orchestrator running: one ` +
      `instance, POLL_INTERVAL_MS=${r.settings.pollIntervalMs}, a fresh database each; ` +
      `notifications counted by a LISTEN connection of the benchmark's own.`,
  );
  return lines.join("\n");
}

function producerRows(p: ProducerFigures): string[][] {
  const idle = p.withoutOrchestrator;
  const busy = p.withOrchestrator;
  const ratio = (s: Spread) => row("    ÷ no trigger", s, "ratio", 2);
  return [
    row(`producer: outbox inserts/s, no trigger (${p.clients} clients)`, idle.noTrigger.tps, "tps"),
    row("  always-notify trigger (before the gate)", idle.alwaysNotify.tps, "tps"),
    ratio(idle.alwaysNotify.ratio),
    row("  gated trigger, gate disarmed (as while busy)", idle.gatedDisarmed.tps, "tps"),
    ratio(idle.gatedDisarmed.ratio),
    row("  gated trigger, gate armed (as while idle)", idle.gatedArmed.tps, "tps"),
    ratio(idle.gatedArmed.ratio),
    row("producer, orchestrator consuming: no trigger (polling)", busy.noTrigger.tps, "tps"),
    row("  always-notify trigger (before the gate)", busy.alwaysNotify.tps, "tps"),
    ratio(busy.alwaysNotify.ratio),
    row("    notifications per event", busy.alwaysNotify.notificationsPerEvent, "NOTIFYs", 3),
    row("  gated trigger", busy.gated.tps, "tps"),
    ratio(busy.gated.ratio),
    row("    notifications per event", busy.gated.notificationsPerEvent, "NOTIFYs", 3),
  ];
}
