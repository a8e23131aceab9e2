// Retention: finished sagas (with their steps and history) and processed
// events go once older than RETENTION_SECONDS; parked and running sagas and
// dead letters stay; the sweep never makes a saga wait. Real PostgreSQL,
// real services, the sweep running inside a real orchestrator.
import assert from "node:assert/strict";
import type { Sql } from "../src/db/client.ts";
import { startRetention, sweepOnce } from "../src/engine/retention.ts";
import { silentLogger } from "../src/log.ts";
import { harness, ledgerRow, outboxRows } from "./helpers/saga_assert.ts";
import { placeOrder, sampleOrder, waitFor, waitForStatus } from "./helpers/orders.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

async function rowsFor(sql: Sql, orderId: string) {
  const [r] = await sql<{ ledger: number; steps: number; history: number; events: number }[]>`
    SELECT
      (SELECT count(*)::int FROM order_ledger WHERE order_id = ${orderId}) AS ledger,
      (SELECT count(*)::int FROM saga_step WHERE order_id = ${orderId}) AS steps,
      (SELECT count(*)::int FROM saga_history WHERE order_id = ${orderId}) AS history,
      (SELECT count(*)::int FROM outbox WHERE order_id = ${orderId}) AS events`;
  return r!;
}

Deno.test("with RETENTION_SECONDS=3 finished sagas and processed events go; parked, running and dead ones stay", async () => {
  const h = await harness({
    env: {
      RETENTION_SECONDS: "3",
      MAINTENANCE_INTERVAL_MS: "300",
      CONFIRM_MAX_ATTEMPTS: "1",
      STEP_MAX_ATTEMPTS: "1000",
      RETRY_BASE_MS: "60000",
      RETRY_MAX_MS: "60000",
    },
  });
  try {
    const completed = sampleOrder();
    const cancelled = sampleOrder({
      items: [{ sku: "OUT-OF-STOCK-x", quantity: 1, unit_price_cents: 100 }],
    });
    const parked = sampleOrder();
    const running = sampleOrder();
    h.sandbox.orders.setFaults({
      rules: [{ method: "POST", path: "/confirmation", orderId: parked.order_id }],
    });
    // Its reservation fails and is retried a minute later: RUNNING all along.
    h.sandbox.inventory.setFaults({
      rules: [{ method: "POST", path: "/reservations", orderId: running.order_id }],
    });
    for (const o of [completed, cancelled, parked, running]) await placeOrder(h.sql, o);
    const dead = crypto.randomUUID();
    await h.sql`INSERT INTO outbox (order_id, event_type, payload)
      VALUES (${dead}, 'NoSuchEvent', '{}'::jsonb)`;
    await waitForStatus(h.sql, completed.order_id, ["COMPLETED"]);
    await waitForStatus(h.sql, cancelled.order_id, ["CANCELLED"]);
    await waitForStatus(h.sql, parked.order_id, ["NEEDS_ATTENTION"]);
    await waitFor(async () =>
      (await ledgerRow(h.sql, running.order_id))?.pending?.kind === "timer"
    );
    assert.ok((await rowsFor(h.sql, completed.order_id)).steps > 0);

    // Gone within a few sweeps of turning 3 s old: the saga, its steps, history and event.
    for (const o of [completed, cancelled]) {
      await waitFor(async () => {
        const r = await rowsFor(h.sql, o.order_id);
        return r.ledger + r.steps + r.history + r.events === 0;
      }, { what: `order ${o.order_id} to be deleted`, timeoutMs: 15_000 });
    }
    // Kept: the parked and the running saga with everything recorded about them
    // (their OrderPlaced events were processed, and go like any other), and the dead letter.
    for (const o of [parked, running]) {
      const r = await rowsFor(h.sql, o.order_id);
      assert.equal(r.ledger, 1, `${o.order_id} kept`);
      assert.ok(r.history > 0);
    }
    assert.equal((await ledgerRow(h.sql, parked.order_id))?.status, "NEEDS_ATTENTION");
    assert.equal((await ledgerRow(h.sql, running.order_id))?.status, "RUNNING");
    assert.deepEqual((await outboxRows(h.sql, dead)).map((e) => e.status), ["DEAD"]);

    // A new order afterwards works.
    const after = sampleOrder();
    await placeOrder(h.sql, after);
    await waitForStatus(h.sql, after.order_id, ["COMPLETED"]);
  } finally {
    await h.close();
  }
});

