// `deno task bench`: every documented figure in one process tree on one machine. An
// embedded PostgreSQL, the reference services (zero added latency) and
// orchestrator processes, then the peers (DBOS, Restate, graphile-worker) on
// the same services and database server; every figure measured `--repeats`
// times (median and min–max); a table on stdout and JSON at `--out`.
//
//   deno task bench [--quick] [--peers | --no-peers] [--out FILE] [--repeats N]
//     [--orders N] [--wake-orders N] [--memory-sagas N] [--peer-jobs N]
//     [--producer-seconds N] [--producer-client auto|pgbench|deno] [--load-seconds N]
//     [--history-sagas N] [--history-seconds N] [--slow-seconds N]
//     [--overload-seconds N] [--only PHASES] [--data-dir DIR]
import { resolve } from "node:path";
import postgres from "postgres";
import { ProcessGroup } from "../cluster/mod.ts";
import { ProgressLine } from "../cluster/progress.ts";
import { fmt } from "../../src/tools/text_table.ts";
import { type BenchEnv, startBenchEnv } from "./cluster.ts";
import { measureCeiling } from "./ceiling.ts";
import { HISTORY_PHASES, historyPhases } from "./history_phases.ts";
import { measureLoadLatency } from "./load_latency.ts";
import { LOAD_SHARES, loadAtShares } from "./load_phases.ts";
import { describeMachine, loadAverage } from "./machine.ts";
import { measureMemory } from "./memory.ts";
import { measureOverload } from "./overload.ts";
import type { DbosQueue } from "./peer/dbos.ts";
import { PEER_PHASES, peersPhases } from "./peers_phases.ts";
import { createPhases } from "./phases.ts";
import { parseBenchArgs, type PhaseGroup } from "./args.ts";
import { unwritableReason } from "./output_file.ts";
import { measureProducerCost } from "./producer_cost.ts";
import { chooseProducerLoad, PRODUCER_STATEMENT, type ProducerLoad } from "./producer_load.ts";
import { renderReport } from "./report.ts";
import { assembleResults } from "./results.ts";
import { measureSlowService } from "./slow_service.ts";
import { percentile } from "./stats.ts";
import { measureThroughput, type ThroughputResult } from "./throughput.ts";
import { measureWakeup } from "./wakeup.ts";
import { complain, say } from "../../src/cli_output.ts";
import { DEFAULT_DB_POOL_SIZE, DEFAULT_SAGA_CONCURRENCY } from "../../src/config.ts";

const POLL_INTERVAL_MS = 100;
// The orchestrator runs with its defaults.
const DB_POOL_SIZE = DEFAULT_DB_POOL_SIZE;
const SAGA_CONCURRENCY = DEFAULT_SAGA_CONCURRENCY;
const PEER_CONCURRENCY = 10;
// DBOS's queue runs as many workflows at once as we run sagas; see DbosQueue for the polling.
const DBOS_QUEUE: DbosQueue = { concurrency: SAGA_CONCURRENCY, pollMs: POLL_INTERVAL_MS };
// An edge API's pool inserting events: the producer's-cost figure.
const PRODUCER_CLIENTS = 16;
// The struggling service is measured at half our maximum (as the first
// latency-under-load figure), the overload at one and a half times it.
const SLOW_SHARE = 0.5;
const OVERLOAD_SHARE = 1.5;

