// The benchmark's results: their JSON shape and the printed table.
import { fmt, table } from "../../src/tools/text_table.ts";
import { type HistoryFigures, historyRows } from "./history_figures.ts";
import { type LoadFigures, loadRows } from "./load_figures.ts";
import type { Machine } from "./machine.ts";
import { STEPS_PER_SAGA } from "./orders.ts";
import { type OverloadFigures, overloadRows } from "./overload_figures.ts";
import { type PeersFigures, peersRows } from "./peers_figures.ts";
import { type SlowServiceFigures, slowServiceRows } from "./slow_service_figures.ts";
import { mapSpread, type Spread } from "./stats.ts";
import { row } from "./table_row.ts";

/** A phase left out of this run (--only, or the peers without --peers). */
export interface Skipped {
  skipped: true;
}
export const SKIPPED: Skipped = { skipped: true };

/** True when the phase ran. */
export function measured<T extends object>(x: T | Skipped): x is T {
  return !("skipped" in x);
}

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
    loadSeconds: number;
    historySagas: number;
    historySeconds: number;
    /** The struggling service's slow stretch, and each healthy stretch around it. */
    slowSeconds: number;
    slowHealthySeconds: number;
    overloadSeconds: number;
    /** The phases run besides the throughput runs (--only); absent: all. */
    only?: string[];
    orchestratorLogLevel: string;
    dbPoolSize: number;
    sagaConcurrency: number;
  };
  results: {
    throughput: {
      oneInstance: Spread;
      twoInstances: Spread;
      /** The outbox insert of every order (inside the timed window). */
      handOverSeconds: { oneInstance: Spread; twoInstances: Spread };
    };
    stepsPerSecond: { oneInstance: Spread; twoInstances: Spread };
    wakeup: { notify: LatencyPair; polling: LatencyPair } | Skipped;
    endToEnd: { notify: LatencyPair; polling: LatencyPair } | Skipped;
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
    } | Skipped;
    memory: {
      sagas: number;
      rssMiB: Spread;
      peakMiB: Spread;
      idleRssMiB: Spread;
      secondsToWaiting: Spread;
    } | Skipped;
    /** The producer's cost: outbox inserts/s with and without the NOTIFY trigger. */
    producer: ProducerFigures | Skipped;
    /** Ours under a steady arrival rate: 50 % and 80 % of our 1-instance maximum. */
    loadLatency: LoadFigures[] | Skipped;
    /** Payments ten times slower for a while under steady orders, then recovered. */
    slowService: SlowServiceFigures | Skipped;
    /** Orders at 1.5 × our maximum for a while, then the backlog draining. */
    overload: OverloadFigures | Skipped;
    /** Throughput and claim-cycle latency with a long history kept, and swept. */
    history: HistoryFigures | Skipped;
    /** DBOS, Restate and graphile-worker in the same run, unless skipped. */
    peers: PeersFigures | Skipped;
  };
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
  const when = <T extends object>(x: T | Skipped, rows: (x: T) => string[][]) =>
    measured(x) ? rows(x) : [];
  const rows: string[][] = [
    row(
      `sagas/s to COMPLETED, 1 instance (${r.settings.orders} orders)`,
      x.throughput.oneInstance,
      "sagas/s",
    ),
    row(`sagas/s to COMPLETED, 2 instances`, x.throughput.twoInstances, "sagas/s"),
    row(
      "  hand-over: the outbox insert of every order, 1 instance",
      x.throughput.handOverSeconds.oneInstance,
      "s",
      3,
    ),
    row("downstream steps/s, 1 instance (4 per saga)", x.stepsPerSecond.oneInstance, "steps/s"),
    row("downstream steps/s, 2 instances", x.stepsPerSecond.twoInstances, "steps/s"),
    ...when(x.wakeup, (w) => wakeupRows(w, r.settings.pollIntervalMs)),
    ...when(x.endToEnd, endToEndRows),
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
    ...when(x.ceiling, ceilingRows),
    ...when(x.memory, memoryRows),
    ...when(x.producer, producerRows),
    ...when(x.loadLatency, (l) => l.flatMap((f) => loadRows("ours, 1 instance", f))),
    ...when(x.slowService, slowServiceRows),
    ...when(x.overload, overloadRows),
    ...when(x.history, historyRows),
    ...when(x.peers, peersRows),
  ];
  lines.push(table(["measurement", "median", "min–max", "unit"], rows));
  lines.push("");
  if (measured(x.ceiling)) lines.push(ceilingNote(x.ceiling));
  lines.push(TIMING);
  if (measured(x.producer)) lines.push(producerNote(x.producer, r.settings.pollIntervalMs));
  if (measured(x.loadLatency)) {
    lines.push(
      `Latency under load: orders at a steady rate (open loop) for ${r.settings.loadSeconds} s, ` +
        `each one single-row INSERT (autocommit) from a pool of 16 connections, as an edge API ` +
        `inserts them; latencies from the commit returning. One instance with its defaults, ` +
        `${r.settings.warmupOrders} warm-up orders first.`,
    );
  }
  if (measured(x.slowService)) lines.push(slowServiceNote(x.slowService, r.settings));
  if (measured(x.overload)) lines.push(overloadNote(x.overload));
  if (measured(x.history)) lines.push(historyNote(x.history));
  if (measured(x.peers)) lines.push(peersNote(x.peers));
  else lines.push("Peers (DBOS, Restate, graphile-worker): skipped (--peers runs them).");
  if (r.settings.only) {
    lines.push(
      `Only ${r.settings.only.join(", ")} besides the throughput runs (--only); the other ` +
        `phases were skipped.`,
    );
  }
  return lines.join("\n");
}