/** `n` finished sagas (with a step and two history rows each) and their events, `ageS` old. */
async function seedFinished(sql: Sql, n: number, ageS: number) {
  await sql`
    WITH s AS (
      SELECT gen_random_uuid() AS id, now() - ${ageS} * interval '1 second' AS at
      FROM generate_series(1, ${n})
    ), l AS (
      INSERT INTO order_ledger (order_id, status, state, snapshot, machine_version, created_at,
        updated_at, finished_at)
      SELECT id, 'COMPLETED', 'completed', '{}'::jsonb, 'order-saga@1', at, at, at FROM s
      RETURNING order_id
    ), st AS (
      INSERT INTO saga_step (order_id, step, outcome, http_status)
      SELECT order_id, 'createOrder', 'ok', 201 FROM l
    ), hi AS (
      INSERT INTO saga_history (order_id, event, to_state)
      SELECT order_id, e, 'x' FROM l, unnest(ARRAY['OrderPlaced', 'confirmOrder:ok']) AS e
    )
    INSERT INTO outbox (order_id, event_type, payload, status, processed_at, created_at)
    SELECT id, 'OrderPlaced', '{}'::jsonb, 'PROCESSED', at, at FROM s`;
}

/** Runs `body` on a fresh database seeded with `n` finished sagas an hour old; drops it after. */
async function withOldSagas(n: number, body: (sql: Sql) => Promise<void>) {
  const db = await freshDatabase();
  try {
    await seedFinished(db.sql, n, 3600);
    await body(db.sql);
  } finally {
    await db.drop();
  }
}

Deno.test("a sweep deletes in small batches, reports what it deleted, and lets one instance sweep at a time", async () => {
  await withOldSagas(1200, async (sql) => {
    await seedFinished(sql, 10, 10); // younger than the retention: kept
    const deleted: Record<string, number> = {};
    const opts = {
      sql: sql,
      logger: silentLogger,
      retentionSeconds: 60,
      batchSize: 500,
      hooks: { onDeleted: (t: string, n: number) => deleted[t] = (deleted[t] ?? 0) + n },
    };
    // Another instance's sweep holds the lock: this one yields at once.
    const other = await sql.reserve();
    await other`BEGIN`;
    await other`SELECT pg_advisory_xact_lock(727002)`;
    const yielded = await sweepOnce(opts);
    await other`COMMIT`;
    other.release();
    assert.equal(yielded.yielded, true);
    assert.equal(yielded.sagas, 0);

    const r = await sweepOnce(opts);
    assert.deepEqual(
      { sagas: r.sagas, steps: r.steps, history: r.history, events: r.events },
      { sagas: 1200, steps: 1200, history: 2400, events: 1200 },
    );
    assert.ok(r.batches >= 6, `in batches of 500: ${r.batches}`);
    assert.deepEqual(deleted, {
      order_ledger: 1200,
      saga_step: 1200,
      saga_history: 2400,
      outbox: 1200,
    });
    const [left] = await sql<{ sagas: number; events: number }[]>`
      SELECT (SELECT count(*)::int FROM order_ledger) AS sagas,
        (SELECT count(*)::int FROM outbox) AS events`;
    assert.deepEqual(left, { sagas: 10, events: 10 });
  });
});

