// Where commit → COMPLETED goes, part by part, at steady arrival rates: the
// bench's latency-under-load set-up (one instance with its defaults, 500
// warm-up orders, then one order per transaction, open loop, as
// load_latency.ts runs it), with each saga's time split at its history lines
// (latency_parts_summary.ts) and the orchestrator's own means of its
// downstream calls and group-commit statements over the same window.
//
//   deno run -A tooling/bench/latency_parts.ts --rates 50,200,400 --seconds 10
//   deno run -A tooling/bench/latency_parts.ts --serial 200
//
// --serial places one order at a time and waits for it (reading the ledger
// every 5 ms): the floor of each part on this machine, with nothing queued.
import { intOption, parseCommandLine } from "../../src/cli_args.ts";
import { complain } from "../../src/cli_output.ts";
import { ProcessGroup } from "../cluster/mod.ts";
import { type BenchEnv, type Run, startBenchEnv, withInstances } from "./cluster.ts";
import { produceAtRate } from "./edge_producer.ts";
import { happyOrders, insertAll, nowMs, serverNow, waitFinished } from "./orders.ts";
import { scrapeSums } from "./scrape.ts";
import { latencyParts, partsReport, type WriterFigures } from "./latency_parts_summary.ts";

const USAGE =
  `Usage: deno run -A tooling/bench/latency_parts.ts [--rates R,R,...] [--seconds N] [--serial N]

  --rates R,...  orders per second, one run each (default 50,200,400)
  --seconds N    seconds of arrivals per run (default 10)
  --serial N     instead: N orders placed one at a time, each waited for

Prints, per run, each part of commit → COMPLETED (p50, p90, p99 in ms): from
the order's commit to the statement that started its saga, between the
statements that wrote two consecutive history lines (the commit of the first,
the downstream call, the wait behind the statement in flight), and from the
last line to the ledger's final update; then the instance's mean downstream
call, statement and write → commit times over the same orders.`;

const WARMUP = 500;

const { values } = parseCommandLine(Deno.args, {
  rates: { type: "string" },
  seconds: { type: "string" },
  serial: { type: "string" },
}, USAGE);
const int = intOption(USAGE);
const seconds = int("seconds", values.seconds, 10, 1);
const serial = values.serial === undefined ? 0 : int("serial", values.serial, 0, 1);
const rates = (values.rates ?? "50,200,400").split(",").map(Number);
if (rates.some((r) => !Number.isFinite(r) || r <= 0)) {
  complain(`--rates: expected positive numbers, comma-separated, got "${values.rates}"\n${USAGE}`);
  Deno.exit(2);
}

const WRITER_SERIES = {
  stepMs: "orchestrator_step_duration_seconds",
  statementMs: "orchestrator_transition_statement_seconds",
  waitMs: "orchestrator_transition_wait_seconds",
} as const;

type Counters = Record<string, number>;

async function counters(adminUrl: string): Promise<Counters> {
  const names = [
    ...Object.values(WRITER_SERIES).flatMap((s) => [`${s}_sum`, `${s}_count`]),
    "orchestrator_transition_batch_size_sum",
    "orchestrator_transition_batch_size_count",
  ];
  const sums = await scrapeSums(adminUrl, names);
  return Object.fromEntries(names.map((n, i) => [n, sums[i]!]));
}

function writerFigures(before: Counters, after: Counters): WriterFigures {
  const mean = (series: string, scale: number) =>
    (after[`${series}_sum`]! - before[`${series}_sum`]!) /
    (after[`${series}_count`]! - before[`${series}_count`]!) * scale;
  return {
    stepMs: mean(WRITER_SERIES.stepMs, 1000),
    statementMs: mean(WRITER_SERIES.statementMs, 1000),
    waitMs: mean(WRITER_SERIES.waitMs, 1000),
    batch: mean("orchestrator_transition_batch_size", 1),
  };
}

/** Places the measured orders (after the warm-up) and returns when each committed. */
type Placer = (run: Run, orders: ReturnType<typeof happyOrders>, since: Date) => Promise<
  Map<string, number>
>;

const atRate = (rate: number): Placer => async (run, orders) =>
  (await produceAtRate(run.url, orders, { ratePerSecond: rate })).committedAt;

const oneAtATime: Placer = async (run, orders, since) => {
  const committedAt = new Map<string, number>();
  for (const [i, order] of orders.entries()) {
    await insertAll(run.sql, [order]);
    committedAt.set(order.order_id, nowMs());
    await waitFinished(run.sql, WARMUP + i + 1, { since, timeoutMs: 60_000, everyMs: 5 });
  }
  return committedAt;
};

async function measure(
  env: BenchEnv,
  title: string,
  count: number,
  place: Placer,
) {
  await withInstances(env, 1, {}, async (run) => {
    const orders = happyOrders(WARMUP + count, 31 + count);
    const since = await serverNow(run.sql);
    await insertAll(run.sql, orders.slice(0, WARMUP));
    await waitFinished(run.sql, WARMUP, { since, timeoutMs: 120_000, everyMs: 50 });
    const adminUrl = run.instances[0]!.adminUrl;
    const before = await counters(adminUrl);
    const committedAt = await place(run, orders.slice(WARMUP), since);
    await waitFinished(run.sql, WARMUP + count, { since, timeoutMs: 300_000, everyMs: 100 });
    const after = await counters(adminUrl);
    const ids = [...committedAt.keys()];
    const history = await run.sql<{ order_id: string; event: string; ms: number }[]>`
      SELECT order_id, event, extract(epoch FROM at) * 1000 AS ms FROM saga_history
      WHERE order_id = ANY(${ids}) ORDER BY order_id, id`;
    const done = await run.sql<{ order_id: string; ms: number }[]>`
      SELECT order_id, extract(epoch FROM updated_at) * 1000 AS ms FROM order_ledger
      WHERE order_id = ANY(${ids})`;
    const { parts, unfinished } = latencyParts(
      committedAt,
      history.map((h) => ({ orderId: h.order_id, event: h.event, atMs: Number(h.ms) })),
      new Map(done.map((d) => [d.order_id, Number(d.ms)])),
    );
    const lines = partsReport(title, parts, writerFigures(before, after));
    if (unfinished > 0) lines.push(`  ${unfinished} orders without a history or an end`);
    console.log(lines.join("\n"));
  });
}

const group = new ProcessGroup({ 3: 12_000, 2: 3000, 1: 15_000 });
const env = await startBenchEnv(group, { dataDir: ".data/latency-parts", logLevel: "warn" });
try {
  if (serial > 0) {
    await measure(env, `${serial} orders, one at a time`, serial, oneAtATime);
  } else {
    for (const rate of rates) {
      const count = Math.max(1, Math.round(rate * seconds));
      await measure(env, `${rate} orders/s for ${seconds} s`, count, atRate(rate));
    }
  }
} finally {
  await group.stopAll();
}
