// graphile-worker as the queue floor: no-op jobs on the same PostgreSQL, in a
// database of their own, unbatched and batched (graphile_worker.cjs). Timed
// from the moment the jobs are added (one call) to the last completion, with
// CPU per job read around that window: the worker's Node process and
// PostgreSQL.
import { freshDatabase } from "../../cluster/mod.ts";
import type { BenchEnv } from "../cluster.ts";
import { type CpuCost, cpuPerSaga, readCpu } from "../cpu.ts";
import { startNodeProgram } from "./node_program.ts";

export interface GraphileWorkerRun {
  jobsPerSecond: number;
  seconds: number;
  jobs: number;
  concurrency: number;
  batched: boolean;
  node: string;
  version: string;
  /** CPU per job, by process group. */
  cpu: CpuCost;
}

export async function measureGraphileWorker(
  env: BenchEnv,
  opts: {
    node: string;
    peerDir: string;
    jobs: number;
    /** Jobs run to completion first, untimed. */
    warmup: number;
    concurrency: number;
    batched: boolean;
  },
): Promise<GraphileWorkerRun> {
  const fresh = await freshDatabase(env.db, "bench_peer", { max: 1 });
  await fresh.sql.end({ timeout: 2 });
  const { child } = await startNodeProgram(env, {
    name: "graphile-worker",
    node: opts.node,
    peerDir: opts.peerDir,
    script: "graphile_worker.cjs",
    vars: {
      DATABASE_URL: fresh.url,
      JOBS: String(opts.jobs),
      WARMUP: String(opts.warmup),
      CONCURRENCY: String(opts.concurrency),
      BATCHED: String(opts.batched),
    },
    stdin: true,
  });
  try {
    const groups = {
      processes: { engine: [child.pid] },
      trees: { postgres: env.db.postmasterPid },
    };
    const before = await readCpu(groups);
    await child.writeLine("go");
    const result = await child.waitForLine((line) => {
      try {
        const parsed = JSON.parse(line);
        return typeof parsed?.jobsPerSecond === "number"
          ? parsed as Omit<GraphileWorkerRun, "cpu">
          : undefined;
      } catch {
        return undefined;
      }
    }, 600_000);
    const after = await readCpu(groups);
    return { ...result, cpu: cpuPerSaga(before, after, opts.jobs) };
  } finally {
    // It stops and exits by itself after its result; SIGTERM if it has not.
    await env.group.stop(child);
  }
}