Deno.test("a sweep running while 500 orders flow makes none of them wait on a lock", async () => {
  const h = await harness({ start: false });
  try {
    const run = async (sweeping: boolean) => {
      await seedFinished(h.sql, 20_000, 3600);
      const o = h.start({
        RETENTION_SECONDS: sweeping ? "60" : "0",
        MAINTENANCE_INTERVAL_MS: "100",
      });
      const orders = Array.from({ length: 500 }, () => sampleOrder());
      const started = Date.now();
      // A backend of ours blocked by the sweep's deletes would show here.
      let blockedBySweep = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const [r] = await h.sql<{ n: number }[]>`
            SELECT count(*)::int AS n FROM pg_stat_activity w
            JOIN pg_stat_activity b ON b.pid = ANY(pg_blocking_pids(w.pid))
            WHERE w.datname = current_database() AND b.query LIKE '%doomed%'`;
          blockedBySweep += r!.n;
          await new Promise((res) => setTimeout(res, 10));
        }
      })();
      for (const x of orders) await placeOrder(h.sql, x);
      const ids = orders.map((x) => x.order_id);
      await waitFor(async () => {
        const [r] = await h.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM order_ledger
          WHERE order_id = ANY(${ids}::uuid[]) AND status = 'COMPLETED'`;
        return r!.n === 500;
      }, { what: "500 orders to complete", timeoutMs: 60_000 });
      const elapsed = Date.now() - started;
      const [lat] = await h.sql<{ p50: number; p95: number }[]>`
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95
        FROM (SELECT extract(epoch FROM l.finished_at - o.created_at) * 1000 AS ms
          FROM order_ledger l JOIN outbox o ON o.order_id = l.order_id
          WHERE l.order_id = ANY(${ids}::uuid[])) x`;
      sampling = false;
      await sampler;
      await o.stop();
      const [seeded] = await h.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM order_ledger WHERE snapshot = '{}'::jsonb`;
      return { elapsed, p50: lat!.p50, p95: lat!.p95, blockedBySweep, seededLeft: seeded!.n };
    };
    const quiet = await run(false);
    const sweeping = await run(true);
    console.log(
      `500 orders, commit → COMPLETED: without a sweep p50 ${quiet.p50.toFixed(0)} ms, p95 ${
        quiet.p95.toFixed(0)
      } ms (${quiet.elapsed} ms in all); while a sweep deleted ${
        40_000 - sweeping.seededLeft
      } old sagas, p50 ${sweeping.p50.toFixed(0)} ms, p95 ${
        sweeping.p95.toFixed(0)
      } ms (${sweeping.elapsed} ms in all)`,
    );
    assert.ok(40_000 - sweeping.seededLeft > 0, "the sweep did delete while orders flowed");
    assert.equal(sweeping.blockedBySweep, 0, "no backend ever waited on the sweep");
  } finally {
    await h.close();
  }
});

Deno.test("a sweep through a backlog deletes at most half the time, so live sagas keep the database", async () => {
  await withOldSagas(3000, async (sql) => {
    const started = performance.now();
    const r = await sweepOnce({
      sql: sql,
      logger: silentLogger,
      retentionSeconds: 60,
      batchSize: 500,
      // No fixed pause: the one after each batch comes from the batch alone.
      pauseMs: 0,
    });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.sagas, 3000);
    assert.ok(r.busySeconds > 0);
    // After each batch it pauses as long as the batch took (timers may fire
    // up to a millisecond early).
    assert.ok(
      seconds >= 2 * r.busySeconds - r.batches * 0.001,
      `${r.batches} batches: ${r.busySeconds.toFixed(3)} s deleting in ${seconds.toFixed(3)} s`,
    );
  });
});

Deno.test("stopping the sweeper ends a long sweep after its batch in flight", async () => {
  await withOldSagas(20_000, async (sql) => {
    const count = async () =>
      (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM order_ledger`)[0]!.n;
    const sweeper = startRetention({
      sql: sql,
      logger: silentLogger,
      retentionSeconds: 60,
      intervalMs: 100,
    });
    await waitFor(async () => await count() < 20_000, { what: "the sweep to begin" });
    await sweeper.stop();
    const left = await count();
    assert.ok(left > 0, "the sweep ended before it had deleted the whole backlog");
    // Nothing is deleted once stop() returned.
    await sql`SELECT pg_sleep(0.3)`;
    assert.equal(await count(), left);
  });
});