async function postgresVersion(adminUrl: string): Promise<string> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`;
    return row?.v ?? "?";
  } finally {
    await sql.end({ timeout: 2 });
  }
}

async function main(): Promise<number> {
  const args = parseBenchArgs();
  const unwritable = await unwritableReason(args.out);
  if (unwritable !== undefined) {
    complain(`--out ${args.out}: cannot write the results there (${unwritable})`);
    return 2;
  }
  let producerLoad: ProducerLoad;
  try {
    producerLoad = await chooseProducerLoad(args.producerClient);
  } catch (err) {
    complain((err as Error).message);
    return 2;
  }
  const startedAt = new Date().toISOString();
  const progress = new ProgressLine(2000);
  const group = new ProcessGroup({ 3: 12_000, 2: 3000, 1: 15_000 });
  let signals = 0;
  const onSignal = (signal: Deno.Signal) => () => {
    if (++signals > 1) return group.killAll();
    progress.log(`${signal}: stopping every process (again to kill them at once)…`);
    group.stopAll().finally(() => Deno.exit(130));
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) Deno.addSignalListener(s, onSignal(s));

  const machine = await describeMachine();
  machine.loadAverageBefore = await loadAverage();
  say(
    `Benchmark (${args.quick ? "quick" : "full"}): ${machine.cpuModel}, ${machine.cores} cores, ` +
      `${machine.memoryGiB} GiB RAM`,
  );
  const R = args.repeats;
  const wanted = (phase: PhaseGroup) => args.only === undefined || args.only.has(phase);
  const total = 2 + // throughput, 1 and 2 instances
    (wanted("wakeup") ? 2 : 0) + (wanted("ceiling") ? 3 : 0) +
    (wanted("load") ? LOAD_SHARES.length : 0) + (wanted("slow") ? 1 : 0) +
    (wanted("overload") ? 1 : 0) + (wanted("memory") ? 1 : 0) + (wanted("producer") ? 1 : 0) +
    (wanted("history") ? HISTORY_PHASES : 0) + (args.peers ? PEER_PHASES : 0);
  const phases = createPhases(progress, R, total);
  const { repeat, status } = phases;

  let env: BenchEnv | undefined;
  try {
    progress.update("starting PostgreSQL and the reference services…");
    env = await startBenchEnv(group, { dataDir: args.dataDir, logLevel: "warn" });
    machine.postgres = await postgresVersion(env.db.adminUrl);
    const e = env;

    /** One throughput run of ours: the same orders for every figure that compares with it. */
    const throughputRun = (instances: number, onProgress: (finished: number) => void) =>
      measureThroughput(e, {
        orders: args.orders,
        warmup: args.warmup,
        instances,
        timeoutMs: 600_000,
        onProgress,
      });
    const throughput = async (instances: number, label: string) =>
      await repeat(
        label,
        (run) =>
          throughputRun(instances, (n) => status(label, run, `${n}/${args.orders} finished`)),
      );
    const one = await throughput(1, "throughput, 1 instance");
    const two = await throughput(2, "throughput, 2 instances");

    // Gaps long enough that each order finds the orchestrator idle.
    const wakeup = async (listen: boolean, label: string) =>
      await repeat(label, (run) =>
        measureWakeup(e, {
          orders: args.wakeOrders,
          listen,
          pollIntervalMs: POLL_INTERVAL_MS,
          gapMs: [20, 60],
          onProgress: (n) => status(label, run, `${n}/${args.wakeOrders} placed`),
        }));
    const wakeups = wanted("wakeup")
      ? {
        notify: await wakeup(true, "wake-up latency, NOTIFY"),
        polling: await wakeup(false, `wake-up latency, polling every ${POLL_INTERVAL_MS} ms`),
      }
      : undefined;

    // The ceiling replays the transitions per saga the engine wrote, grouped
    // into statements as its group commit grouped them in the same runs.
    const transitionsPerSaga = Math.max(
      1,
      Math.round(percentile(one.map((r) => r.transitions.perSaga), 50)),
    );
    const sample = one[0]!.sample;
    const ceiling = async (connections: number, perStatement: number, label: string) => {
      return {
        connections,
        transitionsPerStatement: perStatement,
        runs: await repeat(label, () =>
          measureCeiling(e, {
            sagas: args.orders,
            concurrency: connections,
            transitionsPerSaga,
            transitionsPerStatement: perStatement,
            sample,
          })),
      };
    };
    const batchOf = (runs: ThroughputResult[]) =>
      percentile(runs.map((r) => r.transitions.perStatement), 50);
    const ceilings = wanted("ceiling")
      ? {
        one: await ceiling(DB_POOL_SIZE, batchOf(one), `ceiling, ${DB_POOL_SIZE} connections`),
        two: await ceiling(
          2 * DB_POOL_SIZE,
          batchOf(two),
          `ceiling, ${2 * DB_POOL_SIZE} connections`,
        ),
        // For scale: the same writes with a commit per transition, as an engine
        // without group commit must write them.
        solo: await ceiling(
          DB_POOL_SIZE,
          1,
          `ceiling without group commit, ${DB_POOL_SIZE} connections`,
        ),
      }
      : undefined;

    // Latency under load, a struggling service and overload: at shares of
    // the maximum we just measured.
    const maxRate = percentile(one.map((r) => r.sagasPerSecond), 50);
    const load = wanted("load")
      ? await loadAtShares(
        phases,
        "latency under load, ours",
        { maxRatePerSecond: maxRate, seconds: args.loadSeconds },
        (ratePerSecond, onProgress) =>
          measureLoadLatency(e, {
            ratePerSecond,
            seconds: args.loadSeconds,
            warmup: args.warmup,
            timeoutMs: 600_000,
            onProgress,
          }),
      )
      : undefined;

    const slowRate = Math.max(1, Math.round(SLOW_SHARE * maxRate));
    const slowLabel = `struggling Payments, ${slowRate} orders/s (${
      SLOW_SHARE * 100
    } % of our max), ${args.slowSeconds} s ten times slower`;
    const slow = wanted("slow")
      ? {
        share: SLOW_SHARE,
        runs: await repeat(slowLabel, (run) =>
          measureSlowService(e, {
            ratePerSecond: slowRate,
            healthySeconds: args.slowHealthySeconds,
            slowSeconds: args.slowSeconds,
            warmup: args.warmup,
            timeoutMs: 600_000,
            onProgress: (detail) => status(slowLabel, run, detail),
          })),
      }
      : undefined;

    const overloadRate = Math.max(1, Math.round(OVERLOAD_SHARE * maxRate));
    const overloadLabel = `overload, ${overloadRate} orders/s (${
      OVERLOAD_SHARE * 100
    } % of our max) for ${args.overloadSeconds} s, then the drain`;
    const overload = wanted("overload")
      ? {
        share: OVERLOAD_SHARE,
        seconds: args.overloadSeconds,
        maxRatePerSecond: maxRate,
        runs: await repeat(overloadLabel, (run) =>
          measureOverload(e, {
            ratePerSecond: overloadRate,
            seconds: args.overloadSeconds,
            warmup: args.warmup,
            timeoutMs: 600_000,
            onProgress: (detail) => status(overloadLabel, run, detail),
          })),
      }
      : undefined;

    const memoryLabel = `memory, ${args.memorySagas} sagas waiting`;
    const memory = wanted("memory")
      ? await repeat(memoryLabel, (run) =>
        measureMemory(e, {
          sagas: args.memorySagas,
          timeoutMs: 600_000,
          onProgress: (n) => status(memoryLabel, run, `${n} waiting on the capture`),
        }))
      : undefined;

    const producerLabel =
      `producer's cost, ${PRODUCER_CLIENTS} clients × ${args.producerSeconds} s per case`;
    const producer = wanted("producer")
      ? {
        client: producerLoad.name,
        clients: PRODUCER_CLIENTS,
        seconds: args.producerSeconds,
        statement: PRODUCER_STATEMENT,
        runs: await repeat(producerLabel, (run) =>
          measureProducerCost(e, {
            load: producerLoad,
            clients: PRODUCER_CLIENTS,
            seconds: args.producerSeconds,
            pollIntervalMs: POLL_INTERVAL_MS,
            onStep: (step) => status(producerLabel, run, step),
          })),
      }
      : undefined;
    const history = wanted("history")
      ? await historyPhases(e, phases, {
        sagas: args.historySagas,
        orders: args.orders,
        warmup: args.warmup,
        claimSeconds: args.historySeconds,
        oneInstance: one,
      })
      : undefined;
    const peers = args.peers
      ? await peersPhases(e, phases, {
        orders: args.orders,
        warmup: args.warmup,
        jobs: args.peerJobs,
        workers: PEER_CONCURRENCY,
        dbosQueue: DBOS_QUEUE,
        maxRatePerSecond: maxRate,
        loadSeconds: args.loadSeconds,
        ours: (onProgress) => throughputRun(1, onProgress),
      })
      : undefined;
    progress.done();
    machine.loadAverageAfter = await loadAverage();

    const results = assembleResults(
      {
        one,
        two,
        wakeup: wakeups,
        ceiling: ceilings,
        memory,
        producer,
        load,
        slow,
        overload,
        history,
        peers,
      },
      {
        mode: args.quick ? "quick" : "full",
        startedAt,
        machine,
        transitionsPerSaga,
        settings: {
          repeats: R,
          orders: args.orders,
          warmupOrders: args.warmup,
          wakeOrders: args.wakeOrders,
          pollIntervalMs: POLL_INTERVAL_MS,
          memorySagas: args.memorySagas,
          peerJobs: args.peerJobs,
          peerConcurrency: PEER_CONCURRENCY,
          loadSeconds: args.loadSeconds,
          historySagas: args.historySagas,
          historySeconds: args.historySeconds,
          slowSeconds: args.slowSeconds,
          slowHealthySeconds: args.slowHealthySeconds,
          overloadSeconds: args.overloadSeconds,
          ...(args.only ? { only: [...args.only] } : {}),
          orchestratorLogLevel: e.logLevel,
          dbPoolSize: DB_POOL_SIZE,
          sagaConcurrency: SAGA_CONCURRENCY,
        },
      },
    );
    say(renderReport(results));
    await Deno.mkdir(resolve(args.out, ".."), { recursive: true });
    await Deno.writeTextFile(args.out, JSON.stringify(results, null, 2) + "\n");
    say(
      `\nJSON written to ${args.out} (took ${
        fmt((Date.now() - Date.parse(startedAt)) / 1000, 0)
      } s)`,
    );
    return 0;
  } catch (err) {
    progress.done();
    if (signals > 0) return 130;
    complain(
      `Benchmark failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`,
    );
    return 1;
  } finally {
    if (signals === 0) {
      progress.update("stopping every process…", true);
      await group.stopAll();
      progress.done();
    }
  }
}

const code = await main();
if (code !== 130) Deno.exit(code);