function wakeupRows(w: { notify: LatencyPair; polling: LatencyPair }, pollMs: number) {
  return [
    row("wake-up p50, NOTIFY (commit → first call)", w.notify.p50Ms, "ms"),
    row("wake-up p99, NOTIFY", w.notify.p99Ms, "ms"),
    row(`wake-up p50, polling only (${pollMs} ms)`, w.polling.p50Ms, "ms"),
    row("wake-up p99, polling only", w.polling.p99Ms, "ms"),
  ];
}

function endToEndRows(e: { notify: LatencyPair; polling: LatencyPair }) {
  return [
    row("end-to-end p50, NOTIFY (commit → COMPLETED)", e.notify.p50Ms, "ms"),
    row("end-to-end p99, NOTIFY", e.notify.p99Ms, "ms"),
    row("end-to-end p50, polling only", e.polling.p50Ms, "ms"),
    row("end-to-end p99, polling only", e.polling.p99Ms, "ms"),
  ];
}

type Ceilings = Exclude<BenchResults["results"]["ceiling"], Skipped>;

function ceilingRows(c: Ceilings) {
  return [
    row(
      `ceiling: same writes, ${c.oneInstance.connections} connections`,
      c.oneInstance.sagasPerSecond,
      "sagas/s",
    ),
    row("  ceiling commit rate", c.oneInstance.commitsPerSecond, "commits/s"),
    row("  achieved / ceiling, 1 instance", c.oneInstance.ratio, "ratio", 2),
    row(
      `ceiling: same writes, ${c.twoInstances.connections} connections`,
      c.twoInstances.sagasPerSecond,
      "sagas/s",
    ),
    row("  ceiling commit rate", c.twoInstances.commitsPerSecond, "commits/s"),
    row("  achieved / ceiling, 2 instances", c.twoInstances.ratio, "ratio", 2),
    row(
      `same writes, a commit per transition (no group commit), ${c.withoutGroupCommit.connections} conn.`,
      c.withoutGroupCommit.sagasPerSecond,
      "sagas/s",
    ),
    row("  achieved (1 instance) / that", c.withoutGroupCommit.ratio, "ratio", 2),
  ];
}

function memoryRows(m: Exclude<BenchResults["results"]["memory"], Skipped>) {
  return [
    row(`RSS, ${m.sagas} sagas waiting on a slow capture`, m.rssMiB, "MiB"),
    row("  peak RSS (VmHWM) at that point", m.peakMiB, "MiB"),
    row("  RSS idle, same process before the orders", m.idleRssMiB, "MiB"),
    row("  time until all were waiting", m.secondsToWaiting, "s"),
  ];
}

function ceilingNote(c: Ceilings): string {
  return `Ceiling replay: ${c.transitionsPerSaga} fenced transitions per saga, ` +
    `${fmt(c.oneInstance.transitionsPerStatement, 1)} (1 instance) and ` +
    `${fmt(c.twoInstances.transitionsPerStatement, 1)} (2 instances) to a statement as ` +
    `the engine's group commit wrote them, plus intake (batches of 100): the engine's own SQL, ` +
    `from one Deno client.`;
}

function producerNote(p: ProducerFigures, pollMs: number): string {
  return `Producer's cost: ${p.client}; ${p.clients} clients for ${p.seconds} s per case, each ` +
    `transaction one single-row INSERT INTO outbox of an OrderPlaced event (its order id from ` +
    `gen_random_uuid()); the outbox emptied before each case. Orchestrator running: one ` +
    `instance, POLL_INTERVAL_MS=${pollMs}, a fresh database each; ` +
    `notifications counted by a LISTEN connection of the benchmark's own.`;
}

