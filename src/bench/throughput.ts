// Sagas per second to COMPLETED: N happy orders committed to the outbox in
// one transaction while the instances idle, timed from that commit to the
// last saga's COMPLETED (its ledger updated_at). Also what each saga cost the
// database, for the ceiling.
import { type BenchEnv, DB_NAME, withInstances } from "./cluster.ts";
import { type Cost, costPerSaga, readCounters } from "./counters.ts";
import { type CpuCost, type CpuGroups, cpuPerSaga, readCpu } from "./cpu.ts";
import { scrapeSample } from "./scrape.ts";
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
      const orders = happyOrders(opts.orders, opts.instances * 1000 + opts.orders);
      let own = 0; // transactions this benchmark runs on the measured database
      const before = await readCounters(env.db.adminUrl, DB_NAME);
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
      const inserts = Math.ceil(orders.length / 5000);
      own += inserts;
      const byStatus = await waitFinished(run.sql, orders.length, {
        timeoutMs: opts.timeoutMs,
        onProgress: (n) => {
          own++;
          opts.onProgress?.(n);
        },
        everyMs: 50,
      });
      const cpuAfter = await readCpu(groups);
      const written = { sum: 0, count: 0 };
      for (const i of run.instances) {
        written.sum += await scrapeSample(i.adminUrl, "orchestrator_transition_batch_size_sum");
        written.count += await scrapeSample(i.adminUrl, "orchestrator_transition_batch_size_count");
      }
      if (byStatus.COMPLETED !== orders.length) {
        throw new Error(`expected ${orders.length} COMPLETED, got ${JSON.stringify(byStatus)}`);
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
        cost: costPerSaga(before, after, orders.length, {
          commits: own,
          writes: inserts,
          rowsInserted: orders.length,
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
