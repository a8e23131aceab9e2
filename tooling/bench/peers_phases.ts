// The peers' phases, in the same run as ours, on the same services and
// database server, with the same orders: graphile-worker (unbatched,
// batched), DBOS (started directly, queued), Restate (workflow, XState
// machine, and latency under load at our rates). Each peer's packages are
// installed on first use (peer/install.ts).
//
// Every run of a saga engine comes right after a run of ours (one instance,
// the same orders): a shared machine's speed drifts over a 20-minute bench,
// and our ratio to a peer measured minutes apart carried that drift (in one
// run our own throughput runs spread 718–860 sagas/s, and the same setup
// measured 878 a quarter of an hour later). Run beside it, the pair shares it.
import { resolve } from "node:path";
import { PEER_DIR } from "./args.ts";
import type { BenchEnv } from "./cluster.ts";
import { LOAD_SHARES, loadAtShares } from "./load_phases.ts";
import { STEPS_PER_SAGA } from "./orders.ts";
import { type DbosQueue, measureDbos } from "./peer/dbos.ts";
import { measureGraphileWorker } from "./peer/graphile_worker.ts";
import { installPeer } from "./peer/install.ts";
import { measureRestate, RESTATE_SEND_CONCURRENCY, type RestateVariant } from "./peer/restate.ts";
import { measureRestateLoadLatency } from "./peer/restate_load_latency.ts";
import type { Beside, PeerRuns } from "./peers_figures.ts";
import type { Phases } from "./phases.ts";
import type { ThroughputResult } from "./throughput.ts";

export const PEER_PHASES = 6 + LOAD_SHARES.length;

const TIMEOUT_MS = 600_000;

export async function peersPhases(
  env: BenchEnv,
  phases: Phases,
  opts: {
    orders: number;
    warmup: number;
    /** graphile-worker's no-op jobs per run, and its workers. */
    jobs: number;
    workers: number;
    dbosQueue: DbosQueue;
    /** Our measured 1-instance maximum: Restate's latency runs use the same absolute rates. */
    maxRatePerSecond: number;
    loadSeconds: number;
    /** One throughput run of ours (1 instance, the same orders), run just before each engine's run. */
    ours(onProgress: (finished: number) => void): Promise<ThroughputResult>;
  },
): Promise<PeerRuns> {
  const peerDir = resolve(PEER_DIR);
  const log = (line: string) => phases.log(line);
  const nodes = {
    graphileWorker: await installPeer(peerDir, "graphileWorker", log),
    dbos: await installPeer(peerDir, "dbos", log),
    restate: await installPeer(peerDir, "restate", log),
  };
  const finished = (label: string, run: number) => (n: number) =>
    phases.status(label, run, `${n}/${opts.orders} finished`);
  /** `measure` right after a run of ours, which it is then compared with. */
  const beside = async <T>(label: string, run: number, measure: () => Promise<T>) => {
    const ours = await opts.ours((n) =>
      phases.status(label, run, `ours just before it: ${n}/${opts.orders} finished`)
    );
    return { ...await measure(), oursBeside: ours.sagasPerSecond } as Beside<T>;
  };

  const graphile = (batched: boolean) =>
    phases.repeat(
      `graphile-worker, ${batched ? "batched" : "unbatched"}`,
      () =>
        measureGraphileWorker(env, {
          node: nodes.graphileWorker,
          peerDir,
          jobs: opts.jobs,
          warmup: STEPS_PER_SAGA * opts.warmup,
          concurrency: opts.workers,
          batched,
        }),
    );
  const dbos = (queue: DbosQueue | undefined) => {
    const label = queue ? `DBOS, queue of ${queue.concurrency}` : "DBOS, DBOS.startWorkflow";
    return phases.repeat(label, (run) =>
      beside(label, run, () =>
        measureDbos(env, {
          node: nodes.dbos,
          peerDir,
          orders: opts.orders,
          warmup: opts.warmup,
          queue,
          timeoutMs: TIMEOUT_MS,
          onProgress: finished(label, run),
        })));
  };
  const restate = (variant: RestateVariant) => {
    const label = `Restate, ${variant}`;
    return phases.repeat(label, (run) =>
      beside(label, run, () =>
        measureRestate(env, {
          node: nodes.restate,
          peerDir,
          variant,
          orders: opts.orders,
          warmup: opts.warmup,
          timeoutMs: TIMEOUT_MS,
          onProgress: finished(label, run),
        })));
  };

  return {
    graphileWorker: {
      concurrency: opts.workers,
      unbatched: await graphile(false),
      batched: await graphile(true),
    },
    dbos: {
      queue: opts.dbosQueue,
      direct: await dbos(undefined),
      queued: await dbos(opts.dbosQueue),
    },
    restate: {
      sendConcurrency: RESTATE_SEND_CONCURRENCY,
      workflow: await restate("workflow"),
      machine: await restate("machine"),
      load: await loadAtShares(
        phases,
        "latency under load, Restate workflow",
        { maxRatePerSecond: opts.maxRatePerSecond, seconds: opts.loadSeconds },
        (ratePerSecond, onProgress) =>
          measureRestateLoadLatency(env, {
            node: nodes.restate,
            peerDir,
            ratePerSecond,
            seconds: opts.loadSeconds,
            warmup: opts.warmup,
            timeoutMs: TIMEOUT_MS,
            onProgress,
          }),
      ),
    },
  };
}