function slowServiceNote(f: SlowServiceFigures, settings: BenchResults["settings"]): string {
  return `Struggling service: orders at ${f.ratePerSecond}/s (open loop, one INSERT each, as ` +
    `under load) into one instance with its defaults; ${f.service} gets ${f.healthyLatencyMs} ms ` +
    `of added latency for the whole run (its normal time: the bare service answers in well ` +
    `under a millisecond, too noisy to multiply) and ${f.slowLatencyMs} ms (ten times) for ` +
    `${settings.slowSeconds} s, with ${settings.slowHealthySeconds} s healthy before and after. ` +
    `Calls per saga: for the orders sent in a window, the requests their sagas made (the ` +
    `services count them per Idempotency-Key, retries included) ÷ their number. Sagas/s: ` +
    `completions in the window. Recovery: from the service answering fast again to the start of the ` +
    `first 1 s window whose completions reach ${f.recoveredShare * 100} % of the healthy ` +
    `window's rate (a window never back counts as never for the goal).`;
}

function overloadNote(f: OverloadFigures): string {
  return `Overload: orders at ${f.ratePerSecond}/s (${Math.round(f.share * 100)} % of our ` +
    `1-instance maximum, ${fmt(f.maxRatePerSecond, 1)} sagas/s) for ${f.seconds} s, open loop, ` +
    `one single-row INSERT each, into one instance with its defaults; then none. Backlog: ` +
    `RUNNING sagas + PENDING outbox events, read every 100 ms. Drain: sagas completed after the ` +
    `last order committed ÷ the time to the last one. CPU from /proc from the first order to the ` +
    `last saga finished, per saga, against the 1-instance throughput run's, run by run.`;
}

function historyNote(h: HistoryFigures): string {
  return `History: ${
    h.seededSagas.toLocaleString("en-US")
  } finished sagas seeded with SQL (each with its ` +
    `processed event, 4 step rows and 5 history rows, finished 31 to 61 days ago), a copy of ` +
    `them per run; "kept": RETENTION_SECONDS=0; "sweep running": the default 30-day retention ` +
    `with MAINTENANCE_INTERVAL_MS=1000. Claim cycles: the orchestrator's claim-cycle spans, ` +
    `exported by Deno's OpenTelemetry to the benchmark, in a run of their own of ` +
    `${h.claimSeconds} s at half our maximum (exporting costs CPU, so the throughput ` +
    `run exports nothing).`;
}

const TIMING = "Timing, the same for every engine: from the moment the first order is handed " +
  "over (our outbox INSERT starts; DBOS.startWorkflow is called; the first request goes to " +
  "Restate's ingress; graphile-worker's addJobs starts) to the last saga finished as the " +
  "engine itself records it (order_ledger.updated_at; dbos.workflow_status.updated_at; " +
  "sys_invocation_status.completed_at; graphile-worker's job table empty), so the producer's " +
  "hand-over is inside the window; the same warm-up orders first, untimed, on the same " +
  "processes; CPU read from /proc for each process group around that window.";

function peersNote(p: PeersFigures): string {
  return `Peers: DBOS ${p.dbos.version} and Restate (server ${p.restate.server}, SDK ` +
    `${p.restate.sdk}, @restatedev/xstate ${p.restate.xstate}) under Node ${p.dbos.node}, ` +
    `installed into the data directory; the same orders, the same four HTTP calls with the same ` +
    `Idempotency-Key headers to the same services. DBOS: a workflow of four DBOS.runStep, ` +
    `workflow id = order id, its system database on the same PostgreSQL server (every step ` +
    `committed there); started with DBOS.startWorkflow (all at once, as concurrent API ` +
    `requests would), or onto a queue of ${p.dbos.queueConcurrency} (our SAGA_CONCURRENCY) ` +
    `polled every ${p.dbos.queuePollMs} ms. Restate: its own log on local disk (a fresh ` +
    `server per run, its defaults); orders sent to its ingress by the benchmark, ` +
    `${p.restate.sendConcurrency} requests in flight; the workflow is four ctx.run, the machine ` +
    `is the saga as an XState machine run by @restatedev/xstate (each transition an ` +
    `invocation). graphile-worker: no-op jobs, ${p.graphileWorker.concurrency} workers. ` +
    `Each DBOS and Restate run comes right after a run of ours (1 instance, the same orders): ` +
    `"÷ this, run by run" divides that pair, so the machine's drift over the bench falls on ` +
    `both; "our sagas/s (1 instance) ÷ this" divides by our throughput runs at the start.`;
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
