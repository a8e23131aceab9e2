// Sagas per second to COMPLETED: N happy orders committed to the outbox in
// one transaction while the instances idle, timed as every engine in the
// benchmark is timed (tooling/bench/peer/saga_run.ts): from the moment the
// producer starts handing the orders over (the insert's start, so its cost is
// inside the window) to the last saga's COMPLETED (its ledger updated_at).
// Also what each saga cost the database, for the ceiling.
//
// The instances first run `warmup` orders, untimed, so the figure is the
// steady state of a running service (code compiled, connections open, caches
// warm) rather than a process's first seconds; the peer gets the same.
import { type BenchEnv, DB_NAME, type RunOptions, withInstances } from "./cluster.ts";
import { type Cost, costPerSaga, readCounters } from "./counters.ts";
import { type CpuCost, type CpuGroups, cpuPerSaga, readCpu } from "./cpu.ts";
import { scrapeSamples, scrapeSum } from "./scrape.ts";
import { FINISHED, happyOrders, insertAll, nowMs, serverNow, waitFinished } from "./orders.ts";

export interface ThroughputResult {
  sagasPerSecond: number;
  /** First order handed over (the outbox insert starts) → last saga COMPLETED. */
  seconds: number;
  /** The outbox insert of every order, start to commit. */
  handOverSeconds: number;
  cost: Cost;
  /** CPU per saga by process group, and how busy the machine was. */
  cpu: CpuCost;
  /** Saga transitions the instances wrote, per saga and per statement (group commit). */
  transitions: { perSaga: number; perStatement: number };
  /** A real step response and history detail, for the ceiling's replay. */
  sample: { stepResponse: unknown; historyDetail: unknown };
  /** The measured window, epoch milliseconds. */
  window: { fromMs: number; toMs: number };
  /** How much `opts.counter` grew in the window, summed over instances and labels. */
  counterDelta: number;
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
    /** Makes the database (default: fresh and empty). */
    database?: RunOptions["database"];
    /** An orchestrator counter to read at the window's start and end (see counterDelta). */
    counter?: string;
    onProgress?(done: number): void;
  },
): Promise<ThroughputResult> {
  return await withInstances(
    env,
    opts.instances,
    opts.vars ?? {},
    async (run) => {
      const counter = async () => {
        if (!opts.counter) return 0;
        let sum = 0;
        for (const i of run.instances) sum += await scrapeSum(i.adminUrl, opts.counter);
        own += run.instances.length;
        return sum;
      };
      const warmup = opts.warmup ?? 0;
      const all = happyOrders(warmup + opts.orders, opts.instances * 1000 + opts.orders);
      let own = 0; // transactions this benchmark runs on the measured database
      // Only this run's sagas count: the database may hold a seeded history (history.ts).
      const since = await serverNow(run.sql);
      // The database's counters reach pg_stat_database up to a second late and
      // at disconnect, so they are read around the whole run (warm-up
      // included) and divided by every saga; CPU and transitions are exact in
      // the measured window.
      const before = await readCounters(env.db.adminUrl, DB_NAME);
      if (warmup > 0) {
        await insertAll(run.sql, all.slice(0, warmup));
        own += Math.ceil(warmup / 5000);
        await waitFinished(run.sql, warmup, {
          since,
          timeoutMs: opts.timeoutMs,
          onProgress: () => own++,
          everyMs: 50,
        });
      }
      const orders = all.slice(warmup);
      const writtenBefore = await transitionsWritten(run.instances);
      own += run.instances.length; // each scrape counts the outbox
      const counterBefore = await counter();
      const groups: CpuGroups = {
        processes: {
          orchestrator: run.instances.map((i) => i.child.pid),
          services: Object.values(env.services.children).map((c) => c.pid),
        },
        trees: { postgres: env.db.postmasterPid },
      };
      const cpuBefore = await readCpu(groups);
      const handed = nowMs();
      await insertAll(run.sql, orders);
      const handOverSeconds = (nowMs() - handed) / 1000;
      own += Math.ceil(orders.length / 5000);
      const inserts = Math.ceil(warmup / 5000) + Math.ceil(orders.length / 5000);
      const byStatus = await waitFinished(run.sql, warmup + orders.length, {
        since,
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
      const counterAfter = await counter();
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
      SELECT extract(epoch FROM max(updated_at)) * 1000 AS ms FROM order_ledger
      WHERE status = ANY(${FINISHED}) AND created_at >= ${since}`;
      const [step] = await run.sql<{ response: unknown }[]>`
      SELECT response FROM saga_step
      WHERE order_id = ${orders[0]!.order_id} AND step = 'capturePayment'`;
      const [history] = await run.sql<{ detail: unknown }[]>`
      SELECT detail FROM saga_history
      WHERE order_id = ${orders[0]!.order_id} AND event = 'capturePayment:ok'`;
      own += 3;
      // Statistics are complete once every client has disconnected.
      await Promise.all(run.instances.map((i) => env.group.stop(i.child)));
      await run.sql.end({ timeout: 2 });
      await sleep(500);
      const after = await readCounters(env.db.adminUrl, DB_NAME);
      const seconds = (Number(last!.ms) - handed) / 1000;
      return {
        sagasPerSecond: orders.length / seconds,
        seconds,
        handOverSeconds,
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
        window: { fromMs: handed, toMs: Number(last!.ms) },
        counterDelta: counterAfter - counterBefore,
      };
    },
    { database: opts.database },
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
