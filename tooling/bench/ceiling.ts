// The ceiling: how fast this PostgreSQL commits the writes a saga costs, with
// no orchestrator in the way. The engine's own statements (src/db/intake_queries.ts,
// src/db/transitions.ts) replayed from one Deno client over `concurrency` connections: intake
// transactions of 100 events (claim the outbox rows, insert the sagas, record the events
// the events), then `transitionsPerSaga` fenced transitions per saga (ledger
// update + step row + history rows), committed `transitionsPerStatement`
// sagas to a statement as the engine's group commit did in the measured run:
// the same rows, the same statements, the same number of commits per saga.
import { createSql } from "../../src/db/client.ts";
import { claimOutbox, insertSagas, recordDispositions } from "../../src/db/intake_queries.ts";
import { persistTransitions } from "../../src/db/transitions.ts";
import { freshDatabase } from "../cluster/mod.ts";
import { startSaga, stateName, toStoredSnapshot } from "../../src/engine/saga_state.ts";
import { validateEvent } from "../../src/engine/validate.ts";
import { sagaMachine } from "../../machines/registry.ts";
import { orderSaga } from "../../machines/order_definition.ts";

const CURRENT_SAGA_VERSION = orderSaga.current;
import { type BenchEnv, DB_NAME } from "./cluster.ts";
import { type Cost, costPerSaga, readCounters } from "./counters.ts";
import { happyOrders, insertAll } from "./orders.ts";

export interface CeilingResult {
  sagasPerSecond: number;
  commitsPerSecond: number;
  seconds: number;
  cost: Cost;
}

const ME = "ceiling";
const BATCH = 100;
const STEPS = ["createOrder", "reserveInventory", "capturePayment", "confirmOrder"];
const ATTEMPT = { event: { type: "ATTEMPT" } };
const BUDGET = { forward: 5, confirm: 20, compensation: 20 };

/** Runs `work` over `items` with `concurrency` workers. */
async function inParallel<T>(concurrency: number, items: T[], work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

export async function measureCeiling(
  env: BenchEnv,
  opts: {
    sagas: number;
    concurrency: number;
    transitionsPerSaga: number;
    /** Transitions per statement the engine's group commit reached (1: a commit each). */
    transitionsPerStatement: number;
    sample: { stepResponse: unknown; historyDetail: unknown };
  },
): Promise<CeilingResult> {
  const fresh = await freshDatabase(env.db, DB_NAME, { max: 1 });
  const machine = sagaMachine(CURRENT_SAGA_VERSION)!;
  const orders = happyOrders(opts.sagas, 99);
  await insertAll(fresh.sql, orders);
  await fresh.sql.end({ timeout: 2 });

  // The initial snapshot and pending step intake would write, per order.
  const initial = new Map(orders.map((o) => {
    const valid = validateEvent("OrderPlaced", o.order_id, o);
    if (valid.kind !== "start") throw new Error("not an OrderPlaced");
    const input = valid.definition.start.input(valid.payload as never, { budget: BUDGET });
    const { snapshot, pending } = startSaga(machine, input);
    return [o.order_id, {
      state: stateName(snapshot.value),
      snapshot: toStoredSnapshot(machine, snapshot),
      pending,
    }];
  }));

  const sql = createSql(fresh.url, { max: opts.concurrency });
  await Promise.all(Array.from({ length: opts.concurrency }, () => sql`SELECT 1`));
  const before = await readCounters(env.db.adminUrl, DB_NAME);
  const started = performance.now();

  // Intake: claim a batch of events, insert their sagas, record the events' dispositions.
  const batches = Array.from({ length: Math.ceil(orders.length / BATCH) }, (_, i) => i);
  await inParallel(opts.concurrency, batches, async () => {
    await sql.begin(async (tx) => {
      const events = await claimOutbox(tx, BATCH);
      if (events.length === 0) return;
      await insertSagas(
        tx,
        events.map((ev) => {
          const init = initial.get(ev.order_id)!;
          return {
            order_id: ev.order_id,
            state: init.state,
            snapshot: init.snapshot,
            machine_version: CURRENT_SAGA_VERSION,
            pending: init.pending,
            source_event_id: ev.id,
            event_type: ev.event_type,
            claim: true,
          };
        }),
        ME,
        600_000,
      );
      await recordDispositions(
        tx,
        events.map((ev) => ({
          id: ev.id,
          status: "PROCESSED",
          error: null,
          delay_ms: 0,
          counts: true,
        })),
      );
    });
  });

  // Transitions round by round (a saga's transition r is fenced by revision
  // r), each round in statements of `perStatement` sagas, sagas in parallel.
  const perStatement = Math.max(1, Math.round(opts.transitionsPerStatement));
  for (let r = 0; r < opts.transitionsPerSaga; r++) {
    const last = r === opts.transitionsPerSaga - 1;
    const step = STEPS[r % STEPS.length]!;
    const statements = Array.from(
      { length: Math.ceil(orders.length / perStatement) },
      (_, i) => orders.slice(i * perStatement, (i + 1) * perStatement),
    );
    await inParallel(opts.concurrency, statements, async (group) => {
      const rows = await persistTransitions(
        sql,
        group.map((order) => {
          const init = initial.get(order.order_id)!;
          return {
            orderId: order.order_id,
            me: ME,
            epoch: "1",
            revision: String(r),
            snapshot: init.snapshot,
            state: last ? "completed" : init.state,
            status: last ? "COMPLETED" : "RUNNING",
            pending: last ? null : init.pending,
            release: last,
            runAt: null,
            clearRetry: false,
            lastError: null,
            step: { name: step, outcome: "ok", httpStatus: 200, body: opts.sample.stepResponse },
            history: [
              {
                event: `${step}:ok`,
                from: init.state,
                to: init.state,
                detail: opts.sample.historyDetail,
              },
              // The capture's write-ahead rides in the write before it, as the engine writes it.
              ...(STEPS[r + 1] === "capturePayment"
                ? [{
                  event: "capturePayment:attempt",
                  from: init.state,
                  to: init.state,
                  detail: ATTEMPT,
                }]
                : []),
            ],
          };
        }),
      );
      if (rows.length !== group.length) {
        throw new Error(
          `ceiling: transition ${r} of ${group.length - rows.length} sagas fenced out`,
        );
      }
    });
  }

  const seconds = (performance.now() - started) / 1000;
  await sql.end({ timeout: 2 });
  await new Promise((r) => setTimeout(r, 500));
  const after = await readCounters(env.db.adminUrl, DB_NAME);
  const cost = costPerSaga(before, after, orders.length, {
    commits: 0, // the warm-up SELECTs may land on either side: at most `concurrency`, ignored
    writes: 0,
    rowsInserted: 0,
  });
  return {
    sagasPerSecond: orders.length / seconds,
    commitsPerSecond: (cost.commitsPerSaga * orders.length) / seconds,
    seconds,
    cost,
  };
}
