// Two orchestrator processes on one database: every order is processed once,
// every downstream effect happens once, and both instances share the work.
import assert from "node:assert/strict";
import {
  assertEffectsExactlyOnce,
  placeOrders,
  sampleOrder,
  waitAllCompleted,
} from "./helpers/orders.ts";
import { withCluster } from "../tooling/cluster/mod.ts";

const ORDERS = 200;
const BATCHES = 4;

Deno.test("two instances on one database complete 200 orders, each effect exactly once", async () => {
  // A little latency so sagas overlap and both instances find work to claim.
  await withCluster({
    orders: { faults: { latencyMs: 5 } },
    inventory: { faults: { latencyMs: 5 } },
    payments: { faults: { latencyMs: 5 } },
  }, async ({ db, sandbox, start }) => {
    const orders = Array.from({ length: ORDERS }, () => sampleOrder());
    const ids = orders.map((o) => o.order_id);
    const size = ORDERS / BATCHES;
    const batch = (i: number) => orders.slice(i * size, (i + 1) * size);

    // The first batch waits in the outbox before anyone runs.
    await placeOrders(db.sql, batch(0));
    const env = { POLL_INTERVAL_MS: "500", SAGA_CONCURRENCY: "16", OUTBOX_BATCH_SIZE: "20" };
    const a = start("a", env);
    const b = start("b", env);
    await Promise.all([a.started(), b.started()]);
    // The rest arrive while both run, one transaction per batch.
    for (let i = 1; i < BATCHES; i++) await placeOrders(db.sql, batch(i));

    await waitAllCompleted(db.sql, ids, 40_000);

    // Processed once: one ledger row per order, every outbox event settled on its first try.
    const [ledger] = await db.sql<{ rows: number; orders: number }[]>`
      SELECT count(*)::int AS rows, count(DISTINCT order_id)::int AS orders FROM order_ledger`;
    assert.deepEqual(ledger, { rows: ORDERS, orders: ORDERS });
    const outbox = await db.sql<{ status: string; attempts: number; n: number }[]>`
      SELECT status, attempts, count(*)::int AS n FROM outbox GROUP BY status, attempts`;
    assert.deepEqual(outbox.map((r) => ({ ...r })), [
      { status: "PROCESSED", attempts: 1, n: ORDERS },
    ]);
    // Each step recorded once, each as a success.
    const steps = await db.sql<{ step: string; n: number }[]>`
      SELECT step, count(*)::int AS n FROM saga_step WHERE outcome = 'ok'
      GROUP BY step ORDER BY step`;
    assert.deepEqual(steps.map((r) => ({ ...r })), [
      { step: "capturePayment", n: ORDERS },
      { step: "confirmOrder", n: ORDERS },
      { step: "createOrder", n: ORDERS },
      { step: "reserveInventory", n: ORDERS },
    ]);

    assertEffectsExactlyOnce(sandbox, ids);
    for (const s of [sandbox.orders, sandbox.inventory, sandbox.payments]) {
      assert.equal(s.stats({ log: false }).idempotentReplays, 0, `${s.service}: no call repeated`);
    }

    // Both instances did work: step transitions written by each.
    const split = await db.sql<{ instance_id: string; transitions: number; orders: number }[]>`
      SELECT instance_id, count(*)::int AS transitions, count(DISTINCT order_id)::int AS orders
      FROM saga_history WHERE event LIKE '%:ok' GROUP BY instance_id ORDER BY instance_id`;
    console.log(`work split: ${JSON.stringify(split)}`);
    assert.deepEqual(split.map((r) => r.instance_id), ["a", "b"], "both instances ran steps");
    assert.equal(split.reduce((s, r) => s + r.transitions, 0), 4 * ORDERS);
    assert.ok(split.every((r) => r.transitions > 0));

    a.kill("SIGTERM");
    b.kill("SIGTERM");
    const [sa, sb] = await Promise.all([a.status, b.status]);
    assert.equal(sa.code, 0, "a exits 0 on SIGTERM");
    assert.equal(sb.code, 0, "b exits 0 on SIGTERM");
  });
});
