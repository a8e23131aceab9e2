// DBOS Transact as a peer: the order saga as a DBOS workflow (dbos.cjs), its
// system database a fresh database of its own on the benchmark's PostgreSQL
// server, timed as every engine is (saga_run.ts).
//
// Two ways to start the workflows, both with workflow id = order id:
//   direct  DBOS.startWorkflow: each workflow runs at once in the process,
//           with no bound on how many run together;
//   queue   DBOS.startWorkflow onto a DBOS.registerQueue queue with the
//           orchestrator's concurrency (SAGA_CONCURRENCY) per process.
// Completion is read from its system database (dbos.workflow_status).
import postgres from "postgres";
import { resetService } from "../../reference_services/mod.ts";
import type { BenchEnv } from "../cluster.ts";
import { happyOrders } from "../orders.ts";
import { emptyDatabase } from "./empty_database.ts";
import { startNodeProgram } from "./node_program.ts";
import { type SagaPeerRun, timeSagaEngine } from "./saga_run.ts";

export const DBOS_DATABASE = "bench_dbos";

export interface DbosQueue {
  concurrency: number;
  /**
   * The queue's minimum polling interval. DBOS's default (1 s) would let a
   * queue with 256 slots start at most 256 workflows a second; a user
   * tuning for throughput lowers it, and so do we.
   */
  pollMs: number;
}

export interface DbosRun extends SagaPeerRun {
  node: string;
  version: string;
}

const FAILED = ["ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED", "RETRIES_EXCEEDED"];

export async function measureDbos(
  env: BenchEnv,
  opts: {
    node: string;
    peerDir: string;
    orders: number;
    warmup: number;
    /** Absent: workflows started directly. */
    queue?: DbosQueue;
    timeoutMs: number;
    onProgress?(finished: number): void;
  },
): Promise<DbosRun> {
  await Promise.all(Object.values(env.services.urls).map((url) => resetService(url)));
  const url = await emptyDatabase(env.db, DBOS_DATABASE);
  const ordersFile = `${env.dataDir}/dbos-orders.json`;
  await Deno.writeTextFile(
    ordersFile,
    JSON.stringify(happyOrders(opts.warmup + opts.orders, 31 + opts.orders)),
  );
  const { child, ready } = await startNodeProgram(env, {
    name: opts.queue ? "dbos-queue" : "dbos",
    node: opts.node,
    peerDir: opts.peerDir,
    script: "dbos.cjs",
    vars: {
      SYSTEM_DATABASE_URL: url,
      ORDERS_FILE: ordersFile,
      QUEUE: opts.queue ? "orders" : "",
      QUEUE_CONCURRENCY: String(opts.queue?.concurrency ?? 0),
      QUEUE_POLL_MS: String(opts.queue?.pollMs ?? 0),
    },
    stdin: true,
  });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const run = await timeSagaEngine({
      async hand(from, count) {
        await child.writeLine(`start ${from} ${count}`);
        await child.waitForLine((line) => {
          try {
            const parsed = JSON.parse(line);
            return parsed?.from === from && parsed?.handed === count ? true : undefined;
          } catch {
            return undefined;
          }
        }, opts.timeoutMs);
      },
      async progress() {
        const [row] = await sql<{ ok: number; failed: number }[]>`
          SELECT count(*) FILTER (WHERE status = 'SUCCESS')::int AS ok,
            count(*) FILTER (WHERE status = ANY(${FAILED}))::int AS failed
          FROM dbos.workflow_status`;
        return { finished: row!.ok + row!.failed, failed: row!.failed };
      },
      async lastFinishedMs() {
        const [row] = await sql<{ ms: string }[]>`
          SELECT max(updated_at)::text AS ms FROM dbos.workflow_status WHERE status = 'SUCCESS'`;
        return Number(row!.ms);
      },
      cpuGroups: {
        processes: {
          // The application process: DBOS runs inside it, and so do the starts.
          engine: [child.pid],
          services: Object.values(env.services.children).map((c) => c.pid),
        },
        trees: { postgres: env.db.postmasterPid },
      },
    }, {
      warmup: opts.warmup,
      orders: opts.orders,
      timeoutMs: opts.timeoutMs,
      pollMs: 50,
      onProgress: opts.onProgress,
    });
    return { ...run, node: String(ready.node), version: String(ready.version) };
  } finally {
    await sql.end({ timeout: 2 });
    await env.group.stop(child);
    await Deno.remove(ordersFile).catch(() => {});
  }
}
