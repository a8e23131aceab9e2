// Sagas per second to COMPLETED: N happy orders committed to the outbox in
// one transaction while the instances idle, timed from that commit to the
// last saga's COMPLETED (its ledger updated_at). Also what each saga cost the
// database, for the ceiling.
//
// The instances first run `warmup` orders, untimed, so the figure is the
// steady state of a running service (code compiled, connections open, caches
// warm) rather than a process's first seconds; the peer gets the same.
import { type BenchEnv, DB_NAME, withInstances } from "./cluster.ts";
import { type Cost, costPerSaga, readCounters } from "./counters.ts";
import { type CpuCost, type CpuGroups, cpuPerSaga, readCpu } from "./cpu.ts";
import { scrapeSamples } from "./scrape.ts";
import { happyOrders, insertAll, nowMs, waitFinished } from "./orders.ts";

export interface ThroughputResult {
  sagasPerSecond: number;
  seconds: number;
  cost: Cost;
  /** CPU per saga by process group, and how busy the machine was. */
  cpu: CpuCost;
  /** Saga transitions the instances wrote, per saga and per statement (group commit). */
  transitions: { perSaga: number; perStatement: number };
  /** A real step response and history detail, for the ceiling's replay. */
  sample: { stepResponse: unknown; historyDetail: unknown };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureThroughput(
  env: BenchEnv,
  opts: {
    orders: number;
    instances: number;
    timeoutMs: number;
    /** Orders run to completion before the measured ones (default 0). */
    warmup?: number;
    /** Extra orchestrator environment (default: none, i.e. its defaults). */
    vars?: Record<string, string>;
    onProgress?(done: number): void;
  },
): Promise<ThroughputResult> {
  return await withInstances(
    env,
    opts.instances,
    opts.vars ?? {},
    async (run) => {
      const warmup = opts.warmup ?? 0;
      const all = happyOrders(warmup + opts.orders, opts.instances * 1000 + opts.orders);
      let own = 0; // transactions this benchmark runs on the measured database
      // The database's counters reach pg_stat_database up to a second late and
      // at disconnect, so they are read around the whole run (warm-up
      // included) and divided by every saga; CPU and transitions are exact in
      // the measured window.
      const before = await readCounters(env.db.adminUrl, DB_NAME);
      if (warmup > 0) {
        await insertAll(run.sql, all.slice(0, warmup));
        own += Math.ceil(warmup / 5000);
        await waitFinished(run.sql, warmup, {
          timeoutMs: opts.timeoutMs,
          onProgress: () => own++,
          everyMs: 50,
        });
      }
      const orders = all.slice(warmup);
      const writtenBefore = await transitionsWritten(run.instances);
      own += run.instances.length; // each scrape counts the outbox
      const groups: CpuGroups = {
        processes: {
          orchestrator: run.instances.map((i) => i.child.pid),
          services: Object.values(env.services.children).map((c) => c.pid),
        },
        trees: { postgres: env.db.postmasterPid },
      };
      const cpuBefore = await readCpu(groups);
      await insertAll(run.sql, orders);
      const committed = nowMs();
      own += Math.ceil(orders.length / 5000);
      const inserts = Math.ceil(warmup / 5000) + Math.ceil(orders.length / 5000);
      const byStatus = await waitFinished(run.sql, warmup + orders.length, {
        timeoutMs: opts.timeoutMs,
        onProgress: (n) => {
          own++;
          opts.onProgress?.(n - warmup);
        },
        everyMs: 50,
      });
      const cpuAfter = await readCpu(groups);
      const writtenAfter = await transitionsWritten(run.instances);
      own += run.instances.length;
      const written = {
        sum: writtenAfter.sum - writtenBefore.sum,
        count: writtenAfter.count - writtenBefore.count,
      };
      if (byStatus.COMPLETED !== warmup + orders.length) {
        throw new Error(
          `expected ${warmup + orders.length} COMPLETED, got ${JSON.stringify(byStatus)}`,
        );
      }
      const [last] = await run.sql<{ ms: number }[]>`
      SELECT extract(epoch FROM max(updated_at)) * 1000 AS ms FROM order_ledger`;
      const [step] = await run.sql<{ response: unknown }[]>`
      SELECT response FROM saga_step WHERE step = 'capturePayment' LIMIT 1`;
      const [history] = await run.sql<{ detail: unknown }[]>`
      SELECT detail FROM saga_history WHERE event = 'capturePayment:ok' LIMIT 1`;
      own += 3;
      // Statistics are complete once every client has disconnected.
      await Promise.all(run.instances.map((i) => env.group.stop(i.child)));
      await run.sql.end({ timeout: 2 });
      await sleep(500);
      const after = await readCounters(env.db.adminUrl, DB_NAME);
      const seconds = (Number(last!.ms) - committed) / 1000;
      return {
        sagasPerSecond: orders.length / seconds,
        seconds,
        cost: costPerSaga(before, after, all.length, {
          commits: own,
          writes: inserts,
          rowsInserted: all.length,
        }),
        cpu: cpuPerSaga(cpuBefore, cpuAfter, orders.length),
        transitions: {
          perSaga: written.sum / orders.length,
          perStatement: written.sum / written.count,
        },
        sample: { stepResponse: step?.response ?? null, historyDetail: history?.detail ?? null },
      };
    },
  );
}

/** Transitions the instances have written so far, and in how many statements. */
async function transitionsWritten(instances: { adminUrl: string }[]) {
  const total = { sum: 0, count: 0 };
  for (const i of instances) {
    const [sum, count] = await scrapeSamples(i.adminUrl, [
      "orchestrator_transition_batch_size_sum",
      "orchestrator_transition_batch_size_count",
    ]);
    total.sum += sum!;
    total.count += count!;
  }
  return total;
}
